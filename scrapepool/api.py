"""``scrapepool.crawl()``: run a crawl from Python and get its stats."""

import logging
import os

from .core.engine import Engine
from .exceptions import UsageError
from .output.exporters import check_output
from .output.jobdb import DB_NAME
from .settings import Settings
from .spiders.loading import load_spider

__all__ = ["crawl", "build_settings", "check_settings_output"]

logger = logging.getLogger("scrapepool")


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


def check_settings_output(settings):
    """Check, before any request, that the output can be written *as* these settings ask.

    The engine checks the path itself; this also checks that a file which is there can
    be appended to (a JSON array, a SQLite database, a CSV with the ``fields`` as its
    header) and says that the crawl appends. A job dir that may be resumed is left to
    the writer: a resumed job continues, and repairs, its own output.
    """
    path = settings.output
    append = not settings.overwrite_output
    resume = bool(settings.job_dir and not settings.restart
                  and os.path.exists(os.path.join(settings.job_dir, DB_NAME)))
    check_output(path, resume=resume, append=append, fields=settings.fields)
    if append and not resume and path != "-" and os.path.isfile(path) and os.path.getsize(path):
        logger.info("appending to %s, which is already there (-O overwrites it)", path)


def crawl(spider=None, seeds=(), output="crawl.jsonl", overwrite=None, **settings):
    """Run a crawl to its end and return its stats (a dict).

    :param spider: a Spider subclass, a ``mod:Class`` / ``file.py:Class``
        reference, or None for the built-in site spider.
    :param seeds: start URLs, added to the spider's ``start_urls``.
    :param output: ``.jsonl``, ``.json``, ``.csv``, ``.sqlite``/``.db``, or ``-`` for stdout.
    :param overwrite: True replaces an ``output`` file that is there; False (the default,
        as the CLI's ``-o`` and Scrapy's) appends to it. It sets ``overwrite_output``.
    :param settings: any field of :class:`~scrapepool.Settings` (``workers``,
        ``concurrency``, ``max_pages``, ``job_dir``, ``fields``, ...).

    Usage::

        >>> import scrapepool
        >>> stats = scrapepool.crawl(seeds=["http://127.0.0.1:8000/"], output="out.jsonl",
        ...                          max_pages=100)  # doctest: +SKIP
    """
    spider_cls = load_spider(spider)
    settings["output"] = output
    if overwrite is not None:
        settings["overwrite_output"] = overwrite
    config = build_settings(spider_cls, settings)
    check_settings_output(config)
    # The engine in a `with`, as requests wraps its Session: whatever happens, every
    # child process is stopped before we return.
    with Engine(spider if spider is not None else None, seeds, config) as engine:
        return engine.run()
