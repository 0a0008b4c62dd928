"""The job queue: a one-way pipe that the coordinator fills and the fetchers drain.

Built from multiprocessing's public pieces, a ``Pipe(duplex=False)`` and a
``Lock``, rather than on ``multiprocessing.Queue``, for robustness and speed:

- ``put_now`` writes to the pipe synchronously, in the coordinator's own
  thread. ``Queue.put`` hands the item to a feeder thread, which costs a
  thread wake-up and a GIL hand-off per job (measured: ~0.2 ms a put, the
  largest single cost of the coordinator) and loses an unpicklable item
  silently (STYLE.md, trap 2); here a pickling error is raised at the call.
  The coordinator keeps at most ``MAX_QUEUED_BYTES`` unclaimed in the pipe,
  below the pipe's capacity, so the write never blocks.
- ``take`` waits without holding the process-shared read lock.
  ``Queue.get`` holds its lock while it waits, so a fetcher killed while
  idle (the usual moment) would leave it held and every other fetcher
  blocked for ever. Here only the read itself holds it (microseconds).

A JobQueue goes to the fetchers as an argument of their ``Process`` (its
Connections and its Lock are pickled for a spawned child then, and only then,
as a ``multiprocessing.Queue`` is). Jobs are plain data (``_messages.Job``), so
the plain ``pickle`` carries them; ``multiprocessing``'s own pickler only adds
reducers for Connections, sockets and the like.
"""

import fcntl
import pickle
import queue
import select
import time

__all__ = ["JobQueue", "MAX_QUEUED_BYTES"]

#: Linux's F_SETPIPE_SZ (named in fcntl from Python 3.10); the default pipe holds 64 KiB.
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
PIPE_SIZE = 1 << 20
#: Unclaimed bytes the coordinator leaves in the pipe at most.
MAX_QUEUED_BYTES = 48 * 1024


class JobQueue:
    """One writer (the coordinator), many readers (the fetchers)."""

    def __init__(self, ctx):
        self._reader, self._writer = ctx.Pipe(duplex=False)
        #: Held by a reader for one ``recv_bytes`` only (see ``take``).
        self._rlock = ctx.Lock()
        self.capacity = 64 * 1024
        try:
            fcntl.fcntl(self._writer.fileno(), _F_SETPIPE_SZ, PIPE_SIZE)
            self.capacity = PIPE_SIZE
        except (OSError, AttributeError):
            pass

    def put_now(self, obj):
        """Pickle and write ``obj`` now (coordinator only); returns its size in bytes."""
        data = pickle.dumps(obj)
        self._writer.send_bytes(data)
        return len(data)

    def take(self, timeout):
        """The next item, or ``queue.Empty`` after ``timeout`` seconds (fetchers)."""
        deadline = time.monotonic() + timeout
        reader, lock = self._reader, self._rlock
        poll = self._readable()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poll(remaining * 1000):
                raise queue.Empty
            if not lock.acquire(timeout=0.05):
                continue
            try:
                if not poll(0):
                    continue
                data = reader.recv_bytes()
            finally:
                lock.release()
            return pickle.loads(data)

    def _readable(self):
        """``poll(ms)`` of the read end: a ``select.poll`` made once in this process.

        ``Connection.poll`` builds a selector on every call, and ``take`` polls twice a
        job: ~3% of a fetcher's CPU on S1 with the selector spider (cProfile)."""
        poller = self.__dict__.get("_poller")
        if poller is None:
            poller = select.poll()
            poller.register(self._reader.fileno(), select.POLLIN)
            self._poller = poller
        return poller.poll

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_poller", None)  # a poll set is this process's own
        return state

    def close(self):
        """Close this process's ends of the pipe (again: nothing)."""
        self._reader.close()
        self._writer.close()
