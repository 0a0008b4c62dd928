"""The fetcher's own filtering of the links it reports (the engine's tests cover the rest)."""

from scrapepool import Request, SiteSpider
from scrapepool._messages import Job
from scrapepool.net.fetcher import Fetcher
from scrapepool.settings import Settings
from scrapepool.urls import DomainFilter


def job(req_id, depth):
    return Job(req_id, f"http://127.0.0.1:9/p{req_id}", "GET", None, None, None, {}, depth, 0, None, 0.0)


def fetcher():
    return Fetcher(None, None, None, SiteSpider(), Settings(), DomainFilter(["127.0.0.1:9"]), None)


def test_a_link_sent_once_is_not_sent_again_unless_shallower_or_by_the_same_request():
    f = fetcher()
    link = "http://127.0.0.1:9/target"
    assert f.child(Request(link), set(), job(1, 2)) is not None
    assert f.child(Request(link + "#again"), set(), job(2, 2)) is None  # same depth: the coordinator has it
    assert f.child(Request(link), set(), job(3, 5)) is None  # deeper: nothing to lower
    assert f.child(Request(link), set(), job(4, 0)) is not None  # shallower: its depth may drop
    assert f.child(Request(link), set(), job(4, 0)) is not None  # the same request again (a re-run)
    assert f.child(Request(link, dont_filter=True), set(), job(5, 3)) is not None


def test_offsite_and_non_http_links_are_never_sent():
    f = fetcher()
    assert f.child(Request("http://127.0.0.1:10/x"), set(), job(1, 0)) is None
    assert f.child(Request("mailto:a@b.c"), set(), job(1, 0)) is None
