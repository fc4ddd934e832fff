"""What providers put on the wire beyond the OpenAI basics, read as plain data (pure functions).

Error bodies: ``error`` as an object or a plain string (xAI, percent-encoded at times), OpenRouter's upstream
reason in ``error.metadata.raw``; a 429 that means the account has no quota (OpenAI ``insufficient_quota``,
Anthropic's low credit balance) rather than "slow down"; the wait a rate limit asks for (``retry-after``,
``retry-after-ms``, Google's ``RetryInfo``, "try again in 5.289s" in the text). Usage in provider-specific
places: tokens written to a prompt cache, OpenRouter's own charge, and thinking tokens that only show in a
``total_tokens`` larger than prompt + completion (Gemini's OpenAI-compatible endpoint).
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

_WAIT_TEXT = re.compile(r"(?:try again|retry) in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_MINUTES_TEXT = re.compile(r"(?:try again|retry) in (\d+)m(\d+(?:\.\d+)?)s", re.IGNORECASE)
NO_QUOTA_WORDS = ("insufficient_quota", "credit balance is too low", "insufficient credits",
                  "exceeded your current quota")


def _text(value: Any) -> str:
    text = str(value).strip()
    if "%20" in text and " " not in text:  # xAI has sent its messages percent-encoded
        text = unquote(text)
    return text


def error_text(body: Any, fallback: str = "") -> str:
    """The human part of an error body, whatever its shape; OpenRouter's upstream reason appended."""
    if isinstance(body, str):
        return _text(body) or fallback
    if not isinstance(body, Mapping):
        return fallback
    inner = body.get("error", body)
    if isinstance(inner, str):
        return _text(inner)
    if not isinstance(inner, Mapping):
        return fallback
    message = _text(inner.get("message") or fallback)
    metadata = inner.get("metadata")
    if isinstance(metadata, Mapping):
        raw, who = metadata.get("raw"), metadata.get("provider_name")
        if raw:
            raw = raw if isinstance(raw, str) else str(raw)
            message = f"{message} ({who}: {_text(raw)})" if who else f"{message} ({_text(raw)})"
        elif who:
            message = f"{message} (from {who})"
    return message


def error_code(body: Any) -> str:
    """The machine-readable code/type of an error body ('' if none)."""
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    if not isinstance(inner, Mapping):
        return ""
    return " ".join(str(inner.get(k) or "") for k in ("code", "type", "status")).strip()


def embedded_status(body: Any) -> int | None:
    """The HTTP status an error event inside a stream carries (``status_code`` or a numeric ``code``)."""
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    if not isinstance(inner, Mapping):
        return None
    for key in ("status_code", "code", "status"):
        value = inner.get(key)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
        if isinstance(value, str) and value.isdigit() and 100 <= int(value) <= 599:
            return int(value)
    return None


def no_quota(status: int | None, body: Any, message: str = "") -> bool:
    """Whether an error says the account has no quota or credit left (waiting will not help).

    A per-minute limit worded as a quota (Google's free tier: "exceeded your current quota … Please retry in
    58s", with a RetryInfo) is a rate limit, not this."""
    if status not in (402, 429):
        return False
    words = f"{error_code(body)} {message or error_text(body)}".lower()
    if "insufficient_quota" in words or "credit balance is too low" in words or "insufficient credits" in words:
        return True
    return "exceeded your current quota" in words and wait_from_body(body, message) is None


def _seconds(value: str) -> float | None:
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def wait_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a response asks to wait before retrying (``retry-after-ms`` / ``retry-after``), or None."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        ms = _seconds(lowered["retry-after-ms"])
        return ms / 1000 if ms is not None else None
    if "retry-after" in lowered:
        return _seconds(lowered["retry-after"])
    return None


def wait_from_body(body: Any, message: str = "") -> float | None:
    """Seconds an error body asks to wait: Google's RetryInfo, else "try again in 5.289s" in the text."""
    inner = body.get("error", body) if isinstance(body, Mapping) else None
    for detail in (inner.get("details") or []) if isinstance(inner, Mapping) else []:
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        if isinstance(delay, str) and delay.endswith("s"):
            return _seconds(delay[:-1])
    text = message or error_text(body)
    minutes = _MINUTES_TEXT.search(text)
    if minutes:
        return int(minutes.group(1)) * 60 + float(minutes.group(2))
    found = _WAIT_TEXT.search(text)
    if found:
        value = float(found.group(1))
        return value / 1000 if found.group(2).lower() == "ms" else value
    return None


