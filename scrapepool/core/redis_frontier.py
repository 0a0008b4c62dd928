"""The Redis frontier: one crawl shared by several machines (``--frontier redis://...``).

The second implementation of :class:`~.frontier_protocol.FrontierAPI`. Each machine keeps
its own process tree (this coordinator, fetchers, writer); the crawl-wide state (seen set,
pending requests, leases, per-host politeness, robots.txt, page count) lives in Redis and
is changed only by the Lua scripts of :mod:`scrapepool.redis_store`, each atomic.

A machine works under a *session* ``machine#epoch``. What it takes from Redis (LEASE) is
held by that session, not by a per-request timeout: the coordinator heartbeats every
second (inside :meth:`flush`), and a session silent for ``session_timeout`` (15 s) is
reaped by any machine: what it held goes back to the front of its hosts' queues. A
machine that was reaped (frozen, partitioned) is *fenced*: its late outcomes and its
writer's commits are rejected, and it joins again under a new epoch.

Exactly-once: the writer commits each batch to Redis after the fsync, all or nothing,
only for requests its session still holds (output/redis_commit.py); a rejected batch is
cut off the file's tail and written again without the rejected requests. A request is
done in Redis when it has both its outcome (this module's OUTCOME) and its commit.

Costs (DISTRIBUTED.md section 11, this machine): one LEASE per dispatch batch and one
OUTCOME per flush (every 0.1 s) carry the whole window, so a page costs ~0.05-0.2 Redis
round trips and ~50 us of Redis CPU, under 1% of the ~8 ms of CPU a page costs here.
"""

import hashlib
import json
import logging
import os
import time
from collections import deque
from urllib.parse import urlsplit

from protego import Protego

from .. import _messages as m
from ..exceptions import FrontierLost, UsageError
from ..redis_store import PRELUDE, SCRIPTS, _first_line, crawl_prefix
from ..urls import host_key

logger = logging.getLogger("scrapepool")

__all__ = ["RedisFrontier", "identity_of"]

#: Seen fingerprints go into 2**K buckets (SETs): 32,768 buckets keep each one an intset
#: (at most 512 integers) up to ~12M URLs, about 9 bytes per URL (DISTRIBUTED.md 7).
K = 15
#: Seconds between heartbeats, and between two looks for silent sessions to reap.
HEARTBEAT_EVERY = 1.0
REAP_EVERY = 2.0
#: An idle machine asks Redis for work at most this often (seconds).
POLL_EVERY = 0.05
#: Links remembered as sent (fingerprint -> depth, ~100 bytes each): past this the memory
#: starts over, which costs only trips to Redis for links it has seen.
SENT_CACHE = 200_000
#: Outcomes are sent when this many wait, or at the next flush (0.1 s).
OUTCOME_BATCH = 64
#: The format of the crawl's keys; a crawl made by another format is refused.
VERSION = "1"


def identity_of(settings, spider_ref, start_urls, domains):
    """What every machine of a crawl must agree on (fetch-only settings may differ)."""
    seeds = hashlib.sha1("\n".join(sorted(set(start_urls))).encode("utf-8")).hexdigest()
    s = settings
    return json.dumps({
        "version": VERSION, "spider": spider_ref or "builtin:SiteSpider", "seeds": seeds,
        "max_depth": s.max_depth, "max_pages": s.max_pages, "delay": s.delay,
        "concurrency_per_host": s.concurrency_per_host, "robots": s.robots,
        "user_agent": s.user_agent, "domains": sorted(domains),
    }, sort_keys=True)


def _element(key, job_or_entry, url, method, headers, body, attempt, origin=None, hops=()):
    """A request as Redis keeps it: ``"<id> <key> <json>"`` (``key``: that prefix, left out
    at admission, where the script assigns the id). Bodies travel as latin-1 text: JSON
    has no bytes."""
    e = job_or_entry
    data = {"u": url, "m": method, "h": headers or None,
            "b": body.decode("latin-1") if body else None, "c": e.callback, "e": e.errback,
            "x": e.meta or None, "d": e.depth, "a": attempt, "n": bool(e.dont_filter)}
    if origin:
        data["o"], data["z"] = origin, list(hops)
    text = json.dumps(data, separators=(",", ":"))
    return text if key is None else f"{key} {text}"


