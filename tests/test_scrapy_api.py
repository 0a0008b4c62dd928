"""Scrapy's spider API as Scrapy's own tests assert it (issue 16, "Scrapy users at home"):
Request.replace/copy, Spider.logger, Spider.closed(reason), handle_httpstatus_list/_all and
cb_kwargs. Unit tests where no crawl is needed; real crawls (local SiteServer, real engine and
fetcher processes) where the behaviour crosses processes. Spiders: tests/scrapy_api_spiders.py."""

import logging

import pytest

from scrapepool import Request, Spider
from scrapepool.net.fetcher import _redirect_handled, _status_handled
from scrapepool.spiders.forms import FormRequest
from scrapepool.spiders.http import CB_KWARGS_KEY, split_cb_kwargs
from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(90)

SPIDERS = "tests.scrapy_api_spiders"


# -- Request.replace / copy ------------------------------------------------------------------

class _Parsing(Spider):
    def parse(self, response):
        pass

    def on_error(self, failure):
        pass


def test_copy_shallow_copies_meta_headers_and_cb_kwargs():
    """Scrapy: tests/utils/bases/http_request.py, TestRequestBase.test_copy."""
    spider = _Parsing()
    r1 = Request("http://www.example.com", callback=spider.parse, errback=spider.on_error,
                 headers={"X-A": "1"})
    r1.meta["foo"] = "bar"
    r1.cb_kwargs["key"] = "value"
    r2 = r1.copy()
    assert r2.callback == r1.callback and r2.errback == r1.errback
    assert r1.cb_kwargs is not r2.cb_kwargs and r1.cb_kwargs == r2.cb_kwargs == {"key": "value"}
    assert r1.meta is not r2.meta and r1.meta == r2.meta
    assert r1.headers is not r2.headers and r1.headers == r2.headers
    assert r1.dont_filter == r2.dont_filter
    r2.cb_kwargs["key"] = "changed"
    r2.meta["foo"] = "changed"
    assert r1.cb_kwargs == {"key": "value"} and r1.meta["foo"] == "bar"


def test_copy_keeps_the_subclass():
    """Scrapy: TestRequestBase.test_copy_inherited_classes (and FormRequest keeps its body)."""
    class CustomRequest(Request):
        __slots__ = ()

    assert isinstance(CustomRequest("http://www.example.com").copy(), CustomRequest)
    form = FormRequest("http://www.example.com/login", formdata={"user": "me"})
    copy = form.replace(priority=3)
    assert type(copy) is FormRequest
    assert (copy.method, copy.body, copy.priority) == ("POST", b"user=me", 3)
    assert copy.headers["Content-Type"] == form.headers["Content-Type"]


def test_replace_changes_only_what_it_is_given():
    """Scrapy: TestRequestBase.test_replace."""
    r1 = Request("http://www.example.com", method="GET")
    r2 = r1.replace(method="POST", body="New body", headers={"key": "value"})
    assert r1.url == r2.url
    assert (r1.method, r2.method) == ("GET", "POST")
    assert (r1.body, r2.body) == (None, b"New body")
    assert (r1.headers, r2.headers) == (None, {"key": "value"})
    # empty attributes, which may fail if not compared properly
    r3 = Request("http://www.example.com", meta={"a": 1}, dont_filter=True)
    r4 = r3.replace(url="http://www.example.com/2", body=b"", meta={}, dont_filter=False)
    assert r4.url == "http://www.example.com/2"
    assert r4.body == b""
    assert r4.meta == {} and r3.meta == {"a": 1}
    assert r4.dont_filter is False
    # the cls argument changes the resulting class
    custom = type("CustomRequest", (Request,), {"__slots__": ()})
    r5 = r1.replace(cls=custom)
    assert isinstance(r5, custom) and r5.url == r1.url


