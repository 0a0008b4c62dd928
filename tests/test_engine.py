"""The engine through the Python API (scrapepool.crawl, by the pytest plugin's ``crawl_spider``),
in-process, against real local sites."""

import collections
import logging
import os
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

import pytest
from conftest import ROBOTS, SITE_FIELDS, STATS_KEYS, page_path

import scrapepool
from scrapepool import OutputError, SpiderLoadError, UsageError
from scrapepool.testing.testserver import Page
from tests.spiders import RaisesOnBad, ReportsCpus, TwoCallbacks, YieldsJunk

pytestmark = [pytest.mark.timeout(60),
              # crawl_spider: small and fast, robots.txt obeyed (as scrapepool.crawl's default)
              pytest.mark.crawl_settings(concurrency=2, start_method="fork", robots=True)]

SPIDERS_FILE = Path(__file__).resolve().parent / "spiders.py"


def paths(records, key="url"):
    return [urlsplit(r[key]).path for r in records]


# -- a whole site, every page exactly once ---------------------------------------------------

@pytest.mark.parametrize("start_method", ["spawn", "fork"])
@pytest.mark.parametrize("workers", [1, 3])
def test_linked_site_is_crawled_completely_each_page_once(site_server, linked_site, crawl_spider,
                                                          workers, start_method):
    n = 12
    server = site_server(linked_site(n))
    result = crawl_spider(None, server, workers=workers, concurrency=2, start_method=start_method)
    stats = result.stats

    assert stats["finish_reason"] == "finished"
    records = result.records
    assert sorted(paths(records)) == sorted(page_path(i) for i in range(n))
    for r in records:
        assert list(r) == SITE_FIELDS
        assert r["status"] == 200 and r["error"] is None
        i = 0 if r["url"].endswith("/") else int(urlsplit(r["url"]).path[len("/pages/p"):-len(".html")])
        assert r["title"] == f"Page {i}"
        # four spellings per target, each target counted once
        assert r["links"] == len({j for j in ((i + 1) % n, (2 * i + 1) % n, 0) if j != i})
    # the server's own log: each page once (whatever query spelling), robots.txt once, nothing else
    assert server.count("/robots.txt") == 1
    for i in range(n):
        assert server.count(page_path(i)) == 1, page_path(i)
    assert len(server.requests) == n + 1
    assert stats["pages"] == stats["records"] == stats["requests"] == n
    assert stats["status"] == {"200": n}


def test_duplicate_spellings_are_fetched_once_and_other_hosts_never(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS}
    server = site_server(site)
    host = f"127.0.0.1:{server.port}"
    spellings = ["/t?x=1&y=2", "/t?y=2&x=1", "t?x=1&y=2#frag", "./t?y=2&x=1", f"http://{host}/t?x=1&y=2",
                 f"HTTP://{host}/t?y=2&x=1#top", f"  /t?x=1&y=2  "]
    site["/"] = "".join(f'<a href="{s}">t</a>' for s in spellings) + \
        '<a href="/a">a</a><a href="/b">b</a>' + \
        f'<a href="http://localhost:{server.port}/only-localhost">same server, another host</a>'
    site["/a"] = "".join(f'<a href="{s}">t</a>' for s in reversed(spellings))
    site["/b"] = f'<a href="http://{host}/a#x">a</a><a href="/t?y=2&amp;x=1">t</a>'
    site["/t"] = "<title>T</title>"
    site["/only-localhost"] = "never"
    result = crawl_spider(None, server, workers=2, concurrency=3)
    stats = result.stats

    records = result.records
    assert sorted(paths(records)) == ["/", "/a", "/b", "/t"]
    assert [server.count(p) for p in ("/", "/a", "/b", "/t")] == [1, 1, 1, 1]
    assert server.count("/only-localhost") == 0  # localhost is another host than 127.0.0.1
    assert stats["requests"] == 4
    home = next(r for r in records if urlsplit(r["url"]).path == "/")
    # SiteSpider counts the distinct canonical links of the page, allowed or not: /t, /a, /b, localhost
    assert home["links"] == 4


