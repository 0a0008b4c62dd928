"""scrapepool: a multiprocess web-scraping framework.

Spiders parse with BeautifulSoup on every core; the output is written exactly
once, through crashes, Ctrl-C and kill -9, and a job directory resumes a crawl.

Usage::

    >>> from scrapepool import Spider, crawl
    >>> class Titles(Spider):
    ...     def parse(self, response):
    ...         yield {"url": response.url, "title": response.soup.title.string}
"""

import logging

__version__ = "0.1.0"

from .api import crawl
from .builtin import SiteSpider
from .exceptions import (CallbackError, CloseSpider, JobDirError, OutputError, ScrapepoolError,
                         SpiderLoadError, UsageError, WriterDied)
from .forms import FormRequest, post_form
from .http import Request, Response
from .rules import CrawlSpider, Link, LinkExtractor, Rule
from .settings import Settings
from .sitemap import SitemapSpider, sitemap_urls_from_robots
from .spider import Spider, load_spider

#: ``Request.post_form(url, formdata)``: a POST of urlencoded form data.
Request.post_form = staticmethod(post_form)

__all__ = (
    "CallbackError",
    "CloseSpider",
    "CrawlSpider",
    "FormRequest",
    "Link",
    "LinkExtractor",
    "Rule",
    "SitemapSpider",
    "JobDirError",
    "OutputError",
    "Request",
    "Response",
    "ScrapepoolError",
    "Settings",
    "SiteSpider",
    "Spider",
    "SpiderLoadError",
    "UsageError",
    "WriterDied",
    "__version__",
    "crawl",
    "load_spider",
    "post_form",
    "sitemap_urls_from_robots",
)

# The library never configures logging for the user (the CLI does).
logging.getLogger(__name__).addHandler(logging.NullHandler())