def test_replace_keeps_cb_kwargs_unless_given():
    r1 = Request("http://www.example.com/", cb_kwargs={"n": 1}, meta={"a": 1}, priority=5)
    assert r1.replace(url="http://www.example.com/2").cb_kwargs == {"n": 1}
    assert r1.replace(meta={}).cb_kwargs == {"n": 1}            # a separate attribute, as in Scrapy
    assert r1.replace(cb_kwargs={"n": 2}).cb_kwargs == {"n": 2}
    assert r1.replace(cb_kwargs={}).cb_kwargs == {}
    assert r1.replace(url="http://www.example.com/3").priority == 5


def test_cb_kwargs_do_not_come_along_with_another_requests_meta():
    r1 = Request("http://www.example.com/", cb_kwargs={"n": 1}, meta={"a": 1})
    r2 = Request("http://www.example.com/2", meta=r1.meta)
    assert r2.cb_kwargs == {} and r2.meta["a"] == 1


def test_split_cb_kwargs_gives_the_callback_meta_without_them():
    r = Request("http://www.example.com/", cb_kwargs={"n": 1}, meta={"a": 1})
    meta, cb_kwargs = split_cb_kwargs(r.meta)
    assert (meta, cb_kwargs) == ({"a": 1}, {"n": 1})
    assert CB_KWARGS_KEY in r.meta  # the request itself still carries them
    assert split_cb_kwargs({"a": 1}) == ({"a": 1}, {})
    assert split_cb_kwargs({}) == ({}, {})


# -- Spider.logger ---------------------------------------------------------------------------

class _Named(Spider):
    name = "example.com"


def test_logger_is_named_after_the_spider_and_carries_it(caplog):
    """Scrapy: tests/utils/bases/spider.py, TestSpiderBase.test_logger."""
    spider = _Named()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        spider.logger.info("test log msg")
    assert caplog.record_tuples == [("example.com", logging.INFO, "test log msg")]
    assert getattr(caplog.records[0], "spider", None) is spider
    assert isinstance(spider.logger, logging.LoggerAdapter)


def test_logger_of_a_spider_without_a_name_uses_the_class_name(caplog):
    class Unnamed(Spider):
        pass

    with caplog.at_level(logging.INFO):
        Unnamed().logger.warning("hi %s", "there")
    assert caplog.record_tuples == [("Unnamed", logging.WARNING, "hi there")]


@pytest.mark.parametrize(("log_extra", "expected"), [
    ({"extra": {"log_extra": "info"}}, {"extra": {"log_extra": "info", "spider": "test"}}),
    ({"extra": None}, {"extra": {"spider": "test"}}),
    ({"extra": {"spider": "test2"}}, {"extra": {"spider": "test"}}),
])
def test_logger_adapter_merges_the_calls_extra(log_extra, expected):
    """Scrapy: tests/test_utils_log.py, test_spider_logger_adapter_process."""
    from scrapepool.spiders.spider import SpiderLoggerAdapter

    adapter = SpiderLoggerAdapter(logging.getLogger("test"), {"spider": "test"})
    assert adapter.process("test_log_message", log_extra) == ("test_log_message", expected)


# -- handle_httpstatus_list / handle_httpstatus_all: the decision ----------------------------

class _Lists(Spider):
    pass


def _spider(**attrs):
    spider = _Lists()
    for key, value in attrs.items():
        setattr(spider, key, value)
    return spider


def test_status_decision_as_httperror_middleware():
    """Scrapy: tests/test_spidermiddleware_httperror.py, TestHttpErrorMiddleware."""
    plain = _spider()
    # test_process_spider_input
    assert _status_handled(plain, {}, 200)
    assert not _status_handled(plain, {}, 404)
    assert all(_status_handled(plain, {}, s) for s in (200, 201, 204, 299))
    assert not _status_handled(plain, {}, 300) and not _status_handled(plain, {}, 199)
    # test_handle_httpstatus_list: in meta, or on the spider
    assert _status_handled(plain, {"handle_httpstatus_list": [404]}, 404)
    assert _status_handled(_spider(handle_httpstatus_list=[404]), {}, 404)


