"""Conformance with real provider wire formats: recorded responses (tests/data/recorded/, sources in
SOURCES.md) replayed on loopback through ``ask`` — text, every token count, the model that answered, cost
(genai-prices on the recorded usage, and the provider's own cost where it sends one), emissions, timing
and the run-log row. Errors and Ollama's native API are in test_conformance_errors.py; the CLI in
test_conformance_cli.py."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from helpers import ask
from tests.fakes.conformance import Expected, genai_price, logged, replaying

PROMPT = "Please answer."


@dataclass(frozen=True)
class Case:
    recording: str
    spec: str
    expected: Expected
    params: dict | None = None
    system: str | None = None

    @property
    def provider(self) -> str:
        return self.spec.split("/", 1)[0]

    @property
    def stream(self) -> bool:
        return bool((self.params or {}).get("stream"))


def E(*args, **kwargs) -> Expected:  # a short constructor for the table below
    return Expected(*args, **kwargs)


MESSAGES, GENERATE, STREAM_GENERATE = "/v1/messages", ":generateContent", ":streamGenerateContent"
CASES = [
    # ---------------------------------------------------------------------------------------------- OpenAI
    Case("openai/plain_gpt4o", "openai/gpt-4o",
         E("The capital of France is Paris.", "gpt-4o-2024-08-06", (14, 7, 0, 0, None), ("openai", "gpt-4o"),
           sent={"model": "gpt-4o"})),
    Case("openai/plain_dated_model", "openai/gpt-4o-mini",
         E("Hello! How can I assist you today?", "gpt-4o-mini-2024-07-18", (8, 9, 0, 0, None),
           ("openai", "gpt-4o-mini"), sent={"model": "gpt-4o-mini", "max_completion_tokens": 100}),
         params={"max_tokens": 100}),
    Case("openai/reasoning_o3_mini", "openai/o3-mini",
         E("Hello there! How can I help you today?", "o3-mini-2025-01-31", (7, 87, 0, 64, None),
           ("openai", "o3-mini"))),
    Case("openai/reasoning_long", "openai/o3-mini@reasoning_effort=high",
         E("Cross at a bridge or a ford, check the current first, and never wade alone.", "o3-mini-2025-01-31",
           (577, 2320, 0, 1792, None), ("openai", "o3-mini"), sent={"reasoning_effort": "high"})),
    Case("openai/cache_write", "openai/gpt-5.6-sol",
         E("OK", "gpt-5.6-sol", (4020, 4, 0, 0, 4012), ("openai", "gpt-5.6-sol"))),
    Case("openai/cache_read", "openai/gpt-5.6-sol",
         E("OK", "gpt-5.6-sol", (4020, 4, 4012, 0, 0), ("openai", "gpt-5.6-sol"))),
    Case("openai/stream_usage", "openai/gpt-4o-mini",
         E("The capital of the UK is London.", "gpt-4o-mini-2024-07-18", (78, 9, 0, 0, None),
           ("openai", "gpt-4o-mini"), sent={"stream": True, "stream_options": {"include_usage": True}}),
         params={"stream": True}),
    # ------------------------------------------------------------------------------------------- Anthropic
    Case("anthropic/plain_opus", "anthropic/claude-3-opus-latest",
         E("The capital of France is Paris.", "claude-3-opus-20240229", (20, 10, 0, None, 0),
           ("anthropic", "claude-3-opus-20240229"), path_end=MESSAGES, emissions=False,
           sent={"model": "claude-3-opus-latest", "system": "You are a helpful assistant."}),
         system="You are a helpful assistant."),
    Case("anthropic/thinking", "anthropic/claude-sonnet-4-5@reasoning_effort=low",
         E("Find a crossing, wait for the signal, look both ways, then walk.", "claude-sonnet-4-5-20250929",
           (43, 321, 0, None, 0), ("anthropic", "claude-sonnet-4-5"), path_end=MESSAGES,
           reasoning="A safety question: give the basic steps.",
           sent={"thinking": {"type": "enabled", "budget_tokens": 1024}})),
    Case("anthropic/cache_read", "anthropic/claude-sonnet-4-5",
         E("Python is a readable general-purpose language used for scripts, web back ends and data work.",
           "claude-sonnet-4-5-20250929", (1114, 406, 1111, None, 0), ("anthropic", "claude-sonnet-4-5"),
           path_end=MESSAGES), params={"cache_prompt": True}),
    Case("anthropic/cache_read_write", "anthropic/claude-sonnet-4-5",
         E("Python is an easy, versatile language for many kinds of programs.", "claude-sonnet-4-5-20250929",
           (1532, 33, 1111, None, 418), ("anthropic", "claude-sonnet-4-5"), path_end=MESSAGES),
         params={"cache_prompt": True}),
    Case("anthropic/stream_thinking", "anthropic/claude-sonnet-4-0@reasoning_effort=low",
         E("Here are the steps: find a crossing, look both ways, then walk.", "claude-sonnet-4-20250514",
           (43, 282, 0, None, 0), ("anthropic", "claude-sonnet-4-20250514"), path_end=MESSAGES, emissions=False,
           reasoning="The user asks how to cross a street. Give clear steps.", sent={"stream": True}),
         params={"stream": True}),
    # ---------------------------------------------------------------------------------------- Google native
    Case("google/plain_flash_thoughts", "google/gemini-2.5-flash",
         E("Hello! How can I help you today?", "gemini-2.5-flash", (9, 43, None, 34, None),
           ("google", "gemini-2.5-flash"), path_end=GENERATE), system="You are a chatbot."),
    Case("google/thoughts_pro", "google/gemini-3-pro-preview@reasoning_effort=low",
         E("Use a crossing, wait for the signal, and look both ways before you walk.", "gemini-3-pro-preview",
           (29, 1737, None, 1001, None), ("google", "gemini-3-pro-preview"), path_end=GENERATE, emissions=False,
           reasoning="**Planning a safe answer**\n\nList the steps in order.")),
    Case("google/cached_content", "google/gemini-2.5-flash",
         E("The video shows an assistant inside a code editor explaining and editing code.", "gemini-2.5-flash",
           (17713, 889, 17379, 821, None), ("google", "gemini-2.5-flash"), path_end=GENERATE)),
    Case("google/max_tokens_with_text", "google/gemini-2.5-flash",
         E("The capital of France is", "gemini-2.5-flash", (15, 5, None, None, None), ("google", "gemini-2.5-flash"),
           finish="length", path_end=GENERATE), params={"max_tokens": 5, "reasoning_effort": "none"}),
    Case("google/stream_plain", "google/gemini-2.0-flash-exp",
         E("The capital of France is Paris.", "gemini-2.0-flash-exp", (13, 8, None, None, None),
           ("google", "gemini-2.0-flash-exp"), path_end=STREAM_GENERATE, emissions=False), params={"stream": True}),
    # ---------------------------------------------------------------------- Gemini's OpenAI-compatible API
    Case("gemini_compat/total_above_parts", "gemini/gemini-2.5-pro-preview-05-06",
         # total_tokens 100 = 66 prompt + 6 answer + 28 thinking tokens, billed as output
         E("The current time is Noon.", "gemini-2.5-pro-preview-05-06", (66, 34, None, 28, None),
           ("google", "gemini-2.5-pro-preview-05-06"), emissions=False)),
    # -------------------------------------------------------------------------------------------- DeepSeek
    Case("deepseek/reasoner", "deepseek/deepseek-reasoner",
         E("Find a crosswalk, wait for the walk signal, look left and right, then cross.", "deepseek-reasoner",
           (12, 789, 0, 415, None), ("deepseek", "deepseek-reasoner"),
           reasoning="The user wants street-crossing steps; list them.")),
    Case("deepseek/cache_hit", "deepseek/deepseek-reasoner",
         E("Anne wins: the die shows 4, the number she guessed.", "deepseek-v4-flash", (976, 61, 896, 25, None),
           ("deepseek", "deepseek-v4-flash"), reasoning="The roll matches the guess, so she wins.")),
    Case("deepseek/stream_reasoner", "deepseek/deepseek-reasoner",
         E("Hello! How can I help you today?", "deepseek-reasoner", (6, 212, 0, 198, None),
           ("deepseek", "deepseek-reasoner"), reasoning="A greeting; reply politely."), params={"stream": True}),
    # ------------------------------------------------------------------------------------------------ Groq
    Case("groq/plain_llama", "groq/llama-3.3-70b-versatile",
         E("The capital of France is Paris.", "llama-3.3-70b-versatile", (48, 8, None, None, None),
           ("groq", "llama-3.3-70b-versatile")), system="You are a helpful assistant."),
    Case("groq/stream_x_groq_usage", "groq/deepseek-r1-distill-llama-70b",
         E("Alfajores: two butter cookies joined with dulce de leche.", "deepseek-r1-distill-llama-70b",
           (21, 988, None, None, None), ("groq", "deepseek-r1-distill-llama-70b"),
           reasoning="Plan a short recipe.", emissions=False), params={"stream": True}),
    # ------------------------------------------------------------------------------------------ OpenRouter
    Case("openrouter/usage_no_cost", "openrouter/openai/gpt-5-mini",
         E("Venus is the second planet from the Sun, about Earth's size, with a crushing, scorching CO2 "
           "atmosphere.", "openai/gpt-5-mini", (17, 1515, None, 704, None), ("openrouter", "openai/gpt-5-mini"),
           reasoning="**Summarising Venus**\n\nSize, orbit, atmosphere.")),
    Case("openrouter/usage_cost", "openrouter/openai/gpt-5-mini",
         E("Mars is the fourth planet: cold, dusty, with a thin CO2 atmosphere and two small moons.",
           "openai/gpt-5-mini", (17, 2177, 0, 960, None), ("openrouter", "openai/gpt-5-mini"),
           reasoning="**Summarising Mars**\n\nOrbit, surface, moons.", provider_cost=0.00435825)),
    Case("openrouter/cache_write_cost", "openrouter/anthropic/claude-sonnet-4.6",
         E("# Patterns in distributed databases\n\nReplication, sharding and consensus trade",
           "anthropic/claude-4.6-sonnet-20260217", (3214, 100, 0, 0, 3211),
           ("openrouter", "anthropic/claude-sonnet-4.6"),
           finish="length", provider_cost=0.01355025, sent={"max_tokens": 100}), params={"max_tokens": 100}),
    Case("openrouter/cache_read_write_cost", "openrouter/anthropic/claude-sonnet-4.6",
         E("Distributed databases trade consistency, availability and latency against each other.",
           "anthropic/claude-4.6-sonnet-20260217", (3329, 53, 3211, 0, 115),
           ("openrouter", "anthropic/claude-sonnet-4.6"), provider_cost=0.00219855)),
    Case("openrouter/stream_reasoning_cost", "openrouter/anthropic/claude-sonnet-4.5",
         E("2 + 2 = 4", "anthropic/claude-sonnet-4.5", (43, 36, 0, 13, None),
           ("openrouter", "anthropic/claude-sonnet-4.5"),
           reasoning="This is a simple arithmetic question. 2+2 equals 4.", provider_cost=0.000669),
         params={"stream": True}),
    Case("openrouter/stream_fallback_model", "openrouter/google/gemini-2.0-flash-exp:free",
         # a fallback model answered: it is priced as itself (unknown to genai-prices), never as the free model
         E("I am Grok, an AI model built by xAI.", "x-ai/grok-4", (687, 187, 679, 118, None), None,
           no_price="x-ai/grok-4", provider_cost=0.00333825, emissions=False,
           sent={"models": ["x-ai/grok-4"], "provider": {"only": ["xai"]}}),
         params={"stream": True, "extra_body": {"models": ["x-ai/grok-4"], "provider": {"only": ["xai"]}}}),
    # ---------------------------------------------------------------------------- Ollama (OpenAI-compatible)
    Case("ollama/v1_chat_reasoning", "ollama/qwen3:0.6b",
         E('{ "city": "Paris", "country": "France" }', "qwen3:0.6b", (136, 15, None, None, None), None,
           reasoning="The capital of France is Paris; answer as JSON.", emissions=False)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.recording for c in CASES])
def test_replayed_answer(case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    exp = case.expected
    with replaying(monkeypatch, case.provider, case.recording) as server:
        answer = ask(case.spec, PROMPT, system=case.system, use_cache=False, **(case.params or {}))
    assert answer.ok, answer.error
    # what the SDK actually sent
    assert server.count() == 1
    sent = server.requests[0]
    assert sent.method == "POST" and sent.path.endswith(exp.path_end), sent.path
    body = sent.json
    for key, value in exp.sent.items():
        assert body.get(key) == value, (key, body.get(key))
    if exp.path_end == "/chat/completions":
        assert body["model"] == case.spec.split("/", 1)[1].split("@")[0]
        assert body["messages"][-1] == {"role": "user", "content": PROMPT}
    # what we parsed
    assert answer.text.strip() == exp.text
    assert answer.reasoning.strip() == exp.reasoning
    assert answer.model_reported == exp.model
    assert answer.finish_reason == exp.finish
    u = answer.usage
    assert (u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens,
            u.cache_write_tokens) == exp.usage
    # cost: genai-prices on the recorded usage; the provider's own figure where it sends one
    prompt, completion, cached, _, written = exp.usage
    if exp.no_price:
        assert answer.cost_usd is None and exp.no_price in answer.cost_note, answer.cost_note
    elif exp.price is None:
        assert answer.cost_usd == 0.0 and "this machine" in answer.cost_note  # local engine: no API fee
    else:
        expected_cost = genai_price(*exp.price, prompt or 0, completion or 0, cached, written)
        assert answer.cost_usd == pytest.approx(expected_cost, rel=1e-9)
        assert "genai-prices" in answer.cost_note
    if exp.provider_cost is not None:
        assert answer.extra.get("provider_cost_usd") == exp.provider_cost
        if answer.cost_usd is not None:
            assert answer.cost_usd == pytest.approx(exp.provider_cost, rel=1e-6)
    else:
        assert "provider_cost_usd" not in answer.extra
    # emissions: a figure, or n/a with its reason
    assert (answer.g_co2e is not None) == exp.emissions, answer.emissions.notes
    if not exp.emissions:
        assert answer.emissions.notes
    # timing: streamed answers carry TTFT and TPOT = (latency - TTFT) / (output tokens - 1)
    assert answer.latency_s is not None and answer.latency_s > 0
    if case.stream:
        assert answer.ttft_s is not None and 0 < answer.ttft_s <= answer.latency_s
        assert answer.tpot_s == pytest.approx((answer.latency_s - answer.ttft_s) / ((completion or 0) - 1))
    else:
        assert answer.tpot_s is None
    # the run-log row holds the same figures
    row = logged(answer)
    assert (row["prompt_tokens"], row["completion_tokens"], row["cached_tokens"], row["reasoning_tokens"],
            row["cache_write_tokens"]) == exp.usage
    assert row["model_reported"] == exp.model and row["finish_reason"] == exp.finish
    assert row["cost_usd"] == answer.cost_usd and row["error"] is None
    assert row["latency_s"] == answer.latency_s and row["ttft_s"] == answer.ttft_s
    assert row["tpot_s"] == answer.tpot_s


def test_every_recording_is_used_and_named_in_sources() -> None:
    """Each recorded file is replayed by some test and listed with its source in SOURCES.md."""
    from pathlib import Path

    from tests.fakes.replay_server import RECORDED, all_recordings, load

    here = Path(__file__).parent
    tests_text = "".join(p.read_text() for p in here.glob("test_conformance*.py"))
    sources = (RECORDED / "SOURCES.md").read_text()
    names = all_recordings()
    assert len(names) >= 40
    for name in names:
        assert f'"{name}"' in tests_text, f"{name} is not replayed by any conformance test"
        assert f"`{name}.json`" in sources, f"{name} is not listed in SOURCES.md"
        source = load(name)["source"]
        assert source["repository"] and source["path"] and source["note"]
        assert source["repository"] in sources


async def test_async_path_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import ask_async

    with replaying(monkeypatch, "openrouter", "openrouter/usage_cost"):
        answer = await ask_async("openrouter/openai/gpt-5-mini", PROMPT, use_cache=False)
    assert answer.ok and answer.usage.completion_tokens == 2177
    assert answer.cost_usd == pytest.approx(0.00435825, rel=1e-6)


def test_latency_is_the_servers_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a server that waits 200 ms before its first byte and 50 ms between events, the answer's latency
    and time to first token start at the request, and TPOT spans the rest of the stream."""
    with replaying(monkeypatch, "deepseek", "deepseek/stream_reasoner", latency=0.2, chunk_delay=0.05) as server:
        answer = ask("deepseek/deepseek-reasoner", PROMPT, stream=True, use_cache=False)
    assert answer.ok and server.count() == 1
    assert answer.ttft_s is not None and answer.ttft_s >= 0.2
    assert answer.latency_s is not None and answer.latency_s >= answer.ttft_s + 0.05
    assert answer.tpot_s == pytest.approx((answer.latency_s - answer.ttft_s) / 211)
