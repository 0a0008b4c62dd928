"""Forms (issue 7): FormRequest, FormRequest.from_response, and crawls of a view-state search
form and a paginated JSON API through the real engine."""

from urllib.parse import parse_qsl

import pytest

from scrapepool import Request, Response
from scrapepool.spiders.forms import FormRequest, post_form
from tests.real_world_sites import CRAWL_SETTINGS, SearchSite, api_site, form_pairs
from tests.real_world_spiders import ApiSpider, SearchFormSpider


def html_response(body, url="http://example.com/dir/page.html", charset="utf-8"):
    if isinstance(body, str):
        body = body.encode(charset)
    return Response(url, 200, {"Content-Type": f"text/html; charset={charset}"}, body)


def pairs(req):
    return parse_qsl(req.body.decode("ascii"), keep_blank_values=True)


# -- FormRequest ------------------------------------------------------------------------------------

def test_form_request_posts_urlencoded_data():
    req = FormRequest("http://h/login", {"user": "a b", "tags": ["x", "y"], "n": 1}, callback="after",
                      meta={"k": 1})
    assert isinstance(req, Request)
    assert req.method == "POST" and req.url == "http://h/login"
    assert req.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    assert req.body == b"user=a+b&tags=x&tags=y&n=1"
    assert req.callback == "after" and req.meta == {"k": 1}


def test_form_request_keeps_a_given_content_type_and_other_headers():
    req = FormRequest("http://h/p", [("a", "1"), ("a", "2")], headers={"content-type": "text/plain", "X": "y"})
    assert req.headers == {"content-type": "text/plain", "X": "y"}
    assert req.body == b"a=1&a=2"


def test_form_request_get_replaces_the_query():
    req = FormRequest("http://h/search?lang=en#top", {"q": "café"}, method="get")
    assert req.method == "GET" and req.body is None
    assert req.url == "http://h/search?q=caf%C3%A9"  # as a browser's GET form, and Scrapy
    assert FormRequest("http://h/s?keep=1", {}, method="GET").url == "http://h/s?keep=1"  # no data: as given
    assert FormRequest("http://h/s", {"q": "1"}, method="GET").url == "http://h/s?q=1"


def test_post_form():
    req = post_form("http://h/api", {"a": "1"}, callback="cb")
    assert (req.method, req.body, req.callback) == ("POST", b"a=1", "cb")
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"


# -- from_response ----------------------------------------------------------------------------------

PAGE = """<html><head><base href="http://example.com/app/"></head><body>
<form id="first" action="/subscribe"><input name="email" value="e@x"></form>
<form id="main" name="mainform" method="POST" action="search.aspx?x=1#frag">
  <input type="hidden" name="__VIEWSTATE" value="dDwtMTA4MzE0MjEwNTs7Pg==">
  <input type="hidden" name="csrf" value="tok">
  <input name="q" value="old">
  <input name="untyped_novalue">
  <input name="off" value="no" disabled>
  <fieldset disabled><input name="in_disabled_fieldset" value="no"></fieldset>
  <input type="checkbox" name="c1" value="yes" checked>
  <input type="checkbox" name="c2" value="no">
  <input type="checkbox" name="c3" checked>
  <input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>
  <select name="s"><option value="1">One</option><option value="2" selected>Two</option></select>
  <select name="first_option"><option> First  one </option><option>Second</option></select>
  <select name="m" multiple><option selected>A</option><option>B</option><option value="c" selected>C</option></select>
  <select name="m_none" multiple><option>A</option></select>
  <textarea name="t">hello
world</textarea>
  <input type="file" name="upload">
  <input type="reset" name="rs" value="Reset"><input type="button" name="bt" value="Button">
  <input type="submit" name="go" value="Search">
  <input type="submit" name="go2" value="Other">
  <button name="b" value="bv">Button</button>
  <input type="image" name="img" src="x.png">
</form>
<input form="main" name="outside" value="o">
</body></html>"""

MAIN_FIELDS = [("__VIEWSTATE", "dDwtMTA4MzE0MjEwNTs7Pg=="), ("csrf", "tok"), ("q", "old"),
               ("untyped_novalue", ""), ("c1", "yes"), ("c3", "on"), ("r", "b"), ("s", "2"),
               ("first_option", "First one"), ("m", "A"), ("m", "c"), ("t", "hello\r\nworld"),
               ("upload", "")]