def test_status_decision_meta_overrides_the_spider():
    """Scrapy: TestHttpErrorMiddlewareSettings.test_meta_overrides_settings and
    test_spider_override_settings (the spider's list standing for HTTPERROR_ALLOWED_CODES)."""
    spider = _spider(handle_httpstatus_list=[402])
    meta = {"handle_httpstatus_list": [404]}
    assert _status_handled(spider, meta, 404)
    assert not _status_handled(spider, meta, 402)
    assert _status_handled(spider, {}, 402) and not _status_handled(spider, {}, 404)
    assert not _status_handled(spider, {"handle_httpstatus_list": []}, 402)


def test_status_decision_handle_all():
    """Scrapy: TestHttpErrorMiddlewareHandleAll (the spider's handle_httpstatus_all standing for
    HTTPERROR_ALLOW_ALL): meta's list overrides it; meta's handle_httpstatus_all True/False."""
    spider = _spider(handle_httpstatus_all=True)
    assert _status_handled(spider, {}, 200) and _status_handled(spider, {}, 404)
    meta = {"handle_httpstatus_list": [404]}
    assert _status_handled(spider, meta, 404) and not _status_handled(spider, meta, 402)
    # test_httperror_allow_all_false
    plain = _spider()
    assert not _status_handled(plain, {"handle_httpstatus_all": False}, 404)
    assert _status_handled(plain, {"handle_httpstatus_all": True}, 402)
    # meta's handle_httpstatus_all wins over meta's list
    assert _status_handled(plain, {"handle_httpstatus_all": True, "handle_httpstatus_list": [1]}, 402)


def test_redirect_decision_as_redirect_middleware():
    """Scrapy: tests/test_downloadermiddleware_redirect.py, test_spider_handling and
    test_request_meta_handling: a listed redirect status reaches the callback unfollowed."""
    assert _redirect_handled(_spider(handle_httpstatus_list=[404, 301, 302]), {}, 301)
    assert _redirect_handled(_spider(), {"handle_httpstatus_list": [404, 301, 302]}, 301)
    assert _redirect_handled(_spider(), {"handle_httpstatus_all": True}, 301)
    assert not _redirect_handled(_spider(), {}, 301)
    assert not _redirect_handled(_spider(handle_httpstatus_list=[302]), {"handle_httpstatus_list": [404]}, 301)


# -- handle_httpstatus_list / _all: real crawls ----------------------------------------------

def _by_path(records):
    return {r["path"]: (r["status"], r["via"]) for r in records}


def test_handle_httpstatus_list_in_a_crawl(site_server, crawl_spider):
    server = site_server({
        "/ok": "<title>ok</title>",
        "/missing": Page("nope", status=404),
        "/gone": Page("gone", status=410),
        "/teapot": Page("tea", status=418),
        "/missing-too": Page("nope", status=404),
        "/forbidden": Page("no", status=403),
        "/forbidden-too": Page("no", status=403),
        "/moved": Page("", status=301, headers={"Location": "/landing"}),
        "/moved-followed": Page("", status=301, headers={"Location": "/landing-followed"}),
        "/landing-followed": "<title>landed</title>",
        "/no-errback": Page("gone", status=410),
    })
    result = crawl_spider(f"{SPIDERS}:StatusSpider", server, start=[], concurrency=2,
                          spider_kwargs={"base": server.url})
    got = _by_path(result.records)
    assert got == {
        "/ok": (200, "callback"),
        "/missing": (404, "callback"),           # the spider's handle_httpstatus_list
        "/gone": (410, "errback"),
        "/teapot": (418, "callback"),            # meta's list
        "/missing-too": (404, "errback"),        # meta's list overrides the spider's
        "/forbidden": (403, "callback"),         # meta's handle_httpstatus_all
        "/forbidden-too": (403, "errback"),      # ... False
        "/moved": (301, "callback"),             # a listed redirect is not followed
        "/moved-followed": (200, "callback"),    # the others are
        "/no-errback": (410, "error_record"),
    }, got
    moved = next(r for r in result.records if r["path"] == "/moved")
    assert moved["location"] == "/landing"
    assert server.count("/landing") == 0 and server.count("/landing-followed") == 1
    assert result.stats["spider_errors"] == 0
    assert result.stats["finish_reason"] == "finished"


