"""Web correctness, content: which bodies are parsed, decoding in the HTML5 order, titles, malformed HTML."""

import pytest

from scrapepool.testing.testserver import Page
from tests.web_sites import CRAWL_SETTINGS, ROBOTS, by_path, page_requests, raw_serve, respond  # noqa: F401

pytestmark = [pytest.mark.timeout(30), CRAWL_SETTINGS]


def linked_from_home(pages, unlinked=()):
    """A site of ``pages`` (path -> page) linked from the home page, and of ``unlinked`` pages."""
    site = {"/robots.txt": ROBOTS, **pages}
    site["/"] = "".join(f'<a href="{p}">x</a>' for p in pages)
    site.update({p: "<title>unlinked</title>" for p in unlinked})
    return site


# -- what is parsed ------------------------------------------------------------------------------------

LINKED = b'<html><head><title>Has a title</title></head><body><a href="/from-%s">x</a></body></html>'


def test_only_html_is_parsed(crawl_spider):
    pages = {
        "/doc.pdf": Page(b"%PDF-1.4\n" + LINKED % b"pdf", content_type="application/pdf"),
        "/img.png": Page(b"\x89PNG\r\n\x1a\n" + LINKED % b"png", content_type="image/png"),
        "/data.json": Page(b'{"html": "' + (LINKED % b"json").replace(b'"', b'\\"') + b'"}',
                           content_type="application/json"),
        "/plain.txt": Page(LINKED % b"text", content_type="text/plain; charset=utf-8"),
        "/feed.xml": Page(b'<?xml version="1.0"?>' + LINKED % b"xml", content_type="application/xml"),
        "/octets": Page(LINKED % b"octets", content_type="application/octet-stream"),
        # HTML under every spelling of an HTML type
        "/html": Page(LINKED % b"html", content_type="text/html"),
        "/upper": Page(LINKED % b"upper", content_type="TEXT/HTML; Charset=UTF-8"),
        "/xhtml": Page(b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
                       b'<head><title>Has a title</title></head><body><a href="/from-xhtml">x</a></body></html>',
                       content_type="application/xhtml+xml"),
    }
    names = ("pdf", "png", "json", "text", "xml", "octets", "html", "upper", "xhtml")
    result = crawl_spider(None, linked_from_home(pages, unlinked=[f"/from-{name}" for name in names]))
    assert result.stats["finish_reason"] == "finished"
    server, recs = result.server, by_path(result.records)

    for p in ("/doc.pdf", "/img.png", "/data.json", "/plain.txt", "/feed.xml", "/octets"):
        r = recs[p]
        assert (r["status"], r["error"], r["title"], r["links"]) == (200, None, None, 0), p
    for p in ("/html", "/upper", "/xhtml"):
        assert (recs[p]["title"], recs[p]["links"]) == ("Has a title", 1), p
    assert sorted(p for p in page_requests(server) if p.startswith("/from-")) == [
        "/from-html", "/from-upper", "/from-xhtml"]


def test_a_body_without_content_type_is_sniffed(raw_serve, crawl_spider):
    pages = {
        "/doctype": b"\n<!DOCTYPE html><title>doctype</title><a href='/s1'>x</a>",
        "/comment-first": b"<!-- generated --><html><title>comment</title><a href='/s2'>x</a>",
        "/fragment": b"  <p>Just a paragraph with <a href='/s3'>a link</a>",
        "/bom": b"\xef\xbb\xbf<html><title>bom</title>",
        "/text": b"Plain words, then <a href='/never1'>markup</a>",
        "/binary": b"\x00\x01\x02<html><a href='/never2'>x</a>",
        "/json": b'{"a": "<html><a href=\'/never3\'>"}',
    }
    routes = {p: respond(body, content_type=None) for p, body in pages.items()}
    routes["/"] = respond("".join(f'<a href="{p}">x</a>' for p in pages))
    for p in ("/s1", "/s2", "/s3", "/never1", "/never2", "/never3"):
        routes[p] = respond("<title>t</title>")
    server = raw_serve(routes)
    records = crawl_spider(None, site=None, start=server.url + "/").records

    recs = by_path(records)
    assert [recs[p]["title"] for p in ("/doctype", "/comment-first", "/bom")] == ["doctype", "comment", "bom"]
    assert recs["/fragment"]["links"] == 1
    for p in ("/text", "/binary", "/json"):
        assert (recs[p]["title"], recs[p]["links"]) == (None, 0), p
    assert [server.count(p) for p in ("/s1", "/s2", "/s3")] == [1, 1, 1]
    assert [server.count(p) for p in ("/never1", "/never2", "/never3")] == [0, 0, 0]


