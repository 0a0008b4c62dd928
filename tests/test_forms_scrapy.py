"""FormRequest against Scrapy's own tests (issue 16, "Scrapy users at home"): formxpath, formcss,
clickdata, dont_click, bytes in formdata, url= resolved against the page, and a GET form's data
replacing the URL's query string.

Ported from scrapy/scrapy tests/test_http_request_form.py (TestFormRequest); each test names the
Scrapy test it follows. Where scrapepool deliberately differs (it submits as a browser does),
the docstring says so.
"""

import re
from urllib.parse import parse_qs, unquote_to_bytes, urlsplit

import pytest

from scrapepool import Response
from scrapepool.spiders.forms import FormRequest


def _buildresponse(body, url="http://example.com", encoding="utf-8"):
    if isinstance(body, str):
        body = body.encode(encoding)
    return Response(url, 200, {"Content-Type": f"text/html; charset={encoding}"}, body)


def _query_string(req):
    return req.body if req.method == "POST" else urlsplit(req.url).query.encode()


def _qs(req):
    return parse_qs(unquote_to_bytes(_query_string(req)), True)


def _qs_unicode(req, encoding="utf-8"):
    return parse_qs(unquote_to_bytes(_query_string(req)).decode(encoding), True)


def _assert_query_equal(first, second):
    assert sorted(first.decode().split("&")) == sorted(second.decode().split("&"))


# -- FormRequest(url, formdata) ---------------------------------------------------------------------

def test_formdata_overrides_querystring():
    """Scrapy: test_formdata_overrides_querystring."""
    data = (("a", "one"), ("a", "two"), ("b", "2"))
    req = FormRequest("http://www.example.com/?a=0&b=1&c=3#fragment", method="GET", formdata=data)
    fs = _qs(req)
    assert set(fs[b"a"]) == {b"one", b"two"}
    assert fs[b"b"] == [b"2"]
    assert fs.get(b"c") is None
    assert req.url == "http://www.example.com/?a=one&a=two&b=2"
    fs = _qs(FormRequest("http://www.example.com/", method="GET", formdata={"a": "1", "b": "2"}))
    assert fs == {b"a": [b"1"], b"b": [b"2"]}


def test_empty_formdata():
    """Scrapy: test_empty_formdata."""
    assert FormRequest("http://www.example.com", formdata={}).body == b""


def test_default_encoding_bytes():
    """Scrapy: test_default_encoding_bytes -- bytes keys and values are sent as they are, not as
    their repr (``b'one'``)."""
    req = FormRequest("http://www.example.com", formdata={b"one": b"two", b"price": b"\xc2\xa3 100"})
    assert req.method == "POST"
    _assert_query_equal(req.body, b"price=%C2%A3+100&one=two")
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_default_encoding_textual_data():
    """Scrapy: test_default_encoding_textual_data."""
    req = FormRequest("http://www.example.com", formdata={"µ one": "two", "price": "£ 100"})
    _assert_query_equal(req.body, b"price=%C2%A3+100&%C2%B5+one=two")


def test_default_encoding_mixed_data():
    """Scrapy: test_default_encoding_mixed_data."""
    req = FormRequest("http://www.example.com", formdata={"\u00b5one": b"two", b"price\xc2\xa3": "\u00a3 100"})
    _assert_query_equal(req.body, b"%C2%B5one=two&price%C2%A3=%C2%A3+100")


def test_custom_encoding_bytes():
    """Scrapy: test_custom_encoding_bytes -- bytes are not re-encoded in the request's encoding."""
    req = FormRequest("http://www.example.com", formdata={b"\xb5 one": b"two", b"price": b"\xa3 100"},
                      encoding="latin1")
    _assert_query_equal(req.body, b"price=%A3+100&%B5+one=two")


def test_custom_encoding_textual_data():
    """Scrapy: test_custom_encoding_textual_data."""
    assert FormRequest("http://www.example.com", formdata={"price": "£ 100"}, encoding="latin1").body == \
        b"price=%A3+100"


def test_bytes_in_a_get_query():
    """Scrapy: test_default_encoding_bytes and test_formdata_overrides_querystring, with GET."""
    req = FormRequest("http://h/s?old=1", formdata=[(b"q", b"caf\xc3\xa9"), ("n", 2)], method="GET")
    assert req.url == "http://h/s?q=caf%C3%A9&n=2"


