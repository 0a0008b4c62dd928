"""The import path ``scrapepool.pytest_plugin`` (``crawl_site`` outside pytest, a ``pytest_plugins``
entry): the plugin lives in :mod:`scrapepool.testing.pytest_plugin`, which the ``pytest11`` entry
point loads."""

from .testing.pytest_plugin import CrawlResult, crawl_site, crawl_spider, site_server

__all__ = ["CrawlResult", "crawl_site", "crawl_spider", "site_server"]
