"""No hang, ever: whatever a spider, a pipeline or a site does, every claimed request gets an
outcome and the crawl ends (issue 12). Real engine, real local server."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROBOTS, ROOT, _env

from scrapepool.testing.testserver import Page

pytestmark = [pytest.mark.timeout(90),
              # crawl_spider: small and fast, robots.txt obeyed (as scrapepool.crawl's default)
              pytest.mark.crawl_settings(concurrency=2, start_method="fork", robots=True)]


def site(n=6, bad=(), extra=None):
    """Home links to pages 1..n; the pages named in ``bad`` have ``bad`` in their path."""
    pages = {f"/p{i}{'-bad' if i in bad else ''}": f"<title>{i}</title><p>page {i}</p>" for i in range(1, n + 1)}
    home = "".join(f'<a href="{p}">{p}</a>' for p in pages)
    pages["/"] = f"<title>home</title>{home}"
    pages["/robots.txt"] = ROBOTS
    pages.update(extra or {})
    return pages


def urls(records):
    return sorted(r["url"].rsplit("/", 1)[1] for r in records)


@pytest.mark.parametrize("spider", ["ExitsOnBad", "ExitsInPipeline"])
def test_spider_or_pipeline_calling_sys_exit_is_one_spider_error_and_the_crawl_ends(
        site_server, crawl_spider, spider):
    server = site_server(site(6, bad={2, 5}))
    # -c 1: a thread killed by SystemExit would leave no thread to fetch the rest.
    result = crawl_spider(f"tests.fault_spiders:{spider}", server, concurrency=1)
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["spider_errors"] == 2
    got = urls(result.records)
    for i in (1, 3, 4, 6):
        assert f"p{i}" in got
    if spider == "ExitsOnBad":  # what was yielded before sys.exit() is kept, as for any exception
        assert "p2-bad" in got and "p5-bad" in got
    assert stats["pages"] == 7


def test_error_record_raising_system_exit_still_ends_the_request(site_server, crawl_spider):
    pages = site(3)
    pages["/"] += '<a href="/missing">gone</a>'
    server = site_server(pages)
    result = crawl_spider("tests.fault_spiders:ExitsInErrorRecord", server, concurrency=1)
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["pages"] == 5 and stats["status"].get("404") == 1
    assert stats["spider_errors"] == 1
    assert urls(result.records) == ["", "p1", "p2", "p3"]


def test_spider_code_that_never_returns_is_taken_as_lost_and_given_up(site_server, crawl_spider):
    """The coordinator's deadline: a request in flight longer than it can possibly take is lost."""
    server = site_server(site(4, extra={"/p9-stuck": "<title>stuck</title>"},
                              ) | {"/": "".join(f'<a href="/p{i}">x</a>' for i in range(1, 5))
                                   + '<a href="/p9-stuck">s</a>'})
    result = crawl_spider("tests.fault_spiders:HangsOnStuck", server, concurrency=2, timeout=1.0,
                          retries=0, hang_margin=1.0, poison_limit=1)
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert urls(result.records) == ["", "p1", "p2", "p3", "p4"]
    assert stats["errors"].get("lost") == 1
    assert server.count("/p9-stuck") == 1


def test_close_spider_stops_the_crawl_with_its_reason(site_server, crawl_spider):
    # A chain: each page links to the next; page 3 says stop.
    pages = {"/robots.txt": ROBOTS}
    for i in range(30):
        name = "/" if i == 0 else f"/c{i}{'-stop' if i == 3 else ''}"
        nxt = f"/c{i + 1}{'-stop' if i + 1 == 3 else ''}"
        pages[name] = f'<title>{i}</title><a href="{nxt}">next</a>'
    server = site_server(pages)
    result = crawl_spider("tests.fault_spiders:ClosesOnStop", server, concurrency=1)
    stats = result.stats
    assert stats["finish_reason"] == "enough"
    assert stats["spider_errors"] == 0
    assert urls(result.records) == ["", "c1", "c2", "c3-stop"]
    assert server.count("/c4") == 0


