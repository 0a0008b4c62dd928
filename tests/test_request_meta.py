"""Scrapy's request meta keys in real crawls (issue 16): ``dont_redirect``, ``redirect_urls``
and ``redirect_reasons``, ``dont_retry``, ``max_retry_times``, ``download_timeout``,
``download_maxsize``. Local SiteServer, real engine and fetcher processes; each test cites
the Scrapy test whose assertions it carries over. Spiders: tests/request_meta_spiders.py."""

import time

import pytest

from scrapepool.net.fetcher import request_limits
from scrapepool.settings import Settings
from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(90)

SPIDER = "tests.request_meta_spiders:MetaSpider"


def _crawl(crawl_spider, server, requests, **settings):
    result = crawl_spider(SPIDER, server, start=[], spider_kwargs={"base": server.url, "requests": requests},
                          **settings)
    assert result.stats["spider_errors"] == 0
    return {r["path"]: r for r in result.records}, result


# -- redirects -------------------------------------------------------------------------------

def test_dont_redirect(site_server, crawl_spider):
    """Scrapy: tests/utils/bases/redirect.py, TestRedirectBase.test_dont_redirect: with
    ``dont_redirect`` the 3xx response is the response (not followed); ``False`` redirects.
    Then, as HttpErrorMiddleware does, it reaches the callback only where its status is
    allowed (handle_httpstatus_list), else the errback."""
    server = site_server({
        "/kept": Page("", status=301, headers={"Location": "/landing-kept"}),
        "/refused": Page("", status=301, headers={"Location": "/landing-refused"}),
        "/followed": Page("", status=302, headers={"Location": "/landing-followed"}),
        "/landing-kept": "<title>no</title>",
        "/landing-refused": "<title>no</title>",
        "/landing-followed": "<title>yes</title>",
    })
    got, _ = _crawl(crawl_spider, server, [
        ["/kept", {"dont_redirect": True, "handle_httpstatus_list": [301]}],
        ["/refused", {"dont_redirect": True}],
        ["/followed", {"dont_redirect": False}],
    ])
    assert (got["/kept"]["via"], got["/kept"]["status"], got["/kept"]["final"]) == ("callback", 301, "/kept")
    assert (got["/refused"]["via"], got["/refused"]["status"], got["/refused"]["kind"]) == \
        ("errback", 301, "http_301")
    assert (got["/followed"]["via"], got["/followed"]["status"], got["/followed"]["final"]) == \
        ("callback", 200, "/landing-followed")
    assert server.count("/landing-kept") == 0 and server.count("/landing-refused") == 0
    assert server.count("/landing-followed") == 1


def test_redirect_urls_and_reasons(site_server, crawl_spider):
    """Scrapy: tests/utils/bases/redirect.py, TestRedirectBase.test_redirect_urls and
    test_redirect_reasons: each hop's meta lists the URLs before it and the status of each
    redirect (RedirectMiddleware's reason is the status int). A request never redirected
    has neither key; the errback of a hop that fails sees them too (failure.request.meta)."""
    server = site_server({
        "/first": Page("", status=301, headers={"Location": "/second"}),
        "/second": Page("", status=302, headers={"Location": "/third"}),
        "/third": Page("", status=307, headers={"Location": "/final"}),
        "/final": "<title>final</title>",
        "/once": Page("", status=308, headers={"Location": "/gone"}),
        "/gone": Page("gone", status=410),
        "/plain": "<title>plain</title>",
    })
    got, result = _crawl(crawl_spider, server, [["/first", {}], ["/once", {"k": 1}], ["/plain", {}]])
    first = got["/first"]
    assert first["final"] == "/final"
    assert first["redirect_urls"] == ["/first", "/second", "/third"]
    assert first["redirect_reasons"] == [301, 302, 307]
    once = got["/once"]
    assert (once["via"], once["status"]) == ("errback", 410)
    assert once["redirect_urls"] == ["/once"] and once["redirect_reasons"] == [308]
    assert got["/plain"]["redirect_urls"] == [] and got["/plain"]["redirect_reasons"] is None
    assert result.stats["redirects"] == 4


# -- retries ---------------------------------------------------------------------------------

