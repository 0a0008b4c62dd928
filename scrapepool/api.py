"""``scrapepool.crawl()``: run a crawl from Python and get its stats."""

import ast
import inspect
import logging
import os
import sys

from .core.engine import Engine
from .exceptions import UsageError
from .output.exporters import check_output
from .output.jobdb import DB_NAME
from .settings import Settings
from .spiders.loading import load_spider

__all__ = ["crawl", "build_settings", "check_settings_output"]

logger = logging.getLogger("scrapepool")


def build_settings(spider_cls, overrides, project=None, sets=None):
    """Settings from, lowest first: the defaults, the project file (``project``),
    ``Spider.custom_settings``, ``--set`` (``sets``), then ``overrides`` (which win).

    Scrapy's order (``SETTINGS_PRIORITIES``: default < project < spider < cmdline), with
    the command line's explicit options after its ``--set``, as Scrapy sets ``-o`` or
    ``--logfile`` after ``-s`` at the same priority, the later winning. ``project`` and
    ``sets`` are {field: value} from :mod:`scrapepool.project`, where None is a value (no
    limit); in ``overrides`` None is "not given", as argparse leaves an option.
    """
    from .project import from_spider

    known = Settings.names()
    merged = {}
    merged.update(project or {})
    merged.update(from_spider(getattr(spider_cls, "custom_settings", None)))
    merged.update(sets or {})
    for key, value in overrides.items():
        if key not in known:
            raise UsageError(f"unknown option {key!r}")
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
    for option, extra in (("--stats", settings.stats_path), ("--report", settings.report)):
        if extra:
            _check_writable(option, extra)


def _check_main(spider_cls, caller):
    """What a spawned process cannot do, said before any process starts (it used to end in a
    40-line multiprocessing traceback and WriterDied): each fetcher imports the caller's
    ``__main__`` again, so a spider defined in ``python -c``, a notebook or the REPL cannot be
    found there, and a script that calls crawl() at its top level, unguarded, would start
    the crawl again in every child."""
    main = sys.modules.get("__main__")
    if spider_cls.__module__ == "__main__" and not getattr(main, "__file__", None):
        raise UsageError(f"spider {spider_cls.__name__} is defined in an interactive session (python -c, a "
                         "notebook, the REPL), which the fetcher processes cannot import: put it in a file "
                         "and call crawl() there under `if __name__ == \"__main__\":`, or pass 'file.py:Class'")
    if caller is None or caller.f_code.co_name != "<module>" or caller.f_globals.get("__name__") != "__main__":
        return
    path = caller.f_code.co_filename
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        return  # no source to read: give the benefit of the doubt
    line = caller.f_lineno
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_main_test(node.test) and node.lineno <= line <= node.end_lineno:
            return
    raise UsageError(f"crawl() is called at the top level of {os.path.basename(path)} without "
                     "`if __name__ == \"__main__\":` around it: each fetcher process imports that file "
                     "again and would start the crawl once more; put the call under that line")


def _is_main_test(test):
    """``__name__ == "__main__"``, either way round."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"]


def _check_writable(option, path):
    """A file written at the end (stats, report) must be writable from the start: finding
    out after an hour of crawling loses it."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        why = "it is a folder"
    elif not os.path.isdir(folder):
        why = f"folder {folder} does not exist"
    elif not os.access(path if os.path.exists(path) else folder, os.W_OK):
        why = "permission denied"
    else:
        return
    raise UsageError(f"{option} {path}: cannot write it: {why}")


def crawl(spider=None, seeds=(), output=None, overwrite=None, project=True, **settings):
    """Run a crawl to its end and return its stats (a dict).

    :param spider: a Spider subclass, a ``mod:Class`` / ``file.py:Class``
        reference, or None for the built-in site spider.
    :param seeds: start URLs, added to the spider's ``start_urls``.
    :param output: ``.jsonl``, ``.json``, ``.csv``, ``.sqlite``/``.db``, or ``-`` for stdout
        (None: the spider's ``custom_settings``, the project file's, or ``crawl.jsonl``).
    :param overwrite: True replaces an ``output`` file that is there; False (the default,
        as the CLI's ``-o`` and Scrapy's) appends to it. It sets ``overwrite_output``.
    :param project: True (the default): the settings of the project file, as the
        ``scrapepool crawl`` command reads them (the nearest ``scrapepool.toml``, or
        ``pyproject.toml`` with ``[tool.scrapepool]``, from the current directory up);
        False: none; or the path of such a file. They come under the spider's
        ``custom_settings`` and under ``settings``.
    :param settings: any field of :class:`~scrapepool.Settings` (``workers``,
        ``concurrency``, ``max_pages``, ``job_dir``, ``fields``, ...).

    Usage::

        >>> import scrapepool
        >>> stats = scrapepool.crawl(seeds=["http://127.0.0.1:8000/"], output="out.jsonl",
        ...                          max_pages=100)  # doctest: +SKIP
    """
    from .project import load_project

    spider_cls = load_spider(spider)
    settings["output"] = output
    if settings.get("start_method") != "fork":
        _check_main(spider_cls, inspect.currentframe().f_back)
    if overwrite is not None:
        settings["overwrite_output"] = overwrite
    config = build_settings(spider_cls, settings, project=load_project(project))
    check_settings_output(config)
    # The engine in a `with`, as requests wraps its Session: whatever happens, every
    # child process is stopped before we return.
    with Engine(spider if spider is not None else None, seeds, config) as engine:
        return engine.run()
