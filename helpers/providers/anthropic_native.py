"""Adapter for Anthropic's Messages API through the official ``anthropic`` SDK.

The API differs from the OpenAI protocol in ways students meet at once: the system prompt is a separate
``system`` field, ``max_tokens`` is required, reasoning is "extended thinking" with a token budget, and
prompt caching is explicit (``cache_control`` blocks). A cache write costs more than plain input and a
read much less; prompts shorter than the model's minimum cacheable length are simply not cached.

anthropic 2.x sends ``anthropic-version: 2026-10-21``, which has no sampling parameters: the SDK dropped
``temperature``/``top_p``/``top_k`` (that API version is reported to refuse them with a 400, even at their
defaults). They are not sent; ``answer.extra["ignored_params"]`` lists what was left out.
"""

from __future__ import annotations

import time
from typing import Any

from helpers import errors
from helpers.answer import Reply, Usage
from helpers.providers import transport, wire
from helpers.providers.base import (
    Adapter,
    PromptCache,
    Request,
    StreamState,
    cached_client,
    count,
    usage_dict,
    whole_reply,
)
from helpers.providers.failures import describe, malformed, sdk_headers, sdk_message

DEFAULT_MAX_TOKENS = 1024
THINKING_BUDGET = {"low": 1024, "medium": 4096, "high": 16384}  # none / minimal: no thinking
EPHEMERAL = {"type": "ephemeral"}
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text")


def _with_cache_mark(content: Any) -> list[dict[str, Any]]:
    """Content as a list of blocks whose last block carries ``cache_control``."""
    blocks: list[dict[str, Any]] = ([{"type": "text", "text": content}] if isinstance(content, str)
                                    else [dict(b) for b in content])
    if blocks:
        blocks[-1]["cache_control"] = dict(EPHEMERAL)
    return blocks


def convert(messages: list[dict[str, Any]], cache: bool = False) -> tuple[Any, list[dict[str, Any]]]:
    """(system, messages) for the Messages API: system/developer messages joined into the system field.

    With ``cache`` the system prompt becomes a cached text block and the last block of the first user
    message is marked too, so a long static document sent there is written once and then read cheaply.
    """
    system_parts: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        if m["role"] in ("system", "developer"):
            system_parts.append(_text_of(m["content"]))
        else:
            out.append({"role": m["role"], "content": m["content"]})
    system: Any = "\n\n".join(p for p in system_parts if p) or None
    if cache:
        if system:
            system = [{"type": "text", "text": system, "cache_control": dict(EPHEMERAL)}]
        first_user = next((m for m in out if m["role"] == "user"), None)
        if first_user is not None:
            first_user["content"] = _with_cache_mark(first_user["content"])
    return system, out


def body(request: Request) -> dict[str, Any]:
    """Keyword arguments for ``messages.create`` (the JSON body, plus ``extra_body``)."""
    p = request.params
    system, messages = convert(request.messages, bool(p.get("cache_prompt")))
    max_tokens = p.get("max_tokens") or DEFAULT_MAX_TOKENS
    out: dict[str, Any] = {"model": request.model, "messages": messages, "max_tokens": max_tokens}
    if system:
        out["system"] = system
    if p.get("stop"):
        out["stop_sequences"] = [p["stop"]] if isinstance(p["stop"], str) else list(p["stop"])
    budget = THINKING_BUDGET.get(p.get("reasoning_effort") or "")
    if budget:
        # The budget counts inside max_tokens, so the answer keeps the room the caller asked for.
        out["thinking"] = {"type": "enabled", "budget_tokens": budget}
        out["max_tokens"] = budget + max_tokens
    if p.get("extra_body"):
        out["extra_body"] = p["extra_body"]
    return out


def parse_usage(raw: Any) -> Usage:
    """Our Usage from Anthropic's: the prompt is input + cache reads + cache writes (all of it)."""
    if raw is None:
        return Usage()
    data = wire.plain(raw)
    data = data if isinstance(data, dict) else {}  # odd values: count() decides
    fresh, read, write = (count(data.get(k)) for k in ("input_tokens", "cache_read_input_tokens",
                                                        "cache_creation_input_tokens"))
    found = data.get("output_tokens_details")
    details: dict[str, Any] = found if isinstance(found, dict) else {}
    prompt = None if fresh is None and read is None and write is None else (fresh or 0) + (read or 0) + (write or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=count(data.get("output_tokens")), cached_tokens=read,
                 cache_write_tokens=write, reasoning_tokens=count(details.get("thinking_tokens")))


def _finish(stop_reason: Any) -> str | None:
    if not isinstance(stop_reason, str):  # the SDK builds the message unvalidated: any JSON may be here
        return None
    return FINISH.get(stop_reason, stop_reason)


