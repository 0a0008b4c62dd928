"""The ``scrapepool`` command: ``crawl``, ``demo``, ``serve-demo``, ``frontier``, ``report``,
``shell``, ``fetch`` and ``genspider``.

Exit status: 0 when the crawl completed, 2 for a usage error, 1 for another
fatal error, 130 / 143 after SIGINT / SIGTERM (the job can be resumed).
Every error is one line on stderr, never a traceback.

Signals, from the first instant: while the command starts up (parsing, reading
seeds, loading the spider, building settings) nothing needs finishing, so a
SIGINT or SIGTERM stops it at once. While the engine runs, its own handlers
decide; after it returns, a signal is only noted, so that it cannot cut the
summary short with a traceback. The engine and everything it imports are
imported when needed, not with this module, so that ``main`` installs its
handlers within milliseconds of the start.
"""

import argparse
import json
import logging
import signal
import sys

from . import __version__
from .exceptions import OutputClosed, OutputError, ScrapepoolError, UsageError

logger = logging.getLogger("scrapepool")

EXIT_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse's own usage errors: one line and exit 2, like ours.
        self.exit(2, f"scrapepool: error: {message}\n")


def _add_crawl_options(p):
    p.add_argument("-o", "--output", help="output file, appended to: .jsonl, .json, .csv, .sqlite/.db, "
                                         "or - for stdout (default: crawl.jsonl)")
    p.add_argument("-O", "--overwrite-output", metavar="OUTPUT",
                   help="output file, replaced if it is there (a resumed --job-dir continues its own)")
    p.add_argument("--fields", metavar="A,B,C",
                   help="write exactly these fields, in this order, in any format (default: each "
                        "record's own; CSV: the first record's)")
    p.add_argument("-s", "--spider", help="spider to run: pkg.module:Class or path/to/file.py:Class "
                                         "(default: the built-in site spider)")
    p.add_argument("-a", dest="spider_args", action="append", default=[], metavar="NAME=VALUE",
                   help="spider argument, set as an attribute of the spider (repeatable)")
    p.add_argument("--set", dest="set_options", action="append", default=[], metavar="NAME=VALUE",
                   help="any setting, by its name in Settings (max_pages=100) or Scrapy's "
                        "(DOWNLOAD_DELAY=0.5); over the spider's custom_settings and the project "
                        "file, under the options above and below (repeatable)")
    p.add_argument("-w", "--workers", type=int, help="fetcher processes (default: CPU count)")
    p.add_argument("-c", "--concurrency", type=int, help="requests in flight per fetcher (default: 16)")
    p.add_argument("--max-depth", type=int, help="follow links at most this deep (seeds are 0)")
    p.add_argument("--max-pages", type=int, help="request at most this many pages")
    p.add_argument("--allow-domain", action="append", default=None, metavar="DOMAIN",
                   help="also allow this domain (bare: with subdomains) or host:port (repeatable)")
    p.add_argument("--delay", type=float, help="seconds between two requests to one host (default: 0)")
    p.add_argument("--concurrency-per-host", type=int, help="requests in flight per host")
    p.add_argument("--autothrottle", action="store_const", const=True, default=None,
                   help="adapt each host's delay to its latency, as Scrapy's AutoThrottle (--delay: the "
                        "smallest; AUTOTHROTTLE_* with --set)")
    p.add_argument("--timeout", type=float, help="seconds for a whole response (default: 30)")
    p.add_argument("--retries", type=int, help="retries after the first try (default: 2)")
    p.add_argument("--max-redirects", type=int, help="redirect hops followed (default: 10)")
    p.add_argument("--max-bytes", type=int, help="largest body read (default: 10 MB)")
    p.add_argument("--max-elements", type=int, metavar="N",
                   help="a page of more elements is recorded with an error, not parsed "
                        "(default: 250000; 0: no limit)")
    p.add_argument("--max-memory", dest="max_memory_mb", type=int, metavar="MB",
                   help="a fetcher past this memory (RSS) is replaced between requests "
                        "(default: 1024; 0: never)")
    p.add_argument("--user-agent", help="User-Agent header, also matched against robots.txt")
    p.add_argument("--header", action="append", default=None, metavar="'NAME: VALUE'",
                   help="default request header (repeatable)")
    p.add_argument("--no-robots", dest="robots", action="store_const", const=False, default=None,
                   help="do not fetch or obey robots.txt")
    p.add_argument("--sitemap", action="store_const", const=True, default=None,
                   help="also seed from the sitemaps in each seed site's robots.txt")
    p.add_argument("--no-cookies", dest="cookies", action="store_const", const=False, default=None,
                   help="do not keep or send cookies")
    p.add_argument("--job-dir", help="keep the crawl's state here: the same command resumes it")
    p.add_argument("--restart", action="store_const", const=True, default=None,
                   help="start the job in --job-dir over")
    p.add_argument("--http-cache", metavar="DIR", help="store responses here and serve a rerun from them")
    p.add_argument("--http-cache-expire", type=float, metavar="SECONDS",
                   help="cached responses older than this are fetched again (default: never)")
    p.add_argument("--pipeline", action="append", default=None, metavar="MOD:CLASS",
                   help="record pipeline, after the spider's own (repeatable)")
    p.add_argument("--no-pin-cpus", dest="pin_cpus", action="store_const", const=False, default=None,
                   help="let the OS move fetcher processes between CPUs (default: one CPU each)")
    p.add_argument("--start-method", choices=("spawn", "fork", "forkserver"),
                   help="how child processes start (default: spawn)")
    p.add_argument("--frontier", metavar="redis://HOST:PORT/DB",
                   help="share the crawl with other machines through this Redis (pip install "
                        "'scrapepool[redis]'); run the same command on each")
    p.add_argument("--crawl-id", metavar="ID", help="the shared crawl's name in Redis (with --frontier)")
    p.add_argument("--machine-id", metavar="ID",
                   help="this machine's name in the shared crawl (default: host name and output path)")
    p.add_argument("--session-timeout", type=float, metavar="SECONDS",
                   help="a machine silent this long loses its requests to the others (default: 15)")
    p.add_argument("--frontier-volatile", action="store_const", const=True, default=None,
                   help="accept a Redis without persistence (a throw-away crawl)")
    p.add_argument("--stats", dest="stats_path", metavar="PATH", help="write the final stats here as JSON")
    p.add_argument("--report", metavar="FILE.html",
                   help="write an HTML report of the crawl here at the end (also after Ctrl-C)")
    p.add_argument("--log-file", metavar="PATH", help="also write the log here")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only; no progress")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _add_fetch_options(p):
    """The crawl's options that apply to one page (``shell``, ``fetch``): its -c is the shell's code."""
    p.add_argument("-s", "--spider", help="use this spider's custom_settings and default_headers "
                                         "(pkg.module:Class or path/to/file.py:Class)")
    p.add_argument("-a", dest="spider_args", action="append", default=[], metavar="NAME=VALUE",
                   help="spider argument, set as an attribute of the spider (repeatable)")
    p.add_argument("--set", dest="set_options", action="append", default=[], metavar="NAME=VALUE",
                   help="any setting, as for crawl (repeatable)")
    p.add_argument("-H", "--header", action="append", default=None, metavar="'NAME: VALUE'",
                   help="default request header (repeatable)")
    p.add_argument("--user-agent", help="User-Agent header, also matched against robots.txt")
    p.add_argument("--no-robots", dest="robots", action="store_const", const=False, default=None,
                   help="do not fetch or obey robots.txt (obeyed by default, as in a crawl)")
    p.add_argument("--no-cookies", dest="cookies", action="store_const", const=False, default=None,
                   help="do not keep or send cookies")
    p.add_argument("--no-redirect", dest="redirect", action="store_false",
                   help="do not follow redirects: a 3xx response is the response")
    p.add_argument("--http-cache", "--cache-dir", dest="http_cache", metavar="DIR",
                   help="read and store responses in this HTTP cache (a crawl's --http-cache)")
    p.add_argument("--http-cache-expire", type=float, metavar="SECONDS",
                   help="cached responses older than this are fetched again (default: never)")
    p.add_argument("--timeout", type=float, help="seconds for a whole response (default: 30)")
    p.add_argument("--retries", type=int, help="retries after the first try (default: 2)")
    p.add_argument("--max-redirects", type=int, help="redirect hops followed (default: 10)")
    p.add_argument("--max-bytes", type=int, help="largest body read (default: 10 MB)")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def make_parser():
    parser = _Parser(prog="scrapepool", description="A multiprocess web-scraping framework.")
    parser.add_argument("--version", action="version", version=f"scrapepool {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    crawl = sub.add_parser("crawl", help="crawl from a seeds file")
    crawl.add_argument("seeds", nargs="*", metavar="SEEDS",
                       help="a file with one URL per line (# comments allowed), or URLs themselves")
    _add_crawl_options(crawl)
    demo = sub.add_parser("demo", help="crawl the bundled demo site with its quotes spider")
    demo.add_argument("-o", "--output", default="quotes.jsonl", help="replaced if there (default: quotes.jsonl)")
    demo.add_argument("-w", "--workers", type=int)
    demo.add_argument("-q", "--quiet", action="store_true")
    demo.add_argument("-v", "--verbose", action="store_true")
    demo.add_argument("--stats", dest="stats_path", metavar="PATH")
    demo.add_argument("--report", metavar="FILE.html")
    demo.add_argument("--log-file", metavar="PATH")
    frontier = sub.add_parser("frontier", help="status, check or delete a crawl shared through Redis")
    frontier.add_argument("action", choices=("status", "check", "delete"))
    frontier.add_argument("--frontier", required=True, metavar="redis://HOST:PORT/DB")
    frontier.add_argument("--crawl-id", required=True, metavar="ID")
    frontier.add_argument("--session-timeout", type=float, default=15.0, metavar="SECONDS",
                          help="a machine silent this long counts as gone (default: 15)")
    report = sub.add_parser("report", help="write the HTML report of a job (finished or interrupted)")
    report.add_argument("job_dir", metavar="JOBDIR", help="the crawl's --job-dir")
    report.add_argument("-o", "--output", default="crawl.html", metavar="FILE.html",
                        help="where to write it (default: crawl.html)")
    shell = sub.add_parser("shell", help="fetch a page (or read a file) and explore it in a Python console")
    shell.add_argument("target", nargs="?", metavar="URL|FILE",
                       help="a URL, or a file's path (./page.html, file:///...); none: an empty shell")
    shell.add_argument("-c", dest="code", metavar="CODE",
                       help="evaluate CODE against the response, print the result and exit")
    _add_fetch_options(shell)
    fetch = sub.add_parser("fetch", help="fetch a page and print its body")
    fetch.add_argument("target", metavar="URL|FILE", help="a URL, or a file's path")
    fetch.add_argument("--headers", dest="print_headers", action="store_true",
                       help="print the request's and the response's headers instead of the body")
    _add_fetch_options(fetch)
    gen = sub.add_parser("genspider", help="write a spider and its test from a template")
    gen.add_argument("name", nargs="?", metavar="NAME", help="the spider's name (its file: NAME.py)")
    gen.add_argument("domain", nargs="?", metavar="DOMAIN", help="its domain, or its start URL")
    gen.add_argument("-t", "--template", default="basic", help="basic (default) or crawl (a CrawlSpider)")
    gen.add_argument("-d", "--dir", default=".", metavar="DIR", help="write the files here (default: .)")
    gen.add_argument("--force", action="store_true", help="overwrite the files if they are there")
    gen.add_argument("-l", "--list", action="store_true", help="list the templates")
    serve = sub.add_parser("serve-demo", help="serve the demo site in the foreground")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="127.0.0.1")
    return parser


