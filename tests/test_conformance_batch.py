"""Conformance, batch jobs: real recorded batch result files read through the official SDK's calls and our
readers (tests/data/recorded/, sources in SOURCES.md) — every token count as recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers import llm
from helpers.compare import batch_apis
from tests.fakes.google_batch import FakeBatchGoogle
from tests.fakes.replay_server import load

GEMINI = "google/gemini-2.5-flash"
KEY = "AIza" + "TestBatch0000000000000000000000000002"  # built, so no key-shaped string is committed


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBatchGoogle]:
    with FakeBatchGoogle() as server:
        monkeypatch.setenv("GOOGLE_BASE_URL", server.base_url)
        monkeypatch.setenv("GOOGLE_API_KEY", KEY)
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
