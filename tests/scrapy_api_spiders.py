"""Spiders written as Scrapy spiders are, for tests/test_scrapy_api.py (issue 16).

At module level: spawned fetchers import them as ``tests.scrapy_api_spiders:Name``.
"""

from scrapepool import CloseSpider, Request, Spider
from tests.fault_spiders import ClosesOnStop


def _path(url):
    return "/" + url.split("/", 3)[3]


class StatusSpider(Spider):
    """handle_httpstatus_list on the spider, overridden by the request's meta
    (Scrapy: tests/test_spidermiddleware_httperror.py, tests/test_downloadermiddleware_redirect.py)."""

    handle_httpstatus_list = [404]
    base = ""

    def start_requests(self):
        b = self.base
        yield Request(b + "/ok", errback=self.on_error)
        yield Request(b + "/missing", errback=self.on_error)                   # 404: the spider's list
        yield Request(b + "/gone", errback=self.on_error)                      # 410: listed nowhere
        yield Request(b + "/teapot", errback=self.on_error, meta={"handle_httpstatus_list": [418]})
        # meta's list overrides the spider's: this 404 is not handled
        yield Request(b + "/missing-too", errback=self.on_error, meta={"handle_httpstatus_list": [418]})
        yield Request(b + "/forbidden", errback=self.on_error, meta={"handle_httpstatus_all": True})
        yield Request(b + "/forbidden-too", errback=self.on_error, meta={"handle_httpstatus_all": False})
        # a listed redirect status is not followed: the callback gets the 301
        yield Request(b + "/moved", errback=self.on_error, meta={"handle_httpstatus_list": [301]})
        yield Request(b + "/moved-followed", errback=self.on_error)
        yield Request(b + "/no-errback")                                       # 410, no errback

    def parse(self, response):
        yield {"path": _path(response.request_url), "status": response.status, "via": "callback",
               "location": response.headers.get("Location")}

    def on_error(self, failure):
        yield {"path": _path(failure["url"]), "status": failure["status"], "via": "errback"}

    def error_record(self, failure):
        return {"path": _path(failure["url"]), "status": failure["status"], "via": "error_record"}


class AllStatusSpider(Spider):
    """handle_httpstatus_all on the spider (Scrapy's HTTPERROR_ALLOW_ALL), which a request's
    meta handle_httpstatus_list overrides (TestHttpErrorMiddlewareHandleAll.test_meta_overrides_settings)."""

    handle_httpstatus_all = True
    base = ""

    def start_requests(self):
        yield Request(self.base + "/missing")
        yield Request(self.base + "/gone", meta={"handle_httpstatus_list": [404]})

    def parse(self, response):
        yield {"path": _path(response.request_url), "status": response.status, "via": "callback"}

    def error_record(self, failure):
        return {"path": _path(failure["url"]), "status": failure["status"], "via": "error_record"}


class ClosedSpider(ClosesOnStop):
    """Appends the reason of every closed() call to ``closed_file``; raises CloseSpider on a
    page whose path contains 'stop'; closed() raises when ``closed_raises`` is set."""

    closed_file = ""
    closed_raises = ""

    def closed(self, reason):
        with open(self.closed_file, "a") as f:
            f.write(f"{reason}\n")
        if self.closed_raises:
            raise RuntimeError(self.closed_raises)


