"""`ask()`: one prompt to one model, through the provider's adapter, with cost, cache and run log.

Call failures (missing key, refused key, network, bad response) come back as an Answer whose ``error``
says what happened and how to fix it, and are logged like successes; bad input (a malformed spec or
parameter) raises ConfigError at once. ``raise_errors=True`` raises call failures too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from helpers import catalog, errors, keys, providers
from helpers import spec as specs
from helpers.answer import Answer, Cost, Reply
from helpers.estimates import budget, cost, emissions, measure
from helpers.estimates import factors as emission_factors
from helpers.providers import adapter
from helpers.providers.base import Request, base_url_problem, public_params, safe_reply
from helpers.runlog import store as run_log

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
PARAMS = ("temperature", "top_p", "max_tokens", "seed", "stop", "reasoning_effort", "stream", "timeout",
          "max_retries", "frequency_penalty", "presence_penalty", "extra_body", "cache_prompt")


def build_messages(prompt: str | Sequence[dict[str, Any]] | None, system: str | None = None) -> list[dict[str, Any]]:
    """A chat message list from a prompt string or a message list, with an optional system prompt first."""
    if isinstance(prompt, str):
        if not prompt.strip():
            raise errors.ConfigError("the prompt is empty", hint="Pass some text to ask, e.g. ask(spec, 'Hello').")
        messages = [{"role": "user", "content": prompt}]
    elif isinstance(prompt, Sequence) and not isinstance(prompt, (bytes, bytearray)) and prompt:
        messages = []
        for i, m in enumerate(prompt):
            if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant", "developer"):
                raise errors.ConfigError(f"message {i} is not a chat message: {m!r:.80}",
                                         hint="Each message is a dict like {'role': 'user', 'content': 'text'}.")
            if not isinstance(m.get("content"), (str, list)):
                raise errors.ConfigError(f"message {i} has content of type {type(m.get('content')).__name__}",
                                         hint="Content is a string (or a list of content blocks).")
            messages.append(dict(m))
    else:
        raise errors.ConfigError(f"cannot ask with {type(prompt).__name__} {prompt!r:.40}",
                                 hint="Pass a prompt string or a non-empty list of {'role', 'content'} messages.")
    messages = [_encodable(m) for m in messages]
    if system is not None:
        if not isinstance(system, str):
            raise errors.ConfigError("the system prompt must be a string",
                                     hint="Pass the system prompt as text, e.g. system='Answer briefly.'")
        if system.strip():
            messages = [{"role": "system", "content": _SURROGATE.sub("\ufffd", system)},
                        *[m for m in messages if m["role"] != "system"]]
    return messages


_SURROGATE = re.compile("[\ud800-\udfff]")


def _encodable(message: dict[str, Any]) -> dict[str, Any]:
    """A message whose text a request can carry: lone UTF-16 surrogates (e.g. in an earlier answer that a
    conversation passes on) become U+FFFD; no encoder would send them."""
    content = message.get("content")
    if isinstance(content, str) and _SURROGATE.search(content):
        return {**message, "content": _SURROGATE.sub("\ufffd", content)}
    if isinstance(content, list):
        blocks = [{**b, "text": _SURROGATE.sub("\ufffd", b["text"])}
                  if isinstance(b, dict) and isinstance(b.get("text"), str) else b for b in content]
        return {**message, "content": blocks}
    return message


def _number(name: str, value: Any, low: float, high: float, integer: bool = False) -> Any:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not low <= value <= high:
        kind = "a whole number" if integer else "a number"
        raise errors.ConfigError(f"{name}={value!r} is out of range",
                                 hint=f"{name} must be {kind} from {low:g} to {high:g}.")
    return value


def validate_params(params: dict[str, Any]) -> dict[str, Any]:
    """Checked request parameters; unknown names and absurd values raise ConfigError naming the fix."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise errors.ConfigError(f"unknown parameter(s) {', '.join(unknown)}",
                                 hint=f"Known: {', '.join(PARAMS)}. Provider-specific fields go in extra_body={{…}}.")
    p = {k: v for k, v in params.items() if v is not None}
    if "temperature" in p:
        _number("temperature", p["temperature"], 0, 2)
    if "top_p" in p:
        _number("top_p", p["top_p"], 0, 1)
    if "max_tokens" in p:
        _number("max_tokens", p["max_tokens"], 1, 1_000_000, integer=True)
    if "seed" in p:
        _number("seed", p["seed"], -(2**63), 2**63 - 1, integer=True)
    if "timeout" in p:
        _number("timeout", p["timeout"], 0.001, 3600)
    if "max_retries" in p:
        _number("max_retries", p["max_retries"], 0, 20, integer=True)
    for name in ("frequency_penalty", "presence_penalty"):
        if name in p:
            _number(name, p[name], -2, 2)
    if "stop" in p:
        stop = p["stop"]
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not stop or not all(isinstance(s, str) and s for s in stop) or len(stop) > 4:
            raise errors.ConfigError(f"stop={p['stop']!r} is not valid",
                                     hint="stop is a string or a list of 1-4 strings.")
    if "reasoning_effort" in p and p["reasoning_effort"] not in REASONING_EFFORTS:
        raise errors.ConfigError(f"reasoning_effort={p['reasoning_effort']!r} is not valid",
                                 hint=f"Use one of {', '.join(REASONING_EFFORTS)}.")
    for name in ("stream", "cache_prompt"):
        if name in p and not isinstance(p[name], bool):
            raise errors.ConfigError(f"{name}={p[name]!r} must be True or False",
                                     hint=f"Pass {name}=True or {name}=False.")
    if "extra_body" in p and not isinstance(p["extra_body"], dict):
        raise errors.ConfigError("extra_body must be a dict of extra JSON fields",
                                 hint="Pass provider-specific fields as a dict, e.g. extra_body={'top_k': 40}.")
    return p


