"""``scrapepool fetch URL``: one page's body (or its headers) on stdout, as ``scrapy fetch``.

The same fetch as the shell's (:class:`~scrapepool.tools.pagefetch.PageFetcher`: the
crawl's settings, robots.txt, redirects, cache). The body is written byte for byte,
with nothing added (Scrapy adds a newline), so ``scrapepool fetch URL > page.html``
keeps the file as the server sent it. A response of any status is printed and the
exit status is 0, as Scrapy's (and curl's without ``-f``); no response at all is one
line on stderr and exit 1.
"""

import os
import sys

from .pagefetch import PageFetcher, resolve_target

__all__ = ["run_fetch"]


def run_fetch(target, settings, spider=None, headers=False, redirect=True, out=None):
    """Fetch ``target`` and write its body (``headers``: the request's and the response's
    headers, ``> Name: value`` and ``< Name: value`` lines as Scrapy prints them) to ``out``
    (a binary stream; default: stdout's). Returns the exit status.

    :raises UsageError: a target that cannot be fetched; :raises DownloadError: no response.
    """
    from ..spiders.http import Request

    request = Request(resolve_target(target))
    fetcher = PageFetcher(settings, spider)
    try:
        response = fetcher.fetch(request, redirect=redirect)
        if headers:
            sent = fetcher.sent_headers(request) if request.url.lower().startswith("http") else {}
            lines = [f"> {k}: {v}" for k, v in sent.items()] + [">"]
            lines += [f"< {k}: {v}" for k, v in response.headers.items()]
            data = "".join(line + "\n" for line in lines).encode("utf-8", "replace")
        else:
            data = response.body
    finally:
        fetcher.close()
    out = out if out is not None else sys.stdout.buffer
    try:
        out.write(data)
        out.flush()
    except BrokenPipeError:  # `scrapepool fetch URL | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0
