"""Spiders for tests/test_request_meta.py: Scrapy's request meta keys (issue 16).

At module level: spawned fetchers import them as ``tests.request_meta_spiders:Name``.
Each spider takes ``base`` (the server's URL) and ``requests``: a list of ``[path, meta]``
pairs, requested in that order; the callback and the errback write one record a page.
"""

from scrapepool import Request, Spider


def _path(url):
    return "/" + url.split("/", 3)[3]


class MetaSpider(Spider):
    base = ""
    requests = ()

    def start_requests(self):
        for path, meta in self.requests:
            yield Request(self.base + path, meta=meta, errback=self.on_error, dont_filter=True)

    def parse(self, response):
        yield {"path": _path(response.request_url), "via": "callback", "status": response.status,
               "final": _path(response.url), "bytes": len(response.body),
               "redirect_urls": [_path(u) for u in response.meta.get("redirect_urls", ())],
               "redirect_reasons": response.meta.get("redirect_reasons")}

    def on_error(self, failure):
        yield {"path": _path(failure["url"]), "via": "errback", "status": failure["status"],
               "kind": failure["kind"],
               "redirect_urls": [_path(u) for u in failure["meta"].get("redirect_urls", ())],
               "redirect_reasons": failure["meta"].get("redirect_reasons")}
