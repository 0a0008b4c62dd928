"""Selectors on Response: parsel's, as Scrapy's (issue 15).

Ported from Scrapy's tests/test_http_response_text.py (TestTextResponse: test_selector,
test_selector_shortcuts, test_selector_shortcuts_kwargs, test_urljoin_with_base_url,
test_follow_selector*, test_follow_all_*) and tests/test_selector.py (flavor detection,
TestJMESPath); each test names the one it ports. Then real crawls: selectors run in the
fetcher processes, follow_all feeds the frontier, a page too large is refused before its
tree is built.
"""

import pytest
from parsel import Selector as ParselSelector

from scrapepool import Link, Response, Selector, SelectorList
from scrapepool.exceptions import PageTooLarge
from scrapepool.testing.testserver import Page
from tests.test_link_extractor_scrapy import SAMPLE

pytestmark = pytest.mark.timeout(90)

SPIDERS = "tests.selector_spiders"

#: Scrapy's tests/sample_data/link_extractor/linkextractor_no_href.html (the part that matters).
NO_HREF = b"""<!DOCTYPE html><html><head><base href='http://example.com' /><title>t</title></head>
<body><div class="quote"><span><a href="/author/Albert-Einstein">(about)</a></span>
<div id="pagination" class="pagination">Tags:
  <a href="/page/1/">Page 1</a> <a>Current</a> <a href="/page/3/">Page 3</a> <a href="/page/4/">Page 4</a>
</div></div></body></html>"""


def html(body, url="http://www.example.com", ctype="text/html", **kw):
    return Response(url, 200, {"Content-Type": ctype}, body, **kw)


def links_response():
    return html(SAMPLE, "http://example.com/index")


# -- the selector ----------------------------------------------------------------------------

def test_selector():
    """Scrapy: test_selector."""
    response = html(b"<html><head><title>Some page</title><body></body></html>")
    assert isinstance(response.selector, Selector) and isinstance(response.selector, ParselSelector)
    assert response.selector.type == "html"
    assert response.selector is response.selector  # built once
    assert response.selector.response is response
    assert response.selector.xpath("//title/text()").getall() == ["Some page"]
    assert response.selector.css("title::text").getall() == ["Some page"]
    assert response.selector.re("Some (.*)</title>") == ["page"]


def test_selector_shortcuts():
    """Scrapy: test_selector_shortcuts; and re/re_first, which the issue asks of a response."""
    response = html(b"<html><head><title>Some page</title><body><p>1</p><p>2</p></body></html>")
    assert response.xpath("//title/text()").getall() == ["Some page"]
    assert response.css("title::text").getall() == ["Some page"]
    assert isinstance(response.css("p"), SelectorList)
    assert response.css("p::text").getall() == ["1", "2"]
    assert response.re(r"<p>(\d)</p>") == ["1", "2"]
    assert response.re_first(r"<p>(\d)</p>") == "1"
    assert response.re_first(r"<q>(\d)</q>", default="none") == "none"
    assert response.css("title").attrib == {}
    assert html(b'<a href="x" class="c">t</a>').css("a").attrib == {"href": "x", "class": "c"}


def test_selector_shortcuts_kwargs():
    """Scrapy: test_selector_shortcuts_kwargs (XPath variables)."""
    response = html(b'<html><head><title>Some page</title><body><p class="content">A nice paragraph.'
                    b'</p></body></html>')
    assert response.xpath("normalize-space(//p[@class=$pclass])", pclass="content").getall() \
        == response.xpath('normalize-space(//p[@class="content"])').getall() == ["A nice paragraph."]
    assert response.xpath("//title[count(following::p[@class=$pclass])=$pcount]/text()",
                          pclass="content", pcount=1).getall() == ["Some page"]


def test_xpath_namespaces():
    response = html(b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id></entry></feed>',
                    ctype="application/atom+xml")
    assert response.selector.type == "xml"
    assert response.xpath("//a:id/text()", namespaces={"a": "http://www.w3.org/2005/Atom"}).get() == "1"
    assert response.xpath("//id/text()").get() is None
    response.selector.remove_namespaces()
    assert response.xpath("//id/text()").get() == "1"


def test_selector_and_soup_side_by_side():
    response = html(b"<html><head><title> T </title></head><body><p>x</p></body></html>")
    assert response.css("title::text").get() == " T "
    assert response._soup is None  # the selector did not build a soup
    assert response.soup.title.string == " T "
    assert response.css("p::text").get() == "x"


