"""The built-in spider and LinkExtractor read links from lxml's tree (``response.selector``)
as they did from BeautifulSoup's (issue 15): the same links in the same order, the same
invalid-link counts, titles, ``<base href>`` handling and Link text/nofollow.

The soup-based extraction they replace is kept here, and only here, as the reference:
each nasty page below goes through both and the results must be equal. Where the two
trees give different answers, the lxml answer is Scrapy's (its LinkExtractor reads the
same parsel tree); those cases are listed in DIFFERENT and pinned one by one at the end.
"""

import re

import pytest
from bs4 import Tag

from scrapepool import Request, SiteSpider
from scrapepool.exceptions import PageTooLarge
from scrapepool.spiders.builtin import page_links, page_title
from scrapepool.spiders.http import Response
from scrapepool.spiders.rules import CrawlSpider, Link, LinkExtractor, Rule
from scrapepool.urls import InvalidURL, resolve

# -- the reference: the soup-based extraction as it was -------------------------------------------

_BASE_RE = re.compile(rb"<base\s", re.I)


def soup_base_url(response):
    """Response.base_url as it was: the first ``<base href>`` of the soup."""
    base = response.url
    if response.is_html and _BASE_RE.search(response.body):
        tag = response.soup.find("base", href=True)
        if tag is not None and tag["href"].strip():
            try:
                base = resolve(response.url, tag["href"].strip())[0]
            except InvalidURL as exc:
                response.note_invalid_link(tag["href"], exc)
    return base


def soup_page_links(response):
    seen = {}
    base = soup_base_url(response)
    hrefs = set()
    for tag in response.soup.descendants:
        if tag.__class__ is not Tag or tag.name not in ("a", "area"):
            continue
        href = tag.attrs.get("href")
        if not href or href in hrefs:
            continue
        hrefs.add(href)
        href = href.strip()
        if not href or href.startswith("#"):
            continue
        if href[:11].lower().startswith(("mailto:", "tel:", "javascript:", "data:", "ftp:")):
            continue
        try:
            url, canon = resolve(base, href)
        except InvalidURL as exc:
            response.note_invalid_link(href, exc)
            continue
        if canon is not None and canon not in seen:
            seen[canon] = url
    return seen


def soup_title(response):
    tag = response.soup.title
    if tag is None:
        return None
    return " ".join(tag.get_text().split()) or None


class SoupLinkExtractor(LinkExtractor):
    """LinkExtractor's extraction as it was, from the soup (restrict_css by soupsieve;
    restrict_xpaths went through lxml already, so it has no soup reference)."""

    def _raw_links(self, response):
        assert not self.restrict_xpaths
        base = soup_base_url(response)
        encoding = response.encoding
        regions = [response.soup] if not self.restrict_css else \
            [el for css in self.restrict_css for el in response.soup.select(css)]
        seen = {}
        for region in regions:
            nodes = [region] if region.name != "[document]" else []
            nodes.extend(region.descendants)
            for el in nodes:
                if not isinstance(el, Tag) or el.name in self.deny_tags or id(el) in seen:
                    continue
                if not ("*" in self.tags or el.name in self.tags):
                    continue
                seen[id(el)] = el
                yield from self._links_of(el, base, encoding, response)

    def _links_of(self, el, base, encoding, response):
        text = None
        names = el.attrs if "*" in self.attrs else self.attrs
        for name in names:
            value = el.attrs.get(name)
            if name in self.deny_attrs or value is None:
                continue
            # The URL step is the extractor's own: what is compared here is the tree.
            url = self._link_url(" ".join(value) if isinstance(value, list) else value, base, encoding,
                                 response)
            if url is None:
                continue
            if text is None:
                text = " ".join(el.get_text().split())
            rel = el.attrs.get("rel") or ()
            rel = rel.split() if isinstance(rel, str) else rel
            yield Link(url, text, "nofollow" in (r.lower() for r in rel))


# -- the pages ------------------------------------------------------------------------------------

