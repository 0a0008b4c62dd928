"""HTML forms: :class:`FormRequest`, and filling in a page's form as a browser would.

``FormRequest(url, formdata)`` POSTs ``formdata`` url-encoded (or, with
``method="GET"``, puts it in the query string). ``FormRequest.from_response``
reads a ``<form>`` of a downloaded page and submits it the way a browser
does: every successful control in tree order (hidden inputs such as CSRF
tokens and ``__VIEWSTATE`` included; disabled controls, unchecked boxes and
unclicked buttons left out), ``formdata`` overriding, the clicked submit
button's ``name=value`` added, the action resolved against the page.

Like Scrapy's ``FormRequest.from_response``, written for BeautifulSoup::

    def parse(self, response):
        yield FormRequest.from_response(response, formcss="form#login",
                                        formdata={"user": "alice", "pass": "secret"},
                                        callback=self.after_login)

A FormRequest is a plain :class:`~scrapepool.Request` (url, method, headers,
body bytes, meta): it crosses processes like any other.
"""

from urllib.parse import urlencode, urlsplit, urlunsplit

from .http import Request

__all__ = ["FormRequest", "post_form"]

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

#: input types that are buttons: submitted only when they are the one clicked (submit, image).
_BUTTON_TYPES = ("submit", "image", "reset", "button")
#: Controls that take part in a form's data set, as HTML's "submittable elements".
_SUBMITTABLE = ("input", "select", "textarea", "button")


def _pairs(formdata):
    """``formdata`` (a dict or a list of pairs; a value may be a list) as a list of (name, value)."""
    if not formdata:
        return []
    items = formdata.items() if hasattr(formdata, "items") else formdata
    out = []
    for key, value in items:
        if isinstance(value, (list, tuple)):
            out.extend((key, v) for v in value)
        else:
            out.append((key, value))
    return [(str(k), "" if v is None else str(v)) for k, v in out]


def _encode(pairs, encoding="utf-8"):
    """``application/x-www-form-urlencoded`` text of ``pairs``, in ``encoding``.

    Characters the page's encoding cannot hold are sent as numeric character
    references (``&#8364;``), as browsers do.
    """
    return urlencode(pairs, encoding=encoding, errors="xmlcharrefreplace")


def _with_query(url, query, replace):
    parts = urlsplit(url)
    if not replace and parts.query and query:
        query = parts.query + "&" + query
    elif not replace and not query:
        query = parts.query
    return urlunsplit(parts._replace(query=query, fragment=""))


def _has_header(headers, name):
    return any(k.lower() == name.lower() for k in headers)


class FormRequest(Request):
    """A Request that submits form data.

    :param url: where to submit.
    :param formdata: a dict (or a list of pairs, for repeated names); a value may be a list.
    :param method: ``"POST"`` (the data url-encoded as the body, with
        ``Content-Type: application/x-www-form-urlencoded``) or ``"GET"``
        (the data appended to the URL's query).
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
            url = _with_query(url, _encode(pairs, encoding), _replace_query)
        super().__init__(url, method=method, **kwargs)

    @classmethod
    def from_response(cls, response, formdata=None, formcss=None, formnumber=0, clickdata=None,
                      formid=None, formname=None, dont_click=False, url=None, method=None, **kwargs):
        """A request that submits a form of ``response``, as a browser would.

        :param response: the :class:`~scrapepool.Response` holding the form.
        :param formdata: fields to set (they replace the page's values of the same
            name); a value of ``None`` removes that field.
        :param formcss: a CSS selector of the form (or of an element inside it).
        :param formnumber: which form when no other choice is given (0: the first).
        :param clickdata: attributes of the submit button to click, e.g.
            ``{"value": "Next"}`` or ``{"name": "go"}``, or ``{"nr": 1}`` for the
            second button; default: the first submit button.
        :param formid: / formname: choose the form by its ``id`` / ``name``.
        :param dont_click: submit without a button's ``name=value``.
        :param url: / method: override the form's action / method.
        :param kwargs: other Request arguments (callback, meta, headers, dont_filter, ...).
        :raises ValueError: when there is no such form or button.
        """
        form = _find_form(response, formcss, formnumber, formid, formname)
        submitter = None if dont_click else _find_submitter(form, clickdata)
        pairs = _form_pairs(response, form, submitter)
        pairs = _override(pairs, formdata)

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
        url = url.split("#", 1)[0]
        return cls(url, pairs, method=method, encoding=_form_encoding(response, form),
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


def _find_form(response, formcss, formnumber, formid, formname):
    soup = response.soup
    forms = soup.find_all("form")
    if not forms:
        raise ValueError(f"no <form> element found in {response.url}")
    if formname is not None:
        form = soup.find("form", attrs={"name": formname})
        if form is not None:
            return form
    if formid is not None:
        form = soup.find("form", attrs={"id": formid})
        if form is not None:
            return form
    if formcss is not None:
        for el in soup.select(formcss):
            node = el
            while node is not None and getattr(node, "name", None) != "form":
                node = node.parent
            if node is not None:
                return node
        raise ValueError(f"no <form> matches the CSS selector {formcss!r} in {response.url}")
    if formname is not None or formid is not None:
        what = f"name={formname!r}" if formname is not None else f"id={formid!r}"
        raise ValueError(f"no <form> with {what} in {response.url}")
    try:
        return forms[formnumber]
    except (IndexError, TypeError):
        raise ValueError(f"form number {formnumber} not found in {response.url} "
                         f"({len(forms)} form{'s' if len(forms) != 1 else ''})") from None


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
    clickdata = dict(clickdata)
    nr = clickdata.pop("nr", None)
    if nr is not None and not clickdata:
        try:
            return buttons[int(nr)]
        except (IndexError, ValueError):
            raise ValueError(f"no submit button number {nr} in the form ({len(buttons)} buttons)") from None

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
        raise ValueError(f"no submit button matches {clickdata!r}")
    if len(found) > 1:
        raise ValueError(f"several submit buttons match {clickdata!r}: give more attributes or 'nr'")
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


def _override(pairs, formdata):
    """``pairs`` with ``formdata`` applied: a name given there replaces the page's values
    (in the place of its first one); ``None`` removes the name; new names go last."""
    if not formdata:
        return pairs
    items = formdata.items() if hasattr(formdata, "items") else list(formdata)
    given = {}
    for key, value in items:
        key = str(key)
        if value is None:
            given[key] = None
        else:
            values = value if isinstance(value, (list, tuple)) else [value]
            given[key] = (given.get(key) or []) + ["" if v is None else str(v) for v in values]
    out, placed = [], set()
    for name, value in pairs:
        if name not in given:
            out.append((name, value))
        elif name not in placed:
            placed.add(name)
            out.extend((name, v) for v in given[name] or ())
    for name, values in given.items():
        if name not in placed:
            out.extend((name, v) for v in values or ())
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
