"""``scrapepool demo``: serve the bundled site, crawl it with the bundled quotes spider, stop the site."""

#: The demo's spider, inside the package so that a regular install has it (examples/quotes.py
#: imports it too).
SPIDER = "scrapepool.demo.spider:QuotesSpider"


def run_demo(args, run_crawl):
    """``run_crawl`` is the CLI's (given, not imported: the demo does not import the CLI back)."""
    from . import serve

    # The demo writes its output afresh each time: run twice, it still shows one crawl.
    opts = {"output": args.output, "overwrite_output": True, "workers": args.workers,
            "stats_path": args.stats_path, "report": args.report, "progress": not args.quiet}
    with serve() as server:
        if not args.quiet:
            print(f"scrapepool demo: serving the demo site on {server.url}/ and crawling it "
                  f"with scrapepool/demo/spider.py (as in examples/quotes.py)", flush=True)
        return run_crawl(SPIDER, [server.url + "/"], opts, quiet=args.quiet)
