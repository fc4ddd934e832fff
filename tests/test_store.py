"""The SQLite run log: exact schema, migrations, concurrent writers, cache lookups, no keys."""

import json
import re
import sqlite3
import subprocess
import sys
import threading

import pytest

from helpers.answer import Answer, Emissions, Usage
from helpers.runlog import migrations
from helpers.runlog import store as run_log

EXPECTED_CALL_COLUMNS = [
    "id", "run_id", "cell", "created_at", "spec", "provider", "model", "model_reported", "request",
    "request_hash", "text", "reasoning", "finish_reason", "incomplete", "prompt_tokens", "completion_tokens",
    "cached_tokens", "reasoning_tokens", "cache_write_tokens", "latency_s", "ttft_s", "cost_usd", "cost_note",
    "tracker_g", "ecologits_g_min", "ecologits_g_max", "ecologits_kwh_min", "ecologits_kwh_max", "measured_g",
    "measured_kwh", "error", "error_kind", "cache_hit", "offline", "extra", "tpot_s",
]


def answer(text="4", **kw):
    return Answer(spec="openai/gpt-4o-mini", provider="openai", model="gpt-4o-mini", text=text,
                  usage=Usage(prompt_tokens=10, completion_tokens=2), latency_s=0.5, cost_usd=0.0000027,
                  emissions=Emissions(tracker_g=0.0025), messages=[{"role": "user", "content": "2+2?"}],
                  params={"temperature": 0}, **kw)


def test_exact_schema_and_migrations(tmp_path):
    s = run_log.Store(tmp_path / "log.db")
    conn = s.connect()
    cols = [r[1] for r in conn.execute("PRAGMA table_info(calls)")]
    assert cols == EXPECTED_CALL_COLUMNS
    assert [r[0] for r in conn.execute("SELECT name FROM migrations")] == [m[0] for m in migrations.MIGRATIONS]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.close()
    run_log.Store(tmp_path / "log.db").connect()  # migrating twice is a no-op
    raw = sqlite3.connect(tmp_path / "log.db")
    assert raw.execute("SELECT count(*) FROM migrations").fetchone()[0] == len(migrations.MIGRATIONS)


EXPECTED_SCHEMA = [  # (type, name, SQL with whitespace collapsed); SQLite's own objects left out
    ("index", "calls_by_hash", "CREATE INDEX calls_by_hash ON calls(request_hash) WHERE error IS NULL"),
    ("index", "calls_by_run", "CREATE INDEX calls_by_run ON calls(run_id, cell)"),
    ("index", "calls_one_answer_per_cell", ("CREATE UNIQUE INDEX calls_one_answer_per_cell ON calls(run_id, cell) "
                                           "WHERE cell IS NOT NULL AND error IS NULL")),
    ("table", "calls", ("CREATE TABLE calls (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES "
                       "runs(id), cell TEXT, created_at TEXT NOT NULL, spec TEXT NOT NULL, provider TEXT NOT NULL, "
                       "model TEXT NOT NULL, model_reported TEXT, request TEXT NOT NULL, request_hash TEXT NOT NULL, "
                       "text TEXT, reasoning TEXT, finish_reason TEXT, incomplete INTEGER NOT NULL DEFAULT 0, "
                       "prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER, reasoning_tokens "
                       "INTEGER, cache_write_tokens INTEGER, latency_s REAL, ttft_s REAL, cost_usd REAL, cost_note "
                       "TEXT, tracker_g REAL, ecologits_g_min REAL, ecologits_g_max REAL, ecologits_kwh_min REAL, "
                       "ecologits_kwh_max REAL, measured_g REAL, measured_kwh REAL, error TEXT, error_kind TEXT, "
                       "cache_hit INTEGER NOT NULL DEFAULT 0, offline INTEGER NOT NULL DEFAULT 0, extra TEXT "
                       ", tpot_s REAL)")),  # 002_tpot added the column
    ("table", "leases", ("CREATE TABLE leases (run_id TEXT PRIMARY KEY REFERENCES runs(id), owner TEXT NOT NULL, "
                        "expires_at REAL NOT NULL)")),
    ("table", "migrations", "CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"),
    ("table", "runs", ("CREATE TABLE runs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at TEXT NOT NULL, "
                      # ALTER TABLE leaves the space
                      "label TEXT, config TEXT , imported INTEGER NOT NULL DEFAULT 0)")),
]


