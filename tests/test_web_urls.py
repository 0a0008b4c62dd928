"""Web correctness, URLs: canonical dedupe, link resolution and extraction, allowed domains, depth and page limits.

Every crawl runs against real local servers; each test asserts on the records
and on what the servers were asked for.
"""

import pytest

from scrapepool.core import depth as depth_mod
from scrapepool.core.frontier import Frontier
from scrapepool.output.jobdb import JobDB
from scrapepool.settings import Settings
from scrapepool.testing.testserver import Page
from scrapepool.urls import DomainFilter, canonical, fingerprint
from tests.web_sites import CRAWL_SETTINGS, ROBOTS, by_path, page_requests

pytestmark = [pytest.mark.timeout(30), CRAWL_SETTINGS]


# -- canonical dedupe -------------------------------------------------------------------------------

@pytest.mark.parametrize("a, b", [
    ("HTTP://Example.COM:80/a?b=2&a=1#x", "http://example.com/a?a=1&b=2"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com/a?", "http://example.com/a"),
    ("http://example.com/%7efoo", "http://example.com/~foo"),
    ("http://example.com/x/../a/./b", "http://example.com/a/b"),
])
def test_canonical_forms(a, b):
    assert canonical(a) == canonical(b)


def test_canonical_keeps_path_case_and_explicit_ports():
    assert canonical("http://example.com/A") != canonical("http://example.com/a")
    assert canonical("http://example.com:8080/a") != canonical("http://example.com/a")


def test_every_spelling_of_a_url_is_requested_once(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS}
    server = site_server(site)
    host = f"127.0.0.1:{server.port}"
    spellings = [
        "dir/t?a=1&b=2",                        # relative
        "./dir/t?b=2&a=1#frag",                 # dot-relative, reordered query, fragment
        "/dir/t?a=1&b=2",                       # root-relative
        "/x/../dir/./t?b=2&a=1",                # dot segments
        f"http://{host}/dir/t?b=2&a=1",         # absolute
        f"HTTP://{host}/dir/t?a=1&b=2#top",     # upper-case scheme, fragment
        f"//{host}/dir/t?a=1&b=2",              # protocol-relative
        f"http://{host}/x/../dir/t?a=1&b=2",    # absolute with dot segments
        "/dir/%74?a=1&b=2",                     # needless percent-encoding of an unreserved char
        "/dir/t?a=%31&b=2",
    ]
    site["/"] = ("<html><body>" + "".join(f'<a href="{s}">t</a>' for s in spellings)
                 + '<a href="/Dir/t?a=1&b=2">other case</a><a href="/e?">e</a><a href="/e#x">e</a></body></html>')
    # the target links back to itself and home under more spellings
    site["/dir/t"] = ('<title>T</title><a href="t?b=2&a=1">self</a><a href="../dir/t?a=1&b=2#s">self</a>'
                      f'<a href="../">home</a><a href="http://{host}">home</a><a href="/#top">home</a>')
    site["/Dir/t"] = "<title>Other case</title>"
    site["/e"] = "<title>E</title>"
    result = crawl_spider(None, server, workers=2, concurrency=3)
    stats, records = result.stats, result.records

    recs = by_path(records)
    assert sorted(recs) == ["/", "/Dir/t?a=1&b=2", "/dir/t?a=1&b=2", "/e"]
    assert recs["/"]["links"] == 3
    assert recs["/dir/t?a=1&b=2"]["title"] == "T" and recs["/dir/t?a=1&b=2"]["links"] == 2
    assert recs["/Dir/t?a=1&b=2"]["title"] == "Other case"
    assert all(r["status"] == 200 and r["error"] is None for r in records)
    # the server's side: each page once, whatever spelling went out first
    assert server.count("/") == 1 and server.count("/Dir/t") == 1 and server.count("/e") == 1
    assert [p.split("?")[0] for p in page_requests(server)].count("/dir/t") == 1
    assert len(page_requests(server)) == 4
    assert stats["pages"] == 4 and stats["finish_reason"] == "finished"


# -- link resolution ---------------------------------------------------------------------------------

def test_links_resolve_against_the_final_url_and_base_href(site_server, crawl_spider):
    site = {
        "/robots.txt": ROBOTS,
        "/": '<a href="/old">old</a><a href="/b/page">based</a><a href="/c/page">relative base</a>',
        "/old": Page("", status=301, headers={"Location": "/new/dir/page"}),
        "/new/dir/page": '<a href="child">c</a><a href="../sib">s</a>',
        "/b/page": '<html><head><base href="/base/"></head><body><a href="x">x</a><a href="/abs">abs</a></body></html>',
        "/c/page": '<html><head><BASE HREF="sub/"></head><body><a href="y">y</a></body></html>',
    }
    for p in ("/new/dir/child", "/new/sib", "/base/x", "/abs", "/c/sub/y"):
        site[p] = f"<title>{p}</title>"
    server = site_server(site)
    result = crawl_spider(None, server)
    stats, records = result.stats, result.records

    recs = by_path(records)
    old = recs["/old"]
    assert old["final_url"] == server.url + "/new/dir/page" and old["links"] == 2
    for p in ("/new/dir/child", "/new/sib", "/base/x", "/abs", "/c/sub/y"):
        assert recs[p]["title"] == p and server.count(p) == 1, p
    # nothing resolved against the requested URL or the page's own path
    for wrong in ("/child", "/sib", "/b/x", "/c/y", "/c/page/sub/y"):
        assert server.count(wrong) == 0, wrong
    assert len(records) == 9 and stats["finish_reason"] == "finished"


def test_only_http_links_of_a_and_area_are_followed(site_server, crawl_spider):
    site = {"/robots.txt": ROBOTS}
    server = site_server(site)
    site["/"] = f"""<html><head><link rel="next" href="/link-tag"><script src="/script-src.js"></script>
<script>document.write('<a href="/in-script">x</a>'); var u = "/in-script-2";</script>
<style>a[href="/in-style"] {{ color: red }}</style></head><body>
<!-- <a href="/in-comment">commented out</a> -->
<a href="/a1">a</a> <a href="/a1#again">a again</a>
<map name="m"><area shape="rect" coords="0,0,1,1" href="/area1"></map>
<img src="/img.png"><iframe src="/frame"></iframe><form action="/form"></form>
<a href="mailto:someone@example.com">m</a> <a href="MAILTO:x@y">m</a> <a href="tel:+123">t</a>
<a href="javascript:void(0)">j</a> <a href=" JavaScript:go('/js-target')">j</a> <a href="java\tscript:x()">j</a>
<a href="data:text/html,&lt;a href='/in-data'&gt;">d</a> <a href="ftp://127.0.0.1:{server.port}/ftp">f</a>
<a href="">empty</a> <a href="   ">blank</a> <a>no href</a> <a name="/named">anchor</a>
<a href="http://localhost:{server.port}/offsite">offsite http link: counted, not followed</a>
</body></html>"""
    for p in ("/a1", "/area1", "/link-tag", "/script-src.js", "/in-script", "/in-script-2", "/in-style",
              "/in-comment", "/img.png", "/frame", "/form", "/js-target", "/in-data", "/ftp", "/named",
              "/offsite"):
        site[p] = f"<title>{p}</title>"
    result = crawl_spider(None, server)
    records = result.records

    recs = by_path(records)
    assert sorted(recs) == ["/", "/a1", "/area1"]
    assert recs["/"]["links"] == 3  # /a1, /area1 and the offsite one
    assert sorted(page_requests(server)) == ["/", "/a1", "/area1"]


# -- allowed domains ---------------------------------------------------------------------------------

def two_sites(site_server):
    """Server A links to B (another port) and to itself as ``localhost``; B links back to A."""
    b_site = {"/robots.txt": ROBOTS, "/b": '<title>B</title><a href="/b2">b2</a>', "/b2": "<title>B2</title>"}
    b = site_server(b_site)
    a_site = {"/robots.txt": ROBOTS, "/local": "<title>local</title>", "/a2": "<title>A2</title>"}
    a = site_server(a_site)
    a_site["/"] = (f'<title>A</title><a href="/a2">a2</a><a href="{b.url}/b">other port</a>'
                   f'<a href="http://localhost:{a.port}/local">localhost</a>')
    b_site["/b"] += f'<a href="{a.url}/a2">back</a>'
    return a, b


def test_default_allowed_domain_is_the_seeds_host_and_port(site_server, crawl_spider):
    a, b = two_sites(site_server)
    result = crawl_spider(None, a)
    records = result.records

    assert sorted(by_path(records)) == ["/", "/a2"]
    assert by_path(records)["/"]["links"] == 3
    assert b.requests == []  # another port is another site: not even its robots.txt
    assert a.count("/local") == 0  # localhost is not 127.0.0.1
    assert sorted(page_requests(a)) == ["/", "/a2"]


def test_allow_domain_bare_host_allows_every_port(site_server, crawl_spider):
    a, b = two_sites(site_server)
    result = crawl_spider(None, a, allowed_domains=("127.0.0.1",))
    records = result.records

    assert sorted(r["url"] for r in records) == sorted(
        [a.url + "/", a.url + "/a2", b.url + "/b", b.url + "/b2"])
    assert b.count("/robots.txt") == 1 and sorted(page_requests(b)) == ["/b", "/b2"]
    assert a.count("/local") == 0 and a.count("/a2") == 1


def test_allow_domain_widens_the_seeds_site(site_server, crawl_spider):
    a, b = two_sites(site_server)
    result = crawl_spider(None, a, allowed_domains=(f"localhost:{a.port}",))
    records = result.records

    assert sorted(by_path(records)) == ["/", "/a2", "/local"]
    assert b.requests == []


def test_domain_filter_bare_domain_takes_subdomains_not_lookalikes():
    f = DomainFilter(["example.com", "127.0.0.1:8000"])
    assert f.allows("http://example.com:81/") and f.allows("https://a.b.example.com/")
    assert not f.allows("http://badexample.com/") and not f.allows("http://example.com.evil.net/")
    assert f.allows("http://127.0.0.1:8000/x") and not f.allows("http://127.0.0.1:8001/x")
    assert not f.allows("http://localhost:8000/x")


def test_redirect_leaving_the_allowed_domains_is_not_followed(site_server, crawl_spider):
    b = site_server({"/robots.txt": ROBOTS, "/landing": "<title>B</title>"})
    site = {"/robots.txt": ROBOTS, "/local": "<title>local</title>"}
    a = site_server(site)
    site["/"] = '<a href="/to-port">1</a><a href="/to-localhost">2</a><a href="/ok">3</a>'
    site["/to-port"] = Page("", status=302, headers={"Location": f"{b.url}/landing"})
    site["/to-localhost"] = Page("", status=301, headers={"Location": f"http://localhost:{a.port}/local"})
    site["/ok"] = Page("", status=302, headers={"Location": "/local"})
    result = crawl_spider(None, a)
    records = result.records

    recs = by_path(records)
    assert sorted(recs) == ["/", "/ok", "/to-localhost", "/to-port"]
    for p, target in (("/to-port", f"{b.url}/landing"), ("/to-localhost", f"http://localhost:{a.port}/local")):
        r = recs[p]
        assert r["status"] in (301, 302) and r["title"] is None
        assert "allowed domains" in r["error"] and target in r["error"], r
    assert recs["/ok"]["final_url"] == a.url + "/local" and recs["/ok"]["error"] is None
    assert b.requests == []
    assert a.count("/local") == 1  # through /ok only, never as localhost


# -- depth and page limits ---------------------------------------------------------------------------

def calendar(info):
    """An endless site: every month links to the next one and back home."""
    path = info.path
    if path == "/":
        y, m = 2000, 1
    else:
        y, m = map(int, path.strip("/").split("/")[1:3])
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    return f'<title>{y}-{m:02d}</title><a href="/cal/{ny}/{nm:02d}/">next</a><a href="/">home</a>'


def endless_site():
    class Endless(dict):
        def __contains__(self, key):
            return key == "/" or key.startswith("/cal/") or key == "/robots.txt"

        def __getitem__(self, key):
            return ROBOTS if key == "/robots.txt" else calendar
    return Endless()


@pytest.mark.parametrize("workers", [1, 2])
def test_max_pages_is_exact_on_an_endless_site(site_server, crawl_spider, workers):
    server = site_server(endless_site())
    result = crawl_spider(None, server, max_pages=100, workers=workers, concurrency=4)
    stats, records = result.stats, result.records

    assert len(records) == 100 and len({r["url"] for r in records}) == 100
    assert len(page_requests(server)) == 100
    assert stats["pages"] == stats["records"] == stats["requests"] == 100
    assert sorted(r["depth"] for r in records) == list(range(100))  # a chain: month n is depth n
    assert stats["finish_reason"] == "finished"


def test_max_depth_is_exact(site_server, crawl_spider):
    server = site_server(endless_site())
    result = crawl_spider(None, server, max_depth=5)
    records = result.records

    assert sorted(r["depth"] for r in records) == [0, 1, 2, 3, 4, 5]
    assert len(page_requests(server)) == 6
    assert by_path(records)["/cal/2000/06/"]["links"] == 2


def test_depth_is_the_shortest_link_distance(site_server, crawl_spider):
    # home -> /slow -> /x is 2 links; home -> /f1 -> /f2 -> /x is 3, and the fast path finishes first.
    site = {
        "/robots.txt": ROBOTS,
        "/": '<a href="/slow">slow</a><a href="/f1">f1</a>',
        "/slow": Page('<a href="/x">x</a>', delay=0.6),
        "/f1": '<a href="/f2">f2</a>',
        "/f2": '<a href="/x">x</a>',
        "/x": '<a href="/y">y</a>',
        "/y": "<title>y</title>",
    }
    server = site_server(site)
    result = crawl_spider(None, server, concurrency=4)
    records = result.records

    depths = {p: r["depth"] for p, r in by_path(records).items()}
    assert depths == {"/": 0, "/slow": 1, "/f1": 1, "/f2": 2, "/x": 2, "/y": 3}
    assert server.count("/x") == 1 and server.count("/y") == 1


def test_max_depth_keeps_a_page_first_reached_too_deep(site_server, crawl_spider):
    site = {
        "/robots.txt": ROBOTS,
        "/": '<a href="/slow">slow</a><a href="/f1">f1</a>',
        "/slow": Page('<a href="/x">x</a>', delay=0.4),
        "/f1": '<a href="/f2">f2</a>',
        "/f2": '<a href="/x">x</a>',
        "/x": "<title>x</title>",
    }
    server = site_server(site)
    result = crawl_spider(None, server, concurrency=4, max_depth=2)
    records = result.records

    assert by_path(records)["/x"]["depth"] == 2
    assert server.count("/x") == 1


def test_a_straggler_does_not_stall_the_crawl_for_its_depth(site_server, crawl_spider, monkeypatch):
    # Pages behind a shallower page that is very slow wait only SETTLE_WAIT for it, then go.
    monkeypatch.setattr(depth_mod, "SETTLE_WAIT", 0.2)
    chain_pages = {f"/c{i}": f'<a href="/c{i + 1}">next</a>' for i in range(1, 8)}
    site = {"/robots.txt": ROBOTS, "/": '<a href="/slow">slow</a><a href="/c1">c1</a>',
            "/slow": Page('<a href="/c5">c5</a>', delay=1.5), "/c8": "<title>end</title>", **chain_pages}
    server = site_server(site)
    result = crawl_spider(None, server, concurrency=4)
    records = result.records

    paths = [p for p in by_path(records)]
    assert paths.index("/c8") < paths.index("/slow")  # the chain went on without it
    assert by_path(records)["/c8"]["depth"] == 8 and server.count("/c5") == 1


def test_frontier_holds_a_request_until_its_depth_is_settled(tmp_path):
    db = JobDB(str(tmp_path / "job"), durable=False)
    f = Frontier(db, Settings(robots=False), DomainFilter(["127.0.0.1:80"]))

    def admit(path, depth):
        url = "http://127.0.0.1" + path
        return f.admit(fingerprint(canonical(url)), url, depth=depth)

    home = admit("/", 0)
    assert f.next_job(0.0).req_id == home
    slow, fast = admit("/slow", 1), admit("/f1", 1)
    f.record_outcome(home)
    assert [f.next_job(0.0).req_id for _ in range(2)] == [slow, fast]
    f2 = admit("/f2", 2)
    f.record_outcome(fast)
    assert f.next_job(0.0).req_id == f2  # depth 2 with depth 1 under way: fine
    x = admit("/x", 3)
    f.record_outcome(f2)
    assert f.next_job(0.0) is None and f.pending == 1  # /slow (depth 1) may still link /x
    assert admit("/x", 2) is None  # it does: same request, shorter path
    f.record_outcome(slow)
    job = f.next_job(0.0)
    assert (job.req_id, job.depth) == (x, 2)
    assert f.next_job(0.0) is None and f.pending == 0
