"""Spiders for the sites of ``tests/real_world_sites.py`` (forms, a JSON API, sitemaps, rules,
logins and cookies), at module level: spawned fetchers import them as
``tests.real_world_spiders:Name``."""

from scrapepool import Request, Spider
from scrapepool.spiders.forms import FormRequest
from scrapepool.spiders.rules import CrawlSpider, LinkExtractor, Rule
from scrapepool.spiders.sitemap import SitemapSpider


class SearchFormSpider(Spider):
    """Submits the search form (view state and all) for ``query``, then pages through the
    results by posting the pager form."""

    query = "python"

    def parse(self, response):
        yield FormRequest.from_response(response, formcss="form#search", formdata={"q": self.query},
                                        callback=self.parse_results)

    def parse_results(self, response):
        page = int(response.select_one("p.page").get_text())
        for li in response.select("li.result"):
            yield {"title": li.get_text(strip=True), "page": page}
        if response.select_one("form#pager") is not None:
            yield FormRequest.from_response(response, formid="pager", callback=self.parse_results)

    def error_record(self, failure):
        return {"error": failure["error"], "url": failure["url"]}


class ApiSpider(Spider):
    """Reads a paginated JSON API: records from ``items``, the next page from ``next``."""

    def parse(self, response):
        data = response.json()
        for item in data["items"]:
            yield {"id": item["id"], "name": item["name"], "page": data["page"]}
        if data.get("next"):
            yield Request(response.urljoin(data["next"]), callback=self.parse)


class ShopSitemapSpider(SitemapSpider):
    """Products to ``parse_product``, every other listed page to ``parse_page``; only the
    products and pages sitemaps of the index. ``sitemap_urls`` comes as a spider argument."""

    sitemap_rules = [("/product/", "parse_product"), ("", "parse_page")]
    sitemap_follow = [r"/sitemap-(products|pages)\b"]

    def parse_product(self, response):
        yield {"kind": "product", "url": response.url, "title": response.select_one("h1").get_text()}

    def parse_page(self, response):
        yield {"kind": "page", "url": response.url}


class CatalogueSpider(CrawlSpider):
    """Follows categories (not the archive), parses items listed in ``div.products``."""

    rules = (
        Rule(allow=r"/category/", deny=r"/archive/"),
        Rule(LinkExtractor(allow=r"/item/\d+$", restrict_css="div.products"), callback="parse_item",
             cb_kwargs={"source": "rule"}),
    )

    def parse_start_url(self, response):
        yield {"kind": "start", "url": response.url}

    def parse_item(self, response, source):
        yield {"kind": "item", "url": response.url, "title": response.select_one("h1").get_text(),
               "link_text": response.meta["link_text"], "source": source}


class CookieLoginSpider(Spider):
    """Logs in (CSRF form), then reads every protected page the account page links to.
    A seed that is not the login page is parsed as a protected page; failures are records."""

    username = "alice"
    password = "wonderland"

    def parse(self, response):
        if response.select_one("form#login") is None:
            yield from self.parse_private(response)
            return
        yield FormRequest.from_response(response, formid="login",
                                        formdata={"username": self.username, "password": self.password},
                                        callback=self.after_login)

    def after_login(self, response):
        user = response.select_one(".user")
        yield {"kind": "account", "user": user.get_text() if user else None, "url": response.url}
        for a in response.select("a.protected"):
            yield response.follow(a, callback=self.parse_private)

    def parse_private(self, response):
        yield {"kind": "private", "path": response.url.split("/", 3)[3],
               "owner": response.select_one(".owner").get_text()}

    def error_record(self, failure):
        return {"kind": "error", "path": failure["url"].split("/", 3)[3], "status": failure["status"]}


class TwoJarsSpider(Spider):
    """Two sessions side by side: alice in cookie jar 1 and bob in jar 2, each logging in and
    then reading the same private page (``base`` is a spider argument: the site's URL)."""

    base = None
    users = (("alice", "wonderland", 1), ("bob", "builder", 2))

    def start_requests(self):
        for user, password, jar in self.users:
            yield Request(self.base + "/login", callback="login", dont_filter=True,
                          meta={"cookiejar": jar, "user": user, "password": password})

    def login(self, response):
        meta = response.meta
        # dont_filter: both logins redirect to /account, and a redirect to a URL already
        # requested ends in the dupefilter, as in Scrapy (the same spider needs it there).
        yield FormRequest.from_response(response, formid="login", callback=self.after_login,
                                        formdata={"username": meta["user"], "password": meta["password"]},
                                        meta={"cookiejar": meta["cookiejar"], "user": meta["user"]},
                                        dont_filter=True)

    def after_login(self, response):
        jar = response.meta["cookiejar"]
        yield {"kind": "account", "jar": jar, "as": response.meta["user"],
               "shown": response.select_one(".user").get_text()}
        yield Request(response.urljoin("/private/1"), callback=self.private, dont_filter=True,
                      meta={"cookiejar": jar, "user": response.meta["user"]})

    def private(self, response):
        yield {"kind": "private", "jar": response.meta["cookiejar"], "as": response.meta["user"],
               "owner": response.select_one(".owner").get_text()}

    def error_record(self, failure):
        return {"kind": "error", "url": failure["url"], "status": failure["status"],
                "jar": (failure.get("meta") or {}).get("cookiejar")}


class HeaderSpider(Spider):
    """Default headers from the spider; one request with a header of its own."""

    default_headers = {"X-Spider": "spider", "X-Both": "spider"}

    def parse(self, response):
        yield {"url": response.url}
        if response.depth == 0:
            yield response.follow("/own", headers={"X-Own": "request", "X-Both": "request"})


class RequestCookiesSpider(Spider):
    """Sends a cookie of its own with one request; the next request (no cookies given) must
    still carry it, because request cookies join the jar."""

    def parse(self, response):
        yield {"url": response.url}
        if response.depth == 0:
            yield response.follow("/first", cookies={"lang": "fr"}, callback=self.first)

    def first(self, response):
        yield {"url": response.url}
        yield response.follow("/second", callback=self.first)
