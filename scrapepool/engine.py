"""The engine: the coordinator loop that runs a crawl across processes.

Data flow::

                     +---------------- coordinator (this process) ----------------+
                     | Frontier: seen set, pending heap (spills to the job DB),     |
                     | per-host politeness and robots.txt; in-flight table;         |
                     | job DB (SQLite, WAL) written ahead; stats; signals           |
                     +------+----------------------------------------^----^-------+
        Job tuples          |  multiprocessing.Queue                 |    | control Pipe (duplex):
        (bounded window)    v  (one None per fetcher to stop)        |    | W_COMMITTED, W_FAILED
               +---------------------+ ... +---------------------+   |    |
               | fetcher 1 (threads) |     | fetcher N (threads) |---+    |
               +----------+----------+     +----------+----------+ events Pipe, one per fetcher:
                          | records Pipe, one per fetcher             CLAIMED, OUTCOME(+children),
                          v                                            IDLE, GOODBYE
               +---------------------------------------------------+    |
               | writer: appends records, commits offsets to the   |----+
               | job DB, drops a request it committed before        |
               +---------------------------------------------------+

The coordinator touches the network never. It is single-threaded around one
``multiprocessing.connection.wait()`` over every events pipe, the writer's
control pipe, every process sentinel and a timeout.

A request's life: admitted (written ahead) -> dispatched into the Queue ->
CLAIMED by a fetcher -> OUTCOME (its children admitted in the same DB
transaction) -> COMMITTED by the writer. A redirect is not an outcome: the
request goes back to the frontier for its next hop (robots.txt, delay). It is
done only when it has both an outcome and a commit; termination is "nothing pending, nothing in flight",
counted here, never read from the Queue.

Faults: a fetcher whose sentinel fires without a GOODBYE died; its claimed,
unfinished requests go back to the frontier (a poison page is given up after
``poison_limit`` deaths) and a replacement starts. Requests taken from the
Queue whose CLAIMED never left the dead process are found when every live
fetcher has since reported the Queue empty (IDLE). The writer dying is fatal;
the job DB and the output stay consistent for a resume.

No hang: a fetcher answers every job it claims, whatever fails in it (an error
outcome, kind ``internal``); and should a thread never come back, a claimed
request without an outcome past the longest it can take (``_longest``) is
lost: its fetcher is killed and handled as a death. A fetcher past
``max_memory_mb`` sends RETIRE, takes no new job, finishes its own and says
GOODBYE; its replacement starts at once. CloseSpider in a callback (OUTCOME
info) stops dispatching; the requests in flight finish and are written.
"""

import logging
import os
import select
import shutil
import signal
import tempfile
import time
from urllib.parse import urlsplit
from multiprocessing.connection import wait
from multiprocessing.reduction import send_handle

from . import _messages as m
from .cookies import CookieJars, jar_key
from .downloader import redirect_request
from .exceptions import JobDirError, ScrapepoolError, UsageError, WriterDied, describe_exit
from .exporters import check_output, cut_output
from .fetcher import run_fetcher
from .frontier import Frontier
from .http import _callback_name
from .jobdb import JobDB
from .jobqueue import MAX_QUEUED_BYTES, JobQueue
from .records import to_plain
from .settings import RETRY_AFTER_MAX
from .spider import load_spider, spider_ref
from .stats import Stats
from .urls import DomainFilter, canonical, check_seed_url, fingerprint, host_key
from .writer import run_writer

logger = logging.getLogger("scrapepool")

#: Seconds between two write-ahead flushes of the coordinator's state.
FLUSH_EVERY = 0.1
#: Seconds to wait for processes at the end before terminating them.
JOIN_TIMEOUT = 10.0
#: A fetcher must report the Queue empty this long after a death before
#: unclaimed requests are taken as lost with it.
LOST_GRACE = 0.5


class _StartInterrupted(Exception):
    """A signal arrived while the start requests were read or admitted."""


class _Flight:
    """A request handed out and not done yet."""

    __slots__ = ("job", "pid", "outcome", "committed", "dispatched", "size", "deadline")

    def __init__(self, job, now):
        self.size = 0
        self.job = job
        self.pid = None
        self.outcome = False
        self.committed = False
        self.dispatched = now
        #: Monotonic time by which a claimed request must have its outcome (see _check_stuck).
        self.deadline = None


