"""A spider with a record pipeline that cleans and validates what the spider scraped.

The spider stays simple: it copies text out of the page as it is. ``CleanPipeline``
then, in the fetcher process that made the record:

- strips the whitespace around every text field and collapses the runs inside it
  (HTML is full of newlines and indentation), and turns a field left empty into None;
- parses the price ("$1,299.00" -> 1299.0);
- drops a record without one of the REQUIRED fields, or with a price that is not a
  number (returning None drops it: the crawl's stats count it under "dropped").

Run it against your own catalogue::

    scrapepool crawl seeds.txt -s examples/clean_pipeline.py:CatalogSpider -o products.jsonl

``test_clean_pipeline.py`` runs it on a small site with scrapepool's pytest plugin.
"""

import re

from scrapepool import Spider

_SPACES = re.compile(r"\s+")
_PRICE = re.compile(r"^[^\d-]*(-?[\d,]*\.?\d+)\s*$")


class CleanPipeline:
    """Strip whitespace; drop records without a required field; price as a float."""

    REQUIRED = ("name", "price")

    def process_record(self, record, spider):
        clean = {}
        for key, value in record.items():
            if isinstance(value, str):
                value = _SPACES.sub(" ", value).strip() or None
            clean[key] = value
        if any(clean.get(field) is None for field in self.REQUIRED):
            return None
        match = _PRICE.match(clean["price"]) if isinstance(clean["price"], str) else None
        if match is None:
            return None
        clean["price"] = float(match.group(1).replace(",", ""))
        return clean


class CatalogSpider(Spider):
    """Follows ``a.product`` links from list pages (and ``a.next``); one record per product."""

    name = "catalog"
    pipelines = [CleanPipeline]

    def parse(self, response):
        for link in response.select("a.product"):
            yield response.follow(link["href"], callback=self.parse_product)
        for link in response.select("a.next"):
            yield response.follow(link["href"])

    def parse_product(self, response):
        def text(css):
            node = response.select_one(css)
            return node.get_text() if node is not None else None

        yield {"url": response.url, "name": text("h1.name"), "price": text(".price"),
               "sku": text(".sku")}
