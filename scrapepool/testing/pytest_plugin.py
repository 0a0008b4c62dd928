"""pytest plugin (entry point ``pytest11``): serve a site and crawl it in a test.

Loaded by pytest automatically once scrapepool is installed. Two fixtures::

    from myproject.spiders import QuotesSpider      # a Spider defined at module level

    def test_quotes(crawl_spider):
        result = crawl_spider(QuotesSpider, site={"/": "<div class=quote>...</div>"})
        assert result.records == [...]              # in output order
        assert result.stats["pages"] == 1
        assert result.server.count("/") == 1

    def test_with_a_server(site_server):
        server = site_server({"/": "<h1>hi</h1>"})  # started now, stopped after the test
        ...

``crawl_spider(spider, site, start="/", **settings)`` serves ``site`` (a dict of
path -> page, a directory, or a started :class:`~scrapepool.testing.testserver.SiteServer`)
on 127.0.0.1 with a free port and runs the real engine on it: fetcher processes,
writer, output file. It returns a :class:`CrawlResult`: ``records`` (dicts, in output
order), ``stats``, ``server`` (running until the end of the test), ``url`` and
``requests`` (this crawl's (method, path) pairs; ``result.count(path)``). Settings
default to ``workers=1``, ``robots=False`` and no progress output; pass any other
crawl setting by name, or give a test, a class or a module
(``pytestmark``) its own defaults with the ``crawl_settings`` marker::

    pytestmark = pytest.mark.crawl_settings(robots=True, concurrency=2)

    def test_robots(crawl_spider):
        result = crawl_spider(None, site={...}, workers=2)   # robots=True, concurrency=2, workers=2

(the marker closest to the test wins, and a call's own settings win over any marker).
``site=None`` crawls no server of the plugin's: ``start`` then holds absolute URLs (a
server of another kind, or none listening).

A server of your own goes in ``server=``: pytest-httpserver's ``httpserver`` (any object
with ``url_for(path)``; the plugin does not need pytest-httpserver installed), a
SiteServer, or a base URL such as ``"http://127.0.0.1:8000"``; ``start`` paths are then
joined to it::

    def test_with_httpserver(crawl_spider, httpserver):
        httpserver.expect_request("/").respond_with_data("<h1>hi</h1>", content_type="text/html")
        result = crawl_spider(MySpider, server=httpserver)
        assert [r.path for r, _ in httpserver.log] == ["/"]
        httpserver.check_assertions()

``result.requests`` and ``result.count(path)`` then come from ``httpserver.log`` (empty for a
bare URL: nothing of the plugin's sees the requests).

The spider's class must be importable by the fetcher processes: define it at module level
(in the test file is fine; when pytest's import mode leaves the test module unimportable by
name, the fetchers are given its file).
Outside pytest, :func:`crawl_site` does the same.

This module imports only the standard library and pytest at load time, and the rest
of scrapepool when a fixture is used: it is loaded into every pytest run of the
environment, scrapepool's or not.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest

__all__ = ["CrawlResult", "crawl_site", "crawl_spider", "site_server"]

#: Settings that crawl_site uses unless told otherwise: small, quiet and offline-friendly.
#: The output is overwritten, not appended to: the records returned are this crawl's.
DEFAULTS = {"workers": 1, "robots": False, "progress": False, "overwrite_output": True}


@dataclass
class CrawlResult:
    """What :func:`crawl_site` (and the ``crawl_spider`` fixture) returns."""

    #: The records, as dicts, in the order the output file holds them.
    records: List[Dict[str, Any]]
    #: The crawl's stats dict (as ``scrapepool.crawl`` returns it).
    stats: Dict[str, Any]
    #: The SiteServer the crawl ran against: ``server.count(path)``, ``server.requests``.
    #: The ``crawl_spider`` fixture stops it at the end of the test; ``crawl_site`` stops
    #: it on return, unless it was given one already started. With ``server=httpserver``:
    #: that pytest-httpserver server (``result.server.log``); with a URL or no site: None.
    server: Any
    #: The site's base URL, ``http://127.0.0.1:PORT`` (valid after the server stopped).
    url: str = ""
    #: The (method, path) requests this crawl made, in arrival order.
    requests: List[Tuple[str, str]] = field(default_factory=list)
    #: The JSON-lines output file (gone if crawl_site made it in a temporary folder).
    output: Optional[Path] = None

    def count(self, path: str) -> int:
        """Times this crawl requested ``path`` (with a ``?``: exactly; without: any query)."""
        if "?" in path:
            return sum(p == path for _, p in self.requests)
        return sum(p.split("?", 1)[0] == path for _, p in self.requests)


def _spider_for_fetchers(spider):
    """``spider`` itself, or a ``file.py:Class`` reference when fetchers could not import its module.

    A spider defined in a test module is referred to as ``module:Class``; that works
    when pytest put the test's folder on sys.path (its default, "prepend", import mode),
    which the spawned fetchers inherit. Under ``--import-mode=importlib`` the module
    name is not importable, so the fetchers are given the file instead.
    """
    import inspect

    if spider is None or isinstance(spider, str) or not inspect.isclass(spider):
        return spider
    module = sys.modules.get(spider.__module__)
    path = getattr(module, "__file__", None)
    if not path or spider.__module__ in ("__main__", "__mp_main__") \
            or getattr(module, "_scrapepool_from_file", False):
        return spider
    if _finds(spider.__module__, path):
        return spider
    return f"{os.path.abspath(path)}:{spider.__qualname__}"


def _finds(name, path):
    """Whether a fresh process would import module ``name`` from the file ``path``.

    Asks the import system's finders, not ``sys.modules`` (where the module already is).
    """
    search, spec = None, None
    parts = name.split(".")
    for i in range(len(parts)):
        spec = None
        for finder in sys.meta_path:
            find_spec = getattr(finder, "find_spec", None)
            if find_spec is None:
                continue
            try:
                spec = find_spec(".".join(parts[: i + 1]), search)
            except Exception:
                spec = None
            if spec is not None:
                break
        if spec is None:
            return False
        search = spec.submodule_search_locations
    origin = getattr(spec, "origin", None)
    return bool(origin) and os.path.realpath(origin) == os.path.realpath(path)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "crawl_settings(**settings): crawl settings the crawl_spider fixture uses unless "
        "a call gives its own (on a test, a class or a module; the closest marker wins)")


def _read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _logged_path(request):
    """The path and query of a request in pytest-httpserver's log (a werkzeug Request), as sent."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw and raw.startswith("/"):
        return raw
    query = request.query_string.decode("latin-1")
    return request.path + ("?" + query if query else "")


