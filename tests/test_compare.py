"""The comparison runner against loopback servers: mixed failures, limits, cache, repeats, budgets, judge,
report contents, and resume after the process is killed."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers.compare import config as grid
from helpers.compare import report, runner
from helpers.errors import ConfigError
from helpers.runlog import store as run_log
from tests.fakes.openai_server import FakeOpenAI, Fault

PROJECT = Path(__file__).resolve().parent.parent
PUZZLES = """\
- id: coins
  prompt: Two coins are tossed and at least one shows heads. Probability the other is tails?
  answer: 2/3
  grader: numeric
- id: worm
  system: Be brief.
  prompt: How far does the bookworm travel through the two volumes?
  answer: 4 mm
  grader: numeric
- id: dilemma
  prompt: Steal or Share?
  choices: [Steal, Share]
  grader: choice
"""
GOOD = {"coins": "Three cases remain, two have a tail.\nAnswer: 2/3", "worm": "Only the covers.\nAnswer: 0.4 cm",
        "Steal": "Answer: Share"}
NAIVE = {"coins": "Each coin is independent, so the answer is 1/2.", "worm": "Answer: 4.4 cm",
         "Steal": "I pick Steal."}
KEYS = {"openai": "OPENAI_API_KEY", "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY",
        "grok": "GROK_API_KEY", "openrouter": "OPENROUTER_API_KEY"}


def replying(table: dict[str, str]) -> Callable[[dict[str, Any]], str]:
    """A fake's reply function: the text for the first keyword found in the last user message."""
    def reply(body: dict[str, Any]) -> str:
        question = body["messages"][-1]["content"]
        return next((text for word, text in table.items() if word in question), "Answer: 42")
    return reply


@pytest.fixture
def puzzle_file(tmp_path: Path) -> Path:
    path = tmp_path / "hand-written.yaml"
    path.write_text(PUZZLES)
    return path


@pytest.fixture
def serve(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeOpenAI]:  # type: ignore[no-untyped-def]
    """serve(provider, table, **fake options): a FakeOpenAI behind <PROVIDER>_BASE_URL with a fake key."""
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")

    def make(provider: str, table: dict[str, str] = GOOD, **kwargs: Any) -> FakeOpenAI:
        server = fake_openai_factory(reply=replying(table), **kwargs)
        monkeypatch.setenv(f"{provider.upper()}_BASE_URL", server.base_url)
        monkeypatch.setenv(KEYS[provider], f"fake-{provider}-key-0123456789")
        return server
    return make


def run(models: list[str], puzzles: Any, **options: Any) -> Any:
    out = io.StringIO()
    result = runner.compare(models, str(puzzles), progress=False, out=out, **options)
    result.printed = out.getvalue()
    return result


