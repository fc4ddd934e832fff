"""The wire readers (helpers.providers.wire) on the recorded bodies themselves: error text, quota or rate
limit, the wait a reply asks for, and usage found in provider-specific places."""

from __future__ import annotations

import pytest

from helpers.providers import wire
from tests.fakes.replay_server import load


def body(name: str):
    return load(name)["response"]["body"]


@pytest.mark.parametrize(("name", "text"), [
    ("xai/error_400_key_string", ("Incorrect API key provided: ba***na. You can obtain an API key from "
                                 "https://console.x.ai.")),
    ("xai/error_400_string_other", "The model expects a single `text` element per message."),
    ("openrouter/error_429_raw", ("Provider returned error (Google: google/gemini-2.0-flash-exp:free is "
                                 "temporarily rate-limited upstream. Please retry shortly, or add your own key "
                                 "to accumulate your rate limits: https://openrouter.ai/settings/integrations)")),
    ("anthropic/error_529_overloaded", "Overloaded"),
    ("google/error_400_key_invalid", "API key not valid. Please pass a valid API key."),
])
def test_error_text(name: str, text: str) -> None:
    assert wire.error_text(body(name)) == text


@pytest.mark.parametrize(("name", "status", "quota"), [
    ("openai/error_429_no_quota", 429, True),
    ("openai/error_429_rate_limit", 429, False),
    ("google/error_429_quota", 429, False),  # per-minute free tier, with a RetryInfo: a rate limit
    ("groq/error_429_retry_after", 429, False),
    ("anthropic/error_429_rate_limit", 429, False),
    ("openrouter/error_429_raw", 429, False),
    ("openai/error_401_key", 401, False),
])
def test_no_quota(name: str, status: int, quota: bool) -> None:
    assert wire.no_quota(status, body(name)) is quota


@pytest.mark.parametrize(("name", "seconds"), [
    ("google/error_429_quota", 58.0),
    ("groq/error_429_retry_after", 5.289),
    ("openai/error_429_rate_limit", 0.976),
    ("openai/error_429_no_quota", None),
])
def test_wait_from_body(name: str, seconds: float | None) -> None:
    assert wire.wait_from_body(body(name)) == (pytest.approx(seconds) if seconds is not None else None)


def test_wait_from_headers() -> None:
    assert wire.wait_from_headers(load("groq/error_429_retry_after")["response"]["headers"]) == 2.0
    assert wire.wait_from_headers({"Retry-After-Ms": "1500"}) == 1.5
    assert wire.wait_from_headers(load("anthropic/error_529_overloaded")["response"]["headers"]) is None
    assert wire.fmt_wait(2.0) == "2 s" and wire.fmt_wait(0.976) == "0.98 s" and wire.fmt_wait(61) == "1 min 1 s"


def test_stream_error_status() -> None:
    events = load("groq/stream_error_event")["response"]["body"]
    import json

    error = json.loads(next(line for line in events if line.startswith('data: {"error"'))[6:])
    assert wire.embedded_status(error) == 400
    assert wire.embedded_status({"error": {"code": 400, "message": "Token limit reached"}}) == 400


@pytest.mark.parametrize(("name", "numbers"), [
    ("openai/cache_write", (4020, 4, 0, 0, 4012, None)),
    ("openrouter/cache_read_write_cost", (3329, 53, 3211, 0, 115, 0.00219855)),
    ("gemini_compat/total_above_parts", (66, 34, None, 28, None, None)),  # 100 - 66 - 6 = 28 thinking tokens
    ("deepseek/cache_hit", (976, 61, 896, 25, None, None)),
    ("groq/plain_llama", (48, 8, None, None, None, None)),
])
def test_usage_numbers(name: str, numbers: tuple) -> None:
    got = wire.usage_numbers(body(name)["usage"])
    assert tuple(got[k] for k in ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens",
                                  "cache_write_tokens", "provider_cost")) == numbers
