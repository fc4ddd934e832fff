"""Adapter for every OpenAI-compatible chat API (OpenAI, Gemini's endpoint, DeepSeek, Groq, xAI,
OpenRouter, Ollama, the bundled engine).

Requests go through the official openai SDK (its retries honour Retry-After). We call the client's
low-level ``post`` rather than ``chat.completions.create``: api-emissions-tracker replaces ``create``
process-wide when imported, and its wrapper breaks streamed calls and responses without usage.
"""

from __future__ import annotations

import time
from typing import Any

from helpers import errors
from helpers.answer import Answer, Usage
from helpers.providers.base import Request, StreamState, cached_client, describe, fill, sdk_message, timed

SAMPLING = ("temperature", "top_p", "seed", "stop", "reasoning_effort", "frequency_penalty", "presence_penalty")


def client(request: Request, use_async: bool = False):
    """A cached openai client for this base URL, key, timeout and retry count (async: per event loop)."""
    import openai

    cls = openai.AsyncOpenAI if use_async else openai.OpenAI
    return cached_client(request, "openai", lambda key: cls(api_key=key, base_url=request.base_url,
                                                            timeout=request.timeout,
                                                            max_retries=request.max_retries), use_async)


def body(request: Request) -> dict[str, Any]:
    """The JSON body sent to ``/chat/completions``."""
    p = request.params
    out: dict[str, Any] = {"model": request.model, "messages": request.messages}
    for name in SAMPLING:
        if p.get(name) is not None:
            out[name] = p[name]
    if p.get("max_tokens") is not None:
        # OpenAI's reasoning models accept only max_completion_tokens; other servers know max_tokens.
        out["max_completion_tokens" if request.provider.name == "openai" else "max_tokens"] = p["max_tokens"]
    if p.get("stream") or request.on_text is not None:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    out.update(p.get("extra_body") or {})
    return out


def parse_usage(raw: Any) -> Usage:
    """Usage from an OpenAI-style usage object or dict (DeepSeek's cache-hit field included)."""
    if raw is None:
        return Usage()
    data = raw if isinstance(raw, dict) else raw.model_dump()
    prompt_details = data.get("prompt_tokens_details") or {}
    completion_details = data.get("completion_tokens_details") or {}
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = data.get("prompt_cache_hit_tokens")
    return Usage(prompt_tokens=data.get("prompt_tokens"), completion_tokens=data.get("completion_tokens"),
                 cached_tokens=cached, reasoning_tokens=completion_details.get("reasoning_tokens"))


def _reasoning_field(obj: Any) -> str:
    extra = getattr(obj, "model_extra", None) or {}
    return extra.get("reasoning_content") or extra.get("reasoning") or ""


def from_completion(answer: Answer, completion: Any) -> Answer:
    if not getattr(completion, "choices", None):
        raise errors.MalformedResponse(f"{answer.spec} returned no choices",
                                       hint="The server's response is not a chat completion; check the base URL.")
    choice = completion.choices[0]
    message = choice.message
    return fill(answer, message.content or "", _reasoning_field(message), completion.model,
                choice.finish_reason, parse_usage(completion.usage))


class _StreamState(StreamState):
    """Accumulates streamed chat-completion chunks."""

    def add_chunk(self, chunk: Any) -> None:
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None):
            self.usage = parse_usage(chunk.usage)
        for choice in chunk.choices or []:
            delta = choice.delta
            self.add((delta.content or "") if delta else "", _reasoning_field(delta) if delta else "")
            self.finish = choice.finish_reason or self.finish


def _map(request: Request, exc: Exception) -> errors.LabError:
    import httpx2  # the openai SDK's own HTTP library (imported with it), not the separate httpx package
    import openai

    if isinstance(exc, errors.LabError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        return describe(request, exc.status_code, sdk_message(exc), exc)
    if isinstance(exc, openai.APITimeoutError):
        return describe(request, None, "timed out", TimeoutError())
    if isinstance(exc, (openai.APIConnectionError, httpx2.TransportError)):
        return describe(request, None, str(exc), exc)
    return errors.MalformedResponse(f"{request.spec}: the response could not be read ({type(exc).__name__}: "
                                    f"{str(exc)[:200]})", hint="Check that the base URL is an OpenAI-compatible API.")


def _errors():
    import httpx2
    import openai

    return (openai.APIError, httpx2.HTTPError, ValueError, AttributeError, TypeError)


def complete(request: Request) -> Answer:
    """One blocking call."""
    from openai import Stream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    answer, sdk = request.blank_answer(), client(request)
    start = time.perf_counter()
    try:
        stream = bool(request.params.get("stream")) or request.on_text is not None
        result = sdk.post("/chat/completions", body=body(request), cast_to=ChatCompletion, stream=stream,
                          stream_cls=Stream[ChatCompletionChunk])
        if not stream:
            return timed(from_completion(answer, result), start)
        state, cut = _StreamState(start, request.on_text), None
        try:
            for chunk in result:
                state.add_chunk(chunk)
        except _errors() as exc:
            cut = exc
        return state.finish_answer(answer, cut)
    except _errors() as exc:
        raise _map(request, exc) from exc


async def acomplete(request: Request) -> Answer:
    """One call without blocking the event loop."""
    from openai import AsyncStream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    answer, sdk = request.blank_answer(), client(request, use_async=True)
    start = time.perf_counter()
    try:
        stream = bool(request.params.get("stream")) or request.on_text is not None
        result = await sdk.post("/chat/completions", body=body(request), cast_to=ChatCompletion, stream=stream,
                                stream_cls=AsyncStream[ChatCompletionChunk])
        if not stream:
            return timed(from_completion(answer, result), start)
        state, cut = _StreamState(start, request.on_text), None
        try:
            async for chunk in result:
                state.add_chunk(chunk)
        except _errors() as exc:
            cut = exc
        return state.finish_answer(answer, cut)
    except _errors() as exc:
        raise _map(request, exc) from exc


def list_models(request: Request) -> list[str]:
    """Model ids from the provider's ``/models`` endpoint."""
    try:
        return sorted(m.id for m in client(request).models.list())
    except _errors() as exc:
        raise _map(request, exc) from exc