def test_handle_httpstatus_all_on_the_spider_in_a_crawl(site_server, crawl_spider):
    server = site_server({"/missing": Page("nope", status=404), "/gone": Page("gone", status=410)})
    result = crawl_spider(f"{SPIDERS}:AllStatusSpider", server, start=[],
                          spider_kwargs={"base": server.url})
    assert _by_path(result.records) == {"/missing": (404, "callback"),
                                        "/gone": (410, "error_record")}  # meta's list overrides


# -- Spider.closed(reason) -------------------------------------------------------------------

def _chain(stop_at=None, n=4):
    pages = {}
    for i in range(n):
        name = "/" if i == 0 else f"/c{i}{'-stop' if i == stop_at else ''}"
        nxt = f"/c{i + 1}{'-stop' if i + 1 == stop_at else ''}"
        pages[name] = f'<title>{i}</title><a href="{nxt}">next</a>' if i + 1 < n else "<title>end</title>"
    return pages


def test_closed_is_called_once_with_finished(site_server, crawl_spider, tmp_path):
    """Scrapy: tests/utils/bases/spider.py, TestSpiderBase.test_closed_signal_call; once per
    crawl, not once per fetcher process (workers=2 run a spider each)."""
    marker = tmp_path / "closed.txt"
    result = crawl_spider(f"{SPIDERS}:ClosedSpider", site_server(_chain()), workers=2,
                          spider_kwargs={"closed_file": str(marker)})
    assert len(result.records) == 4
    assert marker.read_text() == "finished\n"


def test_closed_gets_the_close_spider_reason(site_server, crawl_spider, tmp_path):
    marker = tmp_path / "closed.txt"
    result = crawl_spider(f"{SPIDERS}:ClosedSpider", site_server(_chain(stop_at=2, n=6)), concurrency=1,
                          spider_kwargs={"closed_file": str(marker)})
    assert result.stats["finish_reason"] == "enough"
    assert marker.read_text() == "enough\n"


def test_an_exception_in_closed_is_one_spider_error(site_server, crawl_spider, tmp_path, caplog):
    marker = tmp_path / "closed.txt"
    with caplog.at_level(logging.WARNING, logger="scrapepool"):
        result = crawl_spider(f"{SPIDERS}:ClosedSpider", site_server(_chain()),
                              spider_kwargs={"closed_file": str(marker), "closed_raises": "boom"})
    assert marker.read_text() == "finished\n"
    assert result.stats["finish_reason"] == "finished"
    assert result.stats["spider_errors"] == 1
    assert len(result.records) == 4
    assert "spider error in closed(): RuntimeError: boom" in caplog.text


# -- cb_kwargs -------------------------------------------------------------------------------

