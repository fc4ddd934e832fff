"""Record once, replay in class: a run's rows as a portable JSON Lines file, and back.

    python -m helpers runs export 20251120-101500-ab12 run.jsonl   # on the machine with keys
    python -m helpers runs import run.jsonl                         # on the classroom laptop
    python -m helpers compare --replay 20251120-101500-ab12         # tables and report, no call

The first line describes the run (its config included); each further line is one row of the calls table.
Keys are never in the run log, so they are never in an export.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from helpers.errors import ConfigError
from helpers.runlog import store as run_log

FORMAT = "llmlab-run/1"


def list_runs(store: run_log.Store | None = None, kind: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Newest runs first, each with its number of calls and of failed calls."""
    store = store or run_log.default()
    out = []
    for run in store.runs(kind, limit):
        calls, failed = store.call_counts(run["id"])
        out.append({**run, "calls": calls, "errors": failed})
    return out


def export_run(run_id: str, path: str | Path, store: run_log.Store | None = None) -> int:
    """Write a run and all its calls to a JSON Lines file; returns the number of calls written."""
    store = store or run_log.default()
    run = store.run(run_id)
    if run is None:
        raise ConfigError(f"no run '{run_id}' in the run log {store.path}",
                          hint="List runs with `python -m helpers runs list`.")
    rows = store.calls(run_id)
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            f.write(json.dumps({"type": "run", "format": FORMAT, "run": run, "calls": len(rows)}) + "\n")
            for row in rows:
                row = {k: v for k, v in row.items() if k != "id"}
                f.write(json.dumps({"type": "call", **row}) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}",
                          hint="Give a file path in a folder you can write to (missing folders are made).") from exc
    return len(rows)


TEXT_FIELDS = ("cell", "created_at", "spec", "provider", "model", "model_reported", "request", "request_hash", "text",
               "reasoning", "finish_reason", "cost_note", "error", "error_kind", "extra", "run_id")
INT_FIELDS = ("incomplete", "prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
              "cache_write_tokens", "cache_hit", "offline")
REAL_FIELDS = ("latency_s", "ttft_s", "tpot_s", "cost_usd", "tracker_g", "ecologits_g_min", "ecologits_g_max",
               "ecologits_kwh_min", "ecologits_kwh_max", "measured_g", "measured_kwh")
REQUIRED = ("spec", "provider", "model", "request")
AGAIN = "Export the run again with `python -m helpers runs export RUN_ID FILE` (the file looks edited or damaged)."


def _check_call(path: Path, number: int, call: Any) -> dict[str, Any]:
    """One call record, checked field by field (line ``number`` of the file); ConfigError naming the field."""
    where = f"{path}: line {number}"
    if not isinstance(call, dict):
        raise ConfigError(f"{where} is a JSON {type(call).__name__}, not a call record (an object)", hint=AGAIN)
    unknown = sorted(set(call) - {*TEXT_FIELDS, *INT_FIELDS, *REAL_FIELDS, "type"})
    if unknown:
        raise ConfigError(f"{where}: the call has unknown fields {unknown[:5]}",
                          hint="The file comes from a newer LLM Lab (update this one), or it was edited.")
    missing = [name for name in REQUIRED if call.get(name) in (None, "")]
    if missing:
        raise ConfigError(f"{where}: the call has no {', '.join(missing)}", hint=AGAIN)
    for name, value in call.items():
        if value is None or name == "type":
            continue
        ok = (isinstance(value, str) if name in TEXT_FIELDS
              else isinstance(value, int) and not isinstance(value, bool) if name in INT_FIELDS
              else isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
              if name in REAL_FIELDS else True)
        if not ok:
            kind = "text" if name in TEXT_FIELDS else "a whole number" if name in INT_FIELDS else "a finite number"
            raise ConfigError(f"{where}: {name} is a JSON {type(value).__name__}, not {kind}", hint=AGAIN)
    try:
        request = json.loads(call["request"])
    except ValueError:
        request = None
    if (not isinstance(request, dict) or not isinstance(request.get("messages"), list)
            or not isinstance(request.get("params", {}), dict)):
        raise ConfigError(f"{where}: request is not a JSON object with a messages list", hint=AGAIN)
    for name in ("extra",):
        if call.get(name) is not None:
            try:
                inner = json.loads(call[name])
            except ValueError:
                inner = None
            if not isinstance(inner, dict):
                raise ConfigError(f"{where}: {name} is not a JSON object", hint=AGAIN)
    return call