@pytest.mark.parametrize("formdata", [123, ("a",)])
def test_invalid_formdata(formdata):
    """Scrapy: test_form_response_with_invalid_formdata_type_error and
    test_form_response_with_custom_invalid_formdata_value_error (and the same for FormRequest)."""
    response = _buildresponse('<form action="/submit" method="post"><input name="test" value="value"></form>')
    with pytest.raises(ValueError, match="formdata should be a dict or iterable of tuples"):
        FormRequest.from_response(response, formdata=formdata)
    with pytest.raises(ValueError, match="formdata should be a dict or iterable of tuples"):
        FormRequest("http://h/", formdata=formdata)


# -- from_response: method, url and query string ----------------------------------------------------

def test_from_response_get():
    """Scrapy: test_from_response_get."""
    response = _buildresponse(
        """<form action="get.php" method="GET">
        <input type="hidden" name="test" value="val1">
        <input type="hidden" name="test" value="val2">
        <input type="hidden" name="test2" value="xxx">
        </form>""",
        url="http://www.example.com/this/list.html")
    r1 = FormRequest.from_response(response, formdata={"one": ["two", "three"], "six": "seven"})
    assert r1.method == "GET"
    assert urlsplit(r1.url).hostname == "www.example.com"
    assert urlsplit(r1.url).path == "/this/get.php"
    fs = _qs(r1)
    assert set(fs[b"test"]) == {b"val1", b"val2"}
    assert set(fs[b"one"]) == {b"two", b"three"}
    assert fs[b"test2"] == [b"xxx"]
    assert fs[b"six"] == [b"seven"]


def test_from_response_get_action_query_is_replaced():
    """Scrapy: test_from_response_get and test_formdata_overrides_querystring -- a GET form's
    data replaces the query string of its action, as in a browser."""
    response = _buildresponse('<form action="get.php?stale=1&test=0#top"><input name="test" value="v"></form>',
                              url="http://www.example.com/this/list.html")
    assert FormRequest.from_response(response).url == "http://www.example.com/this/get.php?test=v"


def test_from_response_duplicate_form_key():
    """Scrapy: test_from_response_duplicate_form_key."""
    response = _buildresponse("<form></form>", url="http://www.example.com")
    req = FormRequest.from_response(response, method="GET", formdata=(("foo", "bar"), ("foo", "baz")))
    assert urlsplit(req.url).hostname == "www.example.com"
    assert urlsplit(req.url).query == "foo=bar&foo=baz"


def test_from_response_override_url():
    """Scrapy: test_from_response_override_url -- ``url=`` is resolved against the page."""
    response = _buildresponse('<html><body><form action="/app"></form></body></html>')
    assert FormRequest.from_response(response).url == "http://example.com/app"
    assert FormRequest.from_response(response, url="http://foo.bar/absolute").url == "http://foo.bar/absolute"
    assert FormRequest.from_response(response, url="/relative").url == "http://example.com/relative"
    based = _buildresponse('<head><base href="http://b.com/x/"></head><form></form>', url="http://a.com/")
    assert FormRequest.from_response(based, url="rel?q=1").url == "http://b.com/x/rel"  # GET: query replaced


def test_html_base_form_action():
    """Scrapy: test_html_base_form_action."""
    response = _buildresponse("""<html><head><base href=" http://b.com/"></head>
        <body><form action="test_form"></form></body></html>""", url="http://a.com/")
    assert FormRequest.from_response(response).url == "http://b.com/test_form"


def test_spaces_in_action():
    """Scrapy: test_spaces_in_action."""
    resp = _buildresponse('<body><form action=" path\n"></form></body>')
    assert FormRequest.from_response(resp).url == "http://example.com/path"


def test_from_response_bytes_formdata_overrides_page_fields():
    """Scrapy: test_from_response_override_params and test_custom_encoding_bytes, with bytes keys:
    ``b"two"`` replaces the page's ``two``; bytes values go as they are."""
    response = _buildresponse("""<form action="get.php" method="POST">
        <input type="hidden" name="one" value="1"><input type="hidden" name="two" value="3"></form>""",
                              encoding="latin1")
    req = FormRequest.from_response(response, formdata={b"two": b"\xa3", b"new": b"x"})
    assert req.body == b"one=1&two=%A3&new=x"


# -- from_response: choosing the form ---------------------------------------------------------------

