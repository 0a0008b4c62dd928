"""Output formats: JSON lines, a JSON array, CSV, SQLite, and JSON lines on stdout.

An exporter appends records and reports an *offset*: how far the output is
durable after :meth:`commit`. On resume (or after a forced stop) the output is
cut back to the last committed offset, so a torn line or uncommitted records
never remain: for files it is a byte offset, for SQLite a row count.

A new output (``open(None)``) starts empty, or, with ``append`` (the CLI's ``-o``,
as in Scrapy; ``-O`` overwrites), goes on from what the file already holds: JSON
lines after its last line, CSV under the header it has, SQLite in its ``records``
table, JSON inside its array. A file that cannot be continued is an OutputError,
found by :func:`check_output` before any request.

``fields`` (``--fields``, Scrapy's FEED_EXPORT_FIELDS) makes every format write
exactly those fields in that order, a missing one as null or an empty cell.
Without it, CSV's columns are the first record's keys, as in Scrapy, and a key
that is not a column cannot be written: the exporter counts such values per key
in ``dropped``. SQLite column names ignore case, so keys that differ only in case
share a column: ``merged`` notes each key written under another spelling. The
writer process keeps both in the job DB, where the coordinator reads them to warn
and count (``dropped_fields`` in the stats): what the writer logs reaches nobody.
"""

import csv
import io
import json
import os
import sqlite3
import sys

from ..exceptions import OutputError

__all__ = ["open_exporter", "cut_output", "check_output"]

#: How a JSON array output ends, after every commit; the committed offset is just before it,
#: where the next record goes. ``cut_output`` writes it back after cutting.
JSON_CLOSE = b"\n]\n"
_SPACE = b" \t\r\n"


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
    if ext in (".jsonl", ".jl", ".ndjson"):
        return "jsonl"
    if ext == ".json":
        return "json"
    if ext == ".csv":
        return "csv"
    if ext in (".sqlite", ".db", ".sqlite3"):
        return "sqlite"
    raise OutputError(f"cannot tell the output format of {path!r}: use .jsonl, .json, .csv, .sqlite or .db "
                      "(or - for stdout)")


def check_output(path, resume=False, append=False, fields=()):
    """Fail early, before any request, when the output cannot be written.

    With ``append`` (and not ``resume``: a resumed job repairs its own output), a
    file that is there must also be one this crawl can go on writing: a JSON array,
    a SQLite database, a CSV whose header is ``fields`` when they are given.
    """
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
    if append and not resume and existed and os.path.getsize(path):
        if fmt == "json":
            with open(path, "rb") as f:
                _array_end(f, path)
        elif fmt == "csv":
            _check_header(_read_header(path), fields, path)
        elif fmt == "sqlite":
            conn = _sqlite_connect(path, readonly=True)
            conn.close()
    return fmt


def _cannot_append(path, why):
    return OutputError(f"cannot append to {path}: {why} (-O overwrites it)")


class _Exporter:
    """What every format shares: ``fields``, and the notes on keys it could not write as given."""

    def __init__(self, path, fsync=False, fields=(), append=False):
        self.path = path
        self.fsync = fsync
        self.fields = tuple(fields)
        self.append = append
        #: key -> values not written (CSV: not a column; SQLite: a case twin in the same record)
        self.dropped = {}
        #: key -> the column of another spelling it was written to (SQLite)
        self.merged = {}
        #: Grows when ``dropped`` or ``merged`` changes: the writer saves them only then.
        self.noted = 0

    def select(self, records):
        """Exactly ``fields``, in their order, when they are given."""
        if not self.fields:
            return records
        return [{name: rec.get(name) for name in self.fields} for rec in records]

    def drop(self, key, n=1):
        self.dropped[key] = self.dropped.get(key, 0) + n
        self.noted += 1


