"""Malformed URLs at the edges (issue 12): a bad link never loses the page it is on.

Real pages carry hrefs that are not URLs (``http://[::1``, ports out of range,
control characters in a host, port 0). Every link extraction we own skips them
with a debug log and counts them (``response.invalid_links``, the stats key
``invalid_links``); the page's record and its other links are kept.
``response.follow()`` of such a URL raises ValueError, as in Scrapy: a spider
that names a URL itself should hear about it.
"""

import base64
import logging

import pytest

from scrapepool import Request, Spider
from scrapepool.spiders.builtin import page_links
from scrapepool.spiders.http import Response
from scrapepool.spiders.rules import CrawlSpider, LinkExtractor, Rule
from scrapepool.spiders.sitemap import SitemapSpider, sitemap_urls_from_robots
from scrapepool.testing.testserver import Page
from scrapepool.urls import canonical, check_seed_url
from tests.web_sites import CRAWL_SETTINGS, ROBOTS, by_path, page_requests

pytestmark = pytest.mark.timeout(30)

#: hrefs that are not URLs; each would raise, or lead to a request that cannot be made.
BAD_HREFS = [
    "http://[::1",             # an IPv6 bracket never closed: urljoin raises
    "//[::1/x",                # the same, protocol-relative
    "http://127.0.0.1:99999/",  # port out of range
    "http://127.0.0.1:0/x",    # port 0 is not a port one can connect to
    "http://127.0.0.1:-1/",
    "http://bad&#1;host/",     # a control character in the host (lxml keeps it)
    "http://bad host/",        # a space in the host
    "http://a<b/",
    "http://[1.2.3.4]/",       # an IPv4 address in brackets
]
N_BAD = len(BAD_HREFS)


def html_response(url, body, **kw):
    return Response(url, 200, {"Content-Type": "text/html; charset=utf-8"}, body.encode("utf-8"), **kw)


def bad_links():
    return "".join(f'<a href="{h}">bad</a>' for h in BAD_HREFS)


# -- canonical and seeds ------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://[::1", "http://[::1/", "http://h:99999/", "http://h:0/",
                                 "https://h:0", "http://h\x01/", "http://bad host/", "http://a<b/",
                                 "http://a%20b/", "http://[1.2.3.4]/", "http://[::1]x:80/", "http://h:-1/"])
def test_canonical_of_a_malformed_url_is_none(url):
    assert canonical(url) is None


@pytest.mark.parametrize("url, expected", [
    ("http://h/%E0%A4", "http://h/%E0%A4"),           # a valid escape (an invalid UTF-8 sequence) is kept
    ("http://h/caf%E9?q=%E0%A4", "http://h/caf%E9?q=%E0%A4"),
    ("http://h/caf\u00e9", "http://h/caf%C3%A9"),
    ("http://h/a\x02b", "http://h/a%02b"),            # a control character in a path is escaped (WHATWG)
    ("http://ex_ample.com:8080/", "http://ex_ample.com:8080/"),
    ("http://B\u00fccher.de/", "http://xn--bcher-kva.de/"),
    ("http://[::1]:8000/", "http://[::1]:8000/"),
])
def test_canonical_of_valid_urls(url, expected):
    assert canonical(url) == expected


@pytest.mark.parametrize("url", ["http://a<b/", "http://a%20b/", "http://[1.2.3.4]/"])
def test_a_seed_canonical_refuses_is_refused(url):
    assert check_seed_url(url) is not None


# -- extraction, one page -----------------------------------------------------------------------------

def test_page_links_skip_malformed_hrefs_count_them_and_keep_the_rest(caplog):
    response = html_response("http://127.0.0.1:8000/dir/", '<a href="a">a</a>' + bad_links()
                             + '<a href="/b">b</a><a href="mailto:x@y">m</a><a href="irc://h/">i</a>')
    with caplog.at_level(logging.DEBUG, logger="scrapepool"):
        links = page_links(response)

    assert list(links) == ["http://127.0.0.1:8000/dir/a", "http://127.0.0.1:8000/b"]
    assert response.invalid_links == N_BAD  # mailto: and irc: are not http, not malformed
    assert sum("invalid link" in r.getMessage() for r in caplog.records) == N_BAD


