"""Request and Response: what a spider sees and yields.

A :class:`Request` is plain data so that it can cross a process boundary: its
callback travels as a method *name* (a bound method would pickle a copy of the
spider with it; STYLE.md, trap 3). A :class:`Response` never crosses a process:
it is built inside the fetcher that downloaded it, and its soup is built once,
lazily, on first use.
"""

import json
import logging
import re

from w3lib.encoding import html_to_unicode
from w3lib.url import safe_url_string

from ..urls import InvalidURL, join, resolve, split_credentials

__all__ = ["Failure", "Request", "Response"]

logger = logging.getLogger("scrapepool.links")

#: The ``meta`` key that carries a Request's ``cb_kwargs``: meta already travels as JSON to
#: the fetchers, the job directory and Redis, so ``cb_kwargs`` survive a resume with it. The
#: fetcher takes the key out again: ``response.meta`` and ``failure["meta"]`` never show it.
CB_KWARGS_KEY = "_cb_kwargs"

#: Content types that are parsed as HTML.
HTML_TYPES = ("text/html", "application/xhtml+xml")

_BASE_RE = re.compile(rb"<base\s", re.I)
#: An http(s) URL that w3lib's safe_url_string gives back unchanged: lower-case scheme and
#: host name, then the characters it leaves as they are in a path, a query (not ``'``) and
#: a fragment, neither empty (w3lib drops an empty one; tests/test_selectors.py checks this
#: against w3lib on generated URLs).
_SAFE_URL_RE = re.compile(r"https?://[a-z0-9._-]+(?::[0-9]+)?(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*)?"
                          r"(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@%/?]+)?(?:#[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]+)?\Z")
#: WHATWG MIME sniffing's HTML signatures (and <meta>), after leading whitespace and comments.
_HTML_SNIFF_RE = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta|script|iframe"
                            rb"|h1|div|font|table|a|style|b|br|p)(?=[\s>/])", re.I | re.S)


def _auto_detect(body):
    """Scrapy's detection for an undeclared body: UTF-8 if it decodes as such, else windows-1252.

    windows-1252 is also what browsers fall back to in most locales, and it
    decodes latin-1 pages correctly (w3lib alone would decode them as UTF-8,
    with replacement characters).
    """
    for enc in ("utf-8", "cp1252"):
        try:
            body.decode(enc)
        except UnicodeError:
            continue
        return enc
    return None


