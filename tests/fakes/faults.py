"""Values shared by the fakes: scripted faults, recorded requests, error bodies, token counting."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FAULT_KINDS", "Answer", "Fault", "Recorded", "content_text", "default_reply", "pieces",
           "usage_body"]

DEFAULT_REASONING = "The user wants an answer. Let me think step by step."
MALFORMED = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [{"index": 0, "mess'
FAULT_KINDS = ("ok", "status", "malformed", "empty_choices", "no_usage", "empty_content", "think",
               "reasoning_field", "length", "timeout", "slow_first_byte", "cut_stream", "close",
               "drip", "raw", "redirect_loop", "cut_body", "bad_gzip")

# code -> (message, type, param, code); {model} and {key} are filled in.
ERRORS: dict[int, tuple[str, str, str | None, str | None]] = {
    400: (("This model's maximum context length is 128000 tokens. However, your messages resulted in "
           "131072 tokens. Please reduce the length of the messages."),
          "invalid_request_error", "messages", "context_length_exceeded"),
    401: (("Incorrect API key provided: {key}. You can find your API key at "
           "https://platform.openai.com/account/api-keys."), "invalid_request_error", None, "invalid_api_key"),
    403: ("Country, region, or territory not supported", "request_forbidden", None,
          "unsupported_country_region_territory"),
    404: ("The model `{model}` does not exist or you do not have access to it.",
          "invalid_request_error", None, "model_not_found"),
    429: (("Rate limit reached for {model} in organization org-fake on requests per min (RPM): Limit 3, "
           "Used 3, Requested 1. Please try again in 20s. Visit https://platform.openai.com/account/"
           "rate-limits to learn more."), "requests", None, "rate_limit_exceeded"),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error",
          None, None),
    502: ("Bad gateway.", "server_error", None, None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None, None),
    504: ("Gateway timeout.", "server_error", None, None),
}


@dataclass(frozen=True)
class Recorded:
    """One request as the server saw it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    time: float
    raw: bytes = b""
    query: str = ""

    @property
    def api_key(self) -> str | None:
        """The bearer token of the Authorization header, if any."""
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass(frozen=True)
class Fault:
    """How the server answers one call; build with the class methods or `Fault.parse("status:429")`."""

    kind: str = "ok"
    code: int = 200
    body: Any = None  # status: dict (sent as JSON) or str/bytes (sent raw)
    headers: Mapping[str, str] | None = None
    message: str | None = None
    error_code: str | None = None
    retry_after: float | None = None
    seconds: float = 0.0  # timeout / slow_first_byte
    after: int = 2  # cut_stream: chunks sent before the cut
    text: str | None = None  # reply text override
    reasoning: str | None = None  # think / reasoning_field
    usage: Mapping[str, int] | None = None  # prompt_tokens, completion_tokens, cached_tokens, ...
    model: str | None = None  # model name reported in the response
    raw_usage: Any = None  # the usage object sent as is (odd values: negative, strings, floats, bools)

    @classmethod
    def drip(cls, seconds: float = 1.0) -> Fault:
        """A whole, valid chat completion sent one byte every `seconds` (a read timeout never fires)."""
        return cls("drip", seconds=seconds)

    @classmethod
    def raw(cls, body: bytes | str, headers: Mapping[str, str] | None = None, code: int = 200) -> Fault:
        """`body` sent as is with `headers` (HTML on a 200, bad gzip, JSON of another shape...)."""
        return cls("raw", code=code, body=body, headers=headers)

    @classmethod
    def redirect_loop(cls) -> Fault:
        """307 back to the same URL (the method kept), for ever."""
        return cls("redirect_loop")

    @classmethod
    def cut_body(cls) -> Fault:
        """Headers promise a body longer than what is sent; then the connection closes."""
        return cls("cut_body")

    @classmethod
    def bad_gzip(cls) -> Fault:
        """Content-Encoding: gzip on a body that is not gzip."""
        return cls("bad_gzip")

    @classmethod
    def odd_usage(cls, usage: Any, text: str | None = None) -> Fault:
        """A normal answer whose usage object is `usage`, sent as is."""
        return cls("ok", raw_usage=usage, text=text)

    @classmethod
    def ok(cls, *, text: str | None = None, usage: Mapping[str, int] | None = None,
           model: str | None = None) -> Fault:
        return cls("ok", text=text, usage=usage, model=model)

    @classmethod
    def status(cls, code: int, body: Any = None, headers: Mapping[str, str] | None = None, *,
               message: str | None = None, error_code: str | None = None,
               retry_after: float | None = None) -> Fault:
        """An HTTP error with a realistic OpenAI error body (429 carries Retry-After, default 0)."""
        return cls("status", code=code, body=body, headers=headers, message=message,
                   error_code=error_code, retry_after=retry_after)

    @classmethod
    def quota(cls) -> Fault:
        """429 insufficient_quota (no credit left): retrying does not help."""
        msg = ("You exceeded your current quota, please check your plan and billing details. For more "
               "information on this error, read the docs: https://platform.openai.com/docs/guides/"
               "error-codes/api-errors.")
        err = {"message": msg, "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}
        return cls.status(429, {"error": err})

    @classmethod
    def timeout(cls, seconds: float = 10.0) -> Fault:
        """Sleep `seconds` (longer than the client's timeout), then answer normally."""
        return cls("timeout", seconds=seconds)

    @classmethod
    def slow_first_byte(cls, seconds: float = 1.0) -> Fault:
        return cls("slow_first_byte", seconds=seconds)

    @classmethod
    def cut_stream(cls, after: int = 2) -> Fault:
        """Close the connection after `after` stream chunks, without [DONE]."""
        return cls("cut_stream", after=after)

    @classmethod
    def think(cls, reasoning: str = DEFAULT_REASONING, text: str | None = None) -> Fault:
        return cls("think", reasoning=reasoning, text=text)

    @classmethod
    def reasoning_field(cls, reasoning: str = DEFAULT_REASONING, text: str | None = None) -> Fault:
        return cls("reasoning_field", reasoning=reasoning, text=text)

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed")

    @classmethod
    def empty_choices(cls) -> Fault:
        return cls("empty_choices")

    @classmethod
    def no_usage(cls) -> Fault:
        return cls("no_usage")

    @classmethod
    def empty_content(cls) -> Fault:
        return cls("empty_content")

    @classmethod
    def length(cls) -> Fault:
        return cls("length")

    @classmethod
    def close(cls) -> Fault:
        return cls("close")

    @classmethod
    def parse(cls, spec: Fault | str | int) -> Fault:
        """'ok', 'status:429', '503', 'timeout:2', 'slow_first_byte:0.5', 'cut_stream:3', 'quota', ..."""
        if isinstance(spec, Fault):
            return spec
        if isinstance(spec, int):
            return cls.status(spec)
        name, _, arg = spec.strip().partition(":")
        name = name.strip().lower().replace("-", "_")
        if name.isdigit():
            return cls.status(int(name))
        if name == "status":
            return cls.status(int(arg))
        if name in ("timeout", "slow_first_byte"):
            return cls(name, seconds=float(arg)) if arg else getattr(cls, name)()
        if name == "cut_stream":
            return cls.cut_stream(int(arg) if arg else 2)
        if name in ("think", "reasoning_field"):
            return getattr(cls, name)(arg or DEFAULT_REASONING)
        if name == "quota":
            return cls.quota()
        if name in FAULT_KINDS:
            return cls(name)
        raise ValueError(f"unknown fault {spec!r}; known: {', '.join(FAULT_KINDS)}, quota")


@dataclass
class Answer:
    """The reply a call produces, before it is shaped into a response body."""

    text: str
    reasoning: str | None
    finish: str
    usage: dict[str, int]
    model: str


def pieces(text: str) -> list[str]:
    """Split text into stream pieces (word + trailing space) that concatenate back to it."""
    return re.findall(r"\S+\s*|\s+", text)


def content_text(content: Any) -> str:
    """Text of a message content: a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def default_reply(body: Mapping[str, Any]) -> str:
    """'Echo: ' + the last user message."""
    users = [m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"]
    return "Echo: " + (content_text(users[-1].get("content")) if users else "")


def mask_key(key: str) -> str:
    return key if len(key) <= 12 else key[:8] + "*" * (len(key) - 12) + key[-4:]


def usage_body(u: Mapping[str, int]) -> dict[str, Any]:
    """OpenAI's usage object from flat counts."""
    return {
        "prompt_tokens": u["prompt_tokens"], "completion_tokens": u["completion_tokens"],
        "total_tokens": u["total_tokens"],
        "prompt_tokens_details": {"cached_tokens": u.get("cached_tokens", 0), "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": u.get("reasoning_tokens", 0), "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }
