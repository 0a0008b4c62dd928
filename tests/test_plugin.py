"""The pytest plugin: its fixtures from a test file outside the repository, and in-process."""

pytest_plugins = ["pytester"]

import sys
import textwrap

import pytest

from scrapepool import Spider
from scrapepool.testing.pytest_plugin import CrawlResult, _spider_for_fetchers, crawl_site
from scrapepool.testing.testserver import Page, SiteServer

#: A test file as a user would write it in their own project: no conftest, no import of
#: the plugin; the fixtures come from the pytest11 entry point.
OUTSIDE = textwrap.dedent('''
    import pytest
    from scrapepool import Spider
    from scrapepool.testing.pytest_plugin import CrawlResult, crawl_site

    SITE = {
        "/": '<h1>Shop</h1><a class="p" href="/p/1">one</a> <a class="p" href="/p/2">two</a>',
        "/p/1": '<h2 class="name">Lamp</h2><span class="price">12</span>',
        "/p/2": '<h2 class="name">Desk</h2><span class="price">99</span>',
    }

    class ShopSpider(Spider):
        def parse(self, response):
            for a in response.select("a.p"):
                yield response.follow(a["href"], callback=self.parse_product)

        def parse_product(self, response):
            yield {"name": response.select_one(".name").get_text(),
                   "price": int(response.select_one(".price").get_text())}

    def test_crawl_spider(crawl_spider):
        result = crawl_spider(ShopSpider, site=SITE)
        assert isinstance(result, CrawlResult)
        assert sorted(r["name"] for r in result.records) == ["Desk", "Lamp"]
        assert result.stats["pages"] == 3 and result.stats["records"] == 2
        assert result.server.count("/p/1") == 1 and result.count("/") == 1
        assert ("GET", "/robots.txt") not in result.requests  # robots off by default
        assert result.output.exists()

    def test_site_server(site_server):
        import requests
        server = site_server({"/": "hello"})
        assert requests.get(server.url + "/").text == "hello"
        assert server.requests == [("GET", "/")]

    def test_crawl_site_without_pytest_fixtures(tmp_path):
        result = crawl_site(ShopSpider, SITE, start=["/"], robots=True)
        assert result.count("/robots.txt") == 1 and len(result.records) == 2
        assert result.output is None  # a temporary output, gone
''')


def _outcomes(result, **expected):
    result.assert_outcomes(**expected)
    return result


