"""Sitemaps (issue 7): parsing (safely), gzip with a size cap, robots.txt discovery, and
SitemapSpider crawls through the real engine."""

import gzip

import pytest

from scrapepool import Request, Response
from scrapepool.spiders.sitemap import (
    Sitemap,
    SitemapSpider,
    SitemapTooLarge,
    gunzip,
    sitemap_urls_from_robots,
)
from tests.real_world_sites import CRAWL_SETTINGS, SitemapSite
from tests.real_world_spiders import ShopSitemapSpider

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url><loc> http://s.example/a </loc><lastmod>2024-01-01</lastmod><changefreq>daily</changefreq>
    <xhtml:link rel="alternate" hreflang="fr" href="http://s.example/fr/a"/>
    <image:image><image:loc>http://s.example/a.png</image:loc></image:image></url>
  <url><loc>http://s.example/product/1</loc></url>
  <url><lastmod>no loc: skipped</lastmod></url>
</urlset>"""

INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>http://s.example/sitemap-products.xml.gz</loc><lastmod>2024-02-02</lastmod></sitemap>
<sitemap><loc>http://s.example/sitemap-archive.xml</loc></sitemap></sitemapindex>"""


def response(url, body, ctype="application/xml"):
    return Response(url, 200, {"Content-Type": ctype} if ctype else {}, body)


# -- parsing ----------------------------------------------------------------------------------------

def test_urlset_entries():
    sm = Sitemap(URLSET)
    assert sm.type == "urlset"
    entries = list(sm)
    assert [e["loc"] for e in entries] == ["http://s.example/a", "http://s.example/product/1"]
    assert entries[0]["lastmod"] == "2024-01-01" and entries[0]["changefreq"] == "daily"
    assert entries[0]["alternate"] == ["http://s.example/fr/a"]
    assert entries[0]["image"] == {"loc": "http://s.example/a.png"}


def test_sitemap_index_and_no_namespace():
    sm = Sitemap(INDEX)
    assert sm.type == "sitemapindex"
    assert [e["loc"] for e in sm] == ["http://s.example/sitemap-products.xml.gz", "http://s.example/sitemap-archive.xml"]
    bare = Sitemap(b"<urlset><url><loc>http://x/1</loc></url></urlset>")
    assert [e["loc"] for e in bare] == ["http://x/1"]


def test_broken_xml_is_recovered():
    broken = b"<urlset><url><loc>http://x/1</loc></url><url><loc>http://x/2 & 3</loc></url><url><loc>http://x/4"
    assert [e["loc"] for e in Sitemap(broken)][:1] == ["http://x/1"]
    assert list(Sitemap(b"not xml at all")) == []
    assert Sitemap(b"").type is None


def test_entities_are_not_expanded(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "file://{secret}">'
           '<!ENTITY lol "lollollollollollollollollollol">'
           '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
           '<urlset><url><loc>http://x/&xxe;</loc></url><url><loc>http://x/&lol2;</loc></url></urlset>').encode()
    locs = [e["loc"] for e in Sitemap(xxe)]
    assert locs == ["http://x/&xxe;", "http://x/&lol2;"]  # left as written: neither read nor expanded


def test_gunzip_with_a_cap():
    data = b"<urlset>" + b"x" * 5000 + b"</urlset>"
    assert gunzip(gzip.compress(data)) == data
    assert gunzip(gzip.compress(data[:100]) + gzip.compress(data[100:])) == data  # several members
    bomb = gzip.compress(b"\0" * (2 * 1024 * 1024))
    assert len(bomb) < 10_000
    with pytest.raises(SitemapTooLarge):
        gunzip(bomb, max_size=1024 * 1024)
    with pytest.raises(ValueError):
        gunzip(b"\x1f\x8bnot really gzip")


def test_sitemap_urls_from_robots():
    robots = ("User-agent: *\nDisallow: /private\n\nSitemap: https://s.example/sitemap.xml\n"
              "sitemap: /relative.xml\nSITEMAP: https://s.example/sitemap.xml\n")
    assert sitemap_urls_from_robots(robots, base_url="https://s.example/robots.txt") == [
        "https://s.example/sitemap.xml", "https://s.example/relative.xml"]
    assert sitemap_urls_from_robots(b"User-agent: *\nDisallow:\n") == []


# -- SitemapSpider without a crawl ------------------------------------------------------------------

class Shop(SitemapSpider):
    sitemap_rules = [(r"/product/", "parse_product"), ("", "parse")]
    sitemap_follow = [r"products"]

    def parse(self, response):
        pass

    def parse_product(self, response):
        pass


