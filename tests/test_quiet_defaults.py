"""Quiet defaults (issue 16): what a Unix user expects of a command-line crawler.

- ``scrapepool crawl ... -o - | head`` ends without a word and exits 0 once ``head`` has its
  lines (the writer meets a closed pipe: nothing more can be delivered);
- an HTTP error status (404...) is counted in the stats, not logged one line each at INFO
  (``-v`` shows them).
"""

import json
import subprocess
import sys

import pytest

from scrapepool.testing.testserver import Page
from tests.conftest import _env

pytestmark = pytest.mark.timeout(90)


def linked_site(n, delay=0.0):
    pages = {}
    for i in range(n):
        links = "".join(f'<a href="/p/{j}">p{j}</a>' for j in (2 * i + 1, 2 * i + 2) if j < n)
        if i == 0:
            links += '<a href="/missing">gone</a>'
        pages["/" if i == 0 else f"/p/{i}"] = Page(f"<html><body>{links}</body></html>", delay=delay)
    return pages


def test_a_reader_that_stops_early_ends_the_crawl_quietly(tmp_path, site_server):
    server = site_server(linked_site(300, delay=0.02))
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    proc = subprocess.Popen([sys.executable, "-m", "scrapepool", "crawl", "seeds.txt", "-o", "-", "--no-robots",
                             "-w", "1", "-c", "2"], cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first = json.loads(proc.stdout.readline())  # `| head -1`: one line, then the pipe closes
        proc.stdout.close()
        rc = proc.wait(60)
        err = proc.stderr.read().decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert first["url"] == server.url + "/"
    assert rc == 0, err
    assert "error" not in err.lower() and "Traceback" not in err, err
    assert server.count("/p/299") == 0, "the crawl went on to the end with nobody reading"


@pytest.mark.parametrize("verbose", [False, True])
def test_an_http_error_is_counted_not_logged_one_line_each(tmp_path, site_server, verbose):
    server = site_server(linked_site(5))
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    args = [sys.executable, "-m", "scrapepool", "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots", "-w", "1",
            "--stats", "stats.json"] + (["-v"] if verbose else [])
    proc = subprocess.run(args, cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["status"].get("404") == 1 and stats["errors"] == {"http_404": 1}
    told = [line for line in proc.stderr.splitlines() if "/missing" in line and "404" in line]
    assert len(told) == (1 if verbose else 0), proc.stderr


@pytest.mark.parametrize("option", ["--stats", "--report"])
@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_a_stats_or_report_path_that_cannot_be_written_fails_before_any_request(tmp_path, site_server,
                                                                                 option, where):
    server = site_server(linked_site(3))
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    (tmp_path / "a-folder").mkdir()
    path = tmp_path / ("no/such/folder/out.json" if where == "missing-folder" else "a-folder")
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots",
                           "-w", "1", option, str(path)], cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and option in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert server.count("/") == 0, "the crawl began before the error"


def test_a_seed_robots_txt_forbids_is_a_warning_a_link_it_forbids_is_not(tmp_path, site_server):
    pages = linked_site(4)
    pages["/robots.txt"] = Page("User-agent: *\nDisallow: /p/1\nDisallow: /private\n", content_type="text/plain")
    server = site_server(pages)
    (tmp_path / "seeds.txt").write_text(f"{server.url}/\n{server.url}/private\n")
    proc = subprocess.run([sys.executable, "-m", "scrapepool", "crawl", "seeds.txt", "-o", "out.jsonl", "-w", "1",
                           "--stats", "stats.json"], cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "stats.json").read_text())["robots_refused"] == 2
    told = [line for line in proc.stderr.splitlines() if "forbidden by robots.txt" in line]
    assert len(told) == 1 and "WARNING" in told[0] and told[0].endswith(server.url + "/private"), proc.stderr
