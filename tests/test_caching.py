"""Prompt-caching accounting: usage bodies of each provider read by its adapter, dollars with and without the
cache (hand-computed from the list prices), the request shapes sent, and live pairs against loopback servers."""

from __future__ import annotations

import re
from typing import Any

import pytest

from helpers import prompt_caching
from helpers.answer import Usage
from helpers.errors import ConfigError
from helpers.runlog import store
from tests.fakes.openai_server import FakeOpenAI, Fault

M = 1e-6  # prices are per million tokens

# (spec, first body, second body, expected first/second Usage, hand-computed dollars: first, second,
#  first without cache, second without cache)
CASES = [
    ("openai/gpt-4.1-mini",  # $0.40 input, $0.10 cached input, $1.60 output
     {"prompt_tokens": 6142, "completion_tokens": 58, "prompt_tokens_details": {"cached_tokens": 0},
      "completion_tokens_details": {"reasoning_tokens": 0}},
     {"prompt_tokens": 6139, "completion_tokens": 71, "prompt_tokens_details": {"cached_tokens": 6016},
      "completion_tokens_details": {"reasoning_tokens": 0}},
     Usage(6142, 58, cached_tokens=0, reasoning_tokens=0), Usage(6139, 71, cached_tokens=6016, reasoning_tokens=0),
     6142 * 0.4 * M + 58 * 1.6 * M,
     (6139 - 6016) * 0.4 * M + 6016 * 0.1 * M + 71 * 1.6 * M,
     6142 * 0.4 * M + 58 * 1.6 * M,
     6139 * 0.4 * M + 71 * 1.6 * M),
    ("anthropic/claude-haiku-4-5",  # $1 input, $1.25 cache write, $0.10 cache read, $5 output
     {"input_tokens": 4, "cache_creation_input_tokens": 6617, "cache_read_input_tokens": 0, "output_tokens": 64},
     {"input_tokens": 4, "cache_creation_input_tokens": 14, "cache_read_input_tokens": 6598, "output_tokens": 77},
     Usage(6621, 64, cached_tokens=0, cache_write_tokens=6617),
     Usage(6616, 77, cached_tokens=6598, cache_write_tokens=14),
     4 * 1 * M + 6617 * 1.25 * M + 64 * 5 * M,
     4 * 1 * M + 14 * 1.25 * M + 6598 * 0.1 * M + 77 * 5 * M,
     6621 * 1 * M + 64 * 5 * M,
     6616 * 1 * M + 77 * 5 * M),
    ("google/gemini-2.5-flash-lite",  # $0.10 input, $0.01 cached input, $0.40 output
     {"promptTokenCount": 6320, "candidatesTokenCount": 49, "totalTokenCount": 6369},
     {"promptTokenCount": 6317, "cachedContentTokenCount": 6144, "candidatesTokenCount": 62, "totalTokenCount": 6379},
     Usage(6320, 49), Usage(6317, 62, cached_tokens=6144),
     6320 * 0.1 * M + 49 * 0.4 * M,
     (6317 - 6144) * 0.1 * M + 6144 * 0.01 * M + 62 * 0.4 * M,
     6320 * 0.1 * M + 49 * 0.4 * M,
     6317 * 0.1 * M + 62 * 0.4 * M),
]


@pytest.mark.parametrize("spec,first,second,u1,u2,usd1,usd2,plain1,plain2", CASES, ids=[c[0] for c in CASES])
def test_accounting_on_usage_bodies(spec: str, first: dict, second: dict, u1: Usage, u2: Usage, usd1: float,
                                    usd2: float, plain1: float, plain2: float) -> None:
    report = prompt_caching.report_from_bodies(spec, first, second, source="test bodies")
    assert report.first == u1 and report.second == u2
    assert report.cost("first") == pytest.approx(usd1, abs=1e-12)
    assert report.cost("second") == pytest.approx(usd2, abs=1e-12)
    assert report.cost("first", cached=False) == pytest.approx(plain1, abs=1e-12)
    assert report.cost("second", cached=False) == pytest.approx(plain2, abs=1e-12)
    assert report.saved_usd == pytest.approx(plain1 + plain2 - usd1 - usd2, abs=1e-12)
    assert "NOT a live cache" in report.to_text() and "**not a live cache**" in report.to_markdown()