def test_cb_kwargs_reach_the_callbacks(site_server, crawl_spider):
    """Scrapy: tests/test_request_cb_kwargs.py, test_callback_kwargs (start requests and
    followed requests; **kwargs, defaults; a signature mismatch is a TypeError, one spider
    error each), plus a redirect hop and an errback's failure."""
    names = ["first", "second", "general_with", "general_without", "no_kwargs", "default",
             "takes_less", "takes_more", "landing"]
    site = {f"/{n}": f"<title>{n}</title>" for n in names}
    site["/redirected"] = Page("", status=302, headers={"Location": "/landing"})
    site["/missing"] = Page("nope", status=404)
    server = site_server(site)
    result = crawl_spider(f"{SPIDERS}:CbKwargsSpider", server, start=[], concurrency=2,
                          spider_kwargs={"base": server.url})
    pages = {r["page"]: r for r in result.records}
    assert pages["first"] == {"page": "first", "key": "value", "number": 123, "callback": "some_callback",
                              "meta_keys": []}
    assert pages["second"] == {"page": "second", "new_key": "new_value",
                               "cb_kwargs": {"new_key": "new_value"}, "meta": {"m": 2}}
    assert pages["/general_with"]["kwargs"] == {"key": "value", "number": 123, "callback": "some_callback"}
    assert pages["/general_without"]["kwargs"] == {}
    assert pages["no_kwargs"]["cb_kwargs"] == {}
    assert pages["default"] == {"page": "default", "key": "value", "number": 123, "default": 99}
    assert pages["/redirected"]["kwargs"] == {"hop": True}
    assert pages["on_error"] == {"page": "on_error", "cb_kwargs": {"why": "gone"}, "meta": {"m": 1}}
    assert "takes_less" not in pages and "takes_more" not in pages
    assert result.stats["spider_errors"] == 2
    assert len(result.records) == 8


def test_cb_kwargs_survive_a_resume_from_the_job_dir(site_server, crawl_spider, tmp_path):
    server = site_server({"/": "<title>home</title>", "/a": "<title>a</title>", "/b": "<title>b</title>"})
    out, job = tmp_path / "out.jsonl", tmp_path / "job"
    first = crawl_spider(f"{SPIDERS}:PausesWithCbKwargs", server, output=out, job_dir=str(job),
                         concurrency=1)
    assert first.stats["finish_reason"] == "pause"
    assert server.count("/a") == 0 and server.count("/b") == 0  # waiting in the job dir
    second = crawl_spider(f"{SPIDERS}:PausesWithCbKwargs", server, output=out, job_dir=str(job),
                          concurrency=1)
    assert second.stats["finish_reason"] == "finished"
    assert sorted((r["path"], r["n"], r["tags"]) for r in second.records) == [("/a", 1, ["x"]),
                                                                              ("/b", 2, [])]
    assert server.count("/") == 1


