"""Web correctness, robots.txt: asked once per host before its pages, Scrapy's rules for failures,
disallowed URLs never requested, Crawl-delay honoured, our own user agent matched."""

import pytest

from scrapepool.testing.testserver import Page
from tests.web_sites import (  # noqa: F401
    CRAWL_SETTINGS,
    ROBOTS,
    Stamps,
    by_path,
    hang_up,
    page_requests,
    raw_serve,
    respond,
)

pytestmark = [pytest.mark.timeout(30), CRAWL_SETTINGS]

TOLERANCE = 0.05


def robots(text, status=200):
    return Page(text, status=status, content_type="text/plain")


def small_site(n, robots_page):
    """Home links to /p1../pN and to /private/1, /private/2."""
    links = "".join(f'<a href="/p{i}">p{i}</a>' for i in range(1, n + 1))
    site = {"/": f'<title>home</title>{links}<a href="/private/1">x</a><a href="/private/2">y</a>'}
    for i in range(1, n + 1):
        site[f"/p{i}"] = f'<title>p{i}</title><a href="/p{i % n + 1}">next</a>'
    site["/private/1"] = site["/private/2"] = "<title>private</title>"
    if robots_page is not None:
        site["/robots.txt"] = robots_page
    return site


def test_robots_is_fetched_once_per_host_before_its_pages(site_server, crawl_spider):
    b = site_server(small_site(4, ROBOTS))
    a_site = small_site(6, ROBOTS)
    a_site["/"] += f'<a href="{b.url}/">b</a>'
    a = site_server(a_site)
    result = crawl_spider(None, a, workers=2, concurrency=4, allowed_domains=("127.0.0.1",))
    stats, records = result.stats, result.records

    assert len(records) == 9 + 7 and stats["finish_reason"] == "finished"
    for server in (a, b):
        assert server.count("/robots.txt") == 1
        assert server.requests[0] == ("GET", "/robots.txt")


@pytest.mark.parametrize("status", [404, 403, 410])
def test_missing_robots_allows_everything(site_server, crawl_spider, status):
    server = site_server(small_site(3, robots("User-agent: *\nDisallow: /\n", status=status)))
    result = crawl_spider(None, server)
    stats, records = result.stats, result.records

    assert len(records) == 6 and server.count("/private/1") == 1
    assert server.count("/robots.txt") == 1  # a 4xx is not retried
    assert stats["robots_refused"] == 0


@pytest.mark.parametrize("status", [500, 503])
def test_broken_robots_allows_everything_like_scrapy(site_server, crawl_spider, status):
    server = site_server(small_site(3, robots("User-agent: *\nDisallow: /\n", status=status)))
    result = crawl_spider(None, server, retries=1)
    records = result.records

    assert len(records) == 6 and server.count("/private/1") == 1
    # robots.txt is a request like any other: a 5xx is retried, then everything is allowed
    assert server.count("/robots.txt") == 2
    assert page_requests(server)[0] == "/" and server.requests[:2] == [("GET", "/robots.txt")] * 2


def test_unreachable_robots_allows_everything_like_scrapy(raw_serve, crawl_spider):
    server = raw_serve({
        "/robots.txt": hang_up,
        "/": respond('<title>home</title><a href="/private/1">p</a>'),
        "/private/1": respond("<title>p1</title>"),
    })
    result = crawl_spider(None, site=None, start=server.url + "/", retries=0)
    records = result.records

    assert sorted(by_path(records)) == ["/", "/private/1"]
    assert all(r["error"] is None for r in records)
    assert server.count("/robots.txt") == 1 and server.count("/private/1") == 1


def test_disallowed_urls_are_never_requested_and_counted(site_server, crawl_spider):
    text = "User-agent: *\nDisallow: /private/\nDisallow: /*.pdf$\nAllow: /p2\nDisallow: /p\n"
    site = small_site(3, robots(text))
    site["/"] += '<a href="/doc.pdf">pdf</a><a href="/doc.pdf?x=1">pdf?</a>'
    site["/doc.pdf?x=1"] = "<title>not a pdf</title>"
    server = site_server(site)
    result = crawl_spider(None, server, workers=2)
    stats, records = result.stats, result.records

    assert sorted(by_path(records)) == ["/", "/doc.pdf?x=1", "/p2"]
    assert sorted(page_requests(server)) == ["/", "/doc.pdf?x=1", "/p2"]
    # /p1, /p3, /private/1, /private/2, /doc.pdf
    assert stats["robots_refused"] == 5
    assert stats["pages"] == 3 and stats["finish_reason"] == "finished"


def test_a_disallowed_seed_is_not_requested(site_server, crawl_spider):
    server = site_server(small_site(2, robots("User-agent: *\nDisallow: /\n")))
    result = crawl_spider(None, server)
    stats, records = result.stats, result.records

    assert records == [] and server.requests == [("GET", "/robots.txt")]
    assert stats["robots_refused"] == 1 and stats["finish_reason"] == "finished"


def test_no_robots_neither_fetches_nor_obeys(site_server, crawl_spider):
    server = site_server(small_site(2, robots("User-agent: *\nDisallow: /\n")))
    result = crawl_spider(None, server, robots=False)
    stats, records = result.stats, result.records

    assert len(records) == 5
    assert server.count("/robots.txt") == 0 and server.count("/private/2") == 1
    assert stats["robots_refused"] == 0