def read_seeds(path):
    """URLs of a seeds file; bad lines are reported with their number and skipped."""
    from .urls import check_seed_url

    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise UsageError(f"seeds file not found: {path}") from None
    except OSError as exc:
        raise UsageError(f"cannot read seeds file {path}: {exc.strerror or exc}") from None
    urls = []
    for number, line in enumerate(lines, 1):
        url = line.strip()
        if not url or url.startswith("#"):
            continue
        reason = check_seed_url(url)
        if reason:
            logger.warning("%s:%d: %r %s: skipped", path, number, url[:200], reason)
            continue
        urls.append(url)
    return urls


def setup_logging(verbose=False, quiet=False, log_file=None):
    """The CLI configures logging; the library never touches the root logger."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s [%(levelname)s] %(message)s", "%H:%M:%S"))
    root = logging.getLogger("scrapepool")
    root.handlers[:] = [h for h in root.handlers if isinstance(h, logging.NullHandler)]
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    if log_file:
        try:
            fh = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write log file {log_file}: {exc.strerror or exc}") from None
        fh.setFormatter(logging.Formatter("%(asctime)s %(processName)s [%(levelname)s] %(message)s"))
        fh.setLevel(logging.DEBUG if verbose else logging.INFO)
        root.addHandler(fh)


def _options(args):
    if getattr(args, "overwrite_output", None) and args.output:
        raise UsageError("give -o (append to the output) or -O (overwrite it), not both")
    opts = {k: getattr(args, k, None) for k in (
        "output", "fields", "workers", "concurrency", "max_depth", "max_pages", "delay", "autothrottle",
        "concurrency_per_host", "timeout", "retries", "max_redirects", "max_bytes", "max_elements",
        "max_memory_mb", "user_agent", "robots", "sitemap", "cookies", "job_dir", "restart",
        "start_method", "pin_cpus", "stats_path", "http_cache", "http_cache_expire", "frontier",
        "crawl_id", "machine_id", "session_timeout", "frontier_volatile", "report")}
    if getattr(args, "overwrite_output", None):
        opts["output"], opts["overwrite_output"] = args.overwrite_output, True
    if getattr(args, "allow_domain", None):
        opts["allowed_domains"] = tuple(args.allow_domain)
    if getattr(args, "pipeline", None):
        opts["pipelines"] = tuple(args.pipeline)
    headers = []
    for h in getattr(args, "header", None) or ():
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"--header {h!r} must look like 'Name: value'")
        headers.append((name.strip(), value.strip()))
    if headers:
        opts["headers"] = tuple(headers)
    kwargs = {}
    for item in getattr(args, "spider_args", None) or ():
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"-a {item!r} must look like NAME=VALUE")
        kwargs[name] = value
    if kwargs:
        opts["spider_kwargs"] = kwargs
    if args.quiet:
        opts["progress"] = False
    return opts


def _set_options(args, opts):
    """``--set`` as {field: value}; one an explicit option also gives is said and dropped."""
    from .project import parse_set

    sets = parse_set(getattr(args, "set_options", None))
    for name in [n for n in sets if opts.get(n) is not None]:
        if sets[name] != opts[name]:
            logger.warning("--set %s: an explicit option gives %s=%r, which wins", name, name, opts[name])
        del sets[name]
    return sets


def run_crawl(spider_ref, seeds, opts, quiet=False, project=None, sets=None):
    """Run one crawl with progress and summary; returns the exit status.

    ``project`` and ``sets``: the project file's settings and ``--set``'s, as
    ``api.build_settings`` takes them (the demo passes neither).
    """
    from .api import build_settings, check_settings_output
    from .core.engine import Engine
    from .core.progress import Progress
    from .spiders.loading import load_spider

    spider_cls = load_spider(spider_ref)
    settings = build_settings(spider_cls, opts, project=project, sets=sets)
    check_settings_output(settings)
    progress = Progress(enabled=settings.progress)
    with Engine(spider_ref, seeds, settings, on_progress=progress.update) as engine:
        try:
            _stop_raising()  # the engine's handlers from here; a signal after it is only noted
            stats = engine.run()
        finally:
            progress.close()
    if settings.stats_path:
        try:
            with open(settings.stats_path, "w", encoding="utf-8") as f:
                json.dump(stats, f, indent=2)
        except OSError as exc:
            logger.error("cannot write stats to %s: %s", settings.stats_path, exc.strerror or exc)
    if not quiet:
        progress.summary(stats, settings.output)
    if engine.stop_signal is not None or engine.force:
        name = "SIGINT" if engine.stop_signal in (None, signal.SIGINT) else "SIGTERM"
        how = "run the same command again to resume" if settings.job_dir else \
            "use --job-dir to make a crawl resumable"
        sys.stderr.write(f"scrapepool: stopped by {name}: {how}\n")
        return EXIT_SIGNAL[name]
    return 0


def _stop_resource_tracker():
    """Unlink our semaphores and reap multiprocessing's resource tracker before we exit.

    Under spawn, multiprocessing starts a tracker process that only exits after
    we do; nothing waits for it then, so for a moment the crawl leaves a process
    behind in its session (a zombie where init does not reap). Stopping it here
    makes the command end with nothing of it still running.

    Still needed, and multiprocessing has no public way to it (checked for issue 13,
    Python 3.11): the tracker starts with the first spawned child (``popen_spawn_posix``
    asks it for its pipe), whether or not anything makes a semaphore, and it only stops
    at EOF on that pipe, after this process has exited; without this, 5 crawls out of
    5 left it in their session after the command ended. CPython 3.14 stops and reaps
    it at shutdown itself (gh-88887); there this is harmless. The finalizers run first
    so the crawl's semaphores (the job queue's Lock, the stop Event's) are unlinked and
    unregistered, even if a traceback in flight still holds them, and the tracker does
    not report them as leaked.
    """
    import gc
    from multiprocessing import resource_tracker, util

    gc.collect()
    util._run_finalizers(0)
    try:
        resource_tracker._resource_tracker._stop()
    except Exception:
        pass


class _StartUpSignal(BaseException):
    """A SIGINT or SIGTERM while the command starts up: stop now, nothing has begun.

    A BaseException, as KeyboardInterrupt is, so that no ``except Exception`` on its
    way (loading a spider wraps the errors of its import) can turn it into another error.
    """

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


#: True while a signal raises _StartUpSignal; then signals are only noted in _late_signals.
_raising = False
_late_signals = []


def _on_signal(signum, frame):
    global _raising
    if _raising:
        _raising = False  # one exception is enough: a second signal is only noted
        raise _StartUpSignal(signum)
    _late_signals.append(signum)


def _stop_raising():
    global _raising
    _raising = False


def main(argv=None):
    # Start-up stops at the first signal (_StartUpSignal). While a crawl runs, the engine's
    # own handlers are in force (first signal: finish the requests in flight; second: stop
    # now). After it, a signal must not kill us half-way through the summary with a
    # traceback: it is noted and we exit soon anyway.
    global _raising
    if argv is None:
        _raising = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, _on_signal)
    try:
        try:
            return _main(argv)
        finally:
            _raising = False
            _stop_resource_tracker()
    except _StartUpSignal as exc:
        name = signal.Signals(exc.signum).name
        sys.stderr.write(f"scrapepool: stopped by {name} while starting up, before any request\n")
        return EXIT_SIGNAL[name]


def _frontier_command(args):
    from .core import redis_admin
    from .redis_store import connect

    r = connect(args.frontier, volatile=True)
    if args.action == "status":
        print(json.dumps(redis_admin.status(r, args.crawl_id, args.session_timeout), indent=2))
        return 0
    if args.action == "check":
        problems = list(redis_admin.check(r, args.crawl_id))
        for line in problems:
            print(f"scrapepool: frontier check: {line}", file=sys.stderr)
        if not problems:
            print(f"crawl {args.crawl_id!r}: the structures agree with the counters")
        return 1 if problems else 0
    count = redis_admin.delete(r, args.crawl_id, args.session_timeout)
    print(f"crawl {args.crawl_id!r}: {count} keys deleted")
    return 0


def _page_command(args):
    """``shell`` and ``fetch``: one page, in this process, with the crawl's settings."""
    from .api import build_settings
    from .project import load_project
    from .spiders.loading import load_spider
    from .spiders.spider import Spider

    # A console and a download in the foreground: Ctrl-C is Python's KeyboardInterrupt.
    _stop_raising()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    setup_logging(args.verbose, args.quiet, None)
    opts = _options(args)
    sets = _set_options(args, opts)
    spider_cls = load_spider(args.spider) if args.spider else Spider
    settings = build_settings(spider_cls, opts, project=load_project(), sets=sets)
    try:
        spider = spider_cls(**settings.spider_kwargs)
    except Exception as exc:  # the spider's own __init__: one line, as a fetcher reports it
        raise UsageError(f"spider {spider_cls.__name__} could not start: "
                         f"{type(exc).__name__}: {exc}") from None
    if args.command == "fetch":
        from .tools.fetch_command import run_fetch

        return run_fetch(args.target, settings, spider, headers=args.print_headers, redirect=args.redirect)
    from .tools.shell import run_shell

    return run_shell(args.target, settings, spider, code=args.code, redirect=args.redirect)


