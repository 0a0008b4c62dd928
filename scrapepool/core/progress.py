"""Live progress on a terminal, a plain log line every 10 s elsewhere, and the final summary.

Drawn by the coordinator only (fetchers never print), on stderr, so that
``-o -`` keeps stdout for records. rich draws the live line and the table.
"""

import logging
import sys
import time

logger = logging.getLogger("scrapepool")

#: Seconds between two log lines when stderr is not a terminal.
LOG_EVERY = 10.0
#: Seconds between two redraws of the live line.
REDRAW_EVERY = 0.25


class Progress:
    def __init__(self, enabled=True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = None
        self.console = None
        self.tty = enabled and self.stream.isatty()
        self.last = 0.0
        self.last_pages = 0
        self.last_t = time.monotonic()
        self.rate = 0.0
        if self.tty:
            from rich.console import Console
            from rich.live import Live

            self.console = Console(file=self.stream)
            self.live = Live("", console=self.console, refresh_per_second=4, transient=True)
            self.live.start()

    def line(self, engine):
        st = engine.stats
        now = time.monotonic()
        if now - self.last_t >= 1.0:
            self.rate = (st.pages - self.last_pages) / (now - self.last_t)
            self.last_pages, self.last_t = st.pages, now
        errors = sum(st.errors.values()) + st.spider_errors
        return (f"{st.pages} pages  {st.records} records  {self.rate:.0f}/s  "
                f"queued {engine.frontier.pending}  in flight {engine.in_flight}  "
                f"errors {errors}  fetchers {engine.fetchers_alive}  {st.elapsed:.0f}s")

    def update(self, engine):
        if not self.enabled:
            return
        now = time.monotonic()
        if self.live is not None:
            if now - self.last >= REDRAW_EVERY:
                self.last = now
                self.live.update(self.line(engine))
        elif now - self.last >= LOG_EVERY:
            if self.last:
                logger.info("%s", self.line(engine))
            self.last = now

    def close(self):
        if self.live is not None:
            self.live.stop()
            self.live = None

    def summary(self, stats, output):
        from rich.console import Console
        from rich.table import Table

        console = self.console or Console(file=self.stream, highlight=False)
        table = Table(title=f"scrapepool: {stats.get('finish_reason')}", show_header=False,
                      title_justify="left")
        table.add_column("what", style="bold")
        table.add_column("value")
        rows = [
            ("pages", stats["pages"]), ("records", f"{stats['records']} -> {output}"),
            ("status codes", _counts(stats["status"])), ("errors", _counts(stats["errors"]) or "none"),
            ("spider errors", stats["spider_errors"]), ("dropped by pipelines", stats["dropped"]),
            ("retries", stats["retries"]), ("redirects followed", stats["redirects"]),
            ("robots.txt refusals", stats["robots_refused"]),
            ("fetcher crashes", stats["fetcher_crashes"]),
            ("bytes", f"{stats['bytes']:,}"), ("elapsed", f"{stats['elapsed_s']:.1f} s"),
            ("pages/s", stats["pages_per_s"]), ("peak memory", f"{stats['peak_memory_mb']} MB"),
        ]
        for what, value in rows:
            table.add_row(what, str(value))
        console.print(table)


def _counts(d):
    return ", ".join(f"{k}: {v}" for k, v in d.items())