def test_offsite_links_are_not_followed(site_server, crawl_spider):
    other = site_server({"/": "other", "/robots.txt": ROBOTS})
    server = site_server({"/": f'<a href="{other.url}/">other</a><a href="/in">in</a>', "/in": "in",
                          "/robots.txt": ROBOTS})
    result = crawl_spider(None, server)
    assert sorted(paths(result.records)) == ["/", "/in"]
    assert other.requests == []


def test_allow_domain_adds_to_the_seed_host(site_server, crawl_spider):
    other = site_server({"/": "<title>other</title>", "/robots.txt": ROBOTS})
    server = site_server({"/": f'<a href="{other.url}/">other</a>', "/robots.txt": ROBOTS})
    stats = crawl_spider(None, server, allowed_domains=[f"127.0.0.1:{other.port}"]).stats
    assert stats["pages"] == 2
    assert server.count("/") == 1 and other.count("/") == 1


# -- limits ------------------------------------------------------------------------------------

def chain_site(length):
    site = {f"/c{i}": f'<title>c{i}</title><a href="/c{i + 1}">next</a>' for i in range(length)}
    site["/robots.txt"] = ROBOTS
    return site


def tree_site(levels):
    """A binary tree: /n, /n/0, /n/1, /n/0/0 ... `levels` levels below the root."""
    site = {"/robots.txt": ROBOTS}

    def add(path, level):
        kids = [f"{path}/{k}" for k in "01"] if level < levels else []
        site[path] = "".join(f'<a href="{k}">{k}</a>' for k in kids)
        for k in kids:
            add(k, level + 1)
    add("/n", 0)
    return site


@pytest.mark.parametrize("max_depth", [0, 2])
def test_max_depth_on_a_chain(site_server, crawl_spider, max_depth):
    server = site_server(chain_site(6))
    result = crawl_spider(None, server, start="/c0", max_depth=max_depth)
    stats, records = result.stats, result.records
    assert sorted((r["depth"], urlsplit(r["url"]).path) for r in records) == [
        (d, f"/c{d}") for d in range(max_depth + 1)]
    assert server.count(f"/c{max_depth + 1}") == 0
    assert stats["pages"] == max_depth + 1 and stats["finish_reason"] == "finished"


def test_max_depth_on_a_tree(site_server, crawl_spider):
    server = site_server(tree_site(3))
    records = crawl_spider(None, server, start="/n", max_depth=2, workers=2).records
    assert collections.Counter(r["depth"] for r in records) == {0: 1, 1: 2, 2: 4}
    for r in records:
        assert r["depth"] == urlsplit(r["url"]).path.count("/") - 1
    deepest = [p for _, p in server.requests if p.count("/") == 4]
    assert deepest == []
    assert len(server.requests) == 1 + 7


@pytest.mark.parametrize("max_pages", [1, 5])
def test_max_pages_is_exact(site_server, linked_site, crawl_spider, max_pages):
    server = site_server(linked_site(12))
    result = crawl_spider(None, server, workers=3, concurrency=2, max_pages=max_pages)
    stats, records = result.stats, result.records
    assert len(records) == max_pages
    assert len(set(paths(records))) == max_pages
    page_requests = [p for _, p in server.requests if p != "/robots.txt"]
    assert len(page_requests) == max_pages
    assert stats["pages"] == stats["records"] == stats["requests"] == max_pages
    assert stats["finish_reason"] == "finished"


# -- user spiders ----------------------------------------------------------------------------

def catalogue_site():
    def listing(items, nxt=None):
        links = "".join(f'<a class="item" href="{href}">{label}</a>' for href, label in items)
        more = f'<a class="next" href="{nxt}">more</a>' if nxt else ""
        return f"<html><title>list</title>{links}{more}<a href='/ignored'>x</a></html>"

    site = {"/": listing([("item/1", "One"), ("./item/2", "Two"), ("/item/3#x", "Three")], "/list2"),
            "/list2": listing([("/item/4", "Four"), ("item/5", "Five")]),
            "/robots.txt": ROBOTS}
    for i in range(1, 6):
        site[f"/item/{i}"] = f"<html><head><title>Item {i}</title></head></html>"
    return site


