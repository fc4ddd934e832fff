"""The run log's schema: numbered, append-only changes, each recorded in the ``migrations`` table.

A change is a function that takes the connection inside an open transaction and runs its statements;
``MIGRATIONS`` lists them in order under names that never change once released (a database records the
names it has applied). To change the schema, append a new function and a new entry: never edit an old one.
``tests/test_store.py`` checks the resulting schema exactly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime

Migration = Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)


def m001_initial(conn: sqlite3.Connection) -> None:
    """Runs, calls (one row per call, success or error) and the indexes behind resume and the cache."""
    _run(conn, """
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL,
            label TEXT,
            config TEXT
        )""", """
        CREATE TABLE calls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL REFERENCES runs(id),
            cell TEXT,
            created_at TEXT NOT NULL,
            spec TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            model_reported TEXT,
            request TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            text TEXT,
            reasoning TEXT,
            finish_reason TEXT,
            incomplete INTEGER NOT NULL DEFAULT 0,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            cached_tokens INTEGER,
            reasoning_tokens INTEGER,
            cache_write_tokens INTEGER,
            latency_s REAL,
            ttft_s REAL,
            cost_usd REAL,
            cost_note TEXT,
            tracker_g REAL,
            ecologits_g_min REAL,
            ecologits_g_max REAL,
            ecologits_kwh_min REAL,
            ecologits_kwh_max REAL,
            measured_g REAL,
            measured_kwh REAL,
            error TEXT,
            error_kind TEXT,
            cache_hit INTEGER NOT NULL DEFAULT 0,
            offline INTEGER NOT NULL DEFAULT 0,
            extra TEXT
        )""",
         "CREATE INDEX calls_by_run ON calls(run_id, cell)",
         "CREATE INDEX calls_by_hash ON calls(request_hash) WHERE error IS NULL",
         """CREATE UNIQUE INDEX calls_one_answer_per_cell ON calls(run_id, cell)
            WHERE cell IS NOT NULL AND error IS NULL""")


def m002_tpot(conn: sqlite3.Connection) -> None:
    """Time per output token of streamed answers: (latency - TTFT) / (output tokens - 1), seconds."""
    conn.execute("ALTER TABLE calls ADD COLUMN tpot_s REAL")


def m003_imported_runs_and_leases(conn: sqlite3.Connection) -> None:
    """Runs read from a file (``runs import``) are marked, so their answers never serve a live request unless
    asked; a lease per run being resumed, so two resumes of one run never ask a cell twice."""
    _run(conn, "ALTER TABLE runs ADD COLUMN imported INTEGER NOT NULL DEFAULT 0", """
        CREATE TABLE leases (
            run_id TEXT PRIMARY KEY REFERENCES runs(id),
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL
        )""")


MIGRATIONS: list[tuple[str, Migration]] = [
    ("001_initial", m001_initial),
    ("002_tpot", m002_tpot),
    ("003_imported_runs_and_leases", m003_imported_runs_and_leases),
]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the changes this database has not recorded yet, each in its own transaction; returns their names.

    Safe when several processes open a fresh file at once: each change is re-checked under the write lock.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {r[0] for r in conn.execute("SELECT name FROM migrations")}
    applied = []
    for name, change in MIGRATIONS:
        if name in done:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("SELECT 1 FROM migrations WHERE name=?", (name,)).fetchone() is None:
                change(conn)
                conn.execute("INSERT INTO migrations VALUES (?, ?)",
                             (name, datetime.now(UTC).isoformat(timespec="milliseconds")))
                applied.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied
