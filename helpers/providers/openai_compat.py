"""Adapter for every OpenAI-compatible chat API (OpenAI, Gemini's endpoint, DeepSeek, Groq, xAI,
OpenRouter, Ollama, the bundled engine): a provider that speaks this protocol is one catalog entry.

Requests go through the official openai SDK (its retries honour Retry-After). We call the client's
low-level ``post`` rather than ``chat.completions.create``: api-emissions-tracker replaces ``create``
process-wide when imported, and its wrapper breaks streamed calls and responses without usage.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from helpers import errors
from helpers.answer import Reply, Usage
from helpers.providers import gateway
from helpers.providers.base import (
    SAMPLING,
    Adapter,
    PromptCache,
    Request,
    StreamState,
    cached_client,
    describe,
    malformed,
    sdk_message,
    whole_reply,
)

NOT_A_COMPLETION = "Check that the base URL is an OpenAI-compatible API."


def _reasoning_field(obj: Any) -> str:
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning") or ""
    return value if isinstance(value, str) else ""


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OpenAICompatible(Adapter):
    """Chat completions over the OpenAI protocol."""

    api = "openai"
    sdks: ClassVar[tuple[str, ...]] = ("openai",)
    params = frozenset(SAMPLING)
    lists_models = True
    unreadable_hint = NOT_A_COMPLETION
    prompt_cache: ClassVar[PromptCache | None] = PromptCache("automatic", ("prompt_tokens_details.cached_tokens", "prompt_cache_hit_tokens"))

    def client(self, request: Request) -> Any:
        """A cached AsyncOpenAI client for this base URL, key, timeout and retry count (per event loop)."""
        import openai

        return cached_client(request, "openai", lambda key: openai.AsyncOpenAI(
            api_key=key, base_url=request.base_url, timeout=request.timeout, max_retries=request.max_retries))

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
        """Usage from an OpenAI-style usage object or dict (DeepSeek's cache-hit field included)."""
        if raw is None:
            return Usage()
        data = raw if isinstance(raw, dict) else raw.model_dump()
        prompt_details = data.get("prompt_tokens_details") or {}
        completion_details = data.get("completion_tokens_details") or {}
        cached = prompt_details.get("cached_tokens") if isinstance(prompt_details, dict) else None
        if cached is None:
            cached = data.get("prompt_cache_hit_tokens")
        reasoning = completion_details.get("reasoning_tokens") if isinstance(completion_details, dict) else None
        return Usage(prompt_tokens=_int_or_none(data.get("prompt_tokens")),
                     completion_tokens=_int_or_none(data.get("completion_tokens")),
                     cached_tokens=_int_or_none(cached), reasoning_tokens=_int_or_none(reasoning))

    def reply(self, request: Request, completion: Any, start: float) -> Reply:
        """The Reply of a whole chat completion (a body of another shape is MalformedResponse)."""
        from openai.types.chat import ChatCompletion

        if not isinstance(completion, ChatCompletion):
            raise malformed(request, f"the response could not be read (not a chat completion: "
                                     f"{type(completion).__name__})", NOT_A_COMPLETION)
        choices = getattr(completion, "choices", None)
        if not choices:
            raise malformed(request, "returned no choices",
                            "The server's response is not a chat completion; check the base URL.")
        choice = choices[0]
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None)
        if message is None or not isinstance(content, (str, type(None))):
            raise malformed(request, "the response could not be read (a choice without a message)",
                            NOT_A_COMPLETION)
        return whole_reply(request, content or "", _reasoning_field(message), getattr(completion, "model", None),
                           getattr(choice, "finish_reason", None), self.parse_usage(getattr(completion, "usage", None)),
                           start)

    def add_chunk(self, state: StreamState, chunk: Any) -> None:
        """One streamed chat-completion chunk into the accumulator."""
        state.model = getattr(chunk, "model", None) or state.model
        usage = getattr(chunk, "usage", None)
        if usage:
            state.usage = self.parse_usage(usage)
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None) if delta is not None else None
            state.add(content if isinstance(content, str) else "", _reasoning_field(delta) if delta else "")
            state.finish = getattr(choice, "finish_reason", None) or state.finish

    async def exchange(self, request: Request) -> Reply:
        from openai import AsyncStream
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        body, sdk = self.request_body(request), self.client(request)
        start = time.perf_counter()
        result = await self.sdk(request, sdk.post("/chat/completions", body=body, cast_to=ChatCompletion,
                                                  stream=request.streams,
                                                  stream_cls=AsyncStream[ChatCompletionChunk]))
        if not request.streams:
            return self.reply(request, result, start)
        state = StreamState(start, request.on_text)
        async for chunk in self.chunks(request, result, state):
            self.add_chunk(state, chunk)
        return state.reply(request)

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
            return refusal or describe(request, exc.status_code, sdk_message(exc), exc)
        if isinstance(exc, openai.APITimeoutError):
            return describe(request, None, "timed out", TimeoutError())
        if isinstance(exc, openai.APIResponseValidationError):
            return malformed(request, f"the response could not be read ({exc.message[:200]})", NOT_A_COMPLETION)
        return describe(request, None, str(exc), exc)

    async def models(self, request: Request) -> list[str]:
        """Model ids from the provider's ``/models`` endpoint."""
        page = await self.sdk(request, self.client(request).models.list())
        return sorted(m.id for m in page.data)
