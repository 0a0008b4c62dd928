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
from .http import Request, Response
from .settings import Settings
from .spider import Spider, load_spider

__all__ = (
    "CallbackError",
    "CloseSpider",
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
)

# The library never configures logging for the user (the CLI does).
logging.getLogger(__name__).addHandler(logging.NullHandler())
