"""Adapter for Gemini through Google's ``google-genai`` SDK (``from google import genai``).

Messages become ``contents`` (the assistant's role is "model"), system messages become the
``system_instruction``, and reasoning is a ``thinking_config`` token budget whose thoughts come back as
parts marked ``thought``. Gemini caches long prompt prefixes implicitly, so ``cache_prompt`` needs no
request change here; usage reports the cached part.
"""

from __future__ import annotations

import re
import time
from typing import Any

from helpers import errors
from helpers.answer import Reply, Usage
from helpers.providers import transport
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
from helpers.providers.failures import describe, malformed, sdk_headers

THINKING_BUDGET = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
ROLES = {"user": "user", "assistant": "model"}


def _parts(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts = []
    for block in content:
        if not (isinstance(block, dict) and block.get("type") == "text"):
            raise errors.ConfigError(f"message {index} holds a "
                                     f"{block.get('type') if isinstance(block, dict) else block!r}"
                                     " block", hint="The google adapter sends text blocks only.")
        parts.append({"text": block.get("text", "")})
    return parts


def convert(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system_instruction, contents) from chat messages."""
    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if m["role"] in ("system", "developer"):
            system.extend(p["text"] for p in _parts(m["content"], i))
        else:
            contents.append({"role": ROLES.get(m["role"], "user"), "parts": _parts(m["content"], i)})
    return "\n\n".join(s for s in system if s) or None, contents


def config(request: Request) -> dict[str, Any]:
    """The ``GenerateContentConfig`` fields (sent as ``systemInstruction`` and ``generationConfig``)."""
    p = request.params
    system, _ = convert(request.messages)
    out: dict[str, Any] = {}
    if system:
        out["system_instruction"] = system
    for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"), ("max_tokens", "max_output_tokens"),
                         ("seed", "seed"), ("frequency_penalty", "frequency_penalty"),
                         ("presence_penalty", "presence_penalty")):
        if p.get(ours) is not None:
            out[theirs] = p[ours]
    if p.get("stop"):
        out["stop_sequences"] = [p["stop"]] if isinstance(p["stop"], str) else list(p["stop"])
    effort = p.get("reasoning_effort")
    if effort in THINKING_BUDGET:
        budget = THINKING_BUDGET[effort]
        out["thinking_config"] = {"thinking_budget": budget, "include_thoughts": budget > 0}
    if p.get("extra_body"):
        out["http_options"] = {"extra_body": p["extra_body"]}
    return out


def camel_keys(value: Any) -> Any:
    """Keys of a config dict in the REST API's lowerCamelCase (``max_output_tokens`` → ``maxOutputTokens``)."""
    if not isinstance(value, dict):
        return value
    return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), k): camel_keys(v) for k, v in value.items()}


def rest_request(request: Request) -> dict[str, Any]:
    """The ``GenerateContentRequest`` as the REST API's JSON (the form a batch input file's lines take):
    ``contents``, ``systemInstruction`` and ``generationConfig``, with any ``extra_body`` merged in."""
    system, contents = convert(request.messages)
    settings = config(request)
    settings.pop("system_instruction", None)
    extra = (settings.pop("http_options", None) or {}).get("extra_body") or {}
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": system}], "role": "user"}  # as google-genai sends it
    if settings:
        body["generationConfig"] = camel_keys(settings)
    body.update(extra)
    return body


def parse_usage(meta: Any) -> Usage:
    """Usage from ``usage_metadata``; thoughts are billed as output, so they count as completion tokens."""
    if meta is None:
        return Usage()
    answer_tokens, thoughts = count(meta.candidates_token_count), count(meta.thoughts_token_count)
    completion = None if answer_tokens is None and thoughts is None else (answer_tokens or 0) + (thoughts or 0)
    return Usage(prompt_tokens=count(meta.prompt_token_count), completion_tokens=completion,
                 cached_tokens=count(meta.cached_content_token_count), reasoning_tokens=thoughts)


def _finish(reason: Any) -> str | None:
    if reason is None:
        return None
    name = str(getattr(reason, "value", reason))
    if name in FILTERED:
        return "content_filter"
    return {"STOP": "stop", "MAX_TOKENS": "length"}.get(name, name.lower())


def _split(response: Any) -> tuple[str, str, Any]:
    """(text, thoughts, finish reason) of a response or stream chunk's first candidate."""
    candidates = getattr(response, "candidates", None) or []
    if not candidates:
        return "", "", None
    content = candidates[0].content
    text: list[str] = []
    thoughts: list[str] = []
    for part in (content.parts if content else None) or []:
        if part.text:
            (thoughts if part.thought else text).append(part.text)
    return "".join(text), "".join(thoughts), candidates[0].finish_reason


class _Stream(StreamState):
    """Accumulates ``generate_content_stream`` chunks; the last chunk carries the finish reason."""

    def add_chunk(self, chunk: Any) -> None:
        text, thoughts, reason = _split(chunk)
        self.add(text, thoughts)
        self.model = getattr(chunk, "model_version", None) or self.model
        self.finish = _finish(reason) or self.finish
        if getattr(chunk, "usage_metadata", None) is not None:
            self.usage = parse_usage(chunk.usage_metadata)


