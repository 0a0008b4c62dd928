"""The fetcher process: download, parse, run the spider, report.

This module's ``run_fetcher`` is run in a separate process, N of them. Each
has one *intake* thread (the process's main thread), the only one that reads
the shared job queue, and C worker threads with a ``requests.Session`` each::

    job queue --intake--> local queue --> worker threads: fetch, parse, spider callback
                  |                             |                 |
             CLAIMED (events pipe)        records pipe       OUTCOME + children (events pipe)
                                            (writer)             (coordinator)

One reader per process means one sentinel stops exactly one process, and a
job is taken only when a worker thread is free, so no fetcher hoards work
that another could do. Fetchers hold no crawl state: everything they know
arrives in the Job tuple.
"""

import contextlib
import gc
import logging
import math
import os
import queue
import signal
import sys
import threading
import time
import traceback
import types

from .. import _messages as m
from .._exit import hard_exit
from .._profile import profiled as _profiled
from ..exceptions import CloseSpider, PageTooLarge
from ..settings import MAX_SECONDS
from ..spiders.http import (
    CB_KWARGS_KEY,
    Failure,
    Request,
    Response,
    _callback_name,
    failure_value,
    split_cb_kwargs,
)
from ..spiders.loading import load_spider
from ..spiders.pipelines import PipelineRunner
from ..spiders.records import RecordError, is_record, to_plain
from ..urls import DomainFilter, canonical, fingerprint
from .downloader import REDIRECT_STATUSES, Downloader, redirect_method, redirect_target

logger = logging.getLogger("scrapepool.fetcher")

#: Allocations between two automatic young collections while a callback runs (the default
#: is 700); see :func:`_collect_after_page`.
CALLBACK_GC_THRESHOLD = 50_000
#: Seconds without a job before the fetcher tells the coordinator it is idle.
IDLE_AFTER = 0.3
#: Links remembered as sent (see ``Fetcher.child``); then the memory starts over.
SENT_CAP = 5000


