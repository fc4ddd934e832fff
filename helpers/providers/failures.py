"""How a failed exchange is told to the user: an HTTP status, an error body or a broken transport turned into
the LabError that says what happened and how to fix it, with keys redacted from everything it carries."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from helpers import errors
from helpers.keys import redact

if TYPE_CHECKING:
    from helpers.answer import Reply
    from helpers.providers.base import Request


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


def describe(request: Request, status: int | None, message: str, exc: BaseException | None = None, *,
             body: Any = None, headers: Any = None) -> errors.LabError:
    """Turn an HTTP status (None for transport failures) into the LabError that says how to fix it.

    ``body`` (the parsed error body) and ``headers`` tell a spent quota from a rate limit, and give the wait
    a rate limit asks for."""
    from helpers.providers import wire

    scrub(exc)
    p = request.provider
    where = f"{p.name} at {request.base_url}" if request.base_url else p.name
    message = redact(str(message or "").strip())[:600]
    lowered = message.lower()
    if status == 401 or (status in (400, 403) and wire.bad_key(message)):
        return errors.AuthError(f"{p.name} refused the key in {p.key_var} ({status}): {message}",
                                hint=f"Check the key (run `python -m helpers keys`) or make a new one at {p.key_url}.")
    if status == 403:
        return errors.AuthError(f"{p.name} says the key may not use {request.model} (403 Forbidden): {message}",
                                hint="Check the project's permissions, billing or region for this key.")
    if status == 404 or (status == 400 and "model" in lowered and ("not exist" in lowered or "not found" in lowered
                                                                    or "invalid model" in lowered)):
        return errors.UnknownModelError(f"{p.name} does not know the model '{request.model}' ({status}): {message}",
                                        hint=f"List the models it offers with `python -m helpers models {p.name}`.")
    if wire.no_quota(status, body, message):
        return errors.QuotaExceeded(f"{p.name} says the account has no quota left ({status}; not retried, "
                                    f"waiting does not help): {message}",
                                    hint=f"Add credit or a payment method at {wire.billing_url(p.name)}, "
                                         "or use another provider.")
    if status == 429:
        wait = wire.wait_from_headers(headers) or wire.wait_from_body(body, message)
        asks = f" (it asks to wait {wire.fmt_wait(wait)})" if wait is not None else ""
        first = f"Wait {wire.fmt_wait(wait)} or more" if wait is not None else "Wait a little"
        return errors.RateLimitError(f"{p.name} rate-limited the request (429) after retries{asks}: {message}",
                                     hint=f"{first}, lower --concurrency, or check your plan's limits.")
    if status == 400 or status == 422:
        hint = ("Shorten the prompt or lower max_tokens." if "context" in lowered or "too long" in lowered
                or "maximum" in lowered else "Check the parameters sent (see the message).")
        return errors.BadRequestError(f"{p.name} rejected the request ({status}): {message}", hint=hint)
    if status is not None and (status in (503, 529) or "overloaded" in lowered):
        return errors.ProviderError(f"{p.name} failed with HTTP {status} after retries (overloaded): {message}",
                                    hint="The provider is busy; try again in a minute.")
    if status is not None:
        return errors.ProviderError(f"{p.name} failed with HTTP {status} after retries: {message}",
                                    hint="The provider may be down; try again later.")
    broke = transport_fault(exc)
    if broke is not None:
        return errors.ConnectionFailed(f"{where}: {broke[0]}", hint=broke[1])
    if isinstance(exc, TimeoutError) or "timed out" in lowered or "timeout" in lowered:
        return errors.TimeoutFailed(f"{where} did not answer within {request.timeout:g} s (a deadline for the whole "
                                    "exchange, retries included)",
                                    hint="Raise the timeout (timeout=… or LLMLAB_TIMEOUT) or try again.")
    if p.name == "ollama":
        return errors.ConnectionFailed(
            f"Ollama is not running at {request.base_url}",
            hint="Start it with `ollama serve` (install from https://ollama.com/download), or use the bundled "
                 "offline model local/smollm2 instead.")
    return errors.ConnectionFailed(f"cannot reach {where}: {message or type(exc).__name__}",
                                   hint=f"Check your network or {p.base_url_var}.")


# What a broken exchange was, by the transport's exception class name (httpx and httpx2 share the names).
_TRANSPORT = {
    "RemoteProtocolError": ("the server closed the connection in the middle of its answer",
                            "Try again; if it keeps happening, the server (or a proxy before it) is failing."),
    "DecodingError": ("the server's answer could not be decoded (a compressed body, e.g. gzip, that is damaged)",
                      "Try again; if it keeps happening, the server or a proxy before it is sending broken data."),
    "TooManyRedirects": ("the server redirected the request in a loop",
                         "Check the base URL: it should be the API's address itself, not a page that redirects."),
    "UnsupportedProtocol": ("the base URL does not start with http:// or https://",
                            "Write the base URL in full, e.g. https://api.example.com/v1."),
}


def transport_fault(exc: BaseException | None) -> tuple[str, str] | None:
    """(what happened, the fix) when an exception or one of its causes is a broken exchange that is not a
    network problem (closed mid-body, bad compression, redirect loop); None otherwise."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if type(exc).__name__ in _TRANSPORT:
            return _TRANSPORT[type(exc).__name__]
        exc = exc.__cause__ or exc.__context__
    return None


def malformed(request: Request, what: str, hint: str) -> errors.MalformedResponse:
    """The error for a provider body that parsed but is not a usable answer."""
    return errors.MalformedResponse(f"{request.spec}: {what}", hint=hint)


def sdk_message(exc: Any) -> str:
    """The human part of an SDK error, whatever the body's shape (an ``error`` object or string, an upstream
    reason in ``error.metadata.raw``)."""
    from helpers.providers import wire

    return wire.error_text(getattr(exc, "body", None), str(getattr(exc, "message", None) or exc))


def sdk_headers(exc: Any) -> Any:
    """The response headers of an SDK status error (None when it carries no response)."""
    return getattr(getattr(exc, "response", None), "headers", None)


def empty(request: Request, finish: str | None, partial: Reply, said: str = "") -> errors.EmptyAnswer:
    """The error of an answer without text; ``partial`` (what was billed and thought) stays on it."""
    said = f" ({said})" if said else ""
    if finish == "length":
        exc = errors.EmptyAnswer(f"{request.spec} used all max_tokens before answering{said}",
                                 hint="Raise max_tokens (reasoning models think first).")
    else:
        exc = errors.EmptyAnswer(f"{request.spec} returned an empty answer{said}",
                                 hint="Try again, or check the prompt and parameters.")
    exc.partial = partial
    return exc
