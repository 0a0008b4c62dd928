"""Redirects at the edges (issue 12): malformed Locations, credentials, POST into GET, raw header bytes.

A ``Location`` is whatever a server sends: bytes in UTF-8 or latin-1, three
slashes, a URL that does not parse. None of it may raise out of the fetcher
(a dead fetcher thread hangs the crawl); and a redirect to another origin must
not carry the request's credentials there, as Scrapy's RedirectMiddleware and
browsers behave.
"""

import threading

import pytest

from scrapepool import Request, Spider
from scrapepool.net.downloader import redirect_request
from scrapepool.testing.testserver import Page
from scrapepool.urls import InvalidURL, location_url
from tests.web_sites import CRAWL_SETTINGS, ROBOTS, by_path, head, page_requests, raw_serve, respond  # noqa: F401

pytestmark = pytest.mark.timeout(30)

BAD_LOCATIONS = ["http://[::1", "//[::1/x", "http://127.0.0.1:0/x", "http://127.0.0.1:99999/",
                 "http://bad host/"]


def redirect(location, status=302):
    return Page("", status=status, headers={"Location": location})


# -- malformed Locations ------------------------------------------------------------------------------

@pytest.mark.timeout(20)
@CRAWL_SETTINGS
def test_a_malformed_location_ends_the_request_with_an_error_record(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS, "/ok": "<title>ok</title>"}
    links = []
    for i, location in enumerate(BAD_LOCATIONS):
        site[f"/r{i}"] = redirect(location, 301 + i % 2)
        links.append(f'<a href="/r{i}">r</a>')
    site["/"] = "".join(links) + '<a href="/ok">ok</a>'
    server = site_server(site)
    result = crawl_spider(None, server, allowed_domains=["127.0.0.1"])
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert sorted(recs) == sorted(["/", "/ok"] + [f"/r{i}" for i in range(len(BAD_LOCATIONS))])
    assert recs["/ok"]["title"] == "ok"
    for i, location in enumerate(BAD_LOCATIONS):
        r = recs[f"/r{i}"]
        assert r["status"] == 301 + i % 2 and "invalid redirect" in r["error"], r
        assert r["final_url"] == server.url + f"/r{i}"
        assert server.count(f"/r{i}") == 1  # not retried
    assert stats["errors"] == {"invalid_redirect": len(BAD_LOCATIONS)}
    assert stats["finish_reason"] == "finished"


@pytest.mark.timeout(20)
@CRAWL_SETTINGS
def test_a_malformed_redirect_of_robots_txt_allows_all_and_the_crawl_ends(site_server, crawl_spider):
    site = {"/robots.txt": redirect("http://[::1"), "/": '<a href="/a">a</a>', "/a": "<title>A</title>"}
    server = site_server(site)
    result = crawl_spider(None, server, robots=True)
    stats, records = result.stats, result.records

    assert sorted(by_path(records)) == ["/", "/a"]
    assert server.count("/robots.txt") == 1 and server.count("/a") == 1
    assert stats["finish_reason"] == "finished"


@pytest.mark.parametrize("location", BAD_LOCATIONS + ["http://h:-1/", "http://a<b/"])
def test_location_url_of_a_malformed_location_raises_invalid_url(location):
    with pytest.raises(InvalidURL):
        location_url("http://127.0.0.1:8000/a/b", location)


# -- Location as servers send it ----------------------------------------------------------------------

@pytest.mark.parametrize("location, expected", [
    ("/caf\u00c3\u00a9", "http://h:8000/caf%C3%A9"),        # UTF-8 bytes, as http.client hands them over
    ("/caf\u00e9", "http://h:8000/caf%E9"),                 # latin-1 bytes, not valid UTF-8
    ("/x%E0%A4?q=%C3%A9", "http://h:8000/x%E0%A4?q=%C3%A9"),  # escapes are kept, not escaped again
    ("/a b", "http://h:8000/a%20b"),
    ("///other:81/p", "http://other:81/p"),                 # as browsers and Scrapy read it
    ("////other/p", "http://other/p"),
    ("\\\\other/p", "http://other/p"),
    ("http:///other/p", "http://other/p"),
    ("https:////other/p", "https://other/p"),
    ("//other/p", "http://other/p"),
    ("next?a=1", "http://h:8000/dir/next?a=1"),
    ("  /spaced  ", "http://h:8000/spaced"),
])
def test_location_url(location, expected):
    assert location_url("http://h:8000/dir/page", location) == expected