def test_a_link_with_three_slashes_names_a_host_as_in_browsers():
    response = html_response("http://127.0.0.1:8000/dir/page", '<a href="///other:81/p">1</a>'
                             '<a href="http:///other/q">2</a><a href="\\\\other/r">3</a><a href="//ok/s">4</a>')
    assert list(page_links(response).values()) == [
        "http://other:81/p", "http://other/q", "http://other/r", "http://ok/s"]


def test_link_extractor_skips_malformed_links_and_counts_them():
    response = html_response("http://127.0.0.1:8000/", '<a href="/item/1">1</a>' + bad_links()
                             + '<a href="/item/2">2</a>')
    links = LinkExtractor().extract_links(response)

    assert [link.url for link in links] == ["http://127.0.0.1:8000/item/1", "http://127.0.0.1:8000/item/2"]
    assert response.invalid_links == N_BAD


def test_a_malformed_base_href_is_ignored():
    response = html_response("http://127.0.0.1:8000/dir/page", '<base href="http://[::1"><a href="x">x</a>')
    assert list(page_links(response)) == ["http://127.0.0.1:8000/dir/x"]
    response = html_response("http://127.0.0.1:8000/dir/page", '<base href="http://h:0/"><a href="x">x</a>')
    assert response.urljoin("x") == "http://127.0.0.1:8000/dir/x"


@pytest.mark.parametrize("href", ["http://[::1", "http://h:99999/", "http://h:0/", "http://a b/",
                                  "//[::1/x"])
def test_follow_of_a_malformed_url_raises_value_error(href):
    response = html_response("http://127.0.0.1:8000/", "<p>x</p>")
    with pytest.raises(ValueError):
        response.follow(href)


def test_follow_of_a_good_or_non_http_url_does_not_raise():
    response = html_response("http://127.0.0.1:8000/", "<p>x</p>")
    # Percent-encoded as Scrapy's Request holds it (safe_url_string); the same page either way.
    assert response.follow("/a b").url == "http://127.0.0.1:8000/a%20b"
    assert response.follow("mailto:x@y").url == "mailto:x@y"  # not followed later, not an error


def test_sitemap_urls_from_robots_skip_malformed_lines():
    text = "Sitemap: http://[::1\nSitemap: /good.xml\nSitemap: http://h:0/s.xml\n"
    assert sitemap_urls_from_robots(text, base_url="http://127.0.0.1:8000/robots.txt") == [
        "http://127.0.0.1:8000/good.xml"]


# -- crawls ------------------------------------------------------------------------------------------

@CRAWL_SETTINGS
def test_the_site_spider_keeps_a_page_with_malformed_links(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS,
            "/": '<title>Home</title><a href="/a">a</a>' + bad_links() + '<a href="/b">b</a>',
            "/a": "<title>A</title>" + bad_links(), "/b": "<title>B</title>"}
    server = site_server(site)
    # any port of 127.0.0.1 allowed: a link to port 0 would be requested if it were not refused
    result = crawl_spider(None, server, allowed_domains=["127.0.0.1"])
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert sorted(recs) == ["/", "/a", "/b"]
    assert (recs["/"]["title"], recs["/"]["links"], recs["/"]["error"]) == ("Home", 2, None)
    assert recs["/a"]["title"] == "A" and recs["/a"]["links"] == 0
    assert sorted(page_requests(server)) == ["/", "/a", "/b"]
    assert stats["invalid_links"] == 2 * N_BAD
    assert stats["spider_errors"] == 0 and stats["errors"] == {}


class RulesSpider(CrawlSpider):
    name = "rules-with-bad-links"
    rules = [Rule(LinkExtractor(allow=r"/item/"), callback="parse_item"), Rule(allow=r"/list")]

    def parse_item(self, response):
        yield {"item": response.url}


