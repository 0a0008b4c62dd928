"""The frontier: which requests are admitted, in what order, and when each host may be asked.

Main process only; the local implementation of
:class:`~scrapepool.core.frontier_protocol.FrontierAPI`. Admission is here and runs
colly's checks in order, cheapest first: seen, depth, page limit, domain. The rest
is three pieces, one module each:

- pending.py, ``PendingStore``: the heap of pending requests, spilling to the job DB
  past ``MEMORY_CAP``, and the write-ahead buffer;
- depth.py, ``DepthKeeper``: exact shortest depths (a request waits while a shorter
  path to it may still turn up);
- hosts.py, ``HostGate``: per-host politeness and robots.txt; a redirect's next hop
  comes back here (``redirect``) and passes the same checks.
"""

import logging

from .._messages import Job
from ..output.jobdb import JobDB
from ..urls import canonical, fingerprint
from .depth import SETTLE_WAIT, DepthKeeper
from .hosts import ROBOTS_MAX, HostGate
from .pending import MEMORY_CAP, Pending, PendingStore

logger = logging.getLogger("scrapepool")

__all__ = ["Frontier", "Pending", "MEMORY_CAP", "ROBOTS_MAX", "SETTLE_WAIT"]


class Frontier:
    """Admission, pending order and per-host scheduling, with write-ahead to the job DB."""

    def __init__(self, db: JobDB, settings, domains, memory_cap=None):
        self.db = db
        self.settings = settings
        self.domains = domains
        self.seen = set()
        self.next_id = 1
        #: Page requests admitted, for --max-pages.
        self.admitted = 0
        self.store = PendingStore(db, memory_cap)
        self.depth = DepthKeeper()
        self.hosts = HostGate(settings, _job, self._refused)
        self.polite = bool(settings.delay or settings.concurrency_per_host or settings.robots
                           or settings.autothrottle)

    # -- resume -----------------------------------------------------------------------------
    def resume(self):
        """Reload the seen set and the counters; pending requests are read back from disk."""
        self.db.reset_unfinished()
        self.seen, todo, top, count = self.db.resume_state()
        self.next_id = top + 1
        self.admitted = count
        self.store.resume(top, todo)
        self.depth.disable()
        return todo

    # -- admission -------------------------------------------------------------------------
    def admit(self, fp, url, method="GET", headers=None, body=None, callback=None, meta=None,
              priority=0, dont_filter=False, errback=None, depth=0):
        """Admit a request if it passes every check; returns its req_id, or None."""
        if not dont_filter and fp in self.seen:
            self.depth.seen_again(fp, depth)
            return None
        s = self.settings
        if s.max_depth is not None and depth > s.max_depth:
            return None  # not marked seen: a shorter path may still reach it
        if s.max_pages is not None and self.admitted >= s.max_pages:
            return None
        if not self.domains.allows(url):
            return None
        if dont_filter:
            fp = None
        else:
            self.seen.add(fp)
        req_id = self.next_id
        self.next_id += 1
        self.admitted += 1
        entry = Pending(url, method, headers, body, callback, meta, depth, 0, errback, None, dont_filter)
        in_memory = self.store.add(req_id, fp, entry, priority)
        self.depth.admitted(fp, req_id, depth, in_memory)
        return req_id

    def mark_seen(self, fp):
        self.seen.add(fp)

    def is_seen(self, fp):
        return fp in self.seen

    # -- back in ------------------------------------------------------------------------------
    def requeue(self, job, attempt):
        """A request whose fetcher died goes back, ahead of newer requests."""
        if attempt:
            self.store.attempts.append((attempt, job.req_id))
        hop = (job.origin, job.hops) if job.hops else None
        self.store.push_ahead(job.req_id, _pending(job, job.url, job.method, job.body, attempt, hop))

    def redirect(self, job, url, method, body, headers):
        """The next hop of a redirect: the same request (its req_id, no new admission, no page
        counted), ahead of newer requests, through robots.txt and the host's delay like any.
        ``headers`` are the hop's own (downloader.redirect_request: credentials and body
        headers may have gone); a requeued hop keeps them, as they are its job's."""
        hop = (job.origin or job.url, job.hops + (url,))
        self.store.push_ahead(job.req_id, _pending(job._replace(headers=headers), url, method, body,
                                                   job.attempt, hop))

    # -- handing out ------------------------------------------------------------------------
    @property
    def pending(self):
        """Requests admitted and not yet handed out (memory, disk, held back and host queues)."""
        return len(self.store) + self.hosts.waiting + len(self.depth.held)

    @property
    def robots_refused(self):
        return self.hosts.robots_refused

    def next_job(self, now):
        """The next Job to dispatch now, or None."""
        if self.polite:
            job = self.hosts.from_waiting(now)
            if job is not None:
                return job
        store = self.store
        while True:
            if not store.heap:
                self._refill()
                if not store.heap and self.depth.held and not self.hosts.waiting:
                    self._push_all(self.depth.starving(now))
                if not store.heap:
                    return None
            item = store.pop()
            entry = self.depth.settle(item)
            if entry is None:
                continue  # held back for its depth
            req_id = item[1]
            if not self.polite:
                return _job(req_id, entry, now)
            job = self.hosts.route(req_id, entry, now)
            if job is not None:
                return job

    def next_due(self, now):
        """Seconds until a waiting host becomes ready (None: no host is waiting on time)."""
        return self.hosts.next_due(now)

    def take_refused_hops(self):
        """Redirect hops robots.txt forbids, as Jobs, for the engine to end with an error record."""
        return self.hosts.take_refused_hops()

    # -- outcomes --------------------------------------------------------------------------
    def record_outcome(self, req_id):
        self.store.outcomes.append(req_id)
        self._push_all(self.depth.done(req_id))

    def host_done(self, url, started, latency=None, status=None):
        """A request to ``url`` has its outcome: free the host's slot, start its delay."""
        if self.polite:
            self.hosts.host_done(url, started, latency, status)

    def robots_arrived(self, url, status, text):
        """Scrapy's rules: a robots.txt that is missing (4xx), broken (5xx) or unreachable allows all."""
        self.hosts.robots_arrived(url, status, text)

    def robots_lost(self, url):
        """The robots.txt job died with its fetcher: ask again."""
        parked = self.hosts.robots_lost(url)
        if parked is not None:
            self.store.push_ahead(*parked)

    # -- cookies ---------------------------------------------------------------------------
    def cookies_changed(self, jar, changes, jars):
        """The jars are saved whole with the outcome's transaction (one process owns them)."""
        self.keep("cookies", jars.to_json())

    def shared_jars(self):
        return None

    # -- write-ahead -----------------------------------------------------------------------
    def keep(self, key, value):
        """State that must become durable with the outcomes that changed it (cookie jars)."""
        self.store.kv_pending[key] = value

    def flush(self, kv=None):
        """Write the buffered changes in one transaction, with ``kv``."""
        self.store.flush(kv)

    def output_end(self, local):
        return local

    def make_durable(self, req_id):
        """Write ahead before a request leaves this process (see PendingStore.make_durable)."""
        self.store.make_durable(req_id)

    # -- inside ---------------------------------------------------------------------------
    def _refill(self):
        read = self.store.refill(len(self.depth.held), self.depth.any_settled)
        if self.depth.enabled:
            for req_id, entry in read:
                self.depth.track(fingerprint(canonical(entry.url), entry.method, entry.body), req_id,
                                 entry.depth)

    def _refused(self, req_id):
        """robots.txt forbids this request: the refusal is written ahead, its level may settle."""
        self.store.refused.append(req_id)
        self._push_all(self.depth.done(req_id))

    def _push_all(self, items):
        for item in items:
            self.store.push(item)


def _pending(job, url, method, body, attempt, hop):
    return Pending(url, method, job.headers, body, job.callback, job.meta, job.depth, attempt, job.errback,
                   hop, job.dont_filter)


def _job(req_id, entry, not_before):
    e = entry
    job = Job(req_id, e.url, e.method, e.headers, e.body, e.callback, e.meta or {}, e.depth, e.attempt,
              e.errback, not_before, dont_filter=e.dont_filter)
    return job if e.hop is None else job._replace(origin=e.hop[0], hops=e.hop[1])
