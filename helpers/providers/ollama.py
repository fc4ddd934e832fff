"""Ollama's native API: is it running, which models are installed, pull one, and generation speed.

Chat itself goes through the OpenAI-compatible path like every provider (``ask("ollama/llama3.2", …)``);
this module covers what only the native API offers. The native root is ``OLLAMA_BASE_URL`` without its
``/v1`` (default ``http://localhost:11434``). When Ollama is not running, calls raise ConnectionFailed
saying how to start it and what to use instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from helpers import catalog, errors
from helpers.display import terminal
from helpers.providers.base import Request, count
from helpers.providers.failures import describe

TIMEOUT = 5.0


def root_url(url: str | None = None) -> str:
    """The native API root: ``url`` or OLLAMA_BASE_URL / the catalog's, without a trailing ``/v1``."""
    base = (url or catalog.provider("ollama").base_url or "http://localhost:11434").rstrip("/")
    return base.removesuffix("/v1")


def _not_running(root: str, exc: Exception) -> errors.LabError:
    request = Request(provider=catalog.provider("ollama"), model="", messages=[], base_url=root)
    return describe(request, None, str(exc), exc)


def _http(method: str, path: str, url: str | None, timeout: float = TIMEOUT, check: bool = True,
          **kwargs: Any) -> Any:
    """One native call; connection failures become the 'Ollama is not running' error."""
    import httpx

    root = root_url(url)
    try:
        response = httpx.request(method, root + path, timeout=timeout, **kwargs)
    except httpx.TimeoutException as exc:
        raise errors.TimeoutFailed(f"Ollama at {root} did not answer within {timeout:g} s",
                                   hint="It may be loading a model; try again.") from exc
    except httpx.TransportError as exc:
        raise _not_running(root, exc) from exc
    if not check:
        return response
    if response.status_code == 404:
        raise errors.UnknownModelError(f"Ollama: {_error_text(response)}",
                                       hint="Install it with `python -m helpers ollama pull MODEL`.")
    if response.status_code >= 400:
        raise errors.ProviderError(f"Ollama answered HTTP {response.status_code}: {_error_text(response)}")
    return response


NOT_OLLAMA = "Check that OLLAMA_BASE_URL points at Ollama (default http://localhost:11434), not another server."


def _not_ollama(root: str, what: str, body: Any) -> errors.MalformedResponse:
    looks = "an HTML page" if isinstance(body, str) and body.lstrip()[:1] == "<" else "something else"
    if not isinstance(body, str):
        looks = f"JSON of another shape ({type(body).__name__})"
    return errors.MalformedResponse(f"{root} answered {what} with {looks}, not Ollama's API", hint=NOT_OLLAMA)


def _object(response: Any, root: str, what: str) -> dict[str, Any]:
    """The JSON object of a native answer; MalformedResponse naming the fix for HTML or another shape."""
    try:
        data = response.json()
    except ValueError:
        raise _not_ollama(root, what, response.text[:200] or " ") from None
    if not isinstance(data, dict):
        raise _not_ollama(root, what, data)
    return data


def _error_text(response: Any) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    inner = data.get("error", data) if isinstance(data, dict) else data
    return str(inner.get("message", inner) if isinstance(inner, dict) else inner)[:300]


# -- status and installed models ------------------------------------------------------------------------------
@dataclass
class Status:
    """Whether Ollama answers at ``url``; ``message`` says what to do when it does not."""

    running: bool
    url: str
    version: str | None = None
    message: str = ""


def status(url: str | None = None, timeout: float = 2.0) -> Status:
    """Ask ``GET /`` (answers "Ollama is running") and ``/api/version``. Never raises for a dead server."""
    root = root_url(url)
    try:
        text = _http("GET", "/", url, timeout, check=False).text
    except errors.LabError as exc:
        return Status(running=False, url=root, message=str(exc))
    if "ollama is running" not in text.lower():
        return Status(running=False, url=root, message=f"{root} answered, but not as Ollama: {text[:80]!r}")
    try:
        version = _object(_http("GET", "/api/version", url, timeout), root, "/api/version").get("version")
    except errors.LabError:
        version = None
    version = version if isinstance(version, str) else None
    return Status(running=True, url=root, version=version, message="Ollama is running")


@dataclass
class Model:
    """One installed model, as ``/api/tags`` lists it."""

    name: str
    size_bytes: int = 0
    parameter_size: str = ""
    quantization: str = ""
    family: str = ""
    modified_at: str = ""

    @property
    def spec(self) -> str:
        """The spec to ask it with (``:latest`` dropped)."""
        return "ollama/" + self.name.removesuffix(":latest")


def models(url: str | None = None) -> list[Model]:
    """Installed models (``GET /api/tags``)."""
    root = root_url(url)
    found = _object(_http("GET", "/api/tags", url), root, "/api/tags").get("models") or []
    if not isinstance(found, list) or not all(isinstance(m, dict) for m in found):
        raise _not_ollama(root, "/api/tags", found)
    out = []
    for m in found:
        details = m.get("details") if isinstance(m.get("details"), dict) else {}
        text = lambda v: v if isinstance(v, str) else ""
        out.append(Model(name=text(m.get("name")) or text(m.get("model")), size_bytes=count(m.get("size")) or 0,
                         parameter_size=text(details.get("parameter_size")),
                         quantization=text(details.get("quantization_level")), family=text(details.get("family")),
                         modified_at=text(m.get("modified_at"))))
    return out


