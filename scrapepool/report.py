"""The crawl's HTML report: one self-contained page (inline CSS and SVG, no script, nothing
fetched when it is opened), written by ``--report FILE`` at the end of a crawl or by
``scrapepool report JOBDIR -o FILE`` from a job directory alone.

It is made from plain data (``Engine.report_data``: the stats, core/crawllog.py's tallies,
the settings with secrets masked), so the same function draws it for a crawl that just
ended and for one interrupted a week ago. No chart library: the one chart is an SVG
polyline, ~40 lines here against ~200 KB for the smallest library worth having.
"""

import html
import json
import os
from datetime import datetime, timezone

from .exceptions import UsageError

__all__ = ["render", "report_from_job_dir", "write_report_file"]

#: Hosts listed in "slowest hosts" (by p95 latency, those with at least MIN_REQUESTS).
SLOWEST = 15
MIN_REQUESTS = 3

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;margin:0;
background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #d8dce3;
padding-bottom:4px}
.sub{color:#5b6472;margin-bottom:16px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:10px 12px}
.card b{display:block;font-size:20px}.card span{color:#5b6472;font-size:12px}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e7}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#4c78a8;height:10px;border-radius:2px;min-width:1px}
.bad .bar{background:#d9534f}.ok{color:#2e7d32}.warn{color:#b26a00}.err{color:#c62828}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
svg{background:#fff;border:1px solid #dde1e7;border-radius:6px;width:100%;height:auto}
code{font-size:12px;word-break:break-all}
@media print{body{background:#fff}main{padding:0}.card,table,svg{break-inside:avoid}}
@media (max-width:800px){.grid2{grid-template-columns:1fr}}
"""


def _e(value):
    return html.escape(str(value), quote=True)


def _num(n):
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def _bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000


def _quantile(sample, q):
    if not sample:
        return None
    ordered = sorted(sample)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rates(points):
    """Per-window rates from cumulative points: [(start, end, pages/s, records/s)]."""
    out = []
    for (t0, p0, r0, *_), (t1, p1, r1, *_) in zip(points, points[1:]):
        dt = t1 - t0
        if dt > 0:
            out.append((t0, t1, (p1 - p0) / dt, (r1 - r0) / dt))
    return out


def _chart(points):
    series = rates(points)
    if not series:
        return "<p class=sub>Too short for a chart (one point every few seconds).</p>"
    w, h, left, bottom, top = 900, 240, 56, 30, 14
    t_max = max(end for _, end, _, _ in series) or 1.0
    y_max = max(max(p, r) for _, _, p, r in series) or 1.0
    y_max *= 1.1

    def xy(t, v):
        return (left + (w - left - 12) * t / t_max, top + (h - top - bottom) * (1 - v / y_max))

    parts = [f'<svg viewBox="0 0 {w} {h}" role="img" aria-label="pages and records per second">']
    for i in range(5):
        v = y_max * i / 4
        _, y = xy(0, v)
        parts.append(f'<line x1="{left}" x2="{w - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eceef2"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#5b6472">{v:,.0f}</text>')
    for i in range(6):
        t = t_max * i / 5
        x, _ = xy(t, 0)
        label = f"{t:,.1f}" if t_max < 10 else f"{t:,.0f}"
        parts.append(f'<text x="{x:.1f}" y="{h - 10}" font-size="11" text-anchor="middle" '
                     f'fill="#5b6472">{label} s</text>')
    for index, colour in ((2, "#4c78a8"), (3, "#f58518")):
        # Steps: each window's rate held from its start to its end.
        line = " ".join("%.1f,%.1f %.1f,%.1f" % (*xy(row[0], row[index]), *xy(row[1], row[index]))
                        for row in series)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>')
    parts.append(f'<rect x="{left + 10}" y="{top}" width="10" height="10" fill="#4c78a8"/>'
                 f'<text x="{left + 24}" y="{top + 9}" font-size="12">pages/s</text>'
                 f'<rect x="{left + 90}" y="{top}" width="10" height="10" fill="#f58518"/>'
                 f'<text x="{left + 104}" y="{top + 9}" font-size="12">records/s</text></svg>')
    return "".join(parts)


def _bars(rows, bad=lambda key: False):
    """A table of (label, count) with a bar each."""
    if not rows:
        return "<p class=sub>None.</p>"
    top = max(n for _, n in rows) or 1
    out = ["<table><tr><th>value</th><th class=n>count</th><th style='width:55%'></th></tr>"]
    for key, n in rows:
        cls = " class=bad" if bad(key) else ""
        out.append(f"<tr{cls}><td>{_e(key)}</td><td class=n>{_num(n)}</td>"
                   f"<td><div class=bar style='width:{100 * n / top:.1f}%'></div></td></tr>")
    return "".join(out) + "</table>"


def _table(header, rows, numeric=()):
    out = ["<table><tr>"]
    out += [f"<th{' class=n' if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(header)]
    out.append("</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{cell}</td>"
                                     for i, cell in enumerate(row)) + "</tr>")
    return "".join(out) + "</table>"


def _ending(stats, log):
    reason = stats.get("finish_reason") or "unknown"
    cls = {"finished": "ok", "interrupted": "warn", "failed": "err", "incomplete": "warn"}.get(reason, "warn")
    text = {"finished": "finished: nothing left to crawl", "interrupted": "interrupted (Ctrl-C or a signal)",
            "failed": "failed", "incomplete": "ended with requests left"}.get(reason, f"closed by the spider: {reason}")
    resumed = log.get("resumed", 0)
    if resumed:
        text += f"; resumed {resumed} time{'s' if resumed != 1 else ''}"
    return f"<span class={cls}>{_e(text)}</span>"


def render(data):
    """The report's HTML for ``data`` (``Engine.report_data()``), as a string."""
    stats, log = data.get("stats") or {}, data.get("log") or {}
    settings = log.get("settings") or {}
    pages, elapsed = stats.get("pages", 0), stats.get("elapsed_s", 0) or 0
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    errors_total = sum(stats.get("errors", {}).values())
    cards = [
        ("pages", _num(pages)), ("records", _num(stats.get("records", 0))),
        ("pages/s", _num(float(stats.get("pages_per_s", 0)))), ("elapsed", f"{elapsed:,.1f} s"),
        ("errors", _num(errors_total)), ("retries", _num(stats.get("retries", 0))),
        ("redirects followed", _num(stats.get("redirects", 0))),
        ("robots.txt refusals", _num(stats.get("robots_refused", 0))),
        ("spider errors", _num(stats.get("spider_errors", 0))), ("downloaded", _bytes(stats.get("bytes", 0))),
        ("fetcher crashes", _num(stats.get("fetcher_crashes", 0))),
        ("peak memory", f"{stats.get('peak_memory_mb', 0):,.1f} MB"),
    ]
    out = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
           f"<meta name=viewport content='width=device-width,initial-scale=1'>"
           f"<title>scrapepool crawl report</title><style>{CSS}</style></head><body><main>",
           "<h1>scrapepool crawl report</h1>",
           f"<div class=sub>{_ending(stats, log)} &middot; report made {when}</div>",
           "<div class=cards>" + "".join(f"<div class=card><b data-stat='{_e(k)}'>{v}</b><span>{_e(k)}</span></div>"
                                         for k, v in cards) + "</div>",
           "<h2>Pages and records per second</h2>", _chart(log.get("points") or [])]

    status = sorted(stats.get("status", {}).items(), key=lambda kv: kv[0])
    depths = sorted(((int(d), n) for d, n in (log.get("depths") or {}).items()))
    out += ["<div class=grid2><div><h2>Status codes</h2>",
            _bars(status, bad=lambda k: not str(k).startswith(("2", "3"))),
            "</div><div><h2>Pages by depth</h2>", _bars(depths), "</div></div>"]

    examples = log.get("examples") or {}
    rows = [(f"<code>{_e(kind)}</code>", _num(n),
             "<br>".join(f"<code>{_e(u)}</code>" for u in examples.get(kind, [])))
            for kind, n in sorted(stats.get("errors", {}).items(), key=lambda kv: -kv[1])]
    out += ["<h2>Errors by kind</h2>",
            _table(["kind", "count", "examples"], rows, numeric={1}) if rows else "<p class=sub>None.</p>"]

    hosts = []
    for host, (requests, errs, _seen, sample) in (log.get("hosts") or {}).items():
        hosts.append((host, requests, errs, _quantile(sample, 0.5), _quantile(sample, 0.95)))
    listed = sorted((h for h in hosts if h[1] >= MIN_REQUESTS and h[4] is not None), key=lambda h: -h[4])
    if not listed:
        listed = sorted(hosts, key=lambda h: -h[1])
    rows = [(_e(h), _num(r), _num(e), "-" if p50 is None else f"{p50 * 1000:,.0f} ms",
             "-" if p95 is None else f"{p95 * 1000:,.0f} ms") for h, r, e, p50, p95 in listed[:SLOWEST]]
    out += [f"<h2>Slowest hosts ({len(hosts):,} in all)</h2>",
            _table(["host", "requests", "errors", "p50 latency", "p95 latency"], rows, numeric={1, 2, 3, 4})
            if rows else "<p class=sub>None.</p>"]

    rows = [(f"<code>{_e(name)}</code>", _num(c[0]), _num(c[1]), _num(c[2]))
            for name, c in sorted((log.get("callbacks") or {}).items(), key=lambda kv: -kv[1][0])]
    memory = sorted((log.get("memory") or {}).items())
    out += ["<div class=grid2><div><h2>By callback</h2>",
            _table(["callback", "pages", "records", "spider errors"], rows, numeric={1, 2, 3})
            if rows else "<p class=sub>None.</p>",
            "</div><div><h2>Peak memory by process kind</h2>",
            _table(["process", "peak RSS"], [(_e(k), f"{v:,.1f} MB") for k, v in memory], numeric={1})
            if memory else "<p class=sub>Not measured.</p>", "</div></div>"]

    rows = [(f"<code>{_e(k)}</code>", f"<code>{_e(json.dumps(v) if not isinstance(v, str) else v)}</code>")
            for k, v in sorted(settings.items())]
    out += ["<h2>Settings</h2>", _table(["setting", "value"], rows) if rows else "<p class=sub>Unknown.</p>",
            "</main></body></html>"]
    return "".join(out)


def write_report_file(path, data):
    """Write the report; a failure is one logged line, never the crawl's end (what was
    fetched is already safe)."""
    import logging

    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(render(data))
    except OSError as exc:
        logging.getLogger("scrapepool").error("cannot write the report to %s: %s", path, exc.strerror or exc)
        return False
    logging.getLogger("scrapepool").info("report written to %s", path)
    return True


def report_from_job_dir(job_dir):
    """The report data of the job in ``job_dir`` (finished or interrupted), from its job DB."""
    from .output.jobdb import DB_NAME, JobDB

    if not os.path.isfile(os.path.join(job_dir, DB_NAME)):
        raise UsageError(f"{job_dir} is not a job directory (no {DB_NAME} in it)")
    db = JobDB(job_dir, False)
    try:
        stats, log = db.get("stats"), db.get("crawllog")
    finally:
        db.close()
    if not stats:
        raise UsageError(f"job dir {job_dir} has no stats yet (the crawl never got going)")
    return {"stats": stats, "log": log or {}}
