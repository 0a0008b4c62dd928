"""scrapepool: a multiprocess web-scraping framework.

Spiders parse with parsel selectors or BeautifulSoup on every core; the output is written exactly
once, through crashes, Ctrl-C and kill -9, and a job directory resumes a crawl.

Usage::

    >>> from scrapepool import Spider, crawl
    >>> class Titles(Spider):
    ...     def parse(self, response):
    ...         yield {"url": response.url, "title": response.css("title::text").get()}

The public names are imported on first use: the writer process, the pytest
plugin and ``scrapepool --help`` need only a few modules, and importing
requests, BeautifulSoup and rich into every process costs memory and time.
"""

import importlib
import logging

__version__ = "0.1.0"

#: Public name -> the module that defines it.
_EXPORTS = {
    "CallbackError": "exceptions",
    "CloseSpider": "exceptions",
    "DownloadConnectionError": "exceptions",
    "DownloadError": "exceptions",
    "DownloadTimeout": "exceptions",
    "HttpError": "exceptions",
    "JobDirError": "exceptions",
    "OutputError": "exceptions",
    "ScrapepoolError": "exceptions",
    "SpiderLoadError": "exceptions",
    "UsageError": "exceptions",
    "WriterDied": "exceptions",
    "crawl": "api",
    "SiteSpider": "spiders.builtin",
    "FormRequest": "spiders.forms",
    "post_form": "spiders.forms",
    "Failure": "spiders.http",
    "Request": "spiders.http",
    "Response": "spiders.http",
    "CrawlSpider": "spiders.rules",
    "Link": "spiders.rules",
    "LinkExtractor": "spiders.rules",
    "Rule": "spiders.rules",
    "Selector": "spiders.selector",
    "SelectorList": "spiders.selector",
    "Settings": "settings",
    "SitemapSpider": "spiders.sitemap",
    "sitemap_urls_from_robots": "spiders.sitemap",
    "Spider": "spiders.spider",
    "load_spider": "spiders.loading",
}

__all__ = tuple(sorted(_EXPORTS)) + ("__version__",)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'scrapepool' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


# The library never configures logging for the user (the CLI does).
logging.getLogger(__name__).addHandler(logging.NullHandler())
