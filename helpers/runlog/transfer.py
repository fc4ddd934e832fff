"""Record once, replay in class: a run's rows as a portable JSON Lines file, and back.

    python -m helpers runs export 20251120-101500-ab12 run.jsonl   # on the machine with keys
    python -m helpers runs import run.jsonl                         # on the classroom laptop
    python -m helpers compare --replay 20251120-101500-ab12         # tables and report, no call

The first line describes the run (its config included); each further line is one row of the calls table.
Keys are never in the run log, so they are never in an export.
"""

from __future__ import annotations

import json
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


def _read(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}",
                          hint="Give the path of a file made with `python -m helpers runs export RUN_ID FILE`.") from exc
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {number} is not JSON: {exc.msg}",
                              hint="Export the run again with `python -m helpers runs export RUN_ID FILE`.") from exc
    if not records or records[0].get("type") != "run" or records[0].get("format") != FORMAT:
        raise ConfigError(f"{path} is not a run exported by LLM Lab (first line: {FORMAT} run header)",
                          hint="Make the file with `python -m helpers runs export RUN_ID FILE`.")
    calls = records[1:]
    bad = [i + 2 for i, r in enumerate(calls) if r.get("type") != "call"]
    if bad:
        raise ConfigError(f"{path}: line {bad[0]} is not a call record",
                          hint="Export the run again with `python -m helpers runs export RUN_ID FILE`.")
    if records[0].get("calls") not in (None, len(calls)):
        raise ConfigError(f"{path} holds {len(calls)} calls but its header says {records[0]['calls']}",
                          hint="The file was cut short; export the run again.")
    return records[0]["run"], calls


def import_run(path: str | Path, store: run_log.Store | None = None) -> str:
    """Add an exported run to the run log (in one transaction); returns its id."""
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
        conn.execute("INSERT INTO runs (id, kind, created_at, label, config) VALUES (?, ?, ?, ?, ?)",
                     (run_id, run.get("kind") or "imported", run.get("created_at") or run_log.now_iso(),
                      run.get("label"), json.dumps(run.get("config") or {})))
        for call in calls:
            call = {**{c: call.get(c) for c in columns if c in call}, "run_id": run_id}
            names = ", ".join(call)
            conn.execute(f"INSERT INTO calls ({names}) VALUES ({', '.join('?' for _ in call)})", tuple(call.values()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return run_id