class Request:
    """A request a spider wants made.

    :param url: absolute URL (``response.follow`` resolves relative ones).
    :param callback: a method of the spider, or its name; ``None`` means ``parse``.
    :param method: HTTP method.
    :param headers: extra request headers (dict).
    :param body: request body (bytes or str).
    :param meta: a JSON-serialisable dict handed to the callback as ``response.meta``.
    :param priority: higher is dispatched sooner.
    :param dont_filter: request it even if the same request was seen before.
    :param errback: a method (or its name) called with a :class:`Failure` when the request fails.
    :param cookies: a dict of cookies to send with this request (kept in its jar afterwards).
    :param cb_kwargs: keyword arguments for the callback, as in Scrapy: ``callback(response,
        **cb_kwargs)``, also ``response.cb_kwargs``. JSON-serialisable, as ``meta``: they
        travel in it (under :data:`CB_KWARGS_KEY`), so they survive a resume.

    A ``user:password@`` in ``url`` becomes a Basic ``Authorization`` header (unless
    ``headers`` has one) and leaves the URL, as requests sends it: so no record or log
    shows the password (the job database keeps the header, as it keeps any request
    header), and a redirect to another origin drops it as it drops any credentials.
    """

    __slots__ = ("url", "callback", "method", "headers", "body", "meta", "priority",
                 "dont_filter", "errback")

    #: As Scrapy's ``Request.attributes``: the public attributes that are also keyword
    #: parameters of ``__init__``; :meth:`replace` carries them over. (Cookies are not one:
    #: they are in the ``Cookie`` header, which ``headers`` carries.)
    attributes = ("url", "callback", "method", "headers", "body", "meta", "priority",
                  "dont_filter", "errback", "cb_kwargs")

    def __init__(self, url, callback=None, method="GET", headers=None, body=None, meta=None,
                 priority=0, dont_filter=False, errback=None, cookies=None, cb_kwargs=None):
        if not isinstance(url, str):
            raise TypeError(f"Request url must be str, not {type(url).__name__}")
        self.headers = dict(headers) if headers else None
        if "@" in url:
            url, auth = split_credentials(url)
            if auth is not None and not any(k.lower() == "authorization" for k in self.headers or ()):
                self.headers = {**(self.headers or {}), "Authorization": auth}
        self.url = url
        self.callback = callback
        self.method = method.upper()
        if cookies:
            # Sent as a Cookie header; with cookies on, the fetcher moves them into the
            # request's jar, so they are kept for the crawl as Scrapy keeps request cookies.
            pairs = "; ".join(f"{k}={v}" for k, v in dict(cookies).items())
            self.headers = {**(self.headers or {}), "Cookie": pairs}
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.meta = dict(meta) if meta else {}
        # Another request's meta passed on does not bring its cb_kwargs along (as in Scrapy).
        self.meta.pop(CB_KWARGS_KEY, None)
        if cb_kwargs:
            self.meta[CB_KWARGS_KEY] = dict(cb_kwargs)
        self.priority = int(priority)
        self.dont_filter = bool(dont_filter)
        self.errback = errback

    @property
    def cb_kwargs(self):
        """The callback's keyword arguments: a dict that may be changed in place, as in Scrapy."""
        return self.meta.setdefault(CB_KWARGS_KEY, {})

    def replace(self, *args, cls=None, **changes):
        """A new request with the same attributes but for those given, as Scrapy's
        ``Request.replace``: of the same class (or ``cls``), with ``meta``, ``headers`` and
        ``cb_kwargs`` copied (shallow), not shared."""
        for name in self.attributes:
            if name == "cb_kwargs":  # read without adding an empty entry to self.meta
                changes.setdefault(name, self.meta.get(CB_KWARGS_KEY))
            else:
                changes.setdefault(name, getattr(self, name))
        return (cls or type(self))(*args, **changes)

    def copy(self):
        """``replace()`` with no change: an equal request whose dicts are its own."""
        return self.replace()

    def __repr__(self):
        return f"<Request {self.method} {self.url}>"


def split_cb_kwargs(meta):
    """``(meta without the cb_kwargs entry, cb_kwargs)`` of a job's meta: what the callback sees."""
    if not meta or CB_KWARGS_KEY not in meta:
        return (meta if meta is not None else {}), {}
    meta = dict(meta)
    return meta, meta.pop(CB_KWARGS_KEY) or {}


def _callback_name(spider, cb, what="callback"):
    """The method name of ``cb`` on ``spider``; raises CallbackError for anything else.

    Scrapy's ``_find_method`` does the same: callbacks must be spider methods,
    because they are looked up again by name in another process.
    """
    from ..exceptions import CallbackError

    if cb is None or isinstance(cb, str):
        if isinstance(cb, str) and not callable(getattr(spider, cb, None)):
            raise CallbackError(f"{type(spider).__name__} has no method {cb!r} to use as {what}")
        return cb
    func = getattr(cb, "__func__", None)
    name = getattr(cb, "__name__", None)
    if getattr(cb, "__self__", None) is spider and func is not None and name:
        if getattr(getattr(spider, name, None), "__func__", None) is func:
            return name
    raise CallbackError(f"{what} {cb!r} is not a method of {type(spider).__name__}")


