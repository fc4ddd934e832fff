"""What every adapter shares: the Request value, the Adapter interface, readable error messages, the SDK
client cache, `<think>` splitting and the accumulator that turns streamed pieces into a Reply.

An adapter is a class that **declares** what its API supports (parameters, streaming, model listing,
prompt-cache fields) and implements one async ``exchange``; the blocking call is derived from it (it runs
on the process's background loop). Only the SDK's and the transport's exceptions are mapped to our errors;
a provider body we cannot use is detected where it is parsed (MalformedResponse), and anything else is a
bug of ours that propagates.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

from helpers import errors
from helpers.answer import Reply, Usage
from helpers.catalog import Provider
from helpers.keys import redact
from helpers.providers import transport
from helpers.providers.failures import describe, empty, malformed, scrub
from helpers.providers.wire import count  # the one place counts become numbers (re-exported)
from helpers.spec import answer_params

T = TypeVar("T")

# Request parameters that change what the model is asked to do; an adapter declares which of them its API
# has a field for. The others (spec.TRANSPORT_PARAMS, extra_body, cache_prompt) every adapter handles.
SAMPLING = ("temperature", "top_p", "max_tokens", "seed", "stop", "reasoning_effort", "frequency_penalty",
            "presence_penalty")


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

    @property
    def streams(self) -> bool:
        return bool(self.params.get("stream")) or self.on_text is not None


def base_url_problem(variable: str, url: str | None) -> errors.ConfigError | None:
    """Why a base URL cannot be used (checked where a request is prepared, before any SDK client is built),
    naming the variable to fix; None when it is usable (or unset)."""
    from urllib.parse import urlsplit

    if url is None:
        return None
    fix = f"Set {variable} to the API's address, e.g. {variable}=https://api.example.com/v1, or remove it."
    shown = repr(url)[:120]
    if url != url.strip() or any(not c.isprintable() for c in url):
        return errors.ConfigError(f"{variable}={shown} holds spaces, a line break or invisible characters", hint=fix)
    try:
        parts = urlsplit(url)
        port = parts.port  # a port that is not a number, or out of range, raises here
        host = parts.hostname
    except ValueError as exc:
        return errors.ConfigError(f"{variable}={shown} is not a valid URL ({exc})", hint=fix)
    if parts.scheme not in ("http", "https"):
        return errors.ConfigError(f"{variable}={shown} does not start with http:// or https://", hint=fix)
    if not host:
        return errors.ConfigError(f"{variable}={shown} names no host", hint=fix)
    if not host.isascii():
        try:
            host.encode("idna")
        except UnicodeError:
            return errors.ConfigError(f"{variable}={shown} has a host name that cannot be looked up", hint=fix)
    del port
    return None


def public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as recorded in the run log (transport settings, ``spec.TRANSPORT_PARAMS``, left out)."""
    return answer_params(params)


@dataclass(frozen=True)
class PromptCache:
    """How an API caches prompts: ``mode`` automatic | explicit | implicit, and the usage fields it reports."""

    mode: str
    usage_fields: tuple[str, ...]


# What an SDK raises from inside its own call when a body is not the shape it expects (e.g. google-genai on a
# JSON `true`): the provider's body, not our bug, since none of our code runs inside the awaited SDK call.
SDK_DECODING: tuple[type[BaseException], ...] = (ValueError, TypeError, KeyError, AttributeError, IndexError)


