"""Shortest depths: a request waits while a shorter path to it may still turn up.

A URL's depth is its shortest link distance from a seed, although pages finish out
of order: a request at depth d could still be reached by a shorter path through a
page at depth d-2 or less that is not done yet, so it is held back until none is
left (one level of overlap keeps the pipeline full), and a shorter path found
meanwhile lowers its depth. Holding back never stalls the crawl for long: when only
held requests are left to hand out for ``SETTLE_WAIT`` seconds, the straggler's
level is given up on and requests go as they are until that level is done. After a
resume, depths are those of the first path found (the requests on disk are not
counted), and nothing is held.

The keeper holds heap items, ``(-priority, req_id, Pending)``, that the frontier's
heap gave it; what it releases goes back there.
"""

import logging

logger = logging.getLogger("scrapepool")

__all__ = ["DepthKeeper", "SETTLE_WAIT"]

#: Seconds requests held back for their depth may leave the fetchers without work (then a
#: page slower than this may leave a longer path's depth on the pages found behind it).
SETTLE_WAIT = 2.0


class DepthKeeper:
    def __init__(self):
        #: False after a resume: the depths of the requests waiting on disk are not counted.
        self.enabled = True
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

    def disable(self):
        self.enabled = False

    # -- what the frontier tells it ----------------------------------------------------------
    def admitted(self, fp, req_id, depth, in_memory):
        """A page request was admitted at ``depth`` (``fp`` None: it bypasses the seen set)."""
        if not self.enabled:
            return
        self._count(depth, 1)
        if in_memory and fp is not None:
            self.track(fp, req_id, depth)

    def track(self, fp, req_id, depth):
        """A request waiting in memory whose depth may still drop."""
        if self.enabled and req_id not in self.settled:
            self.unsettled_fp[fp] = [req_id, depth]
            self.unsettled_ids[req_id] = fp

    def seen_again(self, fp, depth):
        """A request seen before is linked again at ``depth``: lower its depth if it is not settled."""
        if not self.enabled:
            return
        known = self.unsettled_fp.get(fp)
        if known is not None and depth < known[1]:
            self._count(known[1], -1)
            self._count(depth, 1)
            known[1] = depth

    def settle(self, item):
        """``item``'s entry with its final depth, or None when it is held back (kept here).

        A request at depth d can be found at a shorter depth only through a page at depth
        d-2 or less that is not done (children are admitted before their parent is done).
        A redirect hop is settled already.
        """
        _, req_id, entry = item
        self.starved_since = None
        if not self.enabled or entry.hop is not None:
            return entry
        depth = self._depth(req_id, entry)
        if self.levels:
            low = min(self.levels)
            if depth > low + 1 and low != self.given_up:
                self.held.append(item)
                return None
        fp = self.unsettled_ids.pop(req_id, None)
        if fp is not None:
            del self.unsettled_fp[fp]
        self.settled[req_id] = depth
        return entry if depth == entry.depth else entry._replace(depth=depth)

    def done(self, req_id):
        """A settled request has its outcome (or was refused): the held items now released."""
        depth = self.settled.pop(req_id, None)
        if depth is None or not self.enabled:
            return []
        self._count(depth, -1)
        low = min(self.levels, default=None)
        if self.held and low != self.held_low:
            self.held_low = low
            return self._release(lambda item: low is None or self._depth(item[1], item[2]) <= low + 1)
        return []

    def starving(self, now):
        """Only held requests are left: release them if nothing can shorten them, or after a while."""
        if self.starved_since is None:
            self.starved_since = now
        if not self.settled or now - self.starved_since >= SETTLE_WAIT:
            self.given_up = min(self.levels, default=None)
            logger.debug("depth: not waiting any longer for the pages of depth %s", self.given_up)
            return self._release(lambda item: True)
        return []

    @property
    def any_settled(self):
        return bool(self.settled)

    # -- inside ---------------------------------------------------------------------------
    def _count(self, depth, n):
        left = self.levels.get(depth, 0) + n
        if left > 0:
            self.levels[depth] = left
        else:
            self.levels.pop(depth, None)

    def _depth(self, req_id, entry):
        fp = self.unsettled_ids.get(req_id)
        return entry.depth if fp is None else self.unsettled_fp[fp][1]

    def _release(self, ready):
        out, keep = [], []
        for item in self.held:
            (out if ready(item) else keep).append(item)
        self.held = keep
        return out
