"""Web correctness, fetching: redirects, retries, the whole-response timeout, size caps, short bodies."""

import gzip
import threading
import time
from email.utils import formatdate

import psutil
import pytest
from werkzeug import Response

from scrapepool.net.downloader import Downloader, FetchResult
from scrapepool.settings import Settings
from scrapepool.testing.testserver import Page
from scrapepool.urls import DomainFilter
from tests.web_sites import (  # noqa: F401
    CRAWL_SETTINGS,
    ROBOTS,
    by_path,
    hang_up,
    raw_serve,
    respond,
    short_body,
    silent,
    stream,
    trickle,
    trickle_head,
)

pytestmark = [pytest.mark.timeout(30), CRAWL_SETTINGS]


def redirect(location, status=302):
    return Page("", status=status, headers={"Location": location})


# -- redirects -----------------------------------------------------------------------------------------

def test_every_redirect_status_relative_or_absolute_is_followed(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS}
    server = site_server(site)
    cases = {}
    for status in (301, 302, 303, 307, 308):
        site[f"/r{status}"] = redirect(f"/t{status}", status)
        cases[f"/r{status}"] = f"/t{status}"
    site["/abs"] = redirect(f"{server.url}/t-abs", 301)
    site["/deep/dir/rel"] = redirect("../t-rel?b=2&a=1", 302)
    site["/prel"] = redirect(f"//127.0.0.1:{server.port}/t-prel", 307)
    cases.update({"/abs": "/t-abs", "/deep/dir/rel": "/deep/t-rel?b=2&a=1", "/prel": "/t-prel"})
    site["/"] = "".join(f'<a href="{src}">x</a>' for src in cases)
    for target in cases.values():
        site[target.split("?")[0]] = f"<title>{target}</title>"
    result = crawl_spider(None, server, workers=2)
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert sorted(recs) == sorted(["/"] + list(cases))
    for src, target in cases.items():
        r = recs[src]
        assert r["url"] == server.url + src
        assert r["final_url"] == server.url + target
        assert (r["status"], r["error"], r["title"]) == (200, None, target)
        assert server.count(src) == 1 and server.count(target.split("?")[0]) == 1
    assert stats["pages"] == len(cases) + 1


