"""Conformance, batch jobs: real recorded batch objects and result files, served by the loopback batch fakes as a
job that has already ended, read through the official SDKs' calls (openai, anthropic, google-genai) and our
readers (tests/data/recorded/, sources in SOURCES.md) — text, model, finish reason and every token count as
recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import llm
from helpers.compare import batch_apis
from helpers.errors import BadRequestError
from tests.fakes.anthropic_batch import FakeBatchAnthropic
from tests.fakes.google_batch import FakeBatchGoogle
from tests.fakes.openai_batch import FakeBatchOpenAI
from tests.fakes.replay_server import load

GEMINI = "google/gemini-2.5-flash"
KEY = "AIza" + "TestBatch0000000000000000000000000002"  # built, so no key-shaped string is committed
OPENAI_KEY = "sk-" + "test-batchrec-0000000001"
ANTHROPIC_KEY = "sk-ant-" + "test-batchrec-000000001"


def lines(name: str) -> list[dict]:
    """The recorded NDJSON lines of a result file."""
    return list(load(name)["response"]["body"])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchGoogle]:
    with FakeBatchGoogle() as server:
        server.stand_in(monkeypatch, "google", KEY)
        yield server


def test_real_recorded_result_lines_are_read_exactly(fake: FakeBatchGoogle) -> None:
    """The result file of a real batch job (google-gemini/cookbook, see SOURCES.md), read through
    google-genai's download and our reader: text, and every token count as recorded."""
    recorded = load("google/batch_results")["response"]["body"]
    name = fake.ended_with("gemini-2.5-flash", recorded)
    prepared = llm.prepare(GEMINI, "Explain how AI works in a few words")
    found = batch_apis.poll(prepared, name, 2)
    assert found.ended and found.complete and found.status == "succeeded"
    assert sorted(found.results) == ["request_1", "request_2"]
    first = found.results["request_1"](prepared.request)
    assert first.text == "AI learns patterns from data to make decisions or predictions."
    assert first.model_reported == "gemini-2.5-flash" and first.finish_reason == "stop"
    assert (first.usage.prompt_tokens, first.usage.completion_tokens, first.usage.reasoning_tokens) == (8, 840, 829)
    second = found.results["request_2"](prepared.request).usage
    assert (second.prompt_tokens, second.completion_tokens, second.reasoning_tokens) == (9, 1243, 1180)


@pytest.fixture
def openai_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchOpenAI]:
    with FakeBatchOpenAI() as server:
        server.stand_in(monkeypatch, "openai", OPENAI_KEY)
        yield server


@pytest.fixture
def anthropic_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchAnthropic]:
    with FakeBatchAnthropic() as server:
        server.stand_in(monkeypatch, "anthropic", ANTHROPIC_KEY)
        yield server


def test_openai_real_batch_object_output_and_error_lines_are_read_exactly(openai_fake: FakeBatchOpenAI) -> None:
    """A real completed Batch object (timothyschofield/090_Batch) whose output file is two real o3-mini lines
    (alexdong/query-reformulation) and whose error file is a real error line (n0remac/Chat-Bot): three jobs'
    recordings joined, so the counts are the Batch object's own. Read through the openai SDK's retrieve and
    files.content: status and counts, text, model, finish reason, every token count, and the failed line's kind."""
    batch = load("openai/batch_retrieve_completed")["response"]["body"]
    output, errors = lines("openai/batch_output_o3_mini"), lines("openai/batch_error_line")
    batch_id = openai_fake.ended_with(output, errors, batch=batch)
    assert batch_id == "batch_elUmiErkxQvHScS2kNSF1Vws"
    prepared = llm.prepare("openai/o3-mini", "Reverse these subqueries into one question.")
    found = batch_apis.poll(prepared, batch_id, 100)
    assert (found.status, found.ended, found.complete, found.progress) == ("completed", True, True, "96 of 100 done")
    served = openai_fake.batches[batch_id]
    assert ("GET", f"/v1/files/{served['output_file_id']}/content") in openai_fake.requests
    assert ("GET", f"/v1/files/{served['error_file_id']}/content") in openai_fake.requests
    assert sorted(found.results) == ["chaining_1", "chaining_2", "post-5897"]

    first = found.results["chaining_1"](prepared.request)
    assert first.text == output[0]["response"]["body"]["choices"][0]["message"]["content"]
    assert first.model_reported == "o3-mini-2025-01-31" and first.finish_reason == "stop"
    usage = first.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, usage.reasoning_tokens) == (441, 568, 0,
                                                                                                         448)
    second = found.results["chaining_2"](prepared.request).usage
    assert (second.prompt_tokens, second.completion_tokens, second.cached_tokens, second.reasoning_tokens) == (
        445, 805, 0, 704)

    with pytest.raises(BadRequestError) as failed:  # HTTP 400 invalid_request_error in the error file
        found.results["post-5897"](prepared.request)
    assert failed.value.kind == "bad_request" and "maximum context length is 8192 tokens" in str(failed.value)


