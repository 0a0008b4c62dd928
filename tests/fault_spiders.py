"""Spiders that misbehave, for the no-hang tests (tests/test_faults.py).

At module level: spawned fetchers import them as ``tests.fault_spiders:Name``.
"""

import os
import signal
import sys
import threading

from scrapepool import CloseSpider, SiteSpider, Spider


class ExitsOnBad(Spider):
    """Follows every link; on a page whose path contains 'bad' it yields a record, then calls sys.exit()."""

    def parse(self, response):
        yield {"url": response.url}
        if "bad" in response.url:
            sys.exit(3)
        for a in response.select("a[href]"):
            yield response.follow(a)


class ExitingPipeline:
    """A careless pipeline: raises SystemExit on the record of a 'bad' page."""

    def process_record(self, record, spider):
        if "bad" in record["url"]:
            raise SystemExit("pipeline gave up")
        return record


class ExitsInPipeline(Spider):
    pipelines = [ExitingPipeline]

    def parse(self, response):
        yield {"url": response.url}
        for a in response.select("a[href]"):
            yield response.follow(a)


class ExitsInErrorRecord(Spider):
    """Its error_record (for a 404) raises SystemExit."""

    def parse(self, response):
        yield {"url": response.url}
        for a in response.select("a[href]"):
            yield response.follow(a)

    def error_record(self, failure):
        raise SystemExit("no error records here")


class HangsOnStuck(Spider):
    """Spider code that never returns on a page whose path contains 'stuck'."""

    def parse(self, response):
        if "stuck" in response.url:
            threading.Event().wait()
        yield {"url": response.url}
        for a in response.select("a[href]"):
            yield response.follow(a)


class ClosesOnStop(Spider):
    """Follows links one by one; raises CloseSpider("enough") on a page whose path contains 'stop'."""

    def parse(self, response):
        yield {"url": response.url}
        if "stop" in response.url:
            raise CloseSpider("enough")
        for a in response.select("a[href]"):
            yield response.follow(a)


class SlowStart(Spider):
    """start_requests that announces itself in $SCRAPEPOOL_TEST_MARKER, then yields URLs without end."""

    def start_requests(self):
        from scrapepool import Request

        marker = os.environ.get("SCRAPEPOOL_TEST_MARKER")
        base = os.environ.get("SCRAPEPOOL_TEST_BASE", "http://127.0.0.1:9")
        for i in range(50_000_000):
            if i == 1000 and marker:
                with open(marker, "w") as f:
                    f.write("started")
            yield Request(f"{base}/p{i}")

    def parse(self, response):
        yield {"url": response.url}


class RecordsEachResponse(Spider):
    """One record per response: the URL asked for and the URL the page came from."""

    dont_filter = False

    def parse(self, response):
        yield {"url": response.request_url, "final_url": response.url}
        for a in response.select("a[href]"):
            yield response.follow(a, dont_filter=self.dont_filter)


class RecordsEachResponseUnfiltered(RecordsEachResponse):
    dont_filter = True

    def parse(self, response):
        yield {"url": response.request_url, "final_url": response.url}
        if response.depth == 0:
            for a in response.select("a[href]"):
                yield response.follow(a, dont_filter=True)


class KillsItsMachine(SiteSpider):
    """The built-in spider, except that a page whose path starts with ``/poison`` SIGKILLs the
    whole process group it runs in: coordinator, fetchers and writer (a "machine" of a shared
    crawl, tests/test_distributed.py), as a page that crashes the box would."""

    def parse(self, response):
        if response.url.split("/", 3)[3].startswith("poison"):
            os.killpg(os.getpgrp(), signal.SIGKILL)
        yield from super().parse(response)