class _FileExporter(_Exporter):
    durable = False

    def __init__(self, path, fsync=False, fields=(), append=False):
        super().__init__(path, fsync, fields, append)
        self.file = None

    def open(self, offset):
        """Start a new output (offset None) or cut back to ``offset`` and append."""
        if offset is not None:
            self.file = open(self.path, "r+b")
            size = os.fstat(self.file.fileno()).st_size
            if offset > size:
                # Cutting "back" to past the end would pad the file with NUL bytes and hide
                # that committed records are gone (cut or replaced by someone else).
                self.file.close()
                raise OutputError(f"{self.path} ends at byte {size}, before its committed end {offset}: "
                                  "records already committed are missing from it")
            self.file.truncate(offset)
            self.file.seek(offset)
            self.resumed(offset)
        elif self.append and os.path.exists(self.path) and os.path.getsize(self.path):
            self.file = open(self.path, "r+b")
            self.file.seek(0, os.SEEK_END)
            self.appended()
        else:
            self.file = open(self.path, "wb")
            self.started()

    def started(self):
        """A new, empty file."""

    def resumed(self, offset):
        """Reopened at its committed ``offset``."""

    def appended(self):
        """Opened at the end of a file that was there: a torn last line gets its newline."""
        self.file.seek(-1, os.SEEK_END)
        if self.file.read(1) != b"\n":
            self.file.write(b"\n")

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
        self.file.write("".join(dumps(r) + "\n" for r in self.select(records)).encode("utf-8"))


class JsonExporter(_FileExporter):
    """One JSON array, as Scrapy's JsonItemExporter writes it: ``[\\n{...},\\n{...}\\n]\\n``.

    The file is a valid array after every commit: each write puts its records where
    the previous one ended, then the closing ``\\n]\\n`` again. The committed offset is
    the end of the last record, before the closing bracket, so cutting back to it
    (:func:`cut_output`, or a resume) and writing the bracket again repairs a write
    that a crash tore. Appending continues the array the file holds.
    """

    def started(self):
        self.pos, self.empty = 1, True
        self.file.write(b"[" + JSON_CLOSE)

    def resumed(self, offset):
        if not offset:
            return self.started()
        self.pos, self.empty = offset, _last_nonspace(self.file, offset)[1] == b"["
        self.file.seek(offset)
        self.file.write(JSON_CLOSE)

    def appended(self):
        self.pos, self.empty = _array_end(self.file, self.path)
        self.file.seek(self.pos)
        self.file.write(JSON_CLOSE)
        self.file.truncate()

    def write(self, records):
        records = self.select(records)
        if not records:
            return
        first = "\n" if self.empty else ",\n"
        data = (first + ",\n".join(dumps(r) for r in records)).encode("utf-8")
        self.file.seek(self.pos)
        self.file.write(data + JSON_CLOSE)  # past the old end: nothing to truncate
        self.pos += len(data)
        self.empty = False

    def commit(self):
        super().commit()
        return self.pos


def _last_nonspace(f, end):
    """(offset, byte) of the last byte before ``end`` that is not white space; (None, b"") if none."""
    while end > 0:
        start = max(0, end - 4096)
        f.seek(start)
        chunk = f.read(end - start).rstrip(_SPACE)
        if chunk:
            return start + len(chunk) - 1, chunk[-1:]
        end = start
    return None, b""


def _array_end(f, path):
    """(offset just after the array's last value, whether it is empty) of a JSON array file.

    Only its ends are read: the file must begin with ``[`` and end with ``]``.
    """
    f.seek(0)
    head = f.read(64).lstrip(_SPACE)
    close, last = _last_nonspace(f, f.seek(0, os.SEEK_END))
    if not head.startswith(b"[") or last != b"]" or close == 0:
        raise _cannot_append(path, "it is not a JSON array (it must begin with [ and end with ])")
    before, byte = _last_nonspace(f, close)
    return before + 1, byte == b"["


class CsvExporter(_FileExporter):
    """Header from ``fields``, else from the first record's keys (Scrapy's CsvItemExporter keeps
    the first item's fields too); nested values as JSON. A key that is not a column is not
    written: ``dropped`` counts its values. Appending keeps the file's header and its columns."""

    def open(self, offset):
        self.columns = self.known = None
        if offset or (offset is None and self.append and os.path.exists(self.path)
                      and os.path.getsize(self.path)):
            self.columns = _read_header(self.path)
            _check_header(self.columns, self.fields, self.path)
            self.known = set(self.columns)
        super().open(offset)

    def write(self, records):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for rec in self.select(records):
            if self.columns is None:
                self.columns = list(rec.keys())
                self.known = set(self.columns)
                writer.writerow(self.columns)
            for key in rec:
                if key not in self.known:
                    self.drop(str(key))
            writer.writerow([_cell(rec.get(k)) for k in self.columns])
        self.file.write(buf.getvalue().encode("utf-8"))