@pytest.mark.parametrize("how", ["class", "module", "file"])
def test_user_spider_two_callbacks_and_meta(site_server, crawl_spider, how):
    spider = {"class": TwoCallbacks, "module": "tests.spiders:TwoCallbacks",
              "file": f"{SPIDERS_FILE}:TwoCallbacks"}[how]
    server = site_server(catalogue_site())
    result = crawl_spider(spider, server, start_method="spawn", workers=2)
    stats = result.stats
    assert stats["finish_reason"] == "finished" and stats["spider_errors"] == 0
    records = result.records
    lists = sorted((r["url"], r["depth"], r["items"]) for r in records if r["kind"] == "list")
    assert lists == [(server.url + "/", 0, 3), (server.url + "/list2", 1, 2)]
    # (response.url keeps the fragment of the link that was followed: compare without it)
    items = sorted((urldefrag(r["url"])[0], r["title"], r["from"], r["label"], r["depth"])
                   for r in records if r["kind"] == "item")
    home, list2 = server.url + "/", server.url + "/list2"
    assert items == [
        (server.url + "/item/1", "Item 1", home, "One", 1),
        (server.url + "/item/2", "Item 2", home, "Two", 1),
        (server.url + "/item/3", "Item 3", home, "Three", 1),
        (server.url + "/item/4", "Item 4", list2, "Four", 2),
        (server.url + "/item/5", "Item 5", list2, "Five", 2),
    ]
    assert server.count("/ignored") == 0
    assert len(records) == stats["records"] == 7


def test_spider_raising_on_one_page(site_server, crawl_spider, caplog):
    server = site_server({"/": '<a href="/a">a</a><a href="/bad">bad</a><a href="/c">c</a>',
                          "/a": '<a href="/d">d</a>', "/bad": '<a href="/never">n</a>', "/c": "c", "/d": "d",
                          "/never": "n", "/robots.txt": ROBOTS})
    with caplog.at_level(logging.WARNING, logger="scrapepool"):
        result = crawl_spider(RaisesOnBad, server, workers=2)
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["spider_errors"] == 1
    records = result.records
    assert sorted(paths(records)) == ["/", "/a", "/bad", "/c", "/d"]
    # the record yielded before the exception is kept
    assert [r["partial"] for r in records if r["url"].endswith("/bad")] == [True]
    assert server.count("/never") == 0
    errors = [rec.getMessage() for rec in caplog.records if "spider error" in rec.getMessage()]
    assert len(errors) == 1
    assert server.url + "/bad" in errors[0] and "ValueError" in errors[0]


def test_spider_yielding_neither_dict_nor_request(site_server, crawl_spider, caplog):
    server = site_server({"/": "home", "/robots.txt": ROBOTS})
    with caplog.at_level(logging.WARNING, logger="scrapepool"):
        result = crawl_spider("tests.spiders:YieldsJunk", server)
    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["spider_errors"] == 1
    assert [r["n"] for r in result.records] == [1, 2]
    assert any("int" in rec.getMessage() and server.url in rec.getMessage() for rec in caplog.records)


def test_spider_defined_in_a_function_is_refused_before_any_request(site_server, crawl_spider):
    class Local(scrapepool.Spider):
        def parse(self, response):
            yield {}

    server = site_server({"/": "home", "/robots.txt": ROBOTS})
    with pytest.raises(SpiderLoadError, match="module level"):
        crawl_spider(Local, server)
    assert server.requests == []


# -- stats, errors, politeness -----------------------------------------------------------------