def test_crawl_spider_rules_keep_a_page_with_malformed_links(crawl_spider):
    site = {"/": '<a href="/item/1">1</a>' + bad_links() + '<a href="/list2">l</a>',
            "/list2": bad_links() + '<a href="/item/2">2</a>',
            "/item/1": "<p>1</p>", "/item/2": "<p>2</p>"}
    result = crawl_spider(RulesSpider, site, start_method="fork", allowed_domains=["127.0.0.1"])

    assert sorted(r["item"] for r in result.records) == [result.url + "/item/1", result.url + "/item/2"]
    assert sorted(p for _, p in result.requests) == ["/", "/item/1", "/item/2", "/list2"]
    assert result.stats["invalid_links"] == 2 * N_BAD
    assert result.stats["spider_errors"] == 0


class PagesOfSitemap(SitemapSpider):
    name = "sitemap-with-bad-locs"

    def parse(self, response):
        yield {"url": response.url}


def sitemap(*locs):
    urls = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return Page(f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}'
                "</urlset>", content_type="application/xml")


def test_a_sitemap_with_malformed_locs_keeps_its_good_ones(crawl_spider, site_server):
    bad = ["http://[::1", "http://127.0.0.1:0/x", "http://127.0.0.1:99999/y"]
    site = {"/robots.txt": Page("Sitemap: http://[::1\nSitemap: /sitemap.xml\n", content_type="text/plain"),
            "/sitemap.xml": sitemap(bad[0], "/p1", *bad[1:], "/p2"),
            "/p1": "<p>1</p>", "/p2": "<p>2</p>"}
    server = site_server(site)
    result = crawl_spider(PagesOfSitemap, server, start=[], start_method="fork", allowed_domains=["127.0.0.1"],
                          spider_kwargs={"sitemap_urls": server.url + "/robots.txt"})

    assert sorted(r["url"] for r in result.records) == [server.url + "/p1", server.url + "/p2"]
    assert sorted(p for _, p in result.requests) == ["/p1", "/p2", "/robots.txt", "/sitemap.xml"]
    assert result.stats["invalid_links"] == 1 + len(bad)
    assert result.stats["spider_errors"] == 0


@CRAWL_SETTINGS
def test_percent_escapes_and_non_ascii_links_reach_the_server_escaped_once(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS,
            "/": '<a href="/e/%E0%A4">1</a><a href="/e/caf\u00e9?q=\u00e9">2</a><a href="/e/caf%E9">3</a>'
                 '<a href="/e/a%2Fb">4</a><a href="/e/sp ace">5</a>'}
    server = site_server(site)
    result = crawl_spider(None, server)
    stats = result.stats

    assert sorted(page_requests(server)) == sorted(
        ["/", "/e/%E0%A4", "/e/caf%C3%A9?q=%C3%A9", "/e/caf%E9", "/e/a%2Fb", "/e/sp%20ace"])
    assert stats["invalid_links"] == 0


# -- credentials in a URL -----------------------------------------------------------------------------

class Echo(Spider):
    name = "echo-auth"

    def parse(self, response):
        yield {"url": response.request_url, "final_url": response.url, "text": response.text}


def test_credentials_in_a_seed_become_basic_auth_and_leave_the_url(crawl_spider, site_server):
    def auth(info):
        return Page(info.headers.get("Authorization") or "none", content_type="text/plain")

    server = site_server({"/": auth, "/r": Page("", status=302, headers={"Location": "/"})})
    url = server.url.replace("http://", "http://us%40er:p%3Aw@") + "/r"
    result = crawl_spider(Echo, server, start=url, start_method="fork")

    expected = "Basic " + base64.b64encode(b"us@er:p:w").decode()
    assert result.records == [{"url": server.url + "/r", "final_url": server.url + "/", "text": expected}]


def test_a_request_url_with_credentials():
    req = Request("http://user:pw@127.0.0.1:8000/a@b?x=@")
    assert req.url == "http://127.0.0.1:8000/a@b?x=@"
    assert req.headers == {"Authorization": "Basic " + base64.b64encode(b"user:pw").decode()}
    # the spider's own header wins
    req = Request("http://user:pw@h/", headers={"authorization": "Bearer t"})
    assert req.url == "http://h/" and req.headers == {"authorization": "Bearer t"}
    assert Request("http://h/a@b").headers is None
