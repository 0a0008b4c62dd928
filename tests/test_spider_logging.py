"""Issue 16: what spider code logs or prints in a fetcher process reaches the user.

Log records go through the coordinator's handlers (scrapepool/_logrelay.py), so they honour
-v/-q and land in --log-file; print() goes to stderr, never into ``-o -``.
"""

import json

import pytest

from scrapepool.testing.testserver import SiteServer

PAGES = 4


@pytest.fixture
def site():
    pages = {f"/p{i}": f"<html><body><a href='/p{i + 1}'>next</a></body></html>" for i in range(PAGES - 1)}
    pages[f"/p{PAGES - 1}"] = "<html><body>last</body></html>"
    with SiteServer(pages) as server:
        yield server


def _saw_lines(text):
    return [line for line in text.splitlines() if "saw http://" in line]


def test_spider_log_lines_reach_stderr_and_log_file(run_cli, site, tmp_path):
    log = tmp_path / "crawl.log"
    rc, out, err = run_cli("crawl", site.url_for("/p0"), "-s", "tests.logging_spiders:LogsEachPage",
                           "-w", "2", "--no-robots", "-o", tmp_path / "out.jsonl", "--log-file", log)
    assert rc == 0, err
    expected = sorted(site.url_for(f"/p{i}") for i in range(PAGES))
    # INFO shows by default (setup_logging: INFO unless -v or -q), once per page.
    assert sorted(line.split("saw ")[1] for line in _saw_lines(err)) == expected
    assert "debug line" not in err
    in_file = _saw_lines(log.read_text(encoding="utf-8"))
    assert sorted(line.split("saw ")[1] for line in in_file) == expected
    # The log file's format names the process: the lines came from the fetchers.
    assert all("scrapepool-fetcher-" in line for line in in_file)


def test_verbose_shows_spider_debug_lines(run_cli, site, tmp_path):
    rc, out, err = run_cli("crawl", site.url_for("/p0"), "-s", "tests.logging_spiders:LogsEachPage",
                           "-w", "1", "--no-robots", "-o", tmp_path / "out.jsonl", "-v")
    assert rc == 0, err
    assert len(_saw_lines(err)) == PAGES
    assert len([line for line in err.splitlines() if "debug line for http://" in line]) == PAGES


def test_quiet_hides_spider_info_lines(run_cli, site, tmp_path):
    log = tmp_path / "crawl.log"
    rc, out, err = run_cli("crawl", site.url_for("/p0"), "-s", "tests.logging_spiders:LogsEachPage",
                           "-w", "1", "--no-robots", "-o", tmp_path / "out.jsonl", "-q", "--log-file", log)
    assert rc == 0, err
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == PAGES  # the callbacks did run
    assert _saw_lines(err) == []
    assert _saw_lines(log.read_text(encoding="utf-8")) == []


def test_print_in_spider_keeps_stdout_pure_json(run_cli, site):
    rc, out, err = run_cli("crawl", site.url_for("/p0"), "-s", "tests.logging_spiders:PrintsEachPage",
                           "-w", "2", "--no-robots", "-o", "-")
    assert rc == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert sorted(r["url"] for r in records) == sorted(site.url_for(f"/p{i}") for i in range(PAGES))
    assert "noise http://" not in out
    assert len([line for line in err.splitlines() if line.startswith("noise http://")]) == PAGES
