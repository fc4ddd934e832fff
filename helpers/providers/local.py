"""Adapter for the bundled engine (catalog api ``local``): find or start the engine, then speak OpenAI.

With ``LOCAL_BASE_URL`` set, requests go to that OpenAI-compatible server and nothing is started.
Otherwise ``local_engine.ensure`` returns the running engine (or starts one, stopped at exit) and the
request goes through ``openai_compat`` like any other provider. llama.cpp's server reports no usage for
streamed answers (it ignores ``stream_options``): their completion tokens are counted with the engine's
own tokenizer (``/extras/tokenize/count``), which gives the same count as a non-streamed answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from helpers import errors
from helpers.answer import Answer
from helpers.providers import local_engine, openai_compat
from helpers.providers.base import Request


def resolve(request: Request) -> tuple[Request, local_engine.EngineState | None]:
    """The request aimed at a base URL, and the engine behind it (None for LOCAL_BASE_URL)."""
    if request.base_url:
        return request, None
    state = local_engine.ensure(request.model)
    return dataclasses.replace(request, base_url=state.base_url), state


COUNT_NOTE = "completion tokens counted with the engine's tokenizer (no usage is reported when streaming)"


def _count_body(answer: Answer) -> dict | None:
    """The tokenize request for a streamed answer without usage; None when nothing is to be counted."""
    if answer.usage.completion_tokens is not None or not answer.text:
        return None
    return {"input": answer.text + answer.reasoning}


def _counted(answer: Answer, response: Any) -> Answer:
    if response.status_code == 200 and isinstance(response.json().get("count"), int):
        answer.usage.completion_tokens = response.json()["count"]
        answer.extra["usage_note"] = COUNT_NOTE
    return answer


def _count_tokens(request: Request, answer: Answer) -> Answer:
    import httpx

    body = _count_body(answer)
    if body is None:
        return answer
    try:
        return _counted(answer, httpx.post(_extras(request), json=body, timeout=request.timeout))
    except (httpx.HTTPError, ValueError):  # another OpenAI-compatible server (LOCAL_BASE_URL): leave it unknown
        return answer


async def _acount_tokens(request: Request, answer: Answer) -> Answer:
    import httpx

    body = _count_body(answer)
    if body is None:
        return answer
    try:
        async with httpx.AsyncClient(timeout=request.timeout) as http:
            return _counted(answer, await http.post(_extras(request), json=body))
    except (httpx.HTTPError, ValueError):
        return answer


def _extras(request: Request) -> str:
    return str(request.base_url).rstrip("/").removesuffix("/v1") + "/extras/tokenize/count"


def _explain(exc: errors.LabError, state: local_engine.EngineState | None) -> errors.LabError:
    """A connection failure to our own engine: say so if its process died."""
    if state is None or not isinstance(exc, errors.ConnectionFailed):
        return exc
    return local_engine.died(state) or exc


def complete(request: Request) -> Answer:
    """One blocking call."""
    request, state = resolve(request)
    try:
        return _count_tokens(request, openai_compat.complete(request))
    except errors.LabError as exc:
        raise _explain(exc, state) from exc


async def acomplete(request: Request) -> Answer:
    """One call without blocking the event loop (starting the engine runs in a thread)."""
    request, state = await asyncio.to_thread(resolve, request)
    try:
        return await _acount_tokens(request, await openai_compat.acomplete(request))
    except errors.LabError as exc:
        raise _explain(exc, state) from exc


def list_models(request: Request) -> list[str]:
    """Model ids the engine serves (starts it on demand, like asking)."""
    request, _ = resolve(request)
    return openai_compat.list_models(request)