TWO_FORMS = """<form action="post.php" method="POST">
    <input type="hidden" name="one" value="1">
    <input type="hidden" name="two" value="2">
    </form>
    <form action="post2.php" method="POST">
    <input type="hidden" name="three" value="3">
    <input type="hidden" name="four" value="4">
    </form>"""


def test_from_response_xpath():
    """Scrapy: test_from_response_xpath."""
    response = _buildresponse(TWO_FORMS)
    fs = _qs(FormRequest.from_response(response, formxpath="//form[@action='post.php']"))
    assert fs == {b"one": [b"1"], b"two": [b"2"]}
    fs = _qs(FormRequest.from_response(response, formxpath="//form/input[@name='four']"))
    assert fs == {b"three": [b"3"], b"four": [b"4"]}
    with pytest.raises(ValueError, match="No <form> element found with"):
        FormRequest.from_response(response, formxpath="//form/input[@name='abc']")


def test_from_response_xpath_attribute_and_text_results():
    """Scrapy: test_from_response_xpath (an XPath that selects an attribute or text stands for its
    element; the second form is the one found)."""
    response = _buildresponse(TWO_FORMS.replace("</form>", "<p>second</p></form>", 2)
                              .replace("<p>second</p>", "", 1))
    assert _qs(FormRequest.from_response(response, formxpath="//form[2]/@action"))[b"three"] == [b"3"]
    assert _qs(FormRequest.from_response(response, formxpath="//p/text()"))[b"four"] == [b"4"]
    with pytest.raises(ValueError, match="invalid XPath"):
        FormRequest.from_response(response, formxpath="//form[")
    with pytest.raises(TypeError, match="not both"):
        FormRequest.from_response(response, formxpath="//form", formcss="form")


def test_from_response_unicode_xpath():
    """Scrapy: test_from_response_unicode_xpath."""
    response = _buildresponse(b'<form name="\xd1\x8a"></form><form name="z"><input name="a" value="1"></form>')
    assert not _qs(FormRequest.from_response(response, formxpath="//form[@name='\u044a']"))
    xpath = "//form[@name='\u03b1']"
    with pytest.raises(ValueError, match=re.escape(xpath)):
        FormRequest.from_response(response, formxpath=xpath)


def test_get_form_with_xpath_no_form_parent():
    """Scrapy: test_get_form_with_xpath_no_form_parent."""
    response = _buildresponse("""<html><body>
        <div id="outside-form"><p>This paragraph is not inside a form.</p></div>
        <form action="/submit" method="post"><input type="text" name="inside-form" value=""></form>
        </body></html>""")
    with pytest.raises(ValueError, match="No <form> element found with"):
        FormRequest.from_response(response, formxpath='//div[@id="outside-form"]/p')


def test_xpath_form_is_the_soups_form_in_broken_markup():
    """Scrapy: test_from_response_invalid_html5 and test_from_response_xpath -- the XPath runs on
    the very tree the form is read from, so broken markup cannot make it pick another form."""
    response = _buildresponse('<!DOCTYPE html><body></html><form><input name="foo" value="xxx"></form>'
                              '<form id="b"><input name="bar" value="y"><x\x01y>t</x\x01y></form></body></html>')
    assert _qs(FormRequest.from_response(response, formxpath="//*[@id='b']//input")) == {b"bar": [b"y"]}
    assert _qs(FormRequest.from_response(response, formxpath="//input[@name='foo']",
                                         formdata={"bar": "buz"})) == {b"foo": [b"xxx"], b"bar": [b"buz"]}


def test_from_response_css():
    """Scrapy: test_from_response_css."""
    response = _buildresponse(TWO_FORMS)
    fs = _qs(FormRequest.from_response(response, formcss="form[action='post.php']"))
    assert fs[b"one"] == [b"1"] and b"three" not in fs
    fs = _qs(FormRequest.from_response(response, formcss="input[name='four']"))
    assert fs[b"three"] == [b"3"] and b"one" not in fs
    with pytest.raises(ValueError, match="No <form> element found with"):
        FormRequest.from_response(response, formcss="input[name='abc']")


def test_from_response_errors_noform():
    """Scrapy: test_from_response_errors_noform."""
    with pytest.raises(ValueError, match="No <form> element found in"):
        FormRequest.from_response(_buildresponse("<html></html>"))


# -- from_response: clickdata and dont_click --------------------------------------------------------

