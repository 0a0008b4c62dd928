"""Crawling local test sites: the test server (:mod:`.testserver`) and the pytest plugin
(:mod:`.pytest_plugin`). Nothing here is imported by a crawl."""
