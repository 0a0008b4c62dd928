"""Spiders and a meta value for the lost-request tests (tests/test_lost_*.py).

At module level: fetcher processes import them as ``tests.lost_spiders``.

A fetcher sends Claimed right after it takes a job from the queue (net/fetcher.py,
``Fetcher.run``); the only code that runs in between is the job's unpickling
(``JobQueue.take``), and so the unpickling of its ``meta`` values. ``DiesOnce`` is a
string meta value whose unpickling in a fetcher kills that process with SIGKILL (as the
OOM killer would) the first time: the job has left the queue and its Claimed never leaves
the process. Any later unpickling gives back a plain ``str``.
"""

import multiprocessing
import os
import signal

from scrapepool import Request, Spider


class DiesOnce(str):
    """A str meta value that kills the first fetcher that unpickles it.

    :param marker: a file path, created (exclusively: once across processes) by the fetcher
        that dies, with its pid in it.
    :param gate: None, or the path of a FIFO: the fetcher, job taken and not claimed, opens
        it and waits for one byte before it dies, so a test decides the moment.
    """

    def __new__(cls, value, marker, gate=None):
        obj = super().__new__(cls, value)
        obj.marker = marker
        obj.gate = gate
        return obj

    def __reduce__(self):
        return (_revive, (str(self), self.marker, self.gate))


def _revive(value, marker, gate):
    if not multiprocessing.current_process().name.startswith("scrapepool-fetcher"):
        return DiesOnce(value, marker, gate)  # the coordinator: keep it as it is
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return value  # it killed a fetcher already: a plain string from now on
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    if gate is not None:
        with open(gate, "rb") as f:  # blocks until the test opens the FIFO to write
            f.read(1)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("not reached")


class LosesAJobBeforeItsClaim(Spider):
    """Start requests ``paths`` under ``base``, in order; the first carries a DiesOnce meta value.

    Spider kwargs: ``base`` (the site's URL), ``paths``, ``marker`` and ``gate`` (see DiesOnce).
    One record per page: its path and its meta ``tag``.
    """

    base = "http://127.0.0.1:9"
    paths = ("/a",)
    marker = None
    gate = None

    def start_requests(self):
        first, *rest = self.paths
        yield Request(self.base + first, meta={"tag": DiesOnce(first, self.marker, self.gate)})
        for path in rest:
            yield Request(self.base + path, meta={"tag": path})

    def parse(self, response):
        yield {"path": response.url[len(self.base):], "tag": response.meta.get("tag")}


class RecordsPages(Spider):
    """One record per page (its URL); follows every link."""

    def parse(self, response):
        yield {"url": response.url}
        for a in response.select("a[href]"):
            yield response.follow(a)