def _check_run(path: Path, run: Any) -> dict[str, Any]:
    if not isinstance(run, dict):
        raise ConfigError(f"{path}: the run header's 'run' is a JSON {type(run).__name__}, not an object", hint=AGAIN)
    for name in ("id", "kind", "created_at", "label"):
        if run.get(name) is not None and not isinstance(run[name], str):
            raise ConfigError(f"{path}: the run's {name} is a JSON {type(run[name]).__name__}, not text", hint=AGAIN)
    if not isinstance(run.get("config") or {}, dict):
        raise ConfigError(f"{path}: the run's config is a JSON {type(run['config']).__name__}, not an object",
                          hint=AGAIN)
    return run


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}",
                          hint="Give the path of a file made with "
                               "`python -m helpers runs export RUN_ID FILE`.") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except (json.JSONDecodeError, RecursionError) as exc:
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise ConfigError(f"{path}: line {number} is not JSON: {why}",
                              hint="Export the run again with `python -m helpers runs export RUN_ID FILE`.") from exc
    if (not records or not isinstance(records[0], dict) or records[0].get("type") != "run"
            or records[0].get("format") != FORMAT):
        raise ConfigError(f"{path} is not a run exported by LLM Lab (first line: {FORMAT} run header)",
                          hint="Make the file with `python -m helpers runs export RUN_ID FILE`.")
    calls = records[1:]
    bad = [i + 2 for i, r in enumerate(calls) if not isinstance(r, dict) or r.get("type") != "call"]
    if bad:
        raise ConfigError(f"{path}: line {bad[0]} is not a call record",
                          hint="Export the run again with `python -m helpers runs export RUN_ID FILE`.")
    if records[0].get("calls") not in (None, len(calls)):
        raise ConfigError(f"{path} holds {len(calls)} calls but its header says {records[0]['calls']}",
                          hint="The file was cut short; export the run again.")
    calls = [_check_call(path, i + 2, c) for i, c in enumerate(calls)]
    answered = [c["cell"] for c in calls if c.get("cell") is not None and c.get("error") is None]
    twice = sorted(cell for cell, n in Counter(answered).items() if n > 1)
    if twice:
        raise ConfigError(f"{path}: cell '{twice[0]}' holds two answers ({len(twice)} such cell(s))",
                          hint="A run holds one answer per cell. " + AGAIN)
    return _check_run(path, records[0].get("run")), calls


def import_run(path: str | Path, store: run_log.Store | None = None) -> str:
    """Add an exported run to the run log (in one transaction); returns its id.

    The run is marked imported: its answers serve later live requests only when asked (``use_imported``), and
    each row's cache key is computed again from the request it holds (a key in the file is not trusted).
    """
    store = store or run_log.default()
    path = Path(path)
    run, calls = _read(path)
    run_id = str(run.get("id") or "")
    if not run_id:
        raise ConfigError(f"{path}: the run header has no id",
                          hint="Export the run again with `python -m helpers runs export RUN_ID FILE`.")
    if store.run(run_id) is not None:
        raise ConfigError(f"run '{run_id}' is already in the run log {store.path}",
                          hint=f"Replay it with `python -m helpers compare --replay {run_id}`.")
    conn = store.connect()
    columns = [r[1] for r in conn.execute("PRAGMA table_info(calls)") if r[1] != "id"]
    for i, call in enumerate(calls):
        unknown = set(call) - set(columns) - {"type"}
        if unknown:
            raise ConfigError(f"{path}: call {i + 1} has unknown fields {sorted(unknown)}",
                              hint="The file comes from a newer LLM Lab; update this one.")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT INTO runs (id, kind, created_at, label, config, imported) VALUES (?, ?, ?, ?, ?, 1)",
                     (run_log.storable(run_id)[0], run.get("kind") or "imported",
                      run.get("created_at") or run_log.now_iso(), run_log.storable(run.get("label"))[0],
                      json.dumps(run.get("config") or {})))
        for call in calls:
            call = {**{c: call.get(c) for c in columns if c in call}, "run_id": run_id}
            request = json.loads(call["request"])
            call["request_hash"] = run_log.request_hash(call["provider"], call["model"], request.get("messages") or [],
                                                        request.get("params") or {})
            call["created_at"] = call.get("created_at") or run_log.now_iso()
            call = {name: run_log.storable(value)[0] for name, value in call.items()}
            names = ", ".join(call)
            conn.execute(f"INSERT INTO calls ({names}) VALUES ({', '.join('?' for _ in call)})", tuple(call.values()))
        conn.execute("COMMIT")
    except sqlite3.IntegrityError as exc:  # what the checks above did not foresee: nothing is half imported
        conn.execute("ROLLBACK")
        raise ConfigError(f"{path} cannot be imported: {exc}", hint=AGAIN) from exc
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return run_id
