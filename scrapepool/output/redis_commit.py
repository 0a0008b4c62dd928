"""The writer's side of a crawl shared through Redis: commit a batch, all or nothing.

The output file stays this machine's own; Redis records how far it is durable
(``out[machine]``) in the same script that marks the batch's requests committed, and
only after the fsync. The script accepts a batch only if every request in it is still
held by this machine's current session and was not committed before; otherwise it
changes nothing and names the rejected requests, and the writer cuts them off the file's
tail and writes the batch again without them (output/writer.py). So a frozen machine
that wakes up, or a request fetched twice after a reap, never leaves a record twice in
the union of the machines' files (DISTRIBUTED.md section 8).
"""

import time

from ..exceptions import FrontierLost
from ..redis_store import PRELUDE, SCRIPTS, connect, crawl_prefix

__all__ = ["RedisCommitter"]

#: Seconds the writer keeps retrying a commit while Redis cannot be reached, before it
#: gives up (the crawl stops; its output is cut to what Redis accepted, and it resumes).
OUTAGE_MAX = 300.0


class RedisCommitter:
    """Made in the writer process from plain data: the Redis URL, the crawl and machine ids."""

    def __init__(self, url, crawl_id, machine, volatile=False):
        import redis

        self.redis = redis
        # The coordinator reached this Redis a moment ago: a failure now is an outage (a
        # restart), waited out as a commit's is, not a bad URL.
        self.r = self._retried(lambda: connect(url, volatile, outage_errors=True))
        self.crawl_id = crawl_id
        self.machine = machine
        self.prefix = crawl_prefix(crawl_id)
        self.script = self.r.register_script(PRELUDE + SCRIPTS["commit"])
        #: The number of this machine's last accepted commit (see COMMIT in redis_store).
        self.seq = 0

    def _retried(self, call):
        """``call()``, repeated while Redis cannot be reached, for up to OUTAGE_MAX seconds."""
        deadline = time.monotonic() + OUTAGE_MAX
        pause = 0.1
        while True:
            try:
                return call()
            except (self.redis.ConnectionError, self.redis.TimeoutError):
                # Redis away (restarting on its AOF, a network cut): the batch waits, and so,
                # through the records pipes, do the fetchers. Every call here is safe to repeat.
                if time.monotonic() > deadline:
                    raise
                time.sleep(pause)  # a back-off between tries, not a synchronisation
                pause = min(pause * 2, 2.0)

    def durable_end(self):
        """The output offset Redis last accepted for this machine, or None (none yet)."""
        out = self._retried(lambda: self.r.hget(self.prefix + "out", self.machine))
        if not out:
            self.seq = 0
            return None
        self.seq = int(out.rsplit("|", 1)[1])
        return int(out.split("|", 1)[0])

    def commit(self, offset, records, path, req_ids):
        """Commit ``req_ids`` with the output durable up to ``offset``; returns the rejected
        req_ids (empty: committed)."""
        args = [self.machine, offset, records, path, self.seq + 1, *req_ids]
        reply = self._retried(lambda: self.script(keys=[self.prefix], args=args))
        if reply and reply[0] == "lost":
            raise FrontierLost(f"crawl {self.crawl_id!r} is gone from Redis")
        if not reply:
            self.seq += 1
        return [int(i) for i in reply]
