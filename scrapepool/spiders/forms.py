"""HTML forms: :class:`FormRequest`, and filling in a page's form as a browser would.

``FormRequest(url, formdata)`` POSTs ``formdata`` url-encoded (or, with
``method="GET"``, makes it the URL's query string, replacing any there, as a
browser does). Keys and values may be ``str`` (encoded in the request's
encoding) or ``bytes`` (sent as they are, Scrapy's ``to_bytes``). ``FormRequest.from_response``
reads a ``<form>`` of a downloaded page and submits it the way a browser
does: every successful control in tree order (hidden inputs such as CSRF
tokens and ``__VIEWSTATE`` included; disabled controls, unchecked boxes and
unclicked buttons left out), ``formdata`` overriding, the clicked submit
button's ``name=value`` added, the action resolved against the page. The form
is chosen by ``formname``, ``formid``, ``formxpath``, ``formcss`` or ``formnumber``,
the button by ``clickdata`` (or none with ``dont_click=True``), as in Scrapy.

Like Scrapy's ``FormRequest.from_response``, written for BeautifulSoup::

    def parse(self, response):
        yield FormRequest.from_response(response, formcss="form#login",
                                        formdata={"user": "alice", "pass": "secret"},
                                        callback=self.after_login)

A FormRequest is a plain :class:`~scrapepool.Request` (url, method, headers,
body bytes, meta): it crosses processes like any other.
"""

import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from .http import Request

