"""Typed errors. Each message says what went wrong and how to fix it; none carries a full key."""

from __future__ import annotations

from typing import Any


class LabError(Exception):
    """Base class of every error LLM Lab raises on purpose (the CLI prints these without a traceback)."""

    kind = "error"
    partial: Any = None  # a Reply holding what the provider sent and billed before the failure, if anything

    def __init__(self, message: str, *, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        sentence = message if not hint or message.rstrip().endswith((".", "!", "?", ":")) else f"{message}."
        super().__init__(f"{sentence} {hint}".strip())


class ConfigError(LabError, ValueError):
    """Bad input from the user: a malformed spec, an unknown provider, a bad parameter or file."""

    kind = "config"


class MissingKeyError(LabError):
    """The provider needs an API key that is not set."""

    kind = "missing_key"


class AuthError(LabError):
    """The provider refused the key (401) or the key lacks permission (403)."""

    kind = "auth"


class UnknownModelError(LabError):
    """The provider does not know the model (404 or an equivalent 400)."""

    kind = "unknown_model"


class RateLimitError(LabError):
    """429 after all retries."""

    kind = "rate_limit"


class QuotaExceeded(LabError):
    """429 whose body says the account has no quota or credit left: waiting does not help, so not retried."""

    kind = "quota"


class ProviderError(LabError):
    """A 5xx or otherwise failed response after all retries."""

    kind = "provider"


class BadRequestError(LabError):
    """The provider rejected the request (400), e.g. a prompt over the context limit."""

    kind = "bad_request"


class ConnectionFailed(LabError):
    """The server could not be reached (refused, DNS, TLS)."""

    kind = "connection"


class TimeoutFailed(LabError):
    """The request took longer than the timeout."""

    kind = "timeout"


class MalformedResponse(LabError):
    """The provider answered with something that is not a usable completion."""

    kind = "malformed"


class EmptyAnswer(LabError):
    """The provider answered with no text."""

    kind = "empty"


class BudgetExceeded(LabError):
    """A spending or emissions budget would be exceeded by the next call."""

    kind = "budget"


def for_kind(kind: str | None) -> type[LabError]:
    """The error class whose ``kind`` this is (LabError for an unknown or missing kind)."""

    def all_classes(cls: type[LabError]) -> list[type[LabError]]:
        return [cls, *(c for sub in cls.__subclasses__() for c in all_classes(sub))]

    return next((c for c in all_classes(LabError) if c.kind == kind), LabError)
