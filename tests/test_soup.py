"""The lean tree builder must build the very tree ``BeautifulSoup(text, "lxml")`` builds."""

import pickle

import pytest
from bs4 import BeautifulSoup, Comment, Doctype

from scrapepool.spiders.soup import LeanHTMLBuilder, make_soup

PAGES = {
    "plain": "<html><head><title>T</title></head><body><p>a<b>b</b>c</p></body></html>",
    "multi-valued": (
        '<div class="a  b\tc" id="x y"><a href="/p" rel="nofollow noopener" rev="r s">l</a>'
        '<table><tr><td headers="h1 h2">1</td><th headers="h3">2</th></tr></table>'
        '<form accept-charset="utf-8 latin1"></form><p class="">e</p>'
        '<iframe sandbox="allow-forms allow-scripts"></iframe><area rel="a b" href="/m"></div>'
    ),
    "namespaces": (
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:svg="http://www.w3.org/2000/svg" '
        'xml:lang="en"><body><p xml:lang="en" xlink:href="x" {urn:a}b="1">t</p>'
        '<svg:rect xlink:href="#a"/><svg viewBox="0 0 1 1"><use xlink:href="#b"/></svg>'
        '<math><mi>x</mi></math><{urn:t}odd>o</{urn:t}odd></body></html>'
    ),
    "comments-doctype-pi": (
        '<!DOCTYPE html><?xml-stylesheet href="s.css"?><html><!-- a comment -->'
        '<body><![CDATA[ raw ]]><p>x<!-- inner --></p></body></html>'
    ),
    "broken": '<p>one<p>two<div><span>unclosed</div></b></i><table><td>cell<tr>row</table><p',
    "entities-and-text": "<p>&amp; &lt;tag&gt; &eacute; &#x263A; caf\u00e9 \u65e5\u672c</p>  \n\t",
    "script-style": "<script>if (a < b && c > d) { x = '<a href=\"/no\">'; }</script>"
                    "<style>p > a { color: red }</style><noscript><a href='/ns'>n</a></noscript>",
    "attributes": '<INPUT TYPE=checkbox CHECKED Value=1 value=2><img src=a.png alt=""><br/><hr>',
    "template": "<template><a href='/t'>t</a></template><select><option selected>o</select>",
    "empty": "",
    "whitespace": "   \n ",
    "text-only": "just some text",
}


def tree(soup):
    """Everything a spider could look at: each node's kind, name, namespace, attributes, text."""
    out = []
    for node in soup.descendants:
        if getattr(node, "name", None) is None:
            out.append((type(node).__name__, str(node)))
        else:
            attrs = [(str(k), getattr(k, "namespace", None), getattr(k, "prefix", None), v)
                     for k, v in node.attrs.items()]
            out.append(("Tag", node.name, node.namespace, node.prefix, attrs,
                        node.can_be_empty_element, len(node.contents)))
    return out


@pytest.mark.parametrize("name", sorted(PAGES))
def test_same_tree_as_stock_lxml_builder(name):
    stock = BeautifulSoup(PAGES[name], "lxml")
    lean = make_soup(PAGES[name])
    assert isinstance(lean.builder, LeanHTMLBuilder)
    assert tree(lean) == tree(stock)
    assert str(lean) == str(stock)
    assert lean.decode(formatter="html") == stock.decode(formatter="html")


def test_multi_valued_attributes_are_lists_as_usual():
    soup = make_soup(PAGES["multi-valued"])
    assert soup.div["class"] == ["a", "b", "c"]
    assert soup.div["id"] == "x y"  # not a multi-valued attribute
    assert soup.a["rel"] == ["nofollow", "noopener"]
    assert soup.td["headers"] == ["h1", "h2"]
    assert soup.p["class"] == []  # class="" is an empty list, not [""]


def test_namespaced_markup_takes_the_stock_path():
    soup = make_soup(PAGES["namespaces"])
    odd = soup.find("p")
    names = {str(k): getattr(k, "namespace", None) for k in odd.attrs}
    assert names["b"] == "urn:a"  # the stock builder's reading of "{urn:a}b"


def test_comments_doctype_and_pickling():
    soup = make_soup(PAGES["comments-doctype-pi"])
    kinds = {type(n) for n in soup.descendants}
    assert Comment in kinds and Doctype in kinds
    again = pickle.loads(pickle.dumps(soup))
    assert str(again) == str(soup)


def test_every_bundled_demo_page():
    from scrapepool.demo.site import build_site

    pages = [p if isinstance(p, str) else p.body for p in build_site().values()]
    pages = [p if isinstance(p, str) else p.decode("utf-8") for p in pages]
    assert len(pages) > 50
    for text in pages:
        assert tree(make_soup(text)) == tree(BeautifulSoup(text, "lxml"))


def test_response_soup_uses_the_lean_builder():
    from scrapepool.spiders.http import Response

    resp = Response("http://example.test/", 200, {"Content-Type": "text/html"},
                    PAGES["multi-valued"].encode())
    assert isinstance(resp.soup.builder, LeanHTMLBuilder)
    assert [a["href"] for a in resp.soup.find_all(["a", "area"])] == ["/p", "/m"]