def test_openai_real_lines_without_token_details_leave_them_unknown(openai_fake: FakeBatchOpenAI) -> None:
    """A real output file of May 2024 (zgimszhd61/openai-batch-quickstart): its usage has no token details, so
    cached and reasoning tokens are unknown (None), never 0."""
    batch_id = openai_fake.ended_with(lines("openai/batch_output_no_details"))
    prepared = llm.prepare("openai/gpt-3.5-turbo", "Hello world!")
    found = batch_apis.poll(prepared, batch_id, 2)
    assert (found.status, found.complete, found.progress) == ("completed", True, "2 of 2 done")
    first, second = (found.results[cid](prepared.request) for cid in ("request-1", "request-2"))
    assert first.text == "Hello! How can I assist you today?"
    assert second.text == "Hello there! How can I not help you today?"
    assert first.model_reported == second.model_reported == "gpt-3.5-turbo-0125"
    assert first.finish_reason == second.finish_reason == "stop"
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (20, 9)
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (22, 11)
    for reply in (first, second):
        assert reply.usage.cached_tokens is None and reply.usage.reasoning_tokens is None


def test_anthropic_real_message_batch_and_results_are_read_exactly(anthropic_fake: FakeBatchAnthropic) -> None:
    """A real ended MessageBatch (anthropics/anthropic-cookbook) whose results stream is two real result lines
    (mihaela-borta/linkedin-mcp-server; another batch, so the counts are the MessageBatch's own). Read through the
    anthropic SDK's retrieve and results (which follows the batch's results_url): status and counts, text, model,
    finish reason and every token count; Anthropic's prompt is input + cache reads + cache writes."""
    batch = load("anthropic/batch_retrieve_ended")["response"]["body"]
    results = lines("anthropic/batch_results")
    batch_id = anthropic_fake.ended_with(results, batch=batch)
    assert batch_id == "msgbatch_01GgqTz9XzriGNHzTSGZsJJ8"
    prepared = llm.prepare("anthropic/claude-sonnet-4-0", "Profile this contact as JSON.")
    found = batch_apis.poll(prepared, batch_id, 4)
    assert (found.status, found.ended, found.complete, found.progress) == ("ended", True, True, "4 of 4 done")
    assert ("GET", f"/v1/messages/batches/{batch_id}/results") in anthropic_fake.requests
    assert sorted(found.results) == ["contact_0", "contact_1"]
    expected = {"contact_0": (1668, 580), "contact_1": (1701, 589)}
    for line in results:
        reply = found.results[line["custom_id"]](prepared.request)
        assert reply.text == line["result"]["message"]["content"][0]["text"]
        assert reply.model_reported == "claude-sonnet-4-20250514" and reply.finish_reason == "stop"
        usage = reply.usage
        assert (usage.prompt_tokens, usage.completion_tokens) == expected[line["custom_id"]]
        assert (usage.cached_tokens, usage.cache_write_tokens, usage.reasoning_tokens) == (0, 0, None)
