"""``--set NAME=VALUE``, the project file and their precedence (issue 16).

Scrapy's order (``scrapy.settings.SETTINGS_PRIORITIES``): defaults < project file <
``Spider.custom_settings`` < command line, and on the command line an explicit option
over ``--set``. The order is proven on ``build_settings`` and by one real crawl of a
local site, where each layer's effect is seen in the requests and the records.
"""

import textwrap

import pytest
from conftest import ROBOTS, build_linked_site, one_line, page_path

import scrapepool
from scrapepool import Spider
from scrapepool.api import build_settings
from scrapepool.exceptions import UsageError
from scrapepool.project import find_project_file, load_project, parse_set
from scrapepool.settings import MAX_ELEMENTS, Settings

pytestmark = pytest.mark.timeout(60)


def settings_from_set(*items, spider=Spider, project=None):
    return build_settings(spider, {}, project=project, sets=parse_set(items))



# -- --set: names and values -----------------------------------------------------------------

TYPED = [
    ("max_pages=100", "max_pages", 100),
    ("delay=0.5", "delay", 0.5),
    ("timeout=7", "timeout", 7.0),
    ("robots=no", "robots", False),
    ("robots=0", "robots", False),
    ("sitemap=YES", "sitemap", True),
    ("cookies=false", "cookies", False),
    ("allowed_domains=example.com, 127.0.0.1:8080", "allowed_domains", ("example.com", "127.0.0.1:8080")),
    ("allowed_domains=", "allowed_domains", ()),
    ("fields=url,title", "fields", ("url", "title")),
    ("headers=X-A: 1, X-B: two", "headers", (("X-A", "1"), ("X-B", "two"))),
    ("user_agent=bot/1.0 (+http://x.test/a=b)", "user_agent", "bot/1.0 (+http://x.test/a=b)"),
    ("max_elements=none", "max_elements", None),
    ("max_elements=", "max_elements", None),
    ("job_dir=None", "job_dir", None),
    ("http_cache_expire=3600", "http_cache_expire", 3600.0),
]


#: Under --set, a value of each field unlike any in TYPED: --set must change it.
UNDER = {"max_pages": 1, "delay": 9.0, "timeout": 1.0, "robots": True, "sitemap": False, "cookies": True,
         "allowed_domains": ("under.test",), "fields": ("x",), "headers": (("X-U", "u"),),
         "user_agent": "under", "max_elements": 5, "job_dir": "under", "http_cache_expire": 1.0}


@pytest.mark.parametrize("item, name, value", TYPED, ids=[t[0] for t in TYPED])
def test_set_converts_to_the_fields_type(item, name, value):
    assert getattr(build_settings(Spider, {}, project=UNDER), name) != value
    assert getattr(settings_from_set(item, project=UNDER), name) == value


SCRAPY = [
    ("DOWNLOAD_DELAY=2", "delay", 2.0),
    ("CONCURRENT_REQUESTS_PER_DOMAIN=3", "concurrency_per_host", 3),
    ("ROBOTSTXT_OBEY=False", "robots", False),
    ("USER_AGENT=scrapy-like", "user_agent", "scrapy-like"),
    ("DEPTH_LIMIT=4", "max_depth", 4),
    ("DEPTH_LIMIT=0", "max_depth", None),  # Scrapy's 0 is "no limit"; our max_depth 0 is seeds only
    ("CLOSESPIDER_PAGECOUNT=50", "max_pages", 50),
    ("DOWNLOAD_TIMEOUT=12.5", "timeout", 12.5),
    ("RETRY_TIMES=5", "retries", 5),
    ("REDIRECT_MAX_TIMES=3", "max_redirects", 3),
    ("DOWNLOAD_MAXSIZE=1000", "max_bytes", 1000),
    ("COOKIES_ENABLED=0", "cookies", False),
    ("JOBDIR=state", "job_dir", "state"),
    ("FEED_EXPORT_FIELDS=a,b", "fields", ("a", "b")),
    ("MAX_PAGES=6", "max_pages", 6),  # our own names in Scrapy's case
]


@pytest.mark.parametrize("item, name, value", SCRAPY, ids=[t[0] for t in SCRAPY])
def test_set_takes_scrapys_names(item, name, value):
    assert getattr(settings_from_set(item), name) == value


