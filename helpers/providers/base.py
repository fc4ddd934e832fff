"""What every adapter shares: the Request value, `<think>` splitting, readable error messages, the SDK
client cache, and the rules that turn parsed text (whole or streamed) into an Answer."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers import errors
from helpers.answer import Answer, Usage
from helpers.catalog import Provider
from helpers.keys import redact
from helpers.spec import answer_params


@dataclass
class Request:
    """One prepared call: where it goes and what it says. The key lives here only, never in logs."""

    provider: Provider
    model: str
    messages: list[dict[str, Any]]
    params: dict[str, Any] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    spec: str = ""
    on_text: Callable[[str], None] | None = field(default=None, repr=False)  # streamed text pieces

    @property
    def timeout(self) -> float:
        from helpers import settings

        return float(self.params.get("timeout") or settings.timeout_seconds())

    @property
    def max_retries(self) -> int:
        from helpers import settings

        value = self.params.get("max_retries")
        if value is None and self.provider.local and settings.get("LLMLAB_MAX_RETRIES") is None:
            return 0  # a local server that refuses the connection is not running: say so at once
        return settings.max_retries() if value is None else int(value)

    def blank_answer(self) -> Answer:
        return Answer(spec=self.spec, provider=self.provider.name, model=self.model,
                      params=public_params(self.params), messages=self.messages,
                      offline=self.provider.local or self.provider.offline)


def public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as recorded in the run log (transport settings, ``spec.TRANSPORT_PARAMS``, left out)."""
    return answer_params(params)


_THINK = re.compile(r"^\s*<think>(.*?)(?:</think>|$)", re.DOTALL)


def split_think(text: str) -> tuple[str, str]:
    """Separate a leading ``<think>…</think>`` block: returns (answer, reasoning)."""
    match = _THINK.match(text or "")
    if not match:
        return text or "", ""
    return text[match.end():].lstrip(), match.group(1).strip()


def scrub(exc: BaseException | None) -> None:
    """Redact keys from the text of an SDK exception and its causes, in place.

    Adapters raise our LabError ``from`` the SDK's exception, so a traceback prints the SDK's text too; a
    server that echoes the key it got (OpenAI masks it; others may not) would otherwise show it there.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
        if isinstance(getattr(exc, "message", None), str):
            exc.message = redact(exc.message)  # type: ignore[attr-defined]
        exc = exc.__cause__ or exc.__context__


def describe(request: Request, status: int | None, message: str, exc: Exception | None = None) -> errors.LabError:
    """Turn an HTTP status (None for transport failures) into the LabError that says how to fix it."""
    scrub(exc)
    p = request.provider
    where = f"{p.name} at {request.base_url}" if request.base_url else p.name
    message = redact(str(message or "").strip())[:500]
    lowered = message.lower()
    if status == 401:
        return errors.AuthError(f"{p.name} refused the key in {p.key_var} (401 Unauthorized): {message}",
                                hint=f"Check the key (run `python -m helpers keys`) or make a new one at {p.key_url}.")
    if status == 403:
        return errors.AuthError(f"{p.name} says the key may not use {request.model} (403 Forbidden): {message}",
                                hint="Check the project's permissions, billing or region for this key.")
    if status == 404 or (status == 400 and "model" in lowered and ("not exist" in lowered or "not found" in lowered
                                                                    or "invalid model" in lowered)):
        return errors.UnknownModelError(f"{p.name} does not know the model '{request.model}' ({status}): {message}",
                                        hint=f"List the models it offers with `python -m helpers models {p.name}`.")
    if status == 429:
        return errors.RateLimitError(f"{p.name} rate-limited the request (429) after retries: {message}",
                                     hint="Wait a little, lower --concurrency, or check your plan's limits.")
    if status == 400 or status == 422:
        hint = ("Shorten the prompt or lower max_tokens." if "context" in lowered or "too long" in lowered
                or "maximum" in lowered else "Check the parameters sent (see the message).")
        return errors.BadRequestError(f"{p.name} rejected the request ({status}): {message}", hint=hint)
    if status is not None:
        return errors.ProviderError(f"{p.name} failed with HTTP {status} after retries: {message}",
                                    hint="The provider may be down; try again later.")
    if isinstance(exc, TimeoutError) or "timed out" in lowered or "timeout" in lowered:
        return errors.TimeoutFailed(f"{where} did not answer within {request.timeout:g} s",
                                    hint="Raise the timeout (timeout=… or LLMLAB_TIMEOUT) or try again.")
    if p.name == "ollama":
        return errors.ConnectionFailed(
            f"Ollama is not running at {request.base_url}",
            hint="Start it with `ollama serve` (install from https://ollama.com/download), or use the bundled "
                 "offline model local/smollm2 instead.")
    return errors.ConnectionFailed(f"cannot reach {where}: {message or type(exc).__name__}",
                                   hint=f"Check your network or {p.base_url_var}.")


_clients: dict[tuple, Any] = {}
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> {ident: client}
_clients_lock = threading.Lock()


def cached_client(request: Request, family: str, make: Callable[[str], Any], use_async: bool = False) -> Any:
    """One SDK client per family, base URL, key, timeout and retry count (async: per event loop).

    ``make(key)`` builds the client; servers without auth still get some key string (the provider name).
    """
    key = request.api_key or request.provider.name
    ident = (family, use_async, request.base_url, hashlib.sha256(key.encode()).hexdigest(), request.timeout,
             request.max_retries)
    with _clients_lock:
        cache = _async_clients.setdefault(asyncio.get_running_loop(), {}) if use_async else _clients
        if ident not in cache:
            cache[ident] = make(key)
        return cache[ident]


def sdk_message(exc: Any) -> str:
    """The human part of an SDK error: ``body["error"]["message"]`` when the body has one."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", None) or exc)


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


