"""The engine: the coordinator loop that runs a crawl across processes.

Data flow (the module that holds each piece in brackets; core/ is this process)::

              +------------------------ coordinator (this process) --------------------------+
              | frontier [core/frontier.py behind core/frontier_protocol.FrontierAPI]:       |
              |   seen set, pending heap (core/pending.py, spills to the job DB), depth      |
              |   (core/depth.py), per-host politeness and robots.txt (core/hosts.py)        |
              | ledger [core/ledger.py]: every request from dispatch to done                 |
              | job dir [core/jobdir.py, output/jobdb.py]: identity, write-ahead (SQLite)    |
              | supervisor [core/supervisor.py]: processes, CPU pins, signals -> flags       |
              +--+-------------------------------------------------------^----^--------------+
     Job         |  job queue [core/jobqueue.py]                         |    | control Pipe (duplex):
     (bounded    v  (one None per fetcher to stop)                       |    | Committed, WriteFailed
      window) +----------------------------+ ... +---------------------+ |    |
              | fetcher 1 [net/fetcher.py, |     | fetcher N (threads) |-+    |
              |  net/downloader.py, the    |     |                     |      | events Pipe, one per fetcher:
              |  spider's code: spiders/*] |     |                     |      | Claimed, Outcome(+Child),
              +----------+-----------------+     +---------------------+      | Idle, Retire, Goodbye, Fatal
                         | records Pipe, one per fetcher: Records             |
                         v                                                    |
              +-----------------------------------------------------+         |
              | writer [output/writer.py, output/exporters.py]:     |---------+
              | appends records, commits offsets to the job DB,     |
              | drops a request it committed before                 |
              +-----------------------------------------------------+

Every message is a named type of scrapepool/_messages.py. The coordinator touches the network
never. It is single-threaded around one poll (supervisor.Waiter) over every events
pipe, the writer's control pipe, every process sentinel and a timeout.

A request's life (core/ledger.py): admitted (written ahead) -> dispatched into the queue
-> Claimed by a fetcher -> Outcome (its children admitted in the same DB transaction)
-> Committed by the writer. A redirect is not an outcome: the request goes back to
the frontier for its next hop (robots.txt, delay), unless it leads to a URL already
seen (then it ends here, as in Scrapy's dupefilter). A request is done only when it
has both an outcome and a commit; termination is "nothing pending, nothing in the
ledger", counted here, never read from the queue.

Faults: a fetcher whose sentinel fires without a Goodbye died; its claimed,
unfinished requests go back to the frontier (a poison page is given up after
``poison_limit`` deaths) and a replacement starts. Requests taken from the queue
whose Claimed never left the dead process are found when every live fetcher has
since reported the queue empty (Idle). The writer dying is fatal; the job DB and
the output stay consistent for a resume.

No hang: a fetcher answers every job it claims, whatever fails in it (an error
outcome, kind ``internal``); should a thread never come back, a claimed request
without an outcome past the longest it can take (``_longest``) is lost: its fetcher
is killed and handled as a death. A fetcher past ``max_memory_mb`` sends Retire,
takes no new job, finishes its own and says Goodbye; its replacement starts at once.
CloseSpider in a callback (Outcome info) stops dispatching; the requests in flight
finish and are written.
"""

import logging
import multiprocessing
import os
import select
import signal
import time
import weakref
from multiprocessing.connection import wait
from urllib.parse import urlsplit

from .. import _messages as m
from .._logrelay import coordinator_level, deliver
from .._profile import profiled
from ..exceptions import OutputClosed, ScrapepoolError, UsageError, WriterDied, describe_exit
from ..net.cookies import CookieJars, jar_key
from ..net.downloader import download_budget, redirect_request
from ..net.fetcher import request_limits
from ..output.exporters import check_output, cut_output
from ..output.writer import report_notes
from ..report import write_report_file
from ..spiders.http import Request, _callback_name
from ..spiders.loading import load_spider, spider_ref
from ..spiders.records import to_plain
from ..urls import DomainFilter, canonical, check_seed_url, fingerprint, host_key
from .crawllog import CrawlLog
from .frontier import Frontier
from .jobdir import JobDir
from .jobqueue import MAX_QUEUED_BYTES, JobQueue
from .ledger import Ledger
from .stats import Stats
from .supervisor import Signals, Supervisor, Waiter

