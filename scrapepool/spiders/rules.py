"""Link extraction and crawl rules: LinkExtractor, Rule and CrawlSpider, as Scrapy's.

::

    class Shop(CrawlSpider):
        rules = [
            Rule(allow=r"/category/", deny=r"/category/archive"),          # followed
            Rule(LinkExtractor(allow=r"/item/\\d+", restrict_css=".products"),
                 callback="parse_item"),                                   # parsed, not followed
        ]

        def parse_item(self, response):
            yield {"name": response.select_one("h1").get_text(strip=True)}

Callbacks travel between processes by name, so every request a rule makes has
the one callback ``_parse_rule`` and carries the rule's index in
``meta["rule"]`` (and the link's text in ``meta["link_text"]``);
``_parse_rule`` looks the rule up again in the fetcher that gets the response.

Links are read from lxml's tree, ``response.selector`` (parsel's, as Scrapy's
LinkExtractor reads it), never from the soup: on the benchmark harness's site (25 KiB,
~40 links a page; ``benchmarks/link_extraction.py --rev``, CPU per page, one process,
2026-12-01) the selector costs 0.14 ms to build against 2.7 ms for the soup, and
``LinkExtractor().extract_links`` with its tree 0.66 ms, against 3.8 ms as it was with
the soup (0.85 ms of it after the soup was built; 0.52 ms now: one ``endswith`` of a
tuple instead of a generator over the 80 ignored extensions took a third of it off).
A spider that reads ``response.soup`` too builds both trees: +0.14 ms, and the same
links as Scrapy's extractor.

The answers are the soup's (``tests/test_link_paths.py`` compares the two on broken
markup, comments, scripts, namespaces, entities, non-UTF-8 pages...) but where the
trees differ, and lxml's answer is Scrapy's: a link's text is XPath ``string()``, so
it includes the text of a ``<script>``, ``<style>`` or ``<template>`` inside the link
(BeautifulSoup leaves those out); an attribute's value is as written (the soup split
``class`` and ``rel`` and joined them again with single spaces, and gave a bare
boolean attribute the value ``""``, lxml its name); NUL characters are dropped (parsel
removes them before parsing; the soup made them U+FFFD); ``restrict_css`` is
cssselect's, which also searches ``<template>`` contents (soupsieve did not).
Content after ``</html>``, which lxml puts in a second ``<html>`` next to the root,
is read as the soup read it, though Scrapy's extractor, walking the root alone, misses it.
"""

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urldefrag, urlsplit

import lxml.etree
from parsel.csstranslator import HTMLTranslator
from w3lib.url import canonicalize_url, safe_url_string

from ..urls import CACHE_SIZE, canonical, join, resolve
from .http import Request
from .spider import Spider

__all__ = ["Link", "LinkExtractor", "Rule", "CrawlSpider", "IGNORED_EXTENSIONS", "page_roots"]

#: Extensions of links that are not web pages, skipped by default (Scrapy's list,
#: scrapy.linkextractors.IGNORED_EXTENSIONS).
IGNORED_EXTENSIONS = (
    # archives
    "7z", "7zip", "bz2", "rar", "tar", "tar.gz", "xz", "zip",
    # images
    "mng", "pct", "bmp", "gif", "jpg", "jpeg", "png", "pst", "psp", "tif", "tiff", "ai", "drw",
    "dxf", "eps", "ps", "svg", "cdr", "ico", "webp",
    # audio
    "mp3", "wma", "ogg", "wav", "ra", "aac", "mid", "au", "aiff",
    # video
    "3gp", "asf", "asx", "avi", "mov", "mp4", "mpg", "qt", "rm", "swf", "wmv", "m4a", "m4v", "flv",
    "webm",
    # office suites
    "xls", "xlsm", "xlsx", "xltm", "xltx", "potm", "potx", "ppt", "pptm", "pptx", "pps", "doc",
    "docb", "docm", "docx", "dotm", "dotx", "odt", "ods", "odg", "odp",
    # other
    "css", "pdf", "exe", "bin", "rss", "dmg", "iso", "apk", "jar", "sh", "rb", "js", "hta", "bat",
    "cpl", "msi", "msp", "py",
)


class Link(NamedTuple):
    """A link found on a page: ``url`` absolute and safe (as Scrapy's: w3lib's
    ``safe_url_string``, spaces and non-ASCII percent-encoded, the path as UTF-8 and
    the query in the page's encoding), without its fragment; ``text`` the element's
    text, whitespace collapsed; ``nofollow`` when ``rel`` says so."""

    url: str
    text: str = ""
    nofollow: bool = False


def _tuple(value):
    if value is None:
        return ()
    if isinstance(value, (str, re.Pattern)):
        return (value,)
    return tuple(value)


