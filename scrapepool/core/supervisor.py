"""The crawl's child processes and its signals, as the coordinator sees them.

The supervisor starts the writer and the fetchers (each fetcher on a CPU of its own),
hands each fetcher's records pipe to the writer, starts a fetcher again when one dies
or retires, and stops them all. ``Signals`` turns SIGINT and SIGTERM into flags: the
coordinator reads them at the top of its loop, because a handler that does more (a
log line, a join) can deadlock on what it interrupted (STYLE.md, trap 7). ``Waiter``
is the one poll object the coordinator blocks on.

Nothing here knows what a request is: which requests a dead fetcher held is the
ledger's business (ledger.py), what to do with them the engine's.
"""

import os
import select
import signal
from multiprocessing.reduction import send_handle

from .. import _messages as m
from ..net.fetcher import run_fetcher
from ..output.writer import run_writer

__all__ = ["Signals", "Supervisor", "Waiter", "FetcherProcess"]


class Signals:
    """SIGINT and SIGTERM as flags: the first sets ``stop_signal``, a second ``force``."""

    def __init__(self):
        self.stop_signal = None
        self.force = False
        self._old = {}

    def install(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread: the caller handles signals
                pass

    def restore(self):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
        self._old = {}

    def _on_signal(self, signum, frame):
        # Only set flags here: logging inside a signal handler can deadlock on the stream.
        if self.stop_signal is None:
            self.stop_signal = signum
        else:
            self.force = True


class Waiter:
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


class FetcherProcess:
    """A live fetcher process and what the coordinator knows of it."""

    __slots__ = ("process", "events", "goodbye", "idle_at", "index", "current", "retiring")

    def __init__(self, process, events, index, current):
        self.process = process
        #: The read end of its events pipe.
        self.events = events
        #: Its Goodbye arrived: it ended on purpose.
        self.goodbye = False
        #: When it last reported the job queue empty (monotonic).
        #: When it said Idle (its queue was empty and it waits on it), or None: it has
        #: claimed a job since. An Idle stays true until the next Claimed.
        self.idle_at = None
        #: Its slot: a replacement takes the same index, and so the same CPU.
        self.index = index
        #: Shared with it: the req_id whose spider code runs now (0: none).
        self.current = current
        #: Past its memory budget: it finishes its requests and exits; a replacement runs.
        self.retiring = False

    @property
    def pid(self):
        return self.process.pid


class Supervisor:
    """Starts, pins, replaces and stops the writer and the fetchers of one crawl."""

    def __init__(self, ctx, settings, spider_ref, allowed, job_queue, stop_event, waiter, log_level=None):
        self.ctx = ctx
        self.settings = settings
        self.spider_ref = spider_ref
        self.allowed = allowed
        self.job_queue = job_queue
        #: Set on the first Ctrl-C: fetchers start no retry and wait out no back-off.
        self.stop_event = stop_event
        self.waiter = waiter
        #: sentinel -> FetcherProcess, the live ones.
        self.fetchers = {}
        self.writer = None
        #: The coordinator's end of the writer's duplex control pipe.
        self.control = None
        #: The level the fetchers log at (their records come back on their events pipes).
        self.log_level = log_level

    def spawn(self, target, args, name):
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

    def start_writer(self, job_folder, durable, on_message, on_exit, shared=None):
        """``shared``: (Redis URL, crawl id, machine id, volatile) of a crawl shared by machines."""
        s = self.settings
        self.control, child = self.ctx.Pipe(duplex=True)
        self.writer = self.spawn(run_writer, (child, s.output, job_folder, durable, s.fields,
                                              not s.overwrite_output, shared), "scrapepool-writer")
        child.close()
        self.waiter.add(self.control, on_message)
        self.waiter.add(self.writer.sentinel, on_exit)

    def cpu_for(self, index):
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

    def start_fetcher(self, index, on_events, on_exit):
        """Start fetcher ``index``; ``on_events(proc)`` / ``on_exit(proc)`` run when its
        events pipe has data / its process has ended."""
        events_r, events_w = self.ctx.Pipe(duplex=False)
        records_r, records_w = self.ctx.Pipe(duplex=False)
        current = self.ctx.RawValue("q", 0)
        process = self.spawn(run_fetcher, (self.job_queue, events_w, records_w, self.spider_ref,
                                           self.settings, self.allowed, current, self.cpu_for(index),
                                           self.stop_event, self.log_level),
                             f"scrapepool-fetcher-{index}")
        events_w.close()
        records_w.close()
        # Hand the read end of the records pipe to the writer (SCM_RIGHTS over the control socket).
        self.control.send(m.NewPipe())
        send_handle(self.control, records_r.fileno(), self.writer.pid)
        records_r.close()
        proc = self.fetchers[process.sentinel] = FetcherProcess(process, events_r, index, current)
        self.waiter.add(events_r, lambda: on_events(proc))
        self.waiter.add(process.sentinel, lambda: on_exit(proc))
        return proc

    def forget(self, proc):
        """``proc`` has ended: stop watching it."""
        self.fetchers.pop(proc.process.sentinel, None)
        self.waiter.remove(proc.events)
        self.waiter.remove(proc.process.sentinel)
        proc.process.join(1)
        proc.events.close()

    def kill(self, pids):
        """SIGKILL the fetchers with these pids (their sentinels then report the deaths)."""
        for proc in self.fetchers.values():
            if proc.pid in pids:
                proc.process.kill()

    def alive(self):
        return sum(1 for p in self.fetchers.values() if p.process.is_alive())

    def kill_all(self):
        """Stop every child now with SIGKILL (they ignore SIGINT and SIGTERM), then join each
        for at most 2 s; the job queue is closed."""
        procs = [p.process for p in self.fetchers.values()]
        if self.writer is not None:
            procs.append(self.writer)
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        for proc in procs:
            proc.join(2)
        self.fetchers.clear()
        if self.job_queue is not None:
            self.job_queue.close()