class Fetcher:
    """The state of one fetcher process."""

    def __init__(self, job_queue, events, records, spider, settings, domains, pipelines, cache=None,
                 current=None, stop=None):
        #: Shared with the coordinator: the req_id whose spider code runs now (0: none).
        self.current = current if current is not None else _Slot()
        #: The HTTP cache (``--http-cache``), or None.
        self.cache = cache
        self.job_queue = job_queue
        self.events = events
        self.records = records
        self.events_lock = threading.Lock()
        self.records_lock = threading.Lock()
        self.spider = spider
        self.settings = settings
        self.domains = domains
        self.pipelines = pipelines
        #: Set by the coordinator on the first Ctrl-C: no retry starts, no back-off is waited.
        self.stop = stop if stop is not None else threading.Event()
        #: Set when this process has grown past ``max_memory_mb``: it takes no new job,
        #: finishes the ones it holds, and the coordinator starts its replacement.
        self.retire = threading.Event()
        self.local = queue.Queue()
        self.slots = threading.Semaphore(settings.concurrency)
        #: One thread of a process parses at a time. Interleaving C threads' BeautifulSoup
        #: parses costs far more CPU than running them one after another (measured: 23 ms
        #: instead of 9 ms per page with -c 16): each parse's tree thrashes the others' cache,
        #: and the GIL hands off between them constantly. Downloads stay concurrent.
        self.cpu_lock = threading.Lock()
        #: (canonical URL, or (canonical URL, method, body) but for a GET without a body) ->
        #: (depth, req_id) of the links this process has sent the coordinator, so that a link
        #: every page repeats crosses the process boundary once, not once per page.
        self.sent = {}

    def send_event(self, msg):
        """Send to the coordinator; a pipe that is gone raises :class:`_ChannelClosed`."""
        try:
            with self.events_lock:
                self.events.send(msg)
        except (OSError, EOFError) as exc:
            raise _ChannelClosed() from exc

    def send_records(self, req_id, records):
        """Send a request's records to the writer (pickled here: a record that cannot be
        pickled raises before a byte is written, so the pipe stays whole)."""
        try:
            with self.records_lock:
                self.records.send(m.Records(req_id, records))
        except (OSError, EOFError) as exc:
            raise _ChannelClosed() from exc

    def run(self):
        parent = os.getppid()
        threads = [threading.Thread(target=self.work, name=f"fetch-{i}", daemon=True)
                   for i in range(self.settings.concurrency)]
        for t in threads:
            t.start()
        idle_sent = False
        try:
            while True:
                if not self.slots.acquire(timeout=1.0):
                    if os.getppid() != parent:
                        return
                    continue
                if self.retire.is_set():
                    self.slots.release()
                    self.send_event(m.Retire(_rss_mb()))
                    break
                job = None
                waited = 0.0
                while True:
                    try:
                        job = self.job_queue.take(IDLE_AFTER)
                        break
                    except queue.Empty:
                        if self.retire.is_set():
                            break
                        waited += IDLE_AFTER
                        if os.getppid() != parent:
                            return  # the coordinator is gone: nobody to report to
                        if not idle_sent:
                            self.send_event(m.Idle())
                            idle_sent = True
                if job is None:
                    self.slots.release()
                    if self.retire.is_set():
                        self.send_event(m.Retire(_rss_mb()))
                    break
                idle_sent = False
                self.send_event(m.Claimed(job.req_id))
                self.local.put(job)
        finally:
            for _ in threads:
                self.local.put(None)
            deadline = time.monotonic() + self.settings.timeout * (self.settings.retries + 2) + 5
            for t in threads:
                t.join(max(0.1, deadline - time.monotonic()))
            self.pipelines.close()
        self.send_event(m.Goodbye())

    def work(self):
        with _profiled(f"fetcher-{os.getpid()}-{threading.current_thread().name}"):
            self._work()

    def _work(self):
        downloader = Downloader(self.settings, self.domains, self.stop)
        # Spider.default_headers: below --header and each request's own headers.
        spider_headers = getattr(self.spider, "default_headers", None) or {}
        downloader.session.headers.update(
            {k: v for k, v in spider_headers.items() if k not in dict(self.settings.headers)})
        try:
            while True:
                job = self.local.get()
                if job is None:
                    return
                try:
                    self.handle(job, downloader)
                except _ChannelClosed:
                    return  # the coordinator or the writer is gone
                except BaseException as exc:  # noqa: B036 - SystemExit from spider code too
                    try:
                        self.fail(job, exc)
                    except _ChannelClosed:
                        return
                    except BaseException:  # noqa: B036 - the coordinator's deadline takes over
                        pass
                finally:
                    budget = self.settings.max_memory_mb
                    if budget and not self.retire.is_set() and _rss_mb() > budget:
                        self.retire.set()
                    self.slots.release()
        finally:
            downloader.close()

    # -- one job ---------------------------------------------------------------------------
    def fail(self, job, exc):
        """The last resort when ``handle`` raised: the request still gets its outcome.

        As CPython's process pool answers every work item, whatever fails: the error
        becomes the request's outcome (kind ``internal``, counted in the stats) and the
        spider's error record, so the crawl neither hangs nor loses the request.
        """
        error = f"internal error: {_describe(exc)}"
        info = {"records": 0}
        if job.kind == m.PAGE:
            meta, cb_kwargs = split_cb_kwargs(job.meta)
            failure = {"url": job.origin or job.url, "final_url": job.url, "status": None,
                       "error": error, "kind": "internal", "depth": job.depth, "meta": meta,
                       "cb_kwargs": cb_kwargs}
            records, errors = [], []
            try:
                rec = self.spider.error_record(failure)
                if rec is not None:
                    self.keep(rec, records, errors)
            except BaseException as err:  # noqa: B036
                errors.append(_describe(err))
            if errors:
                info["spider_errors"] = errors
            try:
                self.send_records(job.req_id, records)
                info["records"] = len(records)
            except _ChannelClosed:
                raise
            except BaseException:  # noqa: B036 - the record would not pickle
                self.send_records(job.req_id, [])
        self.send_event(m.Outcome(job.req_id, None, error, "internal", [], info))

    def handle(self, job, downloader):
        result = self.cache.get(job) if self.cache is not None else None
        if result is None:
            cookies = (job.cookies or []) if self.settings.cookies and job.kind == m.PAGE else None
            limits = request_limits(job.meta, self.settings) if job.kind == m.PAGE else {}
            result = downloader.fetch(job.url, job.method, job.headers, job.body, job.not_before,
                                      cookies=cookies, follow_redirects=job.kind == m.ROBOTS, **limits)
            if self.cache is not None and result.error is None:
                self.cache.put(job, result)
        info = {"bytes": len(result.body), "retries": result.retries, "started": result.started,
                "final_url": result.final_url, "latency": getattr(result, "latency", None)}
        if result.kind == "interrupted":  # stopping: the request is left for a resume
            self.send_event(m.Outcome(job.req_id, result.status, result.error, result.kind, [], info))
            return
        if getattr(result, "cookies", None):
            info["cookies"] = result.cookies
        if job.kind == m.ROBOTS:
            if result.error is None and result.status == 200:
                info["robots"] = result.body[:512 * 1024].decode("utf-8", "replace")
            self.send_event(m.Outcome(job.req_id, result.status, result.error, result.kind, [], info))
            return
        error, kind = result.error, result.kind
        location = None
        if result.status in REDIRECT_STATUSES and not _redirect_handled(self.spider, job.meta or {},
                                                                        result.status):
            location = result.headers.get("Location")
        if error is None and location:
            visited = {canonical(u) for u in (job.origin or job.url, *job.hops)}
            target, kind, error = redirect_target(job.url, location, visited, len(job.hops),
                                                  self.domains, self.settings.max_redirects)
            if kind is None:
                # The coordinator schedules the next hop (robots.txt, delay): no record yet.
                info["redirect"] = (target, redirect_method(result.status, job.method))
                self.send_event(m.Outcome(job.req_id, result.status, None, None, [], info))
                return
        records, children = [], []
        spider_errors = []
        if error is None and not _status_handled(self.spider, job.meta or {}, result.status):
            error, kind = f"HTTP {result.status}", f"http_{result.status}"
        with self.cpu_lock:
            # The one request this process is running spider code for: if the process
            # dies now, the coordinator blames this request alone (a poison page), not
            # the others that were downloading beside it.
            self.current.value = job.req_id
            thresholds = _collect_after_page()
            try:
                error, kind = self.run_spider(job, result, error, kind, records, children,
                                              spider_errors, info)
            finally:
                self.current.value = 0
                if thresholds is not None:
                    gc.set_threshold(*thresholds)
                    gc.collect(0)
        info["records"] = len(records)
        try:
            self.send_records(job.req_id, records)
        except _ChannelClosed:
            raise
        except BaseException as exc:  # noqa: B036 - pickling: a record held a live object
            spider_errors.append(f"a record could not be sent: {_describe(exc)}")
            info["records"] = 0
            self.send_records(job.req_id, [])
        if spider_errors:
            info["spider_errors"] = spider_errors
        self.send_event(m.Outcome(job.req_id, result.status, error, kind, children, info))

    def run_spider(self, job, result, error, kind, records, children, spider_errors, info):
        """Callback (or errback / error record) and pipelines; returns the page's (error, kind).

        Sets ``info["dropped"]``, and ``info["close_spider"]`` when the spider raised
        CloseSpider (what it yielded before still counts, as in Scrapy). A page too large
        to parse (PageTooLarge) becomes a failed page: its errback or error record runs."""
        try:
            self._run_spider(job, result, error, kind, records, children, spider_errors, info)
        except CloseSpider as exc:
            info["close_spider"] = str(exc.reason)
        except PageTooLarge as exc:
            # Recorded as a failed page (its error record or errback), not parsed.
            error, kind = str(exc), "too_many_elements"
            self._run_spider(job, result, error, kind, records, children, spider_errors, info)
        dropped = 0
        if records and self.pipelines:
            kept, dropped, errors = self.pipelines.process(records)
            spider_errors.extend(errors)
            records.clear()
            for rec in kept:  # a pipeline may return a new record of any kind
                self.keep(rec, records, spider_errors)
        info["dropped"] = dropped
        return error, kind

    def _run_spider(self, job, result, error, kind, records, children, spider_errors, info):
        origin = job.origin or job.url
        meta, cb_kwargs = split_cb_kwargs(job.meta)
        if job.hops:  # as Scrapy's RedirectMiddleware tells the callback (and the errback)
            meta = {**meta, "redirect_urls": [origin, *job.hops[:-1]]}

        def make_response():
            return build_response(result, self.settings, origin, meta, job.depth, self.spider, cb_kwargs)

        if error is None:
            response = make_response()
            callback = getattr(self.spider, job.callback or "parse")
            try:
                self.run_callback(callback, (response,), job, records, children, spider_errors,
                                  cb_kwargs)
            finally:
                if response.invalid_links:  # malformed links the extractors skipped
                    info["invalid_links"] = response.invalid_links
        else:
            failure = {"url": origin, "final_url": result.final_url, "status": result.status,
                       "error": error, "kind": kind, "depth": job.depth, "meta": meta,
                       "cb_kwargs": cb_kwargs}
            if job.errback:
                # As Scrapy's: the dict above is also a Failure with .request, .value, .check().
                http_error = kind is not None and kind.startswith("http_")
                response = make_response() if http_error else None  # HttpError: failure.value.response
                request = Request(origin, callback=job.callback, method=job.method, headers=job.headers,
                                  body=job.body, meta=meta, dont_filter=job.dont_filter,
                                  errback=job.errback, cb_kwargs=cb_kwargs)
                failure = Failure(failure, request, failure_value(kind, error, response))
                self.run_callback(getattr(self.spider, job.errback), (failure,), job, records, children,
                                  spider_errors)
            else:
                try:
                    rec = self.spider.error_record(failure)
                except CloseSpider:
                    raise
                except BaseException as exc:  # noqa: B036 - sys.exit() in spider code too
                    spider_errors.append(_describe(exc))
                    rec = None
                if rec is not None:
                    self.keep(rec, records, spider_errors)

    @staticmethod
    def keep(item, records, spider_errors):
        """Append ``item`` as plain data: from here on it pickles and makes valid JSON
        (records.py). One that cannot be is dropped alone; the page's others go on."""
        try:
            records.append(to_plain(item))
        except RecordError as exc:
            spider_errors.append(f"record dropped: {exc}")

    def run_callback(self, callback, args, job, records, children, spider_errors, kwargs=None):
        """Run a spider callback, keeping what it yielded before any exception (as Scrapy does).

        ``kwargs``: the request's ``cb_kwargs`` (a callback whose signature does not take
        them raises TypeError: one spider error, as in Scrapy)."""
        seen = set()
        try:
            out = callback(*args, **kwargs) if kwargs else callback(*args)
            if out is None:
                return
            # A single record returned: is_record only for what is neither a generator nor a
            # list (its first call imports itemadapter, and through it Scrapy where installed).
            if isinstance(out, (dict, Request)) or (
                    not isinstance(out, (types.GeneratorType, list, tuple)) and is_record(out)):
                out = (out,)
            for item in out:
                if isinstance(item, dict) or (item is not None and not isinstance(item, Request)
                                              and is_record(item)):
                    self.keep(item, records, spider_errors)
                elif isinstance(item, Request):
                    try:
                        child = self.child(item, seen, job)
                    except CloseSpider:
                        raise
                    except BaseException as exc:  # noqa: B036
                        spider_errors.append(_describe(exc))
                        continue
                    if child is not None:
                        children.append(child)
                elif item is not None:
                    spider_errors.append(f"yielded a {type(item).__name__}, not a record (a dict or an "
                                         "item: dataclass, attrs, scrapy.Item) or a Request")
        except (CloseSpider, PageTooLarge):
            raise
        except BaseException as exc:  # noqa: B036 - sys.exit() in spider code is one error too
            spider_errors.append(_describe(exc))

    def child(self, req, seen, job):
        """A child tuple for a yielded Request, or None when it is filtered out here.

        A link this process sent before at the same depth or a shallower one is not sent
        again: the coordinator would drop it as seen (or refuse it again for --max-depth
        or --max-pages, which only grow stricter). One sent by this same request is sent
        again, since a request runs twice only when its first outcome may have been lost.
        Runs under ``cpu_lock``, so ``sent`` needs no lock of its own.
        """
        url = req.url
        if "#" in url:
            url = url.split("#", 1)[0]  # never sent; keeps response.url and records clean
        canon = canonical(url)
        if canon is None:
            return None
        method, body = req.method, req.body
        # What the fingerprint is made of, as the key of ``seen`` and ``sent``: the SHA-1 is
        # made only for a link that goes out (S1: ~3 of a page's 40 links, 1.5 us each).
        key = canon if method == "GET" and not body else (canon, method, body)
        if not req.dont_filter:
            if key in seen:
                return None
            seen.add(key)
            depth = job.depth + 1
            before = self.sent.get(key)
            if before is not None and before[0] <= depth and before[1] != job.req_id:
                return None
            if not self.domains.allows(canon):
                return None
            if len(self.sent) >= SENT_CAP:
                self.sent.clear()
            self.sent[key] = (depth, job.req_id)
        elif not self.domains.allows(canon):
            return None
        fp = fingerprint(canon, method, body)
        callback = _callback_name(self.spider, req.callback)
        errback = _callback_name(self.spider, req.errback, "errback") if req.errback else None
        meta = req.meta
        if meta:
            # cb_kwargs travel in meta (spiders/http.py); an empty entry is not sent.
            if CB_KWARGS_KEY in meta and not meta[CB_KWARGS_KEY]:
                meta = {k: v for k, v in meta.items() if k != CB_KWARGS_KEY}
            _check_json(meta)
        return m.Child(fp, url, method, req.headers, body, callback, meta or None,
                       req.priority, req.dont_filter, errback)


