"""Shared builders for the web-correctness tests (issue 3): their crawl settings, timed sites, raw servers.

SiteServer covers every well-behaved answer; what it cannot do (trickle bytes,
never answer, lie about Content-Length, drop the connection, omit
Content-Type) is done by :class:`RawServer`, a tiny threaded socket server
whose every wait is bounded so a wedged test can never hang the run.
"""

import socket
import threading
import time

import pytest

from scrapepool.testing.testserver import Page, RequestInfo

#: Allow-all robots.txt.
ROBOTS = Page("User-agent: *\nDisallow:\n", content_type="text/plain")


# -- crawling ------------------------------------------------------------------------------------

#: The settings the web-correctness tests crawl with: small and fast, robots.txt obeyed.
#: ``pytestmark`` (or a test's decorator) for tests that use the plugin's ``crawl_spider``;
#: a call's own settings win.
CRAWL_SETTINGS = pytest.mark.crawl_settings(concurrency=2, start_method="fork", retry_backoff=0.05,
                                            timeout=5.0, robots=True)


def by_path(records, key="url"):
    """Records keyed by the path (with query) of ``key``."""
    from urllib.parse import urlsplit

    out = {}
    for r in records:
        parts = urlsplit(r[key])
        out[parts.path + ("?" + parts.query if parts.query else "")] = r
    return out


def page_requests(server):
    """Paths the server was asked for, robots.txt left out."""
    return [p for _, p in server.requests if p != "/robots.txt"]


@pytest.fixture
def raw_serve():
    """Factory: ``raw_serve(routes)`` -> a started RawServer, stopped after the test."""
    started = []

    def start(routes, **kw):
        server = RawServer(routes, **kw).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


class Stamps:
    """Receive times (time.monotonic) of every request to a site, and the most in flight at once.

    ``wrap(site)`` returns a site whose pages record when they are asked for;
    with ``hold`` the page takes that long to compute (a slow server), during
    which the request counts as in flight.
    """

    def __init__(self, hold=0.0):
        self.hold = hold
        self.lock = threading.Lock()
        self.log = []  # (monotonic time, path)
        self.inflight = 0
        self.max_inflight = 0

    def wrap(self, site):
        return {path: self._stamped(page) for path, page in site.items()}

    def _stamped(self, page):
        def serve(info: RequestInfo):
            with self.lock:
                self.log.append((time.monotonic(), info.path))
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
            try:
                if self.hold:
                    time.sleep(self.hold)  # a slow server, not a synchronisation
                return page(info) if callable(page) else page
            finally:
                with self.lock:
                    self.inflight -= 1
        return serve

    def times(self, skip_robots=False):
        with self.lock:
            return [t for t, p in self.log if not (skip_robots and p == "/robots.txt")]

    def gaps(self, skip_robots=False):
        times = sorted(self.times(skip_robots))
        return [b - a for a, b in zip(times, times[1:])]


# -- raw socket servers -----------------------------------------------------------------------------

#: Longest any raw handler may keep a connection (every wait is bounded).
RAW_LIMIT = 20.0


class RawServer:
    """A threaded TCP server on 127.0.0.1 whose answers are written by hand.

    ``routes`` maps a path (without query) to ``handler(conn, server)``, called
    after the request head has been read. Unknown paths get a 404 (so
    robots.txt is "missing" unless routed). ``requests`` logs (monotonic time,
    path) of every request head received.
    """

    def __init__(self, routes):
        self.routes = dict(routes)
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.sock = None
        self.thread = None
        self.conns = []

    @property
    def port(self):
        return self.sock.getsockname()[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def count(self, path):
        with self.lock:
            return sum(p.split("?", 1)[0] == path for _, p in self.requests)

    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self._accept, daemon=True, name=f"RawServer:{self.port}")
        self.thread.start()
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            _close(conn)
        self.sock.close()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            conn.settimeout(RAW_LIMIT)
            while not self.stopping.is_set():
                head = _read_head(conn)
                if head is None:
                    return
                path = head.split(b" ", 2)[1].decode("latin-1")
                with self.lock:
                    self.requests.append((time.monotonic(), path))
                handler = self.routes.get(path.split("?", 1)[0], not_found)
                if handler(conn, self) is not True:  # True: keep the connection for another request
                    return
        except OSError:
            pass
        finally:
            _close(conn)


def _read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    return data


def _close(conn):
    try:
        conn.shutdown(socket.SHUT_RDWR)  # a FIN even if a forked child still holds the descriptor
    except OSError:
        pass
    conn.close()


def head(status=200, headers=(), length=None, content_type="text/html; charset=utf-8"):
    lines = [f"HTTP/1.1 {status} X"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in headers]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def not_found(conn, server):
    body = b"<title>404</title>"
    conn.sendall(head(404, length=len(body)) + body)


def respond(body, status=200, content_type="text/html; charset=utf-8", headers=()):
    """A handler sending a complete, well-formed answer."""
    body = body.encode("utf-8") if isinstance(body, str) else body

    def handler(conn, server):
        conn.sendall(head(status, headers, len(body), content_type) + body)
    return handler


def trickle(every=0.2, limit=100, content_length=True):
    """Headers at once, then one body byte every ``every`` s (``limit`` bytes at most)."""
    def handler(conn, server):
        conn.sendall(head(200, length=limit if content_length else None))
        for _ in range(limit):
            if server.stopping.wait(every):
                return
            conn.sendall(b"x")
    return handler


def trickle_head(every=0.2, limit=100):
    """The status line and headers themselves, one byte every ``every`` s."""
    def handler(conn, server):
        data = head(200, length=2) + b"ok"
        for byte in data[:limit]:
            if server.stopping.wait(every):
                return
            conn.sendall(bytes([byte]))
    return handler


def silent(conn, server):
    """Reads the request and never answers (until the server stops)."""
    server.stopping.wait(RAW_LIMIT)


def hang_up(conn, server):
    """Closes the connection without a word: a connection error for the client."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST


def short_body(declared=1000, sent=100):
    """Content-Length says ``declared``; ``sent`` bytes of a valid page follow, then the connection closes."""
    def handler(conn, server):
        body = (b"<html><head><title>Cut</title></head><body><a href='/from-cut-page'>x</a>"
                .ljust(sent, b" "))[:sent]
        conn.sendall(head(200, length=declared) + body)
    return handler


def stream(total, declare=False, chunk=64 * 1024):
    """``total`` bytes of HTML, without Content-Length unless ``declare`` (the close ends it)."""
    block = b"<p>" + b"x" * (chunk - 3)

    def handler(conn, server):
        conn.sendall(head(200, length=total if declare else None))
        sent = 0
        while sent < total and not server.stopping.is_set():
            part = block[:total - sent]
            conn.sendall(part)
            sent += len(part)
    return handler