logger = logging.getLogger("scrapepool")

#: Seconds between two write-ahead flushes of the coordinator's state.
FLUSH_EVERY = 0.1
#: Seconds between two saves of the crawl log in the job DB (a JSON of ~KBs to MBs: not at
#: every checkpoint); what an interruption loses of it is at most this much of the series.
LOG_SAVE_EVERY = 5.0
#: Seconds to wait for processes at the end before terminating them.
JOIN_TIMEOUT = 10.0
#: A fetcher must report the queue empty this long after a death before
#: unclaimed requests are taken as lost with it.
LOST_GRACE = 0.5
#: Seconds between two looks for requests past their deadline.
OVERDUE_EVERY = 1.0


def default_machine_id(output):
    """This host's name and 6 hex digits of the output's path: two machines on one host
    (each with its own -o) get two ids."""
    import hashlib
    import socket

    digest = hashlib.sha1(os.path.abspath(output).encode("utf-8")).hexdigest()[:6]
    return f"{socket.gethostname()}-{digest}"


class _StartUrls(list):
    """The spider's ``start_urls`` with the seeds, noting whether ``start_requests()`` read them."""

    read = False

    def __iter__(self):
        self.read = True
        return super().__iter__()

    def __getitem__(self, index):
        self.read = True
        return super().__getitem__(index)


def _readable(conn):
    """A function that tells, without waiting, whether ``conn`` has data (or EOF) to read.

    ``Connection.poll()`` builds a selector and registers the descriptor on every call
    (multiprocessing.connection.wait): ~25 us, twice per page read from a fetcher's pipe,
    a third of the coordinator's own CPU on S1 (cProfile). One ``select.poll`` object kept
    per connection makes it one system call (~2 us)."""
    poller = _POLLERS.get(conn)
    if poller is None:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN)
        _POLLERS[conn] = poller
    return lambda: bool(poller.poll(0))


_POLLERS = weakref.WeakKeyDictionary()


class _StartInterrupted(Exception):
    """A signal arrived while the start requests were read or admitted."""