class Response:
    """A downloaded page, as the spider's callback sees it.

    ``text`` is decoded in the HTML5 order (BOM, Content-Type charset,
    ``<meta charset>``, then UTF-8 if it decodes, else windows-1252) by
    w3lib; ``soup`` is BeautifulSoup with the lxml parser, built on first use
    and then kept.
    """

    def __init__(self, url, status, headers, body, request_url=None, meta=None, depth=0,
                 spider=None, max_elements=None, cb_kwargs=None):
        #: The final URL, after redirects.
        self.url = url
        #: The URL that was requested.
        self.request_url = request_url or url
        self.status = status
        #: Response headers (a case-insensitive mapping).
        self.headers = headers if headers is not None else {}
        self.body = body
        self.meta = meta if meta is not None else {}
        #: The request's ``cb_kwargs`` (also passed to the callback), as Scrapy's ``response.cb_kwargs``.
        self.cb_kwargs = cb_kwargs if cb_kwargs is not None else {}
        self.depth = depth
        self._spider = spider
        self._text = None
        self._encoding = None
        self._soup = None
        self._selector = None
        self._base = None
        #: Distinct links of this page that link extraction skipped because they are malformed
        #: (see :meth:`note_invalid_link`); the fetcher adds them to the stats' ``invalid_links``.
        self.invalid_links = 0
        self._invalid_seen = None
        #: A tree of more elements is not built (PageTooLarge): see Settings.max_elements.
        self.max_elements = max_elements

    # -- content ---------------------------------------------------------------------------
    @property
    def content_type(self):
        """The media type without parameters, lower-cased ('' when absent)."""
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()

    @property
    def is_html(self):
        """True for text/html and XHTML, or a body that sniffs as HTML when the type is missing."""
        ctype = self.content_type
        if ctype:
            return ctype in HTML_TYPES
        return bool(_HTML_SNIFF_RE.match(self.body[:1024].lstrip(b"\xef\xbb\xbf")))

    def _decode(self):
        self._encoding, self._text = html_to_unicode(self.headers.get("Content-Type"), self.body,
                                                     auto_detect_fun=_auto_detect)

    @property
    def text(self):
        """The body as text."""
        if self._text is None:
            self._decode()
        return self._text

    @property
    def encoding(self):
        if self._encoding is None:
            self._decode()
        return self._encoding

    @property
    def soup(self):
        """BeautifulSoup of the page (lxml parser), built once on first use."""
        if self._soup is None:
            from .soup import make_soup

            self._soup = make_soup(self.text, self.max_elements)
        return self._soup

    @property
    def selector(self):
        """The page's :class:`~scrapepool.spiders.selector.Selector` (parsel, over lxml), built
        once on first use: ``html``, ``xml`` or ``json`` by the Content-Type, as Scrapy's."""
        if self._selector is None:
            from .selector import Selector

            self._selector = Selector(self)
        return self._selector

    def css(self, query):
        """``response.selector.css(query)``: a SelectorList (``::text``, ``::attr(name)``)."""
        return self.selector.css(query)

    def xpath(self, query, namespaces=None, **variables):
        """``response.selector.xpath(query)``; keyword arguments are XPath variables (``$name``)."""
        return self.selector.xpath(query, namespaces=namespaces, **variables)

    def jmespath(self, query, **kwargs):
        """``response.selector.jmespath(query)``: for JSON bodies (and JSON inside a page)."""
        return self.selector.jmespath(query, **kwargs)

    def re(self, regex, replace_entities=True):
        """Every match of ``regex`` in the page (its groups, if it has some), entities replaced."""
        return self.selector.re(regex, replace_entities=replace_entities)

    def re_first(self, regex, default=None, replace_entities=True):
        """The first match of ``regex`` in the page, else ``default``."""
        return self.selector.re_first(regex, default=default, replace_entities=replace_entities)

    def select(self, css):
        """``response.soup.select(css)``."""
        return self.soup.select(css)

    def select_one(self, css):
        return self.soup.select_one(css)

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.text)

    # -- links -----------------------------------------------------------------------------
    @property
    def base_url(self):
        """The URL relative links resolve against: ``<base href>`` if the page has one."""
        if self._base is None:
            self._base = self.url
            # A byte search first: most pages have no <base>, and a tree search costs.
            if self.is_html and _BASE_RE.search(self.body):
                href = self._base_href()
                if href is not None and href.strip():
                    try:
                        self._base = resolve(self.url, href.strip())[0]
                    except InvalidURL as exc:
                        # As browsers do: a <base> that is no URL leaves the page's own URL.
                        self.note_invalid_link(href, exc)
        return self._base

    def _base_href(self):
        """The ``href`` of the page's first ``<base href>``, from whichever tree is built
        (the selector's when neither is: ~0.4 ms against the soup's ~3 ms)."""
        if self._soup is not None:
            tag = self._soup.find("base", href=True)
            return None if tag is None else tag["href"]
        found = self.selector.root.xpath("//base[@href][1]/@href") \
            if self.selector.type == "html" else ()
        return str(found[0]) if found else None

    def urljoin(self, href):
        """Resolve ``href`` against the page's base URL."""
        return join(self.base_url, href.strip())

    def _href(self, link):
        """The URL text of what ``follow`` was given: a string, a selector (of an ``<a>`` or
        ``<link>``, or of an attribute), a :class:`~scrapepool.spiders.rules.Link`, or a
        BeautifulSoup tag."""
        if isinstance(link, str):  # first: the common case, before any import
            return link
        if link is None:
            raise ValueError("url can't be None")
        from parsel import Selector as ParselSelector
        from parsel import SelectorList as ParselSelectorList

        from .selector import url_from_selector

        if isinstance(link, ParselSelector):
            return url_from_selector(link)
        if isinstance(link, ParselSelectorList):
            raise ValueError("SelectorList is not supported: follow() takes one selector "
                             "(follow_all() takes a list)")
        if isinstance(link, tuple) and hasattr(link, "url"):  # a Link
            return link.url
        if hasattr(link, "get"):  # a BeautifulSoup tag
            return link.get("href") or ""
        raise TypeError(f"cannot follow {type(link).__name__} {link!r}")

    def follow(self, url, callback=None, meta=None, encoding=None, **kwargs):
        """A :class:`Request` for ``url`` relative to this page, as Scrapy's ``response.follow``:
        ``url`` is a string, a selector (``response.css("a.next")[0]`` or
        ``response.css("a::attr(href)")[0]``), a Link, or a BeautifulSoup ``<a>`` tag.

        :raises ValueError: (:class:`~scrapepool.urls.InvalidURL`) for a malformed http(s)
            URL, as Scrapy's does: the spider named this URL itself and should hear of it;
            also for None, a SelectorList, or an element other than ``<a>``/``<link>``.

        A non-ASCII query is percent-encoded in the page's ``encoding`` (or the one given),
        as browsers and Scrapy's Request do; the path always as UTF-8.
        """
        url, _ = resolve(self.base_url, self._href(url).strip())
        return Request(self._safe(url, encoding), callback=callback, meta=meta, **kwargs)

    def _safe(self, url, encoding=None):
        """``url`` as Scrapy's Request holds it: w3lib's ``safe_url_string`` (spaces and
        non-ASCII percent-encoded). Only URLs that need it go through w3lib: a regex search
        costs ~0.5 us, the call ~10 us, and a page of the benchmark site has ~40 links."""
        if _SAFE_URL_RE.match(url) is not None:
            return url
        return safe_url_string(url, encoding or self.encoding)

    def follow_all(self, urls=None, callback=None, meta=None, css=None, xpath=None, encoding=None,
                   **kwargs):
        """Requests for many links at once, as Scrapy's ``response.follow_all``: ``urls`` (an
        iterable of what :meth:`follow` takes, a SelectorList among them), or the elements a
        ``css`` or ``xpath`` query selects (exactly one of the three).

        Selected elements without an ``href``, or that are not ``<a>``/``<link>``, are
        skipped, as in Scrapy. So is a malformed link (and counted, as link extraction
        counts it: ``invalid_links``), where Scrapy's raises: these links come from the
        page, and one bad href must not cost the page its other links.
        """
        from parsel import SelectorList as ParselSelectorList

        from .selector import InvalidSelector

        given = [x for x in (urls, css, xpath) if x is not None]
        if len(given) != 1:
            raise ValueError("Please supply exactly one of the following arguments: urls, css, xpath")
        if css is not None:
            urls = self.css(css)
        elif xpath is not None:
            urls = self.xpath(xpath)
        if not hasattr(urls, "__iter__") or isinstance(urls, str):
            raise TypeError("'urls' argument must be an iterable")
        hrefs = []
        for link in urls:
            try:
                hrefs.append(self._href(link).strip())
            except InvalidSelector:
                if not isinstance(urls, ParselSelectorList):
                    raise
        return self._follow_hrefs(hrefs, callback, meta, encoding, kwargs)

    def _follow_hrefs(self, hrefs, callback, meta, encoding, kwargs):
        base = self.base_url
        for href in hrefs:
            try:
                url, _ = resolve(base, href)
            except InvalidURL as exc:
                self.note_invalid_link(href, exc)
                continue
            yield Request(self._safe(url, encoding), callback=callback, meta=meta, **kwargs)

    def note_invalid_link(self, href, reason):
        """Count and log (debug) a link that extraction skips because it is malformed.

        Called by every link extraction of scrapepool's (the built-in spider,
        LinkExtractor, sitemaps); a spider's own extraction may call it too. A link is
        counted once per page, however many extractors (a CrawlSpider's rules) meet it.
        """
        if self._invalid_seen is None:
            self._invalid_seen = set()
        elif href in self._invalid_seen:
            return
        self._invalid_seen.add(href)
        self.invalid_links += 1
        logger.debug("invalid link %r on %s skipped: %s", href, self.url, reason)

    def __repr__(self):
        return f"<Response {self.status} {self.url}>"


