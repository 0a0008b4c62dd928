"""SitemapSpider: crawl the pages a site lists in its sitemaps, as Scrapy's SitemapSpider.

::

    class Shop(SitemapSpider):
        sitemap_urls = ["https://shop.example/robots.txt"]   # or sitemap URLs
        sitemap_rules = [("/product/", "parse_product"), ("", "parse")]
        sitemap_follow = ["/sitemap-products"]                # which sitemaps of an index

        def parse_product(self, response): ...

Sitemaps are parsed with lxml without network access or entity expansion, and
with ``recover=True`` (real sitemaps are often a little broken). A sitemap given
as ``str`` may keep its XML declaration's ``encoding="..."`` (lxml refuses one in
text): the declaration's encoding is ignored, as the text is decoded already. A gzip sitemap
(``.xml.gz``, or any gzip body) is decompressed up to :data:`MAX_SITEMAP_SIZE`.
A ``robots.txt`` URL is read for its ``Sitemap:`` lines (with protego).
"""

import logging
import re
import zlib
from urllib.parse import urlsplit

from ..urls import InvalidURL, canonical, is_http, resolve
from .http import Request
from .spider import Spider

__all__ = ["SitemapSpider", "Sitemap", "sitemap_urls_from_robots", "gunzip", "MAX_SITEMAP_SIZE"]

logger = logging.getLogger("scrapepool.sitemap")

#: Largest uncompressed sitemap read (the sitemaps.org limit is 50 MB uncompressed).
MAX_SITEMAP_SIZE = 50 * 1024 * 1024

_GZIP_MAGIC = b"\x1f\x8b"
#: The ``encoding="..."`` of an XML declaration at the start of a text (lxml refuses it in a str).
_DECL_ENCODING = re.compile(r"""\A(\ufeff?\s*<\?xml\b[^>]*?)\s+encoding\s*=\s*(?:"[^"]*"|'[^']*')""")
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<(?:\?xml|(?:\w+:)?(?:urlset|sitemapindex)\b)", re.I)


class SitemapTooLarge(ValueError):
    """A gzip sitemap uncompresses to more than the size cap."""


def gunzip(data, max_size=MAX_SITEMAP_SIZE):
    """Decompress gzip ``data`` (several members too), refusing more than ``max_size`` bytes out.

    Decompression is streamed with a cap on each step, so a small "gzip bomb"
    never gets to allocate its whole output.

    :raises SitemapTooLarge: when the output would exceed ``max_size``.
    :raises ValueError: when ``data`` is not valid gzip.
    """
    out = []
    size = 0
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = data
        while chunk:
            try:
                part = d.decompress(chunk, max_size - size + 1)
            except zlib.error as exc:
                if out and size:  # trailing garbage after a complete member: keep what we have
                    return b"".join(out)
                raise ValueError(f"not a valid gzip body: {exc}") from None
            size += len(part)
            if size > max_size:
                raise SitemapTooLarge(f"sitemap larger than {max_size} bytes uncompressed")
            out.append(part)
            chunk = d.unconsumed_tail
        if not d.eof:
            if size:
                break  # truncated: keep what was decompressed (recover, as for the XML)
            raise ValueError("truncated gzip body")
        data = d.unused_data
        if data and not data.startswith(_GZIP_MAGIC):
            break
    return b"".join(out)


def sitemap_urls_from_robots(text, base_url=None, on_invalid=None):
    """The sitemap URLs named by a robots.txt's ``Sitemap:`` lines, in order (relative ones
    resolved against ``base_url`` when given).

    A malformed URL (``http://[::1``, port 0) is skipped, logged at debug level and
    passed to ``on_invalid(url, reason)`` when given: the robots.txt's other sitemaps stay.
    """
    from protego import Protego

    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    seen = set()
    out = []
    for url in Protego.parse(text).sitemaps:
        url = url.strip()
        if not url:
            continue
        try:
            url = resolve(base_url, url)[0] if base_url else _checked(url)
        except InvalidURL as exc:
            logger.debug("invalid sitemap URL %r in robots.txt skipped: %s", url, exc)
            if on_invalid is not None:
                on_invalid(url, exc)
            continue
        if url not in seen:
            seen.add(url)
            out.append(url)
    return out


def _checked(url):
    """``url`` itself if it is absolute and not malformed; raises InvalidURL otherwise."""
    if canonical(url) is None and is_http(url):
        raise InvalidURL(f"{url!r} is not a valid URL")
    return url


def _localname(tag):
    if not isinstance(tag, str):
        return ""  # comments and processing instructions
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _elements(elem):
    """The child elements of ``elem`` (not comments, nor entity references left unexpanded)."""
    return [c for c in elem if isinstance(c.tag, str)]


def _text(elem):
    """The text of ``elem``; an unexpanded entity reference stays as written (``&name;``)."""
    return "".join(elem.itertext()).strip()


