"""Per-host politeness and robots.txt: when each host may be asked, and what.

Applied per ``host:port`` when a request is handed out: ``--delay`` (or a larger
robots.txt Crawl-delay) between two requests to a host, at most
``--concurrency-per-host`` in flight, and robots.txt, fetched once per host before
its first request. A request for a host that is not ready waits in that host's own
queue, so a slow host never holds up the others. Scrapy's rules for robots.txt: one
that is missing (4xx), broken (5xx) or unreachable allows everything.

``--autothrottle`` adapts each host's delay to its latency with Scrapy's AutoThrottle rule
(scrapy/extensions/throttle.py): the delay moves halfway to ``latency / target
concurrency`` after each response, never below that target nor below ``--delay`` (or the
Crawl-delay) nor above the max delay, and an error response never shortens it (a server
that answers errors fast must not be asked faster).
"""

import logging
import time
from collections import deque
from urllib.parse import urlsplit

from protego import Protego

from .._messages import ROBOTS, Job
from ..urls import host_key

logger = logging.getLogger("scrapepool")

__all__ = ["HostGate", "ROBOTS_MAX"]

#: Robots.txt bodies larger than this are cut (Google reads 500 KiB).
ROBOTS_MAX = 512 * 1024


class _Host:
    __slots__ = ("waiting", "inflight", "next_time", "robots", "delay", "min_delay")

    def __init__(self, delay):
        #: (req_id, Pending) of the requests parked for this host, in order.
        self.waiting = deque()
        self.inflight = 0
        #: Wall time before which the host must not be asked again.
        self.next_time = 0.0
        #: None: not asked yet; False: being fetched; else a Protego parser or True (allow all).
        self.robots = None
        self.delay = delay
        #: --delay, or the Crawl-delay: the least AutoThrottle may bring the delay down to.
        self.min_delay = delay


