"""User spiders for the crawl benchmark (../shared/bench), doing the work of its Scrapy presets.

    python -m scrapepool crawl SEEDS -o OUT.jsonl --no-robots -w 2 -c 16 \\
        -s benchmarks/bench_spiders.py:SelectorSpider      # or :Bs4Spider

Per page, as ``scrapy_ref.py`` (``scrapy-css`` and ``scrapy-bs4``) and ``crawlee_ref.py``: one
record ``{url, status, title, links, h1, n_p}`` (``links``: the number of ``<a href>``; ``n_p``:
the number of ``<p>``), and every ``<a href>`` followed as an idiomatic spider does it, one
``response.follow`` each, leaving repeats, fragments, external hosts and ``mailto:`` to the
crawler (the dupefilter and the allowed domains), as the Scrapy spider leaves them to Scrapy's.
"""

from scrapepool import Spider


class SelectorSpider(Spider):
    """The ``scrapy-css`` preset: parsel selectors (``response.css``)."""

    name = "bench-css"

    def parse(self, response):
        title = response.css("title::text").get()
        hrefs = response.css("a::attr(href)").getall()
        h1 = response.css("h1::text").get()
        yield {"url": response.url, "status": response.status, "title": title.strip() if title else None,
               "links": len(hrefs), "h1": h1.strip() if h1 else None, "n_p": len(response.css("p"))}
        for href in hrefs:
            yield response.follow(href)


class Bs4Spider(Spider):
    """The ``scrapy-bs4`` preset: BeautifulSoup with lxml (``response.soup``)."""

    name = "bench-bs4"

    def parse(self, response):
        soup = response.soup
        t = soup.title
        title = t.get_text(strip=True) if t else None
        hrefs = [a["href"] for a in soup.find_all("a", href=True)]
        h = soup.find("h1")
        h1 = h.get_text(strip=True) if h else None
        n_p = len(soup.find_all("p"))
        yield {"url": response.url, "status": response.status, "title": title, "links": len(hrefs),
               "h1": h1, "n_p": n_p}
        for href in hrefs:
            yield response.follow(href)
