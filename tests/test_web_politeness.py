"""Web correctness, politeness: --delay and --concurrency-per-host hold across fetcher processes,
and one slow host never holds up the others."""

from urllib.parse import urlsplit

import pytest

from scrapepool.testing.testserver import Page
from tests.web_sites import CRAWL_SETTINGS, ROBOTS, Stamps

pytestmark = [pytest.mark.timeout(30), CRAWL_SETTINGS]

TOLERANCE = 0.05


def fan_site(n, page=None):
    """Home links to /p1../pN; every page links to every other one."""
    links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(1, n + 1))
    site = {"/robots.txt": ROBOTS, "/": f"<title>home</title>{links}"}
    for i in range(1, n + 1):
        site[f"/p{i}"] = page or f"<title>p{i}</title>{links}"
    return site


def test_delay_holds_across_fetcher_processes(site_server, crawl_spider):
    stamps = Stamps()
    server = site_server(stamps.wrap(fan_site(6)))
    result = crawl_spider(None, server, workers=2, concurrency=4, delay=0.2)
    stats, records = result.stats, result.records

    assert len(records) == 7 and stats["finish_reason"] == "finished"
    gaps = stamps.gaps()  # robots.txt included: it is a request to the host too
    assert len(gaps) == 7
    assert min(gaps) >= 0.2 - TOLERANCE, gaps


def test_redirect_hops_wait_out_the_delay_too(site_server, crawl_spider):
    stamps = Stamps()
    site = fan_site(2)
    site["/"] += '<a href="/r0">r</a>'
    for i in range(3):
        site[f"/r{i}"] = Page("", status=302, headers={"Location": f"/r{i + 1}"})
    site["/r3"] = "<title>end</title>"
    server = site_server(stamps.wrap(site))
    result = crawl_spider(None, server, workers=2, concurrency=4, delay=0.2)
    stats, records = result.stats, result.records

    assert len(records) == 4 and stats["redirects"] == 3
    gaps = stamps.gaps()
    assert len(gaps) == 1 + 3 + 3 and min(gaps) >= 0.2 - TOLERANCE, gaps


@pytest.mark.parametrize("per_host", [1, 2])
def test_concurrency_per_host(site_server, crawl_spider, per_host):
    stamps = Stamps(hold=0.05)
    server = site_server(stamps.wrap(fan_site(8)))
    result = crawl_spider(None, server, workers=2, concurrency=4, concurrency_per_host=per_host)
    records = result.records

    assert len(records) == 9 and server.count("/p1") == 1
    assert 1 <= stamps.max_inflight <= per_host


def test_without_a_per_host_limit_requests_do_overlap(site_server, crawl_spider):
    # the control for the test above: the in-flight count does see concurrency
    stamps = Stamps(hold=0.1)
    server = site_server(stamps.wrap(fan_site(8)))
    crawl_spider(None, server, workers=2, concurrency=4)

    assert stamps.max_inflight > 1


@pytest.mark.parametrize("politeness", [{"concurrency_per_host": 1}, {"delay": 0.05}], ids=["per-host", "delay"])
def test_a_slow_host_does_not_hold_up_a_fast_one(site_server, crawl_spider, politeness):
    slow = site_server(fan_site(1, page=Page("<title>slow</title>", delay=1.0)))
    fast = site_server(fan_site(10))
    result = crawl_spider(None, site=None, start=[slow.url + "/", fast.url + "/"], workers=1, concurrency=2,
                          **politeness)
    stats, records = result.stats, result.records

    hosts = [urlsplit(r["url"]).port for r in records]
    assert hosts.count(fast.port) == 11 and hosts.count(slow.port) == 2
    # records are written as pages finish: every fast page is done before the slow one
    slow_page = [r["url"] for r in records].index(slow.url + "/p1")
    assert slow_page > max(i for i, port in enumerate(hosts) if port == fast.port)
    assert stats["finish_reason"] == "finished"