class _Proc:
    __slots__ = ("process", "events", "goodbye", "idle_at", "index", "current", "retiring")

    def __init__(self, process, events, index):
        self.process = process
        self.events = events
        self.goodbye = False
        #: Past its memory budget: it finishes its requests and exits; a replacement runs.
        self.retiring = False
        self.idle_at = 0.0
        self.index = index


class _Waiter:
    """``multiprocessing.connection.wait`` with a poll object kept between calls.

    ``wait()`` builds and fills a new selector on every call; the coordinator
    waits several times per page, so it keeps one and changes it only when a
    process starts or ends.
    """

    def __init__(self):
        self.poll = select.poll()
        self.objects = {}

    def add(self, obj, handler):
        """Call ``handler()`` when ``obj`` (a Connection or a sentinel) is ready."""
        fd = obj if isinstance(obj, int) else obj.fileno()
        self.objects[fd] = handler
        self.poll.register(fd, select.POLLIN)

    def remove(self, obj):
        fd = obj if isinstance(obj, int) else obj.fileno()
        if self.objects.pop(fd, None) is not None:
            self.poll.unregister(fd)

    def wait(self, timeout):
        """The handlers of what is ready within ``timeout`` seconds."""
        try:
            events = self.poll.poll(max(0, timeout) * 1000)
        except InterruptedError:
            return []
        return [self.objects[fd] for fd, _ in events if fd in self.objects]


