"""The pytest plugin with pytest-httpserver (issue 17): ``crawl_spider(Spider, server=httpserver)``,
its handlers and its request log; the server's URL instead of the object; a server not started."""

pytest_plugins = ["pytester"]

import subprocess
import sys
import textwrap

import pytest
from pytest_httpserver import HTTPServer

from scrapepool import Spider
from scrapepool.settings import USER_AGENT
from scrapepool.testing.pytest_plugin import CrawlResult, crawl_site

pytestmark = pytest.mark.timeout(60)

HTML = "text/html; charset=utf-8"

PAGES = {
    "/": "<title>Home</title><a href='/a'>a</a> <a href='/b?x=1'>b</a>",
    "/a": "<title>A</title><a href='/'>home</a> <a href='/b?x=1'>b</a>",
    "/b": "<title>B</title><a href='/a'>a</a>",
}


class TitleSpider(Spider):
    """Module level, so the fetcher processes import it as test_plugin_httpserver:TitleSpider."""

    def parse(self, response):
        yield {"path": "/" + response.url.split("/", 3)[3], "title": response.soup.title.get_text()}
        for a in response.select("a[href]"):
            yield response.follow(a["href"])


def serve(httpserver, pages=PAGES):
    for path, body in pages.items():
        httpserver.expect_request(path, method="GET").respond_with_data(body, content_type=HTML)


def logged(httpserver):
    """(method, path with query) of every request in the server's log, in arrival order."""
    return [(r.method, r.full_path.rstrip("?")) for r, _ in httpserver.log]


def test_crawl_spider_on_the_httpserver_fixture(crawl_spider, httpserver):
    serve(httpserver)
    result = crawl_spider(TitleSpider, server=httpserver)
    assert isinstance(result, CrawlResult)
    assert sorted((r["path"], r["title"]) for r in result.records) == [
        ("/", "Home"), ("/a", "A"), ("/b?x=1", "B")]
    assert result.records[0] == {"path": "/", "title": "Home"}  # the seed first
    assert result.stats["pages"] == 3 and result.stats["finish_reason"] == "finished"
    # every page once, though each is linked twice; robots.txt not asked for (off by default)
    assert sorted(logged(httpserver)) == [("GET", "/"), ("GET", "/a"), ("GET", "/b?x=1")]
    for request, response in httpserver.log:
        assert request.headers["User-Agent"] == USER_AGENT
        assert request.headers["Host"] == httpserver.url_for("/").split("/")[2]
        assert response.status_code == 200
    # the result reads the same log
    assert result.server is httpserver and result.url + "/" == httpserver.url_for("/")
    assert result.requests == logged(httpserver)
    assert result.count("/b") == 1 and result.count("/b?x=1") == 1 and result.count("/c") == 0
    httpserver.check_assertions()


def test_handlers_can_match_the_crawl_settings_headers(crawl_spider, httpserver):
    """A handler that wants the user agent and a --header: any other request finds no handler."""
    headers = {"User-Agent": "MyBot/2.0", "X-Team": "crawl"}
    for path, body in PAGES.items():
        httpserver.expect_request(path, headers=headers).respond_with_data(body, content_type=HTML)
    result = crawl_spider(TitleSpider, server=httpserver, user_agent="MyBot/2.0",
                          headers={"X-Team": "crawl"}, max_pages=2)
    assert [r["title"] for r in result.records][:1] == ["Home"] and len(result.records) == 2
    assert len(httpserver.log) == 2 and {resp.status_code for _, resp in httpserver.log} == {200}
    httpserver.check_assertions()

    httpserver.clear_log()
    again = crawl_spider(TitleSpider, server=httpserver, start="/b", retries=0)  # the default user agent
    assert again.records == [] and again.stats["errors"]  # answered 500: no handler matched
    assert [resp.status_code for _, resp in httpserver.log] == [500]
    with pytest.raises(AssertionError, match="No handler found"):
        httpserver.check_assertions()


def test_a_missing_page_fails_check_assertions(crawl_spider, httpserver):
    serve(httpserver, {"/": PAGES["/"], "/a": PAGES["/a"]})  # /b has no handler
    result = crawl_spider(TitleSpider, server=httpserver, retries=0)
    assert sorted(r["title"] for r in result.records) == ["A", "Home"]
    assert result.count("/b") == 1
    with pytest.raises(AssertionError, match="/b"):
        httpserver.check_assertions()


def test_ordered_requests_robots_txt_comes_first(crawl_spider, httpserver):
    """With robots on, robots.txt is asked for before any page; then a chain of pages, in order."""
    httpserver.expect_ordered_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private\n")
    for i in range(1, 4):
        nxt = f"<a href='/p/{i + 1}'>next</a><a href='/private/{i}'>no</a>" if i < 3 else ""
        httpserver.expect_ordered_request(f"/p/{i}").respond_with_data(
            f"<title>P{i}</title>{nxt}", content_type=HTML)
    result = crawl_spider(TitleSpider, server=httpserver, start="/p/1", robots=True, concurrency=4)
    assert [r["title"] for r in result.records] == ["P1", "P2", "P3"]
    assert [path for _, path in logged(httpserver)] == ["/robots.txt", "/p/1", "/p/2", "/p/3"]
    assert result.stats["robots_refused"] == 2
    httpserver.check_assertions()  # an ordered handler met out of order would fail every request after it


def test_oneshot_handlers_answer_once(crawl_spider, httpserver):
    """Each page is a one-shot handler: a second request for any of them would find none."""
    for path, body in PAGES.items():
        httpserver.expect_oneshot_request(path).respond_with_data(body, content_type=HTML)
    result = crawl_spider(TitleSpider, server=httpserver, workers=2, concurrency=4)
    assert len(result.records) == 3 and len(httpserver.log) == 3
    httpserver.check_assertions()


def test_the_server_url_instead_of_the_object(crawl_spider, httpserver):
    serve(httpserver)
    base = httpserver.url_for("/")
    result = crawl_spider(TitleSpider, server=base, start=["/a"], max_pages=1)
    assert result.records == [{"path": "/a", "title": "A"}]
    assert logged(httpserver) == [("GET", "/a")]
    # nothing of the plugin's saw the requests: the log is pytest-httpserver's
    assert (result.server, result.url, result.requests) == (None, base.rstrip("/"), [])

    positional = crawl_site(TitleSpider, base.rstrip("/"), start="b?x=1", max_pages=1)  # as the site, too
    assert positional.records == [{"path": "/b?x=1", "title": "B"}]
    assert logged(httpserver)[1:] == [("GET", "/b?x=1")]
    httpserver.check_assertions()


def test_crawl_site_on_an_httpserver_of_its_own():
    """Outside pytest's fixtures: a server not started is started for the crawl and stopped after it."""
    server = HTTPServer(host="127.0.0.1", port=0)
    serve(server)
    assert not server.is_running()
    result = crawl_site(TitleSpider, server=server, start=["/b"], max_pages=2)
    assert not server.is_running()
    assert [r["title"] for r in result.records] == ["B", "A"]
    assert result.requests == [("GET", "/b"), ("GET", "/a")]
    assert result.url.startswith("http://127.0.0.1:") and result.server is server
    server.check_assertions()

    with server:  # started by the caller: left running, only this crawl's requests in the result
        first = crawl_site(TitleSpider, server, start="/b", max_pages=1)
        second = crawl_site(TitleSpider, server, start="/a", max_pages=1)
        assert server.is_running()
    assert first.requests == [("GET", "/b")] and second.requests == [("GET", "/a")]
    assert len(server.log) == 4


def test_site_and_server_are_not_both_given(httpserver, tmp_path):
    with pytest.raises(TypeError, match="not both"):
        crawl_site(TitleSpider, PAGES, server=httpserver)
    with pytest.raises(TypeError, match="site="):
        crawl_site(TitleSpider, server=PAGES)
    with pytest.raises(TypeError, match="base URL"):
        crawl_site(TitleSpider, server=str(tmp_path))
    assert httpserver.log == []


def test_the_plugin_does_not_import_pytest_httpserver():
    code = "import sys, scrapepool.testing.pytest_plugin; print('pytest_httpserver' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


#: As a user writes it in a project of their own: both plugins come from their entry points.
OUTSIDE = textwrap.dedent('''
    from scrapepool import Spider

    class QuotesSpider(Spider):
        def parse(self, response):
            for q in response.select(".quote"):
                yield {"text": q.select_one(".text").get_text()}
            for a in response.select("a.next"):
                yield response.follow(a["href"])

    def test_quotes(crawl_spider, httpserver):
        httpserver.expect_request("/").respond_with_data(
            '<div class="quote"><span class="text">Hi</span></div><a class="next" href="/2">next</a>',
            content_type="text/html")
        httpserver.expect_request("/2").respond_with_data(
            '<div class="quote"><span class="text">Bye</span></div>', content_type="text/html")
        result = crawl_spider(QuotesSpider, server=httpserver)
        assert [r["text"] for r in result.records] == ["Hi", "Bye"]
        assert [request.path for request, _ in httpserver.log] == ["/", "/2"]
        httpserver.check_assertions()
''')


def test_from_a_test_file_outside_the_repository(pytester):
    pytester.makepyfile(test_outside=OUTSIDE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