def _collect_after_page():
    """Hold the cyclic GC back while a page's callback runs; the caller restores the returned
    thresholds and collects the young generation once the page is done (None: GC is off).

    A page's tree is garbage in cycles when the callback ends: a soup's tags point at their
    parents, and a response and its selector at each other. With the default threshold the
    GC runs a young collection every 700 allocations in the middle of the parse (a BS4 page
    allocates ~5,000 objects), finds the tree alive, and promotes it; it then lingers to
    the older generations, whose collections walk every object of the process. Collected
    once, when the page is done, it is all young and all garbage. Measured on S1, -w 2 -c 16,
    interleaved pairs: the BS4 spider's fetchers 4.7/4.1 -> 3.9/3.5 ms of CPU a page and
    192 -> 182 MB peak RSS; the selector spider's 1.60/1.57 -> 1.49/1.42 ms, 206 -> 190 MB.
    (A raised threshold alone, 10,000 for the whole process, saved less and let the selector
    spider's lxml trees pile up: 310 MB.) The threshold stays finite, so a callback that
    makes cyclic garbage in a loop is still collected as it goes. One callback runs at a
    time in a process (``cpu_lock``), so the thresholds are not changed twice at once.
    """
    if not gc.isenabled():
        return None
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], CALLBACK_GC_THRESHOLD), *thresholds[1:])
    return thresholds


