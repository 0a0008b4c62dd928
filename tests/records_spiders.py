"""Spiders for the record tests (tests/test_records.py), at module level: spawned fetchers
import them as ``tests.records_spiders:Name``."""

import dataclasses
import datetime
import decimal
from typing import List, Optional

from scrapepool import Spider


class SoupTitle(Spider):
    """Yields the page title as ``soup.title.string``: a bs4 NavigableString, which drags the
    whole parse tree along when it is pickled."""

    def parse(self, response):
        yield {"url": response.url, "title": response.soup.title.string,
               "first": response.soup.select_one("p").string}


@dataclasses.dataclass
class Author:
    name: str
    born: datetime.date


@dataclasses.dataclass
class Quote:
    text: str
    author: Author
    price: decimal.Decimal
    tags: set
    seen: datetime.datetime
    score: float = float("nan")
    raw: bytes = b""
    pair: tuple = ()
    note: Optional[str] = None


class DataclassRecords(Spider):
    """Yields a dataclass record (with a nested dataclass, a set, a date, a Decimal, NaN...)."""

    def parse(self, response):
        yield Quote(text=response.soup.select_one("span.text").string,
                    author=Author(response.select_one("small").get_text(), datetime.date(1879, 3, 14)),
                    price=decimal.Decimal("12.50"), tags={"b", "a", "c"},
                    seen=datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
                    raw=b"caf\xc3\xa9 \xff", pair=(1, "two"))


def nested(depth):
    value = "bottom"
    for _ in range(depth):
        value = {"down": [value]}
    return value


class OneBadRecord(Spider):
    """On each page: a good record, a record nested 5,000 levels deep, a record holding an
    object that cannot become plain data, then another good record."""

    def parse(self, response):
        yield {"url": response.url, "n": 1}
        yield {"url": response.url, "n": "deep", "tree": nested(5000)}
        yield {"url": response.url, "n": "object", "list": [1, 2, {"x": object()}]}
        yield {"url": response.url, "n": 2}


@dataclasses.dataclass
class Link:
    href: str
    text: str


class LinksSpider(Spider):
    """Records with lists of dataclasses; follows the links (Requests are untouched)."""

    def parse(self, response):
        links: List[Link] = [Link(a["href"], a.get_text()) for a in response.select("a[href]")]
        yield {"url": response.url, "links": links}
        for link in links:
            yield response.follow(link.href)