# -- pull ------------------------------------------------------------------------------------------------------
class _Bars:
    """One tqdm bar per layer (``tqdm.auto``: a widget in notebooks, text in terminals)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def update(self, event: dict[str, Any]) -> None:
        if not self.enabled:
            return
        from tqdm.auto import tqdm

        digest, total = event.get("digest"), event.get("total")
        if not digest or not total:
            tqdm.write(terminal(str(event.get("status", ""))))
            return
        if count(total) is None:
            return
        bar = self.bars.get(str(digest))
        if bar is None:
            bar = self.bars[str(digest)] = tqdm(total=count(total),
                                                desc=terminal(event.get("status", str(digest)[7:19])),
                                                unit="B", unit_scale=True, unit_divisor=1024)
        bar.update(max(0, (count(event.get("completed")) or 0) - bar.n))

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def pull(name: str, url: str | None = None, progress: bool = True, timeout: float = 3600.0) -> list[dict]:
    """Download a model (``POST /api/pull``, streamed). Returns the progress events; raises on failure."""
    import httpx

    root = root_url(url)
    events: list[dict[str, Any]] = []
    bars = _Bars(progress)
    try:
        with httpx.stream("POST", root + "/api/pull", json={"model": name, "stream": True},
                          timeout=httpx.Timeout(timeout, connect=TIMEOUT)) as response:
            if response.status_code >= 400:
                response.read()
                raise errors.ProviderError(f"Ollama refused to pull {name} (HTTP {response.status_code}): "
                                           f"{_error_text(response)}")
            for line in response.iter_lines():
                if not line.strip():
                    continue
                event = json.loads(line)
                if not isinstance(event, dict):
                    raise _not_ollama(root, "/api/pull", event)
                events.append(event)
                if "error" in event:
                    raise errors.UnknownModelError(f"Ollama could not pull {name}: {event['error']}",
                                                   hint="Check the name at https://ollama.com/library.")
                bars.update(event)
    except httpx.TransportError as exc:
        if events:
            raise errors.ConnectionFailed(f"the download of {name} from {root} broke off: {exc}",
                                          hint="Run the pull again; Ollama resumes where it stopped.") from exc
        raise _not_running(root, exc) from exc
    except ValueError as exc:
        raise errors.MalformedResponse(f"{root} sent a progress line that is not JSON ({exc}), not Ollama's API",
                                       hint=NOT_OLLAMA) from exc
    finally:
        bars.close()
    if events and not any("status" in e for e in events):
        raise _not_ollama(root, "/api/pull", events[0])
    if not events or events[-1].get("status") != "success":
        raise errors.MalformedResponse(f"the pull of {name} ended without 'success'",
                                       hint="Run it again, or check `ollama list`.")
    return events


# -- generation speed --------------------------------------------------------------------------------------------
def tokens_per_second(eval_count: int | None, eval_duration_ns: int | None) -> float | None:
    """Tokens per second from Ollama's counters (duration in nanoseconds); None when either is missing."""
    if not eval_count or not eval_duration_ns:
        return None
    return eval_count / (eval_duration_ns / 1e9)


@dataclass
class ChatStats:
    """One native chat's answer and Ollama's own timings (seconds; generation and prompt rates)."""

    model: str
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    eval_s: float | None = None
    prompt_eval_s: float | None = None
    load_s: float | None = None
    total_s: float | None = None
    tokens_per_second: float | None = None
    prompt_tokens_per_second: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _seconds(ns: Any) -> float | None:
    return ns / 1e9 if isinstance(ns, (int, float)) and ns else None


def chat_stats(model: str, prompt: str, url: str | None = None, timeout: float = 300.0,
               **options: Any) -> ChatStats:
    """Ask through the native ``/api/chat`` (not streamed) to read ``eval_count`` / ``eval_duration``.

    ``options`` go to Ollama's ``options`` (e.g. ``temperature=0``, ``num_predict=100``).
    """
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": False}
    if options:
        body["options"] = options
    data = _object(_http("POST", "/api/chat", url, timeout, json=body), root_url(url), "/api/chat")
    if "error" in data:
        raise errors.ProviderError(f"Ollama: {data['error']}")
    message = data.get("message")
    if not isinstance(message, dict) or not isinstance(message.get("content", ""), str):
        raise _not_ollama(root_url(url), "/api/chat", data)
    for name in ("prompt_eval_count", "eval_count", "eval_duration", "prompt_eval_duration", "load_duration",
                 "total_duration"):
        data[name] = count(data.get(name))
    return ChatStats(model=str(data.get("model") or model), text=message.get("content", ""),
                     prompt_tokens=data.get("prompt_eval_count"), completion_tokens=data.get("eval_count"),
                     eval_s=_seconds(data.get("eval_duration")),
                     prompt_eval_s=_seconds(data.get("prompt_eval_duration")),
                     load_s=_seconds(data.get("load_duration")), total_s=_seconds(data.get("total_duration")),
                     tokens_per_second=tokens_per_second(data.get("eval_count"), data.get("eval_duration")),
                     prompt_tokens_per_second=tokens_per_second(data.get("prompt_eval_count"),
                                                                data.get("prompt_eval_duration")),
                     raw=data)
