"""The run log: an embedded SQLite database of every call (success or error), and the response cache.

WAL mode, one connection per thread, short write transactions: safe with concurrent writers (threads or
processes). The schema is built by numbered, append-only migrations (``helpers.runlog.migrations``). Keys
are never written: requests hold messages and parameters only. Readable with plain ``sqlite3``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from helpers import settings
from helpers.answer import Answer, Cost, Emissions, Range, Reply, Usage
from helpers.errors import ConfigError
from helpers.runlog import migrations
from helpers.spec import answer_params

F = TypeVar("F", bound=Callable[..., Any])
_SURROGATE = re.compile("[\ud800-\udfff]")
LEASE_SECONDS = 600.0  # a lease whose owner cannot be checked (another machine) lapses after this


def damaged(path: Path, exc: BaseException) -> ConfigError:
    """The error for a run log SQLite cannot read or write (damaged, read-only, disk full)."""
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        what, fix = "is read-only", "Make the file writable, or point LLMLAB_DB at a file in a folder you can write to."
    elif "full" in text:
        what, fix = "cannot grow (the disk is full)", "Free some disk space, or point LLMLAB_DB at another disk."
    else:
        what, fix = "is damaged", (f"Move it aside (e.g. `mv {path} {path}.damaged`); a new, empty run log is made "
                                   "on the next call. `sqlite3 FILE .recover` can often rescue the old rows.")
    return ConfigError(f"the run log {path} {what} ({type(exc).__name__}: {text})", hint=fix)


def _guarded(method: F) -> F:
    """A Store method whose SQLite failures (other than a busy lock) become the ConfigError that says what to do."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
                raise
            raise damaged(self.path, exc) from exc

    return wrapper  # type: ignore[return-value]


