"""HttpCache: the on-disk format, keys, expiry, atomic writes; and a crawl served from it."""

import json
import os
import threading

import pytest
from requests.structures import CaseInsensitiveDict

from scrapepool._messages import Job
from scrapepool.net.downloader import FetchResult
from scrapepool.net.httpcache import HttpCache
from scrapepool.testing.pytest_plugin import crawl_site

BODY = b"<html><head><title>T</title></head><body>" + bytes(range(256)) + b"\n\r\n</body></html>"


def job(url="http://example.com/a", method="GET", body=None, kind=0):
    return Job(1, url, method, None, body, None, {}, 0, 0, None, 0.0, kind)


def result(body=BODY, status=200, final_url="http://example.com/a", chain=(), headers=None):
    h = CaseInsensitiveDict(headers or {"Content-Type": "text/html; charset=utf-8", "X-Thing": "a\nb"})
    return FetchResult(final_url, status, h, body, chain=chain, started=123.0)


def test_round_trip_keeps_every_field(tmp_path):
    cache = HttpCache(tmp_path / "c")
    assert cache.get(job()) is None
    chain = ["http://example.com/b", "http://example.com/c"]
    cache.put(job(), result(final_url="http://example.com/c", status=203, chain=chain))
    got = cache.get(job())
    assert isinstance(got, FetchResult)
    assert (got.final_url, got.status, got.body, got.chain) == ("http://example.com/c", 203, BODY, chain)
    assert got.error is None and got.kind is None and got.retries == 0
    assert got.headers["content-type"] == "text/html; charset=utf-8"  # case-insensitive, as requests'
    assert got.headers["X-Thing"] == "a\nb"


def test_key_is_the_canonical_url(tmp_path):
    cache = HttpCache(tmp_path)
    cache.put(job("http://Example.com:80/a?b=2&a=1#frag"), result())
    assert cache.get(job("http://example.com/a?a=1&b=2")).body == BODY
    assert cache.get(job("http://example.com/a?a=1")) is None


def test_method_and_body_are_part_of_the_key(tmp_path):
    cache = HttpCache(tmp_path)
    cache.put(job(method="POST", body=b"q=1"), result(body=b"one"))
    cache.put(job(method="POST", body=b"q=2"), result(body=b"two"))
    cache.put(job(), result(body=b"get"))
    assert cache.get(job(method="POST", body=b"q=1")).body == b"one"
    assert cache.get(job(method="POST", body=b"q=2")).body == b"two"
    assert cache.get(job()).body == b"get"
    assert cache.get(job(method="POST")) is None
    assert cache.get(job(method="HEAD")) is None
    assert len({HttpCache.key("GET", "http://x/"), HttpCache.key("POST", "http://x/"),
                HttpCache.key("POST", "http://x/", b"1")}) == 3


def test_file_layout_is_json_then_raw_body(tmp_path):
    cache = HttpCache(tmp_path)
    cache.put(job(), result())
    path = cache.path("GET", "http://example.com/a")
    assert os.path.dirname(path) == str(tmp_path / os.path.basename(path)[:2])
    assert len(os.path.basename(path)) == 40
    with open(path, "rb") as f:
        meta = json.loads(f.readline())
        assert f.read() == BODY
    assert meta["method"] == "GET" and meta["url"] == "http://example.com/a"
    assert meta["status"] == 200 and meta["size"] == len(BODY)
    assert ["X-Thing", "a\nb"] in meta["headers"]
    assert isinstance(meta["time"], float)
    assert os.listdir(os.path.dirname(path)) == [os.path.basename(path)]  # no temp file left


def test_expire(tmp_path):
    cache = HttpCache(tmp_path, expire=60)
    cache.put(job(), result())
    assert cache.get(job()) is not None
    path = cache.path("GET", "http://example.com/a")
    with open(path, "rb") as f:
        meta = json.loads(f.readline())
        body = f.read()
    meta["time"] -= 61  # stored a minute ago
    with open(path, "wb") as f:
        f.write(json.dumps(meta).encode() + b"\n" + body)
    assert cache.get(job()) is None
    assert HttpCache(tmp_path).get(job()) is not None  # no expiry: still there
    assert HttpCache(tmp_path, expire=120).get(job()) is not None
    cache.put(job(), result(body=b"fresh"))  # fetched again: overwritten
    assert cache.get(job()).body == b"fresh"


def test_transient_statuses_are_not_stored(tmp_path):
    cache = HttpCache(tmp_path)
    for status in (429, 500, 503):
        cache.put(job(), result(status=status))
        assert cache.get(job()) is None
    cache.put(job(), FetchResult("http://example.com/a", None, error="connection error", kind="connection"))
    assert cache.get(job()) is None
    cache.put(job(), result(status=404))
    assert cache.get(job()).status == 404


