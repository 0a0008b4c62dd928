"""LinkExtractor against Scrapy's own tests (scrapy/tests/test_linkextractors.py, TestLxmlLinkExtractor).

Each test names the Scrapy test it ports. Where scrapepool differs on purpose, the test says so:
a Link's URL has no fragment (so ``sample3.html#foo`` is ``sample3.html``, a repeat that
``unique`` drops), and only http(s) links are returned.
"""

import re

from scrapepool import Response
from scrapepool.spiders.rules import IGNORED_EXTENSIONS, Link, LinkExtractor, Rule

#: Scrapy's tests/sample_data/link_extractor/linkextractor.html
SAMPLE = b"""<!DOCTYPE html>

<html>
  <head>
    <base href='http://example.com' />
    <title>Sample page with links for testing LinkExtractor</title>
  </head>
  <body>
    <div id='wrapper'>
      <div id='subwrapper'>
        <area href='sample1.html' alt='sample1'/>
        <a href='sample2.html'>sample 2<img src='sample2.jpg' alt='sample2'/></a>
      </div>
      <a href='http://example.com/sample3.html' title='sample 3'>sample 3 text</a>
      <a href='sample3.html'>sample 3 repetition</a>
      <a href='sample3.html'>sample 3 repetition</a>
      <a href='sample3.html#foo'>sample 3 repetition with fragment</a>
      <a href='http://www.google.com/something'></a>
      <a href='http://example.com/innertag.html'><strong>inner</strong> tag</a>
      <a href='page 4.html'>href with whitespaces</a>
    </div>
  </body>
</html>"""


def html(url, body, encoding=None):
    ctype = "text/html" + (f"; charset={encoding}" if encoding else "")
    return Response(url, 200, {"Content-Type": ctype}, body)


def sample():
    return html("http://example.com/index", SAMPLE)


def urls(links):
    return [link.url for link in links]


ALL_SAMPLE_LINKS = [
    Link(url="http://example.com/sample1.html", text=""),
    Link(url="http://example.com/sample2.html", text="sample 2"),
    Link(url="http://example.com/sample3.html", text="sample 3 text"),
    Link(url="http://www.google.com/something", text=""),
    Link(url="http://example.com/innertag.html", text="inner tag"),
    Link(url="http://example.com/page%204.html", text="href with whitespaces"),
]


def test_extract_all_links_with_a_safe_url():
    """Scrapy: test_extract_all_links, test_urls_type (``page 4.html`` -> ``page%204.html``;
    the ``#foo`` link has no fragment here, so it repeats sample3.html and is dropped)."""
    links = LinkExtractor().extract_links(sample())
    assert links == ALL_SAMPLE_LINKS
    assert all(isinstance(link.url, str) for link in links)


def test_unique_false_keeps_duplicates():
    """Scrapy: test_extract_filter_allow_with_duplicates."""
    assert LinkExtractor(allow=("sample",), unique=False).extract_links(sample()) == [
        Link(url="http://example.com/sample1.html", text=""),
        Link(url="http://example.com/sample2.html", text="sample 2"),
        Link(url="http://example.com/sample3.html", text="sample 3 text"),
        Link(url="http://example.com/sample3.html", text="sample 3 repetition"),
        Link(url="http://example.com/sample3.html", text="sample 3 repetition"),
        Link(url="http://example.com/sample3.html", text="sample 3 repetition with fragment"),
    ]


def test_canonicalize_with_and_without_unique():
    """Scrapy: test_extract_filter_allow_with_duplicates_canonicalize,
    test_extract_filter_allow_no_duplicates_canonicalize."""
    assert LinkExtractor(allow=("sample",), unique=False, canonicalize=True).extract_links(sample()) == [
        Link(url="http://example.com/sample1.html", text=""),
        Link(url="http://example.com/sample2.html", text="sample 2"),
        Link(url="http://example.com/sample3.html", text="sample 3 text"),
        Link(url="http://example.com/sample3.html", text="sample 3 repetition"),
        Link(url="http://example.com/sample3.html", text="sample 3 repetition"),
        Link(url="http://example.com/sample3.html", text="sample 3 repetition with fragment"),
    ]
    assert LinkExtractor(allow=("sample",), unique=True, canonicalize=True).extract_links(sample()) == [
        Link(url="http://example.com/sample1.html", text=""),
        Link(url="http://example.com/sample2.html", text="sample 2"),
        Link(url="http://example.com/sample3.html", text="sample 3 text"),
    ]