def test_selector_refuses_a_page_past_max_elements():
    """The selector's tree is bounded as the soup's is: refused before it is built."""
    response = html(b"<html><body>" + b"<b>x</b>" * 200 + b"</body></html>", max_elements=100)
    with pytest.raises(PageTooLarge):
        response.css("b")
    assert html(b"<html><body>" + b"<b>x</b>" * 50 + b"</body></html>", max_elements=100).css("b")


# -- types: HTML, XML, JSON ------------------------------------------------------------------

def test_flavor_detection():
    """Scrapy: test_selector.py, test_flavor_detection (XML keeps <img> open, HTML closes it)."""
    text = b'<div><img src="a.jpg"><p>Hello</div>'
    assert html(text, ctype="text/xml").selector.type == "xml"
    assert html(text, ctype="text/xml").xpath("//div").getall() == ['<div><img src="a.jpg"><p>Hello</p></img></div>']
    assert html(text).selector.type == "html"
    assert html(text).xpath("//div").getall() == ['<div><img src="a.jpg"><p>Hello</p></div>']


def test_flavor_detection_json():
    """Scrapy: test_flavor_detection_json and _json_with_html_body."""
    response = html(b'{"a": "b"}', ctype="application/json")
    assert response.selector.type == "json"
    assert response.jmespath("a").get() == "b"
    assert html(b"<div><p>Hello</p></div>", ctype="application/json").selector.type == "json"
    assert html(b"<div><p>Hello</p></div>").css("p::text").get() == "Hello"


def test_flavor_detection_text():
    """Scrapy: test_flavor_detection_text: a type that is neither is left to parsel."""
    assert html(b"<div><p>Hello</p></div>", ctype="text/plain").selector.type == "html"
    assert html(b'{"a": [1]}', ctype="text/plain").selector.type == "json"


def test_json_has_html():
    """Scrapy: TestJMESPath.test_json_has_html."""
    body = b"""{"content": [{"name": "A", "value": "a"}, {"name": {"age": 18}, "value": "b"}],
                "html": "<div><a>a<br>b</a>c</div><div><a>d</a>e<b>f</b></div>"}"""
    resp = html(body, ctype="application/json")
    assert resp.jmespath("html").get() == "<div><a>a<br>b</a>c</div><div><a>d</a>e<b>f</b></div>"
    assert resp.jmespath("html").xpath("//div/a/text()").getall() == ["a", "b", "d"]
    assert resp.jmespath("html").css("div > b").getall() == ["<b>f</b>"]
    assert resp.jmespath("content").jmespath("name.age").get() == 18


def test_html_has_json_and_re():
    """Scrapy: TestJMESPath.test_html_has_json and test_jmestpath_with_re."""
    body = b"""<div><h1>Information</h1><content>{"user": [{"name": "A", "age": 18},
        {"name": "B", "age": 32}], "total": 2, "status": "ok"}</content></div>"""
    resp = html(body)
    assert resp.xpath("//div/content/text()").jmespath("user[*].name").getall() == ["A", "B"]
    assert resp.xpath("//div/content").jmespath("total").get() == 2
    assert resp.xpath("//div/content").jmespath("user[*].name").re(r"(\w+)") == ["A", "B"]
    assert resp.xpath("//div/content").jmespath("unavailable").re_first(r"(\d+)") is None


def test_selector_class_from_a_response_or_text():
    """Scrapy's Selector(response) / Selector(text=...), and both refused."""
    response = html(b"<p>x</p>")
    assert Selector(response).css("p::text").get() == "x"
    assert Selector(text="<p>y</p>").type == "html"
    with pytest.raises(ValueError, match="received both response and text"):
        Selector(response, text="<p/>")


# -- urljoin and follow ----------------------------------------------------------------------

@pytest.mark.parametrize("body, href, expected", [
    (b'<html><body><base href="https://example.net"></body></html>', "/test", "https://example.net/test"),
    (b'<html><body><base href="/elsewhere"></body></html>', "test", "http://www.example.com/test"),
    (b'<html><body><base href="/elsewhere/"></body></html>', "test", "http://www.example.com/elsewhere/test"),
])
def test_urljoin_with_base_url(body, href, expected):
    """Scrapy: test_urljoin_with_base_url; <base> found through the selector's tree."""
    response = html(body)
    assert response.urljoin(href) == expected
    assert response._soup is None


