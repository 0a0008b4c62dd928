"""``scrapepool.crawl()``: run a crawl from Python and get its stats."""

from .engine import Engine
from .exceptions import UsageError
from .settings import Settings
from .spider import load_spider

__all__ = ["crawl", "build_settings"]


def build_settings(spider_cls, overrides):
    """Settings from the defaults, then ``Spider.custom_settings``, then ``overrides`` (which win)."""
    known = Settings.names()
    merged = {}
    for source, what in ((getattr(spider_cls, "custom_settings", None) or {}, "custom_settings"),
                         (overrides, "option")):
        for key, value in source.items():
            if key not in known:
                raise UsageError(f"unknown {what} {key!r}")
            if value is not None:
                merged[key] = value
    return Settings(**merged)


def crawl(spider=None, seeds=(), output="crawl.jsonl", **settings):
    """Run a crawl to its end and return its stats (a dict).

    :param spider: a Spider subclass, a ``mod:Class`` / ``file.py:Class``
        reference, or None for the built-in site spider.
    :param seeds: start URLs, added to the spider's ``start_urls``.
    :param output: ``.jsonl``, ``.csv``, ``.sqlite``/``.db``, or ``-`` for stdout.
    :param settings: any field of :class:`~scrapepool.Settings` (``workers``,
        ``concurrency``, ``max_pages``, ``job_dir``, ...).

    Usage::

        >>> import scrapepool
        >>> stats = scrapepool.crawl(seeds=["http://127.0.0.1:8000/"], output="out.jsonl",
        ...                          max_pages=100)  # doctest: +SKIP
    """
    spider_cls = load_spider(spider)
    settings["output"] = output
    config = build_settings(spider_cls, settings)
    # The engine in a `with`, as requests wraps its Session: whatever happens, every
    # child process is stopped before we return.
    with Engine(spider if spider is not None else None, seeds, config) as engine:
        return engine.run()