class CbKwargsSpider(Spider):
    """Modelled on Scrapy's KeywordArgumentsSpider (tests/test_request_cb_kwargs.py)."""

    base = ""

    def start_requests(self):
        b = self.base
        data = {"key": "value", "number": 123, "callback": "some_callback"}
        yield Request(b + "/first", self.parse_first, cb_kwargs=data)
        yield Request(b + "/general_with", self.parse_general, cb_kwargs=data)
        yield Request(b + "/general_without", self.parse_general)
        yield Request(b + "/no_kwargs", self.parse_no_kwargs)
        # (Scrapy's test passes ``data`` here too, which makes parse_default raise TypeError:
        # its checks are then never made. Without "callback" the defaults are exercised.)
        yield Request(b + "/default", self.parse_default, cb_kwargs={"key": "value", "number": 123})
        yield Request(b + "/takes_less", self.parse_takes_less, cb_kwargs=data)
        yield Request(b + "/takes_more", self.parse_takes_more, cb_kwargs=data)
        # through a redirect hop, and to an errback's failure
        yield Request(b + "/redirected", self.parse_general, cb_kwargs={"hop": True})
        yield Request(b + "/missing", self.parse_general, errback=self.on_error, cb_kwargs={"why": "gone"},
                      meta={"m": 1})

    def parse_first(self, response, key, number, callback):
        yield {"page": "first", "key": key, "number": number, "callback": callback,
               "meta_keys": sorted(response.meta)}
        yield response.follow("/second", self.parse_second, cb_kwargs={"new_key": "new_value"},
                              meta={"m": 2})

    def parse_second(self, response, new_key):
        yield {"page": "second", "new_key": new_key, "cb_kwargs": response.cb_kwargs,
               "meta": response.meta}

    def parse_general(self, response, **kwargs):
        yield {"page": _path(response.request_url), "kwargs": kwargs}

    def parse_no_kwargs(self, response):
        yield {"page": "no_kwargs", "cb_kwargs": response.cb_kwargs}

    def parse_default(self, response, key, number=None, default=99):
        yield {"page": "default", "key": key, "number": number, "default": default}

    def parse_takes_less(self, response, key, callback):
        """Raises TypeError: unexpected keyword argument 'number'."""
        yield {"page": "takes_less"}

    def parse_takes_more(self, response, key, number, callback, other):
        """Raises TypeError: missing 'other'."""
        yield {"page": "takes_more"}

    def on_error(self, failure):
        yield {"page": "on_error", "cb_kwargs": failure["cb_kwargs"], "meta": failure["meta"]}


class PausesWithCbKwargs(Spider):
    """The seed yields two requests with cb_kwargs, then closes the crawl: they wait in the
    job directory, and the resumed crawl's callbacks get their cb_kwargs from there."""

    def parse(self, response):
        yield response.follow("/a", self.parse_child, cb_kwargs={"n": 1, "tags": ["x"]})
        yield response.follow("/b", self.parse_child, cb_kwargs={"n": 2, "tags": []})
        raise CloseSpider("pause")

    def parse_child(self, response, n, tags):
        yield {"path": _path(response.url), "n": n, "tags": tags}


class ShapesStartUrls(Spider):
    """start_requests() over start_urls (the seeds join them): a header and a callback of its own."""

    def start_requests(self):
        for url in self.start_urls:
            yield Request(url, headers={"X-Shaped": "yes"}, callback="shaped")

    def shaped(self, response):
        # The test's pages answer with the X-Shaped header they got as their title.
        yield {"url": response.url, "via": "shaped", "header": response.soup.title.get_text()}


class ErrbackSpider(Spider):
    """Errbacks get a Failure as Scrapy's documentation uses it (docs/topics/request-response.rst,
    "Using errbacks to catch exceptions in request processing"): ``failure.check(HttpError)``,
    ``failure.value.response``, ``failure.request``; and still the dict of before."""

    base = ""
    dead = ""  # a URL on a port nothing listens on

    def start_requests(self):
        yield Request(self.base + "/missing", errback=self.on_error, cb_kwargs={"why": "gone"},
                      meta={"m": 1})
        yield Request(self.dead + "/nothing", errback=self.on_error)

    def parse(self, response):
        yield {"url": response.url, "via": "callback"}

    def on_error(self, failure):
        from scrapepool import Failure, HttpError

        response = failure.value.response if failure.check(HttpError) else None
        yield {
            "via": "errback",
            "is_failure": isinstance(failure, Failure) and isinstance(failure, dict),
            "url": failure["url"], "status": failure["status"], "kind": failure["kind"],
            "check_http": getattr(failure.check(HttpError), "__name__", None),
            "check_timeout": getattr(failure.check(TimeoutError), "__name__", None),
            "check_conn": getattr(failure.check(ConnectionError), "__name__", None),
            "check_first": getattr(failure.check(KeyError, ConnectionError, HttpError), "__name__", None),
            "value_type": type(failure.value).__name__,
            "value_has_response": hasattr(failure.value, "response"),
            "response_status": response.status if response is not None else None,
            "response_url": response.url if response is not None else None,
            "response_body": response.text if response is not None else None,
            "request_url": failure.request.url,
            "request_cb_kwargs": failure.request.cb_kwargs,
            "request_meta_m": failure.request.meta.get("m"),
            "request_errback": failure.request.errback,
            "message": failure.getErrorMessage(),
            "has_response_attr": hasattr(failure, "response"),
        }
