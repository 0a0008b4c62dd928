"""The writer process: the only one that touches the output.

``run_writer`` runs in a separate process. It waits on every fetcher's
records pipe and on its control pipe from the coordinator, writes records in
batches, and after each flushed batch records in the job DB, in one
transaction, which requests are committed and how far the output is durable;
then it tells the coordinator. A request it has committed once is never
written again, whoever sends it (a request can be fetched twice after a crash).

What it logs reaches the user only under fork (a spawned process has no handler),
so what the exporter could not write as given (fields CSV has no column for,
SQLite keys that differ only in case) goes into the job DB with each commit, and
the coordinator reports it at the end (:func:`report_notes`).
"""

import logging
import os
import select
import signal
import time
from multiprocessing.connection import Connection
from multiprocessing.reduction import recv_handle

from .. import _messages as m
from .._exit import hard_exit
from .._profile import profiled
from .exporters import open_exporter, output_format
from .jobdb import JobDB

logger = logging.getLogger("scrapepool")

#: A batch is flushed when it is this old (seconds) or this large (requests).
FLUSH_EVERY = 0.05
FLUSH_SIZE = 256
#: In a crawl shared through Redis each flush is also a COMMIT round trip, fsynced by Redis
#: (~250 us of Redis CPU each, benchmarks/distributed_results.md): batches four times
#: older keep that to 4 calls a second per machine.
SHARED_FLUSH_EVERY = 0.2
#: After W_STOP, how long to wait for the fetchers' pipes to reach their end.
DRAIN_TIMEOUT = 30.0


class CommittedSet:
    """Which req_ids are committed: one bit each (req_ids are dense integers from 1)."""

    def __init__(self, ids=()):
        self.bits = bytearray(1024)
        for i in ids:
            self.add(i)

    def add(self, i):
        byte = i >> 3
        if byte >= len(self.bits):
            self.bits.extend(bytes(max(byte + 1 - len(self.bits), len(self.bits))))
        self.bits[byte] |= 1 << (i & 7)

    def __contains__(self, i):
        byte = i >> 3
        return byte < len(self.bits) and bool(self.bits[byte] & (1 << (i & 7)))