def test_filters_with_single_values():
    """Scrapy: test_extract_filter_allow_and_deny, test_extract_filter_allowed_domains,
    test_extraction_using_single_values."""
    assert LinkExtractor(allow="sample", deny="3").extract_links(sample()) == ALL_SAMPLE_LINKS[:2]
    assert LinkExtractor(allow_domains="google.com").extract_links(sample()) == [
        Link(url="http://www.google.com/something", text="")]
    assert LinkExtractor(deny_domains="example.com").extract_links(sample()) == [
        Link(url="http://www.google.com/something", text="")]


def test_matches():
    """Scrapy: test_matches."""
    url1, url2 = "http://lotsofstuff.com/stuff1/index", "http://evenmorestuff.com/uglystuff/index"
    assert LinkExtractor(allow=(r"stuff1",)).matches(url1)
    assert not LinkExtractor(allow=(r"stuff1",)).matches(url2)
    assert not LinkExtractor(deny=(r"uglystuff",)).matches(url2)
    assert LinkExtractor(allow_domains=("evenmorestuff.com",)).matches(url2)
    assert not LinkExtractor(deny_domains=("lotsofstuff.com",)).matches(url1)
    lx = LinkExtractor(allow=["blah1"], deny=["blah2"], allow_domains=["blah1.com"],
                       deny_domains=["blah2.com"])
    assert lx.matches("http://blah1.com/blah1")
    assert not lx.matches("http://blah1.com/blah2")
    assert not lx.matches("http://blah2.com/blah1")


def test_nofollow():
    """Scrapy: test_nofollow."""
    body = b"""<html><body>
    <p><a href="/about.html">About us</a></p>
    <p><a href="/nofollow.html" rel="nofollow">Dont follow this one</a></p>
    <p><a href="/nofollow2.html" rel="blah">Choose to follow or not</a></p>
    <p><a href="http://google.com/something" rel="external nofollow">External link not to follow</a></p>
    </body></html>"""
    assert LinkExtractor().extract_links(html("http://example.org/somepage/index.html", body)) == [
        Link(url="http://example.org/about.html", text="About us"),
        Link(url="http://example.org/nofollow.html", text="Dont follow this one", nofollow=True),
        Link(url="http://example.org/nofollow2.html", text="Choose to follow or not"),
        Link(url="http://google.com/something", text="External link not to follow", nofollow=True),
    ]


def test_restrict_xpaths():
    """Scrapy: test_restrict_xpaths."""
    lx = LinkExtractor(restrict_xpaths=('//div[@id="subwrapper"]',))
    assert lx.extract_links(sample()) == ALL_SAMPLE_LINKS[:2]
    # A selected link element counts itself.
    assert urls(LinkExtractor(restrict_xpaths="//a[strong]").extract_links(sample())) == [
        "http://example.com/innertag.html"]
    # Not an element (text, attributes): no region.
    assert LinkExtractor(restrict_xpaths="//a/@href").extract_links(sample()) == []


def test_restrict_xpaths_encoding():
    """Scrapy: test_restrict_xpaths_encoding."""
    body = b"""<html><head><title>Page title</title></head>
    <body><p><a href="item/12.html">Item 12</a></p>
    <div class='links'>
    <p><a href="/about.html">About us\xa3</a></p>
    </div>
    <div>
    <p><a href="/nofollow.html">This shouldn't be followed</a></p>
    </div>
    </body></html>"""
    response = html("http://example.org/somepage/index.html", body, "windows-1252")
    assert LinkExtractor(restrict_xpaths="//div[@class='links']").extract_links(response) == [
        Link(url="http://example.org/about.html", text="About us\xa3")]