def test_from_response_collects_fields_like_a_browser():
    req = FormRequest.from_response(html_response(PAGE), formcss="form#main", callback="cb",
                                    meta={"m": 1}, dont_filter=True)
    assert req.method == "POST"
    assert req.url == "http://example.com/app/search.aspx?x=1"  # against <base>, fragment dropped
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert pairs(req) == MAIN_FIELDS + [("go", "Search"), ("outside", "o")]
    assert (req.callback, req.meta, req.dont_filter) == ("cb", {"m": 1}, True)


def test_formdata_overrides_in_place_removes_with_none_and_appends_new_names():
    req = FormRequest.from_response(html_response(PAGE), formid="main",
                                    formdata={"q": "new", "csrf": None, "m": ["x", "y"], "extra": "1"})
    got = pairs(req)
    assert ("csrf", "tok") not in got and "csrf" not in dict(got)
    assert got[:3] == [("__VIEWSTATE", "dDwtMTA4MzE0MjEwNTs7Pg=="), ("q", "new"), ("untyped_novalue", "")]
    assert [v for k, v in got if k == "m"] == ["x", "y"]
    assert got[-1] == ("extra", "1")


@pytest.mark.parametrize("clickdata, expected", [
    (None, [("go", "Search")]),
    ({"value": "Other"}, [("go2", "Other")]),
    ({"name": "b"}, [("b", "bv")]),
    ({"nr": 1}, [("go2", "Other")]),
    ({"name": "img"}, [("img.x", "0"), ("img.y", "0")]),
])
def test_clickdata_picks_the_submit_button(clickdata, expected):
    req = FormRequest.from_response(html_response(PAGE), formname="mainform", clickdata=clickdata)
    assert pairs(req) == MAIN_FIELDS + expected + [("outside", "o")]


def test_dont_click_and_unknown_button():
    req = FormRequest.from_response(html_response(PAGE), formid="main", dont_click=True)
    assert pairs(req) == MAIN_FIELDS + [("outside", "o")]
    with pytest.raises(ValueError, match="No clickable element matching clickdata"):
        FormRequest.from_response(html_response(PAGE), formid="main", clickdata={"value": "Nope"})


def test_formnumber_and_get_form_replaces_the_query():
    resp = html_response(PAGE)
    req = FormRequest.from_response(resp)  # the first form: GET to an absolute path
    assert (req.method, req.url, req.body) == ("GET", "http://example.com/subscribe?email=e%40x", None)
    assert FormRequest.from_response(resp, formnumber=1).url == "http://example.com/app/search.aspx?x=1"
    with pytest.raises(ValueError, match="form number 5"):
        FormRequest.from_response(resp, formnumber=5)
    with pytest.raises(ValueError, match="No <form> element found with the CSS selector"):
        FormRequest.from_response(resp, formcss="form#missing")
    with pytest.raises(ValueError, match="No <form> element found in"):
        FormRequest.from_response(html_response("<p>no form</p>"))


def test_formcss_may_select_an_element_inside_the_form():
    req = FormRequest.from_response(html_response(PAGE), formcss="input[name=csrf]")
    assert ("csrf", "tok") in pairs(req)


def test_empty_action_is_the_page_url_and_get_query_is_replaced():
    page = '<form><input name="q" value="1"><input type="submit" name="s" value="ok"></form>'
    resp = html_response(page, url="http://h/list?page=2&q=0")
    req = FormRequest.from_response(resp)
    assert (req.method, req.url) == ("GET", "http://h/list?q=1&s=ok")
    post = FormRequest.from_response(html_response('<form method="post" action=" "><input name="a" value="1"></form>',
                                                   url="http://h/x?y=1"))
    assert (post.method, post.url, post.body) == ("POST", "http://h/x?y=1", b"a=1")


def test_button_formaction_formmethod_and_overrides():
    page = """<form action="/save" method="post"><input name="a" value="1">
      <button type="submit" name="save" value="1">Save</button>
      <button type="submit" name="preview" value="1" formaction="/preview" formmethod="get">Preview</button>
      <button type="button" name="nope">JS</button></form>"""
    resp = html_response(page, url="http://h/edit")
    assert FormRequest.from_response(resp).url == "http://h/save"
    req = FormRequest.from_response(resp, clickdata={"name": "preview"})
    assert (req.method, req.url) == ("GET", "http://h/preview?a=1&preview=1")
    req = FormRequest.from_response(resp, url="http://h/other", method="PUT")
    assert (req.method, req.url) == ("GET", "http://h/other?a=1&save=1")  # only GET and POST exist