@dataclass
class _Target:
    """What a crawl runs against: a started server (or a bare base URL) and how to read its requests."""

    server: Any  # what CrawlResult.server holds
    url: str  # the base URL
    url_for: Callable[[str], str]
    requests: Callable[[], list]  # the (method, path) requests made so far, oldest first
    stop: Optional[Callable[[], None]] = None  # set when the crawl started the server itself


def _site_server_target(server, owned):
    return _Target(server, server.url, server.url_for, lambda: server.requests,
                   server.stop if owned else None)


def _is_url(value):
    return isinstance(value, str) and value.lower().startswith(("http://", "https://"))


def _is_server(value):
    """Whether ``value`` is a server to crawl rather than pages to serve: a SiteServer,
    pytest-httpserver's HTTPServer (duck-typed: ``url_for``), or a base URL."""
    from scrapepool.testing.testserver import SiteServer

    return isinstance(value, SiteServer) or callable(getattr(value, "url_for", None)) or _is_url(value)


def _target(site, server):
    """The :class:`_Target` for crawl_site's ``site`` or ``server`` (None: no server at all)."""
    from scrapepool.testing.testserver import SiteServer

    if site is not None and server is not None:
        raise TypeError("crawl_site takes a site (pages to serve) or a server (one running), not both")
    if server is not None and not _is_server(server):
        raise TypeError(f"server must be a running server (pytest-httpserver's httpserver, a SiteServer) "
                        f"or its base URL, not {server!r}; pages to serve go in site=")
    given = server if server is not None else site
    if given is None:
        return None
    if isinstance(given, SiteServer):
        try:
            given.port
        except RuntimeError:  # not started: this call owns its lifetime
            return _site_server_target(given.start(), True)
        return _site_server_target(given, False)
    if callable(getattr(given, "url_for", None)):  # pytest-httpserver's HTTPServer, or the like
        owned = False
        if callable(getattr(given, "is_running", None)) and not given.is_running():
            given.start()
            owned = True

        def logged():
            log = getattr(given, "log", None) or []  # read anew: clear_log() replaces the list
            return [(request.method, _logged_path(request)) for request, _ in log]

        base = given.url_for("/")
        return _Target(given, base[:-1] if base.endswith("/") else base, given.url_for, logged,
                       given.stop if owned else None)
    if _is_url(given):  # nothing of ours sees the requests
        base = given.rstrip("/")
        return _Target(None, base, lambda path: base + "/" + path.lstrip("/"), list)
    return _site_server_target(SiteServer(site).start(), True)