def test_a_later_set_wins_over_an_earlier_one():
    assert settings_from_set("max_pages=5", "CLOSESPIDER_PAGECOUNT=9").max_pages == 9


BAD_SET = [
    ("max_pagez=1", "--set max_pagez=1: no such setting (did you mean max_pages?)"),
    ("DOWNLOAD_DELAI=1", "--set DOWNLOAD_DELAI=1: no such setting (did you mean DOWNLOAD_DELAY?)"),
    ("nothing_like_it=1", "--set nothing_like_it=1: no such setting"),
    ("max_pages", "--set 'max_pages' must look like NAME=VALUE"),
    ("=3", "--set '=3' must look like NAME=VALUE"),
    ("max_pages=abc", "--set max_pages=abc: max_pages takes an integer or none"),
    ("retries=1.5", "--set retries=1.5: retries takes an integer"),
    ("delay=fast", "--set delay=fast: delay takes a number"),
    ("robots=maybe", "--set robots=maybe: robots takes true or false"),
    ("fields=a,,b", "--set fields=a,,b: fields takes comma-separated items, with no empty one"),
    ("headers=NoColon", "--set headers=NoColon: headers takes 'Name: value' items"),
    ("spider_kwargs=x", "--set spider_kwargs=x: spider_kwargs is set with -a NAME=VALUE"),
    ("max_pages=0", "max_pages must be an integer >= 1, not 0"),  # Settings' own check
]


@pytest.mark.parametrize("item, message", BAD_SET, ids=[b[0] for b in BAD_SET])
def test_bad_set_is_one_line_and_exit_2(run_cli, site_server, tmp_path, item, message):
    server = site_server({"/": "<title>x</title>", "/robots.txt": ROBOTS})
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(server.url + "/\n")
    rc, out, err = run_cli("crawl", seeds, "-w", "1", "--set", item, timeout=30)
    assert rc == 2, err
    line = one_line(err)
    assert line.startswith("scrapepool: error: ") and message in line, line
    assert server.requests == []


# -- the project file --------------------------------------------------------------------------

def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_pyproject_table_is_read_with_types_and_scrapy_names(tmp_path):
    path = write(tmp_path / "pyproject.toml", """
        [project]
        name = "mycrawler"

        [tool.scrapepool]
        max_pages = 40
        delay = 1               # an integer for a float
        ROBOTSTXT_OBEY = false
        DEPTH_LIMIT = 0         # Scrapy's "no limit"
        fields = ["url", "title"]
        max_elements = "none"   # TOML has no null
        headers = {X-Team = "data"}
        spider_kwargs = {category = "books"}
    """)
    assert load_project(path) == {
        "max_pages": 40, "delay": 1.0, "robots": False, "max_depth": None, "fields": ("url", "title"),
        "max_elements": None, "headers": (("X-Team", "data"),), "spider_kwargs": {"category": "books"}}
    settings = build_settings(Spider, {}, project=load_project(path))
    assert (settings.max_pages, settings.robots, settings.max_elements) == (40, False, None)
    assert settings.spider_kwargs == {"category": "books"}


def test_scrapepool_toml_is_read_at_its_top_level(tmp_path):
    path = write(tmp_path / "scrapepool.toml", """
        workers = 1
        user_agent = "team-bot/2"
    """)
    assert load_project(path) == {"workers": 1, "user_agent": "team-bot/2"}


def test_the_nearest_project_file_is_found_from_a_subdirectory(tmp_path, monkeypatch):
    root = write(tmp_path / "proj" / "scrapepool.toml", "max_pages = 7\n")
    # A pyproject.toml without [tool.scrapepool] is passed over (as Ruff and pytest do).
    write(tmp_path / "proj" / "crawls" / "pyproject.toml", '[project]\nname = "x"\n')
    deep = tmp_path / "proj" / "crawls" / "today"
    deep.mkdir()
    monkeypatch.chdir(deep)
    assert find_project_file() == root.resolve()
    assert load_project() == {"max_pages": 7}
    # Nearer wins over farther.
    near = write(tmp_path / "proj" / "crawls" / "pyproject.toml", "[tool.scrapepool]\nmax_pages = 3\n")
    assert find_project_file() == near.resolve()
    assert load_project() == {"max_pages": 3}
    # In one directory, scrapepool.toml comes first.
    first = write(tmp_path / "proj" / "crawls" / "scrapepool.toml", "max_pages = 2\n")
    assert find_project_file() == first.resolve()
    assert load_project(False) == {} and load_project(None) == {}


