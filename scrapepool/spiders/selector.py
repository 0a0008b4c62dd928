"""Selector and SelectorList: parsel's, as Scrapy's, built from a :class:`Response`.

``response.css()``, ``.xpath()``, ``.re()`` and ``.jmespath()`` go through the response's
:attr:`~scrapepool.spiders.http.Response.selector`, one :class:`Selector` built on first
use in the fetcher that downloaded the page, so selectors run on every core as the soup
does. parsel (Scrapy's own selector library, over lxml) parses a page of the benchmark
site in ~0.4 ms of CPU; BeautifulSoup with lxml takes ~3 ms. A spider may use both: each
tree is built only when asked for.

The type of the selector follows the response's Content-Type, as Scrapy's response
classes decide it: ``xml`` for XML types, ``json`` for JSON, ``html`` for HTML (or a
body that sniffs as HTML); any other type is left to parsel, which takes a body that
parses as a JSON object or array as ``json`` and anything else as ``html``.
"""

from parsel import Selector as _ParselSelector

from .soup import check_elements

__all__ = ["Selector", "SelectorList", "selector_type", "url_from_selector", "InvalidSelector"]

_NOT_SET = object()

#: Content types Scrapy's ``responsetypes`` maps to XmlResponse (and any ``+xml`` but XHTML).
_XML_TYPES = ("text/xml", "application/xml", "application/atom+xml", "application/rdf+xml",
              "application/rss+xml")
#: Content types Scrapy maps to JsonResponse.
_JSON_TYPES = ("application/json", "application/x-json", "text/json")


def selector_type(response):
    """``"html"``, ``"xml"``, ``"json"``, or None (parsel decides from the body)."""
    ctype = response.content_type
    if response.is_html:
        return "html"
    if ctype in _XML_TYPES or (ctype.endswith("+xml") and ctype != "application/xhtml+xml"):
        return "xml"
    if ctype in _JSON_TYPES or ctype.endswith("+json"):
        return "json"
    return None


class SelectorList(_ParselSelector.selectorlist_cls):
    """A list of :class:`Selector`: ``.css()``, ``.xpath()``, ``.get()``, ``.getall()``,
    ``.re()``, ``.re_first()``, ``.attrib``, ``.jmespath()``, as parsel's."""


class Selector(_ParselSelector):
    """parsel's Selector, which can also be built from a Response, as Scrapy's:
    ``Selector(response)``, ``Selector(text=...)``; ``selector.response`` is the response.

    A response's tree is bounded as its soup is: a page that may hold more elements than
    ``Settings.max_elements`` raises :class:`~scrapepool.exceptions.PageTooLarge` instead
    of building a tree that could take gigabytes (``soup.check_elements``).
    """

    __slots__ = ["response"]
    selectorlist_cls = SelectorList

    def __init__(self, response=None, text=None, type=None, root=_NOT_SET, **kwargs):  # noqa: A002
        if response is None and text is None and root is not _NOT_SET:
            # A selector parsel derives from another (each result of css/xpath): the common
            # case by far (~45 a page for the benchmark spider), kept to one check.
            self.response = None
            _ParselSelector.__init__(self, type=type, root=root, **kwargs)
            return
        if response is not None and text is not None:
            raise ValueError(f"{self.__class__.__name__}.__init__() received both response and text")
        if response is not None:
            if type is None and root is _NOT_SET:
                type = selector_type(response)  # noqa: A001
            text = response.text
            if root is _NOT_SET:
                check_elements(text, response.max_elements)
            # The page's own URL, not its <base href>: base_url only feeds lxml's
            # make_links_absolute; links resolve through response.urljoin, which reads <base>.
            kwargs.setdefault("base_url", response.url)
        elif text is not None and type is None and root is _NOT_SET:
            type = "html"  # noqa: A001 - Scrapy: text given alone is HTML
        self.response = response
        if root is not _NOT_SET:
            kwargs["root"] = root
        super().__init__(text=text, type=type, **kwargs)


class InvalidSelector(ValueError):
    """A selector :meth:`Response.follow` cannot take a URL from."""


def url_from_selector(sel):
    """The URL a selector names, for ``response.follow``: an attribute's value
    (``a::attr(href)``), or the ``href`` of an ``<a>`` or ``<link>``; surrounding
    whitespace removed (HTML5's, as browsers and Scrapy do).

    :raises InvalidSelector: for any other element, or one without ``href``.
    """
    root = sel.root
    if isinstance(root, str):
        return root.strip(" \t\n\r\f")
    if not hasattr(root, "tag"):
        raise InvalidSelector(f"Unsupported selector: {sel}")
    if root.tag not in ("a", "link"):
        raise InvalidSelector(f"Only <a> and <link> elements are supported; got <{root.tag}>")
    href = root.get("href")
    if href is None:
        raise InvalidSelector(f"<{root.tag}> element has no href attribute: {sel}")
    return href.strip(" \t\n\r\f")
