"""A real local HTTP server for tests, the demo and users' own spider tests.

Crawlers misbehave in ways mocks hide (keep-alive reuse, slow answers,
redirects, 404s), so tests talk to a real socket on 127.0.0.1 instead.
Every wait here is bounded: a wedged test server must never hang a test run.
"""

from __future__ import annotations

import html
import mimetypes
import socket
import socketserver
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Tuple, Union
from urllib.parse import unquote, urlsplit

__all__ = ["Page", "RequestInfo", "SiteServer"]

START_TIMEOUT = 5.0
STOP_TIMEOUT = 5.0


@dataclass
class Page:
    """A canned response; ``delay`` simulates a slow server."""

    body: Union[bytes, str] = b""
    status: int = 200
    headers: Dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0


@dataclass(frozen=True)
class RequestInfo:
    """What a dynamic page gets to decide its answer (``client`` lets tests see connection reuse)."""

    method: str
    path: str  # with its query string
    headers: Dict[str, str]
    body: bytes
    client: Tuple[str, int]


PageLike = Union[str, bytes, Page]
Site = Mapping[str, Union[PageLike, Callable[[RequestInfo], Optional[PageLike]]]]


def _as_page(page: PageLike) -> Page:
    if isinstance(page, Page):
        return page
    if isinstance(page, str):
        return Page(body=page)
    if isinstance(page, (bytes, bytearray)):
        return Page(body=bytes(page), content_type="text/html")
    raise TypeError(f"cannot serve a {type(page).__name__}")


def _not_found(path: str) -> Page:
    body = f"<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1><p>{html.escape(path)}</p></body></html>"
    return Page(body=body, status=404)


def _from_directory(root: Path, path: str) -> Optional[Page]:
    target = (root / unquote(urlsplit(path).path).lstrip("/")).resolve()
    try:
        target.relative_to(root)  # refuse ../ escapes
    except ValueError:
        return None
    if target.is_dir():
        target = target / "index.html"
    if not target.is_file():
        return None
    ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if ctype.startswith("text/"):
        ctype += "; charset=utf-8"  # fixtures are written in UTF-8; saying so spares clients a guess
    return Page(body=target.read_bytes(), content_type=ctype)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real sites
    timeout = 30  # an idle keep-alive client must not pin a thread forever
    disable_nagle_algorithm = True  # headers and body go out as two writes: avoid the 40 ms delayed-ACK stall

    def setup(self) -> None:
        super().setup()
        self.server.site_server._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.site_server._track(self.connection, add=False)

    def log_message(self, format: str, *args) -> None:
        pass  # per-request lines on stderr would drown test output

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        info = RequestInfo(self.command, self.path, dict(self.headers), body, tuple(self.client_address[:2]))
        site = self.server.site_server
        page = site._page_for(info)
        if page.delay > 0 and site._stopping.wait(page.delay):
            self.close_connection = True  # stopping: drop the request rather than hold up stop()
            return
        payload = page.body.encode("utf-8") if isinstance(page.body, str) else page.body
        self.send_response(page.status)
        headers = {"Content-Type": page.content_type}
        headers.update(page.headers)
        for name, value in headers.items():
            if name.lower() != "content-length":  # ours is always right, theirs might not be
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_HEAD = do_POST = _respond


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    site_server: "SiteServer"

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse-DNS lookup (getfqdn) that can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # the client hung up, or stop() closed the socket: expected, not news
        super().handle_error(request, client_address)


class SiteServer:
    """Serve ``site`` (a dict path -> page, or a directory) on a background thread.

    A dict's values are ``str`` (HTML), ``bytes``, :class:`Page`, or a callable
    ``fn(RequestInfo)`` returning one of those (``None`` means 404). A request is
    matched on its path with the query string first, then without it.
    """

    def __init__(self, site: Union[Site, str, Path], host: str = "127.0.0.1", port: int = 0) -> None:
        self._root: Optional[Path] = None
        if isinstance(site, (str, Path)):
            self._root = Path(site).resolve()
            if not self._root.is_dir():
                raise ValueError(f"not a directory: {site}")
        self.site = site
        self.host = host
        self._port = port
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._handlers: dict[socket.socket, threading.Thread] = {}  # open connections and their threads
        self._stopping = threading.Event()
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- addresses -------------------------------------------------------
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SiteServer is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, path: str) -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    # -- request log -----------------------------------------------------
    def count(self, path: str) -> int:
        """Times ``path`` was requested.

        With a ``?`` the path must match a request exactly; without one it
        matches any request for that path whatever its query string.
        """
        with self._lock:
            seen = [p for _, p in self.requests]
        if "?" in path:
            return sum(p == path for p in seen)
        return sum(p.split("?", 1)[0] == path for p in seen)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- lifecycle -------------------------------------------------------
    def start(self) -> "SiteServer":
        if self._httpd is not None:
            raise RuntimeError("SiteServer is already started")
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._port), _Handler)  # listening once this returns
        httpd.site_server = self
        serving = threading.Event()

        def run() -> None:
            serving.set()
            httpd.serve_forever(poll_interval=0.1)

        thread = threading.Thread(target=run, name=f"SiteServer:{httpd.server_address[1]}", daemon=True)
        thread.start()
        if not serving.wait(START_TIMEOUT):
            httpd.server_close()
            raise RuntimeError(f"SiteServer did not start within {START_TIMEOUT} s")
        self._httpd, self._thread = httpd, thread
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()  # wakes delayed answers
        # shutdown() waits without a timeout; run it aside so stop() stays bounded.
        stopper = threading.Thread(target=httpd.shutdown, daemon=True)
        stopper.start()
        stopper.join(STOP_TIMEOUT)
        with self._lock:
            handlers = list(self._handlers.items())
        for conn, _ in handlers:  # wake handlers blocked reading idle keep-alive sockets
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in [thread] + [t for _, t in handlers]:
            worker.join(max(0.0, deadline - time.monotonic()))
        self._httpd = self._thread = None

    def __enter__(self) -> "SiteServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- internals used by the handler ----------------------------------
    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._handlers[conn] = threading.current_thread()
            else:
                self._handlers.pop(conn, None)

    def _page_for(self, info: RequestInfo) -> Page:
        with self._lock:
            self.requests.append((info.method, info.path))
        try:
            if self._root is not None:
                page = _from_directory(self._root, info.path)
            else:
                page = self._lookup(info)
            return _not_found(info.path) if page is None else _as_page(page)
        except Exception as exc:  # a broken dynamic page should show up in the test, not kill the thread
            return Page(body=f"<h1>500</h1><pre>{html.escape(repr(exc))}</pre>", status=500)

    def _lookup(self, info: RequestInfo) -> Optional[PageLike]:
        for key in (info.path, info.path.split("?", 1)[0]):
            if key in self.site:
                page = self.site[key]
                return page(info) if callable(page) else page
        return None
