"""The quotes example: crawl the bundled demo site (``scrapepool serve-demo``), every quote, then
each quote's author.

The spider itself is ``scrapepool/demo/spider.py``: ``scrapepool demo`` runs it, and a regular
(non-editable) install has no examples folder to read it from. Read it there; it is imported
here so that ``-s examples/quotes.py:QuotesSpider`` and ``examples/test_quotes.py`` keep working.
"""

from scrapepool.demo.spider import QuotesSpider

__all__ = ["QuotesSpider"]