def test_stats_keys_and_counts(site_server, crawl_spider):
    server = site_server({"/": '<a href="/a">a</a><a href="/missing">m</a><a href="/data">d</a>', "/a": "a",
                          "/data": Page(b'{"x": 1}', content_type="application/json"), "/robots.txt": ROBOTS})
    result = crawl_spider(None, server)
    stats = result.stats
    assert set(stats) == STATS_KEYS
    assert stats["pages"] == stats["records"] == stats["requests"] == 4
    assert stats["status"] == {"200": 3, "404": 1}
    assert stats["errors"] == {"http_404": 1}
    assert stats["retries"] == stats["robots_refused"] == stats["spider_errors"] == 0
    assert stats["dropped"] == stats["fetcher_crashes"] == 0
    assert stats["bytes"] > 0 and stats["elapsed_s"] > 0 and stats["pages_per_s"] > 0
    assert stats["peak_memory_mb"] > 0
    assert stats["finish_reason"] == "finished"
    by_path = {urlsplit(r["url"]).path: r for r in result.records}
    assert by_path["/missing"]["status"] == 404 and by_path["/missing"]["error"] == "HTTP 404"
    assert by_path["/data"]["title"] is None and by_path["/data"]["links"] == 0
    assert by_path["/data"]["error"] is None


def test_server_errors_are_retried_then_recorded(site_server, crawl_spider):
    server = site_server({"/": '<a href="/err">e</a>', "/err": Page("down", status=503), "/robots.txt": ROBOTS})
    result = crawl_spider(None, server, retries=2, retry_backoff=0.0)
    stats = result.stats
    assert server.count("/err") == 3
    assert stats["retries"] == 2
    err = [r for r in result.records if r["url"].endswith("/err")]
    assert [(r["status"], r["error"]) for r in err] == [(503, "HTTP 503")]


def test_timeout_gives_an_error_record(site_server, crawl_spider):
    server = site_server({"/": '<a href="/slow">s</a>', "/slow": Page("late", delay=5), "/robots.txt": ROBOTS})
    result = crawl_spider(None, server, timeout=0.5, retries=0)
    stats = result.stats
    slow = [r for r in result.records if r["url"].endswith("/slow")]
    assert len(slow) == 1 and slow[0]["status"] is None and "timed out" in slow[0]["error"]
    assert stats["errors"] == {"timeout": 1}


def test_robots_txt_is_obeyed_unless_disabled(site_server, crawl_spider):
    site = {"/": '<a href="/private/x">p</a><a href="/public">q</a>', "/private/x": "secret", "/public": "ok",
            "/robots.txt": Page("User-agent: *\nDisallow: /private/\n", content_type="text/plain")}
    server = site_server(site)
    result = crawl_spider(None, server)
    stats = result.stats
    assert sorted(paths(result.records)) == ["/", "/public"]
    assert server.count("/private/x") == 0 and stats["robots_refused"] == 1

    server.reset()
    result = crawl_spider(None, server, robots=False)
    assert sorted(paths(result.records)) == ["/", "/private/x", "/public"]
    assert server.count("/robots.txt") == 0


def test_a_slow_page_does_not_hold_up_the_others(site_server, crawl_spider):
    fast = [f"/f{i}" for i in range(6)]
    site = {"/": '<a href="/slow">slow</a>' + "".join(f'<a href="{p}">f</a>' for p in fast[:3]),
            "/slow": Page("<title>slow</title>", delay=2.0), "/robots.txt": ROBOTS}
    for i, p in enumerate(fast[:3]):
        site[p] = f'<a href="{fast[i + 3]}">deeper</a>'
    for p in fast[3:]:
        site[p] = "leaf"
    server = site_server(site)
    result = crawl_spider(None, server, workers=1, concurrency=3)
    stats = result.stats
    order = paths(result.records)
    # records are written as requests complete: every other page, even the depth-2 ones that
    # were only discovered after /slow was sent, completed while /slow was still waiting
    assert order[-1] == "/slow"
    assert sorted(order[:-1]) == sorted(["/"] + fast)
    assert stats["finish_reason"] == "finished"


def test_job_dir_run_twice_does_nothing_the_second_time(site_server, linked_site, crawl_spider, tmp_path,
                                                        caplog):
    server = site_server(linked_site(4))
    job, out = tmp_path / "job", tmp_path / "o.jsonl"
    first = crawl_spider(None, server, output=out, job_dir=str(job)).stats
    assert first["pages"] == 4 and first["finish_reason"] == "finished"
    server.reset()
    with caplog.at_level(logging.WARNING, logger="scrapepool"):
        second = crawl_spider(None, server, output=out, job_dir=str(job))
    assert server.requests == []
    assert "already finished" in caplog.text
    assert len(second.records) == 4


