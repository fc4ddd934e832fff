"""Adapter for Stub AI (catalog api ``stub``): recorded answers to ten Olympic-Games questions, offline.

It runs stub-ai's own lookup (``StubAzureOpenAI.chat.completions.create``: difflib match, cutoff 0.9,
one of three recorded answers) with these fixes, none of them global:
- it matches the **last user message** (stub-ai looks at ``messages[0]``, so a system prompt first would
  always give its "I don't know" answer);
- its simulated 1–3 s delay is skipped: the function runs with a private copy of its globals whose
  ``time.sleep`` does nothing (``seed=`` also makes its random pick repeatable), so stub-ai's module, the
  ``time`` module and other callers are untouched;
- models other than the recorded ones raise UnknownModelError instead of returning None;
- the pickled ChatCompletion objects lack ``message.refusal`` on current openai: fields are read with care.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import time
import types
from typing import Any

from helpers import errors
from helpers.answer import Reply, Usage
from helpers.providers.base import Adapter, Request, whole_reply


class _NoSleep:
    """Stands in for the ``time`` module inside stub-ai's lookup."""

    @staticmethod
    def sleep(_seconds: float) -> None:
        return None


@functools.cache
def _stub_class() -> Any:
    try:
        from stub_ai import StubAzureOpenAI
    except ImportError as exc:
        raise errors.ConfigError("the stub provider needs the stub-ai package",
                                 hint="Install the requirements: pip install -r requirements.txt") from exc
    return StubAzureOpenAI


@functools.cache
def models() -> tuple[str, ...]:
    """The models stub-ai has recordings for (read from its data file, without a lookup)."""
    import pickle
    import sys
    from pathlib import Path

    import openai.types.chat  # noqa: F401  (the pickle holds openai objects)

    path = Path(sys.modules[_stub_class().__module__].__file__ or "").parent / "cache.pickle"
    with path.open("rb") as f:
        return tuple(pickle.load(f))  # stub-ai's own packaged data


def _lookup(model: str, question: str, seed: int | None) -> Any:
    """stub-ai's own create(), with no sleep and an optional seeded random pick."""
    chat = _stub_class().chat
    original = getattr(chat, "_original_create", None) or chat.completions.create  # unwrapped by the tracker?
    rng: Any = random.Random(seed) if seed is not None else random
    scope = {**original.__globals__, "time": _NoSleep, "random": rng}
    quiet = types.FunctionType(original.__code__, scope, original.__name__, original.__defaults__)
    return quiet(model, [{"role": "user", "content": question}])


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last user message (content blocks joined)."""
    for m in reversed(messages):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):
                return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
            return str(content or "")
    raise errors.ConfigError("the stub provider needs a user message", hint="Ask it one of its Olympic questions.")


class Stub(Adapter):
    """stub-ai's recorded answers (no network, no delay)."""

    api = "stub"
    sdks = ("openai",)
    params = frozenset({"seed"})
    streaming = False

    def complete(self, request: Request) -> Reply:
        """One recorded answer; nothing to wait for, so no event loop is involved."""
        start = time.perf_counter()
        known = models()
        if request.model not in known:
            raise errors.UnknownModelError(f"stub has no recordings for '{request.model}'",
                                           hint=f"Use one of: {', '.join('stub/' + m for m in known)}.")
        response = _lookup(request.model, last_user_text(request.messages), request.params.get("seed"))
        if response is None or not getattr(response, "choices", None):
            raise errors.MalformedResponse(f"{request.spec}: stub-ai returned no answer")
        choice = response.choices[0]
        raw = getattr(response, "usage", None)
        usage = Usage(prompt_tokens=getattr(raw, "prompt_tokens", None),
                      completion_tokens=getattr(raw, "completion_tokens", None))
        reply = whole_reply(request, getattr(choice.message, "content", None) or "", "",
                            getattr(response, "model", None),
                            getattr(choice, "finish_reason", None), usage, start, {"recorded": "stub-ai"})
        if request.on_text is not None:
            request.on_text(reply.text)
            reply = dataclasses.replace(reply, ttft_s=reply.latency_s)
        return reply

    async def exchange(self, request: Request) -> Reply:
        return self.complete(request)