PAGES = {
    "broken": '<p>one<a href="/b1">b1<p>two<div><a href="/b2"><a href="/b3">nested</a></div></b></i>'
              '<table><td><a href=/b4>cell</a><tr>row</table><a href="/b5"',
    "after-html": '<html><body><a href="/x1">x</a></body></html>\n<script>s()</script>'
                  '<a href="/after-html">after</a><title>Late</title><!-- c --><a href="/x1">again</a>',
    "after-body": '<html><body><a href="/x1">x</a></body><a href="/after-body">after</a></html>',
    "unclosed-attr": '<a href="/u1>u1</a><a href="/u2">u2</a><a href=\'/u3">u3</a><a href=/u4 >u4</a>',
    "tail-lt": '<title>T</title><a href="/z">z</a><',
    "nested-html": '<html><body><html><body><a href="/n1">1</a><title>Inner</title></body></html>'
                   '</body></html>',
    "comments": '<!-- <a href="/c1">c</a> --><a href="/real">r</a><!--[if IE]><a href="/ie">ie</a>'
                '<![endif]-->'
                '<!--><a href="/after-empty-comment">e</a><!-- unterminated <a href="/c2">',
    "scripts": '<head><title>S</title><script>document.write(\'<a href="/s1">s</a>\'); if (a<b) {}</script>'
               '<style>a[href="/s2"]{}</style></head><body><noscript><a href="/ns">ns</a></noscript>'
               '<textarea><a href="/ta">ta</a></textarea><xmp><a href="/xmp">x</a></xmp>'
               '<iframe><a href="/if">if</a></iframe><a href="/after">after</a></body>',
    "cdata-pi": '<![CDATA[<a href="/cdata">c</a>]]><?php echo \'<a href="/php">\' ?><a href="/real">r</a>',
    "plaintext": '<a href="/before">b</a><plaintext><a href="/inside-plaintext">p</a>',
    "namespaces": '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:svg="http://www.w3.org/2000/svg"'
                  ' xml:lang="en">'
                  '<body><svg><a xlink:href="/svg1">s</a><a href="/svg2">s2</a><title>svg title</title></svg>'
                  '<svg:a href="/svgns">n</svg:a><math><a href="/math">m</a></math>'
                  '<a xml:lang="en" href="/ns-ok">ok</a></body></html>',
    "svg-title-first": '<body><svg><title>Icon</title></svg><title>Real</title></body>',
    "area": '<map name=m><area href="/ar1" alt="one"><AREA HREF="/ar2"></map>'
            '<area href="/ar3" rel="nofollow">'
            '<area alt="no href"><a href="/a">a</a>',
    "uppercase": '<HTML><HEAD><TITLE>Upper  Case</TITLE><BASE HREF="http://other.test/dir/"></HEAD>'
                 '<BODY><A HREF="x" REL="NOFOLLOW">X</A><A href="y">Y</A><Area Href="z"></BODY></HTML>',
    "entities": '<a href="/e?a=1&amp;b=2">1</a><a href="/&hearts;/you?c=&euro;">2</a>'
                '<a href="/&#x2F;x&#47;y">3</a>'
                '<a href="/c?x=1&copy=2">4</a><a href="/n&nbsp;b">5</a><a href="/u&foo;v">6</a>'
                '<a href="/z&#0;z">7</a>'
                '<a href="&#x68;ttp://ent.test/">8</a><a href="/lt&lt;gt&gt;">9</a>'
                '<a href="/caf\u00e9?q=\u00e9">10</a>',
    "whitespace": '<a href="  /w1  ">1</a><a href="\t/w2\n">2</a><a href="\n\n">3</a><a href="/w 4">4</a>'
                  '<a href="\xa0/w5\xa0">5</a><a href=" # top">6</a><a href="/w7\r\n/x">7</a>'
                  '<a href=" mailto:x@y">8</a><a href="">9</a><a>10</a>',
    "bases": '<head><base target="_blank"><base href="sub/"><base href="http://ignored.test/"></head>'
             '<a href="x">x</a>',
    "base-in-body": '<body><a href="a">a</a><base href="http://late.test/"><a href="b">b</a></body>',
    "base-blank": '<base href="  "><base href="http://second.test/"><a href="x">x</a>',
    "base-bad": '<base href="http://[::1"><a href="x">x</a><a href="http://[::1">y</a>',
    "base-in-comment": '<!-- <base href="http://commented.test/"> --><a href="x">x</a>',
    "titles": '<title>\n  First\t title \n</title><title>Second</title>',
    "title-in-body": '<body><p>x</p><title>Body title</title></body>',
    "title-markup": '<title>A <b>bold</b> &amp; <!-- c --> title&nbsp;!</title>',
    "title-blank": '<title>   </title><a href="/x">x</a>',
    "title-script": '<script>document.title = "<title>no</title>"</script><title>Yes</title>',
    "no-title": '<p>no title</p>',
    "dup-attrs": '<a href="/d1" href="/d2">d</a><a rel="nofollow" rel="x" href="/d3">d3</a>',
    "deep": '<div>' * 300 + '<a href="/deep">deep</a>' + '</div>' * 300 + '<a href="/after-deep">after</a>',
    "deep-unclosed": '<div>' * 400 + '<a href="/deep2">deep</a><a href="/deep3">x</a>',
    "bom-leading-space": '\ufeff  \n <!doctype html><title>B</title><a href="/bom">b</a>',
    "frames": '<frameset><frame src="/f1"></frameset><noframes><a href="/nf">nf</a></noframes>',
    "select-table": '<select><option><a href="/opt">o</a></option></select><table><a href="/foster">f</a>'
                    '<tr><td>c</td></tr></table>',
    "nofollow": '<a href="/r1" rel="NoFollow">1</a><a href="/r2" rel="external  nofollow">2</a>'
                '<a href="/r3" rel="nofollow,noopener">3</a><a href="/r4" rel="">4</a>'
                '<a href="/r5" rel="\tnofollow\n">5</a>',
    "link-text": '<a href="/t2">a<!-- c -->b<br>c&nbsp;d <b> bold </b><img alt="img"></a><a href="/t4">'
                 '<img alt="i"></a>',
    "schemes": '<a href="mailto:x@y">m</a><a href="JavaScript:void(0)">j</a><a href="tel:1">t</a>'
               '<a href="ftp://f/x">f</a>'
               '<a href="data:text/html,x">d</a><a href="irc://h/">i</a><a href="//proto.test/p">p</a>'
               '<a href="HTTP://UP.TEST/X">u</a><a href="///three.test/q">3</a>',
    "bad-hrefs": '<a href="http://[::1">b</a><a href="http://h:0/">b</a><a href="http://bad&#1;host/">c</a>'
                 '<a href="/ok">ok</a><a href="http://[::1">again</a><a href="http://h:99999/">p</a>',
    "repeats": '<a href="/r">1</a><a href="/r">2</a><a href="/r#f">3</a><a href="./r">4</a>'
               '<a href="/r?">5</a>'
               '<a href="/q?b=2&a=1">6</a><a href="/q?a=1&b=2">7</a>',
    "extensions": '<a href="/f.pdf">p</a><a href="/i.JPG">j</a><a href="/ok.html">h</a><img src="/img.png">'
                  '<link rel="stylesheet" href="/s.css"><div data-url="/dv">d</div>',
    "long-attr": '<a href="/' + "x" * 20000 + '">long</a><a href="/short">s</a>',
    "text-only": "just text <no tags here",
    "empty": "",
    "whitespace-only": "  \n\t ",
}