def test_a_broken_pyproject_that_is_not_ours_is_passed_over(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.black\nline-length = \n")
    assert find_project_file(tmp_path) is None
    write(tmp_path / "pyproject.toml", "[tool.black\nline-length = \n# scrapepool\n")
    with pytest.raises(UsageError, match="pyproject.toml: not valid TOML"):
        find_project_file(tmp_path)


BAD_FILES = [
    ("pyproject.toml", "[tool.scrapepool]\nmax_pages = \n", "pyproject.toml: not valid TOML: "),
    ("scrapepool.toml", "max_pages = [1\n", "scrapepool.toml: not valid TOML: "),
    ("pyproject.toml", "[tool.scrapepool]\nmax_pagez = 3\n",
     "pyproject.toml [tool.scrapepool]: max_pagez: no such setting (did you mean max_pages?)"),
    ("scrapepool.toml", "robots = 3\n", "scrapepool.toml: robots = 3: robots takes true or false"),
    ("scrapepool.toml", 'max_pages = "many"\n', "max_pages takes an integer or none"),
    ("scrapepool.toml", "delay = true\n", "delay takes a number"),
    ("scrapepool.toml", "fields = [1, 2]\n", "fields takes a list of strings"),
    ("pyproject.toml", "[tool]\nscrapepool = 3\n", "[tool.scrapepool] must be a table"),
]


@pytest.mark.parametrize("name, text, message", BAD_FILES, ids=[b[2][:40] for b in BAD_FILES])
def test_bad_project_file_is_one_line_and_exit_2(run_cli, site_server, tmp_path, name, text, message):
    server = site_server({"/": "<title>x</title>", "/robots.txt": ROBOTS})
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    (tmp_path / name).write_text(text)
    rc, out, err = run_cli("crawl", "seeds.txt", "-w", "1", timeout=30)
    assert rc == 2, err
    line = one_line(err)
    assert line.startswith(f"scrapepool: error: {tmp_path.resolve()}") and message in line, line
    assert server.requests == []


def test_api_missing_project_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="project file not found"):
        load_project(tmp_path / "nope.toml")


# -- precedence ------------------------------------------------------------------------------------

class Layered(Spider):
    custom_settings = {"CLOSESPIDER_PAGECOUNT": 30, "user_agent": "spider", "retries": 4}


PROJECT = {"max_pages": 40, "user_agent": "project", "retries": 5, "delay": 0.25}


def test_precedence_defaults_project_spider_set_option():
    # Each layer over the one below, as Scrapy's tests assert: test_crawler.py
    # test_populate_spidercls_settings (spider over project, the project's other values
    # kept), tests/test_cmdline test_override_settings_using_set_arg (-s over the
    # project) and test_commands.py test_spider_settings_asyncio_cmdline_empty (-s over
    # custom_settings, even to an empty value).
    assert build_settings(Spider, {}).max_pages is None
    only_project = build_settings(Spider, {}, project=PROJECT)
    assert (only_project.max_pages, only_project.user_agent, only_project.delay) == (40, "project", 0.25)
    spider = build_settings(Layered, {}, project=PROJECT)
    assert (spider.max_pages, spider.user_agent, spider.retries, spider.delay) == (30, "spider", 4, 0.25)
    sets = build_settings(Layered, {}, project=PROJECT, sets=parse_set(["max_pages=20", "USER_AGENT=set"]))
    assert (sets.max_pages, sets.user_agent, sets.retries, sets.delay) == (20, "set", 4, 0.25)
    option = build_settings(Layered, {"max_pages": 10, "user_agent": None}, project=PROJECT,
                            sets=parse_set(["max_pages=20", "USER_AGENT=set"]))
    assert (option.max_pages, option.user_agent, option.retries, option.delay) == (10, "set", 4, 0.25)


