"""Spiders that use parsel selectors, for tests/test_selectors.py's real crawls (fetcher
processes import them by module name)."""

from scrapepool import Spider


class SelectorSpider(Spider):
    """The benchmark's work with selectors: title, h1, the number of <p>, every link followed."""

    def parse(self, response):
        yield {"url": response.url, "title": response.css("title::text").get(),
               "h1": response.xpath("//h1/text()").get(), "n_p": len(response.css("p")),
               "links": len(response.css("a::attr(href)").getall()),
               # Both trees on one page: the soup is still there for who wants it.
               "soup_title": response.soup.title.string if response.soup.title else None}
        yield from response.follow_all(css="a")


class FollowSelectorSpider(Spider):
    """``response.follow`` given one selector at a time: an <a>, then an attribute."""

    def parse(self, response):
        yield {"url": response.url}
        for href in response.css("a.attr::attr(href)"):
            yield response.follow(href, callback=self.parse)
        for a in response.css("a.el"):  # the last one has no href: follow raises
            yield response.follow(a)
