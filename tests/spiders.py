"""Spiders the tests run. All at module level: spawned fetchers import them as tests.spiders:Name."""

import os

from scrapepool import Request, SiteSpider, Spider


class TwoCallbacks(Spider):
    """A list page links to items (``a.item``); meta carries the list page and the link text along."""

    name = "two-callbacks"

    def parse(self, response):
        items = response.select("a.item")
        yield {"kind": "list", "url": response.url, "depth": response.depth, "items": len(items)}
        for a in items:
            yield response.follow(a, callback=self.parse_item,
                                  meta={"from": response.url, "label": a.get_text(strip=True)})
        nxt = response.select_one("a.next")
        if nxt is not None:
            yield response.follow(nxt["href"])

    def parse_item(self, response):
        yield {"kind": "item", "url": response.url, "depth": response.depth,
               "title": response.soup.title.get_text(strip=True),
               "from": response.meta["from"], "label": response.meta["label"]}


class RaisesOnBad(Spider):
    """Follows every link; on a page whose path contains 'bad' it yields a record, then raises."""

    def parse(self, response):
        yield {"url": response.url, "partial": "bad" in response.url}
        if "bad" in response.url:
            raise ValueError(f"cannot parse {response.url}")
        for a in response.select("a[href]"):
            yield response.follow(a)


class YieldsJunk(Spider):
    """Yields a record, then an int (neither dict nor Request), then another record."""

    def parse(self, response):
        yield {"url": response.url, "n": 1}
        yield 42
        yield {"url": response.url, "n": 2}


class StartUrlsSpider(Spider):
    """Seeds itself from start_urls (set through spider arguments)."""

    def start_requests(self):
        for url in getattr(self, "urls", "").split(","):
            if url:
                yield Request(url)

    def parse(self, response):
        yield {"url": response.url}


class NotASpider:
    """A class that is not a Spider subclass."""

    def parse(self, response):
        yield {}


def not_a_class(response):
    return None


class BadCallback(Spider):
    """On the home page, follows /a with a lambda callback (refused) and /b properly."""

    def parse(self, response):
        yield {"url": response.url}
        if response.depth == 0:
            yield response.follow("/a", callback=lambda r: None)
            yield response.follow("/b")


class PoisonSpider(SiteSpider):
    """The site spider, except that a page whose URL contains 'poison' kills its fetcher process."""

    def parse(self, response):
        if "poison" in response.url:
            os._exit(13)
        yield from super().parse(response)


class RedirectMeta(Spider):
    """Follows ``a.item`` links with meta; the item callback reports what a redirect left in it."""

    name = "redirect-meta"

    def parse(self, response):
        for a in response.select("a.item"):
            yield response.follow(a, callback=self.parse_item, meta={"label": a.get_text(strip=True)})

    def parse_item(self, response):
        yield {"url": response.url, "request_url": response.request_url, "label": response.meta["label"],
               "redirect_urls": response.meta.get("redirect_urls"), "depth": response.depth}


class PostsThroughRedirects(Spider):
    """POSTs ``body=b"x=1"`` to /p303 and /p307 of the seed's site; records where each landed."""

    name = "posts-through-redirects"

    def parse(self, response):
        for path in ("/p303", "/p307"):
            yield Request(response.urljoin(path), method="POST", body=b"x=1", callback=self.landed,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})

    def landed(self, response):
        yield {"request_url": response.request_url, "url": response.url, "echo": response.text}


class ReportsCpus(SiteSpider):
    """The site spider, with the CPUs its fetcher process may run on in every record."""

    def parse(self, response):
        for item in super().parse(response):
            if isinstance(item, dict):
                item["cpus"] = sorted(os.sched_getaffinity(0))
            yield item