def test_dont_retry_and_max_retry_times(site_server, crawl_spider):
    """Scrapy: tests/test_downloadermiddleware_retry.py: test_dont_retry (a 503 with
    ``dont_retry`` is not retried; ``False`` is), test_with_metakey_zero, test_with_metakey_greater
    and test_with_metakey_lesser (``max_retry_times`` replaces RETRY_TIMES either way),
    test_without_metakey (the setting applies) and test_with_dont_retry (``dont_retry`` wins
    over ``max_retry_times``). Each path always answers 503: its request count is 1 + retries."""
    names = ["default", "dont", "dont-false", "zero", "greater", "lesser", "both"]
    server = site_server({f"/{n}": Page("busy", status=503) for n in names})
    got, result = _crawl(crawl_spider, server, [
        ["/default", {}],
        ["/dont", {"dont_retry": True}],
        ["/dont-false", {"dont_retry": False}],
        ["/zero", {"max_retry_times": 0}],
        ["/greater", {"max_retry_times": 4}],
        ["/lesser", {"max_retry_times": 1}],
        ["/both", {"max_retry_times": 4, "dont_retry": True}],
    ], retries=2, retry_backoff=0.01)
    counts = {n: server.count(f"/{n}") for n in names}
    assert counts == {"default": 3, "dont": 1, "dont-false": 3, "zero": 1, "greater": 5, "lesser": 2,
                      "both": 1}, counts
    assert all(got[f"/{n}"]["via"] == "errback" and got[f"/{n}"]["status"] == 503 for n in names)
    assert result.stats["retries"] == sum(counts.values()) - len(names)


# -- download_timeout ------------------------------------------------------------------------

def test_download_timeout_per_request(site_server, crawl_spider):
    """Scrapy: tests/test_downloadermiddleware_downloadtimeout.py, test_request_has_download_timeout
    (the request's ``download_timeout`` wins over DOWNLOAD_TIMEOUT, either way) and
    test_zero_download_timeout (0: the setting); tests/utils/bases/download_handlers_http.py,
    test_timeout_download_from_spider_nodata_rcvd (a server slower than the request's
    download_timeout is a timeout error)."""
    server = site_server({
        "/slow-short": Page("<title>slow</title>", delay=2.0),
        "/slow-long": Page("<title>slow</title>", delay=1.0),
        "/slow-setting": Page("<title>slow</title>", delay=1.0),
        "/slow-zero": Page("<title>slow</title>", delay=1.0),
    })
    began = time.monotonic()
    got, _ = _crawl(crawl_spider, server, [
        ["/slow-short", {"download_timeout": 0.3, "dont_retry": True}],   # below the setting
        ["/slow-long", {"download_timeout": 5, "dont_retry": True}],      # above the setting
        ["/slow-setting", {"dont_retry": True}],
        ["/slow-zero", {"download_timeout": 0, "dont_retry": True}],
    ], timeout=1.6, concurrency=4)
    assert (got["/slow-short"]["via"], got["/slow-short"]["kind"]) == ("errback", "timeout")
    assert (got["/slow-long"]["via"], got["/slow-long"]["status"]) == ("callback", 200)
    assert (got["/slow-setting"]["via"], got["/slow-setting"]["status"]) == ("callback", 200)
    assert (got["/slow-zero"]["via"], got["/slow-zero"]["status"]) == ("callback", 200)
    assert time.monotonic() - began < 30


def test_download_timeout_above_the_setting_is_needed(site_server, crawl_spider):
    """The other side of test_request_has_download_timeout: the same slow page times out
    under the setting alone and is downloaded under a longer ``download_timeout``."""
    server = site_server({"/a": Page("<title>a</title>", delay=1.0), "/b": Page("<title>b</title>", delay=1.0)})
    got, _ = _crawl(crawl_spider, server, [["/a", {"dont_retry": True}],
                                           ["/b", {"dont_retry": True, "download_timeout": 4}]],
                    timeout=0.4, retries=2, concurrency=2)
    assert (got["/a"]["via"], got["/a"]["kind"]) == ("errback", "timeout")
    assert (got["/b"]["via"], got["/b"]["status"]) == ("callback", 200)
    assert server.count("/a") == 1  # dont_retry


# -- download_maxsize ------------------------------------------------------------------------