class HostGate:
    """Decides, for a request popped from the frontier's heap, whether it goes now.

    :param make_job: ``(req_id, entry, not_before) -> Job``.
    :param refuse: called with the req_id of a request robots.txt forbids (not a redirect
        hop: those are kept for ``take_refused_hops``).
    """

    def __init__(self, settings, make_job, refuse):
        self.settings = settings
        self.make_job = make_job
        self.refuse = refuse
        self.hosts = {}
        #: Requests parked in host queues.
        self.waiting = 0
        self.robots_id = 0
        self.robots_refused = 0
        #: Redirect hops robots.txt forbids, as Jobs, for the engine to end with an error record.
        self.refused_hops = []

    def from_waiting(self, now):
        """A parked request whose host is ready now, or None."""
        for hs in self.hosts.values():
            if hs.waiting and self._ready(hs, now):
                job = self._take_waiting(hs, now)
                if job is not None:
                    return job
        return None

    def route(self, req_id, entry, now):
        """The Job to send now (the host's robots.txt first, if it is not known yet), or None:
        the request is parked for its host, or refused by robots.txt."""
        host = host_key(entry.url)
        hs = self.hosts.get(host)
        if hs is None:
            s = self.settings
            hs = self.hosts[host] = _Host(s.delay)
            if s.autothrottle:
                hs.delay = max(s.delay, s.autothrottle_start_delay)
        if hs.robots is None:
            if self.settings.robots:
                self._park(hs, req_id, entry)
                hs.robots = False
                return self._robots_job(entry.url, now)
            hs.robots = True
        if not hs.waiting and self._ready(hs, now):
            return self._check_robots(hs, req_id, entry, now)
        self._park(hs, req_id, entry)
        return None

    def host_done(self, url, started, latency=None, status=None):
        """A request to ``url`` has its outcome: free the host's slot, start its delay
        (with AutoThrottle, first adapted to ``latency``, the download's seconds)."""
        hs = self.hosts.get(host_key(url))
        if hs is None:
            return
        hs.inflight = max(0, hs.inflight - 1)
        if self.settings.autothrottle and latency is not None:
            self._throttle(hs, latency, status)
        if hs.delay > 0:
            hs.next_time = max(hs.next_time, (started or time.time()) + hs.delay)

    def _throttle(self, hs, latency, status):
        s = self.settings
        target = latency / s.autothrottle_target_concurrency
        delay = max(target, (hs.delay + target) / 2.0)
        delay = min(max(hs.min_delay, delay), s.autothrottle_max_delay)
        if status != 200 and delay <= hs.delay:
            return  # an error answered fast says nothing about how fast the host may be asked
        hs.delay = delay

    def robots_arrived(self, url, status, text):
        """robots.txt of ``url``'s host: its text, or None (missing, broken: allow all)."""
        hs = self.hosts.get(host_key(url))
        if hs is None:
            return
        if text is None:
            hs.robots = True
            if status is None or status >= 500:
                logger.info("robots.txt of %s could not be read (%s): allowing everything", host_key(url),
                            status or "unreachable")
            return
        parser = Protego.parse(text[:ROBOTS_MAX])
        hs.robots = parser
        crawl_delay = parser.crawl_delay(self.settings.user_agent)
        if crawl_delay and crawl_delay > hs.min_delay:
            hs.min_delay = float(crawl_delay)
            hs.delay = max(hs.delay, hs.min_delay)

    def robots_lost(self, url):
        """The robots.txt job died with its fetcher: the host asks again. Returns the first
        parked (req_id, entry), which goes back to the heap to trigger it, or None."""
        hs = self.hosts.get(host_key(url))
        if hs is not None and hs.robots is False:
            hs.robots = None
            if hs.waiting:
                self.waiting -= 1
                return hs.waiting.popleft()
        return None

    def next_due(self, now):
        """Seconds until a waiting host becomes ready (None: no host is waiting on time)."""
        due = None
        for hs in self.hosts.values():
            if hs.waiting and hs.next_time > now and hs.robots not in (None, False):
                wait = hs.next_time - now
                due = wait if due is None else min(due, wait)
        return due

    def take_refused_hops(self):
        hops, self.refused_hops = self.refused_hops, []
        return hops

    # -- inside ---------------------------------------------------------------------------
    def _park(self, hs, req_id, entry):
        hs.waiting.append((req_id, entry))
        self.waiting += 1

    def _ready(self, hs, now):
        if hs.robots is None or hs.robots is False:
            return False
        limit = self.settings.concurrency_per_host
        if hs.delay > 0:
            limit = 1
        if limit and hs.inflight >= limit:
            return False
        return now >= hs.next_time - 0.05

    def _take_waiting(self, hs, now):
        while hs.waiting:
            req_id, entry = hs.waiting.popleft()
            self.waiting -= 1
            job = self._check_robots(hs, req_id, entry, now)
            if job is not None:
                return job
        return None

    def _check_robots(self, hs, req_id, entry, now):
        parser = hs.robots
        if parser is not True and not (entry.meta or {}).get("dont_obey_robotstxt") \
                and not parser.can_fetch(entry.url, self.settings.user_agent):
            self.robots_refused += 1
            # A seed the user asked for is worth a warning; a link found on a page is not.
            (logger.warning if entry.depth == 0 else logger.debug)("forbidden by robots.txt: %s", entry.url)
            if entry.hop is not None:
                # A redirect into a forbidden URL: the request was made, its record says why
                # it ends here (the engine writes it and records the outcome).
                self.refused_hops.append(self.make_job(req_id, entry, now))
            else:
                self.refuse(req_id)
            return None
        hs.inflight += 1
        return self.make_job(req_id, entry, max(now, hs.next_time))

    def _robots_job(self, url, now):
        parts = urlsplit(url)
        self.robots_id -= 1
        return Job(self.robots_id, f"{parts.scheme}://{parts.netloc}/robots.txt", "GET", None, None,
                   None, {}, 0, 0, None, now, ROBOTS)
