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
from typing import NamedTuple
from urllib.parse import urldefrag, urlsplit

from bs4 import Tag

from ..urls import InvalidURL, canonical, resolve
from .http import Request
from .spider import Spider

__all__ = ["Link", "LinkExtractor", "Rule", "CrawlSpider", "IGNORED_EXTENSIONS"]

#: Extensions of links that are not web pages, skipped by default (Scrapy's list).
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
    "xls", "xlsx", "ppt", "pptx", "pps", "doc", "docx", "odt", "ods", "odg", "odp",
    # other
    "css", "pdf", "exe", "bin", "rss", "dmg", "iso", "apk", "jar", "sh", "rb", "js", "hqx",
)


class Link(NamedTuple):
    """A link found on a page: ``url`` absolute, without its fragment; ``text`` the
    element's text, whitespace collapsed; ``nofollow`` when ``rel`` says so."""

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


class LinkExtractor:
    """Finds the links of a page that pass its filters.

    :param allow: regexes (``re.search``); a link must match one of them (none: all pass).
    :param deny: regexes; a link matching one is dropped (deny wins over allow).
        Both are tried on the absolute URL and on its canonical form (query
        sorted, escapes normalised), so either spelling may be written.
    :param allow_domains: / deny_domains: bare domains, with their subdomains.
    :param restrict_css: CSS selectors of the page regions to take links from
        (a selected link element counts itself).
    :param tags: / attrs: elements and attributes holding links.
    :param unique: drop repeated links (same canonical URL).
    :param deny_extensions: file extensions to skip; None: :data:`IGNORED_EXTENSIONS`;
        ``()`` keeps every link.
    :param process_value: a function applied to each attribute value; None drops the link.
    """

    def __init__(self, allow=(), deny=(), allow_domains=(), deny_domains=(), restrict_css=(),
                 tags=("a", "area"), attrs=("href",), unique=True, deny_extensions=None,
                 process_value=None):
        self.allow_res = _regexes(allow)
        self.deny_res = _regexes(deny)
        self.allow_domains = {d.lower().strip(".") for d in _tuple(allow_domains)}
        self.deny_domains = {d.lower().strip(".") for d in _tuple(deny_domains)}
        self.restrict_css = _tuple(restrict_css)
        self.tags = frozenset(t.lower() for t in _tuple(tags))
        self.attrs = _tuple(attrs)
        self.unique = unique
        if deny_extensions is None:
            deny_extensions = IGNORED_EXTENSIONS
        self.deny_extensions = {"." + e.lower().lstrip(".") for e in _tuple(deny_extensions)}
        self.process_value = process_value

    def _regions(self, response):
        if not self.restrict_css:
            return [response.soup]
        regions, ids = [], set()
        for css in self.restrict_css:
            for el in response.soup.select(css):
                if id(el) not in ids:
                    ids.add(id(el))
                    regions.append(el)
        return regions

    def _elements(self, response):
        seen = set()
        for region in self._regions(response):
            nodes = [region] if isinstance(region, Tag) and region.name != "[document]" else []
            nodes.extend(region.descendants)
            for tag in nodes:
                if tag.__class__ is not Tag or tag.name not in self.tags or id(tag) in seen:
                    continue
                seen.add(id(tag))  # regions may nest: an element counts once
                yield tag

    def _raw_links(self, response):
        base = response.base_url
        for tag in self._elements(response):
            for attr in self.attrs:
                value = tag.get(attr)
                if value is None:
                    continue
                if isinstance(value, list):
                    value = " ".join(value)
                if self.process_value is not None:
                    value = self.process_value(value)
                    if value is None:
                        continue
                value = value.strip()
                if not value or value.startswith("#"):
                    continue
                try:
                    url = urldefrag(resolve(base, value)[0])[0]
                except InvalidURL as exc:  # skipped and counted: the page and its other links stay
                    response.note_invalid_link(value, exc)
                    continue
                rel = tag.get("rel") or ()
                rel = rel.split() if isinstance(rel, str) else rel
                yield Link(url, " ".join(tag.get_text().split()),
                           "nofollow" in (r.lower() for r in rel))

    def matches(self, url):
        """True if ``url`` (absolute) passes the filters."""
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
            if self.unique:
                key = canonical(link.url)
                if key in seen:
                    continue
                seen.add(key)
            links.append(link)
        return links


_EXTRACTOR_ARGS = ("allow", "deny", "allow_domains", "deny_domains", "restrict_css", "tags", "attrs",
                   "unique", "deny_extensions", "process_value")


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
