"""Adapter for the bundled engine (catalog api ``local``): find or start the engine, then speak OpenAI.

With ``LOCAL_BASE_URL`` set, requests go to that OpenAI-compatible server and nothing is started.
Otherwise ``local_engine.ensure`` returns the running engine (or starts one, stopped at exit) and the
request goes through ``openai_compat`` like any other provider.
"""

from __future__ import annotations

import asyncio
import dataclasses

from .. import errors, local_engine
from ..answer import Answer
from . import openai_compat
from .base import Request


def resolve(request: Request) -> tuple[Request, local_engine.EngineState | None]:
    """The request aimed at a base URL, and the engine behind it (None for LOCAL_BASE_URL)."""
    if request.base_url:
        return request, None
    state = local_engine.ensure(request.model)
    return dataclasses.replace(request, base_url=state.base_url), state


def _explain(exc: errors.LabError, state: local_engine.EngineState | None) -> errors.LabError:
    """A connection failure to our own engine: say so if its process died."""
    if state is None or not isinstance(exc, errors.ConnectionFailed):
        return exc
    return local_engine.died(state) or exc


def complete(request: Request) -> Answer:
    """One blocking call."""
    request, state = resolve(request)
    try:
        return openai_compat.complete(request)
    except errors.LabError as exc:
        raise _explain(exc, state) from exc


async def acomplete(request: Request) -> Answer:
    """One call without blocking the event loop (starting the engine runs in a thread)."""
    request, state = await asyncio.to_thread(resolve, request)
    try:
        return await openai_compat.acomplete(request)
    except errors.LabError as exc:
        raise _explain(exc, state) from exc


def list_models(request: Request) -> list[str]:
    """Model ids the engine serves (starts it on demand, like asking)."""
    request, _ = resolve(request)
    return openai_compat.list_models(request)