class Writer:
    """The writer's state; ``fields`` and ``append`` as for :func:`~scrapepool.output.exporters.open_exporter`
    (``append`` matters only to a new job: a resumed one continues its own output)."""

    def __init__(self, control, output, job_folder, durable, fields=(), append=False, shared=None):
        self.control = control
        self.db = JobDB(job_folder, durable)
        #: In a crawl shared through Redis (``shared``: url, crawl id, machine id, volatile),
        #: Redis says how far the output is durable, and accepts each batch or not.
        self.committer = None
        if shared is not None:
            from .redis_commit import RedisCommitter

            self.committer = RedisCommitter(*shared)
            durable = True  # Redis accepts a batch only once it is on disk
        self.exporter = open_exporter(output, fsync=durable, fields=fields, append=append)
        offset = self.db.get("output_offset")
        if self.committer is not None:
            end = self.committer.durable_end()
            offset = end if end is not None else offset
        self.exporter.open(offset)
        self.exporter.dropped.update(self.db.get("dropped_fields") or {})
        self.exporter.merged.update(self.db.get("merged_fields") or {})
        self.noted = self.exporter.noted
        self.committed = CommittedSet(self.db.committed_ids())
        self.records_total = self.db.get("output_records", 0)
        #: Where the committed output ends: a rejected batch is cut back to it.
        self.end = self.exporter.commit()
        if offset is None or self.committer is not None:
            # A new job: where its output starts is made durable before anything is written,
            # so that cutting back after a crash never cuts into a file we appended to.
            self._commit_shared([], self.end, self.records_total)
            self.db.commit_output([], self.end, self.records_total)
        self.pipes = []
        #: One poll set kept for the run (the control pipe and each fetcher's records pipe):
        #: ``multiprocessing.connection.wait`` builds and fills a selector on every call,
        #: which was half of the writer's CPU on S1 (cProfile: 0.50 of 1.09 s for 5,000 pages).
        self._poll = select.poll()
        self._by_fd = {}
        self._watch(control)
        self.batch = []
        self.batch_started = None

    def run(self):
        stop_by = None
        while True:
            every = SHARED_FLUSH_EVERY if self.committer is not None else FLUSH_EVERY
            timeout = every if self.batch else 1.0
            ready = self._wait(timeout)
            for conn in ready:
                if conn is self.control:
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        return self.finish()  # the coordinator is gone
                    if type(msg) is m.NewPipe:
                        pipe = Connection(recv_handle(conn))
                        self.pipes.append(pipe)
                        self._watch(pipe)
                    elif type(msg) is m.Records:
                        self.add(msg.req_id, msg.records)
                    elif type(msg) is m.Stop:
                        stop_by = time.monotonic() + DRAIN_TIMEOUT
                else:
                    try:
                        req_id, records = conn.recv()
                    except (EOFError, OSError):
                        # The fetcher exited (or died mid-message: the partial message is dropped).
                        self.pipes.remove(conn)
                        self._unwatch(conn)
                        conn.close()
                        continue
                    self.add(req_id, records)
            if self.batch and (len(self.batch) >= FLUSH_SIZE or not ready
                               or time.monotonic() - self.batch_started >= every):
                self.flush()
            if stop_by is not None and (not self.pipes or time.monotonic() > stop_by):
                return self.finish()

    def _watch(self, conn):
        fd = conn.fileno()
        self._by_fd[fd] = conn
        self._poll.register(fd, select.POLLIN)

    def _unwatch(self, conn):
        fd = conn.fileno()
        if self._by_fd.pop(fd, None) is not None:
            self._poll.unregister(fd)

    def _wait(self, timeout):
        """The connections with something to read (or at their end) within ``timeout`` s,
        in the order they were added (the control pipe first), as ``wait`` gives them."""
        events = self._poll.poll(timeout * 1000)
        if not events:
            return []
        ready = {fd for fd, _ in events}
        return [conn for fd, conn in self._by_fd.items() if fd in ready]

    def add(self, req_id, records):
        if not self.batch:
            self.batch_started = time.monotonic()
        self.batch.append((req_id, records))

    def flush(self):
        ids = [req_id for req_id, _ in self.batch]
        # The first of each request not written before (a re-fetch after a crash is not).
        fresh, taken = [], set()
        for req_id, records in self.batch:
            if req_id not in self.committed and req_id not in taken:
                taken.add(req_id)
                fresh.append((req_id, records))
        self.batch = []
        rejected = set()
        while True:
            kept = [(req_id, records) for req_id, records in fresh if req_id not in rejected]
            out = [record for _, records in kept for record in records]
            if out:
                self.exporter.write(out)
            offset = self.exporter.commit()
            refused = self._commit_shared([req_id for req_id, _ in kept], offset,
                                          self.records_total + len(out))
            if not refused:
                break
            # Redis took none of it (a request another machine holds or committed): the
            # tail goes, and the batch is written again without those. Rejections only
            # grow, so this ends, at worst with an empty batch.
            rejected.update(refused)
            self.exporter.close()
            self.exporter.open(self.end)
        for req_id, _ in kept:
            self.committed.add(req_id)
        self.end = offset
        self.records_total += len(out)
        notes = None
        if self.exporter.noted != self.noted:
            self.noted = self.exporter.noted
            notes = {"dropped_fields": self.exporter.dropped, "merged_fields": self.exporter.merged}
        self.db.commit_output([req_id for req_id, _ in kept], offset, self.records_total, notes)
        # Every request of the batch is over for this machine, rejected ones included.
        self.control.send(m.Committed(ids, len(out), offset))

    def _commit_shared(self, req_ids, offset, records):
        if self.committer is None:
            return []
        return self.committer.commit(offset, records, os.path.abspath(self.exporter.path), req_ids)

    def finish(self):
        if self.batch:
            self.flush()
        self.exporter.close()
        self.db.close()


def run_writer(control, output, job_folder, durable, fields=(), append=False, shared=None):
    """Entry point of the writer process (this runs in the child)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with profiled(f"writer-{os.getpid()}"):
            writer = Writer(control, output, job_folder, durable, fields, append, shared)
            writer.run()
    except BrokenPipeError:
        if output != "-":
            raise
        try:
            control.send(m.OutputClosed())
        except OSError:
            pass
        hard_exit(0)
    except Exception as exc:
        try:
            control.send(m.WriteFailed(f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
        hard_exit(1)
    hard_exit(0)


#: At most this many fields are named one by one in the warnings at the end of a crawl.
REPORT_FIELDS = 20


def report_notes(db, output):
    """Warn, once per key, about what the output could not hold as given; returns the number of
    values dropped (the ``dropped_fields`` stat). Runs in the coordinator, at the end of a run:
    the counts are the job's, read from the job DB where the writer commits them."""
    dropped = db.get("dropped_fields") or {}
    merged = db.get("merged_fields") or {}
    csv = output_format(output) == "csv"
    lines = []
    for key, count in sorted(dropped.items(), key=lambda kv: -kv[1]):
        values = f"{count} value{'s' * (count != 1)}"
        if csv:
            lines.append(f"field {key!r} is not one of the CSV's columns (the first record's keys): "
                         f"{values} dropped; --fields names every column")
        else:
            lines.append(f"field {key!r} shares its SQLite column with a key that differs only in "
                         f"case: {values} lost where a record had both")
    for key, column in sorted(merged.items()):
        lines.append(f"field {key!r} is stored in column {column!r} (SQLite column names ignore case)")
    for line in lines[:REPORT_FIELDS]:
        logger.warning("%s: %s", output, line)
    if len(lines) > REPORT_FIELDS:
        logger.warning("%s: %d more fields could not be written as given", output, len(lines) - REPORT_FIELDS)
    return sum(dropped.values())