def test_damaged_entries_are_misses(tmp_path):
    cache = HttpCache(tmp_path)
    cache.put(job(), result())
    path = cache.path("GET", "http://example.com/a")
    with open(path, "rb") as f:
        data = f.read()
    for damaged in (b"", data[:10], data[:-1], b"\x80(pickle?)\n" + BODY):
        with open(path, "wb") as f:
            f.write(damaged)
        assert cache.get(job()) is None


def test_unwritable_cache_does_not_raise(tmp_path, caplog):
    cache = HttpCache(tmp_path / "c")
    blocker = tmp_path / "c" / HttpCache.key("GET", "http://example.com/a")[:2]
    blocker.write_text("a file where the folder should be")
    cache.put(job(), result())  # logged, not raised: a fetcher thread must survive it
    cache.put(job(), result())
    assert cache.get(job()) is None
    assert len([r for r in caplog.records if "cannot be written" in r.getMessage()]) == 1


def test_concurrent_overwrites_are_atomic(tmp_path):
    """Threads rewrite one entry with different bodies while others read: every read is whole."""
    cache = HttpCache(tmp_path)
    bodies = [bytes([65 + i]) * (20000 + i * 997) for i in range(4)]
    cache.put(job(), result(body=bodies[0]))
    bad, stop = [], threading.Event()

    def writer(body):
        for _ in range(150):
            cache.put(job(), result(body=body))

    def reader():
        other = HttpCache(tmp_path)  # as another process would
        while not stop.is_set():
            got = other.get(job())
            if got is None or got.body not in bodies:
                bad.append(got)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(b,)) for b in bodies]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(30)
    stop.set()
    for t in readers:
        t.join(30)
    assert bad == []
    assert cache.get(job()).body in bodies
    folder = os.path.dirname(cache.path("GET", "http://example.com/a"))
    assert len(os.listdir(folder)) == 1  # temp files all renamed


# -- a crawl served from the cache --------------------------------------------------------

HTML = "text/html; charset=utf-8"


def serve_site(httpserver):
    """robots.txt, three pages, a redirect and a 404; /private/x (refused by robots.txt) has no handler."""
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private\n")
    httpserver.expect_request("/").respond_with_data(
        '<title>Home</title><a href="/a">a</a> <a href="/moved">moved</a> <a href="/gone">gone</a>'
        ' <a href="/private/x">private</a>', content_type=HTML)
    httpserver.expect_request("/a").respond_with_data('<title>A</title><a href="/b?y=2&x=1">b</a>',
                                                      content_type=HTML)
    httpserver.expect_request("/b").respond_with_data("<title>B</title>", content_type=HTML)  # any query
    httpserver.expect_request("/moved").respond_with_data(status=301, headers={"Location": "/b?x=1&y=2&r=1"})
    httpserver.expect_request("/gone").respond_with_data("<title>Not here</title>", status=404,
                                                         content_type=HTML)


def _key(record):
    return json.dumps(record, sort_keys=True)


@pytest.mark.timeout(60)
def test_rerun_is_served_from_the_cache(httpserver, tmp_path):
    serve_site(httpserver)
    cache = str(tmp_path / "cache")
    first = crawl_site(None, server=httpserver, robots=True, http_cache=cache)
    assert first.count("/robots.txt") == 1 and first.count("/moved") == 1 and first.count("/gone") == 1
    assert first.count("/private/x") == 0  # refused by robots.txt, so never cached either
    assert {r["url"].rsplit("/", 1)[1]: r["status"] for r in first.records} == {
        "": 200, "a": 200, "b?y=2&x=1": 200, "moved": 200, "gone": 404}
    assert first.stats["robots_refused"] == 1
    fetched = sorted((request.method, request.full_path) for request, _ in httpserver.log)

    httpserver.clear_log()
    second = crawl_site(None, server=httpserver, robots=True, http_cache=cache)
    assert httpserver.log == []  # not one request: robots.txt, the redirect and the 404 included
    assert sorted(map(_key, second.records)) == sorted(map(_key, first.records))
    assert second.stats["robots_refused"] == 1 and second.stats["pages"] == first.stats["pages"]

    third = crawl_site(None, server=httpserver, robots=True, http_cache=cache, http_cache_expire=1e-6)
    assert sorted((request.method, request.full_path) for request, _ in httpserver.log) == fetched
    assert sorted(map(_key, third.records)) == sorted(map(_key, first.records))  # everything fetched again
    httpserver.check_assertions()  # no request found no handler
