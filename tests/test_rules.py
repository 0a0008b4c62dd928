"""LinkExtractor, Rule and CrawlSpider (issue 7), unit and through the real engine."""

from urllib.parse import urlsplit

import pytest

from scrapepool import Request, Response
from scrapepool.spiders.rules import CrawlSpider, Link, LinkExtractor, Rule
from tests.real_world_sites import CRAWL_SETTINGS, rules_site
from tests.real_world_spiders import CatalogueSpider

PAGE = """<html><head><base href="http://shop.example/base/"></head><body>
<div id="nav"><a href="/category/books">  Books
   &amp; more </a> <a href="category/music#top">Music</a> <a href="/category/archive/1">Old</a></div>
<div class="products">
  <a href="/item/1?b=2&a=1">One</a> <a href="http://shop.example/item/1?a=1&b=2#x">One again</a>
  <a href="/item/2" rel="nofollow">Two</a>
  <map><area href="/item/3" alt="three"></map>
  <a href="/files/manual.pdf">PDF</a>
  <div class="products"><a href="/item/4">Nested region</a></div>
</div>
<a href="mailto:x@shop.example">mail</a> <a href="javascript:void(0)">js</a> <a href="#top">top</a>
<a href="ftp://shop.example/f">ftp</a> <a>no href</a> <a href="   ">blank</a>
<a href="http://other.example/x">Other</a> <a href="http://blog.shop.example/post">Blog</a>
<link href="/style.css" rel="stylesheet"><img src="/img/logo.png">
</body></html>"""


def resp(body=PAGE, url="http://shop.example/start", ctype="text/html; charset=utf-8", meta=None):
    return Response(url, 200, {"Content-Type": ctype}, body.encode() if isinstance(body, str) else body,
                    meta=meta)


def urls(links):
    return [link.url for link in links]


def test_all_http_links_absolute_without_fragments_in_order():
    links = LinkExtractor().extract_links(resp())
    assert urls(links) == [
        "http://shop.example/category/books", "http://shop.example/base/category/music",
        "http://shop.example/category/archive/1", "http://shop.example/item/1?b=2&a=1",
        # unique compares the URLs as they are, as Scrapy's: another spelling is kept
        "http://shop.example/item/1?a=1&b=2",
        "http://shop.example/item/2", "http://shop.example/item/3", "http://shop.example/item/4",
        "http://other.example/x", "http://blog.shop.example/post"]  # pdf skipped by extension
    assert links[0] == Link("http://shop.example/category/books", "Books & more", False)
    assert links[5].nofollow and links[5].text == "Two"


def test_unique_false_keeps_repeats_and_deny_extensions_can_be_emptied():
    links = LinkExtractor(unique=False, deny_extensions=(), restrict_css="div.products").extract_links(resp())
    assert urls(links) == ["http://shop.example/item/1?b=2&a=1", "http://shop.example/item/1?a=1&b=2",
                           "http://shop.example/item/2", "http://shop.example/item/3",
                           "http://shop.example/files/manual.pdf", "http://shop.example/item/4"]


def test_allow_and_deny_match_the_absolute_or_the_canonical_url():
    ex = LinkExtractor(allow=r"/category/", deny=(r"/archive/",))
    assert urls(ex.extract_links(resp())) == ["http://shop.example/category/books",
                                              "http://shop.example/base/category/music"]
    # The href says ?b=2&a=1; the canonical form sorts the query: either may be matched.
    assert urls(LinkExtractor(allow=r"item/1\?a=1&b=2$").extract_links(resp())) == [
        "http://shop.example/item/1?b=2&a=1", "http://shop.example/item/1?a=1&b=2"]
    assert urls(LinkExtractor(allow=r"item/1\?b=2&a=1$").extract_links(resp())) == ["http://shop.example/item/1?b=2&a=1"]
    assert LinkExtractor(allow=r"/item/", deny=r"a=1&b=2").extract_links(resp())[0].url == "http://shop.example/item/2"


def test_domains_tags_attrs_and_restrict_css():
    assert urls(LinkExtractor(allow_domains="shop.example", deny_domains=["blog.shop.example"],
                              allow=r"post|other|books").extract_links(resp())) == ["http://shop.example/category/books"]
    assert urls(LinkExtractor(allow_domains=["other.example"]).extract_links(resp())) == ["http://other.example/x"]
    assert urls(LinkExtractor(tags="area").extract_links(resp())) == ["http://shop.example/item/3"]
    assert urls(LinkExtractor(tags=("img", "link"), attrs=("src", "href"), deny_extensions=()).extract_links(resp())) == [
        "http://shop.example/style.css", "http://shop.example/img/logo.png"]
    assert urls(LinkExtractor(restrict_css=("#nav", "a[rel=nofollow]")).extract_links(resp())) == [
        "http://shop.example/category/books", "http://shop.example/base/category/music",
        "http://shop.example/category/archive/1", "http://shop.example/item/2"]
    assert LinkExtractor().extract_links(resp(ctype="application/json", body=b'{"a": "<a href=/x>"}')) == []


