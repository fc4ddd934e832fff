"""Adapter for every OpenAI-compatible chat API (OpenAI, Gemini's endpoint, DeepSeek, Groq, xAI,
OpenRouter, Ollama, the bundled engine).

Requests go through the official openai SDK (its retries honour Retry-After). We call the client's
low-level ``post`` rather than ``chat.completions.create``: api-emissions-tracker replaces ``create``
process-wide when imported, and its wrapper breaks streamed calls and responses without usage.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import weakref
from typing import Any

from .. import errors
from ..answer import Answer, Usage
from .base import Request, describe, split_think

SAMPLING = ("temperature", "top_p", "seed", "stop", "reasoning_effort", "frequency_penalty", "presence_penalty")
_clients: dict[tuple, Any] = {}
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {ident: client}
_clients_lock = threading.Lock()


def client(request: Request, use_async: bool = False):
    """A cached openai client for this base URL, key, timeout and retry count (async: per event loop)."""
    import openai

    key = request.api_key or request.provider.name  # servers without auth still want some string
    ident = (request.base_url, hashlib.sha256(key.encode()).hexdigest(), request.timeout, request.max_retries)
    with _clients_lock:
        cache = _async_clients.setdefault(asyncio.get_running_loop(), {}) if use_async else _clients
        if ident not in cache:
            cls = openai.AsyncOpenAI if use_async else openai.OpenAI
            cache[ident] = cls(api_key=key, base_url=request.base_url, timeout=request.timeout,
                               max_retries=request.max_retries)
        return cache[ident]


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


def fill(answer: Answer, text: str, reasoning: str, model: str | None, finish: str | None, usage: Usage) -> Answer:
    """Put parsed parts into the answer; `<think>` blocks become reasoning; no text is an error."""
    text, think = split_think(text or "")
    answer.text = text
    answer.reasoning = (reasoning or think or "").strip()
    answer.model_reported = model
    answer.finish_reason = finish
    answer.usage = usage
    if finish == "length" and not answer.text.strip():
        raise errors.EmptyAnswer(f"{answer.spec} used all max_tokens before answering",
                                 hint="Raise max_tokens (reasoning models think first).")
    if not answer.text.strip():
        raise errors.EmptyAnswer(f"{answer.spec} returned an empty answer",
                                 hint="Try again, or check the prompt and parameters.")
    return answer


def from_completion(answer: Answer, completion: Any) -> Answer:
    if not getattr(completion, "choices", None):
        raise errors.MalformedResponse(f"{answer.spec} returned no choices",
                                       hint="The server's response is not a chat completion; check the base URL.")
    choice = completion.choices[0]
    message = choice.message
    return fill(answer, message.content or "", _reasoning_field(message), completion.model,
                choice.finish_reason, parse_usage(completion.usage))


class _StreamState:
    """Accumulates streamed chunks."""

    def __init__(self, start: float, on_text: Any = None) -> None:
        self.start, self.ttft, self.on_text = start, None, on_text
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.model = self.finish = None
        self.usage = Usage()

    def add(self, chunk: Any) -> None:
        self.model = getattr(chunk, "model", None) or self.model
        if getattr(chunk, "usage", None):
            self.usage = parse_usage(chunk.usage)
        for choice in chunk.choices or []:
            delta = choice.delta
            piece, thought = (delta.content or "") if delta else "", _reasoning_field(delta) if delta else ""
            if (piece or thought) and self.ttft is None:
                self.ttft = time.perf_counter() - self.start
            self.text.append(piece)
            if piece and self.on_text is not None:
                self.on_text(piece)
            self.reasoning.append(thought)
            self.finish = choice.finish_reason or self.finish

    def finish_answer(self, answer: Answer, cut: Exception | None) -> Answer:
        answer.ttft_s = self.ttft
        if cut is not None or self.finish is None:
            if not "".join(self.text):
                raise errors.MalformedResponse(f"{answer.spec}: the stream ended before any text arrived"
                                               + (f" ({type(cut).__name__})" if cut else ""))
            answer.incomplete = True
            answer.error = "the stream was cut off before the model finished; the partial answer is kept"
            answer.error_kind = "incomplete"
        text, think = split_think("".join(self.text))
        answer.text, answer.model_reported = text, self.model
        answer.reasoning = ("".join(self.reasoning) or think).strip()
        answer.finish_reason, answer.usage = self.finish, self.usage
        if not answer.incomplete and not answer.text.strip():
            raise errors.EmptyAnswer(f"{answer.spec} returned an empty answer")
        return answer


def _map(request: Request, exc: Exception) -> errors.LabError:
    import httpx
    import openai

    if isinstance(exc, errors.LabError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        return describe(request, exc.status_code, _message(exc), exc)
    if isinstance(exc, openai.APITimeoutError):
        return describe(request, None, "timed out", TimeoutError())
    if isinstance(exc, (openai.APIConnectionError, httpx.TransportError)):
        return describe(request, None, str(exc), exc)
    return errors.MalformedResponse(f"{request.spec}: the response could not be read ({type(exc).__name__}: "
                                    f"{str(exc)[:200]})", hint="Check that the base URL is an OpenAI-compatible API.")


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", exc))


def _errors():
    import httpx
    import openai

    return (openai.APIError, httpx.HTTPError, ValueError, AttributeError, TypeError)


def complete(request: Request) -> Answer:
    """One blocking call."""
    from openai import Stream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    answer, start = request.blank_answer(), time.perf_counter()
    sdk = client(request)
    try:
        stream = bool(request.params.get("stream")) or request.on_text is not None
        result = sdk.post("/chat/completions", body=body(request), cast_to=ChatCompletion, stream=stream,
                          stream_cls=Stream[ChatCompletionChunk])
        if not stream:
            return from_completion(answer, result)
        state, cut = _StreamState(start, request.on_text), None
        try:
            for chunk in result:
                state.add(chunk)
        except _errors() as exc:
            cut = exc
        return state.finish_answer(answer, cut)
    except _errors() as exc:
        raise _map(request, exc) from exc


async def acomplete(request: Request) -> Answer:
    """One call without blocking the event loop."""
    from openai import AsyncStream
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    answer, start = request.blank_answer(), time.perf_counter()
    sdk = client(request, use_async=True)
    try:
        stream = bool(request.params.get("stream")) or request.on_text is not None
        result = await sdk.post("/chat/completions", body=body(request), cast_to=ChatCompletion, stream=stream,
                                stream_cls=AsyncStream[ChatCompletionChunk])
        if not stream:
            return from_completion(answer, result)
        state, cut = _StreamState(start, request.on_text), None
        try:
            async for chunk in result:
                state.add(chunk)
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