def storable(value: Any) -> tuple[Any, bool]:
    """(value SQLite can store, changed?): lone UTF-16 surrogates (from a ``\\ud800`` escape) become U+FFFD."""
    if isinstance(value, str) and _SURROGATE.search(value):
        return _SURROGATE.sub("\ufffd", value), True
    if value is not None and not isinstance(value, (str, int, float, bytes)):  # not a SQLite type: kept as JSON
        return storable(json.dumps(value, default=str))[0], True
    return value, False


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
            problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
            if problem != "ok":  # pages damaged behind a good header: say so before anything reads or writes
                conn.close()
                raise damaged(self.path, sqlite3.DatabaseError(problem))
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc):  # another process held it for long: not a setting to fix
                raise
            raise self._unusable(exc) from exc
        except (sqlite3.DatabaseError, OSError) as exc:  # a folder, not a database, unwritable, damaged
            raise self._unusable(exc) from exc
        self._import_spool(conn)
        return conn

    def _unusable(self, exc: Exception) -> ConfigError:
        if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
            return damaged(self.path, exc)
        return ConfigError(f"the run log {self.path} cannot be opened: {exc}",
                           hint="Point LLMLAB_DB at a SQLite file in a folder you can write to, or unset it "
                                "(runs/llmlab.db); move a damaged file aside.")

    @_guarded
    def check_writable(self) -> None:
        """A write probe (rolled back) made before a paid request: a read-only, full or damaged run log fails
        here, with the fix, instead of after the provider was paid."""
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("INSERT INTO runs (id, kind, created_at) VALUES (?, 'probe', '')",
                         ("probe-" + secrets.token_hex(8),))
        finally:
            conn.execute("ROLLBACK")

    # -- the spool: paid answers the run log could not take -----------------------------------
    @property
    def spool_path(self) -> Path:
        """Where answers go when the run log cannot take them (JSON Lines, one row per line, under LLMLAB_HOME);
        the next open of this run log adds them back."""
        tag = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:10]
        return settings.home() / "spool" / f"{self.path.stem}-{tag}.jsonl"

    def _spool(self, row: dict[str, Any], exc: BaseException) -> Path | None:
        """Append one row to the spool, whole and under the file's lock: threads or processes spooling at
        once write one at a time, and an import in progress is never torn (see ``_locked_spool``)."""
        line = (json.dumps({"row": row, "error": str(exc)[:300]}) + "\n").encode("utf-8")
        with _spool_lock:
            for target in (self.spool_path, Path(tempfile.gettempdir()) / "llmlab-spool" / self.spool_path.name):
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with _locked_spool(target, "ab") as f:
                        f.write(line)
                        f.flush()
                        os.fsync(f.fileno())
                    return target
                except OSError:
                    continue
        return None

    def _import_spool(self, conn: sqlite3.Connection) -> int:
        """Add back the rows spooled while this run log could not be written; returns how many were added."""
        paths = [p for p in (self.spool_path, Path(tempfile.gettempdir()) / "llmlab-spool" / self.spool_path.name)
                 if p.is_file()]
        added = 0
        for path in paths:
            try:
                with _spool_lock, _locked_spool(path, "rb") as f:  # no row is appended while the file is taken
                    lines = f.read().decode("utf-8", "replace").splitlines()
                    added += self._add_spooled(conn, lines)
                    path.replace(path.with_suffix(f".imported-{time.time_ns()}.jsonl"))
            except (sqlite3.Error, OSError) as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                print(f"warning: answers kept in {path} could not be added back to the run log yet ({exc})",
                      file=sys.stderr)
        return added

    @staticmethod
    def _add_spooled(conn: sqlite3.Connection, lines: list[str]) -> int:
        """Insert spooled rows in one transaction (a torn line is skipped; the others still count)."""
        added = 0
        conn.execute("BEGIN IMMEDIATE")
        for line in lines:
            try:
                row = json.loads(line)["row"]
            except (ValueError, KeyError, TypeError):
                continue
            conn.execute("INSERT OR IGNORE INTO runs (id, kind, created_at, label, config) "
                         "VALUES (?, 'recovered', ?, 'answers kept while the run log could not be written', "
                         "'{}')", (row["run_id"], row["created_at"]))
            cols = ", ".join(row)
            cur = conn.execute(f"INSERT OR IGNORE INTO calls ({cols}) VALUES ({', '.join('?' for _ in row)})",
                               tuple(row.values()))
            added += max(cur.rowcount, 0)
        conn.execute("COMMIT")
        return added

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- runs ------------------------------------------------------------------------------
    @_guarded
    def new_run(self, kind: str, label: str | None = None, config: dict[str, Any] | None = None) -> str:
        run_id = new_run_id()
        while self.run(run_id) is not None:
            run_id = new_run_id()
        label = storable(label)[0]
        self.connect().execute("INSERT INTO runs (id, kind, created_at, label, config) VALUES (?, ?, ?, ?, ?)",
                               (run_id, kind, now_iso(), label, json.dumps(config or {}, default=str)))
        return run_id

    def session_run_id(self) -> str:
        """This process's run for calls made outside a comparison or conversation (made on first use)."""
        with self._lock:
            if self._session_run is None:
                self._session_run = self.new_run("session")
            return self._session_run

    @_guarded
    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self.connect().execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            return None
        data = dict(row)
        data["config"] = json.loads(data["config"] or "{}")
        return data

    @_guarded
    def runs(self, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        sql, args = "SELECT * FROM runs", []
        if kind:
            sql, args = sql + " WHERE kind=?", [kind]
        return [dict(r) for r in self.connect().execute(sql + " ORDER BY created_at DESC LIMIT ?", (*args, limit))]

    # -- leases: one process at a time works on a run ----------------------------------------
    @_guarded
    def take_lease(self, run_id: str) -> str | None:
        """Take the run's lease for this process; returns None when taken, else the holder ("host:pid") that
        is still working on it. A holder on this machine counts while its process lives; one elsewhere until
        its lease lapses (``LEASE_SECONDS`` after it was last taken or renewed)."""
        me = f"{socket.gethostname()}:{os.getpid()}"
        conn = self.connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT owner, expires_at FROM leases WHERE run_id=?", (run_id,)).fetchone()
            if row is not None and row[0] != me and _holds(row[0], row[1]):
                conn.execute("ROLLBACK")
                return str(row[0])
            conn.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?)", (run_id, me, time.time() + LEASE_SECONDS))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return None

    @_guarded
    def drop_lease(self, run_id: str) -> None:
        """Give the run's lease back (only this process's own)."""
        self.connect().execute("DELETE FROM leases WHERE run_id=? AND owner=?",
                               (run_id, f"{socket.gethostname()}:{os.getpid()}"))

    # -- calls -----------------------------------------------------------------------------
    def log(self, answer: Answer, *, request_hash: str, run_id: str | None = None, cell: str | None = None,
            cache_hit: bool = False) -> int | None:
        """Write one call; returns its row id (None if the run already holds an answer for this cell)."""
        if not (run_id or answer.run_id):
            try:
                run_id = self.session_run_id()
            except ConfigError:  # the run log cannot be written: the row goes to the spool under a new run id
                run_id = self._session_run = new_run_id()
        run_id = run_id or answer.run_id
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
            **answer.emissions.columns(),
            "error": answer.error, "error_kind": answer.error_kind, "cache_hit": int(cache_hit),
            "offline": int(answer.offline), "extra": json.dumps(answer.extra, default=str),
        }
        originals = {}
        for name, value in row.items():
            row[name], changed = storable(value)
            if changed:  # the original, as JSON escapes (``"\\ud800"``), which SQLite stores as plain ASCII
                originals[name] = json.dumps(value)
        if originals:
            row["extra"] = json.dumps({**answer.extra, "unencodable_originals": originals}, default=str)
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        try:
            cur = self.connect().execute(f"INSERT OR IGNORE INTO calls ({cols}) VALUES ({marks})",
                                         tuple(row.values()))
        except sqlite3.Error as exc:  # read-only, disk full, damaged: the answer (maybe paid) is kept anyway
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            spooled = self._spool(row, exc)
            answer.run_id = run_id
            answer.extra["not_logged"] = (f"the run log could not take this answer ({exc}); "
                                          + (f"it is kept in {spooled} and added back when the run log works again"
                                             if spooled else "it could not be kept anywhere on disk"))
            print(f"warning: {answer.extra['not_logged']}", file=sys.stderr)
            return None
        if cur.rowcount == 0:
            return None
        answer.run_id, answer.call_id = run_id, cur.lastrowid
        return cur.lastrowid

    @_guarded
    def cached(self, request_hash: str, *, nth: int = 0, exclude_run: str | None = None,
               use_imported: bool = False) -> Answer | None:
        """The cache's one policy: the ``nth`` newest (0: the newest) *original* answer to exactly this request.

        Original: successful, complete (not cut short), with text, and not itself served from the cache
        (copies would make one answer count as several samples). ``exclude_run`` leaves out one run's rows,
        so the repeats of a comparison (``nth`` = repeat number) reuse distinct earlier answers, from other
        runs. Answers of runs read from a file (``runs import``) answer only when ``use_imported`` is set: a file
        from elsewhere must not answer live requests unasked. None when there is no such answer.
        """
        if isinstance(nth, bool) or not isinstance(nth, int) or nth < 0:
            raise ValueError(f"nth={nth!r}: a whole number ≥ 0")
        row = self.connect().execute(
            "SELECT * FROM calls WHERE request_hash=? AND error IS NULL AND incomplete=0 AND text != '' "
            "AND cache_hit=0 AND run_id IS NOT ? "
            + ("" if use_imported else "AND run_id NOT IN (SELECT id FROM runs WHERE imported=1) ")
            + "ORDER BY id DESC LIMIT 1 OFFSET ?",
            (request_hash, exclude_run, nth)).fetchone()
        return answer_from_row(row) if row else None

    @_guarded
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

    @_guarded
    def cell_answer(self, run_id: str, cell: str) -> Answer | None:
        """The successful answer a run holds for a cell (at most one), or None."""
        row = self.connect().execute("SELECT * FROM calls WHERE run_id=? AND cell=? AND error IS NULL "
                                     "ORDER BY id DESC LIMIT 1", (run_id, cell)).fetchone()
        return answer_from_row(row) if row else None

    @_guarded
    def call_counts(self, run_id: str) -> tuple[int, int]:
        """(calls, failed calls) of a run."""
        calls, failed = self.connect().execute(
            "SELECT count(*), count(error) FROM calls WHERE run_id=?", (run_id,)).fetchone()
        return int(calls), int(failed)

    @_guarded
    def answered_cells(self, run_id: str) -> set[str]:
        """Cells of a run that already hold a successful answer (for resume)."""
        rows = self.connect().execute(
            "SELECT cell FROM calls WHERE run_id=? AND cell IS NOT NULL AND error IS NULL", (run_id,))
        return {r[0] for r in rows}

    @_guarded
    def integrity_ok(self) -> bool:
        return bool(self.connect().execute("PRAGMA integrity_check").fetchone()[0] == "ok")


def _holds(owner: str, expires_at: float) -> bool:
    """Whether a lease's holder is still at work: its process lives (this machine), or the lease has not lapsed."""
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return time.time() < expires_at


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


@contextlib.contextmanager
def _locked_spool(path: Path, mode: str) -> Iterator[IO[bytes]]:
    """``path`` opened and locked (flock, exclusive). A spool renamed by an import while we waited for its
    lock is opened again by name, so a row is never appended to a file already imported."""
    while True:
        f = path.open(mode)
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            if os.path.exists(path) and os.stat(path).st_ino == os.fstat(f.fileno()).st_ino:
                break
        except BaseException:
            f.close()
            raise
        f.close()
        if "r" in mode:
            raise FileNotFoundError(path)  # imported by someone else meanwhile: nothing left to read here
    try:
        yield f
    finally:
        f.close()  # closing releases the lock


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()
_spool_lock = threading.Lock()  # one spool write at a time in this process


def default() -> Store:
    """The store at the configured path (``LLMLAB_DB``), shared within the process."""
    path = settings.db_path()
    with _stores_lock:
        if path not in _stores:
            _stores[path] = Store(path)
        return _stores[path]
