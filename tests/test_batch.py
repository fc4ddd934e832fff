"""compare(..., batch=True) / --batch and --resume against a loopback OpenAI Batch API (tests/fakes/openai_batch),
for OpenAI and for Groq (the same API under /openai/v1): submit → partial → complete → graded table; per-line
errors; expiry and cancellation fall back to live calls."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import openai
import pytest

from helpers.compare import batch as batches
from helpers.compare import puzzles as puzzle_sets
from helpers.compare.runner import compare, resume
from helpers.estimates import cost
from helpers.providers.local_engine import free_port
from helpers.runlog import store as run_log
from tests.fakes.openai_batch import FakeBatchOpenAI
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAI

RIGHT = {"sum-1-to-10": "55", "sqrt-81": "9", "shirts-discount": "$90", "quadratic": "3"}  # quadratic: wrong
PUZZLES = [p for p in puzzle_sets.load("known_answers") if p.id in RIGHT]
OPENAI = "openai/gpt-4.1-mini"
LIVE = "deepseek/deepseek-chat"  # a provider without a batch API: asked live in the same run
GROQ = "groq/openai/gpt-oss-20b"  # genai-prices knows its batch price
GROQ_LLAMA = "groq/llama-3.3-70b-versatile"  # genai-prices has no batch price: Groq's documented 50%


def reply(body: dict) -> str:
    prompt = body["messages"][-1]["content"]
    puzzle = next(p for p in PUZZLES if p.prompt == prompt)
    return f"Working it out.\nAnswer: {RIGHT[puzzle.id]}"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchOpenAI]:
    with FakeBatchOpenAI(reply=reply, fail={"c1"}) as server:
        server.stand_in(monkeypatch, "openai", "sk-test-batch-0000000001")
        yield server


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=(*DEFAULT_MODELS, "deepseek-chat")) as server:
        monkeypatch.setenv("DEEPSEEK_BASE_URL", server.base_url)
        monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-deepseek-0001")
        yield server


@pytest.fixture
def groq(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchOpenAI]:
    with FakeBatchOpenAI(reply=reply, fail={"c1"}, prefix="/openai/v1", model_suffix="") as server:
        server.stand_in(monkeypatch, "groq", "gsk_" + "test_batch_0000000001")
        yield server


def run_id_of(text: str) -> str:
    return re.search(r"run id: (\S+)", text).group(1)


def openai_rows(run_id: str) -> list[dict]:
    return [r for r in run_log.default().calls(run_id) if r["spec"] == OPENAI]


def test_submit_partial_complete_graded(provider: FakeBatchOpenAI, live: FakeOpenAI) -> None:
    out = io.StringIO()
    first = compare([OPENAI, LIVE], PUZZLES, batch=True, progress=False, out=out, use_cache=False)
    run_id = first.run_id
    # one batch with the four OpenAI cells, recorded in the run log at once
    assert ("POST", "/v1/files") in provider.requests and ("POST", "/v1/batches") in provider.requests
    (record,) = batches.records(run_id, run_log.default())
    batch_id = record["batch_id"]
    assert batch_id in out.getvalue() and f"--resume {run_id}" in out.getvalue()
    assert sorted(record["cells"].values()) == sorted(f"{OPENAI}|{p.id}|0" for p in PUZZLES)
    uploaded = next(f for f in provider.files.values() if f["purpose"] == "batch")
    lines = [json.loads(x) for x in uploaded["data"].decode().splitlines()]
    assert {line["url"] for line in lines} == {"/v1/chat/completions"}
    assert {line["body"]["model"] for line in lines} == {"gpt-4.1-mini"}
    assert {line["body"]["messages"][-1]["content"] for line in lines} == {p.prompt for p in PUZZLES}
    assert "stream" not in lines[0]["body"]
    # the live provider answered its cells in the same run; the batch cells are not answered yet
    assert len(live.bodies()) == len(PUZZLES)
    assert first.cells[first.cells.model == OPENAI].status.tolist() == ["not run"] * len(PUZZLES)

    for expected in ("in_progress", "finalizing"):  # each resume retrieves the batch once: it is still running
        out = io.StringIO()
        partial = resume(run_id, progress=False, out=out)
        assert f"batch {batch_id}: {expected}" in out.getvalue()
        assert openai_rows(run_id) == []
        assert partial.cells[partial.cells.model == OPENAI].status.tolist() == ["not run"] * len(PUZZLES)
    assert len(live.bodies()) == len(PUZZLES)  # nothing asked again

    done = resume(run_id, progress=False, out=io.StringIO())  # completed: results read, mapped, graded
    rows = openai_rows(run_id)
    assert len(rows) == len(PUZZLES)
    failed = [r for r in rows if r["error"]]
    assert len(failed) == 1 and record["cells"]["c1"] == failed[0]["cell"]
    assert "max_tokens" in failed[0]["error"] and failed[0]["error_kind"] == "bad_request"
    cells = done.cells[done.cells.model == OPENAI].set_index("puzzle")
    failed_puzzle = record["cells"]["c1"].split("|")[1]
    assert cells.loc[failed_puzzle, "status"] == "error"
    for p in PUZZLES:
        if p.id != failed_puzzle:
            assert bool(cells.loc[p.id, "correct"]) == (p.id != "quadratic"), p.id
    ok = next(r for r in rows if not r["error"])
    answer = run_log.answer_from_row(ok)
    full, _ = cost.price(answer)
    assert ok["cost_usd"] == pytest.approx(full / 2)  # genai-prices' batch price for gpt-4.1-mini: half
    assert "batch price" in ok["cost_note"]
    assert ok["latency_s"] is None and answer.extra["batch"] == batch_id
    # the failed line is an error row, not sent live in the same resume
    assert ("POST", "/v1/chat/completions") not in provider.requests
    table = done.table()
    assert OPENAI in table and LIVE in table


def test_expired_batch_reports_and_asks_the_rest_live(monkeypatch: pytest.MonkeyPatch, live: FakeOpenAI) -> None:
    with FakeBatchOpenAI(reply=reply, expire_at_step=2, done_before_end=1) as server:
        server.stand_in(monkeypatch, "openai", "sk-test-batch-0000000001")
        run_id = compare([OPENAI], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
        resume(run_id, progress=False, out=io.StringIO())  # in_progress
        out = io.StringIO()
        result = resume(run_id, progress=False, out=out)  # expired: one done in the batch, three asked live
        assert re.search(r"batch \S+ expired: 3 cells had no answer and are asked live", out.getvalue())
        live_calls = [r for r in server.requests if r == ("POST", "/v1/chat/completions")]
        assert len(live_calls) == 3
        rows = openai_rows(run_id)
        assert len(rows) == 4 and not any(r["error"] for r in rows)
        assert sum("batch" in json.loads(r["extra"] or "{}") for r in rows) == 1
        assert result.cells.status.tolist() == ["ok"] * 4


def test_cancelled_batch_cells_go_live(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBatchOpenAI(reply=reply, done_before_end=0) as server:
        server.stand_in(monkeypatch, "openai", "sk-test-batch-0000000001")
        run_id = compare([OPENAI], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
        (record,) = batches.records(run_id, run_log.default())
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test-batch-0000000001")
        assert client.batches.cancel(record["batch_id"]).status == "cancelling"
        out = io.StringIO()
        result = resume(run_id, progress=False, out=out)
        assert "cancelled: 4 cells had no answer and are asked live" in out.getvalue()
        assert result.cells.status.tolist() == ["ok"] * 4


def test_cli_batch_flag(provider: FakeBatchOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers import cli

    code = cli.main(["compare", "--batch", "-m", OPENAI, "--puzzles", "known_answers", "--no-progress"])
    printed = capsys.readouterr().out
    assert "cells of openai submitted" in printed
    assert batches.records(run_id_of(printed), run_log.default())
    assert code == 0
    assert cli.main(["compare", "--batch", "-m", LIVE, "--no-progress"]) != 0
    assert "--batch needs a model of a provider with a batch API" in capsys.readouterr().err


def test_budget_is_checked_before_submitting(provider: FakeBatchOpenAI) -> None:
    out = io.StringIO()
    compare([OPENAI], PUZZLES, batch=True, progress=False, out=out, use_cache=False, max_usd=0.0000001)
    assert "stopped:" in out.getvalue() and "nothing of this batch was sent" in out.getvalue()
    assert ("POST", "/v1/batches") not in provider.requests


def test_a_batch_that_cannot_be_checked_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    with FakeBatchOpenAI(reply=reply) as server:
        server.stand_in(monkeypatch, "openai", "sk-test-batch-0000000001")
        run_id = compare([OPENAI], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # nobody answers there now
    out = io.StringIO()
    result = resume(run_id, progress=False, out=out)
    assert "could not be checked" in out.getvalue() and "its 4 cells wait" in out.getvalue()
    assert "cannot reach" in out.getvalue()
    assert result.cells.status.tolist() == ["not run"] * 4 and openai_rows(run_id) == []


def test_a_waiting_batch_holds_its_share_of_the_run_budget(provider: FakeBatchOpenAI, live: FakeOpenAI) -> None:
    from helpers.estimates.budget import worst_case

    def worst(spec: str, puzzle) -> float:
        model = spec.split("/", 1)[1]
        return worst_case(spec.split("/")[0], model, [{"role": "user", "content": puzzle.prompt}], 200)[0]

    batch_share = sum(worst(OPENAI, p) for p in PUZZLES)
    one_live = worst(LIVE, PUZZLES[0])
    assert batch_share > 0 and one_live > 0
    out = io.StringIO()
    result = compare([OPENAI, LIVE], PUZZLES, batch=True, progress=False, out=out, use_cache=False,
                     max_tokens=200, max_usd=batch_share + one_live * 1.5)
    assert "cells of openai submitted" in out.getvalue()
    assert "--max-usd" in out.getvalue() and "stopped:" in out.getvalue()
    assert len(live.bodies()) == 1  # the batch's reserved share left room for one live call only
    assert result.stopped


def test_batch_providers_come_from_the_catalog() -> None:
    from helpers import catalog

    assert set(batches.providers()) == {"openai", "groq", "anthropic", "google"}
    assert {catalog.provider(p).batch for p in ("openai", "groq")} == {"openai"}
    assert {catalog.provider(p).batch_discount for p in batches.providers()} == {0.5}
    assert batches.batchable(GROQ) and batches.batchable(OPENAI) and not batches.batchable(LIVE)


def test_groq_round_trip_one_batch_per_model(groq: FakeBatchOpenAI, live: FakeOpenAI) -> None:
    out = io.StringIO()
    first = compare([GROQ, GROQ_LLAMA, LIVE], PUZZLES, batch=True, progress=False, out=out, use_cache=False)
    run_id = first.run_id
    assert groq.requests.count(("POST", "/openai/v1/files")) == 2  # Groq's paths, one upload per model
    assert groq.requests.count(("POST", "/openai/v1/batches")) == 2
    records = batches.records(run_id, run_log.default())
    assert sorted(r["spec"] for r in records) == sorted([GROQ, GROQ_LLAMA])
    assert all(r["provider"] == "groq" for r in records)
    assert out.getvalue().count("cells of groq submitted") == 2
    uploads = [f for f in groq.files.values() if f["purpose"] == "batch"]
    for upload in uploads:
        lines = [json.loads(x) for x in upload["data"].decode().splitlines()]
        assert len({line["body"]["model"] for line in lines}) == 1  # one model per batch file
        assert {line["url"] for line in lines} == {"/v1/chat/completions"}
        assert {line["body"]["messages"][-1]["content"] for line in lines} == {p.prompt for p in PUZZLES}
    created = [b for b in groq.batches.values()]
    assert {b["endpoint"] for b in created} == {"/v1/chat/completions"}
    assert {b["completion_window"] for b in created} == {"24h"}
    assert len(live.bodies()) == len(PUZZLES)  # DeepSeek (no batch API) answered live in the same run

    def groq_rows() -> list[dict]:
        return [r for r in run_log.default().calls(run_id) if r["provider"] == "groq"]

    out = io.StringIO()
    partial = resume(run_id, progress=False, out=out)  # in_progress: nothing logged yet
    assert out.getvalue().count(": in_progress (0 of 4 done); its 4 cells wait") == 2
    assert groq_rows() == []
    assert set(partial.cells[partial.cells.model != LIVE].status) == {"not run"}
    resume(run_id, progress=False, out=io.StringIO())  # finalizing
    assert groq_rows() == []

    done = resume(run_id, progress=False, out=io.StringIO())  # completed: read, mapped by custom id, graded
    rows = groq_rows()
    assert len(rows) == 2 * len(PUZZLES)
    for record in records:
        mine = [r for r in rows if r["spec"] == record["spec"]]
        (failed,) = [r for r in mine if r["error"]]
        assert failed["cell"] == record["cells"]["c1"] and failed["error_kind"] == "bad_request"
        assert all(json.loads(r["extra"])["batch"] == record["batch_id"] for r in mine)
        assert all(r["latency_s"] is None for r in mine)
        cells = done.cells[done.cells.model == record["spec"]].set_index("puzzle")
        for p in PUZZLES:
            if f"{record['spec']}|{p.id}|0" != record["cells"]["c1"]:
                assert bool(cells.loc[p.id, "correct"]) == (p.id != "quadratic"), (record["spec"], p.id)
    ok = {spec: next(r for r in rows if r["spec"] == spec and not r["error"]) for spec in (GROQ, GROQ_LLAMA)}
    for spec, row in ok.items():
        full, _ = cost.price(run_log.answer_from_row(row))
        assert full and row["cost_usd"] == pytest.approx(full / 2), spec
    assert "genai-prices batch price: groq/" in ok[GROQ]["cost_note"]
    assert "Groq's documented batch price (50% of standard)" in ok[GROQ_LLAMA]["cost_note"]
    assert not any(path.endswith("/chat/completions") for _, path in groq.requests)  # nothing asked live
    table = done.table()
    assert GROQ in table and GROQ_LLAMA in table and LIVE in table


def test_groq_expired_batch_asks_the_rest_live(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBatchOpenAI(reply=reply, expire_at_step=2, done_before_end=2, prefix="/openai/v1",
                         model_suffix="") as server:
        server.stand_in(monkeypatch, "groq", "gsk_" + "test_batch_0000000001")
        run_id = compare([GROQ], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
        resume(run_id, progress=False, out=io.StringIO())  # in_progress
        out = io.StringIO()
        result = resume(run_id, progress=False, out=out)  # expired: two done in the batch, two asked live
        assert re.search(r"batch \S+ expired: 2 cells had no answer and are asked live", out.getvalue())
        assert server.requests.count(("POST", "/openai/v1/chat/completions")) == 2
        rows = run_log.default().calls(run_id)
        assert len(rows) == 4 and not any(r["error"] for r in rows)
        assert sum("batch" in json.loads(r["extra"] or "{}") for r in rows) == 2
        assert result.cells.status.tolist() == ["ok"] * 4