@dataclass
class Prepared:
    """A validated request with its cache key, ready to send."""

    request: Request
    hash: str
    key_error: errors.LabError | None = None  # a missing or unsendable key: the call fails without being sent


def prepare(spec: str | specs.ModelSpec, prompt: Any, system: str | None = None,
            on_text: Callable[[str], None] | None = None, **params: Any) -> Prepared:
    """Parse the spec, build messages, validate parameters, find the key and base URL.

    ``on_text`` receives the answer's text piece by piece as it streams (implies ``stream=True``).
    """
    parsed = specs.parse(spec)
    provider = catalog.provider(parsed.provider)
    merged = validate_params({**parsed.params, **params, **({"stream": True} if on_text else {})})
    messages = build_messages(prompt, system)
    request = Request(provider=provider, model=parsed.model, messages=messages, params=merged,
                      api_key=provider.api_key(), base_url=provider.base_url, spec=parsed.label,
                      on_text=on_text)
    check_settings(request)
    key_error: errors.LabError | None = None
    if provider.needs_key and not request.api_key:
        key_error = errors.MissingKeyError(f"{parsed.label} needs {provider.key_var}, which is not set",
                                           hint=keys.missing_key_hint(provider))
    elif request.api_key and (problem := keys.unsendable(request.api_key, provider.key_var or "the key")):
        key_error = errors.ConfigError(problem[0], hint=problem[1])
    if key_error is None and provider.api != "stub":  # a bad base URL: the cell fails, recorded, without a send
        key_error = base_url_problem(provider.base_url_var, request.base_url)
    key = run_log.request_hash(provider.name, parsed.model, messages, merged)
    return Prepared(request=request, hash=key, key_error=key_error)


def check_settings(request: Request) -> None:
    """Settings the call depends on, checked before it is sent (bad ones raise ConfigError naming the fix):
    the timeout and retries (LLMLAB_TIMEOUT, LLMLAB_MAX_RETRIES), custom emission factors
    (LLMLAB_EMISSION_FACTORS, read after the call) and, for a local model, LLMLAB_MEASURE_LOCAL."""
    _ = request.timeout, request.max_retries
    emission_factors.table()
    if request.provider.local:
        measure.enabled()


def blank(request: Request) -> Answer:
    """The answer's request echo (no reply yet)."""
    return Answer(spec=request.spec, provider=request.provider.name, model=request.model,
                  params=public_params(request.params), messages=request.messages,
                  offline=request.provider.local or request.provider.offline)


