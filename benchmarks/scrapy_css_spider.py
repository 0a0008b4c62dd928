"""The Scrapy side of benchmarks/compare.py's selector pair: Scrapy's native selectors
(``response.css``), the same work as ``benchmarks/bench_spiders.py:SelectorSpider`` and as the
``scrapy-css`` preset of ../shared/bench: one record ``{url, status, title, links, h1, n_p}``
per page and every ``<a href>`` of the site followed (Scrapy's dupefilter drops repeats).

    scrapy runspider benchmarks/scrapy_css_spider.py -a seeds=seeds.txt -O out.jsonl:jsonlines
"""

from urllib.parse import urlsplit

import scrapy


class CssSpider(scrapy.Spider):
    name = "css"
    custom_settings = {"ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 32,
                       "CONCURRENT_REQUESTS_PER_DOMAIN": 32, "TELNETCONSOLE_ENABLED": False}

    def __init__(self, seeds=None, **kw):
        super().__init__(**kw)
        with open(seeds) as f:
            self.start_urls = [line.strip() for line in f if line.strip()]
        self.hosts = {urlsplit(u).netloc for u in self.start_urls}

    # Seeds through the dupefilter, as in scrapy_bs4_spider.py.
    async def start(self):  # Scrapy >= 2.13
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def start_requests(self):  # older Scrapy
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):
        title = response.css("title::text").get()
        hrefs = response.css("a::attr(href)").getall()
        h1 = response.css("h1::text").get()
        yield {"url": response.url, "status": response.status, "title": title.strip() if title else None,
               "links": len(hrefs), "h1": h1.strip() if h1 else None, "n_p": len(response.css("p"))}
        for href in hrefs:
            url = response.urljoin(href.strip())
            parts = urlsplit(url)
            if parts.scheme in ("http", "https") and parts.netloc in self.hosts:
                yield scrapy.Request(url, callback=self.parse)