class Adapter:
    """One API family. Subclasses set the declarations and implement ``exchange``."""

    api: ClassVar[str]
    sdks: ClassVar[tuple[str, ...]] = ()  # modules imported once, under a lock, before the first call
    params: ClassVar[frozenset[str]] = frozenset()  # the SAMPLING parameters this API has a field for
    streaming: ClassVar[bool] = True
    lists_models: ClassVar[bool] = False
    prompt_cache: ClassVar[PromptCache | None] = None
    unreadable_hint: ClassVar[str] = "Check that the base URL is the provider's API."

    # -- what a subclass implements -----------------------------------------------------------
    async def exchange(self, request: Request) -> Reply:
        """Send the request and read the reply (the one implementation of a call)."""
        raise NotImplementedError

    def sdk_errors(self) -> tuple[type[BaseException], ...]:
        """The SDK's and the transport's exception classes (what ``map_error`` turns into our errors)."""
        return ()

    def map_error(self, request: Request, exc: BaseException) -> errors.LabError:
        """Our error, with its fix, for one of ``sdk_errors()``."""
        return describe(request, None, str(exc), exc)

    def request_body(self, request: Request) -> dict[str, Any]:
        """What is sent for this request (shown by ``helpers.prompt_caching``)."""
        raise errors.ConfigError(f"{request.provider.name} sends no request body to show")

    def parse_usage(self, raw: Any) -> Usage:
        """Our Usage from the API's usage body."""
        raise errors.ConfigError(f"{self.api} reports no usage body")

    async def models(self, request: Request) -> list[str]:
        """Model ids the API lists right now (only when ``lists_models``)."""
        raise errors.ConfigError(f"{request.provider.name} cannot list its models")

    def warm(self, request: Request) -> None:
        """Build now what the first call would build (the SDK client, its response types), on the loop the
        calls will use: done before requests are in flight, that work is not counted in their latency."""

    # -- derived ----------------------------------------------------------------------------
    def ignored(self, request: Request) -> list[str]:
        """Parameters set on the request that this API has no field for (not sent; recorded on the reply)."""
        return [name for name in SAMPLING if request.params.get(name) is not None and name not in self.params]

    async def run(self, request: Request) -> Reply:
        """``exchange`` under the request's deadline: ``timeout`` seconds for the whole exchange (retries and
        a body that drips in included), not per read; past it the call fails as TimeoutFailed, keeping the
        text a stream had delivered (``exc.partial``, marked incomplete)."""
        streams: list[StreamState] = []
        token = _STREAMS.set(streams)  # the exchange's task sees this same list (its context is a copy)
        try:
            return await asyncio.wait_for(self.exchange(request), timeout=request.timeout)
        except TimeoutError as exc:
            error = describe(request, None, "timed out", TimeoutError())
            if streams and streams[-1].text:
                streams[-1].failed(request, error)
            raise error from exc
        finally:
            _STREAMS.reset(token)

    def complete(self, request: Request) -> Reply:
        """The blocking call: ``run`` (the exchange under its deadline) on the background loop."""
        from helpers.eventloop import run_blocking

        return run_blocking(self.run(request))

    def list_models(self, request: Request) -> list[str]:
        from helpers.eventloop import run_blocking

        return run_blocking(self.models(request))

    async def sdk(self, request: Request, call: Awaitable[T]) -> T:
        """Await an SDK call; its exceptions become our errors (naming the fix)."""
        try:
            return await call
        except self.sdk_errors() as exc:
            raise self.map_error(request, exc) from exc
        except SDK_DECODING as exc:  # raised inside the SDK while decoding the body: the provider's, not ours
            scrub(exc)
            raise malformed(request, f"the response could not be read ({type(exc).__name__}: {str(exc)[:200]})",
                            self.unreadable_hint) from exc

    async def chunks(self, request: Request, stream: Any, state: StreamState) -> AsyncIterator[Any]:
        """The events of an SDK stream. A failure before any text is reported as the error it is; after
        some text, the stream counts as cut (``state.cut``) and the partial answer is kept."""
        iterator = stream.__aiter__()
        failures: tuple[type[BaseException], ...] = (*self.sdk_errors(), *SDK_DECODING)  # a bad event
        while True:
            try:
                event = await iterator.__anext__()
            except StopAsyncIteration:
                return
            except failures as exc:
                if not state.text and self.is_status_error(exc):
                    raise self.map_error(request, exc) from exc
                state.cut = exc
                return
            yield event
            if state.truncated:  # the answer reached the size cap: stop reading (the rest is never downloaded)
                return

    def is_status_error(self, exc: BaseException) -> bool:
        """True for an error the provider sent (an HTTP status or an error event), not a broken transport."""
        return False


_THINK = re.compile(r"^\s*<think>(.*?)(?:</think>|$)", re.DOTALL)