class Engine:
    """Runs one crawl. Use as a context manager: leaving it always stops every child."""

    def __init__(self, spider=None, seeds=(), settings=None, on_progress=None):
        from .settings import Settings

        self.settings = settings or Settings()
        self.spider_cls = load_spider(spider)
        self.spider_ref = spider_ref(self.spider_cls) if spider is not None else None
        self.spider = self.spider_cls(**self.settings.spider_kwargs)
        self.seeds = list(seeds)
        self.on_progress = on_progress
        self.ctx = None
        self.stats = Stats()
        self.fetchers = {}
        self.inflight = {}
        self.in_queue = 0
        self.queued_bytes = 0
        self.writer = None
        self.control = None
        self.stop_signal = None
        self.force = False
        self.fatal = None
        self.crashes = 0
        self.last_death = None
        self.temp_dir = None
        self.committed_offset = None
        self.job_queue = None
        self.stopping = False
        self._ckpt_at = 0.0
        self.waiter = _Waiter()
        self.jars = CookieJars()
        #: The reason a spider gave with CloseSpider (None: not closing).
        self.closing = None
        #: Set on the first signal: fetchers start no retry and wait out no back-off.
        self.stop_event = None
        #: req_ids taken as lost while their fetcher lived (it is killed; they count a try).
        self.stuck = set()
        #: host -> robots.txt fetches lost with a fetcher.
        self.robots_losses = {}
        self._stuck_at = 0.0
        self._old_handlers = {}

    # -- context management ----------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill_all()
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        return False

    # -- set-up ----------------------------------------------------------------------------
    def _start_requests(self):
        """Seeds and the spider's start requests, as (url, Request) pairs, checked."""
        from .http import Request

        out = []
        for url in self.seeds:
            out.append(Request(url))
        try:
            for i, req in enumerate(self.spider.start_requests() or ()):
                if i % 1024 == 0:
                    self._check_start_signal()
                if isinstance(req, str):
                    req = Request(req)
                out.append(req)
        except _StartInterrupted:
            raise
        except Exception as exc:
            raise UsageError(f"{type(self.spider).__name__}.start_requests failed: "
                             f"{type(exc).__name__}: {exc}") from None
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
        s = self.settings
        # The seeds' own sites are always allowed; --allow-domain and Spider.allowed_domains
        # widen that (a seed outside allowed_domains would otherwise end the crawl at once).
        entries = sorted({host_key(r.url) for r in requests})
        entries += list(s.allowed_domains) + list(getattr(self.spider, "allowed_domains", ()) or ())
        return entries

    def _open_job(self, requests):
        """Open (or create) the job DB; returns True when this run resumes a job."""
        s = self.settings
        identity = {"spider": self.spider_ref or "builtin:SiteSpider",
                    "seeds": sorted({r.url for r in requests}),
                    "output": os.path.abspath(s.output) if s.output != "-" else "-"}
        if s.job_dir:
            folder = s.job_dir
            if os.path.exists(folder) and not os.path.isdir(folder):
                raise JobDirError(f"job dir {folder} is not a folder")
            if s.restart and os.path.isdir(folder):
                for name in os.listdir(folder):
                    if name.startswith("job.sqlite"):
                        os.remove(os.path.join(folder, name))
            durable = True
        else:
            folder = self.temp_dir = tempfile.mkdtemp(prefix="scrapepool-job-")
            durable = False
        try:
            self.db = JobDB(folder, durable)
        except Exception as exc:
            raise JobDirError(f"cannot use job dir {folder}: {exc}") from None
        old = self.db.get("identity")
        self.identity = identity
        if old is None:
            return False
        for key, what in (("spider", "spider"), ("seeds", "seeds"), ("output", "output")):
            if old.get(key) != identity[key]:
                raise JobDirError(
                    f"job dir {folder} belongs to another crawl (its {what} differs); "
                    "use --restart to start it over, or another --job-dir")
        return True

    # -- the run ---------------------------------------------------------------------------
    def run(self):
        """Run the crawl to its end; returns the stats dict.

        Signals are the engine's from the first instant: a Ctrl-C while the start
        requests are read or admitted (a million seeds take seconds) stops here,
        before anything is made durable, so the same command starts afresh.
        """
        self._install_signals()
        try:
            return self._run()
        except _StartInterrupted:
            logger.warning("%s received during start-up: stopped before the crawl began",
                           signal.Signals(self.stop_signal).name)
            self.stats.finish("interrupted")
            if getattr(self, "db", None) is not None:
                self.db.close()
            return self.stats.as_dict()
        finally:
            self._restore_signals()

    def _check_start_signal(self):
        if self.stop_signal is not None:
            raise _StartInterrupted()

    def _run(self):
        s = self.settings
        requests = self._start_requests()
        if not requests and not (s.job_dir and os.path.isdir(s.job_dir)):
            raise UsageError("no valid start URL: give seeds or set start_urls on the spider")
        check_output(s.output)
        resume = self._open_job(requests)
        if not requests and not resume:
            raise UsageError("no valid start URL: give seeds or set start_urls on the spider")
        self.allowed = self._domains(requests)
        domains = DomainFilter(self.allowed)
        self.frontier = Frontier(self.db, s, domains)
        if resume:
            self.stats.load(self.db.get("stats") or {})
            if self.db.get("finished"):
                logger.warning("this job has already finished: nothing to do "
                               "(use --restart to crawl again)")
                self.stats.finish("already finished")
                return self.stats.as_dict()
            todo = self.frontier.resume()
            logger.warning("resuming the job in %s: %d requests to go", s.job_dir, todo)
        else:
            for i, req in enumerate(requests):
                if i % 1024 == 0:
                    self._check_start_signal()
                self._admit_start(req)
            self._check_start_signal()
            # The identity is written with the seeds, in one transaction: a job interrupted
            # before this point has nothing on disk, and starts afresh next time.
            self.frontier.flush({"identity": self.identity})
        self.committed_offset = self.db.get("output_offset")
        self.jars = CookieJars(self.db.get("cookies") if resume else None)
        self.ctx = __import__("multiprocessing").get_context(s.start_method)
        self.stop_event = self.ctx.Event()
        self._start_writer()
        self.job_queue = JobQueue(self.ctx)
        for i in range(s.workers):
            self._start_fetcher(i)
        self._loop()
        self._shutdown()
        return self._finish()

    def _admit_start(self, req):
        canon = canonical(req.url)
        cb = _callback_name(self.spider, req.callback)
        eb = _callback_name(self.spider, req.errback, "errback") if req.errback else None
        fp = fingerprint(canon, req.method, req.body)
        self.frontier.admit(fp, req.url, req.method, req.headers, req.body, cb, req.meta or None,
                            req.priority, req.dont_filter, eb, depth=0)

    # -- processes -------------------------------------------------------------------------
    def _spawn(self, target, args, name):
        # Children must ignore SIGINT from the first instant (Ctrl-C reaches the whole
        # process group): set SIG_IGN around start() so that they inherit it (STYLE.md, trap 7).
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        old_term = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            proc = self.ctx.Process(target=target, args=args, name=name)
            proc.start()
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
        return proc

    def _start_writer(self):
        self.control, child = self.ctx.Pipe(duplex=True)
        self.writer = self._spawn(run_writer, (child, self.settings.output, os.path.dirname(self.db.path),
                                               self.db.durable, self.settings.fields,
                                               not self.settings.overwrite_output), "scrapepool-writer")
        child.close()
        self.waiter.add(self.control, self._read_writer)
        self.waiter.add(self.writer.sentinel, self._writer_exited)

    def _cpu_for(self, index):
        """The CPU fetcher ``index`` keeps to, or None (see ``Settings.pin_cpus``).

        The fetchers go round the CPUs this process may use, starting at one picked by
        pid, so that two crawls of one fetcher each do not both land on the first CPU.
        A fetcher that is restarted keeps its index, and so its CPU.
        """
        if not self.settings.pin_cpus or not hasattr(os, "sched_getaffinity"):
            return None
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            return None
        return cpus[(os.getpid() + index) % len(cpus)]

    def _start_fetcher(self, index):
        events_r, events_w = self.ctx.Pipe(duplex=False)
        records_r, records_w = self.ctx.Pipe(duplex=False)
        current = self.ctx.RawValue("q", 0)
        proc = self._spawn(run_fetcher, (self.job_queue, events_w, records_w, self.spider_ref,
                                         self.settings, self.allowed, current, self._cpu_for(index),
                                         self.stop_event),
                           f"scrapepool-fetcher-{index}")
        events_w.close()
        records_w.close()
        # Hand the read end of the records pipe to the writer (SCM_RIGHTS over the control socket).
        self.control.send((m.W_PIPE,))
        send_handle(self.control, records_r.fileno(), self.writer.pid)
        records_r.close()
        record = self.fetchers[proc.sentinel] = _Proc(proc, events_r, index)
        record.current = current
        self.waiter.add(events_r, lambda: self._read_events(record))
        self.waiter.add(proc.sentinel, lambda: self._fetcher_exited(proc.sentinel))

    # -- signals ---------------------------------------------------------------------------
    def _install_signals(self):
        self._old_handlers = {}
        self.stop_signal = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: the caller handles signals
                pass

    def _restore_signals(self):
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame):
        # Only set flags here: logging inside a signal handler can deadlock on the stream.
        if self.stop_signal is None:
            self.stop_signal = signum
        else:
            self.force = True

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
                    self.stop_event.set()
                    name = signal.Signals(self.stop_signal).name
                    logger.warning("%s received: finishing the requests in flight "
                                   "(Ctrl-C again to stop at once)", name)
                self.stats.finish_reason = "interrupted"
                return
            if self.closing is None:
                if self.in_queue < window:
                    self._dispatch(window)
                if not self.inflight and self.frontier.pending == 0:
                    return
            elif not self.inflight:
                return
            self._maybe_checkpoint(now)
            self._check_lost()
            self._check_stuck(now)
            self._wait(self._timeout())

    def _timeout(self):
        due = self.frontier.next_due(time.time()) if self.frontier.polite else None
        return min(FLUSH_EVERY, due) if due is not None else FLUSH_EVERY

    def _dispatch(self, window):
        now_wall = time.time()
        now = time.monotonic()
        while self.in_queue < window and self.queued_bytes < MAX_QUEUED_BYTES:
            job = self.frontier.next_job(now_wall)
            while self.frontier.refused_hops:
                hop = self.frontier.refused_hops.pop()
                self._give_up(hop, f"redirect to {hop.url} forbidden by robots.txt", "robots",
                              final_url=(hop.origin, *hop.hops)[-2])
            if job is None:
                return
            self.frontier.make_durable(job.req_id)
            if self.jars and job.kind == m.PAGE:
                host = urlsplit(job.url).hostname or ""
                job = job._replace(cookies=self.jars.for_host(jar_key(job.meta), host))
            flight = self.inflight[job.req_id] = _Flight(job, now)
            flight.size = self.job_queue.put_now(job)
            self.queued_bytes += flight.size
            self.in_queue += 1

    def _wait(self, timeout):
        for handler in self.waiter.wait(timeout):
            handler()

    def _writer_exited(self):
        self._read_writer()
        self.waiter.remove(self.writer.sentinel)
        self.writer.join(1)
        if not self.fatal:
            self.fatal = WriterDied(self.writer.exitcode)

    def _read_events(self, proc):
        conn = proc.events
        try:
            while conn.poll():
                self._on_event(proc, conn.recv())
        except (EOFError, OSError):
            pass  # its sentinel tells the rest

    def _on_event(self, proc, msg):
        kind = msg[0]
        if kind == m.OUTCOME:
            self._on_outcome(*msg[1:])
        elif kind == m.CLAIMED:
            flight = self.inflight.get(msg[1])
            if flight is not None and flight.pid is None:
                flight.pid = proc.process.pid
                flight.deadline = time.monotonic() + self._longest(flight.job)
                self.in_queue -= 1
                self.queued_bytes -= flight.size
        elif kind == m.IDLE:
            proc.idle_at = time.monotonic()
        elif kind == m.GOODBYE:
            proc.goodbye = True
        elif kind == m.RETIRE:
            proc.retiring = True
            self.stats.fetchers_replaced += 1
            logger.info("fetcher %d (pid %d) uses %d MB, past max-memory-mb (%s): replaced",
                        proc.index, proc.process.pid, msg[1], self.settings.max_memory_mb)
            if not self.stopping and self.stop_signal is None and not self.fatal:
                self._start_fetcher(proc.index)
        elif kind == m.FATAL:
            self.fatal = ScrapepoolError(msg[1])

    def _on_outcome(self, req_id, status, error, kind, children, info):
        flight = self.inflight.get(req_id)
        if flight is None or flight.outcome:
            return  # a duplicate (the request was run twice after a crash)
        job = flight.job
        self.frontier.host_done(job.url, info.get("started"))
        if job.kind == m.ROBOTS:
            del self.inflight[req_id]
            self.frontier.robots_arrived(job.url, status, info.get("robots"))
            return
        if "cookies" in info:
            self.jars.update(jar_key(job.meta), info["cookies"])
            self.frontier.kv_pending["cookies"] = self.jars.to_json()
        if kind == "interrupted":
            # Stopped by a signal before a retry: not an outcome; the request stays
            # pending in the job DB, and a resume tries it again.
            del self.inflight[req_id]
            self.frontier.requeue(job, job.attempt)
            return
        if "redirect" in info:
            self._on_redirect(job, info, status)
            return
        if "close_spider" in info and self.closing is None:
            self.closing = info["close_spider"]
            logger.warning("the spider closed the crawl on %s: %s; finishing the requests in flight",
                           job.url, self.closing)
        flight.outcome = True
        frontier = self.frontier
        depth = job.depth + 1
        for child in children:
            frontier.admit(*child[:9], errback=child[9], depth=depth)
        frontier.record_outcome(req_id)
        self.stats.outcome(status, kind, info)
        for text in info.get("spider_errors", ()):
            logger.warning("spider error on %s: %s", job.url, text)
        if error is not None:
            logger.info("%s: %s", job.url, error)
        if flight.committed:
            del self.inflight[req_id]

    def _on_redirect(self, job, info, status):
        """Schedule a redirect's next hop: the same request, now for another URL.

        The hop is not written ahead: after a crash the request starts again from
        the URL first requested. Its URL counts as seen at once, so a link to it found
        meanwhile is not fetched again. Its method, headers and body are
        ``redirect_request``'s: a POST turned into a GET leaves its body and body
        headers, and credentials never go on to another origin.
        """
        del self.inflight[job.req_id]
        url, method, headers, body = redirect_request(status, job.method, job.headers, job.body,
                                                      job.url, info["redirect"][0])
        fp = fingerprint(canonical(url), method, body)
        self.stats.redirects += 1
        self.stats.retries += info.get("retries", 0)
        if not job.dont_filter and fp in self.frontier.seen:
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
        self.frontier.redirect(job, url, method, body, headers)

    def _read_writer(self):
        try:
            while self.control.poll():
                msg = self.control.recv()
                if msg[0] == m.W_COMMITTED:
                    _, ids, n_records, offset = msg
                    self.committed_offset = offset
                    self.stats.records += n_records
                    for req_id in ids:
                        flight = self.inflight.get(req_id)
                        if flight is None:
                            continue
                        flight.committed = True
                        if flight.outcome:
                            del self.inflight[req_id]
                elif msg[0] == m.W_FAILED:
                    self.fatal = ScrapepoolError(f"cannot write the output: {msg[1]}")
        except (EOFError, OSError):
            pass

    def _fetcher_exited(self, sentinel):
        proc = self.fetchers.pop(sentinel)
        self._read_events(proc)
        self.waiter.remove(proc.events)
        self.waiter.remove(sentinel)
        proc.process.join(1)
        proc.events.close()
        if proc.goodbye:
            return
        pid, code = proc.process.pid, proc.process.exitcode
        self.crashes += 1
        self.stats.fetcher_crashes += 1
        self.last_death = time.monotonic()
        logger.error("fetcher %d (pid %d) died: %s", proc.index, pid, describe_exit(code))
        # Only the request whose spider code was running counts a try against it: the
        # others were merely downloading beside it in the same process.
        suspect = proc.current.value
        for req_id, flight in list(self.inflight.items()):
            if flight.pid != pid or flight.outcome:
                continue
            stuck = req_id in self.stuck
            self.stuck.discard(req_id)
            self._retry_lost(req_id, flight, count_attempt=req_id == suspect or stuck,
                             kind="lost" if stuck else "poison")
        if not self.stopping and self.stop_signal is None and not self.fatal:
            if self.crashes > 20 + 10 * self.settings.workers:
                self.fatal = ScrapepoolError(f"fetchers keep dying ({self.crashes} deaths): giving up")
            else:
                self._start_fetcher(proc.index)

    def _retry_lost(self, req_id, flight, count_attempt, kind="poison"):
        job = flight.job
        del self.inflight[req_id]
        if flight.pid is None:
            self.in_queue -= 1
            self.queued_bytes -= flight.size
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
        flight = _Flight(job, time.monotonic())
        flight.pid = -1
        flight.outcome = True
        self.inflight[job.req_id] = flight
        self.frontier.record_outcome(job.req_id)
        self.stats.outcome(status, kind, {})
        self.control.send((m.W_RECORDS, job.req_id, records))

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
        """Requests taken from the Queue by a fetcher that died before it could claim them."""
        if self.last_death is None or not self.fetchers:
            return
        cutoff = self.last_death + LOST_GRACE
        if any(p.idle_at < cutoff for p in self.fetchers.values()):
            return
        for req_id, flight in list(self.inflight.items()):
            if flight.pid is None and flight.dispatched + LOST_GRACE < min(
                    p.idle_at for p in self.fetchers.values()) and flight.dispatched < self.last_death:
                logger.info("request %s was lost with a dead fetcher: requeued", flight.job.url)
                self._retry_lost(req_id, flight, count_attempt=False)
        self.last_death = None

    def _longest(self, job):
        """The longest a claimed request can take before its outcome: the politeness wait,
        every try to the whole-response timeout, every back-off at its cap, and
        ``hang_margin`` for parsing and spider code. Past it, the request is lost."""
        s = self.settings
        wait = max(0.0, job.not_before - time.time())
        return wait + (s.retries + 1) * s.timeout + s.retries * RETRY_AFTER_MAX + s.hang_margin

    def _check_stuck(self, now):
        """No hang, structurally: a request claimed by a live fetcher and without an outcome
        past its deadline is lost. A thread cannot be stopped in Python, so its fetcher is
        killed and replaced; its requests are requeued as for any death, the stuck one
        counting a try (so a page that always hangs is given up after ``poison_limit``)."""
        if now - self._stuck_at < 1.0:
            return
        self._stuck_at = now
        doomed = set()
        for req_id, flight in self.inflight.items():
            if (flight.deadline is not None and not flight.outcome and now > flight.deadline
                    and req_id not in self.stuck and flight.pid is not None):
                logger.error("%s: no outcome after %.0f s: taken as lost; its fetcher (pid %d) "
                             "is replaced", flight.job.origin or flight.job.url,
                             self._longest(flight.job), flight.pid)
                self.stuck.add(req_id)
                doomed.add(flight.pid)
        for proc in self.fetchers.values():
            if proc.process.pid in doomed:
                proc.process.kill()

    def _checkpoint(self, final=False):
        kv = {"stats": self.stats.as_dict()}
        if final:
            kv["finished"] = self.stats.finish_reason == "finished"
        self.frontier.flush(kv)
        if self.on_progress is not None:
            self.on_progress(self)

    # -- shutdown --------------------------------------------------------------------------
    def _shutdown(self):
        """Sentinels -> every GOODBYE (or death) -> writer stops -> final commits -> join."""
        self.stopping = True
        deadline = time.monotonic() + self.settings.timeout * (self.settings.retries + 1) + JOIN_TIMEOUT
        if not self.force and not self.fatal:
            for proc in self.fetchers.values():
                if not proc.retiring:  # a retiring fetcher takes no sentinel
                    self.job_queue.put_now(None)
            while self.fetchers and not self.force and time.monotonic() < deadline:
                self._wait(0.2)
                if self.fatal and isinstance(self.fatal, WriterDied):
                    break
                self._maybe_checkpoint(time.monotonic())
        if self.force or self.fatal or self.fetchers:
            self.kill_all()
        else:
            self._stop_writer(deadline)
        self.frontier.flush()
        # Whatever the writer did not commit is cut: a torn last line never stays.
        self.committed_offset = self.db.get("output_offset", self.committed_offset)
        if self.force or self.fatal:
            cut_output(self.settings.output, self.committed_offset)

    def _maybe_checkpoint(self, now):
        if now - self._ckpt_at >= FLUSH_EVERY:
            self._ckpt_at = now
            self._checkpoint()

    def _stop_writer(self, deadline):
        try:
            self.control.send((m.W_STOP,))
        except OSError:
            pass
        end = max(deadline, time.monotonic() + JOIN_TIMEOUT)
        while self.writer.is_alive() and time.monotonic() < end and not self.force:
            wait([self.control, self.writer.sentinel], 0.2)
            self._read_writer()
        self._read_writer()
        self.writer.join(1)
        if self.writer.is_alive():
            self.kill_all()
        elif self.writer.exitcode != 0 and not self.fatal:
            self.fatal = WriterDied(self.writer.exitcode)

    def kill_all(self):
        """Stop every child now: terminate, then kill (they ignore SIGTERM while working)."""
        procs = [p.process for p in self.fetchers.values()]
        if self.writer is not None:
            procs.append(self.writer)
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for proc in procs:
            proc.join(2)
        self.fetchers.clear()
        if getattr(self, "job_queue", None) is not None:
            self.job_queue.cancel_join_thread()
            self.job_queue.close()

    def _finish(self):
        if self.fatal:
            self.stats.finish_reason = "failed"
        elif self.stop_signal is not None or self.force:
            self.stats.finish_reason = "interrupted"
        elif self.closing is not None:
            self.stats.finish_reason = self.closing
        elif self.inflight or self.frontier.pending:
            self.stats.finish_reason = "incomplete"
        else:
            self.stats.finish_reason = "finished"
        self.stats.robots_refused = self.frontier.robots_refused
        self.stats.requests = self.frontier.admitted
        self.stats.records = self.db.get("output_records", self.stats.records)
        from .writer import report_notes  # the writer's notes on fields it could not write as given

        self.stats.dropped_fields = report_notes(self.db, self.settings.output)
        self.stats.finish(self.stats.finish_reason)
        self._checkpoint(final=True)
        self.db.close()
        if self.job_queue is not None:
            self.job_queue.close()
        if self.fatal:
            raise self.fatal
        return self.stats.as_dict()
