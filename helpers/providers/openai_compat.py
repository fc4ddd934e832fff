"""Adapter for every OpenAI-compatible chat API (OpenAI, Gemini's endpoint, DeepSeek, Groq, xAI,
OpenRouter, Ollama, the bundled engine): a provider that speaks this protocol is one catalog entry.

Requests go through the official openai SDK (its retries honour Retry-After). We call the client's
low-level ``post`` rather than ``chat.completions.create``: api-emissions-tracker replaces ``create``
process-wide when imported, and its wrapper breaks streamed calls and responses without usage.

Usage is read wherever providers put it (``wire.usage_numbers``: cache writes, DeepSeek's cache hits,
thinking tokens only visible in ``total_tokens``, OpenRouter's own ``cost``, kept as the note
``provider_cost_usd``; Groq streams carry it in ``x_groq.usage``). An error event inside a stream (Groq's
``event: error``, OpenRouter's chunk with an ``error``) ends the answer with the provider's own message and
keeps the usage and reasoning that came with it.
"""

from __future__ import annotations

import functools
import time
from typing import Any, ClassVar

from helpers import errors
from helpers.answer import Reply, Usage
from helpers.estimates.cost import PROVIDER_COST
from helpers.providers import gateway, transport, wire
from helpers.providers.base import (
    SAMPLING,
    Adapter,
    PromptCache,
    Request,
    StreamState,
    cached_client,
    count,
    whole_reply,
)
from helpers.providers.failures import describe, empty, malformed, sdk_headers, sdk_message

NOT_A_COMPLETION = "Check that the base URL is an OpenAI-compatible API."


def _reasoning_field(obj: Any) -> str:
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning") or ""
    return value if isinstance(value, str) else ""


def _int_or_none(value: Any) -> int | None:
    return count(value)


def _usage_data(raw: Any) -> dict[str, Any]:
    data = wire.plain(raw)
    return data if isinstance(data, dict) else {}


def _charge(raw: Any) -> dict[str, Any]:
    """The provider's own charge in a usage body (OpenRouter's ``cost``), as a reply note."""
    cost = wire.usage_numbers(_usage_data(raw))["provider_cost"] if raw is not None else None
    return {PROVIDER_COST: cost} if cost is not None else {}