def test_seeds_become_start_urls_that_an_overridden_start_requests_shapes(tmp_path, site_server):
    """As in Scrapy, the seeds (here given as URLs on the command line) are the spider's
    start_urls: its start_requests() adds a header to each, and a callback of its own."""
    import json as _json
    import subprocess as _subprocess
    import sys as _sys

    from scrapepool.testing.testserver import Page as _Page
    from tests.conftest import _env

    def echo(info):
        return _Page(f"<html><title>{info.headers.get('X-Shaped', 'no')}</title></html>")

    server = site_server({"/": echo, "/b": echo})
    proc = _subprocess.run([_sys.executable, "-m", "scrapepool", "crawl", server.url + "/", server.url + "/b",
                            "-s", "tests.scrapy_api_spiders:ShapesStartUrls", "-o", "out.jsonl", "--no-robots",
                            "-w", "1"], cwd=str(tmp_path), env=_env(), stdin=_subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    records = sorted((_json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()),
                     key=lambda r: r["url"])
    assert [(r["url"], r["via"], r["header"]) for r in records] == [
        (server.url + "/", "shaped", "yes"), (server.url + "/b", "shaped", "yes")]


# -- errbacks get a Failure ------------------------------------------------------------------

def _unused_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_errback_gets_a_failure_as_scrapy_documents_it(site_server, crawl_spider):
    """Scrapy: docs/topics/request-response.rst, "Using errbacks to catch exceptions in request
    processing": ``failure.check(HttpError)`` then ``failure.value.response``; ``failure.request``
    (with its cb_kwargs: "Accessing additional data in errback functions"); a connection error
    is another class, with no response. The dict of before still answers ``failure["status"]``."""
    server = site_server({"/missing": Page("not here", status=404)})
    dead = f"http://127.0.0.1:{_unused_port()}"
    result = crawl_spider(f"{SPIDERS}:ErrbackSpider", server, start=[], retries=0,
                          spider_kwargs={"base": server.url, "dead": dead})
    got = {r["url"]: r for r in result.records}
    assert set(got) == {server.url + "/missing", dead + "/nothing"}, got
    http = got[server.url + "/missing"]
    assert http["via"] == "errback" and http["is_failure"]
    assert (http["status"], http["kind"]) == (404, "http_404")                     # the dict still works
    assert http["check_http"] == "HttpError" and http["value_type"] == "HttpError"
    assert http["check_timeout"] is None and http["check_conn"] is None
    assert http["check_first"] == "HttpError"
    assert http["response_status"] == 404
    assert http["response_url"] == server.url + "/missing" and http["response_body"] == "not here"
    assert http["request_url"] == server.url + "/missing"
    assert http["request_cb_kwargs"] == {"why": "gone"} and http["request_meta_m"] == 1
    assert http["request_errback"] == "on_error"
    assert "404" in http["message"]
    assert http["has_response_attr"] is False                                   # as in Scrapy
    conn = got[dead + "/nothing"]
    assert conn["via"] == "errback" and conn["is_failure"]
    assert conn["status"] is None and conn["kind"] == "connection"
    assert conn["check_conn"] == "ConnectionError" and conn["check_first"] == "ConnectionError"
    assert conn["check_http"] is None and conn["check_timeout"] is None
    assert conn["value_type"] == "DownloadConnectionError"
    assert conn["value_has_response"] is False and conn["response_status"] is None
    assert conn["request_url"] == dead + "/nothing" and conn["request_cb_kwargs"] == {}
    assert conn["message"].startswith("connection error")
    assert result.stats["spider_errors"] == 0


def test_failure_check_trap_and_message_as_twisted():
    """twisted.python.failure.Failure: check() gives the first matching class or None; trap()
    gives it or raises the exception again; getErrorMessage() is str(value). And each kind of
    the fetcher's errors maps to its class (a timeout is also the builtin TimeoutError)."""
    import pickle

    import scrapepool
    from scrapepool import DownloadConnectionError, DownloadError, DownloadTimeout, Failure, HttpError
    from scrapepool.spiders.http import failure_value

    assert {"Failure", "HttpError", "DownloadError", "DownloadTimeout"} <= set(scrapepool.__all__)
    timeout = failure_value("timeout", "timed out after 3s")
    failure = Failure({"url": "http://x/", "status": None}, Request("http://x/"), timeout)
    assert failure == {"url": "http://x/", "status": None} and failure["url"] == "http://x/"
    assert failure.check(HttpError) is None
    assert failure.check(HttpError, TimeoutError, DownloadError) is TimeoutError
    assert failure.check(DownloadTimeout) is DownloadTimeout and failure.type is DownloadTimeout
    assert failure.trap(ConnectionError, DownloadError) is DownloadError
    with pytest.raises(DownloadTimeout):
        failure.trap(ConnectionError)
    assert failure.getErrorMessage() == "timed out after 3s"
    assert failure.request.url == "http://x/"
    assert type(failure_value("connection", "connection error: refused")) is DownloadConnectionError
    other = failure_value("redirect_loop", "redirect loop at http://x/")
    assert type(other) is DownloadError and other.kind == "redirect_loop"
    assert not isinstance(other, (TimeoutError, ConnectionError))
    http = failure_value("http_500", "HTTP 500", response="the response")
    assert type(http) is HttpError and http.response == "the response" and str(http) == "HTTP 500"
    again = pickle.loads(pickle.dumps(timeout))  # STYLE.md trap 5: exceptions unpickle
    assert type(again) is DownloadTimeout and (str(again), again.kind) == ("timed out after 3s", "timeout")
