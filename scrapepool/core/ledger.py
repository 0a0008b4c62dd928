"""The ledger: where each request handed out stands, from dispatch until it is done.

Exactly-once output rests on one rule (DESIGN.md, "A request's life"): a request is
done only when its outcome has reached the coordinator *and* the writer has committed
its records. Both arrive on different pipes, in either order, and a fetcher may die
between any two of them. The ledger is that rule and nothing else: it knows no pipe,
process or frontier (a pid is only a name for a fetcher), so every interleaving can be
driven by a unit test (tests/test_ledger.py).

::

    dispatch() -> QUEUED --claim()--> CLAIMED --outcome()--> OUTCOME --committed()--> done
                    |                    |  \\--committed()--> COMMITTED --outcome()--> done
                    |                    +--lost_with(pid) / overdue(): LOST (removed, retried)
                    +--unclaimed(): LOST, taken by a fetcher that died before its CLAIMED
    release(): a robots.txt answer, a redirect (the next hop goes back to the frontier) or a
               request stopped by Ctrl-C: no commit follows, the entry just goes
    end_here(): the coordinator decides the outcome itself (a poison page, a redirect to a
               URL already seen): OUTCOME at once, waiting for the commit of its records

The ledger also counts what sits unclaimed in the job queue (entries and pickled
bytes), the window the coordinator keeps the queue under.
"""

__all__ = ["Ledger", "Entry", "QUEUED", "CLAIMED", "OUTCOME", "COMMITTED"]

#: The stages an entry is in (the ``stage`` property).
QUEUED, CLAIMED, OUTCOME, COMMITTED = "queued", "claimed", "outcome", "committed"
#: ``Entry.pid`` of a request whose outcome the coordinator decided itself.
HERE = -1


class Entry:
    """One request handed out and not done."""

    __slots__ = ("job", "pid", "outcome", "committed", "dispatched", "size", "queued", "deadline",
                 "overdue")

    def __init__(self, job, size, now):
        self.job = job
        #: The fetcher that claimed it (None: still in the queue; HERE: decided here).
        self.pid = None
        self.outcome = False
        self.committed = False
        #: Monotonic time it went into the queue.
        self.dispatched = now
        #: Pickled bytes it holds in the queue until claimed, and whether it is there.
        self.size = size
        self.queued = False
        #: Monotonic time by which a claimed request must have its outcome (None: no limit).
        self.deadline = None
        #: Reported by ``overdue`` once (its fetcher is being replaced).
        self.overdue = False

    @property
    def stage(self):
        if self.outcome:
            return OUTCOME
        if self.committed:
            return COMMITTED
        return QUEUED if self.pid is None else CLAIMED

    def __repr__(self):
        return f"<Entry {self.job.req_id} {self.stage} pid={self.pid}>"


class Ledger:
    """Every request between dispatch and done, by req_id."""

    def __init__(self):
        self._entries = {}
        #: Entries and pickled bytes dispatched and not claimed yet.
        self.in_queue = 0
        self.queued_bytes = 0

    def __len__(self):
        return len(self._entries)

    def __contains__(self, req_id):
        return req_id in self._entries

    def get(self, req_id):
        return self._entries.get(req_id)

    def entries(self):
        return list(self._entries.values())

    # -- what the coordinator does -----------------------------------------------------------
    def dispatch(self, job, size, now):
        """``job`` went into the queue (``size`` pickled bytes)."""
        entry = self._entries[job.req_id] = Entry(job, size, now)
        entry.queued = True
        self.in_queue += 1
        self.queued_bytes += size
        return entry

    def end_here(self, job, now):
        """The coordinator decided this request's outcome; its records go to the writer."""
        entry = Entry(job, 0, now)
        entry.pid = HERE
        entry.outcome = True
        self._entries[job.req_id] = entry
        return entry

    # -- what the pipes say -----------------------------------------------------------------
    def claim(self, req_id, pid, deadline=None):
        """A fetcher took the request from the queue; False for an unknown or second claim."""
        entry = self._entries.get(req_id)
        if entry is None or entry.pid is not None:
            return False
        entry.pid = pid
        entry.deadline = deadline
        self._unqueue(entry)
        return True

    def outcome(self, req_id):
        """The request's outcome arrived: its entry, or None when it is not ours to take
        (unknown, or a second outcome of a request run twice after a crash)."""
        entry = self._entries.get(req_id)
        if entry is None or entry.outcome:
            return None
        entry.outcome = True
        self._unqueue(entry)  # an outcome implies the claim, should that message be late
        if entry.committed:
            del self._entries[req_id]
        return entry

    def committed(self, req_ids):
        """The writer made these requests' records durable; returns how many are now done."""
        done = 0
        for req_id in req_ids:
            entry = self._entries.get(req_id)
            if entry is None:
                continue
            entry.committed = True
            if entry.outcome:
                del self._entries[req_id]
                done += 1
        return done

    def release(self, req_id):
        """The entry goes with no commit to wait for (robots.txt, a redirect, a stopped retry)."""
        entry = self._entries.pop(req_id, None)
        if entry is not None:
            self._unqueue(entry)
        return entry

    # -- faults -----------------------------------------------------------------------------
    def lost_with(self, pid):
        """A fetcher died: the requests it claimed that have no outcome, removed (to retry)."""
        lost = [e for e in self._entries.values() if e.pid == pid and not e.outcome]
        for entry in lost:
            del self._entries[entry.job.req_id]
        return lost

    def unclaimed(self, before):
        """Requests never claimed, dispatched before ``before``: taken from the queue by a
        fetcher that died before its CLAIMED left it. Removed (to retry)."""
        lost = [e for e in self._entries.values() if e.pid is None and e.dispatched < before]
        for entry in lost:
            del self._entries[entry.job.req_id]
            self._unqueue(entry)
        return lost

    def overdue(self, now):
        """Claimed requests past their deadline with no outcome, each reported once."""
        late = [e for e in self._entries.values()
                if e.deadline is not None and not e.outcome and not e.overdue and now > e.deadline
                and e.pid not in (None, HERE)]
        for entry in late:
            entry.overdue = True
        return late

    def _unqueue(self, entry):
        if entry.queued:
            entry.queued = False
            self.in_queue -= 1
            self.queued_bytes -= entry.size