def usage_dict(raw: Any) -> dict[str, Any]:
    """A usage body as a plain dict (an SDK object read with ``wire.plain``); anything else (a list, a string)
    is an empty dict."""
    from helpers.providers import wire

    data = wire.plain(raw)
    return data if isinstance(data, dict) else {}


def counted(usage: Usage) -> Usage:
    """A Usage with every count passed through ``count`` (adapters' ``parse_usage`` end with it)."""
    return Usage(**{name: count(getattr(usage, name)) for name in USAGE_COUNTS})


USAGE_COUNTS = ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens")


def split_think(text: str) -> tuple[str, str]:
    """Separate a leading ``<think>…</think>`` block: returns (answer, reasoning)."""
    match = _THINK.match(text or "")
    if not match:
        return text or "", ""
    return text[match.end():].lstrip(), match.group(1).strip()


_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = \
    weakref.WeakKeyDictionary()
_clients_lock = threading.Lock()


def cached_client(request: Request, family: str, make: Callable[[str], Any]) -> Any:
    """One async SDK client per family, base URL, key, timeout and retry count, per event loop.

    ``make(key)`` builds the client; servers without auth still get some key string (the provider name).
    """
    key = request.api_key or request.provider.name
    ident = (family, request.base_url, hashlib.sha256(key.encode()).hexdigest(), request.timeout,
             request.max_retries)
    with _clients_lock:
        cache = _async_clients.setdefault(asyncio.get_running_loop(), {})
        if ident not in cache:
            cache[ident] = make(key)
        return cache[ident]


def _latency(start: float) -> float:
    """The exchange's latency measured at the transport (request sent → last byte), else the time since start."""
    timer = transport.current()
    measured = timer.latency_s if timer is not None else None
    return measured if measured is not None else time.perf_counter() - start


def whole_reply(request: Request, text: str, reasoning: str, model: str | None, finish: str | None, usage: Usage,
                start: float, notes: dict[str, Any] | None = None) -> Reply:
    """The Reply of a whole (not streamed) answer; `<think>` blocks become reasoning; no text is an error."""
    text, think = split_think(text or "")
    reply = Reply(text=text, reasoning=(reasoning or think or "").strip(), model_reported=model,
                  usage=usage, finish_reason=finish, latency_s=_latency(start), notes=notes or {})
    if not text.strip():
        raise empty(request, finish, reply)
    return reply


_STREAMS: ContextVar[list[StreamState] | None] = ContextVar("llmlab_streams", default=None)  # of ``run``