# -- refusals before any request -----------------------------------------------------------

def test_no_valid_seed_is_a_usage_error(site_server, tmp_path):
    with pytest.raises(UsageError, match="no valid start URL"):
        scrapepool.crawl(seeds=["ftp://example.com/", "not a url"], output=str(tmp_path / "o.jsonl"),
                         workers=1, start_method="fork")


def test_unwritable_output_fails_before_any_request(site_server, crawl_spider, tmp_path):
    server = site_server({"/": "home", "/robots.txt": ROBOTS})
    with pytest.raises(OutputError, match="does not exist"):
        crawl_spider(None, server, output=tmp_path / "missing" / "o.jsonl")
    assert server.requests == []


def test_request_with_a_lambda_callback_is_a_spider_error(site_server, crawl_spider, caplog):
    server = site_server({"/": "home", "/a": "a", "/b": "b", "/robots.txt": ROBOTS})
    with caplog.at_level(logging.WARNING, logger="scrapepool"):
        result = crawl_spider("tests.spiders:BadCallback", server)
    stats = result.stats
    assert stats["spider_errors"] == 1 and stats["finish_reason"] == "finished"
    assert sorted(paths(result.records)) == ["/", "/b"]
    assert server.count("/a") == 0
    assert "CallbackError" in caplog.text


def test_redirects_are_followed_and_recorded(site_server, crawl_spider):
    server = site_server({"/": '<a href="/old">old</a>', "/old": Page(status=301, headers={"Location": "/new"}),
                          "/new": '<title>new</title><a href="rel">rel</a>', "/rel": "<title>rel</title>",
                          "/robots.txt": ROBOTS})
    by_path = {urlsplit(r["url"]).path: r for r in crawl_spider(None, server).records}
    assert sorted(by_path) == ["/", "/old", "/rel"]
    assert by_path["/old"]["final_url"] == server.url + "/new"
    assert (by_path["/old"]["status"], by_path["/old"]["title"]) == (200, "new")
    assert server.count("/new") == 1 and server.count("/rel") == 1


def test_a_redirected_request_keeps_its_callback_and_meta(site_server, crawl_spider):
    server = site_server({"/": '<a class="item" href="/a">A</a><a class="item" href="/b">B</a>',
                          "/a": Page(status=302, headers={"Location": "/a2"}),
                          "/a2": Page(status=307, headers={"Location": "/a3"}), "/a3": "<p>a</p>",
                          "/b": "<p>b</p>", "/robots.txt": ROBOTS})
    result = crawl_spider("tests.spiders:RedirectMeta", server)
    stats = result.stats
    recs = {r["label"]: r for r in result.records}
    assert recs["A"] == {"url": server.url + "/a3", "request_url": server.url + "/a", "label": "A",
                         "redirect_urls": [server.url + "/a", server.url + "/a2"], "depth": 1}
    assert recs["B"]["redirect_urls"] is None and recs["B"]["request_url"] == server.url + "/b"
    assert stats["pages"] == 3 and stats["redirects"] == 2 and stats["records"] == 2


# -- each fetcher on a CPU of its own ----------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two CPUs")
@pytest.mark.parametrize("pin", [True, False])
def test_fetchers_keep_to_one_cpu_each_unless_told_not_to(site_server, linked_site, crawl_spider, pin):
    n = 30
    server = site_server(linked_site(n))
    records = crawl_spider(ReportsCpus, server, workers=2, pin_cpus=pin).records
    assert sorted(paths(records)) == sorted(page_path(i) for i in range(n))
    allowed = sorted(os.sched_getaffinity(0))
    seen = {tuple(r["cpus"]) for r in records}
    if pin:
        assert all(len(cpus) == 1 and cpus[0] in allowed for cpus in seen)
        assert len(seen) <= 2
    else:
        assert seen == {tuple(allowed)}
