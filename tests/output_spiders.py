"""Spiders of tests/test_output_files.py, at module level: fetchers import them as tests.output_spiders:Name."""

from scrapepool import Spider

RECORDS = [{"a": 1, "b": "x"}, {"b": "y", "c": [1, 2]}, {"c": None, "d": "dé", "a": 3}]


class VaryingKeys(Spider):
    """One page, three records: later records add keys the first one lacks."""

    def parse(self, response):
        yield from RECORDS


class CaseKeys(Spider):
    """Keys that differ only in case, which SQLite column names cannot tell apart."""

    def parse(self, response):
        yield {"Title": "first"}
        yield {"title": "second"}
        yield {"Title": "p", "title": "q"}
