"""What every adapter shares: the Request value, `<think>` splitting, and readable error messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from .. import errors
from ..answer import Answer
from ..catalog import Provider
from ..keys import redact


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
        from .. import settings

        return float(self.params.get("timeout") or settings.timeout_seconds())

    @property
    def max_retries(self) -> int:
        from .. import settings

        value = self.params.get("max_retries")
        return settings.max_retries() if value is None else int(value)

    def blank_answer(self) -> Answer:
        return Answer(spec=self.spec, provider=self.provider.name, model=self.model,
                      params=public_params(self.params), messages=self.messages,
                      offline=self.provider.local or self.provider.offline)


TRANSPORT = ("timeout", "max_retries")


def public_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as recorded in the run log (transport settings left out)."""
    return {k: v for k, v in params.items() if k not in TRANSPORT and v is not None}


_THINK = re.compile(r"^\s*<think>(.*?)(?:</think>|$)", re.DOTALL)


def split_think(text: str) -> tuple[str, str]:
    """Separate a leading ``<think>…</think>`` block: returns (answer, reasoning)."""
    match = _THINK.match(text or "")
    if not match:
        return text or "", ""
    return text[match.end():].lstrip(), match.group(1).strip()


def describe(request: Request, status: int | None, message: str, exc: Exception | None = None) -> errors.LabError:
    """Turn an HTTP status (None for transport failures) into the LabError that says how to fix it."""
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