def fmt_wait(seconds: float) -> str:
    """'2 s', '0.98 s', '58 s', '1 min 1 s'."""
    if seconds >= 60:
        return f"{int(seconds // 60)} min {round(seconds % 60):d} s"
    return f"{seconds:.2g} s" if seconds < 1 else f"{round(seconds, 1):g} s"


MAX_COUNT = 10**12  # more tokens than any call could use: a count above it is not believed


def count(value: Any) -> int | None:
    """The one place a provider's token count becomes a number: a whole number from 0 to MAX_COUNT, or None.

    Providers (and servers that imitate them) send counts as ints, floats ("12.0"), strings ("12"), bools,
    negatives or absurd sizes; whatever is not a plausible count is unknown (None), never an exception.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"\d{1,13}(\.0*)?", text):
            return None
        value = int(text.split(".")[0])
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            return None
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        return None
    return int(value)


def usage_numbers(data: Mapping[str, Any]) -> dict[str, Any]:
    """Counts an OpenAI-style usage object holds, wherever the provider put them.

    Returns prompt / completion / cached / reasoning / cache_write tokens and the provider's own charge
    (None where absent). Thinking tokens that only show as ``total_tokens`` above prompt + completion are
    billed as output: they are added to the completion and counted as reasoning."""
    prompt_details = data.get("prompt_tokens_details")
    prompt_details = prompt_details if isinstance(prompt_details, Mapping) else {}
    completion_details = data.get("completion_tokens_details")
    completion_details = completion_details if isinstance(completion_details, Mapping) else {}
    prompt, completion = count(data.get("prompt_tokens")), count(data.get("completion_tokens"))
    cached = prompt_details.get("cached_tokens")
    if cached is None:
        cached = data.get("prompt_cache_hit_tokens")  # DeepSeek
    written = prompt_details.get("cache_write_tokens")
    if written is None:
        written = prompt_details.get("cache_creation_tokens")
    reasoning = completion_details.get("reasoning_tokens")
    total = count(data.get("total_tokens"))
    if total is not None and prompt is not None and completion is not None and not reasoning:
        hidden = total - prompt - completion
        if hidden > 0:
            completion, reasoning = completion + hidden, hidden
    cost = data.get("cost")
    return {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached,
            "reasoning_tokens": reasoning, "cache_write_tokens": written,
            "provider_cost": cost if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None}


_BAD_KEY = ("incorrect api key", "invalid api key", "api key not valid", "invalid x-api-key", "api_key_invalid",
            "no api key provided")
BILLING = {"openai": "https://platform.openai.com/settings/organization/billing",
           "anthropic": "https://console.anthropic.com/settings/billing",
           "openrouter": "https://openrouter.ai/settings/credits",
           "deepseek": "https://platform.deepseek.com/top_up",
           "grok": "https://console.x.ai",
           "groq": "https://console.groq.com/settings/billing",
           "gemini": "https://aistudio.google.com/usage", "google": "https://aistudio.google.com/usage"}


def bad_key(message: str) -> bool:
    """Whether an error message (of a 400 or 403) says the API key itself is wrong (xAI answers so)."""
    lowered = message.lower()
    return any(words in lowered for words in _BAD_KEY)


def billing_url(provider: str) -> str:
    """Where a provider's account gets credit or a payment method."""
    return BILLING.get(provider, "the provider's billing page")


def plain(obj: Any) -> Any:
    """An SDK's pydantic object as plain dicts and lists (its fields and extra fields), without asking
    pydantic to serialise it: the SDKs defer their serialisers, and building one on first use holds the
    event loop for a noticeable time while other calls' replies wait."""
    if isinstance(obj, Mapping):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(type(obj), "model_fields") and hasattr(obj, "__dict__"):
        out = {k: plain(v) for k, v in vars(obj).items() if not k.startswith("_")}
        out.update({k: plain(v) for k, v in (getattr(obj, "model_extra", None) or {}).items()})
        return out
    return obj
