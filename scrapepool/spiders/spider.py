"""The Spider base class (loading one from a reference: :mod:`.loading`)."""

import logging
from collections.abc import MutableMapping

from .http import Request

__all__ = ["Spider", "SpiderLoggerAdapter"]


class SpiderLoggerAdapter(logging.LoggerAdapter):
    """Scrapy's ``SpiderLoggerAdapter``: the spider's ``extra`` added to a call's own ``extra``
    (the spider's keys win), not put in its place as ``logging.LoggerAdapter`` does before 3.13."""

    def process(self, msg, kwargs):
        if isinstance(kwargs.get("extra"), MutableMapping):
            kwargs["extra"].update(self.extra)
        else:
            kwargs["extra"] = self.extra
        return msg, kwargs


class Spider:
    """Subclass this and write ``parse(self, response)``.

    Callbacks yield dicts (records) and :class:`~scrapepool.Request` objects
    (more pages to crawl), or return a list of them, or None.
    """

    #: A short name for logs and stats.
    name = None
    #: Seed URLs, added to the command line's seeds.
    start_urls = ()
    #: As in Scrapy: bare domains (with their subdomains) the crawl may visit.
    #: Empty: the seeds' host:port only.
    allowed_domains = ()
    #: Defaults for any crawl setting (the command line wins over them).
    custom_settings = {}
    #: Record pipelines (classes or ``mod:Class`` strings), run in the fetchers.
    pipelines = ()
    #: Headers sent with every request (``--header`` and a request's own headers win).
    default_headers = {}

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)
        if not getattr(self, "name", None):
            self.name = type(self).__name__

    @property
    def logger(self):
        """A logger named after the spider, as Scrapy's ``Spider.logger``: its records
        carry the spider as ``record.spider``."""
        return SpiderLoggerAdapter(logging.getLogger(self.name), {"spider": self})

    def start_requests(self):
        """The first requests; by default one per URL of ``start_urls``."""
        for url in self.start_urls:
            yield Request(url, dont_filter=False)

    def parse(self, response):
        raise NotImplementedError(f"{type(self).__name__}.parse callback is not defined")

    def error_record(self, failure):
        """The record to write for a request that failed for good, or None (the default).

        :param failure: a dict with ``url``, ``final_url``, ``status``, ``error`` and ``depth``.
        """
        return None

    def closed(self, reason):
        """Called once when the crawl ends, in the coordinator (not in the fetchers), with the
        stats' ``finish_reason``: "finished", "interrupted", a CloseSpider reason, "incomplete"
        or "failed". As Scrapy's ``closed``; does nothing by default. An exception here is one
        spider error."""

    def redirect_seen_record(self, redirect):
        """The record for a request whose redirect leads to a URL the crawl has already
        requested, or None (the default). The hop is not fetched: as in Scrapy, it ends
        in the dupefilter, and the page gets its record from its own request
        (``Request(dont_filter=True)`` follows such a redirect all the same).

        :param redirect: a dict with ``url`` (requested), ``final_url`` (where the redirect
            leads), ``status`` (the redirect's), ``depth`` and ``meta``.
        """
        return None
