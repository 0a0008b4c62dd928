"""``scrapepool shell``: a Python console around one fetched page, as Scrapy's shell.

The namespace holds ``response`` (the Response a spider would get, or None when the
fetch failed: the error is said and the console opens anyway, as Scrapy's does),
``request``, ``settings``, ``spider``, ``scrapepool`` and ``Request``, and three
shortcuts: ``fetch(url_or_request, redirect=True)`` fetches again and rebinds
``response`` and ``request``; ``view(response)`` opens the page in a browser and
returns the file it wrote; ``shelp()`` lists all this.

How it runs, by what it is given:

- ``-c CODE``: an expression is evaluated and its value printed with ``print()``, as
  ``scrapy shell -c`` does, but for None (Scrapy prints ``None`` after a ``print()``);
  statements are run. A failed first fetch exits 1 first.
- stdin not a terminal (a script piped in): the script runs as a whole, and the value of
  each top-level expression statement is printed as the console would print it, so
  ``echo 'response.status' | scrapepool shell URL`` prints ``200``.
- a terminal: IPython when it is installed, else the standard ``code.interact``
  (``SCRAPEPOOL_SHELL=python`` picks the standard one, as ``SCRAPY_PYTHON_SHELL``).

An exception in ``-c`` code or a script is one line on stderr, with its line, and exit
status 1; the interactive console shows its tracebacks as any console does.
"""

import ast
import os
import sys
import traceback

from ..exceptions import ScrapepoolError
from .browser import open_in_browser
from .pagefetch import resolve_target

__all__ = ["Shell"]

SCRIPT_NAME = "<stdin>"
CODE_NAME = "<-c>"