def test_anthropic_write_costs_more_and_read_much_less() -> None:
    report = prompt_caching.report_from_bodies(*CASES[1][:3], source="test")
    assert report.cost("first") > report.cost("first", cached=False)  # writing is dearer than plain input
    assert report.cost("second") < report.cost("second", cached=False) / 5  # reading is far cheaper
    assert 0.30 < report.saved_usd / report.total_uncached_usd < 0.32


def test_example_reports_are_marked_offline() -> None:
    reports = prompt_caching.example_reports()
    assert [r.spec for r in reports] == [c[0] for c in CASES]
    for report, case in zip(reports, CASES, strict=True):
        assert report.first == case[3] and report.second == case[4] and not report.live
        assert prompt_caching.NOT_LIVE in report.notes
        text = report.to_text()
        assert text.splitlines()[0].endswith("NOT a live cache") and "saved $" in text
    gemini = reports[2].to_text().splitlines()
    assert re.match(r"2nd \(reads\)\s+6,317\s+6,144\s+—\s+62\s+\$0\.000104\s+\$0\.000656", gemini[3])


def test_unpriced_model_says_why() -> None:
    report = prompt_caching.report_from_bodies("openai/gpt-9-imaginary", CASES[0][1], CASES[0][2], source="test")
    assert report.total_usd is None and report.saved_usd is None
    assert report.headline().startswith("cost n/a (no price known")


def test_document_is_long_public_domain_and_original() -> None:
    raw = prompt_caching.document(header=True)
    assert "CC0 1.0 Universal" in raw.split("-->")[0]
    text = prompt_caching.document()
    assert text.startswith("# The Wrenmouth Harbour Handbook") and "CC0" not in text
    words = len(text.split())
    assert words > 4200 and len(text) / 4 > 5000  # ≈ 6,000 tokens: over Haiku 4.5's 4,096-token minimum


def test_facts_per_family() -> None:
    assert "cache_creation_input_tokens" in prompt_caching.facts("anthropic").usage_fields
    assert prompt_caching.facts("groq") is prompt_caching.FACTS["openai"]
    assert "cachedContentTokenCount" in prompt_caching.facts("google").usage_fields
    with pytest.raises(ConfigError, match="no prompt cache"):
        prompt_caching.facts("local")


# -- request shapes -------------------------------------------------------------------------------------
def test_request_shapes_put_the_document_first() -> None:
    q = "What is the Tongue?"
    doc = f"<document: {len(prompt_caching.document()):,} characters>"
    assert prompt_caching.request_shape("openai/gpt-4.1-mini", q) == {
        "model": "gpt-4.1-mini", "messages": [{"role": "system", "content": doc}, {"role": "user", "content": q}]}
    anthropic = prompt_caching.request_shape("anthropic/claude-haiku-4-5", q)
    assert anthropic["system"] == [{"type": "text", "text": doc, "cache_control": {"type": "ephemeral"}}]
    assert anthropic["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": q, "cache_control": {"type": "ephemeral"}}]}]
    google = prompt_caching.request_shape("google/gemini-2.5-flash-lite", q)
    assert google["config"]["system_instruction"] == doc
    assert google["contents"] == [{"role": "user", "parts": [{"text": q}]}]
    with pytest.raises(ConfigError, match="no prompt cache|not sent to a provider"):
        prompt_caching.request_shape("local/smollm2", q)