CLICKABLES = """<form action="get.php" method="GET">
    <input type="submit" name="clickable1" value="clicked1">
    <input type="hidden" name="one" value="1">
    <input type="hidden" name="two" value="3">
    <input type="submit" name="clickable2" value="clicked2">
    </form>"""


def test_from_response_submit_first_clickable():
    """Scrapy: test_from_response_submit_first_clickable."""
    fs = _qs(FormRequest.from_response(_buildresponse(CLICKABLES), formdata={"two": "2"}))
    assert fs == {b"clickable1": [b"clicked1"], b"one": [b"1"], b"two": [b"2"]}


def test_from_response_submit_not_first_clickable():
    """Scrapy: test_from_response_submit_not_first_clickable."""
    fs = _qs(FormRequest.from_response(_buildresponse(CLICKABLES), formdata={"two": "2"},
                                       clickdata={"name": "clickable2"}))
    assert fs == {b"clickable2": [b"clicked2"], b"one": [b"1"], b"two": [b"2"]}


def test_from_response_dont_click():
    """Scrapy: test_from_response_dont_click."""
    fs = _qs(FormRequest.from_response(_buildresponse(CLICKABLES), dont_click=True))
    assert b"clickable1" not in fs and b"clickable2" not in fs
    assert fs == {b"one": [b"1"], b"two": [b"3"]}


def test_from_response_dont_submit_image_as_input():
    """Scrapy: test_from_response_dont_submit_image_as_input."""
    response = _buildresponse("""<form><input type="hidden" name="i1" value="i1v">
        <input type="image" name="i2" src="http://my.image.org/1.jpg">
        <input type="submit" name="i3" value="i3v"></form>""")
    assert _qs(FormRequest.from_response(response, dont_click=True)) == {b"i1": [b"i1v"]}


def test_from_response_dont_submit_reset_as_input():
    """Scrapy: test_from_response_dont_submit_reset_as_input."""
    response = _buildresponse("""<form><input type="hidden" name="i1" value="i1v">
        <input type="text" name="i2" value="i2v"><input type="reset" name="resetme">
        <input type="submit" name="i3" value="i3v"></form>""")
    assert _qs(FormRequest.from_response(response, dont_click=True)) == {b"i1": [b"i1v"], b"i2": [b"i2v"]}


def test_from_response_clickdata_does_not_ignore_image():
    """Scrapy: test_from_response_clickdata_does_not_ignore_image -- the image button is clicked;
    unlike Scrapy (``i2=i2v``), scrapepool sends what a browser sends for an image button: the
    click's coordinates ``i2.x``/``i2.y``."""
    response = _buildresponse("""<form><input type="text" name="i1" value="i1v">
        <input id="image" name="i2" type="image" value="i2v" alt="Login" src="http://my.image.org/1.jpg">
        </form>""")
    assert _qs(FormRequest.from_response(response)) == {b"i1": [b"i1v"], b"i2.x": [b"0"], b"i2.y": [b"0"]}


def test_from_response_case_insensitive():
    """Scrapy: test_from_response_case_insensitive."""
    response = _buildresponse("""<form action="get.php" method="GET">
        <input type="SuBmIt" name="clickable1" value="clicked1">
        <input type="iMaGe" name="i1" src="http://my.image.org/1.jpg">
        <input type="submit" name="clickable2" value="clicked2"></form>""")
    fs = _qs(FormRequest.from_response(response))
    assert fs == {b"clickable1": [b"clicked1"]}


def test_from_response_multiple_clickdata():
    """Scrapy: test_from_response_multiple_clickdata."""
    response = _buildresponse("""<form action="get.php" method="GET">
        <input type="submit" name="clickable" value="clicked1">
        <input type="submit" name="clickable" value="clicked2">
        <input type="hidden" name="one" value="clicked1">
        <input type="hidden" name="two" value="clicked2"></form>""")
    fs = _qs(FormRequest.from_response(response, clickdata={"name": "clickable", "value": "clicked2"}))
    assert fs == {b"clickable": [b"clicked2"], b"one": [b"clicked1"], b"two": [b"clicked2"]}


