"""The Spider base class, and loading a spider from a reference.

A spider crosses process boundaries as a *reference* (``pkg.mod:Class`` or
``path/to/file.py:Class``), never as an object: each fetcher loads the class
and makes its own instance (rq's "recipe" pattern; STYLE.md, trap 3).
"""

import importlib.util
import inspect
import os
import pkgutil
import sys

from .exceptions import SpiderLoadError
from .http import Request

__all__ = ["Spider", "load_spider", "spider_ref"]


class Spider:
    """Subclass this and write ``parse(self, response)``.

    Callbacks yield dicts (records) and :class:`~scrapepool.Request` objects
    (more pages to crawl), or return a list of them, or None.
    """

    #: A short name for logs and stats.
    name = None
    #: Seed URLs, added to the command line's seeds.
    start_urls = ()
    #: As in Scrapy: bare domains (with their subdomains) the crawl may visit.
    #: Empty: the seeds' host:port only.
    allowed_domains = ()
    #: Defaults for any crawl setting (the command line wins over them).
    custom_settings = {}
    #: Record pipelines (classes or ``mod:Class`` strings), run in the fetchers.
    pipelines = ()
    #: Headers sent with every request (``--header`` and a request's own headers win).
    default_headers = {}

    def __init__(self, **kwargs):
        for key, value in kwargs.items():
            setattr(self, key, value)
        if not getattr(self, "name", None):
            self.name = type(self).__name__

    def start_requests(self):
        """The first requests; by default one per URL of ``start_urls``."""
        for url in self.start_urls:
            yield Request(url, dont_filter=False)

    def parse(self, response):
        raise NotImplementedError(f"{type(self).__name__}.parse callback is not defined")

    def error_record(self, failure):
        """The record to write for a request that failed for good, or None (the default).

        :param failure: a dict with ``url``, ``final_url``, ``status``, ``error`` and ``depth``.
        """
        return None

    def redirect_seen_record(self, redirect):
        """The record for a request whose redirect leads to a URL the crawl has already
        requested, or None (the default). The hop is not fetched: as in Scrapy, it ends
        in the dupefilter, and the page gets its record from its own request
        (``Request(dont_filter=True)`` follows such a redirect all the same).

        :param redirect: a dict with ``url`` (requested), ``final_url`` (where the redirect
            leads), ``status`` (the redirect's), ``depth`` and ``meta``.
        """
        return None


def spider_ref(spider):
    """A reference string for a Spider class (or pass a reference through)."""
    if spider is None or isinstance(spider, str):
        return spider
    if not (inspect.isclass(spider) and issubclass(spider, Spider)):
        raise SpiderLoadError(f"{spider!r} is not a Spider subclass")
    if "<locals>" in spider.__qualname__:
        raise SpiderLoadError(
            f"{spider.__qualname__} is defined inside a function: fetcher processes cannot import it; "
            "define the spider at module level")
    module = sys.modules.get(spider.__module__)
    path = getattr(module, "__file__", None)
    if spider.__module__ in ("__main__", "__mp_main__") or getattr(module, "_scrapepool_from_file", False):
        if not path:
            raise SpiderLoadError(f"cannot tell which file defines {spider.__qualname__}")
        return f"{os.path.abspath(path)}:{spider.__qualname__}"
    return f"{spider.__module__}:{spider.__qualname__}"


def _dotted(name):
    """``name`` is dotted Python identifiers, as ``pkgutil.resolve_name`` reads them."""
    return all(part.isidentifier() for part in name.split("."))


def _load_file(path):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise SpiderLoadError(f"spider file not found: {path}")
    modname = "scrapepool_spider_" + "".join(c if c.isalnum() else "_" for c in path)
    module = sys.modules.get(modname)
    if module is None:
        spec = importlib.util.spec_from_file_location(modname, path)
        if spec is None or spec.loader is None:
            raise SpiderLoadError(f"cannot load {path}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        module._scrapepool_from_file = True
        sys.modules[modname] = module
        # The file's own folder is importable, as for `python file.py`.
        folder = os.path.dirname(path)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[modname]
            raise SpiderLoadError(f"error while loading {path}: {type(exc).__name__}: {exc}") from None
    return module


def load_spider(ref):
    """Load the Spider class that ``ref`` names.

    :param ref: ``pkg.mod:Class`` or ``path/to/file.py:Class``; a Spider class
        is returned as it is. ``None`` gives the built-in site spider.
    :raises SpiderLoadError: with one line saying what is wrong.
    """
    if ref is None:
        from .builtin import SiteSpider

        return SiteSpider
    if inspect.isclass(ref):
        if not issubclass(ref, Spider):
            raise SpiderLoadError(f"{ref.__name__} is not a Spider subclass")
        return ref
    target, sep, clsname = str(ref).rpartition(":")
    if not sep or not target or not clsname or not _dotted(clsname):
        raise SpiderLoadError(f"spider reference {ref!r} must look like module:Class or file.py:Class")
    if target.endswith(".py") or os.sep in target:
        modname = _load_file(target).__name__
    else:
        if not _dotted(target):
            raise SpiderLoadError(f"spider reference {ref!r} must look like module:Class or file.py:Class")
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.insert(0, os.getcwd())
        modname = target
    try:
        obj = pkgutil.resolve_name(f"{modname}:{clsname}")
    except ModuleNotFoundError as exc:
        raise SpiderLoadError(f"spider module {target!r} not found ({exc})") from None
    except AttributeError as exc:
        if modname in sys.modules:  # imported: the class is what is missing
            raise SpiderLoadError(f"{target} has no class {clsname!r}") from None
        raise SpiderLoadError(f"error while importing {target}: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        raise SpiderLoadError(f"error while importing {target}: {type(exc).__name__}: {exc}") from None
    if not (inspect.isclass(obj) and issubclass(obj, Spider)):
        raise SpiderLoadError(f"{target}:{clsname} is not a Spider subclass")
    return obj