def test_disabled_buttons_are_not_clicked_and_unknown_methods_are_get():
    page = """<form method="dialog"><input name="a" value="1">
      <input type="submit" name="x" value="1" disabled><input type="submit" name="y" value="2"></form>"""
    req = FormRequest.from_response(html_response(page, url="http://h/p"))
    assert (req.method, req.url) == ("GET", "http://h/p?a=1&y=2")


def test_data_is_encoded_in_the_page_encoding():
    page = '<form method="post"><input name="city" value="Zürich"></form>'
    # latin-1 pages are windows-1252 (as browsers read them); what it cannot hold goes as a character reference
    req = FormRequest.from_response(html_response(page, charset="iso-8859-1"), formdata={"sign": "€Ж"})
    assert req.body == b"city=Z%FCrich&sign=%80%26%231046%3B"
    utf8 = FormRequest.from_response(html_response(page), formdata={"sign": "€"})
    assert utf8.body == b"city=Z%C3%BCrich&sign=%E2%82%AC"


def test_selects_without_options_and_sized_selects():
    page = """<form method="post"><select name="empty"></select>
      <select name="listbox" size="4"><option>A</option></select>
      <select name="dis"><option disabled>X</option><option>Y</option></select></form>"""
    req = FormRequest.from_response(html_response(page))
    assert pairs(req) == [("dis", "Y")]


# -- crawls through the engine ----------------------------------------------------------------------

@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_two_step_search_form_with_view_state(site_server, crawl_spider):
    search = SearchSite()
    server = site_server(search.site)
    result = crawl_spider(SearchFormSpider, server, start="/app/search.aspx", spider_kwargs={"query": "python"})
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    assert sorted((r["page"], r["title"]) for r in records) == [
        (1, "Fluent Python"), (1, "Learning Python"), (1, "Python Crash Course"),
        (2, "Effective Python"), (2, "Python Cookbook")]  # books only: the selected category
    assert [m for m, _ in server.requests] == ["GET", "POST", "POST"]
    assert server.count("/subscribe") == 0  # the newsletter form (the first one) was not submitted
    (_, headers1, body1), (_, headers2, body2) = search.posts
    assert headers1["Content-Type"] == "application/x-www-form-urlencoded"
    # Step 2 sent the view state issued by step 1, the page's other fields and the clicked button.
    assert form_pairs(body1) == [("__VIEWSTATE", search.issued[0]), ("__EVENTVALIDATION", "EV-42"),
                                 ("q", "python"), ("category", "books"), ("instock", "1"), ("go", "Search")]
    # The pager form carried the view state of the results page.
    assert form_pairs(body2) == [("__VIEWSTATE", search.issued[1]), ("page", "2")]


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_a_stale_view_state_gets_no_results(site_server, crawl_spider):
    search = SearchSite()
    server = site_server(search.site)
    real = search.search_page

    def tampered(info):  # the page shows a view state the server never issued
        return real(info).replace(search.issued[-1], "forged==")

    search.site["/app/search.aspx"] = tampered
    records = crawl_spider(SearchFormSpider, server, start="/app/search.aspx").records
    assert [r["error"] for r in records] == ["HTTP 400"]
    assert form_pairs(search.posts[0][2])[0] == ("__VIEWSTATE", "forged==")


@pytest.mark.timeout(60)
@CRAWL_SETTINGS
def test_paginated_json_api(site_server, crawl_spider):
    server = site_server(api_site(pages=4, per_page=3))
    result = crawl_spider(ApiSpider, server, start="/api/items?page=1", workers=2)
    stats, records = result.stats, result.records
    assert stats["finish_reason"] == "finished"
    assert sorted(r["id"] for r in records) == list(range(1, 13))
    assert {r["id"]: r["page"] for r in records} == {i: (i - 1) // 3 + 1 for i in range(1, 13)}
    for page in range(1, 5):
        assert server.count(f"/api/items?page={page}") == 1
    assert server.count("/api/items?page=5") == 0
