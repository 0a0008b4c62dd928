"""The import path ``scrapepool.testserver``: the test server lives in :mod:`scrapepool.testing.testserver`."""

from .testing.testserver import Page, RequestInfo, SiteServer

__all__ = ["Page", "RequestInfo", "SiteServer"]
