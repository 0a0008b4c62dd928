"""Output formats: JSON lines, CSV, SQLite, and JSON lines on stdout.

An exporter appends records and reports an *offset*: how far the output is
durable after :meth:`commit`. On resume (or after a forced stop) the output is
cut back to the last committed offset, so a torn line or uncommitted records
never remain: for files it is a byte offset, for SQLite a row count.
"""

import csv
import io
import json
import os
import sqlite3
import sys

from .exceptions import OutputError

__all__ = ["open_exporter", "cut_output", "check_output"]


def _json_default(value):
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def dumps(record):
    return json.dumps(record, ensure_ascii=False, default=_json_default)


def output_format(path):
    if path == "-":
        return "stdout"
    ext = os.path.splitext(path)[1].lower()
    if ext in (".jsonl", ".jl", ".ndjson", ".json"):
        return "jsonl"
    if ext == ".csv":
        return "csv"
    if ext in (".sqlite", ".db", ".sqlite3"):
        return "sqlite"
    raise OutputError(f"cannot tell the output format of {path!r}: use .jsonl, .csv, .sqlite or .db (or - for stdout)")


def check_output(path, resume=False):
    """Fail early, before any request, when the output cannot be written."""
    fmt = output_format(path)
    if fmt == "stdout":
        return fmt
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"cannot write output {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise OutputError(f"cannot write output {path}: it is a folder")
    existed = os.path.exists(path)
    try:
        with open(path, "ab"):
            pass
        if not existed:
            os.remove(path)  # a failed crawl must not leave an empty output behind
    except OSError as exc:
        raise OutputError(f"cannot write output {path}: {exc.strerror or exc}") from None
    return fmt


class _FileExporter:
    durable = False

    def __init__(self, path, fsync):
        self.path = path
        self.fsync = fsync
        self.file = None

    def open(self, offset):
        """Start empty (offset None) or cut back to ``offset`` and append."""
        if offset is None:
            self.file = open(self.path, "wb")
        else:
            self.file = open(self.path, "r+b")
            self.file.truncate(offset)
            self.file.seek(offset)

    def commit(self):
        self.file.flush()
        if self.fsync:
            os.fsync(self.file.fileno())
        return self.file.tell()

    def close(self):
        if self.file is not None:
            self.file.close()


class JsonLinesExporter(_FileExporter):
    def write(self, records):
        self.file.write("".join(dumps(r) + "\n" for r in records).encode("utf-8"))


class CsvExporter(_FileExporter):
    """Header from the first record's keys; nested values as JSON (Scrapy's CsvItemExporter keeps
    the first item's fields too). Keys that later records add are not columns."""

    def open(self, offset):
        self.fields = None
        if offset:
            with open(self.path, "rb") as f:
                head = f.readline().decode("utf-8")
            self.fields = next(csv.reader([head]), None)
        super().open(offset)
        self.dropped_keys = set()

    def write(self, records):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for rec in records:
            if self.fields is None:
                self.fields = list(rec.keys())
                writer.writerow(self.fields)
            self.dropped_keys.update(k for k in rec if k not in self.fields)
            writer.writerow([_cell(rec.get(k)) for k in self.fields])
        self.file.write(buf.getvalue().encode("utf-8"))


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple, set)):
        return dumps(value)
    return value


class StdoutExporter:
    """JSON lines on stdout: nothing can be cut back, so a resumed crawl may repeat lines."""

    def __init__(self, path, fsync):
        self.stream = sys.stdout
        self.written = 0

    def open(self, offset):
        self.written = offset or 0

    def write(self, records):
        text = "".join(dumps(r) + "\n" for r in records)
        self.stream.write(text)
        self.written += len(text)

    def commit(self):
        self.stream.flush()
        return self.written

    def close(self):
        self.stream.flush()


class SqliteExporter:
    """Table ``records``, one column per field (added as new fields appear); nested values as JSON.

    The offset is the highest committed rowid: a resume deletes the rows past it.
    """

    def __init__(self, path, fsync):
        self.path = path
        self.fsync = fsync
        self.conn = None
        self.columns = []

    def open(self, offset):
        if offset is None and os.path.exists(self.path):
            os.remove(self.path)
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        self.columns = [r[1] for r in self.conn.execute("PRAGMA table_info(records)")]
        self.lower = {c.lower(): c for c in self.columns}
        self.top = 0
        if self.columns:
            if offset is not None:
                self.conn.execute("DELETE FROM records WHERE rowid > ?", (offset,))
            self.top = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM records").fetchone()[0]
        self.conn.execute("BEGIN")

    def write(self, records):
        for rec in records:
            # SQLite column names ignore case: fields that differ only in case share a column
            # (the first spelling names it, the last value wins).
            row, names = {}, dict(self.lower)
            for key, value in rec.items():
                col = names.setdefault(str(key).lower(), str(key))
                row[col] = value
            new = [k for k in row if k.lower() not in self.lower]
            if new:
                if not self.columns:
                    self.conn.execute(f"CREATE TABLE records ({', '.join(_quote(k) for k in new)})")
                else:
                    for key in new:
                        self.conn.execute(f"ALTER TABLE records ADD COLUMN {_quote(key)}")
                self.columns.extend(new)
                self.lower.update((k.lower(), k) for k in new)
            if not self.columns:
                continue  # an empty record before any field exists: nothing to store
            self.top += 1
            cols = "".join(", " + _quote(k) for k in row)
            self.conn.execute(f"INSERT INTO records(rowid{cols}) VALUES (?{', ?' * len(row)})",
                              [self.top] + [_sql_value(v) for v in row.values()])

    def commit(self):
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")
        return self.top

    def close(self):
        if self.conn is not None:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error:
                pass
            self.conn.close()


def _quote(name):
    return '"' + str(name).replace('"', '""') + '"'


def _sql_value(value):
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    return dumps(value)


EXPORTERS = {"jsonl": JsonLinesExporter, "csv": CsvExporter, "sqlite": SqliteExporter,
             "stdout": StdoutExporter}


def open_exporter(path, fsync=False):
    return EXPORTERS[output_format(path)](path, fsync)


def cut_output(path, offset):
    """Cut a file output back to its committed offset (after a forced stop)."""
    fmt = output_format(path)
    if offset is None or fmt not in ("jsonl", "csv"):
        return
    try:
        with open(path, "r+b") as f:
            f.truncate(offset)
    except OSError:
        pass