def routed(requests):
    return [(r.url, r.callback) for r in requests]


def test_urlset_urls_go_to_the_first_matching_rule():
    spider = Shop()
    got = list(spider._parse_sitemap(response("http://s.example/sitemap.xml", URLSET)))
    assert all(isinstance(r, Request) for r in got)
    assert routed(got) == [("http://s.example/a", "parse"), ("http://s.example/product/1", "parse_product")]
    spider = Shop(sitemap_alternate_links="true")
    assert "http://s.example/fr/a" in [r.url for r in spider._parse_sitemap(response("http://s.example/s.xml", URLSET))]


def test_index_follows_only_matching_sitemaps_and_gzip_is_read():
    spider = Shop()
    got = list(spider._parse_sitemap(response("http://s.example/index", INDEX, ctype="text/xml")))
    assert routed(got) == [("http://s.example/sitemap-products.xml.gz", "_parse_sitemap")]
    gz = response("http://s.example/sitemap-products.xml.gz", gzip.compress(URLSET), ctype="application/octet-stream")
    assert len(list(spider._parse_sitemap(gz))) == 2


def test_unrouted_urls_and_non_sitemaps_are_dropped():
    class OnlyProducts(Shop):
        sitemap_rules = [(r"/product/", "parse_product")]

    assert routed(OnlyProducts()._parse_sitemap(response("http://s/x.xml", URLSET))) == [
        ("http://s.example/product/1", "parse_product")]
    html = response("http://s/page", b"<html><body>hi</body></html>", ctype="text/html")
    assert list(Shop()._parse_sitemap(html)) == []


def test_robots_txt_leads_to_its_sitemaps_and_start_requests():
    spider = Shop(sitemap_urls="http://s.example/robots.txt, http://s.example/other.xml")
    assert routed(spider.start_requests()) == [("http://s.example/robots.txt", "_parse_sitemap"),
                                               ("http://s.example/other.xml", "_parse_sitemap")]
    robots = response("http://s.example/robots.txt", b"Sitemap: /sm.xml\n", ctype="text/plain")
    assert routed(spider._parse_sitemap(robots)) == [("http://s.example/sm.xml", "_parse_sitemap")]


def test_a_rule_naming_no_method_is_an_error():
    class Bad(SitemapSpider):
        sitemap_rules = [("", "parse_missing")]

    with pytest.raises(TypeError, match="parse_missing"):
        Bad()


# -- crawls through the engine ----------------------------------------------------------------------

def kinds(records):
    from urllib.parse import urlsplit

    return sorted((r["kind"], urlsplit(r["url"]).path) for r in records)


EXPECTED = sorted([("product", p) for p in SitemapSite.PRODUCTS] + [("page", p) for p in SitemapSite.PAGES])


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_sitemap_index_with_a_gzip_child_routed_to_two_callbacks(site_server, crawl_spider):
    shop = SitemapSite()
    server = site_server(shop.site)
    result = crawl_spider(ShopSitemapSpider, server, start=[], workers=2,
                          spider_kwargs={"sitemap_urls": [server.url_for("/sitemap_index.xml")]})
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    assert kinds(records) == EXPECTED
    assert {r["title"] for r in records if r["kind"] == "product"} == set(SitemapSite.PRODUCTS)
    assert server.count("/sitemap-products.xml.gz") == 1
    assert server.count("/sitemap-archive.xml") == 0  # not in sitemap_follow
    for path in SitemapSite.ARCHIVE + [SitemapSite.ALTERNATE, "/robots.txt"]:
        assert server.count(path) == 0
    for path in SitemapSite.PRODUCTS + SitemapSite.PAGES:
        assert server.count(path) == 1


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_sitemaps_discovered_from_robots_txt(site_server, crawl_spider):
    shop = SitemapSite()
    server = site_server(shop.site)
    records = crawl_spider(ShopSitemapSpider, server, start=[],
                           spider_kwargs={"sitemap_urls": server.url_for("/robots.txt"),
                                          "sitemap_alternate_links": True}).records
    # robots.txt names the index (absolute) and /sitemap-extra.xml (relative, served as text/plain)
    assert kinds(records) == sorted(EXPECTED + [("page", "/extra/1"), ("page", SitemapSite.ALTERNATE)])
    assert server.count("/robots.txt") == 1 and server.count("/sitemap-extra.xml") == 1
    assert server.count("/sitemap-archive.xml") == 0
