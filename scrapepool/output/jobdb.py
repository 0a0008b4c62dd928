"""The job database: a crawl's state in SQLite (WAL mode), written ahead, read on resume.

Two processes write it, each its own tables, each in short transactions:

- the coordinator: ``requests`` (every admitted request, its depth, callback,
  meta and state) and the ``kv`` keys it owns (spider, seeds, stats);
- the writer: ``committed`` (requests whose records are durable in the
  output) and the output's committed offset, in one transaction, after the
  output was flushed (and fsynced, for a job dir that must survive power loss).

A request is done when its outcome is recorded (state OUTCOME: its children
are admitted in that same transaction) *and* it is committed. Anything else
is fetched again on resume, and the writer drops records of a request it has
already committed, so nothing is lost and nothing is written twice.
JSON, never pickle: loading a job dir must never run code.
"""

import json
import os
import sqlite3

__all__ = ["JobDB", "PENDING", "OUTCOME", "REFUSED"]

PENDING, OUTCOME, REFUSED = 0, 1, 3

SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    req_id INTEGER PRIMARY KEY,
    fp INTEGER UNIQUE,
    url TEXT NOT NULL,
    method TEXT NOT NULL DEFAULT 'GET',
    headers TEXT,
    body BLOB,
    callback TEXT,
    errback TEXT,
    meta TEXT,
    depth INTEGER NOT NULL DEFAULT 0,
    priority INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    state INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS requests_state ON requests(state, req_id);
CREATE TABLE IF NOT EXISTS committed (req_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT);
"""

DB_NAME = "job.sqlite"


def connect(path, durable):
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode: a crash of the process loses nothing committed; a power
    # loss may lose the last transactions, never consistency. A throw-away job dir
    # (no --job-dir) needs neither.
    conn.execute(f"PRAGMA synchronous={'NORMAL' if durable else 'OFF'}")
    conn.executescript(SCHEMA)
    return conn


class JobDB:
    """One process's connection to the job database."""

    def __init__(self, folder, durable=True):
        os.makedirs(folder, exist_ok=True)
        self.path = os.path.join(folder, DB_NAME)
        self.durable = durable
        self.conn = connect(self.path, durable)

    def close(self):
        try:
            self.conn.close()
        except sqlite3.Error:
            pass

    # -- kv -------------------------------------------------------------------------------
    def get(self, key, default=None):
        row = self.conn.execute("SELECT value FROM kv WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def put(self, key, value, conn=None):
        (conn or self.conn).execute("INSERT OR REPLACE INTO kv(key, value) VALUES (?, ?)",
                                    (key, json.dumps(value)))

    # -- coordinator side -----------------------------------------------------------------
    def write(self, inserts, outcomes, attempts, refused, kv):
        """Apply one batch of the coordinator's changes in a single transaction.

        :param inserts: rows (req_id, fp, url, method, headers, body, callback, errback, meta,
            depth, priority)
        :param outcomes: req_ids whose outcome arrived (their children are in ``inserts``)
        :param attempts: (attempts, req_id) pairs
        :param refused: req_ids done without a fetch (robots.txt)
        :param kv: {key: value}
        """
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            if inserts:
                c.executemany(
                    "INSERT OR IGNORE INTO requests(req_id, fp, url, method, headers, body, callback, errback,"
                    " meta, depth, priority) VALUES (?,?,?,?,?,?,?,?,?,?,?)", inserts)
            if outcomes:
                c.executemany("UPDATE requests SET state=1 WHERE req_id=?", ((r,) for r in outcomes))
            if attempts:
                c.executemany("UPDATE requests SET attempts=? WHERE req_id=?", attempts)
            if refused:
                c.executemany("UPDATE requests SET state=3 WHERE req_id=?", ((r,) for r in refused))
            for key, value in kv.items():
                self.put(key, value)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise

    def resume_state(self):
        """(seen fingerprints, number of requests not done, highest req_id, admitted count)."""
        c = self.conn
        seen = {fp for (fp,) in c.execute("SELECT fp FROM requests WHERE fp IS NOT NULL")}
        todo = c.execute(
            "SELECT count(*) FROM requests WHERE state=0 OR (state=1 AND req_id NOT IN "
            "(SELECT req_id FROM committed))").fetchone()[0]
        top = c.execute("SELECT coalesce(max(req_id), 0), count(*) FROM requests").fetchone()
        # New ids must never reuse a committed one, whatever happened before the crash.
        top_committed = c.execute("SELECT coalesce(max(req_id), 0) FROM committed").fetchone()[0]
        return seen, todo, max(top[0], top_committed), top[1]

    def reset_unfinished(self):
        """On resume: every request not done goes back to PENDING."""
        self.conn.execute(
            "UPDATE requests SET state=0 WHERE state=1 AND req_id NOT IN (SELECT req_id FROM committed)")

    def load_pending(self, after_id, limit):
        """Pending rows with req_id > after_id, oldest first (FIFO keeps the crawl breadth-first).

        The last column is ``dont_filter``: such a request is stored without a fingerprint."""
        return self.conn.execute(
            "SELECT req_id, url, method, headers, body, callback, errback, meta, depth, priority, attempts,"
            " fp IS NULL FROM requests WHERE state=0 AND req_id>? ORDER BY req_id LIMIT ?", (after_id, limit)).fetchall()

    # -- writer side ----------------------------------------------------------------------
    def committed_ids(self):
        return [r for (r,) in self.conn.execute("SELECT req_id FROM committed")]

    def commit_output(self, req_ids, offset, n_records, kv=None):
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany("INSERT OR IGNORE INTO committed(req_id) VALUES (?)", ((r,) for r in req_ids))
            self.put("output_offset", offset)
            self.put("output_records", n_records)
            for key, value in (kv or {}).items():  # the writer's notes, true of this same offset
                self.put(key, value)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