def crawl_site(spider, site=None, *, server=None, start="/", output=None, **settings) -> CrawlResult:
    """Serve ``site`` on 127.0.0.1 (or use ``server``), crawl it with ``spider``, and return a
    :class:`CrawlResult`.

    :param spider: a Spider subclass defined at module level, a ``mod:Class`` or
        ``file.py:Class`` reference, or None for the built-in site spider.
    :param site: a dict path -> page (see :class:`~scrapepool.testing.testserver.SiteServer`),
        a directory, or a SiteServer already started (it is left running, so a test can
        crawl it twice; ``requests`` then holds only this crawl's requests); or None: no
        server of the plugin's (a server of another kind, or none listening), ``start``
        holds absolute URLs, and the result's ``server`` is None, ``url`` "" and
        ``requests`` empty. (A server, as for ``server``, is taken here too.)
    :param server: instead of ``site``, a server running already: pytest-httpserver's
        ``HTTPServer`` (the ``httpserver`` fixture; any object with ``url_for(path)``, and
        ``log`` for ``requests``; one not started is started and stopped here), a SiteServer,
        or a base URL ``"http://host:port"`` (``requests`` then empty). ``start`` paths are
        joined to it.
    :param start: the seed path (or a list of them), or absolute URLs.
    :param output: a ``.jsonl`` path to keep the output; default: a temporary file,
        removed after the records are read.
    :param settings: crawl settings; ``workers=1``, ``robots=False`` and
        ``progress=False`` unless given.
    """
    import scrapepool

    if output is not None and not str(output).endswith(".jsonl"):
        raise ValueError(f"crawl_site writes JSON lines: output must end in .jsonl, not {output!r}")
    starts = [start] if isinstance(start, str) else list(start)
    if site is None and server is None and any("://" not in s for s in starts):
        raise ValueError(f"crawl_site without a site needs absolute start URLs, not {start!r}")
    target = _target(site, server)
    first = len(target.requests()) if target is not None else 0
    seeds = [s if "://" in s else target.url_for(s) for s in starts]
    tmpdir = None
    if output is None:
        tmpdir = tempfile.mkdtemp(prefix="scrapepool-test-")
        output = os.path.join(tmpdir, "out.jsonl")
    options = dict(DEFAULTS)
    options.update(settings)
    try:
        stats = scrapepool.crawl(_spider_for_fetchers(spider), seeds=seeds, output=str(output), **options)
        records = _read_jsonl(output) if os.path.exists(output) else []
    finally:
        if target is not None and target.stop is not None:
            target.stop()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    made = target.requests()[first:] if target is not None else []  # a slice is atomic under the GIL
    return CrawlResult(records, stats, target.server if target is not None else None,
                       target.url if target is not None else "", made, None if tmpdir else Path(output))


@pytest.fixture
def site_server():
    """Factory: ``site_server(site_dict_or_dir)`` -> a started SiteServer, stopped after the test."""
    from scrapepool.testing.testserver import SiteServer

    started = []

    def start(site):
        server = SiteServer(site).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _marked_settings(node):
    """The settings of the ``crawl_settings`` markers on ``node``: module, class, then test."""
    settings = {}
    for mark in reversed(list(node.iter_markers("crawl_settings"))):  # closest last: it wins
        if mark.args:
            raise TypeError("crawl_settings takes settings by name only, as crawl_site does")
        settings.update(mark.kwargs)
    return settings


@pytest.fixture
def crawl_spider(request, tmp_path):
    """``crawl_spider(SpiderClass, site={...} or "dir" or a SiteServer or None, start="/", **settings)``
    or ``crawl_spider(SpiderClass, server=httpserver or "http://host:port", ...)``
    -> :class:`CrawlResult`. Each call writes its output under the test's ``tmp_path``; the
    site's server keeps running (``result.server.url``...) until the end of the test.
    Settings of ``@pytest.mark.crawl_settings(...)`` markers apply unless the call gives its own."""
    from scrapepool.testing.testserver import SiteServer

    started = []
    calls = itertools.count(1)
    marked = _marked_settings(request.node)

    def run(spider, site=None, start="/", *, server=None, **settings):
        if site is not None and server is None and not _is_server(site):
            site = SiteServer(site).start()
            started.append(site)
        settings = {**marked, **settings}
        settings.setdefault("output", tmp_path / f"crawl-{next(calls)}.jsonl")
        return crawl_site(spider, site, server=server, start=start, **settings)

    yield run
    for server in started:
        server.stop()
