import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from bs4 import BeautifulSoup

from scrapepool.demo import BROKEN_LINK, SLOW_PAGE, build_site, expected_counts, serve
from scrapepool.demo.site import AUTHORS, QUOTES, TAGS
from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo():
    with serve() as server:
        yield server


@pytest.fixture(scope="module")
def pages(demo):
    """Every page of the site, fetched over HTTP: path -> (status, html)."""
    with requests.Session() as session:
        out = {}
        for path in build_site():
            r = session.get(demo.url_for(path), timeout=10)
            out[path] = (r.status_code, r.text)
        return out


def html_pages(pages):
    return {path: text for path, (_, text) in pages.items() if not path.endswith(".txt")}


def links(text, base):
    soup = BeautifulSoup(text, "lxml")
    return [urljoin(base, a["href"]) for a in soup.select("a[href]")]


def test_build_is_deterministic():
    assert list(build_site().items()) == list(build_site().items())


def test_expected_counts_match_the_site(pages):
    counts = expected_counts()
    site = build_site()
    assert counts["quotes"] == len(QUOTES) == 100
    assert counts["authors"] == len(AUTHORS) == 25
    assert counts["list_pages"] == 10
    assert 15 <= counts["tags"] == len(TAGS) <= 25
    assert counts["pages"] == len(site)
    assert sum(p.startswith("/author/") for p in site) == counts["author_pages"]
    assert sum(p.startswith("/tag/") for p in site) == counts["tag_pages"]
    assert sum(p == "/" or p.startswith("/page/") for p in site) == counts["list_pages"]

    listed = [BeautifulSoup(text, "lxml") for path, text in html_pages(pages).items()
              if path == "/" or path.startswith("/page/")]
    assert sum(len(soup.select("div.quote")) for soup in listed) == counts["quotes"]
    assert all(len(soup.select("div.quote")) == counts["quotes_per_page"] for soup in listed)
    authors = {a.get_text() for soup in listed for a in soup.select("small.author")}
    assert len(authors) == counts["authors"]
    tags = {a.get_text() for soup in listed for a in soup.select("div.quote a.tag")}
    assert len(tags) == counts["tags"]


def test_every_page_is_served_with_a_title(pages):
    assert all(status == 200 for status, _ in pages.values())
    for path, text in html_pages(pages).items():
        assert BeautifulSoup(text, "lxml").title.get_text().strip(), path
    assert pages["/robots.txt"][1].splitlines() == ["User-agent: *", "Disallow:"]


def test_every_link_resolves_except_the_one_broken_link(demo, pages):
    site = build_site()
    broken = set()
    for path, text in html_pages(pages).items():
        for url in links(text, demo.url_for(path)):
            parts = urlsplit(url)
            assert parts.netloc == urlsplit(demo.url).netloc, url
            if parts.path not in site:
                broken.add(parts.path)
    assert broken == {BROKEN_LINK}
    assert requests.get(demo.url_for(BROKEN_LINK), timeout=10).status_code == 404


def test_every_page_is_reachable_from_the_home_page(demo, pages):
    seen, todo = {"/"}, ["/"]
    while todo:
        path = todo.pop()
        for url in links(pages[path][1], demo.url_for(path)):
            target = urlsplit(url).path
            if target in pages and target not in seen:
                seen.add(target)
                todo.append(target)
    assert seen == set(html_pages(pages))


def test_one_slow_page():
    site = build_site()
    slow = [path for path, page in site.items() if isinstance(page, Page) and page.delay > 0]
    assert slow == [SLOW_PAGE] and site[SLOW_PAGE].delay == expected_counts()["slow_delay"] == 1.0
    with serve() as server:
        started = time.monotonic()
        assert requests.get(server.url_for(SLOW_PAGE), timeout=10).status_code == 200
        assert time.monotonic() - started >= 1.0


# -- the example spider's selectors, run on BeautifulSoup directly (no engine) --

