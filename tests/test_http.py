"""Request and Response: plain data, link resolution, decoding, the callback check."""

import pickle

import pytest
from requests.structures import CaseInsensitiveDict

from scrapepool import CallbackError, Request, Response, Spider
from scrapepool.spiders.http import _callback_name
from tests.spiders import TwoCallbacks


def html_response(body, url="http://example.com/dir/page.html", content_type="text/html; charset=utf-8",
                  **kw):
    headers = CaseInsensitiveDict({"Content-Type": content_type} if content_type else {})
    if isinstance(body, str):
        body = body.encode("utf-8")
    return Response(url, 200, headers, body, **kw)


# -- Request -----------------------------------------------------------------------------------

def test_request_is_plain_data_through_pickle():
    req = Request("http://example.com/x?a=1", callback="parse_item", method="post",
                  headers={"X-A": "1"}, body="é=1", meta={"k": [1, "two"]}, priority=3,
                  dont_filter=True, errback="on_error")
    data = pickle.dumps(req)
    assert b"scrapepool.spiders.spider" not in data and b"TwoCallbacks" not in data
    copy = pickle.loads(data)
    assert type(copy) is Request
    for name in Request.__slots__:
        assert getattr(copy, name) == getattr(req, name), name
    assert (copy.method, copy.body) == ("POST", "é=1".encode("utf-8"))
    assert (copy.callback, copy.errback, copy.priority, copy.dont_filter) == ("parse_item", "on_error", 3, True)


def test_request_defaults_and_url_type():
    req = Request("http://example.com/")
    assert (req.callback, req.method, req.headers, req.body, req.meta, req.priority, req.dont_filter,
            req.errback) == (None, "GET", None, None, {}, 0, False, None)
    with pytest.raises(TypeError):
        Request(b"http://example.com/")


def test_request_meta_is_copied():
    meta = {"a": 1}
    req = Request("http://example.com/", meta=meta)
    meta["a"] = 2
    assert req.meta == {"a": 1}


# -- links -------------------------------------------------------------------------------------

def test_urljoin_without_base():
    r = html_response("<html><a href='x'>x</a></html>")
    assert r.base_url == "http://example.com/dir/page.html"
    assert r.urljoin("other.html") == "http://example.com/dir/other.html"
    assert r.urljoin("  ../up.html ") == "http://example.com/up.html"
    assert r.urljoin("/root") == "http://example.com/root"
    assert r.urljoin("?q=1") == "http://example.com/dir/page.html?q=1"
    assert r.urljoin("https://other.org/a") == "https://other.org/a"


@pytest.mark.parametrize("href, expected", [
    ("http://cdn.example.org/base/", "http://cdn.example.org/base/x.html"),
    ("/sub/", "http://example.com/sub/x.html"),
    ("../", "http://example.com/x.html"),
])
def test_urljoin_with_base_href(href, expected):
    r = html_response(f'<html><head><BASE HREF="{href}"></head><body><a href="x.html">x</a></body></html>')
    assert r.urljoin("x.html") == expected
    assert r.follow("x.html").url == expected


def test_base_href_is_ignored_in_non_html():
    r = html_response(b'<base href="http://evil/">', content_type="text/plain")
    assert r.urljoin("x") == "http://example.com/dir/x"


def test_follow_with_a_string_and_with_a_tag():
    spider = TwoCallbacks()
    r = html_response('<a class="go" href=" ../next.html#frag ">next</a><a id="none">no href</a>')
    req = r.follow("item.html", callback=spider.parse_item, meta={"from": "here"}, priority=2)
    assert isinstance(req, Request)
    assert (req.url, req.meta, req.priority) == ("http://example.com/dir/item.html", {"from": "here"}, 2)
    assert req.callback == spider.parse_item
    tag = r.select_one("a.go")
    req = r.follow(tag)
    assert req.url == "http://example.com/next.html#frag"
    assert req.callback is None and req.meta == {}


def test_soup_is_built_once():
    r = html_response("<html><head><title>T</title></head><body><p class='a'>1</p><p class='a'>2</p></body></html>")
    soup = r.soup
    assert r.soup is soup
    assert r.soup.title.string == "T"
    assert [p.get_text() for p in r.select("p.a")] == ["1", "2"]
    assert r.select_one("p").get_text() == "1"
    assert r.soup is soup


def test_json_and_is_html():
    r = html_response(b'{"a": [1, "\xc3\xa9"]}', content_type="application/json")
    assert r.json() == {"a": [1, "é"]}
    assert not r.is_html
    assert html_response(b"<!DOCTYPE html><p>x", content_type=None).is_html
    assert not html_response(b"just text", content_type=None).is_html
    assert html_response(b"x", content_type="application/xhtml+xml").is_html


# -- decoding ----------------------------------------------------------------------------------

def test_latin1_from_content_type():
    r = html_response("<p>café déjà</p>".encode("latin-1"), content_type="text/html; charset=ISO-8859-1")
    assert "café déjà" in r.text


def test_windows_1251_from_content_type_beats_meta():
    body = '<meta charset="utf-8"><p>Привет, мир</p>'.encode("windows-1251")
    r = html_response(body, content_type="text/html; charset=windows-1251")
    assert "Привет, мир" in r.text


def test_windows_1251_from_meta_charset():
    body = '<html><head><meta charset="windows-1251"><title>Привет</title></head></html>'.encode("windows-1251")
    r = html_response(body, content_type="text/html")
    assert "Привет" in r.text
    assert r.soup.title.string == "Привет"


def test_latin1_from_meta_http_equiv():
    body = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1">'
            '</head><p>façade</p></html>').encode("latin-1")
    assert "façade" in html_response(body, content_type="text/html").text


def test_undeclared_utf8():
    r = html_response("<p>naïve ✓ 日本</p>".encode("utf-8"), content_type="text/html")
    assert "naïve ✓ 日本" in r.text
    assert html_response("<p>naïve ✓</p>".encode("utf-8"), content_type=None).text == "<p>naïve ✓</p>"


def test_utf8_bom_wins():
    body = b"\xef\xbb\xbf" + "<p>ünï</p>".encode("utf-8")
    assert "ünï" in html_response(body, content_type="text/html; charset=iso-8859-1").text


# -- callback names ----------------------------------------------------------------------------

class Other(Spider):
    def parse(self, response):
        return None

    def parse_item(self, response):
        return None


def test_callback_name_of_own_methods():
    spider = TwoCallbacks()
    assert _callback_name(spider, None) is None
    assert _callback_name(spider, spider.parse_item) == "parse_item"
    assert _callback_name(spider, spider.parse) == "parse"
    assert _callback_name(spider, "parse_item") == "parse_item"


@pytest.mark.parametrize("make", [
    lambda spider: (lambda response: None),
    lambda spider: TwoCallbacks().parse_item,  # the same method of another instance
    lambda spider: Other().parse_item,  # same name, another spider class
    lambda spider: print,
    lambda spider: "no_such_method",
    lambda spider: "name",  # an attribute, not a method
], ids=["lambda", "other-instance", "other-class", "builtin", "missing-name", "not-callable"])
def test_callback_name_refuses_anything_else(make):
    spider = TwoCallbacks()
    with pytest.raises(CallbackError) as info:
        _callback_name(spider, make(spider))
    assert "TwoCallbacks" in str(info.value)
    assert "\n" not in str(info.value)


def test_errback_is_named_in_the_message():
    with pytest.raises(CallbackError, match="errback"):
        _callback_name(TwoCallbacks(), lambda failure: None, "errback")
