"""``scrapepool demo``: serve the bundled site, crawl it with examples/quotes.py, stop the site."""

import os

from ..exceptions import UsageError

#: The example spider, next to the package in a source checkout (``pip install -e .``).
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "examples", "quotes.py")


def run_demo(args):
    from ..cli import run_crawl
    from . import serve

    if not os.path.isfile(EXAMPLE):
        raise UsageError(f"the demo needs examples/quotes.py from a source checkout; not found at {EXAMPLE}")
    opts = {"output": args.output, "workers": args.workers, "stats_path": args.stats_path,
            "progress": not args.quiet}
    with serve() as server:
        if not args.quiet:
            print(f"scrapepool demo: serving the demo site on {server.url}/ and crawling it "
                  f"with examples/quotes.py", flush=True)
        return run_crawl(f"{EXAMPLE}:QuotesSpider", [server.url + "/"], opts, quiet=args.quiet)