@pytest.fixture(scope="module")
def quotes_spider():
    """examples/quotes.py, loaded from its file."""
    spec = importlib.util.spec_from_file_location("example_quotes", ROOT / "examples" / "quotes.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.QuotesSpider()


class SoupResponse:
    """The slice of the engine's Response the spider uses, backed by a plain BeautifulSoup."""

    def __init__(self, url, text):
        self.url, self.status, self.text = url, 200, text
        self.soup = BeautifulSoup(text, "lxml")
        self.meta, self.depth = {}, 0

    def select(self, css):
        return self.soup.select(css)

    def urljoin(self, href):
        return urljoin(self.url, href)

    def follow(self, href, callback=None, meta=None):
        return ("follow", self.urljoin(href), callback)


def test_spider_on_a_list_page(demo, pages, quotes_spider):
    out = list(quotes_spider.parse(SoupResponse(demo.url_for("/page/3/"), pages["/page/3/"][1])))
    records = [o for o in out if isinstance(o, dict)]
    follows = [o for o in out if isinstance(o, tuple)]
    expected = QUOTES[20:30]
    assert records == [{"kind": "quote", "text": q.text, "author": q.author, "tags": q.tags} for q in expected]
    author_follows = [(url, cb) for _, url, cb in follows if cb is not None]
    assert [urlsplit(url).path for url, _ in author_follows] == [
        "/author/" + q.author.replace(" ", "-") + "/" for q in expected]
    assert all(cb.__func__ is type(quotes_spider).parse_author for _, cb in author_follows)
    assert [url for _, url, cb in follows if cb is None] == [demo.url_for("/page/4/")]
    assert not any("/tag/" in url for _, url, _ in follows)


def test_spider_on_the_last_page_stops_paginating(demo, pages, quotes_spider):
    out = list(quotes_spider.parse(SoupResponse(demo.url_for("/page/10/"), pages["/page/10/"][1])))
    assert sum(isinstance(o, dict) for o in out) == 10
    assert [o for o in out if isinstance(o, tuple) and o[2] is None] == []


def test_spider_on_an_author_page(demo, pages, quotes_spider):
    author = next(a for a in AUTHORS if a.name == "Johann Wolfgang von Goethe")
    path = "/author/Johann-Wolfgang-von-Goethe/"
    out = list(quotes_spider.parse_author(SoupResponse(demo.url_for(path), pages[path][1])))
    assert out == [{"kind": "author", "name": author.name, "born_date": author.born_date,
                    "born_location": author.born_location, "description": author.description}]


def test_spider_crawl_matches_expected_counts(demo, quotes_spider):
    """Drive the spider's callbacks with a tiny loop (not the engine) to check the counts the demo promises."""
    counts = expected_counts()
    todo, seen, records, statuses = [(demo.url + "/", None)], set(), [], []
    with requests.Session() as session:
        while todo:
            url, callback = todo.pop(0)
            if url in seen:
                continue
            seen.add(url)
            r = session.get(url, timeout=10)
            statuses.append(r.status_code)
            if r.status_code != 200:
                continue
            for out in (callback or quotes_spider.parse)(SoupResponse(r.url, r.text)):
                if isinstance(out, dict):
                    records.append(out)
                else:
                    todo.append(out[1:])
    assert len(seen) == counts["spider_requests"]
    assert statuses.count(404) == counts["broken_links"]
    assert len(records) == counts["spider_records"]
    assert sum(r["kind"] == "quote" for r in records) == counts["quotes"]
    assert sorted(r["name"] for r in records if r["kind"] == "author") == sorted(a.name for a in AUTHORS)


def test_main_serve_prints_the_url_and_exits_cleanly_on_ctrl_c():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from scrapepool.demo import main_serve; sys.exit(main_serve())"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("Serving the scrapepool demo site on http://127.0.0.1:"), line
        assert line.rstrip().endswith("/ (Ctrl-C to stop)")
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        assert "Quotes" in requests.get(url, timeout=10).text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and out == ""