def _status_handled(spider, meta, status):
    """Whether a response of ``status`` goes to the callback, as Scrapy's HttpErrorMiddleware
    decides (tests/test_spidermiddleware_httperror.py): 2xx always; then
    ``meta["handle_httpstatus_all"]``; then ``meta["handle_httpstatus_list"]``, which overrides
    the spider's attributes; then the spider's ``handle_httpstatus_all`` (Scrapy's
    HTTPERROR_ALLOW_ALL setting) and its ``handle_httpstatus_list``. Others go to the errback
    or the error record."""
    if 200 <= status < 300:
        return True
    if meta.get("handle_httpstatus_all", False):
        return True
    if "handle_httpstatus_list" in meta:
        return status in (meta["handle_httpstatus_list"] or ())
    if getattr(spider, "handle_httpstatus_all", False):
        return True
    return status in (getattr(spider, "handle_httpstatus_list", None) or ())


def _redirect_handled(spider, meta, status):
    """Whether a redirect response is not followed, as Scrapy's RedirectMiddleware decides
    (test_spider_handling, test_request_meta_handling in tests/test_downloadermiddleware_redirect.py,
    test_dont_redirect in tests/utils/bases/redirect.py): ``meta["dont_redirect"]``, its status
    in the spider's or the request's ``handle_httpstatus_list``, or ``meta["handle_httpstatus_all"]``.
    Such a response then goes to the callback if :func:`_status_handled`, else it is an error."""
    return (bool(meta.get("dont_redirect", False))
            or status in (getattr(spider, "handle_httpstatus_list", None) or ())
            or status in (meta.get("handle_httpstatus_list") or ())
            or bool(meta.get("handle_httpstatus_all", False)))


