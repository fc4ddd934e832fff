"""compare(..., batch=True) / --resume against a loopback Gemini API batch mode (tests/fakes/google_batch),
through google-genai's Files and Batches calls: submit → partial → complete → graded table; a failed line
(a google.rpc.Status) is an error row; expiry and cancellation fall back to live calls."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator

import pytest
from google import genai
from google.genai import types

from helpers.compare import batch as batches
from helpers.compare import puzzles as puzzle_sets
from helpers.compare.runner import compare, resume
from helpers.estimates import cost
from helpers.runlog import store as run_log
from tests.fakes.google_batch import FakeBatchGoogle

RIGHT = {"sum-1-to-10": "55", "sqrt-81": "9", "shirts-discount": "$90", "quadratic": "3"}  # quadratic: wrong
PUZZLES = [p for p in puzzle_sets.load("known_answers") if p.id in RIGHT]
GEMINI = "google/gemini-2.5-flash"
KEY = "AIza" + "TestBatch0000000000000000000000000001"  # built, so no key-shaped string is committed


def reply(request: dict) -> str:
    text = request["contents"][-1]["parts"][0]["text"]
    puzzle = next((p for p in PUZZLES if p.prompt == text), None)
    return f"Working it out.\nAnswer: {RIGHT[puzzle.id]}" if puzzle else "Answer: 42"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchGoogle]:
    with FakeBatchGoogle(reply=reply, fail={"c1"}, per_step=2) as server:
        server.stand_in(monkeypatch, "google", KEY)
        yield server


def rows(run_id: str) -> list[dict]:
    return [r for r in run_log.default().calls(run_id) if r["spec"] == GEMINI]


def test_google_is_a_batch_provider() -> None:
    assert "google" in batches.providers() and batches.batchable(GEMINI)
    assert not batches.batchable("gemini/gemini-2.5-flash")  # the OpenAI-compatible endpoint has no batch mode here


def test_submit_partial_complete_graded(fake: FakeBatchGoogle) -> None:
    out = io.StringIO()
    run_id = compare([GEMINI], PUZZLES, batch=True, progress=False, out=out, use_cache=False).run_id
    (record,) = batches.records(run_id, run_log.default())
    assert record["batch_id"].startswith("batches/") and record["provider"] == "google"
    assert f"{record['batch_id']}: 4 cells of google submitted (pending)" in out.getvalue()
    # what google-genai sent: a resumable upload of the JSONL, then the job naming that file
    (created,) = fake.created
    assert created["model"] == "models/gemini-2.5-flash"
    assert created["batch"]["inputConfig"] == {"fileName": record["input_file"]}
    assert created["batch"]["displayName"] == f"llmlab-{run_id}"
    lines = [json.loads(line) for line in fake.files[record["input_file"]].splitlines()]
    assert sorted(line["key"] for line in lines) == sorted(record["cells"])
    assert {line["request"]["contents"][-1]["parts"][0]["text"] for line in lines} == {p.prompt for p in PUZZLES}
    assert all(line["request"]["contents"][-1]["role"] == "user" for line in lines)
    starts = [h for h in fake.headers if h.get("x-goog-upload-command") == "start"]
    assert len(starts) == 1 and starts[0]["x-goog-upload-protocol"] == "resumable"
    keyed = [h for h in fake.headers if "finalize" not in h.get("x-goog-upload-command", "")]  # not the session URL
    assert keyed and all(h.get("x-goog-api-key") == KEY for h in keyed)  # the key in its header, never in a URL
    assert not any(KEY in path for _, path in fake.requests)
    assert not any(path.endswith(":generateContent") for _, path in fake.requests)

    out = io.StringIO()
    partial = resume(run_id, progress=False, out=out)  # running: nothing to read yet
    assert f"batch {record['batch_id']}: running (4 requests; progress n/a: " in out.getvalue()
    assert "its 4 cells wait" in out.getvalue()
    assert rows(run_id) == [] and partial.cells.status.tolist() == ["not run"] * 4

    done = resume(run_id, progress=False, out=io.StringIO())  # succeeded: the result file, mapped by key
    assert ("GET", f"/v1/files/batch-{record['batch_id'].split('/')[1]}:download") in fake.requests
    logged = rows(run_id)
    assert len(logged) == 4
    (failed,) = [r for r in logged if r["error"]]
    assert failed["cell"] == record["cells"]["c1"]
    assert failed["error_kind"] == "bad_request" and "invalid argument" in failed["error"]
    cells = done.cells.set_index("puzzle")
    for p in PUZZLES:
        if f"{GEMINI}|{p.id}|0" != record["cells"]["c1"]:
            assert bool(cells.loc[p.id, "correct"]) == (p.id != "quadratic"), p.id
    ok = next(r for r in logged if not r["error"])
    answer = run_log.answer_from_row(ok)
    assert answer.usage.completion_tokens == 5  # "Working it out. Answer: X", as the fake counts words
    full, _ = cost.price(answer)
    assert full and ok["cost_usd"] == pytest.approx(full / 2)
    assert ok["latency_s"] is None and answer.extra["batch"] == record["batch_id"]
    assert not any(path.endswith(":generateContent") for _, path in fake.requests)  # the failed line waits
    assert GEMINI in done.table()

    # each batch line's request is the body google-genai sends when the same cell is asked live
    compare([GEMINI], PUZZLES, progress=False, out=io.StringIO(), use_cache=False)
    as_sent = sorted(json.dumps(body, sort_keys=True) for body in fake.live)
    assert as_sent == sorted(json.dumps(line["request"], sort_keys=True) for line in lines)


def test_expired_batch_asks_the_rest_live(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBatchGoogle(reply=reply, expire_at_step=1) as server:
        server.stand_in(monkeypatch, "google", KEY)
        run_id = compare([GEMINI], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
        out = io.StringIO()
        result = resume(run_id, progress=False, out=out)  # expired at once, with no result file
        assert re.search(r"batch batches/\S+ expired: 4 cells had no answer and are asked live", out.getvalue())
        assert sum(path.endswith(":generateContent") for _, path in server.requests) == 4
        logged = rows(run_id)
        assert len(logged) == 4 and not any(r["error"] for r in logged)
        assert not any("batch" in json.loads(r["extra"] or "{}") for r in logged)
        assert result.cells.status.tolist() == ["ok"] * 4


def test_cancelled_batch_cells_go_live(fake: FakeBatchGoogle) -> None:
    run_id = compare([GEMINI], PUZZLES, batch=True, progress=False, out=io.StringIO(), use_cache=False).run_id
    (record,) = batches.records(run_id, run_log.default())
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=fake.base_url))
    client.batches.cancel(name=record["batch_id"])
    out = io.StringIO()
    result = resume(run_id, progress=False, out=out)
    assert "cancelled: 4 cells had no answer and are asked live" in out.getvalue()
    assert result.cells.status.tolist() == ["ok"] * 4
    assert sum(path.endswith(":generateContent") for _, path in fake.requests) == 4


def test_budget_is_checked_before_submitting(fake: FakeBatchGoogle) -> None:
    out = io.StringIO()
    compare([GEMINI], PUZZLES, batch=True, progress=False, out=out, use_cache=False, max_usd=0.0000001)
    assert "nothing of this batch was sent" in out.getvalue()
    assert fake.created == [] and fake.files == {}


def test_a_batch_line_is_the_body_sent_live_with_every_parameter(fake: FakeBatchGoogle) -> None:
    """System prompt, sampling, stop, output cap and thinking budget: the REST JSON a batch line carries
    equals the body google-genai sends for the same request live."""
    from helpers import ask, llm
    from helpers.providers.google_native import camel_keys, rest_request

    params = {"temperature": 0.3, "top_p": 0.9, "max_tokens": 64, "seed": 7, "stop": ["END"],
              "reasoning_effort": "low"}
    answer = ask(GEMINI, "What is 6 x 7?", system="Answer briefly.", use_cache=False, **params)
    assert answer.ok, answer.error
    (sent,) = fake.live
    line = rest_request(llm.prepare(GEMINI, "What is 6 x 7?", "Answer briefly.", **params).request)
    # google-genai sends a dict-valued thinking_config with its keys as given (snake_case); proto3 JSON takes
    # either spelling of a field name, and a batch line uses the canonical lowerCamelCase throughout
    assert line == camel_keys(sent)
    assert line["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    assert sent["generationConfig"]["thinkingConfig"] == {"thinking_budget": 1024, "include_thoughts": True}
    assert line["systemInstruction"] == {"parts": [{"text": "Answer briefly."}], "role": "user"}


def test_a_damaged_result_line_loses_only_its_own_cell(fake: FakeBatchGoogle) -> None:
    from helpers import llm
    from helpers.compare import batch_apis

    good = {"response": {"candidates": [{"content": {"role": "model", "parts": [{"text": "Answer: 55"}]},
                                         "finishReason": "STOP", "index": 0}],
                         "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 3}}, "key": "c0"}
    damaged = ['{"key": "c1", "response": {"candi', "\x00\ufffd not json", "[1]"]
    name = fake.ended_with("gemini-2.5-flash", [damaged[0], good, *damaged[1:]])
    prepared = llm.prepare(GEMINI, "Add up 1 to 10.")
    found = batch_apis.poll(prepared, name, 3)
    assert found.ended and list(found.results) == ["c0"]
    assert found.results["c0"](prepared.request).text == "Answer: 55"