def test_restrict_xpaths_with_html_entities_gives_the_query_in_the_page_encoding():
    """Scrapy: test_restrict_xpaths_with_html_entities (path as UTF-8, query as ISO-8859-15)."""
    body = b'<html><body><p><a href="/&hearts;/you?c=&euro;">text</a></p></body></html>'
    response = html("http://example.org/somepage/index.html", body, "iso8859-15")
    assert LinkExtractor(restrict_xpaths="//p").extract_links(response) == [
        Link(url="http://example.org/%E2%99%A5/you?c=%A4", text="text")]
    # The same page in UTF-8: the query is UTF-8 too.
    response = html("http://example.org/somepage/index.html", body, "utf-8")
    assert LinkExtractor().extract_links(response) == [
        Link(url="http://example.org/%E2%99%A5/you?c=%E2%82%AC", text="text")]


def test_restrict_xpaths_concat_in_handle_data():
    """Scrapy: test_restrict_xpaths_concat_in_handle_data."""
    body = b"""<html><body><div><a href="/foo">&gt;\xbe\xa9&lt;\xb6\xab</a></body></html>"""
    response = html("http://example.org", body, "gb18030")
    assert LinkExtractor(restrict_xpaths="//div").extract_links(response) == [
        Link(url="http://example.org/foo", text=">\u4eac<\u4e1c", nofollow=False)]


def test_restrict_css_and_restrict_xpaths_together():
    """Scrapy: test_restrict_css, test_restrict_css_and_restrict_xpaths_together."""
    assert LinkExtractor(restrict_css=("#subwrapper a",)).extract_links(sample()) == [
        Link(url="http://example.com/sample2.html", text="sample 2")]
    lx = LinkExtractor(restrict_xpaths=('//div[@id="subwrapper"]',), restrict_css=("#subwrapper + a",))
    assert lx.extract_links(sample()) == ALL_SAMPLE_LINKS[:3]


def test_encoded_url_in_restricted_xpath():
    """Scrapy: test_encoded_url, test_encoded_url_in_restricted_xpath."""
    body = b"""<html><body><div><a href="?page=2">BinB</a></body></html>"""
    response = html("http://known.fm/AC%2FDC/", body, "utf8")
    for lx in (LinkExtractor(), LinkExtractor(restrict_xpaths="//div")):
        assert lx.extract_links(response) == [Link(url="http://known.fm/AC%2FDC/?page=2", text="BinB")]


def test_base_url_with_restrict_xpaths():
    """Scrapy: test_base_url_with_restrict_xpaths."""
    body = b"""<html><head><title>Page title</title><base href="http://otherdomain.com/base/" /></head>
    <body><p><a href="item/12.html">Item 12</a></p>
    </body></html>"""
    response = html("http://example.org/somepage/index.html", body)
    assert LinkExtractor(restrict_xpaths="//p").extract_links(response) == [
        Link(url="http://otherdomain.com/base/item/12.html", text="Item 12")]


def test_ignored_extensions():
    """Scrapy: test_ignored_extensions; the default list is scrapy.linkextractors.IGNORED_EXTENSIONS."""
    response = html("http://example.org/", b"""<a href="page.html">asd</a> and <a href="photo.jpg">""")
    assert LinkExtractor().extract_links(response) == [Link(url="http://example.org/page.html", text="asd")]
    assert LinkExtractor(deny_extensions=["html"]).extract_links(response) == [
        Link(url="http://example.org/photo.jpg")]
    # Scrapy's newer entries are in the default list too.
    assert {"xlsm", "docm", "msi", "bat", "py", "tar.gz"} <= set(IGNORED_EXTENSIONS)
    response = html("http://example.org/", b'<a href="setup.msi">m</a><a href="run.py">p</a><a href="x.PY">p</a>')
    assert LinkExtractor().extract_links(response) == []
    assert len(LinkExtractor(deny_extensions=()).extract_links(response)) == 3