def test_from_response_unicode_clickdata():
    """Scrapy: test_from_response_unicode_clickdata."""
    response = _buildresponse("""<form action="get.php" method="GET">
        <input type="submit" name="price in \u00a3" value="\u00a3 1000">
        <input type="submit" name="price in \u20ac" value="\u20ac 2000">
        <input type="hidden" name="poundsign" value="\u00a3">
        <input type="hidden" name="eurosign" value="\u20ac"></form>""")
    fs = _qs_unicode(FormRequest.from_response(response, clickdata={"name": "price in \u00a3"}))
    assert fs["price in \u00a3"] == ["\u00a3 1000"] and "price in \u20ac" not in fs


def test_from_response_unicode_clickdata_latin1():
    """Scrapy: test_from_response_unicode_clickdata_latin1."""
    response = _buildresponse("""<form action="get.php" method="GET">
        <input type="submit" name="price in \u00a3" value="\u00a3 1000">
        <input type="submit" name="price in \u00a5" value="\u00a5 2000">
        <input type="hidden" name="poundsign" value="\u00a3">
        <input type="hidden" name="yensign" value="\u00a5"></form>""", encoding="latin1")
    fs = _qs_unicode(FormRequest.from_response(response, clickdata={"name": "price in \u00a5"}), "latin1")
    assert fs["price in \u00a5"] == ["\u00a5 2000"] and "price in \u00a3" not in fs


def test_from_response_multiple_forms_clickdata():
    """Scrapy: test_from_response_multiple_forms_clickdata."""
    response = _buildresponse("""<form name="form1">
        <input type="submit" name="clickable" value="clicked1">
        <input type="hidden" name="field1" value="value1"></form>
        <form name="form2"><input type="submit" name="clickable" value="clicked2">
        <input type="hidden" name="field2" value="value2"></form>""")
    fs = _qs(FormRequest.from_response(response, formname="form2", clickdata={"name": "clickable"}))
    assert fs == {b"clickable": [b"clicked2"], b"field2": [b"value2"]}


def test_from_response_override_clickable():
    """Scrapy: test_from_response_override_clickable."""
    response = _buildresponse('<form><input type="submit" name="clickme" value="one"> </form>')
    fs = _qs(FormRequest.from_response(response, formdata={"clickme": "two"}, clickdata={"name": "clickme"}))
    assert fs[b"clickme"] == [b"two"]


def test_from_response_ambiguous_clickdata():
    """Scrapy: test_from_response_ambiguous_clickdata."""
    with pytest.raises(ValueError, match=r"Multiple elements found .* matching the criteria in clickdata"):
        FormRequest.from_response(_buildresponse(CLICKABLES), clickdata={"type": "submit"})


def test_from_response_non_matching_clickdata():
    """Scrapy: test_from_response_non_matching_clickdata."""
    response = _buildresponse('<form><input type="submit" name="clickable" value="clicked"></form>')
    with pytest.raises(ValueError, match="No clickable element matching clickdata:"):
        FormRequest.from_response(response, clickdata={"nonexistent": "notme"})


def test_from_response_nr_index_clickdata():
    """Scrapy: test_from_response_nr_index_clickdata."""
    response = _buildresponse("""<form><input type="submit" name="clickable1" value="clicked1">
        <input type="submit" name="clickable2" value="clicked2"></form>""")
    fs = _qs(FormRequest.from_response(response, clickdata={"nr": 1}))
    assert b"clickable2" in fs and b"clickable1" not in fs


def test_from_response_invalid_nr_index_clickdata():
    """Scrapy: test_from_response_invalid_nr_index_clickdata."""
    response = _buildresponse('<form><input type="submit" name="clickable" value="clicked"></form>')
    with pytest.raises(ValueError, match="No clickable element matching clickdata:"):
        FormRequest.from_response(response, clickdata={"nr": 1})


def test_from_response_button_submit_and_notype():
    """Scrapy: test_from_response_button_submit, test_from_response_button_notype,
    test_from_response_button_novalue."""
    for button in ('<button type="submit" name="button1" value="submit1">Submit</button>',
                   '<button name="button1" value="submit1">Submit</button>',
                   '<button type="submit" name="button1">Submit</button>'):
        response = _buildresponse(f"""<form action="post.php" method="POST">
            <input type="hidden" name="test1" value="val1">{button}</form>""",
                                  url="http://www.example.com/this/list.html")
        req = FormRequest.from_response(response)
        assert (req.method, req.url) == ("POST", "http://www.example.com/this/post.php")
        want = b"submit1" if "value=" in button else b""
        assert _qs(req) == {b"test1": [b"val1"], b"button1": [want]}
