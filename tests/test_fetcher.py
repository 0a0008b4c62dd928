"""The fetcher's own filtering of the links it reports (the engine's tests cover the rest)."""

from scrapepool import Request, SiteSpider
from scrapepool._messages import Job
from scrapepool.net.fetcher import Fetcher
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter


def job(req_id, depth):
    return Job(req_id, f"http://127.0.0.1:9/p{req_id}", "GET", None, None, None, {}, depth, 0, None, 0.0)


def fetcher():
    return Fetcher(None, None, None, SiteSpider(), Settings(), DomainFilter(["127.0.0.1:9"]), None)


def test_a_link_sent_once_is_not_sent_again_unless_shallower_or_by_the_same_request():
    f = fetcher()
    link = "http://127.0.0.1:9/target"
    assert f.child(Request(link), set(), job(1, 2)) is not None
    assert f.child(Request(link + "#again"), set(), job(2, 2)) is None  # same depth: the coordinator has it
    assert f.child(Request(link), set(), job(3, 5)) is None  # deeper: nothing to lower
    assert f.child(Request(link), set(), job(4, 0)) is not None  # shallower: its depth may drop
    assert f.child(Request(link), set(), job(4, 0)) is not None  # the same request again (a re-run)
    assert f.child(Request(link, dont_filter=True), set(), job(5, 3)) is not None


def test_offsite_and_non_http_links_are_never_sent():
    f = fetcher()
    assert f.child(Request("http://127.0.0.1:10/x"), set(), job(1, 0)) is None
    assert f.child(Request("mailto:a@b.c"), set(), job(1, 0)) is None


def test_a_link_is_filtered_by_its_request_not_its_spelling():
    """``seen`` and ``sent`` are keyed by what the fingerprint is made of (canonical URL,
    method, body): spellings of one request are one link, another method or body another,
    and the child carries the same fingerprint as before."""
    from scrapepool.urls import canonical, fingerprint

    f = fetcher()
    seen = set()
    a = f.child(Request("http://127.0.0.1:9/l?b=2&a=1"), seen, job(1, 0))
    assert a is not None and a.fp == fingerprint(canonical("http://127.0.0.1:9/l?a=1&b=2"))
    assert f.child(Request("http://127.0.0.1:9/l?a=1&b=2#x"), seen, job(1, 0)) is None
    post = f.child(Request("http://127.0.0.1:9/l?a=1&b=2", method="POST", body=b"q"), seen, job(1, 0))
    assert post is not None and post.fp == fingerprint(canonical(post.url), "POST", b"q")
    url = "http://127.0.0.1:9/l?a=1&b=2"
    assert f.child(Request(url, method="POST", body=b"q"), seen, job(1, 0)) is None
    assert f.child(Request(url, method="POST", body=b"r"), seen, job(1, 0)) is not None


def test_a_page_is_collected_when_its_callback_ends_and_the_gc_thresholds_come_back():
    """The GC is held back while a callback runs, and the page's cyclic garbage is collected
    as soon as it is done (fetcher._collect_after_page); the thresholds are left as they were."""
    import gc
    import weakref

    from scrapepool import Spider
    from scrapepool.net import fetcher as fetcher_module
    from scrapepool.net.downloader import FetchResult

    class Node:
        pass

    seen = {}

    class CycleSpider(Spider):
        def parse(self, response):
            a, b = Node(), Node()
            a.other, b.other = b, a  # a cycle, as a soup's tags and their parents
            seen["ref"] = weakref.ref(a)
            seen["threshold"] = gc.get_threshold()[0]
            yield {"url": response.url}

    class Pipe:
        def __init__(self):
            self.sent = []

        def send(self, msg):
            self.sent.append(msg)

    class Downloader:
        def fetch(self, url, *args, **kwargs):
            return FetchResult(url, 200, {"Content-Type": "text/html"}, b"<html><title>t</title></html>")

    events, records = Pipe(), Pipe()
    f = Fetcher(None, events, records, CycleSpider(), Settings(), DomainFilter(["127.0.0.1:9"]), None)
    before = gc.get_threshold()
    f.handle(job(1, 0), Downloader())
    assert seen["threshold"] >= fetcher_module.CALLBACK_GC_THRESHOLD
    assert gc.get_threshold() == before
    assert seen["ref"]() is None  # collected by the time handle() returns
    assert [r.records for r in records.sent] == [[{"url": "http://127.0.0.1:9/p1"}]]