def test_process_value():
    ex = LinkExtractor(process_value=lambda v: None if "item" in v else v.replace("books", "livres"))
    assert urls(ex.extract_links(resp()))[:1] == ["http://shop.example/category/livres"]
    assert not any("item" in u for u in urls(ex.extract_links(resp())))


def test_rule_shortcut_and_defaults():
    rule = Rule(allow=r"/category/", deny=r"/archive/", callback="parse_item", follow=True)
    assert isinstance(rule.link_extractor, LinkExtractor) and rule.follow is True
    assert Rule().follow is True and Rule(callback="cb").follow is False
    with pytest.raises(TypeError):
        Rule(LinkExtractor(), allow="x")
    with pytest.raises(TypeError):
        Rule(alow="x")


class Catalogue(CrawlSpider):
    rules = [
        Rule(allow=r"/category/", deny=r"/archive/"),
        Rule(LinkExtractor(allow=r"/item/\d+"), callback="parse_item", cb_kwargs={"tag": "t"},
             process_links="only_odd"),
        Rule(LinkExtractor(allow=r"/item/"), callback="parse_other", follow=True),
    ]

    def parse_item(self, response, tag):
        yield {"item": response.url, "tag": tag, "text": response.meta["link_text"]}
        yield Request("http://shop.example/extra", callback="parse_other")

    def parse_other(self, response):
        return {"other": response.url}

    def only_odd(self, links):
        return [link for link in links if link.url[-1] in "13"]


def test_crawl_spider_sends_each_link_to_the_first_rule_that_matches():
    spider = Catalogue()
    out = list(spider.parse(resp()))
    assert all(isinstance(r, Request) and r.callback == "_parse_rule" for r in out)
    assert [(urlsplit(r.url).path, r.meta["rule"]) for r in out] == [
        ("/category/books", 0), ("/base/category/music", 0),
        ("/item/1", 1), ("/item/3", 1),  # process_links kept the odd ones...
        ("/item/2", 2), ("/item/4", 2)]  # ...and the even ones went to the next rule that matches
    assert out[2].meta["link_text"] == "One"


def test_a_rule_callback_runs_with_cb_kwargs_and_follow_decides():
    spider = Catalogue()
    item = resp(url="http://shop.example/item/1", meta={"rule": 1, "link_text": "One"})
    got = list(spider._parse_rule(item))
    assert got[0] == {"item": "http://shop.example/item/1", "tag": "t", "text": "One"}
    assert isinstance(got[1], Request) and got[1].callback == "parse_other"
    assert len(got) == 2  # rule 1 has a callback and no follow: its page's links are not followed
    other = list(spider._parse_rule(resp(url="http://shop.example/item/2", meta={"rule": 2})))
    assert other[0] == {"other": "http://shop.example/item/2"}
    assert any(isinstance(r, Request) for r in other[1:])  # follow=True: rules applied again


def test_rules_naming_missing_methods_fail_when_the_spider_is_made():
    class Broken(CrawlSpider):
        rules = [Rule(callback="nope")]

    with pytest.raises(TypeError, match="nope"):
        Broken()


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_crawl_spider_through_the_engine(site_server, crawl_spider):
    server = site_server(rules_site())
    result = crawl_spider(CatalogueSpider, server, start="/", workers=2)
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    items = sorted((r for r in records if r["kind"] == "item"), key=lambda r: r["url"])
    assert [urlsplit(r["url"]).path for r in items] == [f"/item/{i}" for i in range(1, 6)]
    assert [r["link_text"] for r in items] == [f"Item {i}" for i in range(1, 6)]
    assert {r["source"] for r in items} == {"rule"}
    assert [r["kind"] for r in records].count("start") == 1
    assert sorted(p for _, p in server.requests if p.startswith("/category/")) == [
        "/category/books", "/category/books?page=2", "/category/music"]  # each once
    # denied, outside the restricted region, matching no rule, or only linked from pages not followed:
    for path in ("/category/archive/old", "/item/50", "/item/99", "/about", "/item/1/reviews"):
        assert server.count(path) == 0, path
    assert stats["pages"] == 1 + 3 + 5