class StreamState:
    """Accumulates a streamed answer: text and reasoning pieces, time to first token, finish and usage.

    Adapters parse their own events and call ``add``; ``finish`` stays None until the provider says the
    answer is complete, so a stream that ends early is reported as incomplete with its partial text kept.
    """

    def __init__(self, start: float, on_text: Callable[[str], None] | None = None) -> None:
        self.start, self.on_text = start, on_text
        self.ttft: float | None = None
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.model: str | None = None
        self.finish: str | None = None
        self.usage = Usage()
        self.cut: BaseException | None = None
        self.notes: dict[str, Any] = {}  # facts an adapter records on the reply (e.g. a provider's own charge)
        self.truncated = False
        self._room = max_answer_chars()
        started = _STREAMS.get()
        if started is not None:  # known to ``run``, so a stream cut by the deadline keeps what it delivered
            started.append(self)

    def add(self, piece: str = "", thought: str = "") -> None:
        """Record streamed answer text and/or reasoning; the first of either sets the time to first token
        (the arrival of the bytes that carried it, when the transport is timed). Past the size cap
        (``max_answer_chars``) the rest is dropped and the stream stops being read."""
        if (piece or thought) and self.ttft is None:
            self.ttft = time.perf_counter() - self.start
            transport.content()
        if len(piece) + len(thought) > self._room:
            piece, thought = piece[:self._room], thought[:max(0, self._room - len(piece))]
            self.truncated = True
        self._room -= len(piece) + len(thought)
        if piece:
            self.text.append(piece)
            if self.on_text is not None:
                self.on_text(piece)
        if thought:
            self.reasoning.append(thought)

    def timing(self) -> tuple[float, float | None, float | None]:
        """(latency, TTFT, TPOT) of the stream: measured at the transport when it is timed."""
        latency, ttft = time.perf_counter() - self.start, self.ttft
        timer = transport.current()
        if timer is not None and timer.latency_s is not None:
            latency, ttft = timer.latency_s, timer.ttft_s if timer.ttft_s is not None else ttft
        return latency, ttft, transport.per_token(latency, ttft, self.usage.completion_tokens)

    def failed(self, request: Request, exc: errors.LabError, notes: dict[str, Any] | None = None) -> errors.LabError:
        """``exc`` for a stream that ended in an error, keeping what arrived (usage, reasoning, text) on it."""
        latency, ttft, _ = self.timing()
        text, think = split_think("".join(self.text))
        exc.partial = Reply(text=text, reasoning=("".join(self.reasoning) or think).strip(),
                            model_reported=self.model, usage=self.usage, finish_reason=self.finish,
                            incomplete=bool(text), latency_s=latency, ttft_s=ttft, notes=notes or {})
        return exc

    def reply(self, request: Request, notes: dict[str, Any] | None = None) -> Reply:
        """The answer so far; a cut stream keeps its partial text and is marked incomplete."""
        latency, ttft, tpot = self.timing()
        incomplete = self.cut is not None or self.finish is None
        joined = "".join(self.text)
        if incomplete and not joined:
            raise errors.MalformedResponse(f"{request.spec}: the stream ended before any text arrived"
                                           + (f" ({type(self.cut).__name__})" if self.cut else ""),
                                           hint="Try again; if it keeps happening, ask without streaming or "
                                                "check that the base URL is the provider's API.")
        text, think = split_think(joined)
        reply = Reply(text=text, reasoning=("".join(self.reasoning) or think).strip(), model_reported=self.model,
                      usage=self.usage, finish_reason=self.finish, incomplete=incomplete, latency_s=latency,
                      ttft_s=ttft, tpot_s=None if incomplete else tpot,
                      notes={**(notes or {}), **({"truncated": TRUNCATED} if self.truncated else {})})
        if not incomplete and not text.strip():
            raise empty(request, self.finish, reply)
        return reply


DEFAULT_MAX_ANSWER_BYTES = 1_000_000
TRUNCATED = "the answer passed the size cap (LLMLAB_MAX_ANSWER_BYTES) and was cut there"


def max_answer_chars() -> int:
    """The cap on an answer's size (``LLMLAB_MAX_ANSWER_BYTES``, default 1 MB), counted in characters."""
    from helpers import settings

    raw = settings.get("LLMLAB_MAX_ANSWER_BYTES")
    if raw is None:
        return DEFAULT_MAX_ANSWER_BYTES
    if not raw.strip().isdigit() or not 1000 <= int(raw) <= 10**9:
        raise errors.ConfigError(f"LLMLAB_MAX_ANSWER_BYTES={raw!r} is not valid",
                                 hint="Set it to a whole number of bytes from 1000 to 1000000000, or unset it "
                                      "(1 MB).")
    return int(raw)


def safe_reply(reply: Reply) -> Reply:
    """What every reply passes before it is kept, shown or priced: counts made numbers (``count``), any key a
    server echoed redacted, and text over the size cap cut (marked in ``notes["truncated"]``)."""
    cap = max_answer_chars()
    notes = dict(reply.notes)
    text, reasoning = reply.text, reply.reasoning
    if len(text) > cap or len(reasoning) > cap:
        text, reasoning = text[:cap], reasoning[:cap]
        notes["truncated"] = TRUNCATED
    model, finish = reply.model_reported, reply.finish_reason  # an SDK builds these unvalidated: any JSON
    return replace(reply, text=redact(text), reasoning=redact(reasoning), usage=counted(reply.usage),
                   model_reported=redact(model) if isinstance(model, str) and model else None,
                   finish_reason=finish if isinstance(finish, str) else None, notes=notes)
