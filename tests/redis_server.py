"""A real ``redis-server`` for the distributed-crawl tests (issue 14).

:class:`RedisServer` runs one ``redis-server`` process on a free 127.0.0.1 port in its own
directory, with the AOF on and fsynced on every write (``--appendfsync always``) unless told
otherwise, and ``--daemonize no`` so that the PID we hold is the server's. It is stopped by that
PID (SIGTERM, then SIGKILL after a timeout); ``restart(kill=True)`` SIGKILLs it and starts it
again on the same directory and port, so it reloads its AOF, as an operator's restart would.

Fixture: ``redis_server`` (import it into a test module with
``from tests.redis_server import redis_server  # noqa: F401``). It is function-scoped but hands
every test of the pytest process the same server, started on first use and stopped by PID when
the session ends; each test checks it is alive first (a test that killed it gets it started
again on its AOF). Tests share it, so each crawl uses its own ``--crawl-id``
(:func:`new_crawl_id`). Tests are skipped, with the reason, when ``redis-server`` is not on PATH
(``.ci/run`` installs Debian's ``redis-server`` package) or when redis-py is not installed.

Every wait here has a deadline; nothing sleeps to synchronise.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import List, Optional, Sequence

import pytest

__all__ = ["RedisServer", "RedisStartError", "free_port", "missing", "new_crawl_id", "redis_server",
           "redis_server_binary", "requires_redis", "start_redis"]

#: Longest wait for a started server to answer PING.
START_TIMEOUT = 15.0
#: Longest wait for a SIGTERMed server to exit before it gets SIGKILL.
STOP_TIMEOUT = 10.0
#: Free-port attempts before giving up (another process may take the port between our probe and
#: redis-server's bind).
PORT_ATTEMPTS = 5
#: Pause between two PINGs while waiting for the server (a poll with a deadline, not a sleep).
PING_EVERY = 0.02


class RedisStartError(RuntimeError):
    """redis-server did not start (with the tail of its log)."""


def redis_server_binary() -> Optional[str]:
    return shutil.which("redis-server")


def missing() -> Optional[str]:
    """Why these tests cannot run here, or None."""
    if redis_server_binary() is None:
        return "redis-server is not on PATH (Debian/Ubuntu: apt-get install -y redis-server; .ci/run does it)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "redis-py is not installed (pip install -e '.[test]')"
    return None


#: Marks a test that starts its own RedisServer (the ``redis_server`` fixture skips by itself).
requires_redis = pytest.mark.skipif(missing() is not None, reason=str(missing()))


def _skip_unless_available() -> None:
    reason = missing()
    if reason is not None:
        pytest.skip(reason)


def free_port() -> int:
    """A port nothing listens on right now (someone may take it before we do: callers retry)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_crawl_ids = itertools.count(1)


def new_crawl_id(name: str = "t") -> str:
    """A crawl id no other test of any run uses (tests share one Redis)."""
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:40]
    return f"{safe}-{next(_crawl_ids)}-{uuid.uuid4().hex[:8]}"


