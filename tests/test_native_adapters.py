"""The Anthropic and Google adapters, checked at the HTTP level with respx.

Both SDKs (anthropic 2.12, google-genai 3.4) send through httpx2, a fork of httpx under its own import
name, which respx does not patch. ``HTTPCore2Mocker`` below teaches respx to intercept httpx2's
transport (httpcore2) the way it intercepts httpcore, so the tests see exactly what the SDKs send.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import httpcore2
import httpx
import pytest
import respx
from respx.mocks import HTTPCoreMocker

from helpers import ask, ask_async, catalog
from helpers.providers import anthropic_native, base, google_native
from helpers.providers.base import Request


class HTTPCore2Mocker(HTTPCoreMocker):
    """respx's httpcore mocker, pointed at httpcore2 (the transport under httpx2)."""

    name = "httpcore2"
    targets: ClassVar[list[str]] = [
        "httpcore2._sync.connection.HTTPConnection",
        "httpcore2._sync.connection_pool.ConnectionPool",
        "httpcore2._sync.http_proxy.HTTPProxy",
        "httpcore2._async.connection.AsyncHTTPConnection",
        "httpcore2._async.connection_pool.AsyncConnectionPool",
        "httpcore2._async.http_proxy.AsyncHTTPProxy",
    ]

    @classmethod
    def from_sync_httpx_response(cls, httpx_response: httpx.Response, target: Any, **kwargs: Any) -> Any:
        return httpcore2.Response(status=httpx_response.status_code, headers=httpx_response.headers.raw,
                                  content=httpx_response.stream, extensions=httpx_response.extensions)


ANTHROPIC = "https://anthropic.test"
GOOGLE = "https://google.test"
ANTHROPIC_KEY = "sk-ant-" + "api03-test-key-0123456789"
GOOGLE_KEY = "AIza" + "TestKey0123456789abcdef"
FAST_RETRY = {"retry-after-ms": "1"}  # anthropic's SDK waits what the server asks