class StreamState:
    """Accumulates a streamed answer: text and reasoning pieces, time to first token, finish and usage.

    Adapters parse their own events and call ``add``; ``finish`` stays None until the provider says the
    answer is complete, so a stream that ends early is reported as incomplete with its partial text kept.
    """

    def __init__(self, start: float, on_text: Callable[[str], None] | None = None) -> None:
        self.start, self.ttft, self.on_text = start, None, on_text
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.model: str | None = None
        self.finish: str | None = None
        self.usage = Usage()

    def add(self, piece: str = "", thought: str = "") -> None:
        """Record streamed answer text and/or reasoning; the first of either sets the time to first token."""
        if (piece or thought) and self.ttft is None:
            self.ttft = time.perf_counter() - self.start
        if piece:
            self.text.append(piece)
            if self.on_text is not None:
                self.on_text(piece)
        if thought:
            self.reasoning.append(thought)

    def finish_answer(self, answer: Answer, cut: Exception | None) -> Answer:
        """The answer so far; a cut stream keeps its partial text and is marked incomplete."""
        answer.ttft_s, answer.latency_s = self.ttft, time.perf_counter() - self.start
        if cut is not None or self.finish is None:
            if not "".join(self.text):
                raise errors.MalformedResponse(f"{answer.spec}: the stream ended before any text arrived"
                                               + (f" ({type(cut).__name__})" if cut else ""),
                                               hint="Try again; if it keeps happening, ask without streaming or "
                                                    "check that the base URL is the provider's API.")
            answer.incomplete = True
            answer.error = "the stream was cut off before the model finished; the partial answer is kept"
            answer.error_kind = "incomplete"
        text, think = split_think("".join(self.text))
        answer.text, answer.model_reported = text, self.model
        answer.reasoning = ("".join(self.reasoning) or think).strip()
        answer.finish_reason, answer.usage = self.finish, self.usage
        if not answer.incomplete and not answer.text.strip():
            raise errors.EmptyAnswer(f"{answer.spec} returned an empty answer",
                                     hint="Try again, or check the prompt and parameters.")
        return answer


def timed(answer: Answer, start: float) -> Answer:
    """Set an answer's latency to the time since ``start`` (a whole, non-streamed exchange)."""
    answer.latency_s = time.perf_counter() - start
    return answer
