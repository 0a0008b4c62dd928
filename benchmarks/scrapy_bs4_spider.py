"""The Scrapy side of benchmarks/compare.py: the same record as scrapepool's site spider,
each page parsed with BeautifulSoup(lxml), every http(s) link followed within the seed's site
(Scrapy's own dupefilter canonicalises, as scrapepool does).

    scrapy runspider benchmarks/scrapy_bs4_spider.py -a seeds=seeds.txt -O out.jsonl:jsonlines
"""

from urllib.parse import urlsplit

import scrapy
from bs4 import BeautifulSoup


class Bs4Spider(scrapy.Spider):
    name = "bs4"
    custom_settings = {"ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTS": 32,
                       "CONCURRENT_REQUESTS_PER_DOMAIN": 32, "TELNETCONSOLE_ENABLED": False}

    def __init__(self, seeds=None, **kw):
        super().__init__(**kw)
        with open(seeds) as f:
            self.start_urls = [line.strip() for line in f if line.strip()]
        self.allowed = {urlsplit(u).netloc for u in self.start_urls}

    # Seeds go through the dupefilter (Scrapy's default start requests skip it), so that a
    # later link back to "/" is not crawled a second time: scrapepool dedupes seeds too.
    async def start(self):  # Scrapy >= 2.13
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def start_requests(self):  # older Scrapy
        for url in self.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def parse(self, response):
        soup = BeautifulSoup(response.body, "lxml")
        links = set()
        for a in soup.find_all(("a", "area"), href=True):
            href = a["href"].strip()
            if not href or href.startswith("#"):
                continue
            url = response.urljoin(href)
            if url.startswith(("http://", "https://")):
                links.add(url.split("#", 1)[0])
        title = soup.title.get_text(" ", strip=True) if soup.title else None
        yield {"url": response.request.url, "final_url": response.url, "status": response.status,
               "error": None, "depth": response.meta.get("depth", 0), "title": title or None,
               "links": len(links)}
        for url in links:
            if urlsplit(url).netloc in self.allowed:
                yield scrapy.Request(url, callback=self.parse)