class Failure(dict):
    """What an errback gets, as Scrapy's (twisted's) ``Failure``: ``failure.request``, the
    failed Request (its ``meta``, ``cb_kwargs``); ``failure.value``, the exception (an
    :class:`~scrapepool.exceptions.HttpError` for an unhandled status, whose ``response`` is
    the Response; a :class:`~scrapepool.exceptions.DownloadTimeout`, also a ``TimeoutError``;
    a :class:`~scrapepool.exceptions.DownloadConnectionError`, also a ``ConnectionError``; else
    a :class:`~scrapepool.exceptions.DownloadError`); ``check()``, ``getErrorMessage()``.

    It is also the dict the errback got before (``failure["url"]``, ``["status"]``,
    ``["error"]``, ``["kind"]``, ``["meta"]``, ``["cb_kwargs"]``...): as in Scrapy, there is
    no ``failure.response``; ``failure.value.response`` it is."""

    def __init__(self, data=(), request=None, value=None):
        super().__init__(data)
        self.request = request
        self.value = value

    @property
    def type(self):
        """The exception's class, as twisted's ``Failure.type``."""
        return type(self.value) if self.value is not None else None

    def check(self, *error_types):
        """The first of ``error_types`` that the exception is an instance of, else None."""
        for error_type in error_types:
            if isinstance(self.value, error_type):
                return error_type
        return None

    def trap(self, *error_types):
        """As twisted's: the matching class, or the exception is raised again."""
        error_type = self.check(*error_types)
        if error_type is None:
            self.raiseException()
        return error_type

    def raiseException(self):
        raise self.value

    def getErrorMessage(self):
        """The exception's message, as twisted's ``Failure.getErrorMessage``."""
        return str(self.value) if self.value is not None else str(self.get("error", ""))

    def __repr__(self):
        return f"<Failure {self.type.__name__ if self.value is not None else None}: {self.getErrorMessage()}>"


def failure_value(kind, error, response=None):
    """The exception of a failed page whose (stats) ``kind`` and ``error`` the fetcher knows:
    ``http_<status>`` is an HttpError carrying ``response``."""
    from ..exceptions import DownloadConnectionError, DownloadError, DownloadTimeout, HttpError

    if kind and kind.startswith("http_") and response is not None:
        return HttpError(response, error)
    if kind == "timeout":
        return DownloadTimeout(error, kind)
    if kind == "connection":
        return DownloadConnectionError(error, kind)
    return DownloadError(error, kind)
