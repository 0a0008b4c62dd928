"""The project's own benchmark script must build a site it can verify, and verify it."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks"))

import compare  # noqa: E402

pytestmark = pytest.mark.timeout(120)


def test_compare_crawls_its_site_exactly_once(capsys, monkeypatch):
    monkeypatch.setattr(compare, "_has_scrapy", lambda: False)
    monkeypatch.setattr(compare.shutil, "which", lambda name: None)
    assert compare.main(["--pages", "60", "--workers", "2", "--concurrency", "4"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()
            if line.startswith("scrapepool") and line.endswith(("yes", "NO"))}
    assert set(rows) == {"scrapepool", "scrapepool-css"}  # the built-in spider, the selector spider
    for row in rows.values():
        assert row.split()[2] == "60" and row.endswith("yes")
    assert "coordinator" in out and "fetchers" in out