#: Pages whose answers differ between the trees, and why; each is pinned in a test below.
DIFFERENT = {
    "scripts-in-links": '<a href="/t1">one <script>var x = 1;</script>two</a><a href="/t3">'
                        '<style>p{}</style>st</a>'
                        '<template><a href="/tpl">t</a></template>',
    "nul": '<a href="/n\x00ul">n</a><title>T\x00itle</title>',
    "multi-valued": '<a href="/m1" class="a  b" rel="a\tb">m</a><area nohref>',
}

#: Extractors compared on every page (none with restrict_xpaths: that was lxml already).
EXTRACTORS = {
    "default": {},
    "every-tag-attr": dict(tags="*", attrs="*", deny_extensions=(), deny_attrs=("class", "rel", "nohref")),
    "repeats": dict(unique=False, canonicalize=True),
    "img-link": dict(tags=("img", "link", "a"), attrs=("src", "href"), deny_tags="a", deny_extensions="png"),
    "css": dict(restrict_css=("body", "div a", "map")),
    "filters": dict(allow=r"/[a-z]+\d", deny=r"2", process_value=lambda v: None if "b5" in v else v),
}

URL = "http://site.test/dir/page.html"


def html(text, encoding="utf-8", url=URL):
    return Response(url, 200, {"Content-Type": f"text/html; charset={encoding}"}, text.encode(encoding))


def encodings(text):
    """UTF-8, and the single- and multi-byte encodings that can hold the page."""
    for enc in ("utf-8", "cp1252", "shift_jis"):
        try:
            text.encode(enc)
        except UnicodeEncodeError:
            continue
        yield enc