def _job(element, attempts, depth, now):
    """The Job of a leased element; ``depth`` as Redis keeps it (lowered by a shorter path),
    or -1 for the element's own."""
    req_id, _, text = element.split(" ", 2)
    d = json.loads(text)
    if depth >= 0:
        d["d"] = depth
    body = d["b"].encode("latin-1") if d.get("b") is not None else None
    job = m.Job(int(req_id), d["u"], d["m"], d.get("h"), body, d.get("c"), d.get("x") or {},
                d["d"], d.get("a", 0) + attempts, d.get("e"), now, dont_filter=d.get("n", False))
    if d.get("o"):
        job = job._replace(origin=d["o"], hops=tuple(d["z"]))
    return job


class RedisFrontier:
    """The frontier of a crawl several machines share, in Redis (see the module docstring)."""

    def __init__(self, client, db, settings, domains, machine, identity, buckets=K):
        self.r = client
        self.db = db
        self.settings = settings
        self.domains = domains
        self.machine = machine
        self.identity = identity
        self.k = buckets
        self.keys = [crawl_prefix(settings.crawl_id)]
        self.scripts = {name: client.register_script(PRELUDE + src) for name, src in SCRIPTS.items()}
        self.timeout_ms = int(settings.session_timeout * 1000)
        self.session = None
        self.epoch = None
        #: Jobs leased and not handed to the coordinator yet.
        self.buffer = deque()
        #: req_id -> epoch it was leased under: a request of an older session is not ours.
        self.held = {}
        #: req_id -> its key in Redis (fingerprint or ``i<id>``), for a redirect's next hop.
        self.keys_of = {}
        #: host -> robots.txt job id this machine fetches.
        self.robots_held = {}
        #: host -> Protego parser, or True (allow all).
        self.robots = {}
        self.children = []
        #: fingerprint -> smallest depth this machine sent it at (see ``admit``).
        self.sent = {}
        #: Calls Redis answered (an outage ends with an answer, not with a step that asked nothing).
        self.answers = 0
        self.entries = []
        self.started = None
        self.marked = None
        self.refused_hops = []
        self.robots_refused = 0
        self.polite = True
        # Counters as Redis last said them (every lease, outcome batch and heartbeat).
        self.state = "seeding"
        self.cluster_pending = 0
        self.inflight = 0
        self.admitted = 0
        self.due = None
        self._lease_at = 0.0
        self._beat_at = 0.0
        self._reap_at = 0.0
        self.lease_size = max(1, settings.workers * settings.concurrency)
        self.rejoins = 0
        #: jar -> changes of the outcome being recorded; the version of the jars in Redis
        #: (bumped by every change) and of the ones the coordinator holds.
        self.cookie_changes = {}
        self.cookie_version = 0
        self.jars_version = 0
        self.lease_seq = 0
        self._handed = None
        #: When Redis became unreachable (None: it answers).
        self.outage = None

    # -- sessions ---------------------------------------------------------------------------
    def join(self):
        """Join the crawl (creating it if this is the first machine); returns the machine's
        durable output end in Redis, or None. Refuses a crawl of other settings, a machine
        id in use by a live machine, and a crawl whose state Redis lost."""
        joined = self.db.get("redis_crawl") == self.settings.crawl_id
        meta = ["max_pages", self.settings.max_pages if self.settings.max_pages is not None else "",
                "robots", "1" if self.settings.robots else "0",
                "delay", int(self.settings.delay * 1000),
                "limit", self.settings.concurrency_per_host or 0]
        if meta[1] == "":
            meta = meta[2:]
        nonce = os.urandom(8).hex()
        # The nonce of this job dir's last join: a rerun after a crash takes its session over
        # at once instead of waiting out --session-timeout (the job dir's lock proves the
        # run that joined is gone, core/jobdir.py).
        last = self.db.get("redis_join") or "" if joined else ""
        reply = self._call("join", [self.machine, self.timeout_ms, self.identity, "1" if joined else "0",
                                    nonce, last, *meta])
        if reply[0] == "identity":
            theirs = json.loads(reply[1])
            ours = json.loads(self.identity)
            diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            raise UsageError(f"crawl {self.settings.crawl_id!r} in Redis was started with other "
                             f"settings ({', '.join(diff)} differ)")
        if reply[0] == "busy":
            raise UsageError(f"machine id {self.machine!r} is in use by a live machine of crawl "
                             f"{self.settings.crawl_id!r}: give each machine its own --machine-id")
        self.epoch = int(reply[1])
        self.session = f"{self.machine}#{self.epoch}"
        self.state = reply[2]
        self.db.put("redis_crawl", self.settings.crawl_id)
        self.db.put("redis_join", nonce)
        self._beat_at = self._reap_at = time.monotonic()
        out = reply[3]
        return int(out.split("|", 1)[0]) if out else None

    def seeded(self):
        """This machine's seeds are admitted: the crawl may end from now on."""
        self.flush()
        self._call("seeded", [])

    def leave(self):
        """Give back what this session still holds and end it (the others go on)."""
        if self.session is not None and self._reachable(self._leave):
            self.session = None

    def _leave(self):
        self._send_entries()
        self._call("leave", [self.session])

    def _rejoin(self):
        logger.warning("this machine was silent past --session-timeout and its requests went to "
                       "other machines: joining again")
        self.rejoins += 1
        self.buffer.clear()
        self.keys_of.clear()
        self.entries = []  # all of them about requests of the old session: stale
        self.robots_held.clear()
        self.sent.clear()  # the links of the dropped outcomes were never sent
        self.join()

    # -- admission ------------------------------------------------------------------------
    def admit(self, fp, url, method="GET", headers=None, body=None, callback=None, meta=None,
              priority=0, dont_filter=False, errback=None, depth=0):
        """Checks that need no crawl state (depth, domain) here; seen and the page limit in
        Redis, with the outcome that found the link (or at the next flush, for seeds)."""
        s = self.settings
        if s.max_depth is not None and depth > s.max_depth:
            return None
        if not dont_filter:
            # Seen is for ever: a link Redis took from this machine at this depth or less
            # needs no trip to Redis (S1: 27 links a page, nearly all seen before). Only
            # links Redis took count (see _taken): an outcome it refused sent nothing.
            sent = self.sent.get(fp)
            if sent is not None and sent <= depth:
                return None
        if not self.domains.allows(url):
            return None
        entry = _Entry(callback, errback, meta, depth, dont_filter)
        prio = max(-2000, min(2000, int(priority or 0)))
        self.children.append(["" if dont_filter else str(fp), str(fp >> (63 - self.k)), host_key(url),
                              -prio, _element(None, entry, url, method, headers, body, 0), depth])
        return None

    def is_seen(self, fp):
        self._send_entries()  # links found by outcomes not sent yet count too
        return bool(self.r.sismember(f"{self.keys[0]}s:{fp >> (63 - self.k)}", str(fp)))

    def mark_seen(self, fp):
        self.marked = fp

    def resume(self):
        return self.cluster_pending

    # -- handing out ----------------------------------------------------------------------
    @property
    def pending(self):
        """Requests not done anywhere, as far as this machine knows; 0 only once the crawl
        has finished (nothing pending or in flight on any machine)."""
        if self.state == "finished" and not self.buffer and not self.entries:
            return 0
        return max(1, len(self.buffer) + self.cluster_pending)

    def next_job(self, now):
        self._reachable(lambda: self._next_job(now))
        job, self._handed = self._handed, None
        return job

    def _next_job(self, now):
        while True:
            if not self.buffer:
                if time.monotonic() < self._lease_at:
                    return
                self._lease()
                if not self.buffer:
                    return
            job = self.buffer[0]
            if self.held.get(job.req_id) != self.epoch:
                self.buffer.popleft()
                continue  # leased by a session that was reaped
            allowed = job.kind == m.ROBOTS or self._allowed(job)  # may ask Redis: before popping
            self.buffer.popleft()
            if allowed:
                self._handed = job._replace(not_before=now)
                return

    def next_due(self, now):
        """When to ask Redis for work again; None while leased jobs wait here (they go as the
        dispatch window frees, which an event from a fetcher tells: no need to wake up)."""
        if self.buffer:
            return None
        return POLL_EVERY if self.due is None else max(POLL_EVERY, min(self.due, 1.0))

    def make_durable(self, req_id):
        """Nothing to do: the lease itself is in Redis."""

    def take_refused_hops(self):
        hops, self.refused_hops = self.refused_hops, []
        return hops

    def _lease(self):
        self._send_entries()  # this machine's cookie changes reach Redis before it reads the jars
        self.lease_seq += 1
        reply = self._call("lease", [self.session, self.lease_size, self.lease_seq])
        if reply[0] == "fenced":
            self._rejoin()
            return
        self._status(reply[0])
        jobs = reply[1]
        now = time.time()
        for item in jobs:
            if item[0] == "R":
                rid, host, head = int(item[1]), item[2], item[3]
                parts = urlsplit(json.loads(head.split(" ", 2)[2])["u"] if head else f"http://{host}/")
                self.robots_held[host] = rid
                self.held[rid] = self.epoch
                self.buffer.append(m.Job(rid, f"{parts.scheme}://{parts.netloc}/robots.txt", "GET", None,
                                         None, None, {}, 0, 0, None, now, m.ROBOTS))
            else:
                job = _job(item[1], int(item[2]), int(item[3]), now)
                self.held[job.req_id] = self.epoch
                self.keys_of[job.req_id] = item[1].split(" ", 2)[1]
                self.buffer.append(job)
        if len(jobs) < self.lease_size:
            self._lease_at = time.monotonic() + POLL_EVERY

    def _allowed(self, job):
        """robots.txt, checked here for every leased page (parsed once per host)."""
        if not self.settings.robots:
            return True
        host = host_key(job.url)
        parser = self.robots.get(host)
        if parser is None:
            text = self.r.hget(f"{self.keys[0]}robots", host)
            parser = self.robots[host] = Protego.parse(text) if text else True
        if parser is True or (job.meta or {}).get("dont_obey_robotstxt") \
                or parser.can_fetch(job.url, self.settings.user_agent):
            return True
        self.robots_refused += 1
        (logger.warning if job.depth == 0 else logger.debug)("forbidden by robots.txt: %s", job.url)
        if job.hops:
            self.refused_hops.append(job)  # the engine ends it with an error record
        else:
            self._entry({"t": "x", "i": job.req_id})
            self.keys_of.pop(job.req_id, None)
        return False

    # -- outcomes --------------------------------------------------------------------------
    def host_done(self, url, started, latency=None, status=None):
        self.started = started  # (no AutoThrottle in a shared crawl yet: Settings refuses it)

    def _started_ago(self):
        started, self.started = self.started, None
        return int((time.time() - started) * 1000) if started else -1

    def record_outcome(self, req_id):
        children, self.children = self.children, []
        entry = {"t": "p", "i": req_id, "s": self._started_ago(), "c": children}
        if self.cookie_changes:
            entry["k"], self.cookie_changes = self.cookie_changes, {}
        self._entry(entry)
        self.held.pop(req_id, None)
        self.keys_of.pop(req_id, None)

    def redirect(self, job, url, method, body, headers):
        fp, self.marked = self.marked, None
        origin = job.origin or job.url
        element = _element(f"{job.req_id} {self.keys_of.pop(job.req_id)}", job, url, method, headers,
                           body, job.attempt, origin, job.hops + (url,))
        entry = {"t": "r", "i": job.req_id, "s": self._started_ago(),
                 "f": "" if fp is None else str(fp), "b": "0" if fp is None else str(fp >> (63 - self.k)),
                 "h": host_key(url), "e": element}
        if self.cookie_changes:
            # What the redirect response set (a login's session cookie) goes with the hop, in
            # the same script: whichever machine leases the hop sends it.
            entry["k"], self.cookie_changes = self.cookie_changes, {}
        self._entry(entry)
        self.held.pop(job.req_id, None)

    def requeue(self, job, attempt):
        """A request lost with a fetcher here (or left by Ctrl-C): this session still holds
        its lease, so it goes again from this machine."""
        self.started = None
        if self.held.get(job.req_id) == self.epoch:
            self.buffer.appendleft(job._replace(attempt=attempt))

    def robots_arrived(self, url, status, text):
        host = host_key(url)
        self.started = None
        parser = Protego.parse(text) if text else True
        self.robots[host] = parser
        delay = parser.crawl_delay(self.settings.user_agent) if parser is not True else None
        rid = self.robots_held.pop(host, None)
        if rid is not None:
            self._entry({"t": "R", "i": rid, "x": text or False,
                         "d": int(float(delay) * 1000) if delay else 0})

    def robots_lost(self, url):
        self.started = None
        rid = self.robots_held.pop(host_key(url), None)
        if rid is not None:
            self._entry({"t": "L", "i": rid})

    # -- cookies ---------------------------------------------------------------------------
    def cookies_changed(self, jar, changes, jars):
        """Sent with the outcome, in the script that admits its children: a login on one
        machine reaches the requests it leads to on every machine."""
        self.cookie_changes[jar] = changes

    def shared_jars(self):
        if self.cookie_version == self.jars_version:
            return None
        # This machine's own changes still waiting in the batch go first: the jars read back
        # replace the coordinator's, and must not lose them.
        p, jars = self.keys[0], {}

        def read():
            self._send_entries()
            for jar in self.r.smembers(f"{p}ckj"):
                jars[jar] = [json.loads(v) for v in self.r.hvals(f"{p}ck:{jar}")]
            self.answers += 1

        if not self._reachable(read):
            return None  # read again once Redis answers (the version still differs)
        self.jars_version = self.cookie_version
        return jars

    # -- durability -----------------------------------------------------------------------
    def keep(self, key, value):
        self.db.put(key, value)

    def flush(self, kv=None):
        """Send what waits (outcomes, seeds), keep ``kv`` locally, heartbeat when due."""
        for key, value in (kv or {}).items():
            self.db.put(key, value)
        self._reachable(self._flush)

    def output_end(self, local):
        """Redis's word on this machine's durable output end (the job DB may lag it by the
        last batch: a kill between the writer's two commits), or None when it cannot be asked."""
        ends = []
        if not self._reachable(lambda: ends.append(self.r.hget(f"{self.keys[0]}out", self.machine))):
            return None
        return int(ends[0].split("|", 1)[0]) if ends and ends[0] else local

    def _reachable(self, step):
        """Run ``step``; while Redis cannot be reached, note it and go on later (what waits
        stays buffered; no new work is leased, so the fetchers drain: backpressure)."""
        import redis

        answers = self.answers
        try:
            step()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if self.outage is None:
                self.outage = time.monotonic()
                logger.error("Redis unreachable (%s): waiting for it", _first_line(exc))
            self._lease_at = time.monotonic() + 1.0
            return False
        if self.outage is not None and self.answers > answers:  # a step that asked nothing proves nothing
            logger.warning("Redis is back after %.1f s", time.monotonic() - self.outage)
            self.outage = None
        return True

    def _taken(self, children):
        """Redis took these children (admitted, or seen before): remember them as sent."""
        sent = self.sent
        if len(sent) >= SENT_CACHE:
            sent.clear()
        for c in children:
            if c[0]:
                fp, depth = int(c[0]), c[5]
                if sent.get(fp, depth + 1) > depth:
                    sent[fp] = depth

    def _flush(self):
        while self.children:
            batch = self.children[:1000]
            self._call("admit", [json.dumps(batch)])
            del self.children[:1000]
            self._taken(batch)
        self._send_entries()
        now = time.monotonic()
        if self.session is not None and now - self._beat_at >= HEARTBEAT_EVERY:
            self._beat_at = now
            reap = now - self._reap_at >= REAP_EVERY and self._uptime() >= self.settings.session_timeout
            if reap:
                self._reap_at = now
            alive, status, reaped = self._call("heartbeat", [self.session, self.timeout_ms, int(reap)])
            self._status(status)
            if reaped:
                logger.warning("%d requests of silent machines went back to the queue", reaped)
            if not alive:
                self._rejoin()

    def _entry(self, entry):
        self.entries.append(entry)
        if len(self.entries) >= OUTCOME_BATCH:
            self._send_entries()

    def _send_entries(self):
        if not self.entries or self.session is None:
            return
        entries, self.entries = self.entries, []
        try:
            status, stale, refused = self._call("outcome", [self.session, json.dumps(entries)])
        except Exception:
            self.entries[:0] = entries  # sent again later: the script takes each once
            raise
        self._status(status)
        refused = set(refused)
        for entry in entries:
            if "c" in entry and str(entry["i"]) not in refused:
                self._taken(entry["c"])
        if stale:
            logger.info("%d outcomes were not taken: sent again after a lost reply, or their requests "
                        "went to other machines while this one was silent", stale)

    def _status(self, status):
        self.state = status[0]
        self.cluster_pending = int(status[1])
        self.inflight = int(status[2])
        self.admitted = int(status[3])
        self.due = None if int(status[5]) < 0 else int(status[5]) / 1000
        self.cookie_version = int(status[6])

    def _uptime(self):
        try:
            return int(self.r.info("server").get("uptime_in_seconds", 0))
        except Exception:
            return 0

    def _call(self, name, args):
        reply = self.scripts[name](keys=self.keys, args=args)
        self.answers += 1
        if reply == -1 or (isinstance(reply, list) and reply and reply[0] == "lost"):
            raise FrontierLost(f"crawl {self.settings.crawl_id!r} is gone from Redis (flushed, or a "
                               "Redis restarted without its AOF): stopping rather than crawl it again")
        return reply


class _Entry:
    """What ``_element`` reads of a child before it has a Job."""

    __slots__ = ("callback", "errback", "meta", "depth", "dont_filter")

    def __init__(self, callback, errback, meta, depth, dont_filter):
        self.callback, self.errback, self.meta = callback, errback, meta
        self.depth, self.dont_filter = depth, dont_filter