def test_exact_schema_every_table_and_index(tmp_path):
    conn = run_log.Store(tmp_path / "log.db").connect()
    rows = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY type, name")
    schema = [(t, n, re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")")) for t, n, sql in rows]
    assert schema == EXPECTED_SCHEMA


def test_migrations_are_numbered_functions_applied_once_in_order(tmp_path):
    names = [name for name, _ in migrations.MIGRATIONS]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(re.fullmatch(r"\d{3}_[a-z_]+", n) and callable(f) for n, f in migrations.MIGRATIONS)
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    assert migrations.migrate(conn) == names
    assert migrations.migrate(conn) == []  # already recorded: nothing runs again


def test_a_failed_migration_leaves_nothing_half_done(tmp_path, monkeypatch):
    def broken(conn):
        conn.execute("CREATE TABLE half (x)")
        raise sqlite3.OperationalError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("999_broken", broken)])
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="boom"):
        migrations.migrate(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half" not in tables and "calls" in tables
    assert [r[0] for r in conn.execute("SELECT name FROM migrations")] == [m[0] for m in migrations.MIGRATIONS[:-1]]


def test_log_and_read_back(tmp_path):
    s = run_log.Store(tmp_path / "log.db")
    a = answer()
    key = run_log.request_hash("openai", "gpt-4o-mini", a.messages, a.params)
    call_id = s.log(a, request_hash=key)
    rows = s.calls()
    assert len(rows) == 1 and rows[0]["id"] == call_id
    assert rows[0]["prompt_tokens"] == 10 and rows[0]["cost_usd"] == 0.0000027 and rows[0]["tracker_g"] == 0.0025
    assert rows[0]["run_id"] == s.session_run_id()
    hit = s.cached(key)
    assert hit.text == "4" and hit.usage.completion_tokens == 2 and hit.messages == a.messages


def test_cache_ignores_errors_and_incomplete(tmp_path):
    s = run_log.Store(tmp_path / "log.db")
    s.log(answer(text="", error="boom", error_kind="provider"), request_hash="h1")
    s.log(answer(text="half", incomplete=True, error="cut", error_kind="incomplete"), request_hash="h1")
    assert s.cached("h1") is None


def test_request_hash_ignores_transport_settings():
    m = [{"role": "user", "content": "hi"}]
    assert run_log.request_hash("openai", "x", m, {"temperature": 0, "stream": True, "timeout": 5}) == \
        run_log.request_hash("openai", "x", m, {"temperature": 0})
    assert run_log.request_hash("openai", "x", m, {"temperature": 0}) != run_log.request_hash("openai", "x", m, {})


def test_transport_settings_are_one_list_for_the_cache_key_and_the_run_log(tmp_path):
    from helpers import llm
    from helpers.spec import TRANSPORT_PARAMS

    assert set(TRANSPORT_PARAMS) == {"stream", "timeout", "max_retries"}
    plain = llm.prepare("openai/gpt-4o-mini", "hi", temperature=0)
    moved = llm.prepare("openai/gpt-4o-mini", "hi", temperature=0, stream=True, timeout=5, max_retries=7)
    assert moved.hash == plain.hash  # max_retries used to change the cache key
    assert llm.blank(moved.request).params == {"temperature": 0}  # … and none is recorded in the run log
    s = run_log.Store(tmp_path / "log.db")
    s.log(llm.blank(moved.request), request_hash=moved.hash)
    assert json.loads(s.calls()[0]["request"])["params"] == {"temperature": 0}


def test_one_answer_per_cell(tmp_path):
    s = run_log.Store(tmp_path / "log.db")
    run = s.new_run("compare")
    assert s.log(answer(), request_hash="h", run_id=run, cell="m|p|0") is not None
    assert s.log(answer(), request_hash="h", run_id=run, cell="m|p|0") is None
    s.log(answer(text="", error="x", error_kind="auth"), request_hash="h", run_id=run, cell="m|q|0")
    assert s.answered_cells(run) == {"m|p|0"}
    assert len(s.calls(run)) == 2


def test_concurrent_writers_threads_and_processes(tmp_path):
    path = tmp_path / "log.db"
    s = run_log.Store(path)
    run = s.new_run("load")

    def write(n):
        for i in range(25):
            s.log(answer(text=f"{n}-{i}"), request_hash=f"{n}-{i}", run_id=run, cell=f"{n}|{i}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    code = ("import sys; from helpers.runlog import store; from helpers.answer import Answer\n"
            "s = store.Store(sys.argv[1])\n"
            "for i in range(50): s.log(Answer(spec='p/m', provider='openai', model='m', text=str(i)),"
            " request_hash=str(i), run_id=sys.argv[2], cell=f'proc|{i}')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path), run]) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(p.wait(60) == 0 for p in procs)
    assert len(s.calls(run)) == 8 * 25 + 50  # the two processes wrote the same 50 cells once
    assert s.integrity_ok()


def test_no_key_is_stored(tmp_path, monkeypatch):
    secret = "sk-proj-" + "S3cr3t" * 6
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    s = run_log.Store(tmp_path / "log.db")
    s.log(answer(), request_hash="h")
    assert secret.encode() not in (tmp_path / "log.db").read_bytes()


def test_one_cache_policy_nth_newest_original_from_other_runs(tmp_path):
    s = run_log.Store(tmp_path / "log.db")
    older, newer, mine = s.new_run("compare"), s.new_run("compare"), s.new_run("compare")
    s.log(answer(text="first"), request_hash="h", run_id=older)
    s.log(answer(text="second"), request_hash="h", run_id=newer)
    s.log(answer(text="second"), request_hash="h", run_id=mine, cell="m|p|0", cache_hit=True)  # a served copy
    s.log(answer(text="own"), request_hash="h", run_id=mine, cell="m|p|1")
    assert s.cached("h").text == "own"  # ask: the newest original, copies never count
    assert [s.cached("h", nth=n, exclude_run=mine).text for n in (0, 1)] == ["second", "first"]
    assert s.cached("h", nth=2, exclude_run=mine) is None  # no third distinct sample
    assert s.cached("other") is None
    with pytest.raises(ValueError):
        s.cached("h", nth=-1)


def test_calls_take_typed_filters_not_sql(tmp_path):
    s = run_log.Store(tmp_path / "log.db")
    run = s.new_run("compare")
    s.log(answer(), request_hash="a", run_id=run, cell="m|p|0")
    s.log(answer(text="", error="x", error_kind="auth"), request_hash="b", run_id=run, cell="m|q|0")
    s.log(answer(text="copy"), request_hash="a", run_id=run, cell="m|q|0", cache_hit=True)
    s.log(answer(text="elsewhere"), request_hash="c")
    assert [r["cell"] for r in s.calls(run, ok=True)] == ["m|p|0", "m|q|0"]
    assert [r["error_kind"] for r in s.calls(run, ok=False)] == ["auth"]
    assert [r["text"] for r in s.calls(run, cache_hit=False)] == ["4", ""]
    assert [r["text"] for r in s.calls(run, cell="m|q|0")] == ["", "copy"]
    assert [a.text for a in s.answers(run, cell="m|q|0", ok=True)] == ["copy"] and len(s.calls()) == 4
    assert s.cell_answer(run, "m|q|0").text == "copy" and s.cell_answer(run, "m|z|0") is None
    assert s.call_counts(run) == (3, 1)
    assert s.calls(run, cell="m|p|0' OR '1'='1") == []  # values are bound, never spliced into SQL


def test_only_the_runlog_package_speaks_sql():
    import ast
    from pathlib import Path

    sql = re.compile(r"\b(SELECT\s.+\sFROM|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM"
                     r"|CREATE (TABLE|INDEX)|PRAGMA)\b")
    package = Path(run_log.__file__).resolve().parents[1]
    found = []
    for path in sorted(package.rglob("*.py")):
        if "runlog" in path.relative_to(package).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                found += [f"{path.name}: imports sqlite3" for n in names if n.split(".")[0] == "sqlite3"]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("execute", "executemany",
                                                                                    "executescript"):
                found.append(f"{path.name}:{node.lineno}: .{node.func.attr}(…)")  # type: ignore[attr-defined]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and sql.search(node.value):
                found.append(f"{path.name}:{node.lineno}: {node.value[:40]!r}")
    assert found == []
