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
"""

import re
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urldefrag, urlsplit

import lxml.etree
import lxml.html
from bs4 import Tag
from w3lib.url import canonicalize_url, safe_url_string

from ..urls import CACHE_SIZE, canonical, join, resolve
from .http import Request
from .soup import check_elements
from .spider import Spider

__all__ = ["Link", "LinkExtractor", "Rule", "CrawlSpider", "IGNORED_EXTENSIONS"]

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
    :param restrict_xpaths: XPaths of the page regions to take links from: the page's
        text is parsed again with ``lxml.html`` (the soup has no XPath), and the links
        are taken from the selected lxml elements as from the soup's.
    :param restrict_css: CSS selectors of the page regions to take links from
        (a selected link element counts itself). With ``restrict_xpaths`` too, the
        XPath regions come first, as in Scrapy.
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
        self.deny_attrs = _names(deny_attrs)
        self.canonicalize = canonicalize
        self.unique = unique
        if deny_extensions is None:
            deny_extensions = IGNORED_EXTENSIONS
        self.deny_extensions = {"." + e.lower().lstrip(".") for e in _tuple(deny_extensions)}
        self.process_value = process_value
        self.restrict_text = _regexes(restrict_text)

    def _xpath_regions(self, response):
        """The elements the XPaths select, in a tree of their own: lxml.html's."""
        # lxml.html, as parsel does: the text re-encoded as UTF-8, so that an encoding
        # declaration in the page cannot contradict the text.
        check_elements(response.text, response.max_elements)
        parser = lxml.html.HTMLParser(encoding="utf-8")
        root = lxml.html.document_fromstring(response.text.encode("utf-8"), parser=parser)
        for xpath in self.restrict_xpaths:
            for el in root.xpath(xpath):
                if isinstance(el, lxml.etree._Element) and isinstance(el.tag, str):
                    yield el  # not text, attributes or comments

    def _regions(self, response):
        if not self.restrict_css and not self.restrict_xpaths:
            return [response.soup]
        regions = list(self._xpath_regions(response)) if self.restrict_xpaths else []
        for css in self.restrict_css:
            regions.extend(response.soup.select(css))
        return regions

    def _elements(self, response):
        """``(element, name, attributes, text)`` of each link element, soup's or lxml's."""
        seen = {}  # id -> element: kept alive, so that an lxml proxy's id is not reused
        tags, deny_tags = self.tags, self.deny_tags
        every_tag = "*" in tags
        for region in self._regions(response):
            if isinstance(region, Tag):
                nodes = [region] if region.name != "[document]" else []
                nodes.extend(region.descendants)
            else:
                nodes = region.iter()  # lxml: the region itself first
            for el in nodes:
                if isinstance(el, Tag):
                    name, attributes = el.name, el.attrs
                elif isinstance(el, lxml.etree._Element) and isinstance(el.tag, str):
                    name, attributes = el.tag.lower(), el.attrib
                else:
                    continue  # text, comments
                if name in deny_tags or not (every_tag or name in tags) or id(el) in seen:
                    continue
                seen[id(el)] = el  # regions may nest: an element counts once
                yield el, attributes

    def _values(self, attributes):
        names = attributes if "*" in self.attrs else self.attrs
        for name in names:
            if name in self.deny_attrs:
                continue
            value = attributes.get(name)
            if value is None:
                continue
            yield " ".join(value) if isinstance(value, list) else value

    def _raw_links(self, response):
        base = response.base_url
        encoding = response.encoding
        for el, attributes in self._elements(response):
            text = None
            for value in self._values(attributes):
                value = value.strip()
                if not value or value.startswith("#"):
                    continue
                try:
                    url = join(base, value)
                    if self.process_value is not None:
                        url = self.process_value(url)
                        if url is None:
                            continue
                        url = join(response.url, url.strip())
                    url = urldefrag(resolve(base, _safe_url(url, encoding))[0])[0]
                except ValueError as exc:  # InvalidURL too: skipped and counted, the page stays
                    response.note_invalid_link(value, exc)
                    continue
                if text is None:
                    text = " ".join((el.get_text() if isinstance(el, Tag) else el.text_content()).split())
                rel = attributes.get("rel") or ()
                rel = rel.split() if isinstance(rel, str) else rel
                yield Link(url, text, "nofollow" in (r.lower() for r in rel))

    def matches(self, url):
        """True if ``url`` (absolute) passes the filters (all but ``restrict_text``)."""
        canon = canonical(url)
        if canon is None:
            return False  # not http(s)
        forms = (url, canon) if canon != url else (url,)
        if self.allow_res and not any(r.search(f) for r in self.allow_res for f in forms):
            return False
        if any(r.search(f) for r in self.deny_res for f in forms):
            return False
        host = (urlsplit(canon).hostname or "").lower()
        if self.allow_domains and not _host_in(host, self.allow_domains):
            return False
        if self.deny_domains and _host_in(host, self.deny_domains):
            return False
        if self.deny_extensions:
            path = urlsplit(canon).path.lower()
            if any(path.endswith(ext) for ext in self.deny_extensions):
                return False
        return True

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