def answered(request: Request, reply: Reply) -> Answer:
    """The answer made of a provider's reply; a stream cut off is an error that keeps its partial text."""
    answer = blank(request)
    answer.reply = reply = safe_reply(reply)
    answer.extra.update(reply.notes)
    if reply.incomplete:
        answer.error = "the stream was cut off before the model finished; the partial answer is kept"
        answer.error_kind = "incomplete"
    return answer


def _failed(prepared: Prepared, exc: errors.LabError, started: float) -> Answer:
    """The answer of a failed call: what the provider sent and billed before failing (``exc.partial``:
    usage, reasoning, finish reason, timing), else an empty reply; the error says what happened and the fix."""
    answer = blank(prepared.request)
    partial = exc.partial if isinstance(exc.partial, Reply) else None
    if partial is not None:
        answer.reply = partial if partial.latency_s is not None else replace(
            partial, latency_s=time.perf_counter() - started)
        answer.extra.update(partial.notes)
    else:
        answer.reply = Reply(latency_s=time.perf_counter() - started)
    answer.record_error(exc)
    return answer


def _finish(prepared: Prepared, answer: Answer, started: float, store: run_log.Store, run_id: str | None,
            cell: str | None, cache_hit: bool = False) -> Answer:
    if not cache_hit:
        if answer.latency_s is None:  # adapters time the exchange itself; this is the fallback
            answer.reply = replace(answer.reply, latency_s=time.perf_counter() - started)
        if answer.usage.prompt_tokens is not None or answer.usage.completion_tokens is not None:
            answer.cost = Cost(*cost.price(answer))
        else:
            answer.cost = Cost(None, "the provider reported no token usage")
        emissions.annotate(answer)  # remote estimates; cache hits keep their stored figures
        budget.settle(prepared.request, answer)
    store.log(answer, request_hash=prepared.hash, run_id=run_id, cell=cell, cache_hit=cache_hit)
    return answer


def as_cached(hit: Answer, prepared: Prepared) -> Answer:
    """A stored answer served for this request: marked cached, with this request's spec, params and messages."""
    hit.cached, hit.spec = True, prepared.request.spec
    hit.params, hit.messages = public_params(prepared.request.params), prepared.request.messages
    return hit


@dataclass
class _Call:
    """What ``ask`` and ``ask_async`` share before the provider is called."""

    prepared: Prepared
    store: run_log.Store
    started: float
    hit: Answer | None


def _begin(prepared: Prepared, store: run_log.Store | None, use_cache: bool, use_imported: bool = False) -> _Call:
    store = store or run_log.default()
    store.check_writable()  # a run log that cannot be written fails now, not after a paid call
    started = time.perf_counter()
    hit = store.cached(prepared.hash, use_imported=use_imported) if use_cache else None
    return _Call(prepared, store, started, as_cached(hit, prepared) if hit is not None else None)


def _admit(prepared: Prepared, worst: budget.WorstCase | None = None) -> Request:
    """The request, once its key and the session budget allow it (raises the LabError that says why not)."""
    if prepared.key_error:
        raise prepared.key_error
    budget.admit(prepared.request, worst=worst)
    return prepared.request


def ask(spec: str | specs.ModelSpec, prompt: Any = None, *, system: str | None = None, use_cache: bool = True,
        run_id: str | None = None, cell: str | None = None, store: run_log.Store | None = None,
        raise_errors: bool = False, on_text: Callable[[str], None] | None = None, use_imported: bool = False,
        **params: Any) -> Answer:
    """Ask one model. Returns an Answer (``answer.error`` set on failure, unless ``raise_errors``).

    ``use_imported``: let answers of runs read from a file (``runs import``) serve this request from the cache.
    """
    call = _begin(prepare(spec, prompt, system, on_text, **params), store, use_cache, use_imported)
    if call.hit is not None:
        return _finish(call.prepared, call.hit, call.started, call.store, run_id, cell, cache_hit=True)
    try:
        request = _admit(call.prepared)
        answer = measure.call(request.provider.local,
                              lambda: answered(request, adapter(request.provider.api).complete(request)))
    except errors.LabError as exc:
        answer = _failed(call.prepared, exc, call.started)
    answer = _finish(call.prepared, answer, call.started, call.store, run_id, cell)
    return answer.raise_for_error() if raise_errors else answer


