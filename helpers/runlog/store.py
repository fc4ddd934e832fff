"""The run log: an embedded SQLite database of every call (success or error), and the response cache.

WAL mode, one connection per thread, short write transactions: safe with concurrent writers (threads or
processes). The schema is built by numbered, append-only migrations (``helpers.runlog.migrations``). Keys
are never written: requests hold messages and parameters only. Readable with plain ``sqlite3``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import settings
from helpers.answer import EMISSION_COLUMNS as EMISSION_FIELDS
from helpers.answer import Answer, Cost, Emissions, Range, Reply, Usage
from helpers.errors import ConfigError
from helpers.runlog import migrations
from helpers.spec import answer_params

USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens")


def _use_wal(conn: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch the file to WAL (once per file; it stays so). Switching needs the file to itself, and SQLite
    answers "database is locked" at once, without waiting, when another process opens it at that moment."""
    for attempt in range(attempts):
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.02)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def request_hash(provider: str, model: str, messages: list[dict[str, Any]], params: dict[str, Any]) -> str:
    """The cache key: the full request (provider, model, messages, parameters) minus transport settings
    (``helpers.spec.TRANSPORT_PARAMS``)."""
    body = {"provider": provider, "model": model, "messages": messages, "params": answer_params(params)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def new_run_id() -> str:
    return datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


class Store:
    """A run log at one path. Cheap to create; connections are opened per thread on first use."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else settings.db_path()
        self._local = threading.local()
        self._session_run: str | None = None
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()

    # -- connection and schema -------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with self._open_lock:  # threads opening their first connection at once: one sets the file up at a time
                conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout=30000")
            _use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            migrations.migrate(conn)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):  # another process held it for long: not a setting to fix
                raise
            raise self._unusable(exc) from exc
        except (sqlite3.DatabaseError, OSError) as exc:  # a folder, not a database, unwritable, damaged
            raise self._unusable(exc) from exc
        return conn

    def _unusable(self, exc: Exception) -> ConfigError:
        return ConfigError(f"the run log {self.path} cannot be opened: {exc}",
                           hint="Point LLMLAB_DB at a SQLite file in a folder you can write to, or unset it "
                                "(runs/llmlab.db); move a damaged file aside.")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- runs ------------------------------------------------------------------------------
    def new_run(self, kind: str, label: str | None = None, config: dict[str, Any] | None = None) -> str:
        run_id = new_run_id()
        while self.run(run_id) is not None:
            run_id = new_run_id()
        self.connect().execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                               (run_id, kind, now_iso(), label, json.dumps(config or {}, default=str)))
        return run_id

    def session_run_id(self) -> str:
        """This process's run for calls made outside a comparison or conversation (made on first use)."""
        with self._lock:
            if self._session_run is None:
                self._session_run = self.new_run("session")
            return self._session_run

    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self.connect().execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["config"] = json.loads(data["config"] or "{}")
        return data

    def runs(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM runs", []
        if kind:
            sql, args = sql + " WHERE kind=?", [kind]
        return [dict(r) for r in self.connect().execute(sql + " ORDER BY created_at DESC LIMIT ?", (*args, limit))]

    # -- calls -----------------------------------------------------------------------------
    def log(self, answer: Answer, *, request_hash: str, run_id: str | None = None, cell: str | None = None,
            cache_hit: bool = False) -> int | None:
        """Write one call; returns its row id (None if the run already holds an answer for this cell)."""
        run_id = run_id or answer.run_id or self.session_run_id()
        request = {"messages": answer.messages, "params": answer.params}
        row = {
            "run_id": run_id, "cell": cell, "created_at": now_iso(), "spec": answer.spec,
            "provider": answer.provider, "model": answer.model, "model_reported": answer.model_reported,
            "request": json.dumps(request, default=str), "request_hash": request_hash,
            "text": answer.text, "reasoning": answer.reasoning, "finish_reason": answer.finish_reason,
            "incomplete": int(answer.incomplete),
            **{f: getattr(answer.usage, f) for f in USAGE_FIELDS},
            "latency_s": answer.latency_s, "ttft_s": answer.ttft_s, "tpot_s": answer.tpot_s,
            "cost_usd": answer.cost_usd, "cost_note": answer.cost_note,
            **{f: getattr(answer.emissions, f) for f in EMISSION_FIELDS},
            "error": answer.error, "error_kind": answer.error_kind, "cache_hit": int(cache_hit),
            "offline": int(answer.offline), "extra": json.dumps(answer.extra, default=str),
        }
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        cur = self.connect().execute(f"INSERT OR IGNORE INTO calls ({cols}) VALUES ({marks})", tuple(row.values()))
        if cur.rowcount == 0:
            return None
        answer.run_id, answer.call_id = run_id, cur.lastrowid
        return cur.lastrowid

    def cached(self, request_hash: str, *, nth: int = 0, exclude_run: str | None = None) -> Answer | None:
        """The cache's one policy: the ``nth`` newest (0: the newest) *original* answer to exactly this request.

        Original: successful, complete (not cut short), with text, and not itself served from the cache
        (copies would make one answer count as several samples). ``exclude_run`` leaves out one run's rows,
        so the repeats of a comparison (``nth`` = repeat number) reuse distinct earlier answers, from other
        runs. None when there is no such answer.
        """
        if isinstance(nth, bool) or not isinstance(nth, int) or nth < 0:
            raise ValueError(f"nth={nth!r}: a whole number ≥ 0")
        row = self.connect().execute(
            "SELECT * FROM calls WHERE request_hash=? AND error IS NULL AND incomplete=0 AND text != '' "
            "AND cache_hit=0 AND run_id IS NOT ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (request_hash, exclude_run, nth)).fetchone()
        return answer_from_row(row) if row else None

    def calls(self, run_id: str | None = None, *, cell: str | None = None, ok: bool | None = None,
              cache_hit: bool | None = None) -> list[dict[str, Any]]:
        """Rows of the calls table as dicts, oldest first. Filters (None: any): ``run_id``, ``cell``,
        ``ok`` (True: no error; False: failed) and ``cache_hit`` (True: served from the cache)."""
        clauses: list[str] = []
        params: list[Any] = []
        if run_id:
            clauses.append("run_id=?")
            params.append(run_id)
        if cell is not None:
            clauses.append("cell=?")
            params.append(cell)
        if ok is not None:
            clauses.append("error IS NULL" if ok else "error IS NOT NULL")
        if cache_hit is not None:
            clauses.append("cache_hit=?")
            params.append(int(cache_hit))
        sql = "SELECT * FROM calls" + (" WHERE " + " AND ".join(clauses) if clauses else "") + " ORDER BY id"
        return [dict(r) for r in self.connect().execute(sql, params)]

    def answers(self, run_id: str | None = None, *, cell: str | None = None, ok: bool | None = None,
                cache_hit: bool | None = None) -> list[Answer]:
        """The same rows as ``calls`` (same filters), rebuilt as Answers."""
        return [answer_from_row(r) for r in self.calls(run_id, cell=cell, ok=ok, cache_hit=cache_hit)]

    def cell_answer(self, run_id: str, cell: str) -> Answer | None:
        """The successful answer a run holds for a cell (at most one), or None."""
        row = self.connect().execute("SELECT * FROM calls WHERE run_id=? AND cell=? AND error IS NULL "
                                     "ORDER BY id DESC LIMIT 1", (run_id, cell)).fetchone()
        return answer_from_row(row) if row else None

    def call_counts(self, run_id: str) -> tuple[int, int]:
        """(calls, failed calls) of a run."""
        calls, failed = self.connect().execute(
            "SELECT count(*), count(error) FROM calls WHERE run_id=?", (run_id,)).fetchone()
        return int(calls), int(failed)

    def answered_cells(self, run_id: str) -> set[str]:
        """Cells of a run that already hold a successful answer (for resume)."""
        rows = self.connect().execute(
            "SELECT cell FROM calls WHERE run_id=? AND cell IS NOT NULL AND error IS NULL", (run_id,))
        return {r[0] for r in rows}

    def integrity_ok(self) -> bool:
        return bool(self.connect().execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def answer_from_row(row: sqlite3.Row | dict[str, Any]) -> Answer:
    """Rebuild an Answer from a calls row."""
    r: dict[str, Any] = dict(row)
    request = json.loads(r.get("request") or "{}")
    reply = Reply(text=r.get("text") or "", reasoning=r.get("reasoning") or "", model_reported=r.get("model_reported"),
                  usage=Usage(**{f: r.get(f) for f in USAGE_FIELDS}), finish_reason=r.get("finish_reason"),
                  incomplete=bool(r.get("incomplete")), latency_s=r.get("latency_s"), ttft_s=r.get("ttft_s"),
                  tpot_s=r.get("tpot_s"))
    emissions = Emissions(tracker_g=r.get("tracker_g"), measured_g=r.get("measured_g"),
                          measured_kwh=r.get("measured_kwh"),
                          ecologits_g=Range.of(r.get("ecologits_g_min"), r.get("ecologits_g_max")),
                          ecologits_kwh=Range.of(r.get("ecologits_kwh_min"), r.get("ecologits_kwh_max")))
    return Answer(
        spec=r["spec"], provider=r["provider"], model=r["model"], reply=reply,
        cost=Cost(r.get("cost_usd"), r.get("cost_note") or ""), emissions=emissions,
        params=request.get("params", {}), messages=request.get("messages", []),
        error=r.get("error"), error_kind=r.get("error_kind"), cached=bool(r.get("cache_hit")),
        offline=bool(r.get("offline")), run_id=r.get("run_id"), call_id=r.get("id"),
        extra=json.loads(r.get("extra") or "{}"),
    )


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def default() -> Store:
    """The store at the configured path (``LLMLAB_DB``), shared within the process."""
    path = settings.db_path()
    with _stores_lock:
        if path not in _stores:
            _stores[path] = Store(path)
        return _stores[path]
