"""The HTML report (scrapepool/report.py, core/crawllog.py): its numbers are the crawl's, it is
written at the end, after Ctrl-C and from a job directory, it leaks no secret, and a real
browser (headless chromium) opens it without a console error."""

import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scrapepool.core.crawllog import MAX_POINTS, CrawlLog
from scrapepool.core.stats import Stats
from scrapepool.report import rates, render
from scrapepool.settings import Settings
from scrapepool.testing.testserver import Page

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-token-value"


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_cli(cwd, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "scrapepool", *map(str, args)], cwd=str(cwd), env=_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def site(n=30, delay=0.0):
    """Page i links to 2i+1 and 2i+2; page 3 links to a missing page and a redirect."""
    pages = {}
    for i in range(n):
        links = "".join(f'<a href="/p/{j}">p{j}</a>' for j in (2 * i + 1, 2 * i + 2) if j < n)
        if i == 3:
            links += '<a href="/missing">gone</a><a href="/moved">moved</a>'
        pages["/" if i == 0 else f"/p/{i}"] = Page(f"<html><title>p{i}</title><body>{links}</body></html>",
                                                   delay=delay)
    pages["/moved"] = Page("", status=301, headers={"Location": "/p/1"})
    return pages


def stat_cards(text):
    return {k: html.unescape(v) for k, v in re.findall(r"data-stat='([^']*)'>([^<]*)<", text)}


def table_rows(text, heading):
    """Rows (lists of cell texts) of the first table after the <h2> that starts with ``heading``."""
    start = text.index(f"<h2>{heading}")
    table = text[start:text.index("</table>", start)]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table)[1:]:
        rows.append([html.unescape(re.sub(r"<[^>]+>", " ", c)).strip()
                     for c in re.findall(r"<td[^>]*>(.*?)</td>", row)])
    return rows


@pytest.mark.timeout(90)
def test_the_report_shows_the_numbers_of_the_crawl(tmp_path, site_server):
    server = site_server(site())
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    proc = run_cli(tmp_path, "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots", "-w", "2",
                   "--stats", "stats.json", "--report", "crawl.html", "-q",
                   "--header", f"Authorization: Bearer {SECRET}")
    assert proc.returncode == 0, proc.stderr
    stats = json.loads((tmp_path / "stats.json").read_text())
    text = (tmp_path / "crawl.html").read_text()
    cards = stat_cards(text)
    # 30 pages, the 404, and /moved: a redirect to a page already fetched ends there (as Scrapy's)
    assert cards["pages"] == f"{stats['pages']:,}" and stats["pages"] == 32
    assert cards["records"] == f"{stats['records']:,}"
    assert cards["errors"] == "1" and cards["redirects followed"] == str(stats["redirects"]) == "1"
    assert "finished: nothing left to crawl" in text
    assert sorted(table_rows(text, "Status codes")) == [["200", "30", ""], ["301", "1", ""], ["404", "1", ""]]
    depths = {int(d): int(n) for d, n, _ in table_rows(text, "Pages by depth")}
    assert sum(depths.values()) == stats["pages"] and depths[0] == 1 and depths[1] == 2
    (error,) = table_rows(text, "Errors by kind")
    assert error[:2] == ["http_404", "1"] and error[2] == server.url + "/missing"
    (host,) = table_rows(text, "Slowest hosts")
    assert host[0] == server.url.split("//")[1] and host[1:3] == ["32", "1"] and host[3].endswith(" ms")
    (callback,) = table_rows(text, "By callback")
    assert callback == ["parse", "32", str(stats["records"]), "0"]
    kinds = {row[0] for row in table_rows(text, "Peak memory")}
    assert {"coordinator", "fetcher", "writer"} <= kinds
    settings = dict(table_rows(text, "Settings"))
    assert settings["workers"] == "2" and settings["robots"] == "false"
    assert SECRET not in text and "***" in settings["headers"]
    # Self-contained: no script, nothing loaded from anywhere.
    assert "<script" not in text and not re.search(r"\b(src|href)\s*=", text)