async def ask_async(spec: str | specs.ModelSpec, prompt: Any = None, *, system: str | None = None,
                    use_cache: bool = True, run_id: str | None = None, cell: str | None = None,
                    store: run_log.Store | None = None, raise_errors: bool = False,
                    on_text: Callable[[str], None] | None = None, use_imported: bool = False,
                    **params: Any) -> Answer:
    """The same as ``ask`` for asyncio code (fan-out with ``asyncio.gather``)."""
    return await ask_prepared_async(prepare(spec, prompt, system, on_text, **params), use_cache=use_cache,
                                    run_id=run_id, cell=cell, store=store, raise_errors=raise_errors,
                                    use_imported=use_imported)


async def ask_prepared_async(prepared: Prepared, *, use_cache: bool = True, run_id: str | None = None,
                             cell: str | None = None, store: run_log.Store | None = None, raise_errors: bool = False,
                             worst: budget.WorstCase | None = None, use_imported: bool = False) -> Answer:
    """``ask_async`` for a request already made by ``prepare`` (the comparison runner prepares each cell once).

    ``worst``: the call's worst case when the caller already computed it for its own budget (computed once);
    ``use_imported`` as for ``ask``.
    """
    call = _begin(prepared, store, use_cache, use_imported)
    if call.hit is not None:
        return _finish(call.prepared, call.hit, call.started, call.store, run_id, cell, cache_hit=True)
    try:
        request = _admit(call.prepared, worst)
        warm([request.provider.api])  # once per process, before this request is sent
        chosen = adapter(request.provider.api)

        async def exchange() -> Answer:
            return answered(request, await chosen.run(request))

        answer = await measure.acall(request.provider.local, exchange)
    except errors.LabError as exc:
        answer = _failed(call.prepared, exc, call.started)
    # Pricing, emission estimates and the run-log write run here, on the loop (about 0.3 ms). A worker thread
    # gained nothing: it holds the GIL while it works, so the loop waited for it all the same, and the hop
    # cost more than the work (6,000 cells: 25 % more CPU; BENCHMARKS.md, "Class scale").
    answer = _finish(call.prepared, answer, call.started, call.store, run_id, cell)
    return answer.raise_for_error() if raise_errors else answer


_warmed: set[str] = set()


def warm(apis: Sequence[str]) -> None:
    """Import what calls of these API families need (their SDKs, genai-prices, EcoLogits), once per process.

    Imports take seconds and hold the event loop; done before requests are in flight, they are not counted
    in any call's latency (the comparison runner warms every family of a run before its first request)."""
    todo = [api for api in dict.fromkeys(apis) if api not in _warmed]
    if not todo:
        return
    for api in todo:
        adapter(api)
    if not _warmed:  # genai-prices and EcoLogits read and validate their data on first use: one of each now
        from helpers.answer import Usage

        emissions.estimate("openai", "gpt-4o-mini", 10, 10, 1.0)
        cost.price_usage(Usage(10, 10), "gpt-4o-mini", "openai")
    _warmed.update(todo)


def warm_request(spec: str) -> Request | None:
    """A request to ``spec`` with no message (enough to build its SDK client), None when it cannot be sent."""
    parsed = specs.parse(spec)
    provider = catalog.provider(parsed.provider)
    if provider.needs_key and not provider.api_key():
        return None
    if base_url_problem(provider.base_url_var, provider.base_url) is not None:
        return None  # its cells fail, recorded, naming the variable; no client is built for it
    return Request(provider=provider, model=parsed.model, messages=[], params=dict(parsed.params),
                   api_key=provider.api_key(), base_url=provider.base_url, spec=parsed.label)


def ask_many(specs_: Sequence[str], prompt: Any, *, max_workers: int = 8, **kwargs: Any) -> list[Answer]:
    """Ask several models the same thing at once (threads, so it works inside notebooks too)."""
    parsed = [specs.parse(s) for s in specs_]  # bad specs fail before any call
    # every SDK imported before the threads start (two threads importing SDKs that share httpx can see it
    # half-initialised); an unknown provider is left for its own call to report
    providers.load(catalog.providers()[p.provider].api for p in parsed if p.provider in catalog.providers())
    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(specs_)))) as pool:
        return list(pool.map(lambda s: ask(s, prompt, **kwargs), specs_))