def test_none_is_a_value_in_every_layer_but_the_options():
    class NoLimit(Spider):
        custom_settings = {"max_pages": None, "DEPTH_LIMIT": 0, "delay": None}

    # The spider's None (a field that may be None) wins over the project's limit...
    spider = build_settings(NoLimit, {}, project={"max_pages": 40, "max_depth": 2, "delay": 0.5})
    assert (spider.max_pages, spider.max_depth) == (None, None)
    assert spider.delay == 0.5  # ...None for a field that may not be None is "not set", as before
    # --set's none wins over the spider's value, as Scrapy's `-s TWISTED_REACTOR=`.
    assert settings_from_set("max_pages=none", spider=Layered).max_pages is None
    # An option left at None (argparse: not given) sets nothing.
    assert build_settings(Layered, {"max_pages": None}).max_pages == 30
    assert build_settings(Spider, {}, sets=parse_set(["max_elements=250"])).max_elements == 250
    assert Settings().max_elements == MAX_ELEMENTS


def test_custom_settings_take_scrapys_names_and_unknown_ones_are_named():
    class Bad(Spider):
        custom_settings = {"ROBOTSTXT_OBEY": False, "CONCURRENT_REQUESTZ": 3}

    with pytest.raises(UsageError, match=r"unknown custom_settings 'CONCURRENT_REQUESTZ'.*no such setting"):
        build_settings(Bad, {})


# -- the whole chain in real crawls ------------------------------------------------------------

def recording_site(n, user_agents):
    """A linked site of ``n`` pages whose pages note the User-Agent of each request."""
    site = build_linked_site(n)

    def noting(page):
        def serve(info):
            user_agents.append(info.headers.get("User-Agent"))
            return page(info)
        return serve

    return {path: noting(page) if path != "/robots.txt" else page for path, page in site.items()}


def test_cli_crawl_obeys_every_layer_in_order(run_cli, site_server, tmp_path, read_jsonl):
    user_agents = []
    server = site_server(recording_site(20, user_agents))
    (tmp_path / "seeds.txt").write_text(server.url + "/\n")
    write(tmp_path / "pyproject.toml", """
        [tool.scrapepool]
        robots = false            # only the project says: no robots.txt is asked for
        fields = ["url"]          # the spider says otherwise
        user_agent = "project-ua"
        max_pages = 9
    """)
    write(tmp_path / "layered.py", """
        from scrapepool import SiteSpider

        class Layered(SiteSpider):
            custom_settings = {"fields": ["url", "status"], "USER_AGENT": "spider-ua", "max_pages": 8}
    """)
    spider = f"{tmp_path / 'layered.py'}:Layered"
    rc, out, err = run_cli("crawl", "seeds.txt", "-w", "1", "-s", spider, "-O", "out.jsonl",
                           "--set", "USER_AGENT=set-ua", "--set", "max_pages=7", "--max-pages", "3")
    assert rc == 0, err
    assert "--set max_pages: an explicit option gives max_pages=3, which wins" in err
    records = read_jsonl(tmp_path / "out.jsonl")
    assert len(records) == 3                                       # option > --set > spider > project
    assert all(list(r) == ["url", "status"] for r in records)     # spider > project
    assert set(user_agents) == {"set-ua"} and len(user_agents) == 3  # --set > spider > project
    assert server.count("/robots.txt") == 0                        # project > defaults


def test_api_crawl_reads_the_project_file_from_a_subdirectory(site_server, tmp_path, monkeypatch,
                                                               read_jsonl):
    server = site_server(build_linked_site(20))
    write(tmp_path / "scrapepool.toml", "max_pages = 2\nrobots = false\nworkers = 1\n")
    here = tmp_path / "runs"
    here.mkdir()
    monkeypatch.chdir(here)
    out = tmp_path / "out.jsonl"
    stats = scrapepool.crawl(seeds=[server.url + page_path(0)], output=str(out), progress=False)
    assert stats["pages"] == 2
    assert len(read_jsonl(out)) == 2
    assert server.count("/robots.txt") == 0
    # project=False: the file is not read.
    assert build_settings(Spider, {}, project=load_project(False)).max_pages is None