def test_process_value():
    """Scrapy: test_process_value (the value is the URL made absolute; the result is resolved again)."""
    body = b"""
<a href="javascript:goToPage('../other/page.html','photo','width=600,height=540,scrollbars'); return false">Text</a>
<a href="/about.html">About us</a>
    """
    response = html("http://example.org/somepage/index.html", body, "windows-1252")

    def process_value(value):
        m = re.search(r"javascript:goToPage\('(.*?)'", value)
        return m.group(1) if m else None

    assert LinkExtractor(process_value=process_value).extract_links(response) == [
        Link(url="http://example.org/other/page.html", text="Text")]
    seen = []
    LinkExtractor(process_value=lambda v: seen.append(v)).extract_links(response)
    assert seen[1] == "http://example.org/about.html"


def test_attrs():
    """Scrapy: test_attrs."""
    assert LinkExtractor(attrs="href").extract_links(sample()) == ALL_SAMPLE_LINKS
    lx = LinkExtractor(attrs=("href", "src"), tags=("a", "area", "img"), deny_extensions=())
    assert lx.extract_links(sample()) == (ALL_SAMPLE_LINKS[:2] + [Link(url="http://example.com/sample2.jpg")]
                                          + ALL_SAMPLE_LINKS[2:])
    assert LinkExtractor(attrs=None).extract_links(sample()) == []


def test_tags():
    """Scrapy: test_tags."""
    body = (b'<html><area href="sample1.html"></area>'
            b'<a href="sample2.html">sample 2</a><img src="sample2.jpg"/></html>')
    response = html("http://example.com/index.html", body)
    assert LinkExtractor(tags=None).extract_links(response) == []
    assert LinkExtractor().extract_links(response) == [
        Link(url="http://example.com/sample1.html", text=""),
        Link(url="http://example.com/sample2.html", text="sample 2")]
    assert LinkExtractor(tags="area").extract_links(response) == [
        Link(url="http://example.com/sample1.html", text="")]
    assert LinkExtractor(tags="a").extract_links(response) == [
        Link(url="http://example.com/sample2.html", text="sample 2")]
    assert LinkExtractor(tags=("a", "img"), attrs=("href", "src"), deny_extensions=()).extract_links(response) == [
        Link(url="http://example.com/sample2.html", text="sample 2"),
        Link(url="http://example.com/sample2.jpg", text="")]


def test_tags_attrs():
    """Scrapy: test_tags_attrs."""
    body = b"""
    <html><body>
    <div id="item1" data-url="get?id=1"><a href="#">Item 1</a></div>
    <div id="item2" data-url="get?id=2"><a href="#">Item 2</a></div>
    </body></html>
    """
    response = html("http://example.com/index.html", body)
    expected = [Link(url="http://example.com/get?id=1", text="Item 1"),
                Link(url="http://example.com/get?id=2", text="Item 2")]
    assert LinkExtractor(tags="div", attrs="data-url").extract_links(response) == expected
    assert LinkExtractor(tags=("div",), attrs=("data-url",)).extract_links(response) == expected


def test_tags_attrs_wildcard_and_deny():
    """Scrapy: test_tags_attrs_wildcard_and_deny."""
    body = b"""
    <html><body>
    <a href="a.html">a</a>
    <div data-url="div.html">div</div>
    <span href="span.html">span</span>
    <p data-url="p.html">p</p>
    </body></html>
    """
    response = html("http://example.com/index.html", body)

    def found(**kwargs):
        return urls(LinkExtractor(**kwargs).extract_links(response))

    assert found() == ["http://example.com/a.html"]
    assert found(tags="*") == ["http://example.com/a.html", "http://example.com/span.html"]
    assert found(tags="*", attrs="*") == ["http://example.com/a.html", "http://example.com/div.html",
                                          "http://example.com/span.html", "http://example.com/p.html"]
    assert found(tags="*", attrs="*", deny_tags="div") == [
        "http://example.com/a.html", "http://example.com/span.html", "http://example.com/p.html"]
    assert found(tags="*", attrs="*", deny_attrs="data-url") == [
        "http://example.com/a.html", "http://example.com/span.html"]
    assert found(tags=("a", "span"), attrs="*", deny_tags="span") == ["http://example.com/a.html"]
    assert found(tags="a", attrs="*") == ["http://example.com/a.html"]