@pytest.mark.timeout(60)
def test_plugin_from_a_test_file_outside_the_repository(pytester):
    pytester.makepyfile(test_outside=OUTSIDE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert str(pytester.path) not in sys.path
    _outcomes(result, passed=3)


@pytest.mark.timeout(60)
def test_spider_whose_module_is_not_importable_by_name(tmp_path, monkeypatch):
    """As under ``--import-mode=importlib``: the fetchers are given the spider's file instead."""
    import importlib.util

    path = tmp_path / "hidden_spiders.py"
    path.write_text("from scrapepool import Spider\n"
                    "class Hidden(Spider):\n"
                    "    def parse(self, response):\n"
                    "        yield {'title': response.soup.title.get_text()}\n")
    spec = importlib.util.spec_from_file_location("some_name_no_finder_knows", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    assert _spider_for_fetchers(module.Hidden) == f"{path}:Hidden"
    assert _spider_for_fetchers(TitleSpider) is TitleSpider  # importable: passed as it is
    result = crawl_site(module.Hidden, {"/": "<title>Found</title>"})
    assert result.records == [{"title": "Found"}]


@pytest.mark.timeout(60)
def test_fixtures_are_registered_by_the_entry_point(pytester):
    pytester.makepyfile(test_empty="def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fixtures")
    result.stdout.fnmatch_lines(["*fixtures defined from scrapepool.testing.pytest_plugin*",
                                 "site_server -- *", "*Factory*", "crawl_spider -- *"])


@pytest.mark.timeout(60)
def test_site_server_fixture_in_process(pytester):
    """In-process run (this repo's conftest has a site_server of its own, so test the plugin's here)."""
    pytester.makepyfile(test_inproc='''
        import pytest
        import requests

        SERVERS = []

        def test_factory_starts(site_server):
            a = site_server({"/": "A"})
            b = site_server({"/": "B"})
            assert requests.get(a.url + "/").text == "A" and requests.get(b.url + "/").text == "B"
            SERVERS.extend([a, b])

        def test_and_stops_after_the_test():
            assert len(SERVERS) == 2
            for server in SERVERS:
                assert server.requests == [("GET", "/")]
                with pytest.raises(RuntimeError, match="not started"):
                    server.port
    ''')
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    _outcomes(result, passed=2)


# -- the same, in this process ------------------------------------------------------------

class TitleSpider(Spider):
    """Module level, so the fetcher processes import it as test_plugin:TitleSpider."""

    def parse(self, response):
        yield {"path": response.url.split("/", 3)[3], "title": response.soup.title.get_text()}
        for a in response.select("a[href]"):
            yield response.follow(a["href"])


SITE = {
    "/": "<title>Home</title><a href='/a'>a</a> <a href='/b'>b</a>",
    "/a": "<title>A</title><a href='/'>home</a>",
    "/b": "<title>B</title>",
}


@pytest.mark.timeout(60)
def test_crawl_spider_fixture_in_process(crawl_spider, tmp_path):
    result = crawl_spider(TitleSpider, site=SITE)
    assert sorted(r["title"] for r in result.records) == ["A", "B", "Home"]
    assert result.records[0] == {"path": "", "title": "Home"}  # output order: the seed first
    assert result.stats["pages"] == 3 and result.stats["finish_reason"] == "finished"
    assert sorted(result.requests) == [("GET", "/"), ("GET", "/a"), ("GET", "/b")]
    assert result.output.parent == tmp_path
    assert result.server.url == result.url  # still serving until the end of the test
    again = crawl_spider(TitleSpider, site=SITE, start="/b", max_pages=1)
    assert again.records == [{"path": "b", "title": "B"}]
    assert again.output != result.output


@pytest.mark.timeout(60)
def test_crawl_site_on_a_running_server_and_a_directory(tmp_path):
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "index.html").write_text("<title>Dir</title><a href='x.html'>x</a>")
    (tmp_path / "site" / "x.html").write_text("<title>X</title>")
    with SiteServer(tmp_path / "site") as server:
        one = crawl_site(TitleSpider, server)
        two = crawl_site(TitleSpider, server, start=server.url + "/x.html")
        assert server.port  # still running: the caller owns it
    assert isinstance(one, CrawlResult)
    assert sorted(r["title"] for r in one.records) == ["Dir", "X"]
    assert two.requests == [("GET", "/x.html")]  # only this crawl's requests
    assert len(server.requests) == 3
    three = crawl_site(TitleSpider, str(tmp_path / "site"), max_pages=1)
    assert three.records == [{"path": "", "title": "Dir"}]
    assert three.url.startswith("http://127.0.0.1:")  # kept, though its server has stopped
    with pytest.raises(RuntimeError):
        three.server.url


@pytest.mark.timeout(60)
def test_crawl_site_without_a_site_crawls_absolute_start_urls():
    with SiteServer(SITE) as server:
        result = crawl_site(TitleSpider, None, start=server.url + "/b")
        assert len(server.requests) == 1
    assert result.records == [{"path": "b", "title": "B"}]
    assert (result.server, result.url, result.requests) == (None, "", [])
    with pytest.raises(ValueError, match="absolute"):
        crawl_site(TitleSpider, None, start="/b")


@pytest.mark.crawl_settings(robots=True, max_pages=1)
class TestCrawlSettingsMarker:
    """``crawl_settings`` markers give crawl_spider its defaults: the closest wins, a call's own win over all."""

    @pytest.mark.timeout(60)
    def test_the_class_marker_applies(self, crawl_spider):
        result = crawl_spider(TitleSpider, SITE)
        assert result.count("/robots.txt") == 1 and len(result.records) == 1
        again = crawl_spider(TitleSpider, SITE, robots=False, max_pages=None)
        assert again.count("/robots.txt") == 0 and len(again.records) == 3

    @pytest.mark.timeout(60)
    @pytest.mark.crawl_settings(max_pages=2)
    def test_the_closest_marker_wins(self, crawl_spider):
        result = crawl_spider(TitleSpider, SITE)
        assert result.count("/robots.txt") == 1 and len(result.records) == 2


def test_crawl_site_wants_jsonl(tmp_path):
    with pytest.raises(ValueError, match="jsonl"):
        crawl_site(TitleSpider, {"/": Page("x")}, output=str(tmp_path / "out.csv"))