def redirect_raw(location):
    """A 302 whose Location is written byte for byte (``location`` as latin-1 text, or a callable of the server)."""
    def handler(conn, server):
        value = location(server) if callable(location) else location
        conn.sendall(head(302, [("Location", value)], length=0))
    return handler


@CRAWL_SETTINGS
def test_location_bytes_are_read_as_browsers_read_them(raw_serve, crawl_spider):
    target = respond("<title>landed</title>")
    routes = {
        "/u8": redirect_raw("/caf\u00c3\u00a9"),     # the bytes C3 A9: UTF-8 for e-acute
        "/l1": redirect_raw("/caf\u00e9?q=\u00e9"),  # the byte E9: latin-1, not UTF-8
        "/pct": redirect_raw("/x%E0%A4"),
        "/triple": redirect_raw(lambda server: f"///127.0.0.1:{server.port}/t"),
        "/caf%C3%A9": target, "/caf%E9": target, "/x%E0%A4": target, "/t": target,
    }
    routes["/"] = respond("".join(f'<a href="{p}">x</a>' for p in ("/u8", "/l1", "/pct", "/triple")))
    server = raw_serve(routes)
    result = crawl_spider(None, site=None, start=server.url + "/")
    records = result.records

    recs = by_path(records)
    landed = {"/u8": "/caf%C3%A9", "/l1": "/caf%E9?q=%E9", "/pct": "/x%E0%A4", "/triple": "/t"}
    for src, dst in landed.items():
        assert recs[src]["final_url"] == server.url + dst
        assert (recs[src]["status"], recs[src]["title"]) == (200, "landed"), recs[src]
    with server.lock:
        paths = [p for _, p in server.requests]
    assert sorted(paths) == sorted(["/", "/robots.txt", *landed, *landed.values()])


# -- the next hop's request ---------------------------------------------------------------------------

SECRETS = {"Authorization": "Bearer s3cret", "proxy-authorization": "Basic cHJveHk6cHc=", "Cookie": "sid=1"}
BODY_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": "3",
                "content-encoding": "identity", "Content-Language": "en", "Content-Location": "/form"}


@pytest.mark.parametrize("status, method, becomes", [
    (301, "POST", "GET"), (302, "POST", "GET"), (303, "POST", "GET"), (303, "PUT", "GET"),
    (307, "POST", "POST"), (308, "POST", "POST"), (301, "PUT", "PUT"), (303, "HEAD", "HEAD"),
    (302, "GET", "GET"),
])
def test_redirect_request_method_body_and_body_headers(status, method, becomes):
    headers = {**BODY_HEADERS, "X-Keep": "1"}
    url, new_method, new_headers, body = redirect_request(status, method, headers, b"x=1",
                                                          "http://h/form", "http://h/next")
    assert (url, new_method) == ("http://h/next", becomes)
    if becomes == method:
        assert (new_headers, body) == (headers, b"x=1")
    else:
        assert (new_headers, body) == ({"X-Keep": "1"}, None)
    assert headers == {**BODY_HEADERS, "X-Keep": "1"}  # the caller's dict is left alone


@pytest.mark.parametrize("to_url, kept", [
    ("http://h/next", True),
    ("http://H:80/next", True),             # the same origin, spelled otherwise
    ("http://h:8080/next", False),          # another port
    ("https://h/next", False),              # another scheme
    ("http://other/next", False),           # another host
    ("http://sub.h/next", False),
])
def test_redirect_request_drops_credentials_on_another_origin(to_url, kept):
    headers = {**SECRETS, "Accept": "text/html"}
    _, _, new_headers, _ = redirect_request(302, "GET", headers, None, "http://h/start", to_url)
    assert new_headers == (headers if kept else {"Accept": "text/html"})


