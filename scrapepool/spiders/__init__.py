"""The user's API: Spider, Request/Response, forms, rules, sitemaps, records, pipelines.

These modules run in the fetcher processes (a spider's callbacks) and in the user's own
code. They never import :mod:`scrapepool.core`: a spider file pulls in no coordinator.
"""
