"""A job taken from the queue by a fetcher that died before its Claimed left it (engine.py,
``_check_lost``): the subtlest exactly-once path (issue 13). Real engine, real local server.

The fetcher sends Claimed right after ``JobQueue.take`` returns; the only code in between is
the job's unpickling. tests/lost_spiders.py's ``DiesOnce`` meta value kills the fetcher
there (SIGKILL), so the coordinator holds a dispatched, unclaimed request that no live
process has: it must find it once every live fetcher has since reported the queue empty
(Idle), fetch it again, and write its record once.

The engine is run directly (as ``scrapepool.crawl`` does) for its ``on_progress`` hook,
called in the coordinator's loop every 0.1 s: the tests wait on what it sees, never on time.
"""

import errno
import logging
import os
import threading
import time

import pytest
from conftest import load_jsonl

from scrapepool.api import build_settings
from scrapepool.core.engine import LOST_GRACE, Engine
from scrapepool.spiders.loading import load_spider

pytestmark = pytest.mark.timeout(60)

SPIDER = "tests.lost_spiders:LosesAJobBeforeItsClaim"
#: Past this, a test's crawl is stopped (as by a second Ctrl-C) instead of hanging.
WATCHDOG = 20.0


def run_engine(spider, out, on_progress, **settings):
    options = {"workers": 1, "concurrency": 1, "robots": False, "progress": False,
               "overwrite_output": True, "start_method": "fork", "output": str(out)}
    options.update(settings)
    config = build_settings(load_spider(spider), options)
    with Engine(spider, (), config, on_progress=on_progress) as engine:
        return engine.run()


def watchdog(seconds=WATCHDOG):
    end = time.monotonic() + seconds

    def check(engine):
        if time.monotonic() > end:
            engine.signals.force = True
    return check


def dead_pid(marker):
    text = marker.read_text() if marker.exists() else ""
    return int(text) if text.strip().isdigit() else None


def test_a_job_lost_before_its_claim_is_requeued_and_written_exactly_once(site_server, tmp_path, caplog):
    """-w 1: the fetcher takes /a and dies unclaimed; its replacement takes /b, which the
    server answers only once the death is LOST_GRACE old, so the replacement's Idle comes
    after the grace; then /a is found lost, requeued, fetched by the replacement."""
    grace_passed = threading.Event()

    def b_page(info):
        grace_passed.wait(WATCHDOG)
        return "<title>b</title>"

    server = site_server({"/a": "<title>a</title>", "/b": b_page})
    marker, out = tmp_path / "died", tmp_path / "out.jsonl"
    guard = watchdog()

    def on_progress(engine):
        if engine.last_death is not None and time.monotonic() >= engine.last_death + LOST_GRACE:
            grace_passed.set()
        guard(engine)

    with caplog.at_level(logging.INFO, logger="scrapepool"):
        stats = run_engine(SPIDER, out, on_progress,
                           spider_kwargs={"base": server.url, "paths": ["/a", "/b"], "marker": str(marker)})
    pid = dead_pid(marker)
    assert pid is not None and pid != os.getpid()  # a fetcher died on /a's unpickling
    assert stats["finish_reason"] == "finished"
    assert stats["fetcher_crashes"] == 1
    records = load_jsonl(out)
    assert sorted(records, key=lambda r: r["path"]) == [{"path": "/a", "tag": "/a"},
                                                       {"path": "/b", "tag": "/b"}]
    assert server.count("/a") == 1 and server.count("/b") == 1  # the dead one never asked for /a
    assert stats["errors"] == {} and stats["pages"] == 2
    lost = [r.getMessage() for r in caplog.records if "lost with a dead fetcher" in r.getMessage()]
    assert lost == [f"request {server.url}/a was lost with a dead fetcher: requeued"]


def test_a_job_lost_while_another_fetcher_sits_idle_is_still_found(site_server, tmp_path):
    """-w 2: one fetcher takes the last job (/a) and waits, unclaimed, on a FIFO; once the other
    has reported the queue empty (Idle), the test lets it die. The idle one has nothing to
    take, so it reports nothing more: /a must still be found lost, fetched and written once."""
    server = site_server({"/a": "<title>a</title>"})
    marker, gate, out = tmp_path / "died", tmp_path / "gate", tmp_path / "out.jsonl"
    os.mkfifo(gate)
    guard = watchdog()
    state = {"released": None, "dead": None}

    def on_progress(engine):
        guard(engine)
        now = time.monotonic()
        if state["released"] is not None:
            if now > state["released"] + 4.0:  # LOST_GRACE is 0.5 s: long found by now
                engine.signals.force = True
            return
        pid = dead_pid(marker)
        others = [p for p in engine.supervisor.fetchers.values() if p.pid != pid]
        if pid is None or not others or not all(p.idle_at is not None for p in others):
            return
        try:
            fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:  # ENXIO: the fetcher has not opened it yet
            if exc.errno != errno.ENXIO:
                raise
            return
        os.write(fd, b"x")
        os.close(fd)
        state["released"], state["dead"] = now, pid

    stats = run_engine(SPIDER, out, on_progress, workers=2,
                       spider_kwargs={"base": server.url, "paths": ["/a"], "marker": str(marker),
                                      "gate": str(gate)})
    if state["dead"] is None or stats["fetcher_crashes"] != 1:
        pytest.fail(f"the scenario did not happen: {state}, {stats['fetcher_crashes']} deaths")
    assert stats["finish_reason"] == "finished"
    assert load_jsonl(out) == [{"path": "/a", "tag": "/a"}]
    assert server.count("/a") == 1