__all__ = ["FormRequest", "post_form"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

#: input types that are buttons: submitted only when they are the one clicked (submit, image).
_BUTTON_TYPES = ("submit", "image", "reset", "button")
#: Controls that take part in a form's data set, as HTML's "submittable elements".
_SUBMITTABLE = ("input", "select", "textarea", "button")


def _items(formdata):
    """``formdata`` (a dict, or an iterable of (key, value) pairs) as a list of pairs.

    :raises ValueError: for anything else (Scrapy's message).
    """
    if not formdata:
        return []
    try:
        if hasattr(formdata, "items"):
            return list(formdata.items())
        return [(key, value) for key, value in formdata]
    except (TypeError, ValueError):
        raise ValueError("formdata should be a dict or iterable of tuples") from None


def _scalar(value):
    """A key or value as sent: ``bytes`` as they are (Scrapy's ``to_bytes``), anything else as text."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return str(value)


def _values(value):
    return value if isinstance(value, (list, tuple)) else [value]


def _pairs(formdata):
    """``formdata`` (a dict or a list of pairs; a value may be a list) as a list of (name, value)."""
    return [(_scalar(key), _scalar(v)) for key, value in _items(formdata) for v in _values(value)]


def _encode(pairs, encoding="utf-8"):
    """``application/x-www-form-urlencoded`` text of ``pairs``, in ``encoding``.

    Characters the page's encoding cannot hold are sent as numeric character
    references (``&#8364;``), as browsers do. ``bytes`` keys and values are
    percent-encoded as they are.
    """
    return urlencode(pairs, encoding=encoding, errors="xmlcharrefreplace")


def _with_query(url, query):
    """``url`` with ``query`` as its query string (the one it had is replaced, as a browser's GET
    form submission and Scrapy's FormRequest do) and no fragment."""
    return urlunsplit(urlsplit(url)._replace(query=query, fragment=""))


def _has_header(headers, name):
    return any(k.lower() == name.lower() for k in headers)


class FormRequest(Request):
    """A Request that submits form data.

    :param url: where to submit.
    :param formdata: a dict (or a list of pairs, for repeated names); a value may be a list.
        Keys and values may be ``str`` or ``bytes`` (sent as they are).
    :param method: ``"POST"`` (the data url-encoded as the body, with
        ``Content-Type: application/x-www-form-urlencoded``) or ``"GET"``
        (the data replaces the URL's query string).
    :param encoding: the encoding of the data (default UTF-8; ``from_response`` uses the page's).
    :param kwargs: any other :class:`~scrapepool.Request` argument (callback, meta, headers, ...).
    """

    __slots__ = ()

    def __init__(self, url, formdata=None, method="POST", *, encoding="utf-8", _replace_query=False,
                 **kwargs):
        method = (method or "POST").upper()
        pairs = _pairs(formdata)
        if method == "POST" or (method != "GET" and pairs):
            body = _encode(pairs, encoding)
            if kwargs.get("body") is not None and pairs:
                raise TypeError("FormRequest takes formdata or body, not both")
            if kwargs.get("body") is None:
                kwargs["body"] = body
            headers = dict(kwargs.get("headers") or {})
            if not _has_header(headers, "Content-Type"):
                headers["Content-Type"] = FORM_CONTENT_TYPE
            kwargs["headers"] = headers
        elif pairs or _replace_query:
            url = _with_query(url, _encode(pairs, encoding))
        super().__init__(url, method=method, **kwargs)

    @classmethod
    def from_response(cls, response, formdata=None, formcss=None, formnumber=0, clickdata=None,
                      formid=None, formname=None, dont_click=False, url=None, method=None,
                      formxpath=None, **kwargs):
        """A request that submits a form of ``response``, as a browser would.

        :param response: the :class:`~scrapepool.Response` holding the form.
        :param formdata: fields to set (they replace the page's values of the same
            name); a value of ``None`` removes that field.
        :param formcss: a CSS selector of the form (or of an element inside it).
        :param formxpath: an XPath expression of the form (or of a node inside it), as in
            Scrapy; evaluated with lxml on a copy of the page's tree. Give this or
            ``formcss``, not both.
        :param formnumber: which form when no other choice is given (0: the first).
        :param clickdata: attributes of the submit button to click, e.g.
            ``{"value": "Next"}`` or ``{"name": "go"}``, or ``{"nr": 1}`` for the
            second button; default: the first submit button.
        :param formid: / formname: choose the form by its ``id`` / ``name``.
        :param dont_click: submit without a button's ``name=value``.
        :param url: / method: override the form's action / method; a relative ``url`` is
            resolved against the page (its ``<base>`` if it has one).
        :param kwargs: other Request arguments (callback, meta, headers, dont_filter, ...).
        :raises ValueError: when there is no such form or button, or ``formdata`` is
            neither a dict nor pairs.
        :raises TypeError: when both ``formxpath`` and ``formcss`` are given.
        """
        if formxpath is not None and formcss is not None:
            raise TypeError("FormRequest.from_response takes formxpath or formcss, not both")
        items = _items(formdata)  # checked before the page is searched
        form = _find_form(response, formcss, formnumber, formid, formname, formxpath)
        submitter = None if dont_click else _find_submitter(form, clickdata)
        encoding = _form_encoding(response, form)
        pairs = _form_pairs(response, form, submitter)
        pairs = _override(pairs, items, encoding)

        if method is None:
            method = _attr(submitter, "formmethod") or _attr(form, "method") or "GET"
        method = method.strip().upper()
        if method not in ("GET", "POST"):
            method = "GET"  # "dialog" and unknown methods: as a browser, a GET
        if url is None:
            action = _attr(submitter, "formaction")
            if action is None:
                action = _attr(form, "action")
            action = (action or "").strip()
            # An empty action submits to the page itself (its URL, not its <base>).
            url = response.urljoin(action) if action else response.url
        else:
            url = response.urljoin(url)  # Scrapy: urljoin(form.base_url, url)
        url = url.split("#", 1)[0]
        return cls(url, pairs, method=method, encoding=encoding,
                   _replace_query=(method == "GET"), **kwargs)


def post_form(url, formdata=None, **kwargs):
    """``FormRequest(url, formdata, method="POST", **kwargs)``: POST ``formdata`` url-encoded."""
    return FormRequest(url, formdata, method="POST", **kwargs)


# -- finding the form and the button -------------------------------------------------------

def _attr(tag, name):
    if tag is None:
        return None
    value = tag.get(name)
    if isinstance(value, list):  # bs4 splits multi-valued attributes
        value = " ".join(value)
    return value


def _find_form(response, formcss, formnumber, formid, formname, formxpath=None):
    soup = response.soup
    forms = soup.find_all("form")
    if not forms:
        raise ValueError(f"No <form> element found in {response.url}")
    if formname is not None:
        form = soup.find("form", attrs={"name": formname})
        if form is not None:
            return form
    if formid is not None:
        form = soup.find("form", attrs={"id": formid})
        if form is not None:
            return form
    if formxpath is not None or formcss is not None:
        found = _xpath_nodes(soup, formxpath) if formxpath is not None else soup.select(formcss)
        for el in found:
            node = el
            while node is not None and getattr(node, "name", None) != "form":
                node = node.parent
            if node is not None:
                return node
        what = f"the XPath {formxpath!r}" if formxpath is not None else f"the CSS selector {formcss!r}"
        raise ValueError(f"No <form> element found with {what} in {response.url}")
    if formname is not None or formid is not None:
        what = f"name={formname!r}" if formname is not None else f"id={formid!r}"
        raise ValueError(f"no <form> with {what} in {response.url}")
    try:
        return forms[formnumber]
    except (IndexError, TypeError):
        raise ValueError(f"form number {formnumber} not found in {response.url} "
                         f"({len(forms)} form{'s' if len(forms) != 1 else ''})") from None


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text):
    return _XML_INVALID.sub("", text)


def _xpath_nodes(soup, xpath):
    """The soup's tags that ``xpath`` selects, in order (an attribute or text result stands for
    its element).

    The XPath is evaluated by lxml on a mirror of the soup (its elements, attributes and text),
    built here, so that every lxml node maps back to the very tag it copies: the form found
    is the one the soup's other methods work on, whatever the parser made of broken markup.
    """
    from bs4 import NavigableString, Tag
    from bs4.element import PreformattedString
    from lxml import etree

    tops = [c for c in soup.children if isinstance(c, Tag)]
    back = {}

    def element(tag, parent=None):
        try:
            el = etree.Element(tag.name) if parent is None else etree.SubElement(parent, tag.name)
        except ValueError:  # a tag name XML cannot hold
            el = etree.Element("_") if parent is None else etree.SubElement(parent, "_")
        for name, value in tag.attrs.items():
            if isinstance(value, list):
                value = " ".join(value)
            try:
                el.set(name, _xml_text(str(value)))
            except ValueError:  # an attribute name XML cannot hold: left out
                pass
        back[el] = tag
        return el

    if len(tops) == 1:
        root = element(tops[0])
        stack = [(tops[0], root)]
    else:  # no single root element: a stand-in holds them
        root = etree.Element("html")
        stack = [(soup, root)]
    while stack:
        tag, el = stack.pop()
        for child in tag.children:
            if isinstance(child, Tag):
                stack.append((child, element(child, el)))
            elif isinstance(child, NavigableString) and not isinstance(child, PreformattedString):
                text = _xml_text(str(child))
                if len(el):
                    el[-1].tail = (el[-1].tail or "") + text
                else:
                    el.text = (el.text or "") + text
    try:
        result = etree.ElementTree(root).xpath(xpath)
    except etree.XPathError as exc:
        raise ValueError(f"invalid XPath {xpath!r}: {exc}") from None
    if not isinstance(result, list):
        return []
    out = []
    for node in result:
        if not isinstance(node, etree._Element) and hasattr(node, "getparent"):
            node = node.getparent()  # an attribute or a text node: its element
        if node is not None and node in back:
            out.append(back[node])
    return out


def _form_controls(form):
    """The form's controls in tree order: its descendants, plus elements outside it
    that name it with ``form="id"``, less descendants that name another form."""
    form_id = _attr(form, "id")
    root = form
    while root.parent is not None:
        root = root.parent
    out = []
    for el in root.find_all(_SUBMITTABLE) if form_id else form.find_all(_SUBMITTABLE):
        owner = _attr(el, "form")
        if owner is not None:
            if owner == form_id:
                out.append(el)
            continue
        if el is form or _inside(el, form):
            out.append(el)
    return out


def _inside(el, ancestor):
    for parent in el.parents:
        if parent is ancestor:
            return True
    return False


def _disabled(el):
    """True for a disabled control, or one in a disabled <fieldset> (outside its first <legend>)."""
    if el.has_attr("disabled"):
        return True
    child = el
    for parent in el.parents:
        if parent.name == "fieldset" and parent.has_attr("disabled"):
            legend = parent.find("legend", recursive=False)
            if legend is None or child is not legend:
                return True
        child = parent
    return False


def _input_type(el):
    return (_attr(el, "type") or "text").strip().lower()


def _clickables(form):
    out = []
    for el in _form_controls(form):
        if el.name == "button":
            if (_attr(el, "type") or "submit").strip().lower() == "submit":
                out.append(el)
        elif el.name == "input" and _input_type(el) in ("submit", "image"):
            out.append(el)
    return out


def _find_submitter(form, clickdata):
    buttons = [b for b in _clickables(form) if not _disabled(b)]
    if not clickdata:
        return buttons[0] if buttons else None
    given = clickdata
    clickdata = dict(clickdata)
    nr = clickdata.pop("nr", None)
    if nr is not None and not clickdata:
        try:
            return buttons[int(nr)]
        except (IndexError, ValueError):
            raise ValueError(f"No clickable element matching clickdata: {given!r} (the form has "
                             f"{len(buttons)} submit button{'s' if len(buttons) != 1 else ''})") from None

    def matches(tag):
        for key, want in clickdata.items():
            have = _attr(tag, key)
            if have is None and key == "value" and tag.name == "button":
                have = tag.get_text()
            if have is None or have.strip() != str(want).strip():
                return False
        return True

    found = [b for b in buttons if matches(b)]
    if nr is not None:
        found = found[int(nr):int(nr) + 1]
    if not found:
        raise ValueError(f"No clickable element matching clickdata: {given!r}")
    if len(found) > 1:
        names = [_attr(b, "name") for b in found]
        raise ValueError(f"Multiple elements found (names {names!r}) matching the criteria in "
                         f"clickdata: {given!r}; give more attributes or 'nr'")
    return found[0]


# -- the form data set ---------------------------------------------------------------------

def _option_value(option):
    value = _attr(option, "value")
    if value is None:
        value = " ".join(option.get_text().split())
    return value


def _select_values(select):
    options = [o for o in select.find_all("option") if not _disabled_option(o)]
    chosen = [o for o in options if o.has_attr("selected")]
    multiple = select.has_attr("multiple")
    if not multiple and len(chosen) > 1:
        chosen = chosen[-1:]  # a single select keeps the last option marked selected
    if not chosen and not multiple:
        size = _attr(select, "size")
        if not (size and size.strip().isdigit() and int(size) > 1):
            chosen = options[:1]  # a drop-down shows (and submits) its first option
    return [_option_value(o) for o in chosen]


def _disabled_option(option):
    if option.has_attr("disabled"):
        return True
    parent = option.parent
    return parent is not None and parent.name == "optgroup" and parent.has_attr("disabled")


def _form_pairs(response, form, submitter):
    """(name, value) of every successful control, in tree order (HTML's form data set)."""
    pairs = []
    for el in _form_controls(form):
        name = _attr(el, "name")
        if el is not submitter and (not name or _disabled(el)):
            continue
        if el.find_parent("datalist") is not None:
            continue
        tag = el.name
        if tag == "select":
            pairs.extend((name, v) for v in _select_values(el))
        elif tag == "textarea":
            text = el.get_text()
            if text.startswith("\r\n"):
                text = text[2:]
            elif text.startswith("\n"):
                text = text[1:]
            pairs.append((name, text.replace("\r\n", "\n").replace("\n", "\r\n")))
        elif tag == "button":
            if el is submitter and name:
                pairs.append((name, _attr(el, "value") or ""))
        else:
            kind = _input_type(el)
            if kind in _BUTTON_TYPES:
                if el is not submitter:
                    continue
                if kind == "image":
                    prefix = f"{name}." if name else ""
                    pairs += [(prefix + "x", "0"), (prefix + "y", "0")]
                elif name:
                    pairs.append((name, _attr(el, "value") or ""))
            elif kind in ("checkbox", "radio"):
                if el.has_attr("checked"):
                    pairs.append((name, _attr(el, "value") or "on"))
            elif kind == "file":
                pairs.append((name, ""))
            else:
                value = _attr(el, "value") or ""
                if kind not in ("hidden",):
                    value = value.replace("\r", "").replace("\n", "")  # browsers strip newlines
                pairs.append((name, value))
    return pairs


def _override(pairs, items, encoding="utf-8"):
    """``pairs`` with ``items`` (formdata's pairs) applied: a name given there replaces the
    page's values (in the place of its first one); ``None`` removes the name; new names go
    last. A ``bytes`` key names the field it decodes to (in the form's ``encoding``); a
    ``bytes`` value is sent as it is."""
    if not items:
        return pairs
    given, keys = {}, {}
    for key, value in items:
        key = _scalar(key)
        text = key.decode(encoding, "replace") if isinstance(key, bytes) else key
        keys.setdefault(text, key)
        if value is None:
            given[text] = None
        else:
            given[text] = (given.get(text) or []) + [_scalar(v) for v in _values(value)]
    out, placed = [], set()
    for name, value in pairs:
        if name not in given:
            out.append((name, value))
        elif name not in placed:
            placed.add(name)
            out.extend((name, v) for v in given[name] or ())
    for name, values in given.items():
        if name not in placed:
            out.extend((keys[name], v) for v in values or ())
    return out


def _form_encoding(response, form):
    """The encoding a browser submits in: the form's accept-charset if it names one we know,
    else the page's own encoding."""
    import codecs

    for name in (_attr(form, "accept-charset") or "").replace(",", " ").split():
        try:
            return codecs.lookup(name).name
        except LookupError:
            continue
    try:
        return codecs.lookup(response.encoding or "utf-8").name
    except LookupError:
        return "utf-8"