class Shell:
    """The shell's namespace and the ways of running code in it.

    :param fetcher: a :class:`~scrapepool.tools.pagefetch.PageFetcher`.
    :param redirect: whether ``fetch()`` follows redirects by default (``--no-redirect``).
    """

    def __init__(self, fetcher, settings, spider=None, redirect=True, out=None, err=None):
        import scrapepool

        from ..spiders.http import Request

        self.fetcher = fetcher
        self.redirect = redirect
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        #: The error of the last fetch, or None.
        self.error = None
        self.vars = {
            "__name__": "__console__", "__doc__": None,
            "scrapepool": scrapepool, "Request": Request, "settings": settings, "spider": spider,
            "request": None, "response": None,
            "fetch": self.fetch, "view": self.view, "shelp": self.shelp,
        }

    # -- the shortcuts ---------------------------------------------------------------------
    def fetch(self, request_or_url, redirect=None):
        """Fetch a URL (or a file's path, or a Request) and rebind ``response`` and ``request``.

        Returns None, as Scrapy's does (so that a script or the console does not echo the
        Response): the page is in ``response``. When the fetch fails, the error is said on
        stderr, ``response`` is None and ``request`` the request that failed.
        """
        from ..spiders.http import Request

        redirect = self.redirect if redirect is None else redirect
        try:
            if isinstance(request_or_url, Request):
                request = request_or_url
                if "://" not in request.url:
                    request = request.replace(url=resolve_target(request.url))
            else:
                request = Request(resolve_target(request_or_url))
        except (ScrapepoolError, TypeError, ValueError) as exc:
            self._say_error(exc)
            return None
        self.vars["request"] = request
        self.vars["response"] = None
        try:
            response = self.fetcher.fetch(request, redirect=redirect)
        except ScrapepoolError as exc:
            self.error = exc
            self._say_error(exc)
            return None
        self.error = None
        self.vars["response"] = response
        print(f"[s] fetched ({response.status}) {request.method} {response.url}", file=self.err)
        return None

    def view(self, response=None):
        """Open ``response`` (default: the current one) in a browser; returns the file written."""
        return open_in_browser(response if response is not None else self.vars.get("response"),
                               err=self.err)

    def shelp(self):
        """Print what the shell offers."""
        print(self.help_text(), file=self.out)

    def help_text(self):
        lines = ["Available scrapepool objects:"]
        for name in ("scrapepool", "Request", "request", "response", "settings", "spider"):
            value = self.vars.get(name)
            if name == "scrapepool":
                shown = "the scrapepool module (Spider, Request, FormRequest...)"
            elif name == "settings":
                shown = "the crawl's Settings (settings.user_agent, settings.robots...)"
            elif name == "spider" and value is not None:
                shown = f"<{type(value).__name__} {getattr(value, 'name', None)!r}>"
            else:
                shown = repr(value)
            lines.append(f"  {name:<11}{shown}")
        lines += [
            "Useful shortcuts:",
            "  fetch(url[, redirect=True])  fetch a URL (or a file) and rebind response and request",
            "  fetch(request)               fetch a scrapepool.Request (method, headers, meta...)",
            "  view(response)               open the response in a browser (returns the file)",
            "  shelp()                      print this help",
            "Try: response.css('title::text').get(), response.xpath('//a/@href').getall()",
        ]
        return "\n".join(f"[s] {line}" for line in lines)

    # -- running code ----------------------------------------------------------------------
    def run_code(self, code):
        """``-c CODE``: print an expression's value, or run statements; returns the exit status."""
        try:
            try:
                compiled = compile(code, CODE_NAME, "eval")
            except SyntaxError:
                exec(compile(code, CODE_NAME, "exec"), self.vars)  # noqa: S102 - the user's own code
            else:
                value = eval(compiled, self.vars)  # noqa: S307
                if value is not None:  # Scrapy prints it anyway: "None" after every print()
                    print(value, file=self.out)
        except SystemExit as exc:
            return _exit_status(exc)
        except BaseException as exc:  # noqa: B036 - KeyboardInterrupt goes up from here
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._say_code_error(exc, CODE_NAME)
            return 1
        return 0

    def run_script(self, source):
        """Run a script read from stdin; the value of each top-level expression statement is
        printed as at the prompt. Stops at the first exception; returns the exit status."""
        try:
            tree = ast.parse(source, SCRIPT_NAME)
        except SyntaxError as exc:
            self._say_code_error(exc, SCRIPT_NAME)
            return 1
        try:
            for node in tree.body:
                if isinstance(node, ast.Expr):
                    expression = compile(ast.Expression(node.value), SCRIPT_NAME, "eval")
                    value = eval(expression, self.vars)  # noqa: S307 - the user's own code
                    if value is not None:
                        print(repr(value), file=self.out)
                else:
                    module = ast.Module(body=[node], type_ignores=[])
                    exec(compile(module, SCRIPT_NAME, "exec"), self.vars)  # noqa: S102
        except SystemExit as exc:
            return _exit_status(exc)
        except BaseException as exc:  # noqa: B036
            if isinstance(exc, KeyboardInterrupt):
                raise
            self._say_code_error(exc, SCRIPT_NAME)
            return 1
        return 0

    def interact(self):
        """The interactive console on this terminal; returns the exit status."""
        banner = self.help_text()
        choice = os.environ.get("SCRAPEPOOL_SHELL", "").strip().lower()
        try:
            if choice != "python":
                try:
                    from IPython.terminal.embed import InteractiveShellEmbed
                    from IPython.terminal.ipapp import load_default_config
                except ImportError:
                    if choice == "ipython":
                        print("[s] IPython is not installed: the standard console it is", file=self.err)
                else:
                    # As Scrapy's shell embeds it: the user's IPython config, our namespace.
                    InteractiveShellEmbed.clear_instance()
                    InteractiveShellEmbed.instance(banner1=banner + "\n", user_ns=self.vars,
                                                   config=load_default_config())()
                    return 0
            import code

            _tab_completion(self.vars)
            code.interact(banner=banner, local=self.vars, exitmsg="")
        except SystemExit as exc:
            return _exit_status(exc)
        return 0

    # -- messages --------------------------------------------------------------------------
    def _say_error(self, exc):
        print(f"scrapepool: error: {exc}", file=self.err)

    def _say_code_error(self, exc, filename):
        line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
        if line is None:
            frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
            line = frames[-1].lineno if frames else None
        where = f"{filename}, line {line}" if line else filename
        message = str(exc.msg if isinstance(exc, SyntaxError) else exc).replace("\n", " ")
        print(f"scrapepool: error: {where}: {type(exc).__name__}: {message}", file=self.err)


def _exit_status(exc):
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _tab_completion(namespace):
    """Tab completes the namespace's names in the standard console, as in Scrapy's shell."""
    try:
        import readline
        import rlcompleter
    except ImportError:
        return
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind("tab: complete")


def run_shell(target, settings, spider=None, code=None, redirect=True, stdin=None):
    """The ``shell`` command: fetch ``target`` (None: nothing) and run ``code``, the script on
    ``stdin``, or the console; returns the exit status.

    :raises UsageError: for a target that cannot be fetched at all (exit 2).
    :raises DownloadError: with ``code``, when the first fetch fails (exit 1, as Scrapy's
        ``shell -c``); otherwise the error is said and the shell goes on with no response.
    """
    from ..spiders.http import Request
    from .pagefetch import PageFetcher

    url = resolve_target(target) if target is not None else None
    fetcher = PageFetcher(settings, spider)
    try:
        shell = Shell(fetcher, settings, spider, redirect)
        if url is not None:
            if code is not None:
                request = Request(url)
                shell.vars["request"] = request
                shell.vars["response"] = fetcher.fetch(request, redirect=redirect)
            else:
                shell.fetch(url)
        if code is not None:
            return shell.run_code(code)
        stdin = stdin if stdin is not None else sys.stdin
        if stdin is None or not stdin.isatty():
            return shell.run_script(stdin.read() if stdin is not None else "")
        return shell.interact()
    finally:
        fetcher.close()
