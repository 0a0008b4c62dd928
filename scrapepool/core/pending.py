"""Where the frontier's pending requests are kept: a heap in memory, the job DB beyond it,
and the write-ahead buffer that makes the frontier's changes durable.

Pending requests wait in an in-memory heap of at most ``memory_cap`` entries, ordered
by (priority, admission order), so the crawl is breadth-first. Beyond the cap, newly
admitted requests live only in the job database and are read back in slices: memory
stays flat however large the crawl (``benchmarks/seen_memory.py``).

Every change (admissions, outcomes, attempts, refusals, and state that must become
durable with them) is buffered and written in one transaction by ``flush``, which
the coordinator calls every 0.1 s, and before a request leaves the process
(``make_durable``).
"""

import heapq
import json
from typing import NamedTuple

from ..output.jobdb import JobDB

__all__ = ["Pending", "PendingStore", "MEMORY_CAP", "AHEAD"]

#: Pending requests kept in memory; the rest wait in the job database.
MEMORY_CAP = 20000
#: The heap priority of a request that goes back ahead of newer ones (a retry, a redirect hop).
AHEAD = -1 << 30


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


class PendingStore:
    def __init__(self, db: JobDB, memory_cap=None):
        self.db = db
        self.memory_cap = memory_cap or MEMORY_CAP
        #: Heap items: (-priority, req_id, Pending).
        self.heap = []
        #: Pending requests that are only in the job DB: those with req_id > ``disk_cursor``.
        self.on_disk = 0
        self.disk_cursor = None
        # write-ahead buffers, flushed in one transaction
        self.inserts, self.outcomes, self.attempts, self.refused = [], [], [], []
        self.kv_pending = {}
        #: Every req_id up to this one is in the job DB.
        self.durable_upto = 0
        #: The highest req_id given out (the frontier's counter; flush makes all up to it durable).
        self.last_id = 0

    def __len__(self):
        return len(self.heap) + self.on_disk

    def resume(self, top, todo):
        """Continue a job: ids up to ``top`` are in the DB, ``todo`` of them pending."""
        self.last_id = top
        self.durable_upto = top
        self.on_disk = todo
        self.disk_cursor = 0 if todo else None

    # -- adding and taking ----------------------------------------------------------------
    def add(self, req_id, fp, entry, priority):
        """A newly admitted request (``fp`` None: it bypasses the seen set); returns True
        when it waits in memory, False when only in the job DB."""
        self.last_id = req_id
        self.inserts.append((req_id, fp, entry.url, entry.method,
                             json.dumps(entry.headers) if entry.headers else None, entry.body,
                             entry.callback, entry.errback,
                             json.dumps(entry.meta) if entry.meta else None, entry.depth, priority))
        if self.disk_cursor is not None or len(self.heap) >= self.memory_cap:
            if self.disk_cursor is None:
                self.disk_cursor = req_id - 1
            self.on_disk += 1
            return False
        heapq.heappush(self.heap, (-priority, req_id, entry))
        return True

    def push(self, item):
        heapq.heappush(self.heap, item)

    def push_ahead(self, req_id, entry):
        heapq.heappush(self.heap, (AHEAD, req_id, entry))

    def pop(self):
        return heapq.heappop(self.heap) if self.heap else None

    def refill(self, held, settling):
        """Read a slice of the requests waiting on disk into the heap when it runs low;
        returns the (req_id, fp, entry) read. ``held`` requests held back for their depth
        count against the cap while others are under way (``settling``): their release comes."""
        if self.disk_cursor is None or len(self.heap) > self.memory_cap // 4:
            return []
        if len(self.heap) + held > self.memory_cap // 4 and settling:
            return []
        self.flush()
        want = self.memory_cap // 2
        rows = self.db.load_pending(self.disk_cursor, want)
        read = []
        for (req_id, url, method, headers, body, callback, errback, meta, depth, priority,
             attempts, dont_filter) in rows:
            entry = Pending(url, method, json.loads(headers) if headers else None, body, callback,
                            json.loads(meta) if meta else {}, depth, attempts, errback, None,
                            bool(dont_filter))
            heapq.heappush(self.heap, (-priority, req_id, entry))
            read.append((req_id, entry))
            self.disk_cursor = req_id
        self.on_disk = max(0, self.on_disk - len(rows))
        if len(rows) < want:
            self.disk_cursor = None
            self.on_disk = 0
        return read

    # -- write-ahead ----------------------------------------------------------------------
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
        self.durable_upto = self.last_id

    def make_durable(self, req_id):
        """Write ahead before a request leaves this process.

        The writer may commit a request's records at once; if its row were not in
        the job DB by then, a crash would leave committed records of a request
        that a resume does not know, and the page would be fetched and written
        again under a new id. So a job is dispatched only once its row is durable.
        """
        if req_id > self.durable_upto:
            self.flush()
