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
import time

from helpers import errors
from helpers.answer import Reply
from helpers.providers import local_engine
from helpers.providers.base import Request
from helpers.providers.openai_compat import OpenAICompatible

STOPPING_S = 5.0  # an engine being stopped refuses connections a moment before its process exits
COUNT_NOTE = "completion tokens counted with the engine's tokenizer (no usage is reported when streaming)"


def resolve(request: Request) -> tuple[Request, local_engine.EngineState | None]:
    """The request aimed at a base URL, and the engine behind it (None for LOCAL_BASE_URL)."""
    if request.base_url:
        return request, None
    state = local_engine.ensure(request.model)
    return dataclasses.replace(request, base_url=state.base_url), state


def _extras(request: Request) -> str:
    return str(request.base_url).rstrip("/").removesuffix("/v1") + "/extras/tokenize/count"


async def _count_tokens(request: Request, reply: Reply) -> Reply:
    """A streamed reply without usage, with its completion tokens counted by the engine's tokenizer."""
    import httpx

    if reply.usage.completion_tokens is not None or not reply.text:
        return reply
    try:
        async with httpx.AsyncClient(timeout=request.timeout) as http:
            response = await http.post(_extras(request), json={"input": reply.text + reply.reasoning})
        count = response.json().get("count") if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):  # another OpenAI-compatible server: leave it unknown
        return reply
    if not isinstance(count, int) or isinstance(count, bool):
        return reply
    usage = dataclasses.replace(reply.usage, completion_tokens=count)
    return dataclasses.replace(reply, usage=usage, notes={**reply.notes, "usage_note": COUNT_NOTE})


def _explain(exc: errors.LabError, state: local_engine.EngineState | None) -> errors.LabError:
    """A connection failure to our own engine: say so if its process died."""
    if state is None or not isinstance(exc, errors.ConnectionFailed):
        return exc
    return local_engine.died(state) or exc


async def _gone(exc: errors.LabError, state: local_engine.EngineState | None, streamed: list[str]) -> bool:
    """True when the call failed, before any text arrived, because the shared engine stopped (e.g. the process
    that started it on demand exited): an engine started again answers, so the call is made once more."""
    if state is None or streamed or not isinstance(exc, errors.ConnectionFailed):
        return False
    deadline = time.monotonic() + STOPPING_S
    while local_engine.running(state) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return not local_engine.running(state)


def _watched(request: Request) -> tuple[Request, list[str]]:
    """The request with its stream callback noting the pieces it passed on."""
    seen: list[str] = []
    if request.on_text is None:
        return request, seen
    on_text = request.on_text

    def note(piece: str) -> None:
        seen.append(piece)
        on_text(piece)

    return dataclasses.replace(request, on_text=note), seen


class Local(OpenAICompatible):
    """The bundled engine: found or started on demand, then spoken to over the OpenAI protocol."""

    api = "local"
    sdks = ("openai", "httpx")
    prompt_cache = None

    async def exchange(self, request: Request) -> Reply:
        """One exchange; made again once on a fresh engine if the shared one stopped before answering."""
        original, streamed = _watched(request)
        for attempt in (1, 2):
            request, state = await asyncio.to_thread(resolve, original)  # starting the engine blocks: not on the loop
            try:
                return await _count_tokens(request, await super().exchange(request))
            except errors.LabError as exc:
                if attempt == 2 or not await _gone(exc, state, streamed):
                    raise _explain(exc, state) from exc
                _explain(exc, state)  # forget the stopped engine
        raise AssertionError("unreachable")

    async def models(self, request: Request) -> list[str]:
        """Model ids the engine serves (starts it on demand, like asking)."""
        request, _ = await asyncio.to_thread(resolve, request)
        return await super().models(request)