# -- live pairs against loopback servers --------------------------------------------------------------
def test_live_pair_openai_reads_cached_tokens(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-caching-0001")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    fake_openai.script([Fault.ok(usage={"prompt_tokens": 6142, "completion_tokens": 58, "cached_tokens": 0}),
                        Fault.ok(usage={"prompt_tokens": 6139, "completion_tokens": 71, "cached_tokens": 6016})])
    report = prompt_caching.live_pair("openai/gpt-4.1-mini")
    assert report.live and report.source == "live calls"
    assert report.first == CASES[0][3] and report.second == CASES[0][4]
    assert report.total_usd == pytest.approx(CASES[0][5] + CASES[0][6], abs=1e-12)
    first, second = fake_openai.bodies()
    assert first["messages"][0] == {"role": "system", "content": prompt_caching.document()}
    assert [b["messages"][-1]["content"] for b in (first, second)] == list(prompt_caching.QUESTIONS)
    assert [r["cached_tokens"] for r in store.default().calls()] == [0, 6016]


def anthropic_route(usages: list[dict[str, int]], seen: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    def route(h, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        seen.append(body)
        h.send_json(200, {"id": f"msg_{len(seen)}", "type": "message", "role": "assistant",
                          "model": "claude-haiku-4-5-20251001", "stop_reason": "end_turn", "stop_sequence": None,
                          "content": [{"type": "text", "text": "At 17:30; 7.00."}], "usage": usages[len(seen) - 1]})
    return route


def test_live_pair_anthropic_marks_blocks_and_reads_cache_fields(fake_openai: FakeOpenAI,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    fake_openai.routes[("POST", "/v1/messages")] = anthropic_route([CASES[1][1], CASES[1][2]], seen)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "test-caching-0001")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_openai.root_url)
    report = prompt_caching.live_pair("anthropic/claude-haiku-4-5")
    assert report.first == CASES[1][3] and report.second == CASES[1][4]
    assert report.cost("second") == pytest.approx(CASES[1][6], abs=1e-12)
    assert seen[0]["system"] == [{"type": "text", "text": prompt_caching.document(),
                                  "cache_control": {"type": "ephemeral"}}]
    assert seen[1]["messages"][0]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    rows = store.default().calls()
    assert [(r["cached_tokens"], r["cache_write_tokens"]) for r in rows] == [(0, 6617), (6598, 14)]


def test_live_pair_gemini_native_reads_cached_content(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    metas = [CASES[2][1], CASES[2][2]]

    def route(h, body: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        seen.append(body)
        h.send_json(200, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Two white flashes."}]},
                                          "finishReason": "STOP", "index": 0}],
                          "usageMetadata": metas[len(seen) - 1], "modelVersion": "gemini-2.5-flash-lite"})

    fake_openai.routes[("POST", "/v1/models/gemini-2.5-flash-lite:generateContent")] = route
    monkeypatch.setenv("GOOGLE_API_KEY", "AIzaTestCaching0001")
    monkeypatch.setenv("GOOGLE_BASE_URL", fake_openai.root_url)
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    report = prompt_caching.live_pair("google/gemini-2.5-flash-lite")
    assert report.first == CASES[2][3] and report.second == CASES[2][4] and report.live
    assert report.saved_usd == pytest.approx(CASES[2][7] + CASES[2][8] - CASES[2][5] - CASES[2][6], abs=1e-12)
    assert seen[0]["systemInstruction"]["parts"][0]["text"] == prompt_caching.document()
    assert seen[1]["contents"][-1]["parts"][0]["text"] == prompt_caching.QUESTIONS[1]


def test_live_pair_with_no_cached_tokens_says_so(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-caching-0002")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    report = prompt_caching.live_pair("openai/gpt-4.1-mini", text="A short document.")
    assert report.live and report.notes[0].startswith("The provider reported no cached tokens")


def test_live_pair_failure_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.errors import MissingKeyError

    with pytest.raises(MissingKeyError):
        prompt_caching.live_pair("openai/gpt-4.1-mini")
    with pytest.raises(ConfigError, match="exactly two"):
        prompt_caching.live_pair("openai/gpt-4.1-mini", questions=["one"])