FOLLOWED = [
    "http://example.com/sample2.html",
    "http://example.com/sample3.html",
    "http://example.com/sample3.html",
    "http://example.com/sample3.html",
    "http://example.com/sample3.html#foo",
    "http://www.google.com/something",
    "http://example.com/innertag.html",
    "http://example.com/page%204.html",
]


def test_follow_selector():
    """Scrapy: test_follow_selector: <a> elements, <link>, href attributes; not a <div>."""
    resp = links_response()
    for sellist in (resp.css("a"), resp.xpath("//a"), resp.css("a::attr(href)"), resp.xpath("//a/@href")):
        assert [resp.follow(sel).url for sel in sellist] == FOLLOWED
    assert resp.follow(Selector(text='<link href="foo"></link>').css("link")[0]).url == "http://example.com/foo"
    with pytest.raises(ValueError, match="Only <a> and <link> elements are supported"):
        resp.follow(resp.css("div")[0])


def test_follow_selector_list_invalid_attribute_no_href():
    """Scrapy: test_follow_selector_list, _invalid, _attribute, _no_href."""
    resp = links_response()
    with pytest.raises(ValueError, match="SelectorList"):
        resp.follow(resp.css("a"))
    with pytest.raises(ValueError, match="Unsupported"):
        resp.follow(resp.xpath("count(//div)")[0])
    assert [resp.follow(src).url for src in resp.css("img::attr(src)")] == ["http://example.com/sample2.jpg"]
    resp = html(b"<html><body><a name=123>click me</a></body></html>", "http://example.com")
    with pytest.raises(ValueError, match="no href"):
        resp.follow(resp.css("a")[0])


def test_follow_whitespace_selector_link_and_none():
    """Scrapy: test_follow_whitespace_selector, test_follow_link, test_follow_None_url."""
    resp = html(b"""<html><body><a href=" foo\n">click me</a></body></html>""", "http://example.com")
    assert resp.follow(resp.css("a")[0]).url == "http://example.com/foo"
    assert resp.follow(resp.css("a::attr(href)")[0]).url == "http://example.com/foo"
    assert resp.follow(Link("http://example.com/foo ")).url == "http://example.com/foo"
    with pytest.raises(ValueError, match="url can't be None"):
        resp.follow(None)


@pytest.mark.parametrize("encoding, query", [
    ("utf-8", "%D0%BF%D1%80%D0%B8%D0%B2%D0%B5%D1%82"), ("cp1251", "%EF%F0%E8%E2%E5%F2")])
def test_follow_encoding(encoding, query):
    """Scrapy: test_follow_encoding: the query in the page's encoding."""
    resp = html('<html><body><a href="foo?привет">click me</a></body></html>'.encode(encoding),
                "http://example.com", ctype=f"text/html; charset={encoding}")
    assert resp.follow(resp.css("a")[0]).url == f"http://example.com/foo?{query}"
    assert [r.url for r in resp.follow_all(css="a")] == [f"http://example.com/foo?{query}"]


def test_follow_all_css_and_xpath():
    """Scrapy: test_follow_all_css, test_follow_all_xpath."""
    expected = ["http://example.com/sample3.html", "http://example.com/innertag.html"]
    response = links_response()
    assert [r.url for r in response.follow_all(css='a[href*="example.com"]')] == expected
    assert [r.url for r in response.follow_all(xpath='//a[contains(@href, "example.com")]')] == expected


def test_follow_all_skips_invalid_selectors():
    """Scrapy: test_follow_all_css_skip_invalid, test_follow_all_xpath_skip_invalid."""
    expected = ["http://example.com/page/1/", "http://example.com/page/3/", "http://example.com/page/4/"]
    response = html(NO_HREF, "http://example.com/index")
    assert [r.url for r in response.follow_all(css=".pagination a")] == expected
    assert [r.url for r in response.follow_all(response.css(".pagination a"))] == expected
    assert [r.url for r in response.follow_all(xpath='//div[@id="pagination"]/a')] == expected


