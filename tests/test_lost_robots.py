"""A robots.txt whose fetch never comes back (engine.py ``_retry_lost``, hosts.py ``robots_lost``):
asked again after each loss, and after ``poison_limit`` losses the host is allowed, as Scrapy
does for an unreachable robots.txt (issue 13). Real engine, real local server.

The server, when a fetcher asks for /robots.txt, stops that process (SIGSTOP: hung, as a
fetcher stuck in a read would be). Its Claimed was sent before the download began, so the
coordinator's deadline (``_check_overdue``) finds it, kills the fetcher and counts a loss
against the host's robots.txt. The robots.txt served says ``Disallow: /``: had it ever
arrived, no page would be fetched.
"""

import contextlib
import logging

import psutil
import pytest
from conftest import load_jsonl

import scrapepool
from scrapepool.testing.testserver import Page

pytestmark = pytest.mark.timeout(60)


def process_of(client):
    """The child process of this one that holds the client end ``(ip, port)`` of a connection."""
    for child in psutil.Process().children(recursive=True):
        try:
            conns = child.net_connections(kind="tcp")
        except psutil.Error:
            continue
        if any(c.laddr and (c.laddr.ip, c.laddr.port) == tuple(client) for c in conns):
            return child
    return None


@pytest.mark.parametrize("poison_limit", [1, 2])
def test_a_robots_txt_fetch_that_hangs_poison_limit_times_allows_the_host(site_server, tmp_path, caplog,
                                                                          poison_limit):
    stopped = []

    def robots(info):
        proc = process_of(info.client)
        if proc is not None:
            proc.suspend()
            stopped.append(proc)
        return Page("User-agent: *\nDisallow: /\n", content_type="text/plain")

    server = site_server({"/robots.txt": robots, "/": '<a href="/p1">1</a><a href="/p2">2</a>',
                          "/p1": "<title>1</title>", "/p2": "<title>2</title>"})
    out = tmp_path / "out.jsonl"
    try:
        with caplog.at_level(logging.INFO, logger="scrapepool"):
            stats = scrapepool.crawl("tests.lost_spiders:RecordsPages", seeds=[server.url + "/"],
                                     output=str(out), overwrite=True, workers=1, concurrency=1,
                                     robots=True, progress=False, start_method="fork", timeout=0.5,
                                     retries=0, hang_margin=0.1, poison_limit=poison_limit)
    finally:
        for proc in stopped:  # the coordinator kills them; never leave one stopped
            with contextlib.suppress(psutil.Error):
                if proc.status() == psutil.STATUS_STOPPED:
                    proc.kill()
    assert len(stopped) == poison_limit and server.count("/robots.txt") == poison_limit
    assert stats["finish_reason"] == "finished"
    assert stats["fetcher_crashes"] == poison_limit  # each hung fetcher killed and replaced
    assert not any(proc.is_running() for proc in stopped)
    assert sorted(r["url"][len(server.url):] for r in load_jsonl(out)) == ["/", "/p1", "/p2"]
    assert stats["robots_refused"] == 0 and stats["pages"] == 3 and stats["errors"] == {}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("/robots.txt: no outcome after" in msg for msg in messages) == poison_limit
    host = server.url.split("//", 1)[1]
    assert f"robots.txt of {host} could not be read (unreachable): allowing everything" in messages