class Engine:
    """Runs one crawl. Use as a context manager: leaving it always stops every child."""

    def __init__(self, spider=None, seeds=(), settings=None, on_progress=None):
        from ..settings import Settings

        self.settings = settings or Settings()
        self.spider_cls = load_spider(spider)
        self.spider_ref = spider_ref(self.spider_cls) if spider is not None else None
        self.spider = self.spider_cls(**self.settings.spider_kwargs)
        self.seeds = list(seeds)
        self.on_progress = on_progress
        self.stats = Stats()
        #: What the HTML report shows beyond the stats (core/crawllog.py).
        self.log = CrawlLog()
        self.ledger = Ledger()
        self.signals = Signals()
        self.waiter = Waiter()
        self.jars = CookieJars()
        self.job = None
        self.frontier = None
        self.supervisor = None
        self.job_queue = None
        self.fatal = None
        self.crashes = 0
        self.last_death = None
        self.committed_offset = None
        self.stopping = False
        #: The reason a spider gave with CloseSpider (None: not closing).
        self.closing = None
        #: host -> robots.txt fetches lost with a fetcher.
        self.robots_losses = {}
        self._ckpt_at = 0.0
        self._log_saved_at = 0.0
        self._overdue_at = 0.0

    # -- what the CLI and the progress line read ---------------------------------------------
    @property
    def stop_signal(self):
        return self.signals.stop_signal

    @property
    def force(self):
        return self.signals.force

    @property
    def in_flight(self):
        return len(self.ledger)

    @property
    def fetchers_alive(self):
        return self.supervisor.alive() if self.supervisor is not None else 0

    # -- context management ----------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill_all()
        if self.job is not None:
            self.job.close()
        return False

    def kill_all(self):
        if self.supervisor is not None:
            self.supervisor.kill_all()

    # -- the run ---------------------------------------------------------------------------
    def run(self):
        """Run the crawl to its end; returns the stats dict.

        Signals are the engine's from the first instant: a Ctrl-C while the start
        requests are read or admitted (a million seeds take seconds) stops here,
        before anything is made durable, so the same command starts afresh.
        """
        self.signals.install()
        try:
            with profiled(f"coordinator-{os.getpid()}"):
                return self._run()
        except _StartInterrupted:
            logger.warning("%s received during start-up: stopped before the crawl began",
                           signal.Signals(self.stop_signal).name)
            self.stats.finish("interrupted")
            if self.job is not None and self.job.db is not None:
                self.job.db.close()
            return self.stats.as_dict()
        finally:
            self.signals.restore()

    def _run(self):
        s = self.settings
        requests = self._start_requests()
        if not requests and not (s.job_dir and os.path.isdir(s.job_dir)):
            raise UsageError("no valid start URL: give seeds or set start_urls on the spider")
        check_output(s.output)
        self.job = JobDir(s, self.spider_ref, [r.url for r in requests])
        resume = self.job.open()
        if not requests and not resume:
            raise UsageError("no valid start URL: give seeds or set start_urls on the spider")
        db = self.job.db
        if resume:
            self.log.load(db.get("crawllog"))
        allowed = self._domains(requests)
        shared = None
        if s.frontier:
            # The crawl's state is in Redis: joining it is the resume.
            shared = self._join_shared(requests, allowed)
        elif resume:
            self.frontier = Frontier(db, s, DomainFilter(allowed))
            self.stats.load(db.get("stats") or {})
            if db.get("finished"):
                logger.warning("this job has already finished: nothing to do "
                               "(use --restart to crawl again)")
                self.stats.finish("already finished")
                return self.stats.as_dict()
            todo = self.frontier.resume()
            logger.warning("resuming the job in %s: %d requests to go", s.job_dir, todo)
        else:
            self.frontier = Frontier(db, s, DomainFilter(allowed))
            for i, req in enumerate(requests):
                if i % 1024 == 0:
                    self._check_start_signal()
                self._admit_start(req)
            self._check_start_signal()
            # The identity is written with the seeds, in one transaction: a job interrupted
            # before this point has nothing on disk, and starts afresh next time.
            self.frontier.flush({"identity": self.job.identity})
        self.committed_offset = db.get("output_offset")
        self.jars = CookieJars(db.get("cookies") if resume else None)
        ctx = multiprocessing.get_context(s.start_method)
        self.job_queue = JobQueue(ctx)
        # The fetchers log at the level chosen here; their records come back as Log events.
        self.supervisor = Supervisor(ctx, s, self.spider_ref, allowed, self.job_queue, ctx.Event(),
                                     self.waiter, coordinator_level())
        self.supervisor.start_writer(self.job.folder, db.durable, self._read_writer, self._writer_exited,
                                     shared)
        for i in range(s.workers):
            self._start_fetcher(i)
        self._loop()
        self._shutdown()
        if shared:
            self.frontier.leave()
        return self._finish()

    def _join_shared(self, requests, allowed):
        """Join the crawl the machines share in Redis (core/redis_frontier.py): every machine
        admits the seeds (the seen set keeps one of each), then the crawl may end."""
        from ..redis_store import connect, fsync_warning
        from .redis_frontier import RedisFrontier, identity_of

        s = self.settings
        machine = s.machine_id or default_machine_id(s.output)
        client = connect(s.frontier, s.frontier_volatile)
        warning = None if s.frontier_volatile else fsync_warning(client)
        if warning:
            logger.warning("%s", warning)
        identity = identity_of(s, self.spider_ref, [r.url for r in requests], allowed)
        self.frontier = RedisFrontier(client, self.job.db, s, DomainFilter(allowed), machine, identity)
        self.frontier.join()
        logger.info("machine %s joined crawl %s (session %s)", machine, s.crawl_id, self.frontier.session)
        for i, req in enumerate(requests):
            if i % 1024 == 0:
                self._check_start_signal()
            self._admit_start(req)
        self._check_start_signal()
        self.frontier.seeded()
        self.frontier.flush({"identity": self.job.identity})
        return (s.frontier, s.crawl_id, machine, s.frontier_volatile)

    def _check_start_signal(self):
        if self.stop_signal is not None:
            raise _StartInterrupted()

    # -- set-up ----------------------------------------------------------------------------
    def _start_requests(self):
        """Seeds and the spider's start requests, as Requests, checked.

        As in Scrapy, the seeds join the spider's ``start_urls``, so that an overridden
        ``start_requests()`` shapes them (headers, method, meta, callback). A spider whose
        ``start_requests()`` never reads ``start_urls`` (a SitemapSpider reads
        ``sitemap_urls``) still gets each seed as a plain request, as before.
        """
        spider = self.spider
        seeds = _StartUrls(dict.fromkeys([*(getattr(spider, "start_urls", None) or ()), *self.seeds]))
        spider.start_urls = seeds
        out = []
        try:
            for i, req in enumerate(spider.start_requests() or ()):
                if i % 1024 == 0:
                    self._check_start_signal()
                out.append(Request(req) if isinstance(req, str) else req)
        except _StartInterrupted:
            raise
        except Exception as exc:
            raise UsageError(f"{type(self.spider).__name__}.start_requests failed: "
                             f"{type(exc).__name__}: {exc}") from None
        if not seeds.read:
            out[:0] = [Request(url) for url in self.seeds]
        good = []
        for req in out:
            reason = check_seed_url(req.url)
            if reason:
                logger.warning("start URL %r %s: skipped", req.url, reason)
                continue
            good.append(req)
        if self.settings.sitemap:
            if not callable(getattr(self.spider, "_parse_sitemap", None)):
                raise UsageError(f"--sitemap needs the built-in spider or a SitemapSpider, "
                                 f"not {type(self.spider).__name__}")
            origins = dict.fromkeys(f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" for r in good)
            good += [Request(origin + "/robots.txt", callback="_parse_sitemap") for origin in origins]
        return good

    def _domains(self, requests):
        # The seeds' own sites are always allowed; --allow-domain and Spider.allowed_domains
        # widen that (a seed outside allowed_domains would otherwise end the crawl at once).
        entries = sorted({host_key(r.url) for r in requests})
        entries += list(self.settings.allowed_domains)
        entries += list(getattr(self.spider, "allowed_domains", ()) or ())
        return entries

    def _admit_start(self, req):
        canon = canonical(req.url)
        cb = _callback_name(self.spider, req.callback)
        eb = _callback_name(self.spider, req.errback, "errback") if req.errback else None
        fp = fingerprint(canon, req.method, req.body)
        self.frontier.admit(fp, req.url, req.method, req.headers, req.body, cb, req.meta or None,
                            req.priority, req.dont_filter, eb, depth=0)

    def _start_fetcher(self, index):
        self.supervisor.start_fetcher(index, self._read_events, self._fetcher_exited)

    # -- the loop --------------------------------------------------------------------------
    def _loop(self):
        s = self.settings
        window = s.workers * s.concurrency * 2
        announced = False
        while True:
            now = time.monotonic()
            if self.fatal or self.force:
                return
            if self.stop_signal is not None:
                if not announced:
                    announced = True
                    self.supervisor.stop_event.set()
                    name = signal.Signals(self.stop_signal).name
                    logger.warning("%s received: finishing the requests in flight "
                                   "(Ctrl-C again to stop at once)", name)
                self.stats.finish_reason = "interrupted"
                return
            if self.closing is None:
                if self.ledger.in_queue < window:
                    self._dispatch(window)
                if not self.ledger and self.frontier.pending == 0:
                    return
            elif not self.ledger:
                return
            self._maybe_checkpoint(now)
            self._check_lost()
            self._check_overdue(now)
            self._wait(self._timeout())

    def _timeout(self):
        due = self.frontier.next_due(time.time()) if self.frontier.polite else None
        return min(FLUSH_EVERY, due) if due is not None else FLUSH_EVERY

    def _dispatch(self, window):
        now_wall = time.time()
        now = time.monotonic()
        ledger = self.ledger
        while ledger.in_queue < window and ledger.queued_bytes < MAX_QUEUED_BYTES:
            job = self.frontier.next_job(now_wall)
            for hop in self.frontier.take_refused_hops():
                self._give_up(hop, f"redirect to {hop.url} forbidden by robots.txt", "robots",
                              final_url=(hop.origin, *hop.hops)[-2])
            if job is None:
                return
            if job.kind == m.PAGE and job.attempt >= self.settings.poison_limit:
                # Only a shared frontier hands such a request out: its machines died holding
                # it that many times (a page that kills whole machines goes round no more).
                self._give_up(job, f"gave up after its machine died {job.attempt} times")
                continue
            self.frontier.make_durable(job.req_id)
            shared_jars = self.frontier.shared_jars()
            if shared_jars is not None:
                self.jars = CookieJars(shared_jars)
            if self.jars and job.kind == m.PAGE:
                host = urlsplit(job.url).hostname or ""
                job = job._replace(cookies=self.jars.for_host(jar_key(job.meta), host))
            ledger.dispatch(job, self.job_queue.put_now(job), now)

    def _wait(self, timeout):
        for handler in self.waiter.wait(timeout):
            handler()

    # -- fetcher events --------------------------------------------------------------------
    def _read_events(self, proc):
        conn = proc.events
        ready = _readable(conn)
        try:
            while ready():
                self._on_event(proc, conn.recv())
        except (EOFError, OSError):
            pass  # its sentinel tells the rest

    def _on_event(self, proc, msg):
        kind = type(msg)
        if kind is m.Outcome:
            self._on_outcome(msg)
        elif kind is m.Claimed:
            proc.idle_at = None
            entry = self.ledger.get(msg.req_id)
            if entry is not None:
                self.ledger.claim(msg.req_id, proc.pid, time.monotonic() + self._longest(entry.job))
        elif kind is m.Log:
            deliver(msg.record)
        elif kind is m.Idle:
            proc.idle_at = time.monotonic()
        elif kind is m.Goodbye:
            proc.goodbye = True
        elif kind is m.Retire:
            proc.retiring = True
            self.stats.fetchers_replaced += 1
            logger.info("fetcher %d (pid %d) uses %d MB, past max-memory-mb (%s): replaced",
                        proc.index, proc.pid, msg.rss_mb, self.settings.max_memory_mb)
            if not self.stopping and self.stop_signal is None and not self.fatal:
                self._start_fetcher(proc.index)
        elif kind is m.Fatal:
            self.fatal = ScrapepoolError(msg.text)

    def _on_outcome(self, msg):
        entry = self.ledger.get(msg.req_id)
        if entry is None or entry.outcome:
            return  # a duplicate (the request was run twice after a crash)
        job, info, status = entry.job, msg.info, msg.status
        self.frontier.host_done(job.url, info.get("started"), info.get("latency"), status)
        if job.kind == m.ROBOTS:
            self.ledger.release(job.req_id)
            self.frontier.robots_arrived(job.url, status, info.get("robots"))
            return
        if "cookies" in info:
            self.jars.update(jar_key(job.meta), info["cookies"])
            self.frontier.cookies_changed(jar_key(job.meta), info["cookies"], self.jars)
        if msg.kind == "interrupted":
            # Stopped by a signal before a retry: not an outcome; the request stays
            # pending in the job DB, and a resume tries it again.
            self.ledger.release(job.req_id)
            self.frontier.requeue(job, job.attempt)
            return
        if "redirect" in info:
            self._on_redirect(job, info, status)
            return
        if "close_spider" in info and self.closing is None:
            self.closing = info["close_spider"]
            logger.warning("the spider closed the crawl on %s: %s; finishing the requests in flight",
                           job.url, self.closing)
        frontier = self.frontier
        depth = job.depth + 1
        for child in msg.children:
            frontier.admit(child.fp, child.url, child.method, child.headers, child.body, child.callback,
                           child.meta, child.priority, child.dont_filter, child.errback, depth=depth)
        frontier.record_outcome(job.req_id)
        self.ledger.outcome(job.req_id)
        self.stats.outcome(status, msg.kind, info)
        self.log.outcome(job.origin or job.url, host_key(job.url), job.depth, job.callback, status, msg.kind, info)
        for text in info.get("spider_errors", ()):
            logger.warning("spider error on %s: %s", job.url, text)
        if msg.error is not None:
            # An HTTP error status is counted (stats, report), not told one line each: a
            # crawl of a big site meets thousands of 404s (-v shows them).
            (logger.debug if (msg.kind or "").startswith("http_") else logger.info)(
                "%s: %s", job.url, msg.error)

    def _on_redirect(self, job, info, status):
        """Schedule a redirect's next hop: the same request, now for another URL.

        The hop is not written ahead: after a crash the request starts again from
        the URL first requested. Its URL counts as seen at once, so a link to it found
        meanwhile is not fetched again. Its method, headers and body are
        ``redirect_request``'s: a POST turned into a GET leaves its body and body
        headers, and credentials never go on to another origin.
        """
        self.ledger.release(job.req_id)
        url, method, headers, body = redirect_request(status, job.method, job.headers, job.body,
                                                      job.url, info["redirect"][0])
        fp = fingerprint(canonical(url), method, body)
        self.stats.redirects += 1
        self.stats.retries += info.get("retries", 0)
        if not job.dont_filter and self.frontier.is_seen(fp):
            # As Scrapy's dupefilter drops such a hop: the page is (or will be) fetched
            # under its own request, and written once.
            origin = job.origin or job.url
            logger.debug("%s: redirect to %s, already requested: not fetched again", origin, url)
            self.stats.redirects_to_seen += 1
            redirect = {"url": origin, "final_url": url, "status": status, "depth": job.depth,
                        "meta": job.meta}
            record = self._spider_record(self.spider.redirect_seen_record, redirect, origin)
            self._end_here(job, [record] if record is not None else [], status)
            return
        self.frontier.mark_seen(fp)
        # Scrapy's RedirectMiddleware: the hop's meta lists the status of every redirect so far.
        meta = job.meta or {}
        reasons = meta.get("redirect_reasons")
        reasons = [*reasons, status] if isinstance(reasons, list) else [status]
        job = job._replace(meta={**meta, "redirect_reasons": reasons})
        self.frontier.redirect(job, url, method, body, headers)

    # -- the writer ------------------------------------------------------------------------
    def _read_writer(self):
        control = self.supervisor.control
        ready = _readable(control)
        try:
            while ready():
                msg = control.recv()
                if type(msg) is m.Committed:
                    self.committed_offset = msg.offset
                    self.stats.records += msg.n_records
                    self.ledger.committed(msg.req_ids)
                elif type(msg) is m.WriteFailed:
                    self.fatal = ScrapepoolError(f"cannot write the output: {msg.text}")
                elif type(msg) is m.OutputClosed:
                    self.fatal = OutputClosed("the reader of the output went away")
        except (EOFError, OSError):
            pass

    def _writer_exited(self):
        writer = self.supervisor.writer
        self._read_writer()
        self.waiter.remove(writer.sentinel)
        writer.join(1)
        if not self.fatal:
            self.fatal = WriterDied(writer.exitcode)

    # -- faults ----------------------------------------------------------------------------
    def _fetcher_exited(self, proc):
        self._read_events(proc)
        self.supervisor.forget(proc)
        if proc.goodbye:
            return
        code = proc.process.exitcode
        self.crashes += 1
        self.stats.fetcher_crashes += 1
        self.last_death = time.monotonic()
        logger.error("fetcher %d (pid %d) died: %s", proc.index, proc.pid, describe_exit(code))
        # Only the request whose spider code was running counts a try against it: the
        # others were merely downloading beside it in the same process.
        suspect = proc.current.value
        # An overdue request counts a try too, unless another one's spider code was
        # running: then it was only waiting behind it for the parse lock.
        for entry in self.ledger.lost_with(proc.pid):
            req_id = entry.job.req_id
            blamed = req_id == suspect or (entry.overdue and not suspect)
            self._retry_lost(entry.job, count_attempt=blamed,
                             kind="lost" if entry.overdue and blamed else "poison")
        if not self.stopping and self.stop_signal is None and not self.fatal:
            if self.crashes > 20 + 10 * self.settings.workers:
                self.fatal = ScrapepoolError(f"fetchers keep dying ({self.crashes} deaths): giving up")
            else:
                self._start_fetcher(proc.index)

    def _retry_lost(self, job, count_attempt, kind="poison"):
        """A request lost with its fetcher (already out of the ledger) goes back, or is given up."""
        self.frontier.host_done(job.url, None)
        if job.kind == m.ROBOTS:
            host = host_key(job.url)
            losses = self.robots_losses[host] = self.robots_losses.get(host, 0) + count_attempt
            if losses >= self.settings.poison_limit:
                # As for an unreachable robots.txt (Scrapy's rule): allow all, never block the host.
                self.frontier.robots_arrived(job.url, None, None)
            else:
                self.frontier.robots_lost(job.url)
            return
        attempt = job.attempt + (1 if count_attempt else 0)
        if attempt >= self.settings.poison_limit:
            why = "its fetcher died" if kind == "poison" else "it ran past its deadline"
            self._give_up(job, f"gave up after {why} {attempt} times", kind)
            return
        self.frontier.requeue(job, attempt)

    def _give_up(self, job, error, kind="poison", final_url=None):
        """End a request here (a poison page, a redirect robots.txt forbids): an error record,
        if the spider writes one, through the writer."""
        url = job.origin or job.url
        (logger.error if kind == "poison" else logger.info)("%s: %s", url, error)
        failure = {"url": url, "final_url": final_url or job.url, "status": None, "error": error,
                   "kind": kind, "depth": job.depth, "meta": job.meta}
        record = self._spider_record(self.spider.error_record, failure, url)
        self._end_here(job, [record] if record is not None else [], None, kind)

    def _end_here(self, job, records, status=None, kind=None):
        """A request's outcome decided here, not by a fetcher; its records go through the writer."""
        self.ledger.end_here(job, time.monotonic())
        self.frontier.record_outcome(job.req_id)
        self.stats.outcome(status, kind, {})
        self.log.outcome(job.origin or job.url, host_key(job.url), job.depth, job.callback, status, kind,
                         {"records": len(records)})
        self.supervisor.control.send(m.Records(job.req_id, records))

    def _spider_record(self, method, arg, url):
        """A record made by spider code run here, as plain data (records.py), or None.

        Whatever the spider does (even ``sys.exit()``), the coordinator goes on: it is one
        spider error."""
        try:
            record = method(arg)
            return None if record is None else to_plain(record)
        except BaseException as exc:  # noqa: B036
            logger.warning("spider error on %s: %s: %s", url, type(exc).__name__, exc)
            self.stats.spider_errors += 1
            return None

    def _check_lost(self):
        """Requests taken from the queue by a fetcher that died before it could claim them.

        A fetcher's Idle says the queue was empty and it waits on it; until its next Claimed
        it still waits, so any job put in the queue would be taken, by it or another live
        fetcher, whose Claimed then arrives. So once one live fetcher has been idle for
        LOST_GRACE, a job dispatched more than LOST_GRACE ago and still unclaimed is in no
        queue and no live fetcher: it went down with the dead one. (Waiting for every
        fetcher to report Idle after the death hung the crawl: a fetcher idle since before
        the death never reports again.)"""
        if self.last_death is None:
            return
        now = time.monotonic()
        cutoff = now - LOST_GRACE
        if cutoff < self.last_death:
            return  # what the dead one took was dispatched before it died: older than cutoff
        if not any(p.idle_at is not None and p.idle_at < cutoff and not p.retiring
                   for p in self.supervisor.fetchers.values()):
            return
        for entry in self.ledger.unclaimed(cutoff):
            logger.info("request %s was lost with a dead fetcher: requeued", entry.job.url)
            self._retry_lost(entry.job, count_attempt=False)
        self.last_death = None

    def _longest(self, job):
        """The longest a claimed request can take before its outcome: the politeness wait,
        every try to the whole-response timeout, every back-off at its cap, and
        ``hang_margin`` for parsing and spider code. Past it, the request is lost."""
        s = self.settings
        wait = max(0.0, job.not_before - time.time())
        limits = request_limits(job.meta, s) if job.kind == m.PAGE else {}  # Scrapy's meta keys
        return wait + download_budget(limits.get("retries", s.retries), limits.get("timeout", s.timeout)) \
            + s.hang_margin

    def _check_overdue(self, now):
        """No hang, structurally: a request claimed by a live fetcher and without an outcome
        past its deadline is lost. A thread cannot be stopped in Python, so its fetcher is
        killed and replaced; its requests are requeued as for any death, the overdue one
        counting a try (so a page that always hangs is given up after ``poison_limit``)."""
        if now - self._overdue_at < OVERDUE_EVERY:
            return
        self._overdue_at = now
        late = self.ledger.overdue(now)
        for entry in late:
            logger.error("%s: no outcome after %.0f s: taken as lost; its fetcher (pid %d) "
                         "is replaced", entry.job.origin or entry.job.url, self._longest(entry.job),
                         entry.pid)
        if late:
            self.supervisor.kill({e.pid for e in late})

    # -- checkpoints and shutdown ----------------------------------------------------------
    def _checkpoint(self, final=False):
        kv = {"stats": self.stats.as_dict()}
        now = time.time()
        if self.log.due(now):
            self.log.sample(now, self.stats, self._child_pids())
        if final or now - self._log_saved_at >= LOG_SAVE_EVERY:
            self._log_saved_at = now
            kv["crawllog"] = self.report_data(now)["log"]
        if final:
            kv["finished"] = self.stats.finish_reason == "finished"
        self.frontier.flush(kv)
        if self.on_progress is not None:
            self.on_progress(self)

    def _child_pids(self):
        sup = self.supervisor
        if sup is None:
            return ()
        pids = [("fetcher", p.pid) for p in sup.fetchers.values()]
        if sup.writer is not None and sup.writer.pid:
            pids.append(("writer", sup.writer.pid))
        return pids

    def report_data(self, now=None):
        """What the HTML report is made from (scrapepool/report.py): the stats, the crawl log
        and the settings; also saved in the job DB, for ``scrapepool report JOBDIR``."""
        log = self.log.as_dict(now)
        log["settings"] = self.settings.as_report()
        return {"stats": self.stats.as_dict(), "log": log}

    def _maybe_checkpoint(self, now):
        if now - self._ckpt_at >= FLUSH_EVERY:
            self._ckpt_at = now
            self._checkpoint()

    def _shutdown(self):
        """Sentinels -> every Goodbye (or death) -> writer stops -> final commits -> join."""
        self.stopping = True
        sup = self.supervisor
        deadline = time.monotonic() + self.settings.timeout * (self.settings.retries + 1) + JOIN_TIMEOUT
        if not self.force and not self.fatal:
            for proc in sup.fetchers.values():
                if not proc.retiring:  # a retiring fetcher takes no sentinel
                    self.job_queue.put_now(None)
            while sup.fetchers and not self.force and time.monotonic() < deadline:
                self._wait(0.2)
                if self.fatal and isinstance(self.fatal, WriterDied):
                    break
                self._maybe_checkpoint(time.monotonic())
        if self.force or self.fatal or sup.fetchers:
            self.kill_all()
        else:
            self._stop_writer(deadline)
        self.frontier.flush()
        # Whatever the writer did not commit is cut: a torn last line never stays.
        self.committed_offset = self.job.db.get("output_offset", self.committed_offset)
        if self.force or self.fatal:
            end = self.frontier.output_end(self.committed_offset)
            if end is not None:
                cut_output(self.settings.output, end)

    def _stop_writer(self, deadline):
        sup = self.supervisor
        try:
            sup.control.send(m.Stop())
        except OSError:
            pass
        end = max(deadline, time.monotonic() + JOIN_TIMEOUT)
        while sup.writer.is_alive() and time.monotonic() < end and not self.force:
            wait([sup.control, sup.writer.sentinel], 0.2)
            self._read_writer()
        self._read_writer()
        sup.writer.join(1)
        if sup.writer.is_alive():
            self.kill_all()
        elif sup.writer.exitcode != 0 and not self.fatal:
            self.fatal = WriterDied(sup.writer.exitcode)

    def _finish(self):
        if self.fatal:
            self.stats.finish_reason = "failed"
        elif self.stop_signal is not None or self.force:
            self.stats.finish_reason = "interrupted"
        elif self.closing is not None:
            self.stats.finish_reason = self.closing
        elif self.ledger or self.frontier.pending:
            self.stats.finish_reason = "incomplete"
        else:
            self.stats.finish_reason = "finished"
        # Spider.closed(reason), once per crawl, here where Scrapy's spider_closed fires: the
        # coordinator's spider (fetchers' spiders never get it). Before the stats are final,
        # so an exception counts as one spider error.
        try:
            closed = getattr(self.spider, "closed", None)
            if callable(closed):
                closed(self.stats.finish_reason)
        except BaseException as exc:  # noqa: B036 - sys.exit() in spider code too
            logger.warning("spider error in closed(): %s: %s", type(exc).__name__, exc)
            self.stats.spider_errors += 1
        db = self.job.db
        self.stats.robots_refused = self.frontier.robots_refused
        self.stats.requests = self.frontier.admitted
        self.stats.records = db.get("output_records", self.stats.records)
        # The writer's notes on the fields it could not write as given.
        self.stats.dropped_fields = report_notes(db, self.settings.output)
        self.stats.finish(self.stats.finish_reason)
        self.log.sample(time.time(), self.stats, self._child_pids())
        self._checkpoint(final=True)
        db.close()
        if self.settings.report:
            write_report_file(self.settings.report, self.report_data())
        if self.job_queue is not None:
            self.job_queue.close()
        if self.fatal:
            raise self.fatal
        return self.stats.as_dict()
