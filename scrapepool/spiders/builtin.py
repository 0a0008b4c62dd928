"""SiteSpider: the built-in spider, a site audit that records every page it requests.

Its links and title come from lxml's tree, ``response.selector`` (parsel), not from
BeautifulSoup: on the benchmark harness's site (25 KiB, ~40 links a page;
``benchmarks/link_extraction.py``, CPU per page, one process, 2026-12-01) page_links and
the title cost 2.9 ms with the soup (2.7 to build it, 0.20 to walk it) and 0.29 ms with
lxml (0.14 to build the selector, 0.135 to walk it): a tenth. The links, their order,
the invalid-link counts and the titles are the soup's (``tests/test_link_paths.py``, on
nasty pages), but that a NUL character in an href or title is dropped (parsel removes it
before parsing) rather than made U+FFFD. A spider of its own that reads ``response.soup``
builds the soup as well; this one never does.
"""

from itertools import chain

from ..urls import InvalidURL, resolve
from .http import Request
from .rules import page_roots
from .sitemap import SitemapSpider

__all__ = ["SiteSpider", "page_links", "page_title"]

_LINK_TAGS = ("a", "area")


def page_links(response):
    """Distinct canonical http(s) URLs of the page's ``<a href>`` and ``<area href>``, in order.

    Links inside comments and scripts are not elements, so lxml never shows them;
    lxml's ``iter("a", "area")`` picks the elements out in C. Content after ``</html>``
    counts too (:func:`~scrapepool.spiders.rules.page_roots`), as it did in the soup.
    A malformed link is skipped and counted (``response.note_invalid_link``): one bad
    href must not cost the page its record and its other links.
    """
    seen = {}
    base = response.base_url
    hrefs = set()
    for el in chain.from_iterable(top.iter(_LINK_TAGS) for top in page_roots(response)):
        href = el.get("href")
        if not href or href in hrefs:
            continue
        hrefs.add(href)
        href = href.strip()
        if not href or href.startswith("#"):
            continue
        if href[:11].lower().startswith(("mailto:", "tel:", "javascript:", "data:", "ftp:")):
            continue
        try:
            url, canon = resolve(base, href)
        except InvalidURL as exc:
            response.note_invalid_link(href, exc)
            continue
        if canon is not None and canon not in seen:
            seen[canon] = url
    return seen


def page_title(response):
    """The text of the page's first ``<title>``, whitespace collapsed, or None if it has none
    or it is blank."""
    for top in page_roots(response):
        for el in top.iter("title"):
            return " ".join(el.text_content().split()) or None
    return None


class SiteSpider(SitemapSpider):
    """Writes one record per requested URL and follows every link within the allowed domains.

    Record: ``{"url", "final_url", "status", "error", "depth", "title", "links"}``.
    With ``--sitemap`` it is also seeded from the sitemaps its seeds' robots.txt names
    (the sitemaps themselves get no record).
    """

    name = "site"

    def parse(self, response):
        record = {
            "url": response.request_url,
            "final_url": response.url,
            "status": response.status,
            "error": None,
            "depth": response.depth,
            "title": None,
            "links": 0,
        }
        if not response.is_html:
            yield record
            return
        links = page_links(response)
        record["title"] = page_title(response)
        record["links"] = len(links)
        yield record
        for url in links.values():
            yield Request(url)

    def redirect_seen_record(self, redirect):
        """One record per requested URL: this one names the page it redirects to."""
        return {"url": redirect["url"], "final_url": redirect["final_url"], "status": redirect["status"],
                "error": None, "depth": redirect["depth"], "title": None, "links": 0}

    def error_record(self, failure):
        return {
            "url": failure["url"],
            "final_url": failure.get("final_url") or failure["url"],
            "status": failure.get("status"),
            "error": failure.get("error"),
            "depth": failure.get("depth", 0),
            "title": None,
            "links": 0,
        }