def test_redirect_request_takes_credentials_out_of_the_url():
    url, _, headers, _ = redirect_request(302, "GET", {"Authorization": "Bearer s3cret"}, None,
                                          "http://h/a", "http://u:p%40w@other/x")
    assert url == "http://other/x"
    assert headers == {"Authorization": "Basic dTpwQHc="}  # base64 of u:p@w; the Bearer token is gone


class SendsSecrets(Spider):
    """Requests /cross (a redirect to another origin) and /same (one on this origin) with credentials,
    and POSTs a form with all its body headers to /p302, /p303 and /p307."""

    name = "sends-secrets"

    def parse(self, response):
        for path in ("/cross", "/same"):
            yield Request(response.urljoin(path), headers=SECRETS, callback=self.landed)
        for path in ("/p302", "/p303", "/p307"):
            yield Request(response.urljoin(path), method="POST", body=b"x=1", headers=BODY_HEADERS,
                          callback=self.landed)

    def landed(self, response):
        yield {"url": response.request_url, "final_url": response.url}


class Recorder:
    """Pages that record the method, headers and body of every request they get."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}

    def page(self, name):
        def serve(info):
            with self.lock:
                self.seen.setdefault(name, []).append(
                    (info.method, {k.lower(): v for k, v in info.headers.items()}, info.body))
            return "<p>landed</p>"
        return serve


@CRAWL_SETTINGS
def test_credentials_do_not_follow_a_redirect_to_another_origin(site_server, crawl_spider):
    rec = Recorder()
    other = site_server({"/robots.txt": ROBOTS, "/land": rec.page("other")})
    site = {"/robots.txt": ROBOTS, "/": "<p>home</p>",
            "/cross": redirect(f"{other.url}/land"), "/same": redirect("/land-same", 307),
            "/land-same": rec.page("same")}
    server = site_server(site)
    # without cookies, a request's Cookie header is sent as it is: the redirect must drop it itself
    result = crawl_spider(SendsSecrets, server, allowed_domains=["127.0.0.1"], cookies=False, timeout=3,
                          retries=0)
    records = result.records

    landed = {r["url"].rsplit("/", 1)[1]: r["final_url"] for r in records}
    assert landed["cross"] == other.url + "/land" and landed["same"] == server.url + "/land-same"
    [(_, other_headers, _)] = rec.seen["other"]
    [(_, same_headers, _)] = rec.seen["same"]
    for name, value in SECRETS.items():
        assert name.lower() not in other_headers
        assert same_headers[name.lower()] == value


@CRAWL_SETTINGS
def test_a_post_redirected_into_a_get_leaves_its_body_and_body_headers(site_server, crawl_spider):
    rec = Recorder()
    site = {"/robots.txt": ROBOTS, "/": "<p>home</p>", "/cross": "<p>c</p>", "/same": "<p>s</p>",
            "/p302": redirect("/t302", 302), "/p303": redirect("/t303", 303), "/p307": redirect("/t307", 307),
            "/t302": rec.page("302"), "/t303": rec.page("303"), "/t307": rec.page("307")}
    server = site_server(site)
    result = crawl_spider(SendsSecrets, server, timeout=3, retries=0)
    stats = result.stats

    assert stats["errors"] == {}
    for status in ("302", "303"):
        [(method, headers, body)] = rec.seen[status]
        assert (method, body) == ("GET", b"")
        assert not {h.lower() for h in BODY_HEADERS} & set(headers), headers
    [(method, headers, body)] = rec.seen["307"]
    assert (method, body, headers["content-type"]) == ("POST", b"x=1", BODY_HEADERS["Content-Type"])
    assert headers["content-language"] == "en"


class EchoAuth(Spider):
    name = "echo-auth-redirect"

    def parse(self, response):
        yield {"url": response.request_url, "final_url": response.url, "text": response.text}


def test_credentials_in_a_location_become_basic_auth_and_leave_the_url(crawl_spider, site_server):
    def auth(info):
        return Page(info.headers.get("Authorization") or "none", content_type="text/plain")

    server = site_server({"/a": auth})
    server.site["/r"] = redirect(server.url.replace("http://", "http://u:p%40w@") + "/a")
    result = crawl_spider(EchoAuth, server, start="/r", start_method="fork")

    assert result.records == [{"url": server.url + "/r", "final_url": server.url + "/a",
                               "text": "Basic dTpwQHc="}]
