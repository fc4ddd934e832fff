"""Conformance, failures: real recorded error bodies (HTTP errors, error events inside streams, answers cut
at the token limit) replayed on loopback. Each case asserts the error's kind, that the message keeps the
provider's own words, the fix the hint names, how many requests were sent (retried or not), and what the
run log holds — including the tokens a failed answer was billed for. Ollama's native API is at the end."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from helpers import ask, errors
from helpers.providers import ollama
from tests.fakes.conformance import WIRING, genai_price, logged, replaying

PROMPT = "Please answer."


@dataclass(frozen=True)
class ErrorCase:
    recording: str
    spec: str
    kind: str
    says: tuple[str, ...]  # in the message: the provider's words and what we add
    fix: tuple[str, ...]  # in the message's hint (the fix)
    requests: int = 1
    params: dict = field(default_factory=dict)
    not_fix: tuple[str, ...] = ()  # advice that would be wrong here


ERRORS = [
    ErrorCase("openai/error_401_key", "openai/gpt-4o-mini", "auth",
              ("401", "Incorrect API key provided", "OPENAI_API_KEY"), ("keys",), params={"max_retries": 2}),
    # no quota: waiting never helps, so it is not retried and the fix is billing
    ErrorCase("openai/error_429_no_quota", "openai/gpt-4o-mini", "quota",
              ("no quota", "You exceeded your current quota"), ("billing", "platform.openai.com"),
              params={"max_retries": 2}, not_fix=("wait a little",)),
    ErrorCase("openai/error_429_rate_limit", "openai/gpt-4o-mini", "rate_limit",
              ("429", "Rate limit reached for gpt-4o-mini", "976ms"), ("Wait",), params={"max_retries": 0}),
    ErrorCase("anthropic/error_401_key", "anthropic/claude-haiku-4-5", "auth",
              ("401", "invalid x-api-key", "ANTHROPIC_API_KEY"), ("keys",), params={"max_retries": 2}),
    ErrorCase("anthropic/error_404_model", "anthropic/claude-does-not-exist", "unknown_model",
              ("claude-does-not-exist",), ("models anthropic",), params={"max_retries": 0}),
    ErrorCase("anthropic/error_529_overloaded", "anthropic/claude-haiku-4-5", "provider",
              ("529", "Overloaded"), ("try again",), params={"max_retries": 0}),
    ErrorCase("anthropic/error_429_rate_limit", "anthropic/claude-haiku-4-5", "rate_limit",
              ("429", "per-minute rate limit"), ("Wait",), params={"max_retries": 0}),
    ErrorCase("google/error_400_key_invalid", "google/gemini-2.5-flash", "auth",
              ("API key not valid", "GOOGLE_API_KEY"), ("keys",), params={"max_retries": 2}),
    # a per-minute free-tier limit worded as a quota: a rate limit whose wait (58 s) is reported
    ErrorCase("google/error_429_quota", "google/gemini-2.5-flash", "rate_limit",
              ("429", "Quota exceeded for metric", "58 s"), ("Wait",), params={"max_retries": 0}),
    # xAI answers a bad key with 400 and `error` as a plain (percent-encoded) string
    ErrorCase("xai/error_400_key_string", "grok/grok-4", "auth",
              ("Incorrect API key provided", "GROK_API_KEY"), ("keys",), params={"max_retries": 2},
              not_fix=("Check the parameters sent",)),
    ErrorCase("xai/error_400_string_other", "grok/grok-4", "bad_request",
              ("400", "The model expects a single `text` element per message."), ("parameters",)),
    ErrorCase("groq/error_429_retry_after", "groq/llama-3.3-70b-versatile", "rate_limit",
              ("429", "Please try again in 5.289s", "2 s"), ("Wait",), params={"max_retries": 0}),
    ErrorCase("openrouter/error_429_raw", "openrouter/google/gemini-2.0-flash-exp:free", "rate_limit",
              ("429", "Provider returned error", "temporarily rate-limited upstream", "Google"), ("Wait",),
              params={"max_retries": 0}),
    # an error event inside a 200 stream, before any text: the provider's message, not "the stream ended"
    ErrorCase("groq/stream_error_event", "groq/openai/gpt-oss-120b", "bad_request",
              ("Tool call validation failed",), ("parameters",), params={"stream": True},
              not_fix=("stream ended",)),
]


@pytest.mark.parametrize("case", ERRORS, ids=[c.recording for c in ERRORS])
def test_replayed_error(case: ErrorCase, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = case.spec.split("/", 1)[0]
    with replaying(monkeypatch, provider, case.recording) as server:
        answer = ask(case.spec, PROMPT, use_cache=False, **case.params)
    assert not answer.ok
    assert server.count() == case.requests
    assert answer.error_kind == case.kind, answer.error
    for words in case.says:  # the message (the provider's words and ours) ...
        assert words in answer.error, (words, answer.error)
    for words in case.fix:  # ... and the hint naming the fix, which follows it
        assert words.lower() in answer.error.lower(), (words, answer.error)
    for words in case.not_fix:
        assert words.lower() not in answer.error.lower(), (words, answer.error)
    key = WIRING[provider].key
    assert key and key not in answer.error and key[-12:] not in answer.error
    row = logged(answer)
    assert row["error_kind"] == case.kind and row["error"] == answer.error
    assert row["prompt_tokens"] is None and row["cost_usd"] is None  # nothing billed was reported


def test_no_quota_error_type_is_its_own_class(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "openai", "openai/error_429_no_quota"), pytest.raises(errors.LabError) as caught:
        ask("openai/gpt-4o-mini", PROMPT, use_cache=False, raise_errors=True)
    assert caught.value.kind == "quota" and "billing" in str(caught.value).lower()


def test_retry_after_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Groq's 429 says retry-after: 2 — the retry waits at least that long, and the wait is reported."""
    with replaying(monkeypatch, "groq", "groq/error_429_retry_after") as server:
        answer = ask("groq/llama-3.3-70b-versatile", PROMPT, use_cache=False, max_retries=1)
    assert answer.error_kind == "rate_limit" and server.count() == 2
    assert server.requests[1].at - server.requests[0].at >= 2.0
    assert "2 s" in answer.error