def test_close_spider_on_the_command_line_exits_0(site_server, tmp_path, run_cli):
    pages = {"/robots.txt": ROBOTS, "/": '<a href="/a-stop">a</a><a href="/b">b</a>',
             "/a-stop": "<title>a</title>", "/b": "<title>b</title>"}
    server = site_server(pages)
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(server.url + "/\n")
    rc, _, err = run_cli("crawl", seeds, "-s", "tests.fault_spiders:ClosesOnStop", "-o", "out.jsonl",
                         "-w", "1", "-c", "1", "--stats", "stats.json")
    assert rc == 0, err
    import json
    assert json.load(open(tmp_path / "stats.json"))["finish_reason"] == "enough"


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_after_the_first_ctrl_c_no_retry_starts_and_no_back_off_is_waited(site_server, tmp_path):
    arrived = threading.Event()

    def busy(info):
        arrived.set()
        return Page("busy", status=503, headers={"Retry-After": "30"})

    server = site_server({"/robots.txt": ROBOTS, "/": busy})
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(server.url + "/\n")
    cmd = [sys.executable, "-m", "scrapepool", "crawl", str(seeds), "-o", str(tmp_path / "o.jsonl"),
           "-w", "1", "-c", "1", "--retries", "3", "--no-robots"]
    proc = subprocess.Popen(cmd, cwd=str(tmp_path), env=_env(), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert arrived.wait(30)
        os.killpg(proc.pid, signal.SIGINT)
        rc = proc.wait(20)  # the back-off alone would be >= 30 s
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = proc.stderr.read()
    assert rc == 130, err
    assert "Traceback" not in err
    assert server.count("/") == 1


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_engines_start_up_stops_the_crawl(tmp_path, sig, code):
    """start_requests that runs for ever: the signal must still end the crawl at once."""
    marker = tmp_path / "started"
    env = _env()
    env["SCRAPEPOOL_TEST_MARKER"] = str(marker)
    cmd = [sys.executable, "-m", "scrapepool", "crawl", "-s", "tests.fault_spiders:SlowStart",
           "-o", str(tmp_path / "o.jsonl"), "-w", "1", "--job-dir", str(tmp_path / "job")]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: marker.exists() or proc.poll() is not None, 30, "start_requests to run")
        os.killpg(proc.pid, sig)
        rc = proc.wait(20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = proc.stderr.read()
    assert rc == code, err
    assert "Traceback" not in err


# -- never eat the machine ---------------------------------------------------------------------

def test_a_page_past_max_elements_is_recorded_with_an_error_not_parsed(site_server, crawl_spider):
    dense = "<title>dense</title>" + "<b>x</b>" * 3000
    server = site_server({"/robots.txt": ROBOTS, "/": '<a href="/dense">d</a><a href="/ok">o</a>',
                          "/dense": dense, "/ok": "<title>ok</title>"})
    result = crawl_spider(None, server, workers=1, concurrency=2, start_method="fork", max_elements=1000)
    stats = result.stats
    by_path = {r["url"].rsplit("/", 1)[1]: r for r in result.records}
    assert set(by_path) == {"", "dense", "ok"}
    assert by_path["ok"]["title"] == "ok" and by_path["ok"]["error"] is None
    assert by_path["dense"]["status"] == 200
    assert "more than max-elements (1000)" in by_path["dense"]["error"]
    assert stats["errors"] == {"too_many_elements": 1}
    assert stats["spider_errors"] == 0


def test_a_fetcher_past_its_memory_budget_is_replaced_and_nothing_is_lost(site_server, crawl_spider):
    pages = site(12)
    server = site_server(pages)
    # 1 MB: every fetcher is past it after its first request.
    result = crawl_spider(None, server, workers=2, concurrency=2, start_method="fork", max_memory_mb=1)
    stats = result.stats
    got = [r["url"] for r in result.records]
    assert sorted(got) == sorted(server.url + p for p in pages if p != "/robots.txt")
    assert stats["finish_reason"] == "finished"
    assert stats["fetchers_replaced"] >= 2
    assert stats["fetcher_crashes"] == 0
    for p in pages:
        if p != "/robots.txt":
            assert server.count(p) == 1, p


# -- never duplicate a page -------------------------------------------------------------------

def _redirect_site():
    return {"/robots.txt": ROBOTS, "/": '<a href="/a">a</a><a href="/old">old</a>',
            "/a": "<title>A</title>", "/old": Page("", status=301, headers={"Location": "/a"})}


def test_a_redirect_to_a_url_already_seen_ends_in_the_dupefilter(site_server, crawl_spider):
    server = site_server(_redirect_site())
    result = crawl_spider("tests.fault_spiders:RecordsEachResponse", server)
    stats = result.stats
    finals = sorted(r["final_url"].rsplit("/", 1)[1] for r in result.records)
    assert finals == ["", "a"]  # the page /a once, not twice
    assert server.count("/a") == 1 and server.count("/old") == 1
    assert stats["redirects_to_seen"] == 1
    assert stats["finish_reason"] == "finished"


def test_the_site_spider_records_the_redirect_to_a_seen_url_without_fetching_it_again(
        site_server, crawl_spider):
    server = site_server(_redirect_site())
    result = crawl_spider(None, server, workers=1, concurrency=1, start_method="fork")
    stats = result.stats
    by_url = {r["url"].rsplit("/", 1)[1]: r for r in result.records}
    assert set(by_url) == {"", "a", "old"}
    old = by_url["old"]
    assert old["final_url"] == server.url + "/a" and old["status"] == 301 and old["error"] is None
    assert by_url["a"]["title"] == "A"
    assert server.count("/a") == 1
    assert stats["redirects_to_seen"] == 1 and stats["errors"] == {}


def test_dont_filter_follows_a_redirect_to_a_seen_url_as_before(site_server, crawl_spider):
    server = site_server(_redirect_site())
    result = crawl_spider("tests.fault_spiders:RecordsEachResponseUnfiltered", server)
    stats = result.stats
    finals = sorted(r["final_url"].rsplit("/", 1)[1] for r in result.records)
    assert finals == ["", "a", "a"]
    assert stats["redirects_to_seen"] == 0
