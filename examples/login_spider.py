"""Log in through a form with a CSRF token, then crawl the pages only a logged-in user sees.

    scrapepool crawl seeds.txt -s examples/login_spider.py:LoginSpider -a username=alice ...

The seed is the login page. ``FormRequest.from_response`` fills the login form in as a
browser would, hidden CSRF token included; the site answers with a session cookie and a
redirect to the account page, and the crawl keeps that cookie for the protected pages
(whichever fetcher process requests them).
"""

from scrapepool import Spider
from scrapepool.spiders.forms import FormRequest


class LoginSpider(Spider):
    name = "login"
    #: Spider arguments (``crawl(..., spider_kwargs={"username": ..., "password": ...})``).
    username = "alice"
    password = "wonderland"

    def parse(self, response):
        """The login page: submit its login form (the page has other forms too)."""
        yield FormRequest.from_response(
            response,
            formcss="form#login",
            formdata={"username": self.username, "password": self.password},
            callback=self.after_login,
        )

    def after_login(self, response):
        """The account page, after the redirect that followed the login POST."""
        user = response.select_one(".welcome .user")
        if user is None:
            yield {"kind": "login_failed", "url": response.url}
            return
        yield {"kind": "account", "user": user.get_text(strip=True)}
        for link in response.select("a.protected"):  # not "Log out": that would end the session
            yield response.follow(link, callback=self.parse_protected)

    def parse_protected(self, response):
        yield {
            "kind": "protected",
            "url": response.url,
            "title": response.select_one("h1").get_text(strip=True),
            "owner": response.select_one(".owner").get_text(strip=True),
        }
