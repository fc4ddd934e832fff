"""Adapter for Gemini through Google's ``google-genai`` SDK (``from google import genai``).

Messages become ``contents`` (the assistant's role is "model"), system messages become the
``system_instruction``, and reasoning is a ``thinking_config`` token budget whose thoughts come back as
parts marked ``thought``. Gemini caches long prompt prefixes implicitly, so ``cache_prompt`` needs no
request change here; usage reports the cached part.
"""

from __future__ import annotations

import time
from typing import Any

from helpers import errors
from helpers.answer import Answer, Usage
from helpers.providers.base import Request, StreamState, cached_client, describe, fill, timed

THINKING_BUDGET = {"none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576}
FILTERED = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}
ROLES = {"user": "user", "assistant": "model"}


def client(request: Request, use_async: bool = False) -> Any:
    """A cached genai client (use ``.aio`` for async) for this base URL, key, timeout and retry count."""
    from google import genai
    from google.genai import types

    def make(key: str) -> Any:
        options = types.HttpOptions(base_url=request.base_url, timeout=int(request.timeout * 1000),
                                    retry_options=types.HttpRetryOptions(attempts=request.max_retries + 1))
        return genai.Client(api_key=key, vertexai=False, http_options=options)

    return cached_client(request, "google", make, use_async)


def _parts(content: Any, index: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts = []
    for block in content:
        if not (isinstance(block, dict) and block.get("type") == "text"):
            raise errors.ConfigError(f"message {index} holds a {block.get('type') if isinstance(block, dict) else block!r}"
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


def parse_usage(meta: Any) -> Usage:
    """Usage from ``usage_metadata``; thoughts are billed as output, so they count as completion tokens."""
    if meta is None:
        return Usage()
    answer_tokens, thoughts = meta.candidates_token_count, meta.thoughts_token_count
    completion = None if answer_tokens is None and thoughts is None else (answer_tokens or 0) + (thoughts or 0)
    return Usage(prompt_tokens=meta.prompt_token_count, completion_tokens=completion,
                 cached_tokens=meta.cached_content_token_count, reasoning_tokens=thoughts)


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
    text, thoughts = [], []
    for part in (content.parts if content else None) or []:
        if part.text:
            (thoughts if part.thought else text).append(part.text)
    return "".join(text), "".join(thoughts), candidates[0].finish_reason


def from_response(answer: Answer, response: Any) -> Answer:
    """Fill the answer from a whole GenerateContentResponse."""
    if not getattr(response, "candidates", None):
        feedback = getattr(response, "prompt_feedback", None)
        reason = getattr(getattr(feedback, "block_reason", None), "value", None)
        if reason:
            raise errors.EmptyAnswer(f"{answer.spec}: Google blocked the prompt ({reason})",
                                     hint="Rephrase the prompt; Gemini's safety filter refused it.")
        raise errors.MalformedResponse(f"{answer.spec} returned no candidates",
                                       hint="Check the base URL and the model name.")
    text, thoughts, reason = _split(response)
    return fill(answer, text, thoughts, response.model_version, _finish(reason),
                parse_usage(response.usage_metadata))


class _Stream(StreamState):
    """Accumulates ``generate_content_stream`` chunks; the last chunk carries the finish reason."""

    def add_chunk(self, chunk: Any) -> None:
        text, thoughts, reason = _split(chunk)
        self.add(text, thoughts)
        self.model = getattr(chunk, "model_version", None) or self.model
        self.finish = _finish(reason) or self.finish
        if getattr(chunk, "usage_metadata", None) is not None:
            self.usage = parse_usage(chunk.usage_metadata)


def _errors() -> tuple[type[BaseException], ...]:
    import httpx2
    from google.genai import errors as genai_errors

    found: list[type[BaseException]] = [genai_errors.APIError, httpx2.HTTPError, ValueError, AttributeError,
                                        TypeError, KeyError]
    try:  # the SDK uses httpx instead when GOOGLE_GENAI_HTTP_CLIENT=httpx, aiohttp when installed (async)
        import httpx

        found.append(httpx.HTTPError)
    except ImportError:
        pass
    try:
        import aiohttp

        found.append(aiohttp.ClientError)
    except ImportError:
        pass
    return tuple(found)


def _map(request: Request, exc: Exception) -> errors.LabError:
    from google.genai import errors as genai_errors

    if isinstance(exc, errors.LabError):
        return exc
    if isinstance(exc, genai_errors.APIError):
        message = str(exc.message or exc)
        status = exc.code
        if status == 400 and ("api key not valid" in message.lower() or "API_KEY_INVALID" in str(exc.details)):
            status = 401  # Google answers a bad key with 400 INVALID_ARGUMENT
        return describe(request, status, message, exc)
    name = type(exc).__name__
    if isinstance(exc, TimeoutError) or "Timeout" in name:
        return describe(request, None, "timed out", TimeoutError())
    if not isinstance(exc, (ValueError, AttributeError, TypeError, KeyError)):
        return describe(request, None, str(exc) or name, exc)
    return errors.MalformedResponse(f"{request.spec}: the response could not be read ({name}: {str(exc)[:200]})",
                                    hint="Check that the base URL is Google's Generative Language API.")


def _call(request: Request) -> dict[str, Any]:
    _, contents = convert(request.messages)
    return {"model": request.model, "contents": contents, "config": config(request)}


def _streams(request: Request) -> bool:
    return bool(request.params.get("stream")) or request.on_text is not None


def complete(request: Request) -> Answer:
    """One blocking call."""
    answer, start = request.blank_answer(), time.perf_counter()
    try:
        call, models = _call(request), client(request).models
        start = time.perf_counter()  # the exchange only: not the SDK import or the client's set-up
        if not _streams(request):
            return timed(from_response(answer, models.generate_content(**call)), start)
        state, cut = _Stream(start, request.on_text), None
        try:
            for chunk in models.generate_content_stream(**call):
                state.add_chunk(chunk)
        except _errors() as exc:
            if not state.text:
                raise  # nothing arrived: report the real error (the request is sent on first read)
            cut = exc
        return state.finish_answer(answer, cut)
    except _errors() as exc:
        raise _map(request, exc) from exc


async def acomplete(request: Request) -> Answer:
    """One call without blocking the event loop (``client.aio``)."""
    answer, start = request.blank_answer(), time.perf_counter()
    try:
        call, models = _call(request), client(request, use_async=True).aio.models
        start = time.perf_counter()
        if not _streams(request):
            return timed(from_response(answer, await models.generate_content(**call)), start)
        state, cut = _Stream(start, request.on_text), None
        try:
            async for chunk in await models.generate_content_stream(**call):
                state.add_chunk(chunk)
        except _errors() as exc:
            if not state.text:
                raise
            cut = exc
        return state.finish_answer(answer, cut)
    except _errors() as exc:
        raise _map(request, exc) from exc


def list_models(request: Request) -> list[str]:
    """Model ids (without the ``models/`` prefix) from the models endpoint, all pages."""
    try:
        return sorted((m.name or "").removeprefix("models/") for m in client(request).models.list())
    except _errors() as exc:
        raise _map(request, exc) from exc
