"""The HTTP cache (``--http-cache DIR``): store every response on disk, serve a rerun from it.

Layout: one file per response, ``DIR/ab/abcdef...`` where the name is the SHA-1 of
(method, canonical URL, request body). A file is one line of JSON metadata (method,
canonical URL, final URL, status, headers as a list of pairs, the redirect chain, the
time stored, the body's size), a newline, then the raw body. Never pickle: a cache
folder can come from anywhere, and reading it must never run code.

Every write goes to a temporary file in the same folder and is then renamed over the
entry (``os.replace``, atomic on POSIX and Windows), so N fetcher processes with C
threads each share one folder without a lock: a reader sees the old entry or the new
one, never half of one. There is no fsync: after a power cut a torn or empty file is
possible, and it is read as a miss (the size in the metadata must match the body), then
fetched and written again. A get is one ``open`` + ``read``; a miss is one failed ``open``.

Responses with a transient status (429 and 5xx, the ones the downloader retries) are
not stored, so a rerun asks for them again instead of replaying an outage for ever.
Failed requests (``result.error``) never reach the cache. The robots.txt request goes
through the same path, so a rerun of a cached crawl makes no request at all.

Why files and not requests-cache: requests-cache works by patching or replacing the
``requests.Session`` (our downloader follows redirects itself, hop by hop, with
``stream=True`` and its own timeouts and size cap, all of which a caching session
would have to reproduce), and its default backend is one SQLite database that every
thread of every fetcher process would write to: SQLite takes one writer at a time for
the whole file, so N x C writers queue on its lock, and a database per process would
not be shared between processes at all. Files need no lock, no connection per thread
and no schema, and ``rm -r DIR/ab`` or ``find DIR -mtime`` are all the tooling needed.
Measured on the project's machine (2 cores, Python 3.11, ext4; a 24 KB HTML page, one
thread, mean over 1,000-2,000 distinct pages, three runs; requests-cache 1.3.3 with its
defaults, in a throwaway venv):

    ==========================================  ==============  =====================
    per page                                     put (store)     get (a hit)
    ==========================================  ==============  =====================
    HttpCache (this module)                      0.24-0.34 ms    0.04-0.05 ms
                                                                 (a miss: 0.07 ms)
    requests-cache, SQLite backend               2.0-5.0 ms      0.74-0.95 ms
    requests-cache, filesystem backend           0.7-1.1 ms      0.86-1.07 ms
    ==========================================  ==============  =====================

(requests-cache: put is ``session.cache.save_response(response)``; get is a
``CachedSession.get`` served from the cache, the way a crawler would use it.) A
parse costs ~9 ms a page, so the cache is noise next to it; requests-cache's SQLite
put alone would be a fifth of that, before any lock contention between processes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time

from requests.structures import CaseInsensitiveDict

from ..urls import canonical
from .downloader import RETRY_STATUSES, FetchResult

__all__ = ["HttpCache"]

logger = logging.getLogger("scrapepool.httpcache")

#: Version of the file format, stored in every entry; another version is a miss.
FORMAT = 1
#: Statuses not stored: transient, a rerun should ask again.
SKIP_STATUSES = frozenset(RETRY_STATUSES)


class HttpCache:
    """Responses on disk under ``folder``, keyed by (method, canonical URL, body).

    :param folder: the cache folder, made if missing; share it between processes freely.
    :param expire: seconds an entry stays fresh; an older one is a miss, and is
        overwritten when the page is fetched again. None: entries never expire.

    ``get`` and ``put`` never raise: a cache that cannot be read or written is a
    cache that misses (a warning is logged once per process for a failing write).
    """

    def __init__(self, folder, expire=None):
        self.folder = os.path.abspath(os.fspath(folder))
        self.expire = expire
        self._warned = False
        os.makedirs(self.folder, exist_ok=True)

    # -- keys ------------------------------------------------------------------------------
    @staticmethod
    def key(method, url, body=None):
        """The entry's name: hex SHA-1 of method, canonical URL and request body."""
        h = hashlib.sha1((method or "GET").upper().encode("ascii", "replace"))
        h.update(b" ")
        h.update((canonical(url) or url).encode("utf-8", "surrogatepass"))
        if body:
            h.update(b" ")
            h.update(body.encode("utf-8") if isinstance(body, str) else bytes(body))
        return h.hexdigest()

    def path(self, method, url, body=None):
        """The file of the entry for this request (it may not exist)."""
        key = self.key(method, url, body)
        return os.path.join(self.folder, key[:2], key)

    # -- the fetcher's interface -----------------------------------------------------------
    def get(self, job):
        """The cached :class:`FetchResult` for ``job`` (anything with url, method, body), or None."""
        return self.lookup(job.method, job.url, job.body)

    def put(self, job, result):
        """Store ``result`` (a response, ``result.error is None``) for ``job``."""
        self.store(job.method, job.url, job.body, result)

    # -- the same, by request fields -------------------------------------------------------
    def lookup(self, method, url, body=None):
        try:
            with open(self.path(method, url, body), "rb") as f:
                head = f.readline()
                data = f.read()
            meta = json.loads(head)
            if meta.get("v") != FORMAT or meta["size"] != len(data):
                return None  # another format, or a torn write
            if meta["method"] != (method or "GET").upper() or meta["url"] != (canonical(url) or url):
                return None  # not ours (a hash collision, in theory)
            if self.expire is not None and time.time() - meta["time"] > self.expire:
                return None
            headers = CaseInsensitiveDict()
            for name, value in meta["headers"]:
                headers[name] = value
            return FetchResult(meta["final_url"], meta["status"], headers, data, chain=meta["chain"])
        except Exception:  # FileNotFoundError: a miss; anything else: an entry we cannot use
            return None

    def store(self, method, url, body, result):
        if result.error is not None or result.status in SKIP_STATUSES:
            return
        path = self.path(method, url, body)
        meta = {
            "v": FORMAT,
            "method": (method or "GET").upper(),
            "url": canonical(url) or url,
            "final_url": result.final_url,
            "status": result.status,
            "headers": [[str(k), str(v)] for k, v in (result.headers or {}).items()],
            "chain": list(result.chain or ()),
            "time": time.time(),
            "size": len(result.body),
        }
        # ensure_ascii: the JSON line holds no raw newline whatever the headers say.
        head = json.dumps(meta, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"
        tmp = None
        try:
            folder = os.path.dirname(path)
            try:
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
            with os.fdopen(fd, "wb") as f:
                f.write(head)
                f.write(result.body)
            os.replace(tmp, path)
            tmp = None
        except Exception as exc:  # disk full, read-only folder...: the crawl goes on uncached
            if not self._warned:
                self._warned = True
                logger.warning("HTTP cache %s cannot be written (%s): going on without storing",
                               self.folder, exc)
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def __repr__(self):
        return f"HttpCache({self.folder!r}, expire={self.expire!r})"