def old_and_new(text, encoding, old, new):
    """``(old(response), invalid_links), (new(response), invalid_links)``, each on a fresh response."""
    a, b = html(text, encoding), html(text, encoding)
    return (old(a), a.invalid_links), (new(b), b.invalid_links)


# -- the comparisons ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_links_and_title_are_the_soups(name):
    for enc in encodings(PAGES[name]):
        old, new = old_and_new(PAGES[name], enc, lambda r: (list(soup_page_links(r).items()), soup_title(r)),
                               lambda r: (list(page_links(r).items()), page_title(r)))
        assert new == old, enc


@pytest.mark.parametrize("config", sorted(EXTRACTORS))
@pytest.mark.parametrize("name", sorted(PAGES))
def test_link_extractor_gives_the_soups_links(name, config):
    for enc in encodings(PAGES[name]):
        old, new = old_and_new(PAGES[name], enc, SoupLinkExtractor(**EXTRACTORS[config]).extract_links,
                               LinkExtractor(**EXTRACTORS[config]).extract_links)
        assert new == old, enc


def test_the_pages_give_the_comparisons_something_to_compare():
    """No comparison above is [] == [] for want of links."""
    found = [soup_page_links(html(text)) for text in PAGES.values()]
    assert sum(map(len, found)) > 70
    titles = [soup_title(html(text)) for text in PAGES.values()]
    empty = [name for name, links, title in zip(PAGES, found, titles, strict=True)
             if not links and title is None]
    assert sorted(empty) == ["empty", "frames", "no-title", "text-only", "whitespace-only"]
    counted = [html(text) for text in PAGES.values()]
    for response in counted:
        soup_page_links(response)
    assert sum(r.invalid_links for r in counted) == 5  # bad-hrefs: 4 distinct; base-bad: 1
    assert sum(title is not None for title in titles) >= 12
    extracted = {name: SoupLinkExtractor(**kw).extract_links(html(PAGES["extensions"] + PAGES["area"]))
                 for name, kw in EXTRACTORS.items()}
    assert all(extracted.values()), extracted


def test_the_spider_record_and_requests_are_the_soups():
    text = PAGES["uppercase"] + PAGES["entities"] + PAGES["repeats"]
    out = list(SiteSpider().parse(html(text)))
    record, requests = out[0], out[1:]
    reference = soup_page_links(html(text))
    assert record["title"] == soup_title(html(text)) == "Upper Case"
    assert record["links"] == len(reference) > 10
    assert all(isinstance(r, Request) for r in requests)
    assert [r.url for r in requests] == list(reference.values())


def test_neither_extraction_builds_a_soup():
    """The point of it all: lxml's tree is ~7x cheaper to build (see builtin.py)."""
    for text in (PAGES["bases"], PAGES["entities"]):
        response = html(text)
        list(SiteSpider().parse(response))
        rules = CrawlSpider()
        rules._rules = [(Rule(restrict_css="a"), None, None, None)]
        list(rules._requests_to_follow(response))
        LinkExtractor(restrict_xpaths="//a").extract_links(response)
        assert response._selector is not None and response._soup is None


def test_max_elements_stops_the_tree_before_it_is_built():
    text = "<div>" + '<a href="/x">x</a>' * 200 + "</div>"
    spider = SiteSpider()
    for extract in (page_links, page_title, LinkExtractor().extract_links, lambda r: list(spider.parse(r))):
        response = Response(URL, 200, {"Content-Type": "text/html"}, text.encode(), max_elements=100)
        with pytest.raises(PageTooLarge):
            extract(response)
        assert response._selector is None and response._soup is None
    response = Response(URL, 200, {"Content-Type": "text/html"}, text.encode(), max_elements=1000)
    assert list(page_links(response)) == ["http://site.test/x"]