def _regexes(value):
    return [re.compile(v) if isinstance(v, str) else v for v in _tuple(value)]


def _host_in(host, domains):
    return any(host == d or host.endswith("." + d) for d in domains)


_CSS = HTMLTranslator()


def page_roots(response):
    """The top-level elements of an HTML response's lxml tree (``response.selector.root``).

    The root, and, on a page with content after ``</html>``, the ``<html>`` element lxml
    starts for it, a sibling of the root (BeautifulSoup keeps that content as well; browsers
    put it in the body). Scrapy's LinkExtractor walks the root alone and misses its links.
    """
    root = response.selector.root
    return [root, *root.itersiblings(lxml.etree.Element)]


#: An element's text as Scrapy's LinkExtractor reads it: XPath ``string()``, every text
#: node under it (a ``<script>`` or ``<style>`` inside a link too; comments not).
_string = lxml.etree.XPath("string()", smart_strings=False)


@lru_cache(maxsize=CACHE_SIZE)
def _safe_url(url, encoding):
    """w3lib's ``safe_url_string``, cached: a site repeats its links on every page."""
    return safe_url_string(url, encoding=encoding)


def _names(value):
    """Tag or attribute names, lower-cased (the lxml tree builder lower-cases both)."""
    return frozenset(v.lower() for v in _tuple(value))