def build_response(result, settings, request_url, meta=None, depth=0, spider=None, cb_kwargs=None):
    """The :class:`Response` a callback gets for a download's :class:`FetchResult`.

    One place for it, so that ``scrapepool shell`` and ``scrapepool fetch`` (scrapepool/tools/pagefetch.py)
    show the very Response a spider would get for the same page.
    """
    return Response(result.final_url, result.status, result.headers, result.body,
                    max_elements=settings.max_elements, request_url=request_url, meta=meta,
                    depth=depth, spider=spider, cb_kwargs=cb_kwargs)


def request_limits(meta, settings):
    """The downloader's per-request overrides from Scrapy's request meta keys, as keyword
    arguments of :meth:`Downloader.fetch` (empty: the settings apply).

    - ``dont_retry`` (true): no retry; else ``max_retry_times`` (an int >= 0) replaces the
      ``retries`` setting (Scrapy's RetryMiddleware);
    - ``download_timeout`` (seconds > 0) replaces the whole-response ``timeout`` of each try;
      0 or None leaves the setting (Scrapy's download handlers: ``meta.get(...) or default``);
    - ``download_maxsize`` (bytes) replaces ``max_bytes``; 0 means no limit, as in Scrapy.

    A value of the wrong type is ignored (the setting applies). The coordinator bounds the
    request by the same overrides (engine ``_longest``), so a longer per-request timeout
    is honoured, not taken as a hang.
    """
    if not meta:
        return {}
    out = {}
    if meta.get("dont_retry", False):
        out["retries"] = 0
    else:
        value = meta.get("max_retry_times")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            out["retries"] = value
    value = meta.get("download_timeout")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        out["timeout"] = min(float(value), MAX_SECONDS)
    value = meta.get("download_maxsize")
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        out["max_bytes"] = value or math.inf
    return out


