"""compare(..., batch=True) / --resume against a loopback Anthropic Message Batches API
(tests/fakes/anthropic_batch), through the official anthropic SDK: submit → partial → complete → graded table;
errored lines; expiry and cancellation fall back to live calls."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import anthropic
import pytest

from helpers.compare import batch as batches
from helpers.compare import puzzles as puzzle_sets
from helpers.compare.runner import compare, resume
from helpers.estimates import cost
from helpers.runlog import store as run_log
from tests.fakes.anthropic_batch import FakeBatchAnthropic

RIGHT = {"sum-1-to-10": "55", "sqrt-81": "9", "shirts-discount": "$90", "quadratic": "3"}  # quadratic: wrong
PUZZLES = [p for p in puzzle_sets.load("known_answers") if p.id in RIGHT]
CLAUDE = "anthropic/claude-haiku-4-5"
KEY = "sk-ant-" + "test-batch-000000001"  # built, so no key-shaped string is committed


def reply(params: dict) -> str:
    prompt = params["messages"][-1]["content"]
    text = prompt if isinstance(prompt, str) else "".join(block["text"] for block in prompt)
    puzzle = next(p for p in PUZZLES if p.prompt == text)
    return f"Working it out.\nAnswer: {RIGHT[puzzle.id]}"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchAnthropic]:
    with FakeBatchAnthropic(reply=reply, fail={"c1"}, per_step=2) as server:
        server.stand_in(monkeypatch, "anthropic", KEY)
        yield server


def rows(run_id: str) -> list[dict]:
    return [r for r in run_log.default().calls(run_id) if r["spec"] == CLAUDE]


def test_anthropic_is_a_batch_provider() -> None:
    assert "anthropic" in batches.providers() and batches.batchable(CLAUDE)


def test_submit_partial_complete_graded(fake: FakeBatchAnthropic) -> None:
    out = io.StringIO()
    first = compare([CLAUDE], PUZZLES, batch=True, progress=False, out=out, use_cache=False)
    run_id = first.run_id
    (record,) = batches.records(run_id, run_log.default())
    assert record["batch_id"].startswith("msgbatch_") and record["provider"] == "anthropic"
    assert f"{record['batch_id']}: 4 cells of anthropic submitted (in_progress)" in out.getvalue()
    (body,) = fake.created  # the body the SDK sent: requests of {custom_id, params}
    assert sorted(r["custom_id"] for r in body["requests"]) == sorted(record["cells"])
    params = [r["params"] for r in body["requests"]]
    assert {p["model"] for p in params} == {"claude-haiku-4-5"}
    assert all(p["max_tokens"] > 0 and "stream" not in p for p in params)
    assert {p["messages"][-1]["content"] for p in params} == {p.prompt for p in PUZZLES}
    assert first.cells.status.tolist() == ["not run"] * 4
    assert ("POST", "/v1/messages") not in fake.requests

    out = io.StringIO()
    partial = resume(run_id, progress=False, out=out)  # 2 of 4 done: still in progress, nothing logged
    assert f"batch {record['batch_id']}: in_progress (2 of 4 done); its 4 cells wait" in out.getvalue()
    assert rows(run_id) == [] and partial.cells.status.tolist() == ["not run"] * 4

    done = resume(run_id, progress=False, out=io.StringIO())  # ended: results streamed, mapped by custom_id
    assert ("GET", f"/v1/messages/batches/{record['batch_id']}/results") in fake.requests
    logged = rows(run_id)
    assert len(logged) == 4
    (failed,) = [r for r in logged if r["error"]]
    assert failed["cell"] == record["cells"]["c1"]
    assert failed["error_kind"] == "bad_request" and "max_tokens" in failed["error"]
    cells = done.cells.set_index("puzzle")
    for p in PUZZLES:
        if f"{CLAUDE}|{p.id}|0" != record["cells"]["c1"]:
            assert bool(cells.loc[p.id, "correct"]) == (p.id != "quadratic"), p.id
            assert cells.loc[p.id, "status"] == "ok"
    ok = next(r for r in logged if not r["error"])
    answer = run_log.answer_from_row(ok)
    # the message's usage as parsed: the fake counts the words of "Working it out. Answer: X"
    assert answer.usage.prompt_tokens and answer.usage.completion_tokens == 5
    full, _ = cost.price(answer)
    assert full and ok["cost_usd"] == pytest.approx(full / 2)
    assert "genai-prices batch price: anthropic/" in ok["cost_note"]
    assert ok["latency_s"] is None and answer.extra["batch"] == record["batch_id"]
    assert ("POST", "/v1/messages") not in fake.requests  # the errored line is an error row, not asked live yet
    assert CLAUDE in done.table()


def test_expired_batch_asks_the_rest_live(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBatchAnthropic(reply=reply, per_step=1, expire_at_step=1) as server:
        server.stand_in(monkeypatch, "anthropic", KEY)
        run_id = compare([CLAUDE], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
        out = io.StringIO()
        result = resume(run_id, progress=False, out=out)  # ended at once: one succeeded, three expired
        assert re.search(r"batch msgbatch_\S+ expired: 3 cells had no answer and are asked live", out.getvalue())
        assert server.requests.count(("POST", "/v1/messages")) == 3
        logged = rows(run_id)
        assert len(logged) == 4 and not any(r["error"] for r in logged)
        assert sum("batch" in json.loads(r["extra"] or "{}") for r in logged) == 1
        assert result.cells.status.tolist() == ["ok"] * 4


def test_cancelled_batch_cells_go_live(fake: FakeBatchAnthropic) -> None:
    run_id = compare([CLAUDE], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
    (record,) = batches.records(run_id, run_log.default())
    client = anthropic.Anthropic(base_url=fake.base_url, api_key=KEY)
    assert client.messages.batches.cancel(record["batch_id"]).processing_status == "canceling"
    out = io.StringIO()
    result = resume(run_id, progress=False, out=out)
    assert "cancelled: 4 cells had no answer and are asked live" in out.getvalue()
    assert result.cells.status.tolist() == ["ok"] * 4
    assert fake.requests.count(("POST", "/v1/messages")) == 4


def test_budget_is_checked_before_submitting(fake: FakeBatchAnthropic) -> None:
    out = io.StringIO()
    compare([CLAUDE], PUZZLES, batch=True, progress=False, out=out, use_cache=False, max_usd=0.0000001)
    assert "nothing of this batch was sent" in out.getvalue()
    assert ("POST", "/v1/messages/batches") not in fake.requests