class Sitemap:
    """A parsed sitemap: ``type`` is ``"urlset"`` or ``"sitemapindex"`` (or the root tag's name);
    iterating gives one dict per ``<url>``/``<sitemap>``: ``loc``, ``lastmod``, ... and
    ``alternate`` (the hrefs of ``<xhtml:link rel="alternate">``) when present.

    ``xml`` is ``bytes`` (the encoding read from the XML declaration or BOM) or ``str``
    (decoded already: an encoding declaration in it is dropped, not an error). Entities are
    never expanded nor external ones read: a reference to one stays as written (``&name;``).
    """

    def __init__(self, xml):
        from lxml import etree

        if isinstance(xml, str):
            xml = _DECL_ENCODING.sub(r"\1", xml, count=1).lstrip("\ufeff")

        parser = etree.XMLParser(recover=True, remove_comments=True, remove_pis=True,
                                 resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=False)
        try:
            root = etree.fromstring(xml, parser=parser)
        except (etree.XMLSyntaxError, ValueError):
            root = None
        self._root = root
        self.type = _localname(root.tag) if root is not None else None

    def __iter__(self):
        if self._root is None:
            return
        for elem in _elements(self._root):
            if _localname(elem.tag) not in ("url", "sitemap"):
                continue
            entry = {}
            for child in _elements(elem):
                name = _localname(child.tag)
                if name == "link":
                    if (child.get("rel") or "").strip().lower() == "alternate" and child.get("href"):
                        entry.setdefault("alternate", []).append(child.get("href").strip())
                elif name:
                    inner = _elements(child)
                    if inner:  # <image:image>, <news:news>: a dict of their fields
                        entry[name] = {_localname(c.tag): _text(c) for c in inner}
                    else:
                        entry[name] = _text(child)
            if entry.get("loc") and isinstance(entry["loc"], str):
                yield entry


def _iterloc(entries, alternates=False):
    for entry in entries:
        yield entry["loc"]
        if alternates:
            yield from entry.get("alternate", ())


def _regex(x):
    return re.compile(x) if isinstance(x, str) else x


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


class SitemapSpider(Spider):
    """Crawls the pages listed in sitemaps.

    :attr sitemap_urls: sitemap URLs, or robots.txt URLs whose ``Sitemap:`` lines
        are followed (also settable as a spider argument, comma-separated).
    :attr sitemap_rules: ``(regex, callback_name)`` pairs; a page URL goes to the
        callback of the first regex found in it (``re.search``); a URL no rule
        matches is not requested. Default: every URL to ``parse``.
    :attr sitemap_follow: regexes of the sitemap URLs of a sitemap index to
        follow; default: all.
    :attr sitemap_alternate_links: also request ``<xhtml:link rel="alternate">`` URLs.

    Seeds given on the command line go to ``parse``, as with any spider; the
    sitemaps come from ``sitemap_urls``.
    """

    sitemap_urls = ()
    sitemap_rules = [("", "parse")]
    sitemap_follow = [""]
    sitemap_alternate_links = False
    #: Largest uncompressed sitemap read, in bytes.
    sitemap_max_size = MAX_SITEMAP_SIZE

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sitemap_urls = _as_list(self.sitemap_urls)
        self.sitemap_follow = _as_list(self.sitemap_follow)
        if isinstance(self.sitemap_alternate_links, str):
            self.sitemap_alternate_links = self.sitemap_alternate_links.lower() in ("1", "true", "yes")
        self._cbs = []
        for regex, callback in self.sitemap_rules:
            name = callback if isinstance(callback, str) else getattr(callback, "__name__", None)
            if not name or not callable(getattr(self, name, None)):
                raise TypeError(f"{type(self).__name__}.sitemap_rules: {callback!r} is not a "
                                "method of the spider")
            self._cbs.append((_regex(regex), name))
        self._follow = [_regex(x) for x in self.sitemap_follow]

    def start_requests(self):
        for url in self.sitemap_urls:
            yield Request(url, callback="_parse_sitemap")

    def sitemap_filter(self, entries):
        """Override to drop or change sitemap entries (dicts with ``loc``, ``lastmod``, ...)."""
        yield from entries

    def _parse_sitemap(self, response):
        if urlsplit(response.url).path.endswith("/robots.txt"):
            for url in sitemap_urls_from_robots(response.text, base_url=response.url,
                                                on_invalid=response.note_invalid_link):
                yield Request(url, callback="_parse_sitemap")
            return
        body = self._get_sitemap_body(response)
        if body is None:
            logger.warning("ignoring %s: not a sitemap (or larger than %d bytes)", response.url,
                           self.sitemap_max_size)
            return
        sitemap = Sitemap(body)
        entries = self.sitemap_filter(sitemap)
        if sitemap.type == "sitemapindex":
            for loc in self._locs(response, entries):
                if any(x.search(loc) for x in self._follow):
                    yield Request(loc, callback="_parse_sitemap")
        elif sitemap.type == "urlset":
            for loc in self._locs(response, entries):
                for regex, callback in self._cbs:
                    if regex.search(loc):
                        yield Request(loc, callback=callback)
                        break
        else:
            logger.warning("ignoring %s: not a sitemap (root element %r)", response.url, sitemap.type)

    def _locs(self, response, entries):
        """The absolute URLs of the entries; a malformed one is skipped and counted
        (``response.invalid_links``): the sitemap's other URLs stay."""
        for loc in _iterloc(entries, self.sitemap_alternate_links):
            try:
                yield resolve(response.url, loc)[0]
            except InvalidURL as exc:
                response.note_invalid_link(loc, exc)

    def _get_sitemap_body(self, response):
        """The sitemap's XML bytes, gunzipped if need be; None when it is not a sitemap."""
        body = response.body
        if body[:2] == _GZIP_MAGIC:
            try:
                return gunzip(body, self.sitemap_max_size)
            except ValueError as exc:
                logger.warning("cannot read the gzip sitemap %s: %s", response.url, exc)
                return None
        ctype = response.content_type
        path = urlsplit(response.url).path.lower()
        if ("xml" in ctype or path.endswith((".xml", ".xml.gz")) or _XML_START.match(body[:4096])):
            if len(body) > self.sitemap_max_size:
                return None
            return body
        return None