class LinkExtractor:
    """Finds the links of a page that pass its filters, as Scrapy's ``LinkExtractor``.

    :param allow: regexes (``re.search``); a link must match one of them (none: all pass).
    :param deny: regexes; a link matching one is dropped (deny wins over allow).
        Both are tried on the absolute URL and on its canonical form (query
        sorted, escapes normalised), so either spelling may be written.
    :param allow_domains: / deny_domains: bare domains, with their subdomains.
    :param restrict_xpaths: XPaths of the page regions to take links from, evaluated
        on ``response.selector`` as Scrapy does (text, attributes and comments selected
        are no region).
    :param restrict_css: CSS selectors of the page regions to take links from
        (a selected link element counts itself), translated to XPath by parsel's
        cssselect translator when the extractor is made, as in Scrapy (a selector it
        cannot read raises then). With ``restrict_xpaths`` too, the XPath regions come
        first, as in Scrapy.
    :param tags: / attrs: elements and attributes holding links, default ``("a", "area")``
        and ``("href",)``; ``"*"`` means every tag (every attribute); None: none.
    :param deny_tags: / deny_attrs: names never taken, even with ``"*"``.
    :param canonicalize: give each link's URL in w3lib's ``canonicalize_url`` form.
    :param unique: drop links whose URL (canonicalized or not, as it is returned)
        was already found on the page.
    :param deny_extensions: file extensions to skip; None: :data:`IGNORED_EXTENSIONS`;
        ``()`` keeps every link.
    :param process_value: a function given each link's URL (the attribute's value made
        absolute against the page's base URL, as Scrapy does) that returns the URL to
        use (a relative one is resolved against the page's URL), or None to drop the link.
    :param restrict_text: regexes; a link's text must match one of them (none: all pass).
    """

    def __init__(self, allow=(), deny=(), allow_domains=(), deny_domains=(), restrict_xpaths=(),
                 tags=("a", "area"), attrs=("href",), canonicalize=False, unique=True,
                 process_value=None, deny_extensions=None, restrict_css=(), restrict_text=None,
                 deny_tags=(), deny_attrs=()):
        self.allow_res = _regexes(allow)
        self.deny_res = _regexes(deny)
        self.allow_domains = {d.lower().strip(".") for d in _tuple(allow_domains)}
        self.deny_domains = {d.lower().strip(".") for d in _tuple(deny_domains)}
        self.restrict_xpaths = _tuple(restrict_xpaths)
        self.restrict_css = _tuple(restrict_css)
        self.tags = _names(tags)
        self.attrs = tuple(a.lower() for a in _tuple(attrs))
        self.deny_tags = _names(deny_tags)
        self._every_tag = "*" in self.tags
        #: As Scrapy's: CSS becomes XPath once, here (a selector cssselect cannot read fails now).
        self._css_xpaths = tuple(_CSS.css_to_xpath(css) for css in self.restrict_css)
        #: lxml's iter() picks these out in C, in document order.
        self._iter_tags = tuple(sorted(self.tags - self.deny_tags - {"*"}))
        self.deny_attrs = _names(deny_attrs)
        self.canonicalize = canonicalize
        self.unique = unique
        if deny_extensions is None:
            deny_extensions = IGNORED_EXTENSIONS
        self.deny_extensions = {"." + e.lower().lstrip(".") for e in _tuple(deny_extensions)}
        self._deny_suffixes = tuple(sorted(self.deny_extensions))
        self.process_value = process_value
        self.restrict_text = _regexes(restrict_text)

    def _regions(self, response):
        """The elements to take links from: the whole page, or the restricted regions
        (elements only: text, attributes and comments are no region), XPaths first."""
        tops = page_roots(response)
        if not self.restrict_css and not self.restrict_xpaths:
            return tops
        found = [s.root for x in self.restrict_xpaths for s in response.selector.xpath(x)]
        for xpath in self._css_xpaths:
            for top in tops:
                found.extend(top.xpath(xpath))
        return [el for el in found if isinstance(el, lxml.etree._Element) and isinstance(el.tag, str)]

    def _elements(self, response):
        """Each link element of the page (or of its regions), once, in document order."""
        if not self._iter_tags and not self._every_tag:
            return  # tags=None
        regions = self._regions(response)
        # Restricted regions may nest (or repeat): an element counts once.
        seen = set() if len(regions) > 1 and (self.restrict_css or self.restrict_xpaths) else None
        deny_tags = self.deny_tags
        for region in regions:
            if self._every_tag:
                nodes = (el for el in region.iter(lxml.etree.Element) if el.tag not in deny_tags)
            else:
                nodes = region.iter(self._iter_tags)  # in C, the region itself first
            for el in nodes:
                if seen is not None:
                    if el in seen:
                        continue
                    seen.add(el)  # which keeps the proxy alive: lxml hands out the same one again
                yield el

    def _values(self, attributes):
        names = attributes if "*" in self.attrs else self.attrs
        for name in names:
            if name in self.deny_attrs:
                continue
            value = attributes.get(name)
            if value is not None:
                yield value

    def _raw_links(self, response):
        base = response.base_url
        encoding = response.encoding
        for el in self._elements(response):
            text = None
            attributes = el.attrib
            for value in self._values(attributes):
                url = self._link_url(value, base, encoding, response)
                if url is None:
                    continue
                if text is None:
                    text = " ".join(_string(el).split())
                rel = attributes.get("rel")
                yield Link(url, text, rel is not None and "nofollow" in rel.lower().split())

    def _link_url(self, value, base, encoding, response):
        """The Link URL of an attribute's ``value`` (``process_value`` applied, made safe,
        without its fragment), or None for a value that names no link. A malformed one is
        counted (``response.note_invalid_link``) and skipped: the page and its other links stay."""
        value = value.strip()
        if not value or value.startswith("#"):
            return None
        try:
            url = join(base, value)
            if self.process_value is not None:
                url = self.process_value(url)
                if url is None:
                    return None
                url = join(response.url, url.strip())
            return urldefrag(resolve(base, _safe_url(url, encoding))[0])[0]
        except ValueError as exc:  # InvalidURL too
            response.note_invalid_link(value, exc)
            return None

    def matches(self, url):
        """True if ``url`` (absolute) passes the filters (all but ``restrict_text``)."""
        canon = canonical(url)
        if canon is None:
            return False  # not http(s)
        forms = (url, canon) if canon != url else (url,)
        if self.allow_res and not any(r.search(f) for r in self.allow_res for f in forms):
            return False
        if self.deny_res and any(r.search(f) for r in self.deny_res for f in forms):
            return False
        parts = urlsplit(canon)
        if self.allow_domains or self.deny_domains:
            host = (parts.hostname or "").lower()
            if self.allow_domains and not _host_in(host, self.allow_domains):
                return False
            if self.deny_domains and _host_in(host, self.deny_domains):
                return False
        # One endswith() of a tuple, in C: a generator over Scrapy's 80 extensions was a
        # third of extract_links' CPU on the benchmark site.
        return not (self._deny_suffixes and parts.path.lower().endswith(self._deny_suffixes))

    def extract_links(self, response):
        """The page's links that pass the filters, in document order (a list of :class:`Link`).

        A malformed link (``http://[::1``, port 0...) is skipped and counted in
        ``response.invalid_links``; the others are kept.
        """
        if not response.is_html:
            return []
        links, seen = [], set()
        for link in self._raw_links(response):
            if not self.matches(link.url):
                continue
            if self.restrict_text and not any(r.search(link.text) for r in self.restrict_text):
                continue
            if self.canonicalize:
                link = link._replace(url=canonicalize_url(link.url))
            if self.unique:
                if link.url in seen:
                    continue
                seen.add(link.url)
            links.append(link)
        return links


_EXTRACTOR_ARGS = ("allow", "deny", "allow_domains", "deny_domains", "restrict_xpaths", "restrict_css",
                   "tags", "attrs", "deny_tags", "deny_attrs", "canonicalize", "unique", "deny_extensions",
                   "process_value", "restrict_text")


