"""The frontier: which requests are admitted, in what order, and when each host may be asked.

Main process only. Admission runs colly's checks in order, cheapest first:
seen, depth, page limit, domain. Pending requests wait in an in-memory heap
of at most ``memory_cap`` entries, ordered by (priority, admission order), so
the crawl is breadth-first. Beyond the cap, newly admitted requests live only
in the job database and are read back in slices: memory stays flat however
large the crawl.

A URL's depth is its shortest link distance from a seed, although pages
finish out of order: a request at depth d could still be reached by a
shorter path through a page at depth d-2 or less that is not done yet, so it
is held back until none is left (one level of overlap keeps the pipeline
full), and a shorter path found meanwhile lowers its depth. Holding back
never stalls the crawl for long: when only held requests are left to hand
out for ``SETTLE_WAIT`` seconds, the straggler's level is given up on and
requests go as they are until that level is done. After a resume, depths
are those of the first path found (the requests on disk are not counted).

Politeness (``--delay``, robots.txt Crawl-delay, ``--concurrency-per-host``)
and robots.txt are applied per ``host:port`` when a request is handed out:
a request for a host that is not ready waits in that host's own queue, so a
slow host never holds up the others. A redirect's next hop comes back here
(``redirect``) and passes the same checks.
"""

import heapq
import json
import logging
import time
from collections import deque
from typing import NamedTuple

from protego import Protego

from ._messages import ROBOTS, Job
from .jobdb import JobDB
from .urls import canonical, fingerprint, host_key

logger = logging.getLogger("scrapepool")

#: Pending requests kept in memory; the rest wait in the job database.
MEMORY_CAP = 20000
#: Robots.txt bodies larger than this are cut (Google reads 500 KiB).
ROBOTS_MAX = 512 * 1024
#: Seconds requests held back for their depth may leave the fetchers without work (then a
#: page slower than this may leave a longer path's depth on the pages found behind it).
SETTLE_WAIT = 2.0


class Pending(NamedTuple):
    """A request waiting in the frontier (its req_id is the heap item's key)."""

    url: str
    method: str
    headers: "dict | None"
    body: "bytes | None"
    callback: "str | None"
    meta: "dict | None"
    depth: int
    attempt: int
    errback: "str | None"
    #: For a redirect hop: (URL first requested, URLs redirected to so far); None otherwise.
    hop: "tuple | None"
    dont_filter: bool


class _Host:
    __slots__ = ("waiting", "inflight", "next_time", "robots", "delay")

    def __init__(self, delay):
        self.waiting = deque()
        self.inflight = 0
        self.next_time = 0.0
        #: None: not asked yet; False: being fetched; else a Protego parser or True (allow all).
        self.robots = None
        self.delay = delay