def test_bad_links_are_skipped():
    """Scrapy: test_link_wrong_href, test_skip_bad_links."""
    body = b"""
    <a href="http://example.org/item1.html">Item 1</a>
    <a href="http://[example.org/item2.html">Item 2</a>
    <a href="http://example.org:non-port">Why would you do this?</a>
    <a href="http://example.org/item3.html">Item 3</a>
    """
    response = html("http://example.org/index.html", body)
    assert LinkExtractor().extract_links(response) == [
        Link(url="http://example.org/item1.html", text="Item 1"),
        Link(url="http://example.org/item3.html", text="Item 3")]
    assert response.invalid_links == 2


AGGREGATION_BODY = b"""
    <div>
        <a href="/a">a1</a>
        <a href="/b?a=1&b=2">b1</a>
    </div>
    <div>
        <a href="/a">a2</a>
        <a href="/b?b=2&a=1">b2</a>
    </div>
"""


def test_link_extractor_aggregation():
    """Scrapy: test_link_extractor_aggregation (unique compares URLs as returned: raw or canonicalized)."""
    response = html("https://example.com", AGGREGATION_BODY)
    assert LinkExtractor(restrict_css=("div",)).extract_links(response) == [
        Link(url="https://example.com/a", text="a1"),
        Link(url="https://example.com/b?a=1&b=2", text="b1"),
        Link(url="https://example.com/b?b=2&a=1", text="b2")]
    assert LinkExtractor(restrict_css=("div",), canonicalize=True).extract_links(response) == [
        Link(url="https://example.com/a", text="a1"),
        Link(url="https://example.com/b?a=1&b=2", text="b1")]
    assert LinkExtractor(restrict_css=("div",), unique=False).extract_links(response) == [
        Link(url="https://example.com/a", text="a1"),
        Link(url="https://example.com/b?a=1&b=2", text="b1"),
        Link(url="https://example.com/a", text="a2"),
        Link(url="https://example.com/b?b=2&a=1", text="b2")]
    assert LinkExtractor(restrict_css=("div",), unique=False, canonicalize=True).extract_links(response) == [
        Link(url="https://example.com/a", text="a1"),
        Link(url="https://example.com/b?a=1&b=2", text="b1"),
        Link(url="https://example.com/a", text="a2"),
        Link(url="https://example.com/b?a=1&b=2", text="b2")]
    # The same with XPath regions.
    assert urls(LinkExtractor(restrict_xpaths="//div", canonicalize=True).extract_links(response)) == [
        "https://example.com/a", "https://example.com/b?a=1&b=2"]


def test_link_restrict_text():
    """Scrapy: test_link_restrict_text."""
    body = b"""
    <a href="http://example.org/item1.html">Pic of a cat</a>
    <a href="http://example.org/item2.html">Pic of a dog</a>
    <a href="http://example.org/item3.html">Pic of a cow</a>
    """
    response = html("http://example.org/index.html", body)
    dog = [Link(url="http://example.org/item2.html", text="Pic of a dog", nofollow=False)]
    assert LinkExtractor(restrict_text="dog").extract_links(response) == dog
    assert LinkExtractor(restrict_text=r"of.*dog").extract_links(response) == dog
    assert LinkExtractor(restrict_text=[r"of.*dog", r"of.*cat"]).extract_links(response) == [
        Link(url="http://example.org/item1.html", text="Pic of a cat", nofollow=False)] + dog


def test_rule_takes_the_new_extractor_arguments():
    """Not a Scrapy test: Rule(**LinkExtractor arguments) knows the arguments added here."""
    rule = Rule(restrict_xpaths="//p", restrict_text="dog", canonicalize=True, tags="*", deny_tags="img",
                deny_attrs="src")
    lx = rule.link_extractor
    assert lx.restrict_xpaths == ("//p",) and lx.canonicalize and lx.tags == {"*"}
    assert lx.restrict_text[0].pattern == "dog" and lx.deny_tags == {"img"} and lx.deny_attrs == {"src"}