class _Stream(StreamState):
    """Accumulates Messages API stream events (message_start, content_block_delta, message_delta…)."""

    def __init__(self, start: float, on_text: Any = None) -> None:
        super().__init__(start, on_text)
        self.raw_usage: dict[str, Any] = {}

    def add_event(self, event: Any) -> None:
        """One stream event; the SDK builds events without validating them, so every field is read as
        possibly missing or of another type (a body of another shape yields no text, not a traceback)."""
        kind = getattr(event, "type", None)
        text = lambda value: value if isinstance(value, str) else ""
        if kind == "message_start":
            message = getattr(event, "message", None)
            self.model = text(getattr(message, "model", None)) or self.model
            self.raw_usage = {k: v for k, v in usage_dict(getattr(message, "usage", None)).items() if v is not None}
        elif kind == "content_block_start":
            block = getattr(event, "content_block", None)
            if getattr(block, "type", None) == "text":
                self.add(text(getattr(block, "text", "")))
        elif kind == "content_block_delta":
            delta = getattr(event, "delta", None)
            if getattr(delta, "type", None) == "text_delta":
                self.add(text(getattr(delta, "text", "")))
            elif getattr(delta, "type", None) == "thinking_delta":
                self.add(thought=text(getattr(delta, "thinking", "")))
        elif kind == "message_delta":
            stop = getattr(getattr(event, "delta", None), "stop_reason", None)
            self.finish = _finish(stop if isinstance(stop, str) else None) or self.finish
            usage = usage_dict(getattr(event, "usage", None))
            self.raw_usage.update({k: v for k, v in usage.items() if v is not None})  # cumulative counts
        else:
            return
        self.usage = parse_usage(self.raw_usage) if self.raw_usage else self.usage


class Anthropic(Adapter):
    """Anthropic's Messages API (native SDK)."""

    api = "anthropic"
    sdks = ("anthropic",)
    params = frozenset({"max_tokens", "stop", "reasoning_effort"})  # API version 2026-10-21: no sampling fields
    lists_models = True
    unreadable_hint = "Check that the base URL is Anthropic's API."
    prompt_cache = PromptCache("explicit", ("cache_creation_input_tokens", "cache_read_input_tokens"))

    def client(self, request: Request) -> Any:
        """A cached AsyncAnthropic client for this base URL, key, timeout and retry count (per event loop)."""
        import anthropic

        return cached_client(request, "anthropic", lambda key: anthropic.AsyncAnthropic(
            api_key=key, base_url=request.base_url, timeout=request.timeout, max_retries=request.max_retries,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=transport.async_hooks())))

    def warm(self, request: Request) -> None:
        import anthropic.types

        for model in (anthropic.types.Message, anthropic.types.Usage):  # the SDK defers their schemas
            model.model_rebuild(force=True)
        self.client(request)

    def request_body(self, request: Request) -> dict[str, Any]:
        return body(request)

    def parse_usage(self, raw: Any) -> Usage:
        return parse_usage(raw)

    def reply(self, request: Request, message: Any, start: float, notes: dict[str, Any]) -> Reply:
        """The Reply of a whole Message: text blocks are the answer, thinking blocks the reasoning."""
        content = getattr(message, "content", None)
        if not isinstance(content, list):
            raise malformed(request, "returned no message content",
                            "The server's response is not an Anthropic message; check the base URL.")
        text, thoughts = [], []
        for block in content:
            kind = getattr(block, "type", None)
            if kind == "text":
                text.append(str(getattr(block, "text", "") or ""))
            elif kind == "thinking":  # redacted_thinking blocks carry no readable text
                thoughts.append(str(getattr(block, "thinking", "") or ""))
        return whole_reply(request, "".join(text), "\n\n".join(thoughts), getattr(message, "model", None),
                           _finish(getattr(message, "stop_reason", None)),
                           parse_usage(getattr(message, "usage", None)), start, notes)

    async def exchange(self, request: Request) -> Reply:
        ignored = self.ignored(request)
        notes = {"ignored_params": ignored} if ignored else {}  # the Messages API has no such parameters
        kwargs, sdk = body(request), self.client(request)
        with transport.exchange():  # timed at the transport: not the SDK import or the client's set-up
            start = time.perf_counter()
            if not request.streams:
                return self.reply(request, await self.sdk(request, sdk.messages.create(**kwargs)), start, notes)
            events = await self.sdk(request, sdk.messages.create(**kwargs, stream=True))
            state = _Stream(start, request.on_text)
            async for event in self.chunks(request, events, state):
                state.add_event(event)
            return state.reply(request, notes)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        import anthropic
        import httpx2

        return (anthropic.APIError, httpx2.HTTPError)

    def is_status_error(self, exc: BaseException) -> bool:
        import anthropic

        return isinstance(exc, anthropic.APIStatusError)

    def map_error(self, request: Request, exc: BaseException) -> errors.LabError:
        import anthropic
        import httpx2

        if isinstance(exc, anthropic.APIStatusError):
            # An error event inside a 200 stream (e.g. overloaded_error) is a server failure.
            status = exc.status_code if exc.status_code >= 400 else 500
            return describe(request, status, sdk_message(exc), exc, body=exc.body, headers=sdk_headers(exc))
        if isinstance(exc, (anthropic.APITimeoutError, httpx2.TimeoutException)):
            return describe(request, None, "timed out", TimeoutError())
        if isinstance(exc, anthropic.APIResponseValidationError):
            return malformed(request, f"the response could not be read ({exc.message[:200]})",
                             "Check that the base URL is Anthropic's API.")
        return describe(request, None, str(exc), exc)

    async def models(self, request: Request) -> list[str]:
        """Model ids from ``GET /v1/models`` (all pages)."""
        pages = self.client(request).models.list()
        ids: list[str] = []
        try:
            async for m in pages:
                ids.append(m.id)
        except self.sdk_errors() as exc:
            raise self.map_error(request, exc) from exc
        return sorted(ids)