class RedisServer:
    """One ``redis-server`` process in ``directory``: ``start()``, ``stop()``, ``restart(kill=True)``.

    ``aof=False`` starts it without persistence at all (no AOF, no RDB snapshots), for the test
    that a crawl refuses such a Redis. ``port=None`` picks a free port on the first start and
    keeps it for restarts.
    """

    def __init__(self, directory, port: Optional[int] = None, aof: bool = True,
                 appendfsync: str = "always", extra_args: Sequence[str] = (),
                 binary: Optional[str] = None) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port: Optional[int] = port
        self._fixed_port = port is not None
        self.aof = aof
        self.appendfsync = appendfsync
        self.extra_args = list(extra_args)
        self.binary = binary or redis_server_binary()
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.directory / "redis.log"
        self.starts = 0

    # -- addresses -------------------------------------------------------
    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("RedisServer was never started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc is not None else None

    def client(self, **kw):
        """A redis-py client on this server (the caller closes it)."""
        import redis

        kw.setdefault("socket_timeout", 5.0)
        kw.setdefault("socket_connect_timeout", 5.0)
        return redis.Redis(host="127.0.0.1", port=self.port, db=0, **kw)

    # -- lifecycle -------------------------------------------------------
    def command(self, port: int) -> List[str]:
        args = [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(self.directory),
                "--daemonize", "no", "--save", "", "--logfile", "",
                "--protected-mode", "no"]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            args += ["--appendonly", "no"]
        return args + self.extra_args

    def start(self) -> "RedisServer":
        if self.running():
            raise RuntimeError(f"redis-server already running (pid {self.pid})")
        if self.binary is None:
            raise RedisStartError("redis-server is not on PATH")
        errors = []
        pause = threading.Event()  # never set: a bounded pause between two attempts
        for _ in range(PORT_ATTEMPTS):
            # A probed port may be taken before redis-server binds it: probe another. Our own port
            # (a restart) may still be held for a moment: try it again.
            port = self.port if self._fixed_port else free_port()
            try:
                self._start_on(port)
            except RedisStartError as exc:
                errors.append(str(exc))
                if "in use" not in str(exc).lower():
                    raise
                pause.wait(0.2 if self._fixed_port else 0.0)
                continue
            self.port = port
            self._fixed_port = True  # restarts keep the port: clients and machines know it
            self.starts += 1
            return self
        raise RedisStartError("could not start redis-server: " + " | ".join(errors))

    def _start_on(self, port: int) -> None:
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.command(port), stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd=str(self.directory),
                                         start_new_session=True)  # a test's killpg never hits it
        finally:
            log.close()
        try:
            self._wait_ready(port)
        except RedisStartError:
            self._kill_and_reap()
            raise

    def _wait_ready(self, port: int) -> None:
        import redis

        deadline = time.monotonic() + START_TIMEOUT
        wake = threading.Event()  # never set: a bounded pause between two polls
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1.0, socket_connect_timeout=1.0)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RedisStartError(f"redis-server exited with status {self.proc.returncode} "
                                          f"on port {port}: {self.log_tail()}")
                try:
                    # Ours, not another server that holds the port (ours then exits: "in use").
                    # The AOF is loaded before the server answers anything but LOADING errors.
                    if client.ping() and client.info("server").get("process_id") == self.proc.pid:
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                        redis.exceptions.BusyLoadingError):
                    pass
                if time.monotonic() >= deadline:
                    raise RedisStartError(f"redis-server on port {port} did not answer PING within "
                                          f"{START_TIMEOUT} s: {self.log_tail()}")
                wake.wait(PING_EVERY)
        finally:
            client.close()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return " / ".join(line.strip() for line in text.strip().splitlines()[-lines:])

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def alive(self) -> bool:
        """Running and answering PING."""
        if not self.running():
            return False
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2.0, socket_connect_timeout=2.0)
        try:
            return bool(client.ping())
        except redis.exceptions.RedisError:
            return False
        finally:
            client.close()

    def _kill_and_reap(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL by PID (it gets no chance to write anything more), and reap it."""
        self._kill_and_reap()

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM by PID; SIGKILL if it is not gone within ``timeout``."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.kill(proc.pid, signal.SIGCONT)  # a test may have left it stopped: SIGTERM would wait
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill_and_reap()

    def restart(self, kill: bool = True) -> "RedisServer":
        """Stop it (SIGKILL with ``kill``, else SIGTERM) and start it on the same dir and port."""
        if kill:
            self.kill()
        else:
            self.stop()
        return self.start()

    def __enter__(self) -> "RedisServer":
        return self.start() if not self.running() else self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RedisServer port={self.port} pid={self.pid} dir={self.directory} aof={self.aof}>"


def start_redis(directory, aof: bool = True, **kw) -> RedisServer:
    """A started RedisServer in ``directory`` (``aof=False``: no persistence); the caller stops it."""
    return RedisServer(directory, aof=aof, **kw).start()


# -- fixture ----------------------------------------------------------------------------------------

_shared: dict = {}


@pytest.fixture
def redis_server(request, tmp_path_factory) -> RedisServer:
    """The pytest process's shared RedisServer (AOF on, appendfsync always), alive for this test.

    Started on first use, stopped by PID when the session ends (``config.add_cleanup``). A test
    that killed it (or left it stopped) gets it started again, on its AOF. Use
    :func:`new_crawl_id` for each crawl: other tests' keys stay in this Redis.
    """
    _skip_unless_available()
    server = _shared.get("server")
    if server is None:
        server = RedisServer(tmp_path_factory.mktemp("redis"))
        _shared["server"] = server
        request.config.add_cleanup(server.stop)
        server.start()
    elif not server.running():
        server.start()
    else:
        try:
            os.kill(server.pid, signal.SIGCONT)  # a failed test may have left it SIGSTOPped
        except ProcessLookupError:
            pass
        if not server.alive():
            server.restart(kill=True)
    return server