def test_an_empty_content_type_is_sniffed_too(crawl_spider):
    result = crawl_spider(None, linked_from_home({
        "/e-html": Page("<html><title>sniffed</title></html>", content_type=""),
        "/e-text": Page("no markup here", content_type=""),
    }))
    assert result.stats["finish_reason"] == "finished"
    recs = by_path(result.records)
    assert recs["/e-html"]["title"] == "sniffed" and recs["/e-text"]["title"] is None


# -- decoding --------------------------------------------------------------------------------------------

def test_titles_decode_in_the_html5_order(crawl_spider):
    def page(title, encoding, content_type="text/html", head="", bom=b""):
        html = f"<html><head>{head}<title>{title}</title></head><body></body></html>"
        return Page(bom + html.encode(encoding), content_type=content_type)

    cases = {
        "/latin1-header": ("Café déjà vu", page("Café déjà vu", "latin-1", "text/html; charset=ISO-8859-1")),
        "/latin1-meta": ("Crème brûlée", page("Crème brûlée", "latin-1", head='<meta charset="iso-8859-1">')),
        "/latin1-undeclared": ("Señor Müller", page("Señor Müller", "latin-1")),
        "/cp1251-header": ("Привет, мир", page("Привет, мир", "windows-1251", "text/html; charset=windows-1251")),
        "/cp1251-meta": ("Привет, мир", page("Привет, мир", "windows-1251", head='<meta charset="windows-1251">')),
        "/cp1251-http-equiv": ("Москва", page("Москва", "windows-1251", head=(
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'))),
        "/utf8-undeclared": ("naïve ✓ 日本語", page("naïve ✓ 日本語", "utf-8")),
        "/utf8-no-type": ("naïve ✓ 日本語", page("naïve ✓ 日本語", "utf-8", content_type="")),
        # the header beats <meta>; a BOM beats both
        "/header-beats-meta": ("Ελληνικά", page("Ελληνικά", "utf-8", "text/html; charset=utf-8",
                                                 head='<meta charset="windows-1251">')),
        "/bom-beats-header": ("Ünïcödé", page("Ünïcödé", "utf-8", "text/html; charset=windows-1251",
                                               bom=b"\xef\xbb\xbf")),
        "/utf16-bom": ("Ünïcödé", Page("\ufeff<html><title>Ünïcödé</title></html>".encode("utf-16-le"),
                                       content_type="text/html")),
    }
    result = crawl_spider(None, linked_from_home({p: page_ for p, (_, page_) in cases.items()}))
    assert result.stats["finish_reason"] == "finished"
    recs = by_path(result.records)

    assert {p: recs[p]["title"] for p in cases} == {p: title for p, (title, _) in cases.items()}


# -- titles ----------------------------------------------------------------------------------------------

def test_titles_are_whitespace_normalised_and_empty_ones_are_null(crawl_spider):
    cases = {
        "/spaces": ("<title>\n   Hello \t\n  World  \r\n</title>", "Hello World"),
        "/entities": ("<title>Fish &amp; Chips&nbsp;&#8212; &lt;menu&gt;</title>", "Fish & Chips — <menu>"),
        "/empty": ("<html><head><title></title></head></html>", None),
        "/blank": ("<title> \n\t </title>", None),
        "/missing": ("<html><body><h1>No title</h1></body></html>", None),
        "/first": ("<title>First</title><title>Second</title>", "First"),
        "/in-body": ("<html><body><p>x</p><title>Late title</title></body></html>", "Late title"),
    }
    result = crawl_spider(None, linked_from_home({p: html for p, (html, _) in cases.items()}))
    assert result.stats["finish_reason"] == "finished"
    recs = by_path(result.records)

    assert {p: recs[p]["title"] for p in cases} == {p: title for p, (_, title) in cases.items()}


# -- malformed HTML ------------------------------------------------------------------------------------

def test_malformed_html_still_yields_its_links(site_server, crawl_spider):
    broken = """<HTML><HEAD><TITLE>Broken</TITLE><BODY>
<A HREF="/m1">upper-case tags
<a href=/m2>unquoted, never closed
<a href="/m3" class=>empty attribute
<div><p><a href="/m4">inside unclosed blocks
<a href="/m5" href="/m5-second">duplicate attribute: the first wins
<a  href = "/m6" >spaces around the equals sign
<table><tr><td><a href="/m7">in a table without its end tags
<a href="/m8"/>self-closed <a href="/m9"><a href="/m10">nested</a></a>
<a href="/m11" <b>a tag left open</b>
</html><a href="/m12">after the end</a>"""
    targets = [f"/m{i}" for i in range(1, 13)]
    site = {"/robots.txt": ROBOTS, "/": broken, "/m5-second": "<title>no</title>"}
    site.update({t: f"<title>{t}</title>" for t in targets})
    server = site_server(site)
    records = crawl_spider(None, server).records

    recs = by_path(records)
    assert recs["/"]["title"] == "Broken" and recs["/"]["links"] == 12
    assert sorted(recs) == sorted(["/"] + targets)
    assert server.count("/m5-second") == 0