def test_restrict_xpaths_reads_the_same_tree_regions_and_all():
    """restrict_xpaths read a tree of its own (lxml.html's, without huge_tree): now the selector's."""
    response = html(PAGES["deep"])
    assert [link.url for link in LinkExtractor(restrict_xpaths="//body").extract_links(response)] == [
        "http://site.test/deep", "http://site.test/after-deep"]  # past lxml's default depth of 256
    assert LinkExtractor(restrict_xpaths="//p").extract_links(html("")) == []  # was: ParserError
    # XPath and CSS regions together, nested and repeated: each element once, XPath regions first.
    response = html('<div id=a><p><a href="/1">1</a></p><a href="/2">2</a></div><p><a href="/3">3</a></p>')
    ex = LinkExtractor(restrict_xpaths=("//p", "//p"), restrict_css=("#a", "a"), unique=False)
    assert [link.url[-1] for link in ex.extract_links(response)] == ["1", "3", "2"]


def test_content_after_the_end_of_the_html_element_is_kept():
    """lxml puts it in a second <html>, a sibling of the root, which a walk of the root
    (as Scrapy's LinkExtractor does) misses; the soup kept it, and so do we."""
    response = html(PAGES["after-html"])
    assert len(list(response.selector.root.itersiblings())) >= 1
    assert [a.get("href") for a in response.selector.root.iter("a")] == ["/x1"]
    assert list(page_links(response)) == ["http://site.test/x1", "http://site.test/after-html"]
    assert page_title(response) == "Late"
    assert [link.url for link in LinkExtractor(restrict_css="a").extract_links(response)] == [
        "http://site.test/x1", "http://site.test/after-html"]


def test_restrict_css_is_cssselect_as_in_scrapy():
    """CSS is translated once, when the extractor is made, by parsel's translator (cssselect),
    as Scrapy does: soupsieve's own extensions fail there and then, not on every page."""
    with pytest.raises(Exception, match="soup-contains"):
        LinkExtractor(restrict_css="a:-soup-contains('x')")
    response = html('<a href="/1">one</a><p class=x><a href="/2">two</a></p>')
    ex = LinkExtractor(restrict_css=("p:has(a)", "a:contains('one')"))
    assert [link.url for link in ex.extract_links(response)] == [
        "http://site.test/2", "http://site.test/1"]  # the selectors' regions in their order, as before


# -- where the trees differ: Scrapy's answers -------------------------------------------------------

def test_link_text_is_the_xpath_string_of_the_element_as_scrapys():
    """BeautifulSoup leaves out the text of a <script>, <style> or <template> inside a
    link; Scrapy's Link.text is XPath string(), every text node. A <template>'s links
    are links to soupsieve's restrict_css no more than they are in a browser; to lxml
    (and Scrapy) they are."""
    text = DIFFERENT["scripts-in-links"]
    old, new = old_and_new(text, "utf-8", SoupLinkExtractor().extract_links, LinkExtractor().extract_links)
    assert [link.text for link in old[0]] == ["one two", "st", ""]
    assert [link.text for link in new[0]] == ["one var x = 1;two", "p{}st", "t"]
    assert [link.url for link in LinkExtractor(restrict_css="template a").extract_links(html(text))] == [
        "http://site.test/tpl"]
    assert SoupLinkExtractor(restrict_css="template a").extract_links(html(text)) == []
    # the built-in spider reads no text: its links are the same
    assert list(page_links(html(text))) == list(soup_page_links(html(text)))


def test_nul_characters_are_dropped_as_parsel_drops_them():
    """parsel removes NUL from the text before lxml parses it; the soup turned it into U+FFFD."""
    text = DIFFERENT["nul"]
    response = html(text)
    assert list(page_links(response)) == ["http://site.test/nul"] and page_title(response) == "Title"
    assert list(soup_page_links(html(text))) == ["http://site.test/n%EF%BF%BDul"]
    assert soup_title(html(text)) == "T\ufffditle"


def test_multi_valued_and_boolean_attributes_are_read_as_written():
    """With attrs naming class or rel (or "*"), the soup joined its split value with single
    spaces, and gave a bare boolean attribute the value ""; lxml gives the value as written
    (and a boolean attribute its own name), as Scrapy's extractor reads it."""
    text = DIFFERENT["multi-valued"]
    ex = dict(tags="*", attrs="*", deny_extensions=())
    old, new = old_and_new(text, "utf-8", SoupLinkExtractor(**ex).extract_links,
                           LinkExtractor(**ex).extract_links)
    assert [link.url for link in old[0]] == ["http://site.test/m1", "http://site.test/dir/a%20b"]
    assert [link.url for link in new[0]] == ["http://site.test/m1", "http://site.test/dir/a%20%20b",
                                             "http://site.test/dir/ab", "http://site.test/dir/nohref"]