def _call(request: Request) -> dict[str, Any]:
    _, contents = convert(request.messages)
    return {"model": request.model, "contents": contents, "config": config(request)}


class Google(Adapter):
    """Gemini through the google-genai SDK."""

    api = "google"
    sdks = ("google.genai",)
    params = frozenset(SAMPLING)
    lists_models = True
    unreadable_hint = "Check that the base URL is Google's Generative Language API."
    prompt_cache = PromptCache("implicit", ("cached_content_token_count",))

    def client(self, request: Request) -> Any:
        """A cached genai client (we use its ``.aio`` side) for this base URL, key, timeout and retries."""
        from google import genai
        from google.genai import types

        def make(key: str) -> Any:
            import httpx2

            # An explicit transport keeps the async side on httpx2, like the other SDKs (google-genai
            # switches to aiohttp whenever some other package has installed it).
            options = types.HttpOptions(base_url=request.base_url, timeout=int(request.timeout * 1000),
                                        retry_options=types.HttpRetryOptions(attempts=request.max_retries + 1),
                                        async_client_args={"transport": httpx2.AsyncHTTPTransport(),
                                                           "event_hooks": transport.async_hooks()})
            return genai.Client(api_key=key, vertexai=False, http_options=options)

        return cached_client(request, "google", make)

    def warm(self, request: Request) -> None:
        from google.genai import types

        # The first response read builds the SDK's converters and validators (a third of a second on a busy
        # machine, holding the event loop while other calls' replies wait): build them now, on an empty body.
        empty_reply = {"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"}}],
                       "usageMetadata": {"promptTokenCount": 0}}
        convert = getattr(types.GenerateContentResponse, "_from_response", None)
        if convert is not None:
            convert(response=empty_reply, kwargs={})
        self.client(request)

    def request_body(self, request: Request) -> dict[str, Any]:
        return _call(request)

    def parse_usage(self, raw: Any) -> Usage:
        """Usage from a ``usageMetadata`` body (dict) or the SDK's object."""
        if isinstance(raw, dict):
            from google.genai import types

            raw = types.GenerateContentResponseUsageMetadata.model_validate(raw)
        return parse_usage(raw)

    def reply(self, request: Request, response: Any, start: float) -> Reply:
        """The Reply of a whole GenerateContentResponse."""
        if not getattr(response, "candidates", None):
            feedback = getattr(response, "prompt_feedback", None)
            reason = getattr(getattr(feedback, "block_reason", None), "value", None)
            if reason:
                raise errors.EmptyAnswer(f"{request.spec}: Google blocked the prompt ({reason})",
                                         hint="Rephrase the prompt; Gemini's safety filter refused it.")
            raise malformed(request, "returned no candidates", "Check the base URL and the model name.")
        text, thoughts, reason = _split(response)
        return whole_reply(request, text, thoughts, getattr(response, "model_version", None), _finish(reason),
                           parse_usage(getattr(response, "usage_metadata", None)), start)

    async def exchange(self, request: Request) -> Reply:
        call, models = _call(request), self.client(request).aio.models
        with transport.exchange():  # timed at the transport: not the SDK import or the client's set-up
            start = time.perf_counter()
            if not request.streams:
                return self.reply(request, await self.sdk(request, models.generate_content(**call)), start)
            state = _Stream(start, request.on_text)
            chunks = await self.sdk(request, models.generate_content_stream(**call))
            async for chunk in self.chunks(request, chunks, state):
                state.add_chunk(chunk)
            return state.reply(request)

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        import httpx2
        from google.genai import errors as genai_errors

        found: list[type[BaseException]] = [genai_errors.APIError, httpx2.HTTPError, TimeoutError]
        try:  # the SDK uses httpx instead when GOOGLE_GENAI_HTTP_CLIENT=httpx
            import httpx

            found.append(httpx.HTTPError)
        except ImportError:
            pass
        return tuple(found)

    def is_status_error(self, exc: BaseException) -> bool:
        from google.genai import errors as genai_errors

        return isinstance(exc, genai_errors.APIError)

    def map_error(self, request: Request, exc: BaseException) -> errors.LabError:
        from google.genai import errors as genai_errors

        if isinstance(exc, genai_errors.APIError):
            message = str(exc.message or exc)
            status = exc.code
            if status == 400 and ("api key not valid" in message.lower() or "API_KEY_INVALID" in str(exc.details)):
                status = 401  # Google answers a bad key with 400 INVALID_ARGUMENT
            return describe(request, status, message, exc, body=exc.details, headers=sdk_headers(exc))
        name = type(exc).__name__
        if isinstance(exc, TimeoutError) or "Timeout" in name:
            return describe(request, None, "timed out", TimeoutError())
        return describe(request, None, str(exc) or name, exc)

    async def models(self, request: Request) -> list[str]:
        """Model ids (without the ``models/`` prefix) from the models endpoint, all pages."""
        ids: list[str] = []
        try:
            async for m in await self.client(request).aio.models.list():
                ids.append((m.name or "").removeprefix("models/"))
        except self.sdk_errors() as exc:
            raise self.map_error(request, exc) from exc
        return sorted(ids)
