"""``view(response)``: the page as the crawler got it, in a web browser.

As Scrapy's ``open_in_browser``: the body goes to a temporary file with a ``<base href>``
inserted (after the doctype, so the browser stays out of quirks mode; browsers move a
base that precedes ``<head>`` into it), so that its relative links, images and styles
load from the site. What the browser shows is what the spider sees, before any script
of the page runs: the quickest way to see why a selector finds nothing.
"""

import html
import mimetypes
import os
import re
import sys
import tempfile
import webbrowser
from pathlib import Path

__all__ = ["open_in_browser", "page_file"]

_DOCTYPE_RE = re.compile(rb"\s*<!doctype[^<>]*>", re.IGNORECASE)


def page_file(response):
    """Write ``response``'s body to a new temporary file (a ``<base>`` added to HTML); its path."""
    body = response.body
    if response.is_html:
        doctype = _DOCTYPE_RE.match(body)
        at = doctype.end() if doctype else 0
        base = f'<base href="{html.escape(response.base_url, quote=True)}">'
        body = body[:at] + base.encode("ascii", "xmlcharrefreplace") + body[at:]
        ext = ".html"
    else:
        ext = mimetypes.guess_extension(response.content_type or "") or (
            ".txt" if response.content_type.startswith("text/") else ".bin")
    fd, path = tempfile.mkstemp(suffix=ext, prefix="scrapepool-view-")
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    return path


def _browser_reachable():
    """Whether a browser can open here without taking over the terminal: ``$BROWSER`` is set,
    or a display is there (X11, Wayland), or the platform is not a Unix one (macOS, Windows
    open their default browser). On a headless Unix box ``webbrowser`` would otherwise run
    a text browser (lynx, w3m) in the shell's own terminal, or wait on one."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def open_in_browser(response, opener=webbrowser.open, err=None):
    """Write the page to a file (:func:`page_file`) and open it in a browser; returns the path.

    Without a browser to open (a headless machine, no ``$BROWSER``), the path is said on
    ``err`` (stderr) instead, and returned all the same.
    """
    if response is None:
        raise ValueError("no response to view: fetch(url) one first")
    path = page_file(response)
    err = err if err is not None else sys.stderr
    if _browser_reachable():
        if not opener(Path(path).as_uri()):
            print(f"[s] no browser could open the page; it is at {path}", file=err)
    else:
        print(f"[s] no browser here (no display, no $BROWSER); the page is at {path}", file=err)
    return path
