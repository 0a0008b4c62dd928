"""The bundled demo site, so the tutorial and ``scrapepool serve-demo`` need no network."""

from __future__ import annotations

import threading

from ..testing.testserver import SiteServer
from .site import BROKEN_LINK, SLOW_PAGE, build_site, expected_counts

__all__ = ["BROKEN_LINK", "SLOW_PAGE", "build_site", "expected_counts", "main_serve", "serve"]


def serve(port: int = 0, host: str = "127.0.0.1") -> SiteServer:
    """An unstarted server for the demo site: the caller owns its lifetime (``with serve() as s:``)."""
    return SiteServer(build_site(), host=host, port=port)


def main_serve(host: str = "127.0.0.1", port: int = 0) -> int:
    """Serve in the foreground until Ctrl-C; returns the exit status (0)."""
    server = serve(port=port, host=host)
    server.start()
    try:
        print(f"Serving the scrapepool demo site on {server.url}/ (Ctrl-C to stop)", flush=True)
        idle = threading.Event()
        while not idle.wait(1.0):  # short waits keep Ctrl-C responsive
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