def test_download_maxsize_per_request(site_server, crawl_spider):
    """Scrapy: tests/utils/bases/download_handlers_http.py, test_download_with_maxsize (a body
    of exactly the limit passes, one byte over fails), test_download_with_maxsize_per_req
    (the request's ``download_maxsize`` wins over the setting), test_download_without_maxsize_limit
    (0: no limit) and test_download_with_large_maxsize_via_setting."""
    body = "x" * 100
    names = ["exact", "over", "raised", "unlimited", "setting"]
    server = site_server({f"/{n}": Page(body, content_type="text/plain") for n in names})
    got, _ = _crawl(crawl_spider, server, [
        ["/exact", {"download_maxsize": 100}],
        ["/over", {"download_maxsize": 99}],
        ["/raised", {"download_maxsize": 1000}],       # above the setting's 50
        ["/unlimited", {"download_maxsize": 0}],
        ["/setting", {}],
    ], max_bytes=50)
    assert (got["/exact"]["via"], got["/exact"]["bytes"]) == ("callback", 100)
    assert (got["/over"]["via"], got["/over"]["kind"]) == ("errback", "too_large")
    assert (got["/raised"]["via"], got["/raised"]["bytes"]) == ("callback", 100)
    assert (got["/unlimited"]["via"], got["/unlimited"]["bytes"]) == ("callback", 100)
    assert (got["/setting"]["via"], got["/setting"]["kind"]) == ("errback", "too_large")


# -- the overrides themselves ----------------------------------------------------------------

def test_request_limits_reads_the_meta_keys():
    """What the fetcher passes the downloader (Scrapy's meta semantics; a wrong type is ignored)."""
    s = Settings(retries=2, timeout=30)
    assert request_limits({}, s) == {} and request_limits(None, s) == {}
    assert request_limits({"dont_retry": True, "max_retry_times": 4}, s)["retries"] == 0
    assert request_limits({"dont_retry": False, "max_retry_times": 4}, s)["retries"] == 4
    assert request_limits({"max_retry_times": "4"}, s) == {}
    assert request_limits({"download_timeout": 0}, s) == {}
    assert request_limits({"download_timeout": 2.5}, s)["timeout"] == 2.5
    assert request_limits({"download_maxsize": 0}, s)["max_bytes"] == float("inf")
    assert request_limits({"download_maxsize": 7}, s) == {"max_bytes": 7}
    assert request_limits({"download_timeout": 100}, s) == {"timeout": 100.0}


def test_the_coordinator_gives_a_request_the_time_its_meta_asks_for():
    """A per-request timeout or retry count longer than the settings' is not taken as a hang
    (engine ``_longest``: past it a request is lost and its fetcher replaced)."""
    import time as _time

    from scrapepool import _messages as m
    from scrapepool.core.engine import Engine

    s = Settings(retries=0, timeout=1, hang_margin=5)
    engine = Engine(None, (), s)

    def job(meta):
        return m.Job(1, "http://127.0.0.1:9/", "GET", None, None, None, meta, 0, 0, None, _time.time())

    plain = engine._longest(job({}))
    assert 5 < plain <= 1 + 5 + 0.01
    assert engine._longest(job({"download_timeout": 100})) >= 100 + 5
    assert engine._longest(job({"max_retry_times": 3})) >= 4 * 1 + 3 * 30 + 5  # tries and back-offs


# -- robots.txt ------------------------------------------------------------------------------

def test_dont_obey_robotstxt(site_server, crawl_spider):
    """Scrapy: tests/test_downloadermiddleware_robotstxt.py, test_ignore_robotstxt_request: a
    request with ``meta["dont_obey_robotstxt"]`` is sent whatever robots.txt says; the others
    it forbids are not."""
    server = site_server({
        "/robots.txt": Page("User-agent: *\nDisallow: /private\n", content_type="text/plain"),
        "/private/a": "<title>a</title>",
        "/private/b": "<title>b</title>",
    })
    got, result = _crawl(crawl_spider, server, [
        ["/private/a", {"dont_obey_robotstxt": True}],
        ["/private/b", {}],
    ], robots=True)
    assert got["/private/a"]["via"] == "callback" and "/private/b" not in got
    assert server.count("/private/a") == 1 and server.count("/private/b") == 0
    assert result.stats["robots_refused"] == 1