@pytest.mark.timeout(120)
def test_a_report_after_ctrl_c_and_from_the_job_dir_of_a_resumed_crawl(tmp_path, site_server):
    server = site_server(site(40, delay=0.1))
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    args = [sys.executable, "-m", "scrapepool", "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots",
            "-w", "1", "-c", "1", "--job-dir", "job", "--report", "first.html", "-q"]
    proc = subprocess.Popen(args, cwd=str(tmp_path), env=_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        pause = threading.Event()
        out = tmp_path / "out.jsonl"
        while not (out.exists() and out.read_bytes().count(b"\n") >= 3):
            assert proc.poll() is None and time.monotonic() < deadline, "no records to interrupt"
            pause.wait(0.05)
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    text = (tmp_path / "first.html").read_text()
    assert "interrupted" in text and stat_cards(text)["pages"] != "42"
    # The same report from the job directory alone.
    again = run_cli(tmp_path, "report", "job", "-o", "from-job.html")
    assert again.returncode == 0, again.stderr
    assert stat_cards((tmp_path / "from-job.html").read_text())["pages"] == stat_cards(text)["pages"]
    # Resumed to the end: the job's report says so, and counts every page once.
    done = run_cli(tmp_path, "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots", "-w", "1", "-c", "4",
                   "--job-dir", "job", "-q", timeout=90)
    assert done.returncode == 0, done.stderr
    final = run_cli(tmp_path, "report", "job", "-o", "final.html")
    assert final.returncode == 0, final.stderr
    text = (tmp_path / "final.html").read_text()
    assert "finished: nothing left to crawl; resumed 1 time" in text
    assert stat_cards(text)["pages"] == "42"


def test_report_of_a_folder_that_is_no_job_is_one_line(tmp_path):
    proc = run_cli(tmp_path, "report", str(tmp_path), "-o", "x.html")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "not a job directory" in proc.stderr


def test_hostile_urls_are_escaped_and_rates_are_per_window():
    log = CrawlLog()
    stats = Stats()
    stats.errors = {"http_500": 1}
    log.outcome('http://h/<script>alert(1)</script>"', "h", 0, "parse", 500, "http_500", {"latency": 0.2})
    log.points = [[0, 0, 0, 0, 0], [2, 10, 30, 0, 0], [6, 30, 30, 0, 0]]
    assert rates(log.points) == [(0, 2, 5.0, 15.0), (2, 6, 5.0, 0.0)]
    text = render({"stats": stats.as_dict(), "log": log.as_dict()})
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_the_time_series_stays_small_on_a_long_crawl():
    log = CrawlLog()
    stats = Stats()
    for i in range(MAX_POINTS * 3):
        stats.pages = i
        log.sample(log.started + i, stats)
    assert len(log.points) <= MAX_POINTS
    assert log.points[-1][1] == MAX_POINTS * 3 - 1 and log.points[0][0] == 0


def test_secrets_never_reach_the_settings_the_report_shows():
    s = Settings(headers=(("Authorization", SECRET), ("X-Api-Key", SECRET), ("Accept", "text/html")),
                 spider_kwargs={"password": SECRET, "category": "books"},
                 frontier=f"redis://user:{SECRET}@127.0.0.1:6379/0", crawl_id="c")
    shown = json.dumps(s.as_report())
    assert SECRET not in shown
    assert "text/html" in shown and "books" in shown and "127.0.0.1:6379" in shown


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.timeout(120)
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not on PATH (apt-get install -y chromium; .ci/run does it)")
def test_a_real_browser_opens_the_report_without_a_console_error(tmp_path, site_server):
    server = site_server(site())
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    proc = run_cli(tmp_path, "crawl", "seeds.txt", "-o", "out.jsonl", "--no-robots", "--report", "crawl.html", "-q")
    assert proc.returncode == 0, proc.stderr
    shot = tmp_path / "shot.png"
    browser = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1800", f"--screenshot={shot}",
         (tmp_path / "crawl.html").as_uri()],
        cwd=str(tmp_path), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    assert shot.exists(), browser.stderr[-3000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000, "an empty page"
    console = [line for line in browser.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert not console, console