class StreamErrorEvent(Exception):
    """An error event inside a streamed answer; ``data`` is the whole event (its usage included)."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(wire.error_text(data))
        self.data = data


@functools.cache
def _stream_class() -> Any:
    """The SDK's async stream of chunks, except that an event carrying an ``error`` ends it as
    StreamErrorEvent with the whole event (the SDK's own raises an APIError holding only the error part,
    which drops the usage the event carries)."""
    import openai
    from openai.types.chat import ChatCompletionChunk

    class Chunks(openai.AsyncStream[ChatCompletionChunk]):
        async def __stream__(self) -> Any:
            try:
                async for sse in self._iter_events():
                    if sse.data.startswith("[DONE]"):
                        break
                    data = sse.json()
                    if isinstance(data, dict) and data.get("error"):
                        raise StreamErrorEvent(data)
                    yield self._client._process_response_data(data=data, cast_to=self._cast_to,
                                                              response=self.response)
            finally:
                await self.response.aclose()

    return Chunks


class OpenAICompatible(Adapter):
    """Chat completions over the OpenAI protocol."""

    api = "openai"
    sdks: ClassVar[tuple[str, ...]] = ("openai",)
    params = frozenset(SAMPLING)
    lists_models = True
    unreadable_hint = NOT_A_COMPLETION
    prompt_cache: ClassVar[PromptCache | None] = PromptCache(
        "automatic", ("prompt_tokens_details.cached_tokens", "prompt_cache_hit_tokens"))

    def client(self, request: Request) -> Any:
        """A cached AsyncOpenAI client for this base URL, key, timeout and retry count (per event loop)."""
        import openai

        return cached_client(request, "openai", lambda key: openai.AsyncOpenAI(
            api_key=key, base_url=request.base_url, timeout=request.timeout, max_retries=request.max_retries,
            http_client=openai.DefaultAsyncHttpxClient(event_hooks=transport.async_hooks())))

    def warm(self, request: Request) -> None:
        from openai.types import CompletionUsage
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        for model in (ChatCompletion, ChatCompletionChunk, CompletionUsage):  # the SDK defers their schemas
            model.model_rebuild(force=True)
        self.client(request)

    def request_body(self, request: Request) -> dict[str, Any]:
        """The JSON body sent to ``/chat/completions``."""
        p = request.params
        out: dict[str, Any] = {"model": request.model, "messages": request.messages}
        for name in SAMPLING:
            if name != "max_tokens" and p.get(name) is not None:
                out[name] = p[name]
        if p.get("max_tokens") is not None:
            # OpenAI's reasoning models accept only max_completion_tokens; other servers know max_tokens.
            out["max_completion_tokens" if request.provider.name == "openai" else "max_tokens"] = p["max_tokens"]
        if request.streams:
            out["stream"] = True
            out["stream_options"] = {"include_usage": True}
        out.update(p.get("extra_body") or {})
        return out

    def parse_usage(self, raw: Any) -> Usage:
        """Usage from an OpenAI-style usage object or dict, wherever the provider put the counts
        (``wire.usage_numbers``: cache writes, DeepSeek's cache hits, thinking tokens in total_tokens)."""
        if raw is None:
            return Usage()
        n = wire.usage_numbers(_usage_data(raw))
        return Usage(prompt_tokens=_int_or_none(n["prompt_tokens"]),
                     completion_tokens=_int_or_none(n["completion_tokens"]),
                     cached_tokens=_int_or_none(n["cached_tokens"]),
                     reasoning_tokens=_int_or_none(n["reasoning_tokens"]),
                     cache_write_tokens=_int_or_none(n["cache_write_tokens"]))

    def reply(self, request: Request, completion: Any, start: float) -> Reply:
        """The Reply of a whole chat completion (a body of another shape is MalformedResponse)."""
        from openai.types.chat import ChatCompletion

        if not isinstance(completion, ChatCompletion):
            raise malformed(request, f"the response could not be read (not a chat completion: "
                                     f"{type(completion).__name__})", NOT_A_COMPLETION)
        choices = getattr(completion, "choices", None)
        if not isinstance(choices, list) or not choices:  # built unvalidated by the SDK: any JSON
            raise malformed(request, "returned no choices",
                            "The server's response is not a chat completion; check the base URL.")
        choice = choices[0]
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None)
        if message is None or not isinstance(content, (str, type(None))):
            raise malformed(request, "the response could not be read (a choice without a message)",
                            NOT_A_COMPLETION)
        usage = getattr(completion, "usage", None)
        return whole_reply(request, content or "", _reasoning_field(message), getattr(completion, "model", None),
                           getattr(choice, "finish_reason", None), self.parse_usage(usage), start, _charge(usage))

    def add_chunk(self, state: StreamState, chunk: Any) -> None:
        """One streamed chat-completion chunk into the accumulator."""
        state.model = getattr(chunk, "model", None) or state.model
        usage = getattr(chunk, "usage", None)
        groq = (getattr(chunk, "model_extra", None) or {}).get("x_groq")
        if not usage and isinstance(groq, dict) and groq.get("usage"):
            usage = groq["usage"]  # Groq streams put the usage in x_groq
        if usage:
            state.usage = self.parse_usage(usage)
            state.notes.update(_charge(usage))
        choices = getattr(chunk, "choices", None)
        for choice in choices if isinstance(choices, list) else []:  # built unvalidated by the SDK: any JSON
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None) if delta is not None else None
            state.add(content if isinstance(content, str) else "", _reasoning_field(delta) if delta else "")
            state.finish = getattr(choice, "finish_reason", None) or state.finish

    def error_event(self, request: Request, state: StreamState, event: StreamErrorEvent) -> errors.LabError:
        """The error of an error event in the stream, keeping the usage, reasoning and text before it."""
        data = event.data
        if data.get("usage"):
            state.usage = self.parse_usage(data["usage"])
            state.notes.update(_charge(data["usage"]))
        state.model = data.get("model") or state.model
        said = wire.error_text(data)
        exc: errors.LabError
        if not "".join(state.text).strip() and state.finish == "length":
            exc = empty(request, "length", Reply(), said)
        else:
            exc = describe(request, wire.embedded_status(data) or 500, f"error event in the stream: {said}",
                           body=data)
        return state.failed(request, exc, state.notes)

    async def exchange(self, request: Request) -> Reply:
        from openai.types.chat import ChatCompletion

        body, sdk = self.request_body(request), self.client(request)
        with transport.exchange():
            start = time.perf_counter()
            result = await self.sdk(request, sdk.post("/chat/completions", body=body, cast_to=ChatCompletion,
                                                      stream=request.streams, stream_cls=_stream_class()))
            if not request.streams:
                return self.reply(request, result, start)
            state = StreamState(start, request.on_text)
            try:
                async for chunk in self.chunks(request, result, state):
                    self.add_chunk(state, chunk)
            except StreamErrorEvent as event:
                raise self.error_event(request, state, event) from None
            return state.reply(request, state.notes)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        import httpx2  # the openai SDK's own HTTP library (imported with it), not the separate httpx package
        import openai

        return (openai.APIError, httpx2.HTTPError)

    def is_status_error(self, exc: BaseException) -> bool:
        import openai

        return isinstance(exc, openai.APIStatusError)

    def map_error(self, request: Request, exc: BaseException) -> errors.LabError:
        import openai

        if isinstance(exc, openai.APIStatusError):
            refusal = gateway.describe(request.spec, request.model, request.provider.key_var, exc.status_code,
                                       exc.body, sdk_message(exc), exc)  # a class gateway's budget / model refusal
            return refusal or describe(request, exc.status_code, sdk_message(exc), exc, body=exc.body,
                                       headers=sdk_headers(exc))
        if isinstance(exc, openai.APITimeoutError):
            return describe(request, None, "timed out", TimeoutError())
        if isinstance(exc, openai.APIResponseValidationError):
            return malformed(request, f"the response could not be read ({exc.message[:200]})", NOT_A_COMPLETION)
        return describe(request, None, str(exc), exc)

    async def models(self, request: Request) -> list[str]:
        """Model ids from the provider's ``/models`` endpoint."""
        page = await self.sdk(request, self.client(request).models.list())
        return sorted(m.id for m in page.data)