class Rule:
    """What a :class:`CrawlSpider` does with the links one extractor finds.

    :param link_extractor: a :class:`LinkExtractor`; or give its arguments here
        instead (``Rule(allow=r"/category/", deny=..., callback=...)``); neither: every link.
    :param callback: name (or method) of the spider's callback for the pages
        these links lead to; its records and requests are yielded.
    :param follow: whether the rules are applied again to those pages; default:
        True when there is no callback, else False.
    :param cb_kwargs: keyword arguments for the callback.
    :param process_links: a function or spider method name, ``links -> links``.
    :param process_request: a function or spider method name, ``(request, response) -> request or None``.
    :param errback: name of a spider method called with the failure dict when such a page fails.
    """

    def __init__(self, link_extractor=None, callback=None, follow=None, cb_kwargs=None,
                 process_links=None, process_request=None, errback=None, **extractor_kwargs):
        unknown = set(extractor_kwargs) - set(_EXTRACTOR_ARGS)
        if unknown:
            raise TypeError(f"Rule got unexpected arguments: {', '.join(sorted(unknown))}")
        if link_extractor is not None and extractor_kwargs:
            raise TypeError("give Rule a link_extractor or LinkExtractor arguments, not both")
        self.link_extractor = link_extractor or LinkExtractor(**extractor_kwargs)
        self.callback = callback
        self.cb_kwargs = dict(cb_kwargs or {})
        self.follow = bool(follow) if follow is not None else not callback
        self.process_links = process_links
        self.process_request = process_request
        self.errback = errback

    def __repr__(self):
        return f"<Rule callback={self.callback!r} follow={self.follow}>"


def _method(spider, value, what):
    """A callable for a rule's callback / hook: a spider method name, or a callable."""
    if value is None or callable(value):
        return value
    method = getattr(spider, value, None)
    if not callable(method):
        raise TypeError(f"{type(spider).__name__} has no method {value!r} to use as a rule's {what}")
    return method


class CrawlSpider(Spider):
    """A spider that follows links by :attr:`rules`, as Scrapy's CrawlSpider.

    ``parse`` (the seeds' callback) calls :meth:`parse_start_url`, then applies
    the rules to the page: each link goes to the first rule whose extractor
    finds it, as a request with callback ``_parse_rule`` and ``meta["rule"]``.
    Do not override ``parse``; write ``parse_start_url`` for the seed pages.
    """

    #: A sequence of :class:`Rule`.
    rules = ()

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._compile_rules()

    def _compile_rules(self):
        self._rules = []
        for rule in self.rules:
            self._rules.append((rule, _method(self, rule.callback, "callback"),
                                _method(self, rule.process_links, "process_links"),
                                _method(self, rule.process_request, "process_request")))
            if rule.errback is not None:
                _method(self, rule.errback, "errback")

    def parse(self, response):
        return self._parse_response(response, self.parse_start_url, {}, follow=True)

    def parse_start_url(self, response):
        """Override to get records out of the seed pages too (they are followed either way)."""
        return ()

    def process_results(self, response, results):
        """Override to change what a rule's callback returned."""
        return results

    def _parse_rule(self, response):
        """The callback of every request a rule made: run that rule's callback, then follow."""
        index = response.meta.get("rule")
        if not isinstance(index, int) or not 0 <= index < len(self._rules):
            raise ValueError(f"_parse_rule needs meta['rule'], the index of one of the "
                             f"{len(self._rules)} rules, not {index!r}")
        rule, callback, _, _ = self._rules[index]
        return self._parse_response(response, callback, rule.cb_kwargs, rule.follow)

    def _errback_rule(self, failure):
        index = (failure.get("meta") or {}).get("rule")
        rule = self._rules[index][0]
        errback = _method(self, rule.errback, "errback")
        return errback(failure) if errback is not None else None

    def _parse_response(self, response, callback, cb_kwargs, follow=True):
        if callback is not None:
            results = callback(response, **cb_kwargs)
            if results is not None:
                if isinstance(results, (dict, Request)):
                    results = (results,)
                yield from self.process_results(response, results) or ()
        if follow:
            yield from self._requests_to_follow(response)

    def _requests_to_follow(self, response):
        if not response.is_html:
            return
        seen = set()
        for index, (rule, _, process_links, process_request) in enumerate(self._rules):
            links = []
            for link in rule.link_extractor.extract_links(response):
                key = canonical(link.url)
                if key not in seen:
                    links.append(link)
            if process_links is not None:
                links = process_links(links)
            for link in links:
                seen.add(canonical(link.url))
                request = self._build_request(index, link, rule)
                if process_request is not None:
                    request = process_request(request, response)
                if request is not None:
                    yield request

    def _build_request(self, index, link, rule):
        return Request(link.url, callback="_parse_rule", meta={"rule": index, "link_text": link.text},
                       errback="_errback_rule" if rule.errback is not None else None)