def _genspider_command(args):
    from .tools.genspider import genspider, templates

    if args.list:
        print("Available templates:\n" + "".join(f"  {name}\n" for name in templates()), end="")
        return 0
    if not args.name or not args.domain:
        raise UsageError("genspider needs a NAME and a DOMAIN: scrapepool genspider NAME DOMAIN")
    spider_path, test_path = genspider(args.name, args.domain, args.template, args.dir, args.force)
    print(f"Created spider {args.name!r} using template {args.template!r} in {spider_path}, "
          f"and its test in {test_path}")
    return 0


def _main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "serve-demo":
            from .demo import main_serve

            # Serving in the foreground: Ctrl-C and SIGTERM simply stop it.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

            return main_serve(args.host, args.port)
        if args.command == "frontier":
            return _frontier_command(args)
        if args.command == "report":
            from .report import report_from_job_dir, write_report_file

            setup_logging(False, False, None)
            return 0 if write_report_file(args.output, report_from_job_dir(args.job_dir)) else 1
        if args.command == "genspider":
            return _genspider_command(args)
        if args.command in ("shell", "fetch"):
            return _page_command(args)
        setup_logging(args.verbose, args.quiet, args.log_file)
        if args.command == "demo":
            from .demo.run import run_demo

            return run_demo(args, run_crawl)
        from .project import load_project

        opts = _options(args)
        sets = _set_options(args, opts)
        project = load_project()
        seeds = []
        for arg in args.seeds:
            seeds += [arg] if "://" in arg else read_seeds(arg)
        return run_crawl(args.spider, seeds, opts, quiet=args.quiet, project=project, sets=sets)
    except UsageError as exc:
        sys.stderr.write(f"scrapepool: error: {exc}\n")
        return 2
    except OutputClosed:
        return 0  # `-o - | head`: the reader has what it wanted
    except OutputError as exc:
        sys.stderr.write(f"scrapepool: error: {exc}\n")
        return 1
    except ScrapepoolError as exc:
        sys.stderr.write(f"scrapepool: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("scrapepool: interrupted\n")
        return 130