def test_overloaded_is_retried_when_the_server_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "anthropic", "anthropic/error_529_overloaded") as server:
        answer = ask("anthropic/claude-haiku-4-5", PROMPT, use_cache=False, max_retries=1)
    assert answer.error_kind == "provider" and server.count() == 2  # x-should-retry: true


# -------------------------------------------------------------------- failed answers that were still billed

def test_google_token_limit_without_text_keeps_billed_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "google", "google/max_tokens_no_text") as server:
        answer = ask("google/gemini-2.5-pro", PROMPT, max_tokens=5, use_cache=False)
    assert server.requests[0].json["generationConfig"]["maxOutputTokens"] == 5
    assert not answer.ok and answer.error_kind == "empty" and "max_tokens" in answer.error
    assert answer.finish_reason == "length" and answer.model_reported == "gemini-2.5-pro"
    u = answer.usage
    assert (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens) == (15, 2, 2)  # 2 thought tokens billed
    assert answer.cost_usd == pytest.approx(genai_price("google", "gemini-2.5-pro", 15, 2), rel=1e-9)
    assert answer.g_co2e is not None or answer.emissions.notes
    row = logged(answer)
    assert (row["prompt_tokens"], row["completion_tokens"], row["reasoning_tokens"]) == (15, 2, 2)
    assert row["cost_usd"] == answer.cost_usd and row["error_kind"] == "empty"


def test_openrouter_error_event_mid_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model spent max_tokens on reasoning; OpenRouter then sent an `error` chunk ('Token limit
    reached') with the billed usage. The answer says so and keeps what was billed and thought."""
    with replaying(monkeypatch, "openrouter", "openrouter/stream_error_midway") as server:
        answer = ask("openrouter/minimax/minimax-m2:free", "Hello there", max_tokens=10, stream=True,
                     use_cache=False)
    assert server.requests[0].json["max_tokens"] == 10 and server.requests[0].json["stream"] is True
    assert not answer.ok and answer.error_kind == "empty"
    assert "Token limit reached" in answer.error and "max_tokens" in answer.error
    assert "stream ended before any text" not in answer.error
    assert answer.reasoning == "We need to respond to a greeting. The user"
    assert answer.finish_reason == "length" and answer.model_reported == "minimax/minimax-m2:free"
    u = answer.usage
    assert (u.prompt_tokens, u.completion_tokens, u.cached_tokens, u.reasoning_tokens) == (43, 10, 0, 11)
    assert answer.extra["provider_cost_usd"] == 0
    assert answer.cost_usd is None and "minimax/minimax-m2:free" in answer.cost_note  # genai-prices has no price
    row = logged(answer)
    assert (row["prompt_tokens"], row["completion_tokens"]) == (43, 10) and row["error_kind"] == "empty"


# ------------------------------------------------------------------------------------ Ollama's native API

def test_ollama_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "ollama", "ollama/api_tags") as server:
        found = ollama.models(server.base_url)
    assert server.requests[0].method == "GET" and server.requests[0].path == "/api/tags"
    assert [(m.name, m.size_bytes, m.parameter_size, m.quantization, m.family) for m in found] == [
        ("deepseek-r1:latest", 4683075271, "7.6B", "Q4_K_M", "qwen2"),
        ("llama3.2:latest", 2019393189, "3.2B", "Q4_K_M", "llama")]
    assert [m.spec for m in found] == ["ollama/deepseek-r1", "ollama/llama3.2"]


def test_ollama_chat_speed(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "ollama", "ollama/api_chat") as server:
        stats = ollama.chat_stats("llama3.2", "why is the sky blue?", url=server.base_url)
    assert server.requests[0].path == "/api/chat"
    assert server.requests[0].json == {"model": "llama3.2", "stream": False,
                                       "messages": [{"role": "user", "content": "why is the sky blue?"}]}
    assert (stats.model, stats.text) == ("llama3.2", "Hello! How are you today?")
    assert (stats.prompt_tokens, stats.completion_tokens) == (26, 298)
    assert stats.tokens_per_second == pytest.approx(298 / 4.799921)  # eval_count / eval_duration (ns)
    assert stats.prompt_tokens_per_second == pytest.approx(26 / 0.383809)
    assert (stats.eval_s, stats.load_s, stats.total_s) == pytest.approx((4.799921, 0.002154458, 5.191566416))


def test_ollama_pull_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "ollama", "ollama/api_pull_progress") as server:
        events = ollama.pull("llama3.2", url=server.base_url, progress=False)
    assert server.requests[0].path == "/api/pull"
    assert server.requests[0].json == {"model": "llama3.2", "stream": True}
    assert [e["status"] for e in events] == ["pulling manifest", "pulling digestname", "verifying sha256 digest",
                                             "writing manifest", "removing any unused layers", "success"]
    assert (events[1]["total"], events[1]["completed"]) == (2142590208, 241970)


def test_ollama_pull_error_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "ollama", "ollama/api_pull_error") as server, \
            pytest.raises(errors.UnknownModelError) as caught:
        ollama.pull("orca", url=server.base_url, progress=False)
    assert server.count() == 1
    assert "pull model manifest: file does not exist" in caught.value.message
    assert "ollama.com/library" in caught.value.hint