def test_five_providers_some_failing_one_row_per_cell(serve, puzzle_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good, naive = serve("openai"), serve("groq", NAIVE)
    down = serve("deepseek", default="status:503")
    refused = serve("grok", default="status:401")
    broken = serve("openrouter")
    broken.on_model("meta-llama/llama-3.3-70b-instruct", "malformed").on_model("openai/gpt-4.1-mini", "empty_content")
    models = ["openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b", "deepseek/deepseek-chat", "grok/grok-4",
              "openrouter/meta-llama/llama-3.3-70b-instruct", "openrouter/openai/gpt-4.1-mini"]
    result = run(models, puzzle_file, max_tokens=200)
    assert result.printed.splitlines()[0] == f"run id: {result.run_id}"

    cells = result.cells
    assert len(cells) == 18 and set(cells.status) == {"ok", "error"}
    by_model = cells.groupby("model").status.apply(set).to_dict()
    assert by_model == {models[0]: {"ok"}, models[1]: {"ok"}, models[2]: {"error"}, models[3]: {"error"},
                        models[4]: {"error"}, models[5]: {"error"}}
    kinds = cells[cells.status == "error"].groupby("model").error_kind.apply(set).to_dict()
    assert kinds == {models[2]: {"provider"}, models[3]: {"auth"}, models[4]: {"malformed"}, models[5]: {"empty"}}
    graded = cells.set_index(["model", "puzzle"])
    assert graded.loc[(models[0], "coins"), "correct"] and graded.loc[(models[0], "worm"), "extracted"] == "0.4 cm"
    assert not graded.loc[(models[1], "coins"), "correct"] and graded.loc[(models[1], "coins"), "extracted"] == "1/2"
    assert graded.loc[(models[1], "dilemma"), "extracted"] == "Steal"
    # what the servers saw: each prompt once per model, the system prompt first, max_tokens passed through
    assert (good.count(), naive.count(), down.count(), refused.count(), broken.count()) == (3, 3, 3, 3, 6)
    worm = next(b for b in good.bodies() if "bookworm" in b["messages"][-1]["content"])
    assert worm["messages"][0] == {"role": "system", "content": "Be brief."} and worm["max_completion_tokens"] == 200
    # the run log holds one row per cell; the summary counts them
    rows = run_log.default().calls(result.run_id)
    assert sorted(r["cell"] for r in rows) == sorted(cells.model + "|" + cells.puzzle + "|0")
    summary = result.summary().set_index("model")
    assert summary.loc[models[0], "accuracy"] == 1.0 and summary.loc[models[1], "accuracy"] == 0.0
    assert summary.loc[models[3], "errors"] == 3 and summary.loc[models[3], "answered"] == 0
    path = report.write(result, tmp_path / "report")
    csv_rows = report.csv_rows(path.parent / "cells.csv")
    assert len(csv_rows) == 18 and {(r["model"], r["puzzle"]) for r in csv_rows} == set(zip(cells.model, cells.puzzle))
    assert all(r["error"] for r in csv_rows if r["status"] == "error")


def test_limits_global_and_per_provider(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    a = serve("openai", latency=0.15)
    b = serve("groq", latency=0.15)
    result = run(["openai/gpt-4.1-mini", "openai/gpt-4o-mini", "openai/gpt-5-nano", "groq/openai/gpt-oss-20b",
                  "groq/openai/gpt-oss-120b"], puzzle_file, repeat=2, concurrency=3, per_provider=2, use_cache=False)
    assert (result.cells.status == "ok").all() and a.count() == 18 and b.count() == 12
    assert a.max_inflight == 2 and b.max_inflight <= 2 and a.max_inflight + b.max_inflight >= 3


def test_cache_repeats_and_no_cache(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    seen = iter(range(1000))
    server.reply = lambda body: f"Attempt {next(seen)}.\nAnswer: 2/3"
    first = run(["openai/gpt-4.1-mini"], puzzle_file, repeat=3)
    assert server.count() == 9 and first.outcome.sent == 9
    texts = set(first.cells.answer)
    assert len(texts) == 9  # repeats are distinct samples, not cache hits of each other
    again = run(["openai/gpt-4.1-mini"], puzzle_file, repeat=3)
    assert server.count() == 9 and again.outcome.cached == 9 and set(again.cells.answer) == texts
    assert again.cells.cached.all() and again.run_id != first.run_id
    fresh = run(["openai/gpt-4.1-mini"], puzzle_file, repeat=3, use_cache=False)
    assert server.count() == 18 and not fresh.cells.cached.any() and not set(fresh.cells.answer) & texts
    reuse = run(["openai/gpt-4.1-mini"], puzzle_file, repeat=3)  # the newest answers serve the next run
    assert server.count() == 18 and set(reuse.cells.answer) == set(fresh.cells.answer)


def test_majority_and_agreement(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    answers = iter(["Answer: 2/3", "Answer: 66.7%", "Answer: 1/2"])
    server.reply = lambda body: next(answers) if "coins" in body["messages"][-1]["content"] else "Answer: 4 mm"
    result = run(["openai/gpt-4.1-mini"], puzzle_file, repeat=3, concurrency=1)
    majority = result.majority().set_index("puzzle")
    assert majority.loc["coins", "agreement"] == pytest.approx(2 / 3) and majority.loc["coins", "correct"]
    assert majority.loc["coins", "majority"] == "2/3"
    assert majority.loc["worm", "agreement"] == 1.0
    assert "67%" in result.table()  # the agreement column appears with repeats


def test_parameter_variants_side_by_side_and_streaming(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    result = run(["openai/gpt-5-nano@reasoning_effort=minimal", "openai/gpt-5-nano@reasoning_effort=low"],
                 puzzle_file, stream=True)
    assert list(result.config.models) == ["openai/gpt-5-nano@reasoning_effort=minimal",
                                          "openai/gpt-5-nano@reasoning_effort=low"]
    efforts = sorted(b["reasoning_effort"] for b in server.bodies())
    assert efforts == ["low"] * 3 + ["minimal"] * 3 and all(b["stream"] for b in server.bodies())
    assert result.cells.ttft_s.notna().all() and (result.cells.status == "ok").all()


def test_budget_stops_the_run_and_resume_finishes_it(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    models = ["openai/gpt-4.1-mini", "openai/gpt-4o-mini"]
    result = run(models, puzzle_file, repeat=2, concurrency=1, max_tokens=100, max_usd=0.0002)
    done = result.cells[result.cells.status == "ok"]
    assert result.stopped and "--max-usd 0.0002 reached" in result.stopped and "resume" in result.stopped
    assert "stopped: --max-usd" in result.printed
    assert 0 < len(done) < 12 and server.count() == len(done)
    assert set(result.cells.status) == {"ok", "not run"} and done.cost_usd.sum() <= 0.0002
    finished = runner.resume(result.run_id, progress=False, out=io.StringIO(), max_usd=1.0)
    assert (finished.cells.status == "ok").all() and server.count() == 12 and not finished.stopped


def test_gco2e_budget_and_unknown_price(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    result = run(["openai/gpt-4.1-mini"], puzzle_file, max_tokens=50, max_gco2e=1e-9)
    assert result.stopped and "--max-gco2e" in result.stopped and server.count() == 0
    runs = len(run_log.default().runs())
    with pytest.raises(ConfigError, match="no price is known for openai/not-a-priced-model"):
        run(["openai/not-a-priced-model"], puzzle_file, max_usd=1)
    assert len(run_log.default().runs()) == runs  # refused before a run was recorded


def test_unknown_cost_is_na_never_zero(serve, puzzle_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serve("openai")
    result = run(["openai/not-a-priced-model", "openai/gpt-4.1-mini"], puzzle_file)
    summary = result.summary().set_index("model")
    assert summary.isna().loc["openai/not-a-priced-model", "cost_usd"]
    assert summary.loc["openai/gpt-4.1-mini", "cost_usd"] > 0
    table = result.table()
    line = next(x for x in table.splitlines() if x.startswith("openai/not-a-priced-model"))
    assert "n/a" in line and "$0.000000" not in line
    md = (report.write(result, tmp_path / "r")).read_text()
    assert "| openai/not-a-priced-model | 100% | 2/2 | 0 | 21 | n/a | n/a |" in md


def test_report_contents(serve, puzzle_file: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serve("openai")
    serve("grok", default="status:401")
    result = run(["openai/gpt-4.1-mini", "grok/grok-4"], puzzle_file, repeat=2)
    path = report.write(result, tmp_path / "rep")
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["accuracy_vs_co2e.png", "accuracy_vs_cost.png", "cells.csv", "latency.png", "pairs.csv",
                     "report.html", "report.md", "summary.csv"]
    assert all((path.parent / f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for f in files if f.endswith(".png"))
    md = path.read_text()
    assert f"# Comparison {result.run_id}" in md and f"compare --replay {result.run_id}" in md
    assert "![accuracy vs cost](accuracy_vs_cost.png)" in md and "## Errors" in md
    assert md.count("| coins | grok/grok-4 | ⚠ auth |") == 1  # side by side: one row for both repeats
    assert md.count("| grok/grok-4 | coins |") == 2  # the errors section: one row per failed cell
    assert "refused the key in GROK_API_KEY" in md and "fake-grok-key" not in md
    rows = report.csv_rows(path.parent / "cells.csv")
    assert len(rows) == 12 and [r["status"] for r in rows].count("error") == 6
    ok = [r for r in rows if r["model"] == "openai/gpt-4.1-mini"]
    assert all(r["correct"] in ("True", "") and float(r["cost_usd"]) > 0 for r in ok)
    assert {r["cost_usd"] for r in rows if r["status"] == "error"} == {"n/a"}


def test_judge_grades_and_its_cost_counts(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    serve("openai", {"sky": "Because of Rayleigh scattering."})
    judge = serve("groq", {"Rayleigh": "It names the scattering.\nVERDICT: CORRECT"})
    f = tmp_path / "judged.yaml"
    f.write_text("- id: sky\n  prompt: Why is the sky blue?\n  grader: judge\n  rubric: Names Rayleigh scattering\n")
    with pytest.raises(ConfigError, match="no judge model"):
        run(["openai/gpt-4.1-mini"], f)
    result = run(["openai/gpt-4.1-mini"], f, judge="groq/openai/gpt-oss-20b")
    cell = result.cells.iloc[0]
    assert bool(cell.correct) and cell.note == "judged" and cell.judge_cost_usd > 0
    assert judge.count() == 1 and "Rayleigh scattering" in judge.bodies()[0]["messages"][-1]["content"]
    total = result.summary().iloc[0].cost_usd
    assert total == pytest.approx(cell.cost_usd + cell.judge_cost_usd)


def test_bad_input_fails_before_any_call(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    with pytest.raises(ConfigError, match="named twice"):
        run(["openai/gpt-4.1-mini", "openai/gpt-4.1-mini"], puzzle_file)
    with pytest.raises(ConfigError, match="temperature"):
        run(["openai/gpt-4.1-mini"], puzzle_file, temperature=9)
    with pytest.raises(ConfigError, match="repeat"):
        run(["openai/gpt-4.1-mini"], puzzle_file, repeat=0)
    with pytest.raises(ConfigError, match="no run 'nope'"):
        runner.resume("nope", progress=False)
    assert server.count() == 0


def test_default_models(monkeypatch: pytest.MonkeyPatch) -> None:
    assert grid.default_models() == ["local/smollm2"]
    monkeypatch.setenv("GROQ_API_KEY", "fake-groq-key-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "fake-openai-key-0123456789")
    assert grid.default_models() == ["openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b"]


@pytest.mark.slow
def test_resume_after_the_process_is_killed(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai", latency=0.4)
    models = ["openai/gpt-4.1-mini", "openai/gpt-4o-mini", "openai/gpt-5-nano", "openai/gpt-5-mini"]
    argv = [sys.executable, "-m", "helpers", "compare", "--puzzles", str(puzzle_file), "--no-progress",
            "--concurrency", "2", *[x for m in models for x in ("-m", m)]]
    proc = subprocess.Popen(argv, cwd=PROJECT, env=dict(os.environ), stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("run id: ")
        run_id = first.split()[-1]
        db = run_log.default().path
        deadline = time.monotonic() + 60
        while _answered(db, run_id) < 3:
            assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()  # type: ignore[union-attr]
    store = run_log.default()
    before = {r["cell"]: r["id"] for r in store.calls(run_id, ok=True)}
    assert 3 <= len(before) < 12
    sent_before = _settled_count(server)  # requests the killed process had on the wire may still land
    result = runner.resume(run_id, progress=False, out=io.StringIO())
    after = store.calls(run_id, ok=True)
    cells = [r["cell"] for r in after]
    assert len(cells) == len(set(cells)) == 12 and (result.cells.status == "ok").all()
    assert all(any(r["id"] == call_id and r["cell"] == cell for r in after) for cell, call_id in before.items())
    assert server.count() - sent_before == 12 - len(before)
    assert not {b["messages"][-1]["content"] for b in server.bodies()[sent_before:]} - {
        p.prompt for p in result.config.puzzles.puzzles}


def _settled_count(server, quiet_s: float = 0.5, limit_s: float = 10) -> int:  # type: ignore[no-untyped-def]
    """The server's request count once no new request has arrived for ``quiet_s`` seconds."""
    count, since, deadline = server.count(), time.monotonic(), time.monotonic() + limit_s
    while time.monotonic() - since < quiet_s and time.monotonic() < deadline:
        time.sleep(0.05)
        if server.count() != count:
            count, since = server.count(), time.monotonic()
    return count


def _answered(db: Path, run_id: str) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM calls WHERE run_id=? AND error IS NULL", (run_id,)).fetchone()[0]
    except sqlite3.OperationalError:  # the database or its tables do not exist yet
        return 0


def test_fault_scripts_are_per_model(serve, puzzle_file: Path) -> None:  # type: ignore[no-untyped-def]
    server = serve("openai")
    server.on_model("gpt-5-nano", Fault.status(500))
    result = run(["openai/gpt-4.1-mini", "openai/gpt-5-nano"], puzzle_file)
    status = result.cells.groupby("model").status.apply(set).to_dict()
    assert status == {"openai/gpt-4.1-mini": {"ok"}, "openai/gpt-5-nano": {"error"}}
    assert "HTTP 500" in result.cells[result.cells.status == "error"].error.iloc[0]
