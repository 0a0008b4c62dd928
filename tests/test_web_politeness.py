"""Web correctness, politeness: --delay and --concurrency-per-host hold across fetcher processes,
and one slow host never holds up the others."""

from urllib.parse import urlsplit

import pytest

from scrapepool.testing.testserver import Page
from tests.web_sites import ROBOTS, Stamps, run_crawl, serve  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(30)

TOLERANCE = 0.05


def fan_site(n, page=None):
    """Home links to /p1../pN; every page links to every other one."""
    links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(1, n + 1))
    site = {"/robots.txt": ROBOTS, "/": f"<title>home</title>{links}"}
    for i in range(1, n + 1):
        site[f"/p{i}"] = page or f"<title>p{i}</title>{links}"
    return site


def test_delay_holds_across_fetcher_processes(serve, tmp_path):
    stamps = Stamps()
    server = serve(stamps.wrap(fan_site(6)))
    stats, records = run_crawl(tmp_path, [server.url + "/"], workers=2, concurrency=4, delay=0.2)

    assert len(records) == 7 and stats["finish_reason"] == "finished"
    gaps = stamps.gaps()  # robots.txt included: it is a request to the host too
    assert len(gaps) == 7
    assert min(gaps) >= 0.2 - TOLERANCE, gaps


def test_redirect_hops_wait_out_the_delay_too(serve, tmp_path):
    stamps = Stamps()
    site = fan_site(2)
    site["/"] += '<a href="/r0">r</a>'
    for i in range(3):
        site[f"/r{i}"] = Page("", status=302, headers={"Location": f"/r{i + 1}"})
    site["/r3"] = "<title>end</title>"
    server = serve(stamps.wrap(site))
    stats, records = run_crawl(tmp_path, [server.url + "/"], workers=2, concurrency=4, delay=0.2)

    assert len(records) == 4 and stats["redirects"] == 3
    gaps = stamps.gaps()
    assert len(gaps) == 1 + 3 + 3 and min(gaps) >= 0.2 - TOLERANCE, gaps


@pytest.mark.parametrize("per_host", [1, 2])
def test_concurrency_per_host(serve, tmp_path, per_host):
    stamps = Stamps(hold=0.05)
    server = serve(stamps.wrap(fan_site(8)))
    stats, records = run_crawl(tmp_path, [server.url + "/"], workers=2, concurrency=4,
                               concurrency_per_host=per_host)

    assert len(records) == 9 and server.count("/p1") == 1
    assert 1 <= stamps.max_inflight <= per_host


def test_without_a_per_host_limit_requests_do_overlap(serve, tmp_path):
    # the control for the test above: the in-flight count does see concurrency
    stamps = Stamps(hold=0.1)
    server = serve(stamps.wrap(fan_site(8)))
    run_crawl(tmp_path, [server.url + "/"], workers=2, concurrency=4)

    assert stamps.max_inflight > 1


@pytest.mark.parametrize("politeness", [{"concurrency_per_host": 1}, {"delay": 0.05}], ids=["per-host", "delay"])
def test_a_slow_host_does_not_hold_up_a_fast_one(serve, tmp_path, politeness):
    slow = serve(fan_site(1, page=Page("<title>slow</title>", delay=1.0)))
    fast = serve(fan_site(10))
    stats, records = run_crawl(tmp_path, [slow.url + "/", fast.url + "/"], workers=1, concurrency=2,
                               **politeness)

    hosts = [urlsplit(r["url"]).port for r in records]
    assert hosts.count(fast.port) == 11 and hosts.count(slow.port) == 2
    # records are written as pages finish: every fast page is done before the slow one
    slow_page = [r["url"] for r in records].index(slow.url + "/p1")
    assert slow_page > max(i for i, port in enumerate(hosts) if port == fast.port)
    assert stats["finish_reason"] == "finished"
