"""The demo's spider: crawl the bundled demo site (``scrapepool serve-demo``), every quote, then
each quote's author.

Only pagination and author links are followed, not tags: tag pages repeat quotes already seen.
It lives in the package, not only in ``examples/``, so that ``scrapepool demo`` works from a
regular install, which has no examples folder; ``examples/quotes.py`` imports it from here.
"""

from scrapepool import Spider


class QuotesSpider(Spider):
    name = "quotes"
    start_urls = []  # the demo passes the server URL as the seed

    def parse(self, response):
        for quote in response.select("div.quote"):
            yield {
                "kind": "quote",
                "text": quote.select_one("span.text").get_text(strip=True).strip("“”"),
                "author": quote.select_one("small.author").get_text(strip=True),
                "tags": [tag.get_text(strip=True) for tag in quote.select("div.tags a.tag")],
            }
            about = quote.select_one("small.author ~ a")
            yield response.follow(about["href"], callback=self.parse_author)

        for link in response.select("li.next a"):
            yield response.follow(link["href"])

    def parse_author(self, response):
        def text(css):
            return response.soup.select_one(css).get_text(strip=True)

        yield {
            "kind": "author",
            "name": text("h3.author-title"),
            "born_date": text("span.author-born-date"),
            "born_location": text("span.author-born-location"),
            "description": text("div.author-description"),
        }