def test_our_user_agent_group_is_the_one_matched(site_server, crawl_spider):
    text = ("User-agent: otherbot\nDisallow: /p1\n\n"
            "User-agent: scrapepool\nDisallow: /private\n\n"
            "User-agent: *\nAllow: /\n")
    server = site_server(small_site(2, robots(text)))
    result = crawl_spider(None, server)
    stats, records = result.stats, result.records

    assert sorted(by_path(records)) == ["/", "/p1", "/p2"]
    assert server.count("/private/1") == 0 and server.count("/private/2") == 0
    assert stats["robots_refused"] == 2


def test_a_custom_user_agent_is_matched_too(site_server, crawl_spider):
    text = "User-agent: scrapepool\nDisallow: /p1\n\nUser-agent: mybot\nDisallow: /private\n"
    server = site_server(small_site(2, robots(text)))
    result = crawl_spider(None, server, user_agent="MyBot/2.0 (+http://example.com)")
    records = result.records

    assert sorted(by_path(records)) == ["/", "/p1", "/p2"]
    assert server.count("/private/1") == 0


def test_robots_txt_behind_a_redirect_is_obeyed(site_server, crawl_spider):
    site = small_site(2, Page("", status=301, headers={"Location": "/robots-real.txt"}))
    site["/robots-real.txt"] = robots("User-agent: *\nDisallow: /private\n")
    server = site_server(site)
    result = crawl_spider(None, server)
    stats, records = result.stats, result.records

    assert sorted(by_path(records)) == ["/", "/p1", "/p2"]
    assert server.count("/private/1") == 0 and stats["robots_refused"] == 2


def test_a_redirect_into_a_disallowed_url_is_not_followed(site_server, crawl_spider):
    site = small_site(1, robots("User-agent: *\nDisallow: /private\n"))
    site["/"] += '<a href="/go">go</a><a href="/go2">go2</a>'
    # /private/5 is linked from nowhere: a redirect to a URL already seen (/private/1) would
    # end in the dupefilter before robots.txt is asked, as in Scrapy (tests/test_faults.py).
    site["/go"] = Page("", status=302, headers={"Location": "/private/5"})
    site["/go2"] = Page("", status=301, headers={"Location": "/hop"})
    site["/hop"] = Page("", status=307, headers={"Location": "/private/9"})
    server = site_server(site)
    result = crawl_spider(None, server)
    stats, records = result.stats, result.records

    assert server.count("/private/5") == 0 and server.count("/private/9") == 0
    recs = by_path(records)
    assert sorted(recs) == ["/", "/go", "/go2", "/p1"]
    assert "robots.txt" in recs["/go"]["error"] and "/private/5" in recs["/go"]["error"]
    assert recs["/go"]["final_url"] == server.url + "/go" and recs["/go"]["title"] is None
    assert recs["/go2"]["final_url"] == server.url + "/hop"  # the last URL that answered
    assert stats["robots_refused"] == 2 + 2 and stats["errors"] == {"robots": 2}
    assert server.count("/go") == 1 and server.count("/hop") == 1


def test_a_redirect_to_another_host_asks_that_hosts_robots_first(site_server, crawl_spider):
    b_site = small_site(1, robots("User-agent: *\nDisallow: /private\n"))
    b_site["/private/1"] = "<title>b private</title>"
    b = site_server(b_site)
    a_site = {"/robots.txt": ROBOTS, "/": '<a href="/out">out</a><a href="/out2">out2</a>',
              "/out": Page("", status=302, headers={"Location": f"{b.url}/private/1"}),
              "/out2": Page("", status=302, headers={"Location": f"{b.url}/p1"})}
    a = site_server(a_site)
    result = crawl_spider(None, a, allowed_domains=("127.0.0.1",))
    records = result.records

    recs = by_path(records)
    assert "robots.txt" in recs["/out"]["error"] and b.count("/private/1") == 0
    assert recs["/out2"]["final_url"] == b.url + "/p1" and recs["/out2"]["title"] == "p1"
    assert b.requests[0] == ("GET", "/robots.txt") and b.count("/robots.txt") == 1


def test_crawl_delay_is_a_minimum_gap_between_requests(site_server, crawl_spider):
    stamps = Stamps()
    server = site_server(stamps.wrap(small_site(4, robots("User-agent: *\nCrawl-delay: 0.3\nDisallow: /private\n"))))
    result = crawl_spider(None, server, workers=2, concurrency=4, delay=0.05)
    records = result.records

    assert len(records) == 5
    gaps = stamps.gaps(skip_robots=True)
    assert len(gaps) == 4 and min(gaps) >= 0.3 - TOLERANCE, gaps


def test_a_longer_delay_wins_over_crawl_delay(site_server, crawl_spider):
    stamps = Stamps()
    server = site_server(stamps.wrap(small_site(2, robots("User-agent: *\nCrawl-delay: 0.1\nDisallow: /private\n"))))
    result = crawl_spider(None, server, workers=2, concurrency=4, delay=0.3)
    records = result.records

    assert len(records) == 3
    assert min(stamps.gaps()) >= 0.3 - TOLERANCE, stamps.gaps()
