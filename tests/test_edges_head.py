"""HEAD requests (issue 12): sent as HEAD, no body read, the callback gets status and headers.

A HEAD answer carries the Content-Length the GET would have, and no body: a
downloader that reads it as a GET waits for bytes that never come.
"""

import pytest

from scrapepool import Request, Spider
from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(30)

BIG = b"<html><title>big</title>" + b"x" * 5000 + b"</html>"


class HeadSpider(Spider):
    """Sends HEAD to /file and /big, and through /moved (a 303) and /kept (a 307)."""

    name = "head"

    def parse(self, response):
        for path in ("/file", "/big", "/moved", "/kept"):
            yield Request(response.urljoin(path), method="HEAD", callback=self.headed)

    def headed(self, response):
        yield {"url": response.request_url, "final_url": response.url, "status": response.status,
               "body": response.body.decode("latin-1"), "length": response.headers.get("Content-Length"),
               "type": response.headers.get("Content-Type"), "etag": response.headers.get("ETag")}


def test_a_head_request_is_sent_as_head_and_reads_no_body(crawl_spider):
    site = {
        "/": "<p>home</p>",
        "/file": Page("<title>file</title>" * 10, headers={"ETag": '"v1"'}),
        "/big": Page(BIG, content_type="application/octet-stream"),
        "/moved": Page("", status=303, headers={"Location": "/file2"}),
        "/kept": Page("", status=307, headers={"Location": "/file3"}),
        "/file2": "<title>2</title>",
        "/file3": "<title>3</title>",
    }
    result = crawl_spider(HeadSpider, site, start_method="fork", timeout=3, retries=0,
                          max_bytes=1000)  # /big is larger than max-bytes: a HEAD reads none of it

    recs = {r["url"].rsplit("/", 1)[1]: r for r in result.records}
    assert sorted(recs) == ["big", "file", "kept", "moved"]
    assert recs["file"] == {"url": result.url + "/file", "final_url": result.url + "/file", "status": 200,
                            "body": "", "length": str(len("<title>file</title>" * 10)),
                            "type": "text/html; charset=utf-8", "etag": '"v1"'}
    assert (recs["big"]["status"], recs["big"]["body"], recs["big"]["length"]) == (200, "", str(len(BIG)))
    # a 303 turns POST into GET, never HEAD (as Scrapy and the fetch standard)
    assert recs["moved"]["final_url"] == result.url + "/file2" and recs["moved"]["status"] == 200
    assert recs["kept"]["final_url"] == result.url + "/file3"
    methods = [m for m, p in result.requests if p != "/"]
    assert sorted(result.requests[1:]) == sorted(
        [("HEAD", p) for p in ("/file", "/big", "/moved", "/kept", "/file2", "/file3")])
    assert set(methods) == {"HEAD"}
    assert result.stats["errors"] == {}
