"""Spiders that log and print from their callbacks (run in fetcher processes).

At module level so that spawned fetchers import them as tests.logging_spiders:Name.
"""

import logging

from scrapepool import Spider


class LogsEachPage(Spider):
    """Logs one INFO line per page through ``self.logger``, one DEBUG line through a
    plain ``logging.getLogger``, and follows every link."""

    name = "logs-each-page"

    def parse(self, response):
        self.logger.info("saw %s", response.url)
        logging.getLogger("spider.debug").debug("debug line for %s", response.url)
        yield {"url": response.url}
        for a in response.select("a"):
            yield response.follow(a["href"])


class PrintsEachPage(Spider):
    """print()s on every page, as spider authors do while debugging."""

    name = "prints-each-page"

    def parse(self, response):
        print("noise", response.url)
        yield {"url": response.url, "text": "noise"}
        for a in response.select("a"):
            yield response.follow(a["href"])
