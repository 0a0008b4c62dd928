"""The job queue: a ``multiprocessing.Queue`` that the coordinator fills and the fetchers drain.

Two changes to how the standard Queue is used, both for robustness and speed:

- ``put_now`` writes to the Queue's pipe synchronously, in the coordinator's
  own thread. ``Queue.put`` hands the item to a feeder thread, which costs a
  thread wake-up and a GIL hand-off per job (measured: ~0.2 ms a put, the
  largest single cost of the coordinator) and loses an unpicklable item
  silently (STYLE.md, trap 2); here a pickling error is raised at the call.
  The coordinator keeps at most ``MAX_QUEUED_BYTES`` unclaimed in the pipe,
  below the pipe's capacity, so the write never blocks.
- ``take`` waits without holding the Queue's process-shared read lock.
  ``Queue.get`` holds that lock while it waits, so a fetcher killed while
  idle (the usual moment) would leave it held and every other fetcher
  blocked for ever. Here only the read itself holds it (microseconds).

Both use the Queue's ``_reader``, ``_writer`` and ``_rlock``, unchanged since
Python 3.4; nothing else may use ``put``/``get`` on the same queue.
"""

import fcntl
import queue
import time
from multiprocessing.queues import Queue
from multiprocessing.reduction import ForkingPickler

__all__ = ["JobQueue", "MAX_QUEUED_BYTES"]

#: Linux's F_SETPIPE_SZ; the default pipe holds 64 KiB.
_F_SETPIPE_SZ = 1031
PIPE_SIZE = 1 << 20
#: Unclaimed bytes the coordinator leaves in the pipe at most.
MAX_QUEUED_BYTES = 48 * 1024


class JobQueue(Queue):
    def __init__(self, ctx):
        super().__init__(ctx=ctx)
        self.capacity = 64 * 1024
        try:
            fcntl.fcntl(self._writer.fileno(), _F_SETPIPE_SZ, PIPE_SIZE)
            self.capacity = PIPE_SIZE
        except (OSError, AttributeError):
            pass

    def put_now(self, obj):
        """Pickle and write ``obj`` now (coordinator only); returns its size in bytes."""
        data = ForkingPickler.dumps(obj)
        self._writer.send_bytes(data)
        return len(data)

    def take(self, timeout):
        """The next item, or ``queue.Empty`` after ``timeout`` seconds (fetchers)."""
        deadline = time.monotonic() + timeout
        reader, lock = self._reader, self._rlock
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not reader.poll(remaining):
                raise queue.Empty
            if not lock.acquire(timeout=0.05):
                continue
            try:
                if not reader.poll(0):
                    continue
                data = reader.recv_bytes()
            finally:
                lock.release()
            return ForkingPickler.loads(data)
