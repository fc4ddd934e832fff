"""Load: 200 concurrent calls against a loopback server that rate-limits (429 beyond N requests in flight).

Every call must complete or fail clearly (a rate-limit error naming the fix), land in the run log exactly
once with its own answer (no cross-talk between concurrent calls), and the SQLite file must pass
``PRAGMA integrity_check`` — through ask_async, the comparison runner, threads, and several processes at once.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from helpers import llm
from helpers.compare import runner
from helpers.compare.puzzles import Puzzle
from helpers.runlog import store as run_log
from tests.fakes.openai_server import FakeOpenAI

pytestmark = pytest.mark.slow  # each test takes a few seconds (retries back off ~0.5-2 s)
ROOT = Path(__file__).resolve().parent.parent
N = 200


@pytest.fixture
def limited(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:  # type: ignore[no-untyped-def]
    """A server that answers at most 16 requests at once (429 with Retry-After: 0 beyond), 200 ms each."""
    server = fake_openai_factory(rate_limit=16, latency=0.2)
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "fake-openai-key-0123456789")
    return server


def check_answers(answers: list[Any], prompts: list[str]) -> Counter[str]:
    """Each answer is its own prompt's echo, or a clear rate-limit error; returns the outcome counts."""
    outcomes: Counter[str] = Counter()
    for answer, prompt in zip(answers, prompts, strict=True):
        if answer.ok:
            assert answer.text == f"Echo: {prompt}"
        else:
            assert answer.error_kind == "rate_limit", answer.error
            assert ("rate-limited the request (429) after retries" in answer.error
                    and "lower --concurrency" in answer.error)
        outcomes["ok" if answer.ok else "rate_limit"] += 1
    return outcomes


def check_log(store: run_log.Store, answers: list[Any], prompts: list[str]) -> None:
    """One row per call, holding that call's own prompt and answer; the file is consistent."""
    rows = {r["id"]: r for r in store.calls()}
    assert len(rows) == len(answers) and sorted(rows) == sorted(a.call_id for a in answers)
    for answer, prompt in zip(answers, prompts, strict=True):
        row = rows[answer.call_id]
        assert json.loads(row["request"])["messages"][-1]["content"] == prompt
        assert row["text"] == answer.text and row["error_kind"] == answer.error_kind
    assert store.integrity_ok()


def test_200_concurrent_ask_async(limited: FakeOpenAI) -> None:
    prompts = [f"question {i}" for i in range(N)]

    async def fan_out() -> list[Any]:
        return await asyncio.gather(*(llm.ask_async("openai/gpt-4.1-mini", p, use_cache=False, max_retries=3)
                                      for p in prompts))

    answers = asyncio.run(fan_out())
    outcomes = check_answers(answers, prompts)
    assert outcomes["ok"] > 16, outcomes  # retries after a 429 got more through than the server's limit
    assert limited.count() > N and limited.max_inflight <= 16  # the server did refuse some requests
    check_log(run_log.default(), answers, prompts)


def test_200_cells_through_compare(limited: FakeOpenAI) -> None:
    models = ["openai/gpt-4.1-mini", "openai/gpt-4o-mini", "openai/gpt-5-nano", "openai/gpt-5-mini"]
    puzzles = [Puzzle(id=f"p{i}", prompt=f"Puzzle number {i}?", grader="none") for i in range(10)]
    result = runner.compare(models, puzzles, repeat=5, concurrency=64, per_provider=64, use_cache=False,
                             max_retries=1, progress=False, out=io.StringIO())
    cells = result.cells
    assert len(cells) == N and set(cells.status) <= {"ok", "error"} and (cells.status == "ok").any()
    failed = cells[cells.status == "error"]
    assert set(failed.error_kind) <= {"rate_limit"} and all("lower --concurrency" in e for e in failed.error)
    assert result.outcome.sent == N and result.outcome.errors == len(failed)
    store = run_log.default()
    rows = store.calls(result.run_id)
    per_cell = Counter(r["cell"] for r in rows)
    assert len(per_cell) == N and set(per_cell.values()) == {1}  # one row per cell, none twice
    for row in rows:
        puzzle = row["cell"].split("|")[1]
        assert row["error"] is not None or row["text"] == f"Echo: Puzzle number {puzzle[1:]}?"
    assert store.integrity_ok()
    assert limited.count() > N and limited.max_inflight <= 16  # some calls were refused, then retried


def test_200_calls_from_threads(limited: FakeOpenAI) -> None:
    prompts = [f"thread question {i}" for i in range(N)]
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda p: llm.ask("openai/gpt-4.1-mini", p, use_cache=False, max_retries=6),
                                prompts))
    check_answers(answers, prompts)
    assert limited.count() > N and limited.max_inflight <= 16
    check_log(run_log.default(), answers, prompts)


WRITER = """
import sys
from helpers import llm
n, tag = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    a = llm.ask("openai/gpt-4.1-mini", f"{tag} {i}", use_cache=False, max_retries=6)
    assert a.ok or a.error_kind == "rate_limit", a.error
print("done")
"""


def test_four_processes_write_one_run_log(limited: FakeOpenAI) -> None:
    """Several processes (notebook kernels, CLI runs) share the run log: every row lands, none twice."""
    limited.latency = 0.0
    env = dict(os.environ)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(N // 4), f"proc{k}"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 and out == "done\n" for p, (out, _) in zip(procs, outs, strict=True)), outs
    store = run_log.default()
    rows = store.calls()
    prompts = Counter(json.loads(r["request"])["messages"][-1]["content"] for r in rows)
    assert len(rows) == N and set(prompts.values()) == {1}
    assert set(prompts) == {f"proc{k} {i}" for k in range(4) for i in range(N // 4)}
    assert len({r["run_id"] for r in rows}) == 4  # each process its own session run
    assert store.integrity_ok()


OPENER = """
import sys, time
from helpers.runlog import store
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
store.Store(sys.argv[1]).connect()
print("open")
"""


def test_a_fresh_run_log_opened_by_many_at_once(tmp_path: Path) -> None:
    """The first opening of a run log switches it to WAL, which SQLite refuses at once ("database is locked",
    no waiting) while another process opens it too: 3 of 15 rounds of six processes failed before the retry."""
    for round_ in range(3):
        path = tmp_path / f"fresh{round_}.db"
        start = time.time() + 1.0  # the processes start their imports now and open the file together
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(start)], cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        outs = [p.communicate(timeout=60) for p in procs]
        assert [out for out, _ in outs] == ["open\n"] * 6, [err[-300:] for _, err in outs]
        shared = run_log.Store(path)  # and threads of one process, all opening their first connection at once
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(lambda store: store.connect().execute("SELECT count(*) FROM calls").fetchone(),
                          [shared] * 16))
        assert shared.integrity_ok() and shared.connect().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
