"""The site-audit example: the README's commands against the demo site give the README's numbers."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scrapepool.demo import build_site, expected_counts

HERE = Path(__file__).resolve().parent


def crawl(seeds, *args, cwd):
    """``scrapepool crawl SEEDS ARGS -q --stats stats.json`` -> (records, stats)."""
    out, stats = cwd / "audit.jsonl", cwd / "stats.json"
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "crawl", str(seeds), "-O", str(out),
                           "-q", "--stats", str(stats), *args],
                          cwd=str(cwd), capture_output=True, text=True, timeout=50,
                          stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.returncode == 0, proc.stderr
    with open(out, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    return records, json.loads(stats.read_text())


@pytest.mark.timeout(60)
def test_site_audit_of_the_demo_site(site_server, tmp_path):
    server = site_server(build_site())  # the demo site, as `scrapepool serve-demo` serves it
    seeds = tmp_path / "seeds.txt"
    seeds.write_text((HERE / "seeds.txt").read_text().replace("http://127.0.0.1:8000", server.url))
    expected = expected_counts()

    records, stats = crawl(seeds, cwd=tmp_path)
    pages = expected["list_pages"] + expected["author_pages"] + expected["tag_pages"]
    assert len(records) == pages + expected["broken_links"] == 56
    assert len({r["url"] for r in records}) == len(records)
    assert stats["requests"] == 56 and stats["status"] == {"200": 55, "404": 1}
    assert server.count("/robots.txt") == 1  # robots.txt is obeyed by default
    broken = [r for r in records if r["status"] != 200]
    assert broken == [{"url": server.url + expected["broken_link"], "final_url": server.url + expected["broken_link"],
                       "status": 404, "error": "HTTP 404", "depth": 2, "title": None, "links": 0}]
    home = next(r for r in records if r["depth"] == 0)
    assert home["title"] == "Quotes" and home["links"] > 0

    # The README tells these numbers and shows the 404 record as the crawl writes it.
    readme = (HERE / "README.md").read_text()
    assert f"**{len(records)} records**" in readme
    assert f'"requests": {stats["requests"]}' in readme and '"status": {"200": 55, "404": 1}' in readme
    shown = json.loads(re.search(r'^ +(\{"url": .*Mark-Twian.*\})$', readme, re.M).group(1))
    assert shown == {**broken[0], "url": shown["url"], "final_url": shown["final_url"]}
    assert shown["url"] == "http://127.0.0.1:8000" + expected["broken_link"]

    # The rerun with --http-cache asks the site for nothing, robots.txt included.
    cache = tmp_path / ".audit-cache"
    first, _ = crawl(seeds, "--http-cache", str(cache), cwd=tmp_path)
    server.reset()
    again, stats = crawl(seeds, "--http-cache", str(cache), cwd=tmp_path)
    assert server.requests == []
    assert sorted(map(json.dumps, again)) == sorted(map(json.dumps, first)) == sorted(map(json.dumps, records))
    assert stats["requests"] == 56