def _check_json(meta):
    import json

    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Request meta must be JSON-serialisable: {exc}") from None


def _describe(exc):
    """``Type: message`` plus the innermost frame of the spider, for a one-line log."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({os.path.basename(tb[-1].filename)}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


class _Slot:
    value = 0


def _rss_mb():
    """This process's resident memory in MB (Linux; 0 elsewhere): ~5 us, read after each job."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE // 1_000_000
    except (OSError, ValueError, IndexError):
        return 0


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _ChannelClosed(Exception):
    """A pipe to the coordinator or the writer is gone: nobody is left to report to."""


def run_fetcher(job_queue, events, records, spider_ref, settings, allowed, current, cpu=None,
                stop=None, log_level=None):
    """Entry point of a fetcher process (this runs in the child).

    SIGINT and SIGTERM are ignored: Ctrl-C reaches the whole process group,
    and only the coordinator decides what a signal means (STYLE.md, trap 7).

    ``cpu``: the one CPU to run on (None: any). A fetcher's threads take turns at the
    GIL; when the OS runs them on different cores, every turn moves the parse to a
    core whose caches hold none of its objects. Measured on the benchmark's S1 site,
    -w 2 -c 16, interleaved runs: 20.5-23.9 s pinned against 24.3-26.1 s not; with
    -w 1 -c 16, 37.5-41.5 s of fetcher CPU pinned against 44.4-45.8 s not.

    ``log_level``: this process logs at that level, and its records go to the coordinator's
    handlers as ``Log`` events (scrapepool/_logrelay.py; None: logging left as it is).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # print() in a spider goes to stderr: with -o - the writer owns stdout (its own fd 1).
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if log_level is not None:
        from .._logrelay import install_in_child

        install_in_child(events.send, log_level)  # no threads yet; then the fetcher's locked send
    if cpu is not None:
        with contextlib.suppress(OSError):  # the CPU may have gone offline since
            os.sched_setaffinity(0, {cpu})
    try:
        spider_cls = load_spider(spider_ref)
        spider = spider_cls(**settings.spider_kwargs)
        pipelines = PipelineRunner.from_spider(spider, settings)
        domains = DomainFilter(allowed)
        cache = None
        if settings.http_cache:
            from .httpcache import HttpCache

            cache = HttpCache(settings.http_cache, settings.http_cache_expire)
    except Exception as exc:
        events.send(m.Fatal(f"fetcher could not start the spider: {_describe(exc)}"))
        hard_exit(3)
    fetcher = Fetcher(job_queue, events, records, spider, settings, domains, pipelines, cache, current,
                      stop)
    if log_level is not None:
        from .._logrelay import install_in_child

        install_in_child(fetcher.send_event, log_level)  # from now on threads share the pipe
    try:
        with _profiled(f"fetcher-{os.getpid()}-intake"):
            fetcher.run()
    except (_ChannelClosed, BrokenPipeError, EOFError, ConnectionResetError):
        pass
    # Worker threads are daemons that may be stuck in a slow read; do not wait on them.
    hard_exit(0)
