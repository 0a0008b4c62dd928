"""The job directory: which crawl a job is, and whether this run resumes it.

``--job-dir DIR`` keeps a crawl's state in ``DIR/job.sqlite`` (jobdb.py); the same
command run again resumes it. A job is identified by its spider, its start URLs and
its output: a job directory of another crawl is refused with a one-line error rather
than mixed in, and ``--restart`` starts it over. Without ``--job-dir`` the state lives
in a temporary folder, removed at the end.

One run at a time: a running crawl holds an advisory lock (``flock``) on ``DIR/lock``; a
second run on the same folder is refused with one line. The kernel drops the lock when the
holder dies, even by SIGKILL, so a rerun after a crash needs no clean-up (a shared crawl
relies on this: a machine rerun on its job dir may take its old session over at once,
core/redis_frontier.py).

The identity is written by the engine together with the start requests, in one
transaction (``JobDir.identity``): a run interrupted before that leaves nothing on disk,
and the next one starts afresh.
"""

import fcntl
import os
import shutil
import tempfile

from ..exceptions import JobDirError
from ..output.jobdb import DB_NAME, JobDB

__all__ = ["JobDir"]

#: The parts of the identity that must match for a run to resume a job.
IDENTITY_KEYS = ("spider", "seeds", "output")


class JobDir:
    """The job database of one crawl, opened for this run."""

    def __init__(self, settings, spider_ref, start_urls):
        self.settings = settings
        self.identity = {
            "spider": spider_ref or "builtin:SiteSpider",
            "seeds": sorted(set(start_urls)),
            "output": os.path.abspath(settings.output) if settings.output != "-" else "-",
        }
        self.db = None
        self._lock = None
        #: The temporary folder used without --job-dir (removed by ``close``).
        self.temp_dir = None
        #: True when this run resumes a job begun before.
        self.resume = False

    def open(self):
        """Open (or create) the job database; returns True when this run resumes a job."""
        s = self.settings
        if s.job_dir:
            folder = s.job_dir
            if os.path.exists(folder) and not os.path.isdir(folder):
                raise JobDirError(f"job dir {folder} is not a folder")
            self._take_lock(folder)
            if s.restart and os.path.isdir(folder):
                for name in os.listdir(folder):
                    if name.startswith(DB_NAME):
                        os.remove(os.path.join(folder, name))
            durable = True
        else:
            folder = self.temp_dir = tempfile.mkdtemp(prefix="scrapepool-job-")
            durable = False
        try:
            self.db = JobDB(folder, durable)
        except Exception as exc:
            raise JobDirError(f"cannot use job dir {folder}: {exc}") from None
        old = self.db.get("identity")
        if old is None:
            return False
        for key in IDENTITY_KEYS:
            if old.get(key) != self.identity[key]:
                raise JobDirError(
                    f"job dir {folder} belongs to another crawl (its {key} differs); "
                    "use --restart to start it over, or another --job-dir")
        self.resume = True
        return True

    def _take_lock(self, folder):
        try:
            os.makedirs(folder, exist_ok=True)
            fd = os.open(os.path.join(folder, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise JobDirError(f"cannot use job dir {folder}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JobDirError(f"job dir {folder} is in use by another run of scrapepool") from None
        self._lock = fd

    @property
    def folder(self):
        return os.path.dirname(self.db.path)

    def close(self):
        if self.db is not None:
            self.db.close()
        if self._lock is not None:
            os.close(self._lock)  # releases the lock
            self._lock = None
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            self.temp_dir = None