class Frontier:
    """Admission, pending order and per-host scheduling, with write-ahead to the job DB.

    The local implementation of :class:`~scrapepool.frontier_protocol.FrontierAPI`."""

    def __init__(self, db: JobDB, settings, domains, memory_cap=None):
        self.db = db
        self.settings = settings
        self.domains = domains
        self.memory_cap = memory_cap or MEMORY_CAP
        self.seen = set()
        self.next_id = 1
        #: Page requests admitted, for --max-pages.
        self.admitted = 0
        self.heap = []
        #: Pending requests that are only in the job DB: those with req_id > ``disk_cursor``.
        self.on_disk = 0
        self.disk_cursor = None
        self.hosts = {}
        self.waiting = 0
        self.robots_id = 0
        self.robots_refused = 0
        #: Redirect hops robots.txt forbids, as Jobs, for the engine to end with an error record.
        self.refused_hops = []
        self.polite = bool(settings.delay or settings.concurrency_per_host or settings.robots)
        # write-ahead buffers, flushed in one transaction
        self.inserts, self.outcomes, self.attempts, self.refused = [], [], [], []
        self.kv_pending = {}
        #: Every req_id up to this one is in the job DB.
        self.durable_upto = 0
        # Shortest depths (see the module docstring). Off after a resume: the depths of the
        # requests waiting on disk are not counted.
        self.by_depth = True
        #: depth -> page requests admitted at that depth and not done (no zero counts).
        self.levels = {}
        #: req_id -> depth of the requests whose depth is settled and that are not done yet.
        self.settled = {}
        #: Heap items held back until their depth is settled, and the lowest level at the last look.
        self.held = []
        self.held_low = None
        #: Since when only held requests are left to hand out (None: not so), and the level
        #: whose stragglers no request waits for any more.
        self.starved_since = None
        self.given_up = None
        #: fp -> [req_id, depth] and req_id -> fp of the requests waiting in memory, unsettled.
        self.unsettled_fp = {}
        self.unsettled_ids = {}

    # -- resume -----------------------------------------------------------------------------
    def resume(self):
        """Reload the seen set and the counters; pending requests are read back from disk."""
        self.db.reset_unfinished()
        self.seen, todo, top, count = self.db.resume_state()
        self.next_id = top + 1
        self.durable_upto = top
        self.admitted = count
        self.on_disk = todo
        self.disk_cursor = 0 if todo else None
        self.by_depth = False
        return todo

    # -- admission -------------------------------------------------------------------------
    def admit(self, fp, url, method="GET", headers=None, body=None, callback=None, meta=None,
              priority=0, dont_filter=False, errback=None, depth=0):
        """Admit a request if it passes every check; returns its req_id, or None."""
        if not dont_filter and fp in self.seen:
            if self.by_depth:
                self._shorter(fp, depth)
            return None
        s = self.settings
        if s.max_depth is not None and depth > s.max_depth:
            return None  # not marked seen: a shorter path may still reach it
        if s.max_pages is not None and self.admitted >= s.max_pages:
            return None
        if not self.domains.allows(url):
            return None
        if not dont_filter:
            self.seen.add(fp)
        req_id = self.next_id
        self.next_id += 1
        self.admitted += 1
        self.inserts.append((req_id, None if dont_filter else fp, url, method,
                             json.dumps(headers) if headers else None, body, callback, errback,
                             json.dumps(meta) if meta else None, depth, priority))
        if self.by_depth:
            self._count(depth, 1)
        if self.disk_cursor is not None or len(self.heap) >= self.memory_cap:
            if self.disk_cursor is None:
                self.disk_cursor = req_id - 1
            self.on_disk += 1
        else:
            heapq.heappush(self.heap, (-priority, req_id, Pending(
                url, method, headers, body, callback, meta, depth, 0, errback, None, dont_filter)))
            if self.by_depth and not dont_filter:
                self._track(fp, req_id, depth)
        return req_id

    def mark_seen(self, fp):
        self.seen.add(fp)

    def is_seen(self, fp):
        return fp in self.seen

    def take_refused_hops(self):
        hops, self.refused_hops = self.refused_hops, []
        return hops

    def keep(self, key, value):
        self.kv_pending[key] = value

    def requeue(self, job, attempt):
        """A request whose fetcher died goes back, ahead of newer requests."""
        if attempt:
            self.attempts.append((attempt, job.req_id))
        hop = (job.origin, job.hops) if job.hops else None
        self._push_ahead(job, job.url, job.method, job.body, attempt, hop)

    def redirect(self, job, url, method, body, headers):
        """The next hop of a redirect: the same request (its req_id, no new admission, no page
        counted), ahead of newer requests, through robots.txt and the host's delay like any.
        ``headers`` are the hop's own (downloader.redirect_request: credentials and body
        headers may have gone); a requeued hop keeps them, as they are its job's."""
        self._push_ahead(job._replace(headers=headers), url, method, body, job.attempt,
                         (job.origin or job.url, job.hops + (url,)))

    def _push_ahead(self, job, url, method, body, attempt, hop):
        heapq.heappush(self.heap, (-1 << 30, job.req_id, Pending(
            url, method, job.headers, body, job.callback, job.meta, job.depth, attempt, job.errback, hop,
            job.dont_filter)))

    def record_outcome(self, req_id):
        self.outcomes.append(req_id)
        self._done(req_id)

    # -- shortest depths --------------------------------------------------------------------
    def _count(self, depth, n):
        left = self.levels.get(depth, 0) + n
        if left > 0:
            self.levels[depth] = left
        else:
            self.levels.pop(depth, None)

    def _track(self, fp, req_id, depth):
        self.unsettled_fp[fp] = [req_id, depth]
        self.unsettled_ids[req_id] = fp

    def _shorter(self, fp, depth):
        """A request seen before is linked again at ``depth``: lower its depth if it is not settled."""
        known = self.unsettled_fp.get(fp)
        if known is not None and depth < known[1]:
            self._count(known[1], -1)
            self._count(depth, 1)
            known[1] = depth

    def _depth(self, req_id, entry):
        fp = self.unsettled_ids.get(req_id)
        return entry.depth if fp is None else self.unsettled_fp[fp][1]

    def _settle(self, req_id, entry):
        """``entry`` with its final depth, or None while a shorter path to it may still turn up.

        A request at depth d can be found at a shorter depth only through a page at depth
        d-2 or less that is not done (children are admitted before their parent is done).
        """
        depth = self._depth(req_id, entry)
        if self.levels:
            low = min(self.levels)
            if depth > low + 1 and low != self.given_up:
                return None
        fp = self.unsettled_ids.pop(req_id, None)
        if fp is not None:
            del self.unsettled_fp[fp]
        self.settled[req_id] = depth
        return entry if depth == entry.depth else entry._replace(depth=depth)

    def _done(self, req_id):
        """A settled request has its outcome (or was refused): held ones may be released."""
        depth = self.settled.pop(req_id, None)
        if depth is None or not self.by_depth:
            return
        self._count(depth, -1)
        low = min(self.levels, default=None)
        if self.held and low != self.held_low:
            self.held_low = low
            self._release(lambda item: low is None or self._depth(item[1], item[2]) <= low + 1)

    def _starving(self, now):
        """Only held requests are left: release them if nothing can shorten them, or after a while."""
        if self.starved_since is None:
            self.starved_since = now
        if not self.settled or now - self.starved_since >= SETTLE_WAIT:
            self.given_up = min(self.levels, default=None)
            logger.debug("depth: not waiting any longer for the pages of depth %s", self.given_up)
            self._release(lambda item: True)

    def _release(self, ready):
        keep = []
        for item in self.held:
            if ready(item):
                heapq.heappush(self.heap, item)
            else:
                keep.append(item)
        self.held = keep

    # -- handing out ------------------------------------------------------------------------
    @property
    def pending(self):
        """Requests admitted and not yet handed out (memory, disk, held back and host queues)."""
        return len(self.heap) + self.on_disk + self.waiting + len(self.held)

    def _refill(self):
        if self.disk_cursor is None or len(self.heap) > self.memory_cap // 4:
            return
        # Held requests count against the cap while others are under way: their release comes.
        if len(self.heap) + len(self.held) > self.memory_cap // 4 and self.settled:
            return
        self.flush()
        want = self.memory_cap // 2
        rows = self.db.load_pending(self.disk_cursor, want)
        for (req_id, url, method, headers, body, callback, errback, meta, depth, priority,
             attempts, dont_filter) in rows:
            heapq.heappush(self.heap, (-priority, req_id, Pending(
                url, method, json.loads(headers) if headers else None, body, callback,
                json.loads(meta) if meta else {}, depth, attempts, errback, None, bool(dont_filter))))
            if self.by_depth and req_id not in self.settled:
                self._track(fingerprint(canonical(url), method, body), req_id, depth)
            self.disk_cursor = req_id
        self.on_disk = max(0, self.on_disk - len(rows))
        if len(rows) < want:
            self.disk_cursor = None
            self.on_disk = 0

    def next_job(self, now):
        """The next Job to dispatch now, or None."""
        if self.polite:
            for host, hs in self.hosts.items():
                if hs.waiting and self._host_ready(hs, now):
                    job = self._take_waiting(host, hs, now)
                    if job is not None:
                        return job
        while True:
            if not self.heap:
                self._refill()
                if not self.heap and self.held and not self.waiting:
                    self._starving(now)
                if not self.heap:
                    return None
            self.starved_since = None
            item = heapq.heappop(self.heap)
            _, req_id, entry = item
            if self.by_depth and entry.hop is None:  # a redirect hop is settled already
                entry = self._settle(req_id, entry)
                if entry is None:
                    self.held.append(item)
                    continue
            if not self.polite:
                return self._job(req_id, entry, now)
            host = host_key(entry.url)
            hs = self.hosts.get(host)
            if hs is None:
                hs = self.hosts[host] = _Host(self.settings.delay)
            if hs.robots is None:
                if self.settings.robots:
                    hs.waiting.append((req_id, entry))
                    self.waiting += 1
                    hs.robots = False
                    return self._robots_job(entry.url, now)
                hs.robots = True
            if not hs.waiting and self._host_ready(hs, now):
                job = self._check_robots(host, hs, req_id, entry, now)
                if job is not None:
                    return job
                continue
            hs.waiting.append((req_id, entry))
            self.waiting += 1

    def _host_ready(self, hs, now):
        if hs.robots is None or hs.robots is False:
            return False
        limit = self.settings.concurrency_per_host
        if hs.delay > 0:
            limit = 1
        if limit and hs.inflight >= limit:
            return False
        return now >= hs.next_time - 0.05

    def _take_waiting(self, host, hs, now):
        while hs.waiting:
            req_id, entry = hs.waiting.popleft()
            self.waiting -= 1
            job = self._check_robots(host, hs, req_id, entry, now)
            if job is not None:
                return job
        return None

    def _check_robots(self, host, hs, req_id, entry, now):
        parser = hs.robots
        if parser is not True and not parser.can_fetch(entry.url, self.settings.user_agent):
            self.robots_refused += 1
            logger.debug("forbidden by robots.txt: %s", entry.url)
            if entry.hop is not None:
                # A redirect into a forbidden URL: the request was made, its record says why
                # it ends here (the engine writes it and records the outcome).
                self.refused_hops.append(self._job(req_id, entry, now))
                return None
            self.refused.append(req_id)
            self._done(req_id)
            return None
        hs.inflight += 1
        return self._job(req_id, entry, max(now, hs.next_time))

    def _job(self, req_id, entry, not_before):
        e = entry
        job = Job(req_id, e.url, e.method, e.headers, e.body, e.callback, e.meta or {}, e.depth, e.attempt,
                  e.errback, not_before, dont_filter=e.dont_filter)
        return job if e.hop is None else job._replace(origin=e.hop[0], hops=e.hop[1])

    def _robots_job(self, url, now):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.robots_id -= 1
        return Job(self.robots_id, f"{parts.scheme}://{parts.netloc}/robots.txt", "GET", None, None,
                   None, {}, 0, 0, None, now, ROBOTS)

    # -- outcomes --------------------------------------------------------------------------
    def host_done(self, url, started):
        """A request to ``url`` has its outcome: free the host's slot, start its delay."""
        if not self.polite:
            return
        hs = self.hosts.get(host_key(url))
        if hs is None:
            return
        hs.inflight = max(0, hs.inflight - 1)
        if hs.delay > 0:
            hs.next_time = max(hs.next_time, (started or time.time()) + hs.delay)

    def robots_arrived(self, url, status, text):
        """Scrapy's rules: a robots.txt that is missing (4xx), broken (5xx) or unreachable allows all."""
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
        if crawl_delay and crawl_delay > hs.delay:
            hs.delay = float(crawl_delay)

    def robots_lost(self, url):
        """The robots.txt job died with its fetcher: ask again."""
        hs = self.hosts.get(host_key(url))
        if hs is not None and hs.robots is False:
            hs.robots = None
            if hs.waiting:
                req_id, entry = hs.waiting.popleft()
                self.waiting -= 1
                heapq.heappush(self.heap, (-1 << 30, req_id, entry))

    def next_due(self, now):
        """Seconds until a waiting host becomes ready (None: no host is waiting on time)."""
        due = None
        for hs in self.hosts.values():
            if hs.waiting and hs.next_time > now and hs.robots not in (None, False):
                wait = hs.next_time - now
                due = wait if due is None else min(due, wait)
        return due

    # -- write-ahead -----------------------------------------------------------------------
    def flush(self, kv=None):
        """Write the buffered changes in one transaction, with ``kv`` and :attr:`kv_pending`.

        ``kv_pending`` holds state that must become durable together with the
        outcomes that caused it (the cookie jars a login response changed).
        """
        if self.kv_pending:
            kv = {**self.kv_pending, **(kv or {})}
            self.kv_pending = {}
        if not (self.inserts or self.outcomes or self.attempts or self.refused or kv):
            return
        self.db.write(self.inserts, self.outcomes, self.attempts, self.refused, kv or {})
        self.inserts, self.outcomes, self.attempts, self.refused = [], [], [], []
        self.durable_upto = self.next_id - 1

    def make_durable(self, req_id):
        """Write ahead before a request leaves this process.

        The writer may commit a request's records at once; if its row were not in
        the job DB by then, a crash would leave committed records of a request
        that a resume does not know, and the page would be fetched and written
        again under a new id. So a job is dispatched only once its row is durable.
        """
        if req_id > self.durable_upto:
            self.flush()