@pytest.fixture
def mock(monkeypatch: pytest.MonkeyPatch) -> Iterator[respx.MockRouter]:
    """Keys and base URLs for both providers, fresh SDK clients, fast Google retries, a respx router."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", ANTHROPIC)
    monkeypatch.setenv("GOOGLE_API_KEY", GOOGLE_KEY)
    monkeypatch.setenv("GOOGLE_BASE_URL", GOOGLE)
    monkeypatch.setattr(base, "_async_clients", weakref.WeakKeyDictionary())
    from google.genai import _api_client

    monkeypatch.setattr(_api_client, "_RETRY_INITIAL_DELAY", 0.001)
    monkeypatch.setattr(_api_client, "_RETRY_JITTER", 0)
    with respx.mock(using="httpcore2", assert_all_called=False) as router:
        yield router


def sent(route: respx.Route, i: int = -1) -> dict[str, Any]:
    return json.loads(route.calls[i].request.content)


# ---------------------------------------------------------------------------------------------- Anthropic

HAIKU = "anthropic/claude-haiku-4-5"
DOC = "A long static reference document. " * 40


def message(text: str = "Four.", *, thinking: str | None = None, stop: str = "end_turn", **usage: int) -> dict:
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    if thinking:
        content.insert(0, {"type": "thinking", "thinking": thinking, "signature": "c2ln"})
    return {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001",
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 87, "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": 0, **usage}}


def error(kind: str, text: str) -> dict:
    return {"type": "error", "error": {"type": kind, "message": text}}


def test_anthropic_request_shape_and_cache_read_cost(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(200, json=message(cache_read_input_tokens=5120))
    answer = ask(HAIKU, [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Use words."},
                         {"role": "user", "content": DOC}, {"role": "assistant", "content": "Read it."},
                         {"role": "user", "content": "What is 2+2?"}],
                 temperature=0.3, top_p=0.9, stop="END", cache_prompt=True, use_cache=False)
    assert answer.ok, answer.error
    request = route.calls.last.request
    assert request.url.path == "/v1/messages"
    # anthropic 2.12 sends the key as a bearer token, not x-api-key
    assert request.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}" and "x-api-key" not in request.headers
    assert request.headers["anthropic-version"]
    cache = {"type": "ephemeral"}
    assert sent(route) == {
        "model": "claude-haiku-4-5", "max_tokens": 1024, "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "Be brief.\n\nUse words.", "cache_control": cache}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": DOC, "cache_control": cache}]},
                     {"role": "assistant", "content": "Read it."},
                     {"role": "user", "content": "What is 2+2?"}]}
    # API version 2026-10-21 rejects sampling parameters, so they are left out and listed
    assert answer.extra["ignored_params"] == ["temperature", "top_p"]
    assert (answer.text, answer.model_reported, answer.finish_reason) == ("Four.", "claude-haiku-4-5-20251001", "stop")
    u = answer.usage
    assert (u.prompt_tokens, u.cached_tokens, u.cache_write_tokens, u.completion_tokens) == (5132, 5120, 0, 87)
    # Haiku 4.5: $1/M input, $0.10/M cache read, $5/M output
    assert answer.cost_usd == pytest.approx((12 * 1 + 5120 * 0.10 + 87 * 5) / 1e6, rel=1e-9)


def test_anthropic_cache_write_cost_and_plain_request(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(200, json=message(cache_creation_input_tokens=5120))
    answer = ask(HAIKU, "What is 2+2?", system="Be brief.", seed=7, use_cache=False)
    body = sent(route)
    assert body == {"model": "claude-haiku-4-5", "max_tokens": 1024, "system": "Be brief.",
                    "messages": [{"role": "user", "content": "What is 2+2?"}]}
    assert answer.extra["ignored_params"] == ["seed"]
    u = answer.usage
    assert (u.prompt_tokens, u.cached_tokens, u.cache_write_tokens) == (5132, 0, 5120)
    # $1/M input, $1.25/M cache write, $5/M output
    assert answer.cost_usd == pytest.approx((12 * 1 + 5120 * 1.25 + 87 * 5) / 1e6, rel=1e-9)


@pytest.mark.parametrize(("effort", "budget", "max_tokens"), [("low", 1024, 1524), ("medium", 4096, 4596),
                                                              ("high", 16384, 16884), ("minimal", None, 500),
                                                              ("none", None, 500)])
def test_anthropic_thinking_budget(mock: respx.MockRouter, effort: str, budget: int | None, max_tokens: int) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(
        200, json=message("x = 2", thinking="Factor: (x-2)^2 = 0." if budget else None,
                          output_tokens_details={"thinking_tokens": 40} if budget else None))
    answer = ask(HAIKU, "Solve x^2 - 4x + 4 = 0", reasoning_effort=effort, max_tokens=500, use_cache=False)
    body = sent(route)
    assert body["max_tokens"] == max_tokens
    assert body.get("thinking") == ({"type": "enabled", "budget_tokens": budget} if budget else None)
    assert answer.text == "x = 2"
    assert answer.reasoning == ("Factor: (x-2)^2 = 0." if budget else "")
    assert answer.usage.reasoning_tokens == (40 if budget else None)


def test_anthropic_max_tokens_is_length(mock: respx.MockRouter) -> None:
    mock.post(f"{ANTHROPIC}/v1/messages").respond(200, json=message("The answer is", stop="max_tokens"))
    answer = ask(HAIKU, "Count to 100", max_tokens=3, use_cache=False)
    assert answer.ok and answer.finish_reason == "length"


def test_anthropic_401_names_the_key_variable(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(401, json=error("authentication_error", "invalid x-api-key"))
    answer = ask(HAIKU, "hi", use_cache=False)
    assert answer.error_kind == "auth" and "ANTHROPIC_API_KEY" in answer.error and "invalid x-api-key" in answer.error
    assert ANTHROPIC_KEY not in answer.error
    assert route.call_count == 1  # 401 is not retried


def test_anthropic_404_is_unknown_model(mock: respx.MockRouter) -> None:
    mock.post(f"{ANTHROPIC}/v1/messages").respond(404, json=error("not_found_error", "model: claude-nope"))
    answer = ask("anthropic/claude-nope", "hi", max_retries=0, use_cache=False)
    assert answer.error_kind == "unknown_model" and "claude-nope" in answer.error


def test_anthropic_429_then_200_is_retried(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages")
    route.side_effect = [httpx.Response(429, json=error("rate_limit_error", "slow down"), headers=FAST_RETRY),
                         httpx.Response(200, json=message())]
    answer = ask(HAIKU, "hi", max_retries=2, use_cache=False)
    assert answer.ok and answer.text == "Four." and route.call_count == 2


def test_anthropic_500_exhausted_is_provider_error(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(500, json=error("api_error", "Internal"), headers=FAST_RETRY)
    answer = ask(HAIKU, "hi", max_retries=1, use_cache=False)
    assert answer.error_kind == "provider" and "500" in answer.error and route.call_count == 2


@pytest.mark.parametrize(("spec", "url", "variable"), [
    (HAIKU, "https://anthropic.test/v1/messages", "ANTHROPIC_BASE_URL"),
    ("google/gemini-2.5-flash-lite", "https://google.test/v1/models/gemini-2.5-flash-lite:generateContent",
     "GOOGLE_BASE_URL")])
@pytest.mark.parametrize(("failure", "kind"), [(httpcore2.ConnectError("refused"), "connection"),
                                               (httpcore2.ReadTimeout("slow"), "timeout")])
def test_transport_failures(mock: respx.MockRouter, spec: str, url: str, variable: str, failure: Exception,
                            kind: str) -> None:
    route = mock.post(url).mock(side_effect=failure)
    answer = ask(spec, "hi", max_retries=0, timeout=2, use_cache=False)
    assert answer.error_kind == kind and route.call_count == 1
    assert (variable if kind == "connection" else "2 s") in answer.error


def sse(events: list[dict[str, Any]]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


STREAM_START = [
    {"type": "message_start", "message": {
        "id": "msg_02", "type": "message", "role": "assistant", "model": "claude-haiku-4-5-20251001", "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048,
                  "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Two and two..."}},
    {"type": "content_block_stop", "index": 0},
    {"type": "ping"},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Two plus two "}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "is four."}},
]
STREAM_END = [
    {"type": "content_block_stop", "index": 1},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
     "usage": {"output_tokens": 15}},
    {"type": "message_stop"},
]


def test_anthropic_stream(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(
        200, content=sse(STREAM_START + STREAM_END), headers={"content-type": "text/event-stream"})
    pieces: list[str] = []
    answer = ask(HAIKU, "2+2?", on_text=pieces.append, use_cache=False)
    assert sent(route)["stream"] is True
    assert answer.ok and answer.text == "Two plus two is four." and pieces == ["Two plus two ", "is four."]
    assert answer.reasoning == "Two and two..." and answer.finish_reason == "stop" and not answer.incomplete
    assert answer.ttft_s is not None and 0 <= answer.ttft_s <= answer.latency_s
    u = answer.usage
    assert (u.prompt_tokens, u.cached_tokens, u.cache_write_tokens, u.completion_tokens) == (2068, 2048, 0, 15)
    assert answer.cost_usd == pytest.approx((20 * 1 + 2048 * 0.10 + 15 * 5) / 1e6, rel=1e-9)


def test_anthropic_stream_cut_keeps_partial_text(mock: respx.MockRouter) -> None:
    async def body() -> AsyncIterator[bytes]:  # every call runs on the async transport
        yield sse(STREAM_START)
        raise httpcore2.ReadError("connection reset")

    mock.post(f"{ANTHROPIC}/v1/messages").mock(side_effect=lambda request: httpx.Response(
        200, content=body(), headers={"content-type": "text/event-stream"}))
    answer = ask(HAIKU, "2+2?", stream=True, max_retries=0, use_cache=False)
    assert answer.incomplete and answer.error_kind == "incomplete"
    assert answer.text == "Two plus two is four." and answer.finish_reason is None
    assert answer.usage.prompt_tokens == 2068  # what message_start reported


def test_anthropic_stream_ending_without_stop_is_incomplete(mock: respx.MockRouter) -> None:
    mock.post(f"{ANTHROPIC}/v1/messages").respond(200, content=sse(STREAM_START),
                                                  headers={"content-type": "text/event-stream"})
    answer = ask(HAIKU, "2+2?", stream=True, use_cache=False)
    assert answer.incomplete and answer.text == "Two plus two is four."


async def test_anthropic_async(mock: respx.MockRouter) -> None:
    route = mock.post(f"{ANTHROPIC}/v1/messages").respond(200, json=message("Async four."))
    answer = await ask_async(HAIKU, "2+2?", use_cache=False)
    assert answer.ok and answer.text == "Async four." and answer.usage.completion_tokens == 87
    assert route.calls.last.request.headers["x-stainless-async"] != "false"


async def test_anthropic_async_stream(mock: respx.MockRouter) -> None:
    mock.post(f"{ANTHROPIC}/v1/messages").respond(200, content=sse(STREAM_START + STREAM_END),
                                                  headers={"content-type": "text/event-stream"})
    answer = await ask_async(HAIKU, "2+2?", stream=True, use_cache=False)
    assert answer.ok and answer.text == "Two plus two is four." and answer.usage.completion_tokens == 15
    assert answer.ttft_s is not None


def request_for(spec_provider: str, model: str) -> Request:
    provider = catalog.provider(spec_provider)
    return Request(provider=provider, model=model, messages=[], api_key=provider.api_key(),
                   base_url=provider.base_url, spec=f"{spec_provider}/{model}")


def test_anthropic_list_models(mock: respx.MockRouter) -> None:
    mock.get(f"{ANTHROPIC}/v1/models").respond(200, json={
        "data": [{"type": "model", "id": "claude-sonnet-4-5", "display_name": "Sonnet",
                  "created_at": "2025-09-29T00:00:00Z"},
                 {"type": "model", "id": "claude-haiku-4-5", "display_name": "Haiku",
                  "created_at": "2025-10-01T00:00:00Z"}],
        "has_more": False, "first_id": "claude-sonnet-4-5", "last_id": "claude-haiku-4-5"})
    assert (anthropic_native.Anthropic().list_models(request_for("anthropic", ""))
            == ["claude-haiku-4-5", "claude-sonnet-4-5"])


# ------------------------------------------------------------------------------------------------- Google

FLASH = "google/gemini-2.5-flash-lite"
GENERATE = f"{GOOGLE}/v1/models/gemini-2.5-flash-lite:generateContent"
STREAM = f"{GOOGLE}/v1/models/gemini-2.5-flash-lite:streamGenerateContent"


def gemini(parts: list[dict[str, Any]], finish: str | None = "STOP", **usage: int) -> dict:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-2.5-flash-lite-001", "responseId": "r1",
            "usageMetadata": usage}


def google_error(code: int, status: str, text: str) -> dict:
    return {"error": {"code": code, "message": text, "status": status}}


def test_google_request_shape_usage_and_reasoning(mock: respx.MockRouter) -> None:
    route = mock.post(GENERATE).respond(200, json=gemini(
        [{"text": "Both are heads or...", "thought": True}, {"text": "2/3"}],
        promptTokenCount=14, candidatesTokenCount=3, thoughtsTokenCount=7, cachedContentTokenCount=4,
        totalTokenCount=24))
    answer = ask(FLASH, [{"role": "system", "content": "Answer with a fraction."},
                         {"role": "user", "content": "Two coins..."}, {"role": "assistant", "content": "Go on."},
                         {"role": "user", "content": "P(other is tails)?"}],
                 temperature=0.2, top_p=0.8, max_tokens=256, seed=11, stop=["END"], reasoning_effort="low",
                 use_cache=False)
    assert answer.ok, answer.error
    request = route.calls.last.request
    assert request.url.path == "/v1/models/gemini-2.5-flash-lite:generateContent"
    assert request.headers["x-goog-api-key"] == GOOGLE_KEY
    assert sent(route) == {
        "contents": [{"role": "user", "parts": [{"text": "Two coins..."}]},
                     {"role": "model", "parts": [{"text": "Go on."}]},
                     {"role": "user", "parts": [{"text": "P(other is tails)?"}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": "Answer with a fraction."}]},
        "generationConfig": {"temperature": 0.2, "topP": 0.8, "maxOutputTokens": 256, "seed": 11,
                             "stopSequences": ["END"],
                             # google-genai 3.4 sends these two keys in snake_case
                             "thinkingConfig": {"thinking_budget": 1024, "include_thoughts": True}}}
    assert (answer.text, answer.reasoning) == ("2/3", "Both are heads or...")
    assert (answer.model_reported, answer.finish_reason) == ("gemini-2.5-flash-lite-001", "stop")
    u = answer.usage
    assert (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens, u.cached_tokens) == (14, 10, 7, 4)
    assert answer.cost_usd is not None and answer.cost_usd > 0 and "genai-prices" in answer.cost_note


@pytest.mark.parametrize(("effort", "config"), [
    ("none", {"thinking_budget": 0, "include_thoughts": False}),
    ("medium", {"thinking_budget": 8192, "include_thoughts": True}),
    ("high", {"thinking_budget": 24576, "include_thoughts": True}),
    (None, None)])
def test_google_thinking_budget(mock: respx.MockRouter, effort: str | None, config: dict | None) -> None:
    route = mock.post(GENERATE).respond(200, json=gemini([{"text": "ok"}], promptTokenCount=3, candidatesTokenCount=1))
    ask(FLASH, "hi", reasoning_effort=effort, use_cache=False)
    assert sent(route).get("generationConfig", {}).get("thinkingConfig") == config


def test_google_max_tokens_is_length(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).respond(200, json=gemini([{"text": "The"}], finish="MAX_TOKENS", promptTokenCount=3,
                                                 candidatesTokenCount=1))
    assert ask(FLASH, "hi", max_tokens=1, use_cache=False).finish_reason == "length"


def test_google_bad_key_is_auth_error(mock: respx.MockRouter) -> None:
    route = mock.post(GENERATE).respond(400, json=google_error(
        400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."))
    answer = ask(FLASH, "hi", use_cache=False)
    assert answer.error_kind == "auth" and "GOOGLE_API_KEY" in answer.error and route.call_count == 1


def test_google_404_is_unknown_model(mock: respx.MockRouter) -> None:
    mock.post(f"{GOOGLE}/v1/models/gemini-nope:generateContent").respond(404, json=google_error(
        404, "NOT_FOUND", "models/gemini-nope is not found for API version v1"))
    answer = ask("google/gemini-nope", "hi", max_retries=0, use_cache=False)
    assert answer.error_kind == "unknown_model" and "gemini-nope" in answer.error


def test_google_429_then_200_is_retried(mock: respx.MockRouter) -> None:
    route = mock.post(GENERATE)
    route.side_effect = [httpx.Response(429, json=google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded")),
                         httpx.Response(200, json=gemini([{"text": "ok"}], promptTokenCount=3, candidatesTokenCount=1))]
    answer = ask(FLASH, "hi", max_retries=2, use_cache=False)
    assert answer.ok and route.call_count == 2


def test_google_500_exhausted_is_provider_error(mock: respx.MockRouter) -> None:
    route = mock.post(GENERATE).respond(500, json=google_error(500, "INTERNAL", "Internal error"))
    answer = ask(FLASH, "hi", max_retries=1, use_cache=False)
    assert answer.error_kind == "provider" and route.call_count == 2


def google_sse(chunks: list[dict[str, Any]]) -> bytes:
    return "".join(f"data: {json.dumps(c)}\r\n\r\n" for c in chunks).encode()


GOOGLE_CHUNKS = [
    gemini([{"text": "Thinking it over.", "thought": True}], finish=None, promptTokenCount=9),
    gemini([{"text": "Fifty-"}], finish=None, promptTokenCount=9),
    gemini([{"text": "five."}], finish="STOP", promptTokenCount=9, candidatesTokenCount=4, thoughtsTokenCount=6),
]


def test_google_stream(mock: respx.MockRouter) -> None:
    route = mock.post(STREAM).respond(200, content=google_sse(GOOGLE_CHUNKS),
                                      headers={"content-type": "text/event-stream"})
    pieces: list[str] = []
    answer = ask(FLASH, "Sum 1..10", on_text=pieces.append, use_cache=False)
    assert route.calls.last.request.url.params["alt"] == "sse"
    assert answer.ok and answer.text == "Fifty-five." and pieces == ["Fifty-", "five."]
    assert answer.reasoning == "Thinking it over." and answer.finish_reason == "stop"
    assert answer.ttft_s is not None and 0 <= answer.ttft_s <= answer.latency_s
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (9, 10)


def test_google_stream_without_finish_is_incomplete(mock: respx.MockRouter) -> None:
    mock.post(STREAM).respond(200, content=google_sse(GOOGLE_CHUNKS[:2]), headers={"content-type": "text/event-stream"})
    answer = ask(FLASH, "Sum 1..10", stream=True, use_cache=False)
    assert answer.incomplete and answer.text == "Fifty-"


def test_google_stream_error_before_text_is_the_real_error(mock: respx.MockRouter) -> None:
    mock.post(STREAM).respond(400, json=google_error(400, "INVALID_ARGUMENT", "API key not valid."))
    answer = ask(FLASH, "hi", stream=True, use_cache=False)
    assert answer.error_kind == "auth"


async def test_google_async_and_stream(mock: respx.MockRouter) -> None:
    mock.post(GENERATE).respond(200, json=gemini([{"text": "async ok"}], promptTokenCount=3, candidatesTokenCount=2))
    mock.post(STREAM).respond(200, content=google_sse(GOOGLE_CHUNKS), headers={"content-type": "text/event-stream"})
    answer = await ask_async(FLASH, "hi", use_cache=False)
    assert answer.ok and answer.text == "async ok" and answer.usage.completion_tokens == 2
    streamed = await ask_async(FLASH, "Sum 1..10", stream=True, use_cache=False)
    assert streamed.ok and streamed.text == "Fifty-five." and streamed.ttft_s is not None


def test_google_list_models(mock: respx.MockRouter) -> None:
    route = mock.get(url__startswith=f"{GOOGLE}/v1/models").respond(200, json={"models": [
        {"name": "models/gemini-2.5-flash"}, {"name": "models/gemini-2.5-flash-lite"}]})
    assert (google_native.Google().list_models(request_for("google", ""))
            == ["gemini-2.5-flash", "gemini-2.5-flash-lite"])
    assert route.calls.last.request.headers["x-goog-api-key"] == GOOGLE_KEY


def test_google_rejects_non_text_blocks(mock: respx.MockRouter) -> None:
    answer = ask(FLASH, [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
                 use_cache=False)
    assert answer.error_kind == "config" and "text blocks" in answer.error