def serve_robots(httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data(ROBOTS.body, content_type=ROBOTS.content_type)


def test_a_post_becomes_a_get_after_303_and_stays_a_post_after_307(httpserver, crawl_spider):
    def echo(request):
        return Response(f"{request.method} {request.get_data(as_text=True)}", content_type="text/plain")

    serve_robots(httpserver)
    httpserver.expect_request("/").respond_with_data("<p>home</p>", content_type="text/html")
    for status in (303, 307):
        httpserver.expect_request(f"/p{status}").respond_with_data(status=status,
                                                                   headers={"Location": f"/t{status}"})
        httpserver.expect_request(f"/t{status}").respond_with_handler(echo)
    result = crawl_spider("tests.spiders:PostsThroughRedirects", server=httpserver)
    records = result.records

    landed = {r["request_url"]: r for r in records}
    assert landed[httpserver.url_for("/p303")]["echo"] == "GET "
    assert landed[httpserver.url_for("/p307")]["echo"] == "POST x=1"
    requests = [(request.method, request.path) for request, _ in httpserver.log]
    assert requests.count(("POST", "/p303")) == 1 and requests.count(("GET", "/t303")) == 1
    assert requests.count(("POST", "/t307")) == 1
    httpserver.check_assertions()


def chain(site, prefix, hops, final="<title>end</title>"):
    """``/{prefix}0`` redirects ``hops`` times to ``/{prefix}{hops}``."""
    for i in range(hops):
        site[f"/{prefix}{i}"] = redirect(f"/{prefix}{i + 1}", 301 if i % 2 else 302)
    site[f"/{prefix}{hops}"] = final


@pytest.mark.parametrize("limit", [None, 3])
def test_redirect_limit(site_server, crawl_spider, limit):
    n = 10 if limit is None else limit
    site = {"/robots.txt": ROBOTS, "/": '<a href="/ok0">ok</a><a href="/over0">over</a>'}
    chain(site, "ok", n)
    chain(site, "over", n + 1)
    server = site_server(site)
    kw = {} if limit is None else {"max_redirects": limit}
    result = crawl_spider(None, server, **kw)
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert sorted(recs) == ["/", "/ok0", "/over0"]
    assert recs["/ok0"]["final_url"] == f"{server.url}/ok{n}" and recs["/ok0"]["title"] == "end"
    over = recs["/over0"]
    assert over["status"] in (301, 302) and over["title"] is None
    assert "redirects" in over["error"] and str(n) in over["error"]
    assert server.count(f"/over{n}") == 1 and server.count(f"/over{n + 1}") == 0
    assert server.count("/over0") == 1  # not retried
    assert stats["errors"] == {"too_many_redirects": 1}


def test_redirect_loops_end_in_an_error(site_server, crawl_spider):
    site = {
        "/robots.txt": ROBOTS,
        "/": '<a href="/l1">a</a><a href="/self">b</a><a href="/q?a=1&b=2">c</a>',
        "/l1": redirect("/l2"), "/l2": redirect("/l3", 307), "/l3": redirect("/l1", 301),
        "/self": redirect("/self#again", 308),
        "/q": redirect("/q?b=2&a=1"),
    }
    server = site_server(site)
    result = crawl_spider(None, server)
    records = result.records

    recs = by_path(records)
    assert sorted(recs) == ["/", "/l1", "/q?a=1&b=2", "/self"]
    for p in ("/l1", "/q?a=1&b=2", "/self"):
        assert "loop" in recs[p]["error"] and recs[p]["title"] is None
    assert [server.count(p) for p in ("/l1", "/l2", "/l3", "/self", "/q")] == [1, 1, 1, 1, 1]


def test_each_url_of_a_redirect_chain_counts_as_seen(site_server, crawl_spider):
    site = {
        "/robots.txt": ROBOTS,
        "/": '<a href="/r">r</a>',
        "/r": redirect("/mid"),
        "/mid": redirect("/t", 301),
        # the landing page names itself and the hops, directly and through another page
        "/t": '<title>T</title><a href="/t#x">self</a><a href="/mid">mid</a><a href="/more">more</a>',
        "/more": '<a href="/t">t</a><a href="/mid">mid</a><a href="/r">r</a>',
    }
    server = site_server(site)
    result = crawl_spider(None, server)
    records = result.records

    assert sorted(by_path(records)) == ["/", "/more", "/r"]
    assert by_path(records)["/r"]["final_url"] == server.url + "/t"
    assert [server.count(p) for p in ("/r", "/mid", "/t", "/more")] == [1, 1, 1, 1]


# -- retries -------------------------------------------------------------------------------------------

def test_retryable_statuses_are_retried_others_are_not(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS}
    retryable = (429, 500, 502, 503, 504)
    final = (400, 403, 404, 410)
    for s in retryable + final:
        site[f"/s{s}"] = Page(f"<title>{s}</title>", status=s)
    site["/"] = "".join(f'<a href="/s{s}">{s}</a>' for s in retryable + final)
    server = site_server(site)
    result = crawl_spider(None, server, retries=1, concurrency=4)
    stats, records = result.stats, result.records

    recs = by_path(records)
    for s in retryable + final:
        r = recs[f"/s{s}"]
        assert (r["status"], r["error"], r["title"], r["links"]) == (s, f"HTTP {s}", None, 0)
        assert server.count(f"/s{s}") == (2 if s in retryable else 1), s
    assert stats["retries"] == len(retryable)


def test_a_persistent_503_is_tried_one_plus_retries_times(site_server, crawl_spider):
    server = site_server({"/robots.txt": ROBOTS, "/": Page("busy", status=503)})
    result = crawl_spider(None, server)  # retries: default 2
    stats, records = result.stats, result.records

    assert server.count("/") == 3
    assert records == [{"url": server.url + "/", "final_url": server.url + "/", "status": 503,
                        "error": "HTTP 503", "depth": 0, "title": None, "links": 0}]
    assert stats["retries"] == 2 and stats["status"] == {"503": 1}


def flaky(failures, page, status=503, headers=None):
    """A page that answers ``status`` ``failures`` times, then ``page``."""
    calls = []
    lock = threading.Lock()

    def serve_(info):
        with lock:
            calls.append(time.monotonic())
            n = len(calls)
        if n <= failures:
            return Page("try again", status=status, headers=dict(headers or {}))
        return page
    serve_.calls = calls
    return serve_


def test_a_retry_that_succeeds_gives_a_clean_record(httpserver, crawl_spider):
    serve_robots(httpserver)
    for _ in range(2):  # one-shot handlers come first: two 502s, then the page
        httpserver.expect_oneshot_request("/").respond_with_data("try again", status=502)
    httpserver.expect_request("/").respond_with_data('<title>OK</title><a href="/next">n</a>',
                                                     content_type="text/html")
    httpserver.expect_request("/next").respond_with_data("<title>next</title>", content_type="text/html")
    result = crawl_spider(None, server=httpserver)
    stats, records = result.stats, result.records

    home = by_path(records)["/"]
    assert (home["status"], home["error"], home["title"], home["links"]) == (200, None, "OK", 1)
    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/") == 3 and paths.count("/next") == 1
    assert [resp.status_code for req, resp in httpserver.log if req.path == "/"] == [502, 502, 200]
    assert stats["retries"] == 2
    httpserver.check_assertions()


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(site_server, crawl_spider, status):
    page = flaky(1, "<title>OK</title>", status=status, headers={"Retry-After": "1"})
    server = site_server({"/robots.txt": ROBOTS, "/": page})
    result = crawl_spider(None, server, retry_backoff=0.01)
    records = result.records

    assert records[0]["status"] == 200 and len(page.calls) == 2
    assert page.calls[1] - page.calls[0] >= 1.0 - 0.05


def backoff_of(retry_after=None, status=503, **settings):
    d = Downloader(Settings(**settings), DomainFilter())
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    try:
        return d._backoff(1, FetchResult("http://x/", status, headers))
    finally:
        d.close()


def test_retry_after_is_capped_and_dates_are_understood():
    assert backoff_of("3600", retry_backoff=0.01) == 30.0
    assert 4.0 <= backoff_of(formatdate(time.time() + 6, usegmt=True), retry_backoff=0.01) <= 6.5
    assert backoff_of("junk", retry_backoff=0.01) < 0.02
    assert backoff_of("5", status=500, retry_backoff=0.01) < 0.02  # only on 429 and 503


def test_backoff_is_exponential_with_jitter():
    d = Downloader(Settings(retry_backoff=0.1), DomainFilter())
    try:
        result = FetchResult("http://x/", 500)
        for attempt in (1, 2, 3):
            values = {d._backoff(attempt, result) for _ in range(50)}
            base = 0.1 * 2 ** (attempt - 1)
            assert all(0.5 * base <= v <= 1.5 * base for v in values)
            assert len(values) > 1  # jittered
        assert d._backoff(30, result) <= 1.5 * 10.0  # capped
    finally:
        d.close()


def test_connection_errors_are_retried_then_recorded(raw_serve, crawl_spider):
    server = raw_serve({"/": respond('<a href="/down">d</a>'), "/down": hang_up})
    result = crawl_spider(None, site=None, start=server.url + "/", retries=2)
    stats, records = result.stats, result.records

    down = by_path(records)["/down"]
    assert down["status"] is None and down["title"] is None
    assert "connection" in down["error"]
    assert server.count("/down") == 3 and stats["retries"] == 2


def test_a_refused_connection_is_an_error_record(crawl_spider):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    result = crawl_spider(None, site=None, start=f"http://127.0.0.1:{port}/", retries=1, robots=False)
    stats, records = result.stats, result.records

    assert len(records) == 1 and records[0]["status"] is None and "connection" in records[0]["error"]
    assert stats["retries"] == 1 and stats["finish_reason"] == "finished"


def test_a_body_shorter_than_its_content_length_is_an_error_not_a_page(raw_serve, crawl_spider):
    server = raw_serve({"/": respond('<a href="/cut">c</a>'), "/cut": short_body(1000, 100),
                        "/from-cut-page": respond("<title>never</title>")})
    result = crawl_spider(None, site=None, start=server.url + "/", retries=1)
    stats, records = result.stats, result.records

    cut = by_path(records)["/cut"]
    assert "cut short" in cut["error"]
    assert (cut["title"], cut["links"]) == (None, 0)
    assert server.count("/cut") == 2  # retried
    assert server.count("/from-cut-page") == 0
    assert stats["errors"] == {"truncated": 1}


# -- the whole-response timeout ------------------------------------------------------------------------

TIMEOUT = 0.8


@pytest.mark.timeout(15)
@pytest.mark.parametrize("handler, retries", [(trickle(0.2, 100), 1), (silent, 0), (trickle_head(0.2, 100), 0)],
                         ids=["trickled-body", "never-answers", "trickled-headers"])
def test_timeout_bounds_the_whole_response(raw_serve, crawl_spider, handler, retries):
    server = raw_serve({"/": respond('<a href="/slow">s</a><a href="/fine">f</a>'), "/slow": handler,
                        "/fine": respond("<title>fine</title>")})
    started = time.monotonic()
    result = crawl_spider(None, site=None, start=server.url + "/", timeout=TIMEOUT, retries=retries)
    stats, records = result.stats, result.records
    elapsed = time.monotonic() - started

    slow = by_path(records)["/slow"]
    assert "timed out" in slow["error"] and slow["title"] is None
    assert by_path(records)["/fine"]["title"] == "fine"
    assert server.count("/slow") == 1 + retries  # a timeout is retried
    assert elapsed < TIMEOUT * (1 + retries) + 3.0
    assert stats["errors"] == {"timeout": 1}


# -- size caps -----------------------------------------------------------------------------------------

MB = 1024 * 1024


def test_max_bytes_edge(raw_serve, crawl_spider):
    exact = b"<title>exact</title>".ljust(1000, b" ")
    over = b"<title>over</title>".ljust(1001, b" ")
    server = raw_serve({
        "/": respond('<a href="/exact">1</a><a href="/over">2</a><a href="/exact-s">3</a><a href="/over-s">4</a>'),
        "/exact": respond(exact), "/over": respond(over),
        "/exact-s": stream(1000), "/over-s": stream(1001),
    })
    result = crawl_spider(None, site=None, start=server.url + "/", max_bytes=1000)
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert recs["/exact"]["error"] is None and recs["/exact"]["title"] == "exact"
    assert recs["/exact-s"]["error"] is None
    for p in ("/over", "/over-s"):
        assert "max-bytes" in recs[p]["error"] and recs[p]["title"] is None and recs[p]["status"] == 200
        assert server.count(p) == 1  # not retried
    assert stats["errors"] == {"too_large": 2}


def peak_children_rss(stop, out):
    me = psutil.Process()
    while not stop.is_set():
        for child in me.children(recursive=True):
            try:
                out[child.pid] = max(out.get(child.pid, 0), child.memory_info().rss)
            except psutil.Error:
                pass
        stop.wait(0.005)


@pytest.mark.timeout(30)
def test_a_20mb_page_is_cut_at_max_bytes_and_memory_stays_bounded(raw_serve, crawl_spider):
    server = raw_serve({
        "/": respond('<a href="/big">b</a><a href="/big-declared">d</a><a href="/bomb">g</a>'),
        "/big": stream(20 * MB),
        "/big-declared": stream(20 * MB, declare=True),
        "/bomb": respond(gzip.compress(b"<p>" + b"0" * (20 * MB)), headers=[("Content-Encoding", "gzip")]),
    })
    base = psutil.Process().memory_info().rss
    peaks, stop = {}, threading.Event()
    sampler = threading.Thread(target=peak_children_rss, args=(stop, peaks), daemon=True)
    sampler.start()
    try:
        result = crawl_spider(None, site=None, start=server.url + "/", max_bytes=1 * MB, concurrency=3)
        stats, records = result.stats, result.records
    finally:
        stop.set()
        sampler.join(5)

    recs = by_path(records)
    for p in ("/big", "/big-declared", "/bomb"):
        assert "max-bytes" in recs[p]["error"] and recs[p]["title"] is None, p
    assert stats["finish_reason"] == "finished"
    assert peaks and max(peaks.values()) - base < 15 * MB, (base, peaks)


@pytest.mark.timeout(30)
def test_default_max_bytes_is_10mb(raw_serve, crawl_spider):
    server = raw_serve({"/": respond('<a href="/big">b</a><a href="/nine">n</a>'),
                        "/big": stream(20 * MB), "/nine": stream(9 * MB)})
    result = crawl_spider(None, site=None, start=server.url + "/")
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert "max-bytes" in recs["/big"]["error"] and str(10 * MB) in recs["/big"]["error"]
    assert recs["/nine"]["error"] is None and recs["/nine"]["status"] == 200
    assert stats["finish_reason"] == "finished"


def test_a_proxy_from_the_environment_is_used(raw_serve, monkeypatch):
    # An HTTP proxy gets the absolute URL on its request line; the host need not exist.
    proxy = raw_serve({"http://site.invalid/page": respond("<title>via proxy</title>")})
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    d = Downloader(Settings(timeout=5.0), DomainFilter())
    try:
        result = d.fetch("http://site.invalid/page")
    finally:
        d.close()
    assert (result.status, result.error) == (200, None) and b"via proxy" in result.body
    assert proxy.count("http://site.invalid/page") == 1