def test_follow_all_arguments():
    """Scrapy: test_follow_all_too_many_arguments, _invalid, _empty, _relative, _links;
    keyword arguments reach every Request."""
    response = links_response()
    with pytest.raises(ValueError, match="Please supply exactly one of the following arguments"):
        response.follow_all(css="a", xpath="//a")
    with pytest.raises(ValueError, match="exactly one"):
        response.follow_all()
    with pytest.raises(TypeError):
        response.follow_all(urls=12345)
    assert list(response.follow_all([])) == []
    assert [r.url for r in response.follow_all(["foo", "bar/foo"])] == \
        ["http://example.com/foo", "http://example.com/bar/foo"]
    assert [r.url for r in response.follow_all(map(Link, ["http://example.com/x"]))] == ["http://example.com/x"]
    reqs = list(response.follow_all(css="a", callback="parse", meta={"k": 1}, priority=3, cb_kwargs={"n": 2}))
    assert len(reqs) == 8
    assert all(r.callback == "parse" and r.meta["_cb_kwargs"] == {"n": 2} and r.meta["k"] == 1
               and r.priority == 3 for r in reqs)


def test_follow_all_skips_and_counts_a_malformed_link():
    """Decided here (Scrapy's raises): links from the page, so one bad href costs only itself."""
    response = html(b'<a href="http://[bad/">x</a><a href="/ok">y</a><a href="http://[bad/">z</a>',
                    "http://example.com/")
    assert [r.url for r in response.follow_all(css="a")] == ["http://example.com/ok"]
    assert response.invalid_links == 1
    with pytest.raises(ValueError):
        response.follow(response.css("a")[0])


# -- real crawls: selectors in the fetcher processes -----------------------------------------

def _site():
    body = ("<html><head><title>Page {i}</title></head><body><h1>H{i}</h1><p>a</p><p>b</p>"
            '<a href="/p{j}.html">next</a> <a href="/p{j}.html#x">again</a> <a name="none">no href</a>'
            "</body></html>")
    site = {f"/p{i}.html": Page(body.format(i=i, j=(i + 1) % 12)) for i in range(12)}
    site["/"] = Page(body.format(i="home", j=0))
    return site


def test_crawl_with_selectors_follows_every_page_once(crawl_spider):
    result = crawl_spider(f"{SPIDERS}:SelectorSpider", _site(), workers=2, concurrency=4)
    by_path = {r["url"].rsplit("/", 1)[1]: r for r in result.records}
    assert sorted(by_path) == sorted(["", *(f"p{i}.html" for i in range(12))])
    assert by_path["p3.html"] == {"url": result.url + "/p3.html", "title": "Page 3", "h1": "H3",
                                  "n_p": 2, "links": 2, "soup_title": "Page 3"}
    assert all(result.count(f"/p{i}.html") == 1 for i in range(12))
    assert result.stats["spider_errors"] == 0


def test_crawl_follows_single_selectors(crawl_spider):
    site = {"/": Page('<a class="el" href="/a">a</a><a class="attr" href=" /b ">b</a><a class="el">none</a>'),
            "/a": Page("<p>a</p>"), "/b": Page("<p>b</p>")}
    result = crawl_spider(f"{SPIDERS}:FollowSelectorSpider", site, workers=1, concurrency=2)
    assert sorted(r["url"] for r in result.records) == [result.url + p for p in ("/", "/a", "/b")]
    # The <a> without href raised in the callback: counted, the page's record and links kept.
    assert result.stats["spider_errors"] == 1


def test_follow_makes_urls_safe_as_scrapy_request():
    """Scrapy's Request holds safe_url_string(url): the scheme and host lower-cased, and
    spaces, brackets, quotes in a query... percent-encoded. The shortcut that skips w3lib for
    URLs it would not change is checked against w3lib on generated URLs."""
    import random

    from w3lib.url import safe_url_string

    from scrapepool.spiders.http import _SAFE_URL_RE

    resp = html(b"<p/>", "http://example.com/dir/")
    assert resp.follow("HTTP://Example.COM/a").url == "http://example.com/a"
    assert resp.follow("/a[1] b?q='x'").url == "http://example.com/a%5B1%5D%20b?q=%27x%27"
    assert resp.follow("/a?q=1#f#g").url == "http://example.com/a?q=1#f%23g"
    rnd = random.Random(15)
    alphabet = "aZ09-._~!$&'()*+,;=:@%/?#[] \"<>\\^`{|}é"
    matched = 0
    for _ in range(20_000):
        url = "http://" + rnd.choice(["a.com", "A.com", "a.com:8080", "a.com."]) + "/" + \
            "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(12)))
        if _SAFE_URL_RE.match(url):
            matched += 1
            assert safe_url_string(url) == url, url
    assert matched > 1000  # the shortcut is taken, so the check above checks something