def _read_header(path):
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            return next(csv.reader(f), None) or []
    except csv.Error as exc:
        raise _cannot_append(path, f"its header cannot be read ({exc})") from None


def _check_header(header, fields, path):
    """The header of a CSV being continued: there must be one, and it must be ``fields`` if given."""
    if not header:
        raise _cannot_append(path, "its first line is not a header")
    if fields and list(header) != list(fields):
        raise _cannot_append(path, f"its columns are {','.join(header)}, not the fields asked for "
                                   f"({','.join(fields)})")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple, set)):
        return dumps(value)
    return value


class StdoutExporter(_Exporter):
    """JSON lines on stdout: nothing can be cut back, so a resumed crawl may repeat lines."""

    def __init__(self, path, fsync=False, fields=(), append=False):
        super().__init__(path, fsync, fields, append)
        self.stream = sys.stdout
        self.written = 0

    def open(self, offset):
        self.written = offset or 0

    def write(self, records):
        text = "".join(dumps(r) + "\n" for r in self.select(records))
        self.stream.write(text)
        self.written += len(text)

    def commit(self):
        self.stream.flush()
        return self.written

    def close(self):
        self.stream.flush()


class SqliteExporter(_Exporter):
    """Table ``records``, one column per field (added as new fields appear); nested values as JSON.

    A column keeps the spelling of the first key that made it. SQLite column names
    ignore case, so a key that differs from a column only in case is written to that
    column (noted in ``merged``); a record with both spellings keeps the last value
    (the other counts in ``dropped``).

    The offset is the highest committed rowid: a resume deletes the rows past it.
    """

    def __init__(self, path, fsync=False, fields=(), append=False):
        super().__init__(path, fsync, fields, append)
        self.conn = None
        self.columns = []

    def open(self, offset):
        if offset is None and not self.append:
            for name in (self.path, self.path + "-wal", self.path + "-shm"):
                if os.path.exists(name):
                    os.remove(name)  # a stale -wal would be replayed into the new database
        self.conn = _sqlite_connect(self.path)
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
        for rec in self.select(records):
            row, spelling, names = {}, {}, dict(self.lower)
            for key, value in rec.items():
                key = str(key)
                col = names.setdefault(key.lower(), key)
                if col != key and self.merged.get(key) != col:
                    self.merged[key] = col
                    self.noted += 1
                if col in row:
                    self.drop(spelling[col])  # the same column twice in one record: last wins
                row[col], spelling[col] = value, key
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


def _sqlite_connect(path, readonly=False):
    """A connection to ``path``, checked to be a SQLite database (an OutputError if not)."""
    conn = None
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True)
        else:
            conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise _cannot_append(path, f"it is not a SQLite database ({exc})") from None


def _quote(name):
    return '"' + str(name).replace('"', '""') + '"'


def _sql_value(value):
    if value is None or isinstance(value, (int, float, str, bytes)):
        return value
    return dumps(value)


EXPORTERS = {"jsonl": JsonLinesExporter, "json": JsonExporter, "csv": CsvExporter,
             "sqlite": SqliteExporter, "stdout": StdoutExporter}


def open_exporter(path, fsync=False, fields=(), append=False):
    """The exporter for ``path``'s format (not opened yet: call ``open(offset)``)."""
    return EXPORTERS[output_format(path)](path, fsync, fields, append)


def cut_output(path, offset):
    """Cut a file output back to its committed offset (after a forced stop).

    A JSON array gets its closing bracket back: it stays valid JSON.
    """
    fmt = output_format(path)
    if offset is None or fmt not in ("jsonl", "csv", "json"):
        return
    try:
        with open(path, "r+b") as f:
            if offset > os.fstat(f.fileno()).st_size:
                return  # never pads: the next run says what is missing
            f.truncate(offset)
            if fmt == "json":
                f.seek(offset)
                f.write(JSON_CLOSE)
    except OSError:
        pass
