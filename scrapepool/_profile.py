"""Optional cProfile of a process kind, for finding where a crawl's CPU goes.

Off unless ``$SCRAPEPOOL_PROFILE_DIR`` names a folder: then each profiled thread (the
coordinator's loop, the writer's loop, each fetcher's intake and worker threads) writes
``KIND-PID[-THREAD].prof`` there when it ends (``python -m pstats FILE`` reads them;
benchmarks/profile_results.md has the commands and what they showed). Unset, the cost is
one environment lookup per thread. The timer is the thread's CPU clock (a system call per
event, so a profiled crawl runs 2-3x slower; compare shares, not absolute times).
"""

import contextlib
import os

__all__ = ["profiled"]


@contextlib.contextmanager
def profiled(name):
    """cProfile the calling thread into ``$SCRAPEPOOL_PROFILE_DIR/NAME.prof`` when that is set."""
    folder = os.environ.get("SCRAPEPOOL_PROFILE_DIR")
    if not folder:
        yield
        return
    import cProfile
    import time

    # CPU time of this thread, not wall time: a fetcher's threads spend most of their wall
    # time waiting (the socket, the parse lock, the GIL), which says nothing of the cost.
    prof = cProfile.Profile(time.thread_time)
    prof.enable()
    try:
        yield
    finally:
        prof.disable()
        os.makedirs(folder, exist_ok=True)
        prof.dump_stats(os.path.join(folder, f"{name}.prof"))
