"""The value types every call returns.

An ``Answer`` keeps apart what each stage may touch:

- the request echo (``spec``, ``provider``, ``model``, ``params``, ``messages``) — set when the call is prepared;
- ``reply``: what the provider returned (text, usage, timing) — built by a provider adapter, frozen;
- ``cost`` and ``emissions``: what we estimated from the reply — set by ``helpers.estimates``;
- the record (``error``, ``cached``, ``run_id``, ``call_id``) — set by ``helpers.llm`` and the run log.

The reply's and the cost's fields read through the answer too (``answer.text``, ``answer.cost_usd``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helpers.errors import LabError


@dataclass(frozen=True)
class Range:
    """A quantity known only between two bounds (EcoLogits' estimates). Same unit for both."""

    min: float
    max: float

    @property
    def mid(self) -> float:
        """The midpoint, the one figure a table shows."""
        return (self.min + self.max) / 2

    @staticmethod
    def of(low: float | None, high: float | None) -> Range | None:
        """A range from two optional bounds (None unless both are known)."""
        return None if low is None or high is None else Range(float(low), float(high))


@dataclass
class Usage:
    """Token counts as the provider reported them (None where it reported nothing)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    cache_write_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        if self.prompt_tokens is None and self.completion_tokens is None:
            return None
        return (self.prompt_tokens or 0) + (self.completion_tokens or 0)


@dataclass(frozen=True)
class Reply:
    """What the provider returned for one request (or as much of it as arrived).

    ``latency_s`` is the whole exchange (request sent → last byte read, measured at the transport), ``ttft_s``
    the time to the first content byte and ``tpot_s`` the time per output token after it, (latency − TTFT) /
    (output tokens − 1) (streamed answers);
    ``incomplete`` marks a stream that was cut off; ``notes`` holds facts an adapter wants recorded
    (e.g. parameters the API has no field for).
    """

    text: str = ""
    reasoning: str = ""
    model_reported: str | None = None
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    incomplete: bool = False
    latency_s: float | None = None
    ttft_s: float | None = None
    tpot_s: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Cost:
    """Dollars for one call (genai-prices), or None with the reason in ``note``."""

    usd: float | None = None
    note: str = ""


# Emission figures as flat columns (run log, tables): a range is stored as its two bounds.
EMISSION_COLUMNS = ("tracker_g", "ecologits_g_min", "ecologits_g_max", "ecologits_kwh_min", "ecologits_kwh_max",
                    "measured_g", "measured_kwh")


@dataclass
class Emissions:
    """Emission estimates of one call, by method. Grams CO2e and kWh; None where a method gave nothing.

    ``tracker_g`` uses api-emissions-tracker factors (prompt + completion tokens); ``ecologits_g`` and
    ``ecologits_kwh`` are EcoLogits ranges (output tokens only); ``measured_*`` come from CodeCarbon
    around a local call.
    """

    tracker_g: float | None = None
    ecologits_g: Range | None = None
    ecologits_kwh: Range | None = None
    measured_g: float | None = None
    measured_kwh: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ecologits_g_min(self) -> float | None:
        return self.ecologits_g.min if self.ecologits_g else None

    @property
    def ecologits_g_max(self) -> float | None:
        return self.ecologits_g.max if self.ecologits_g else None

    @property
    def ecologits_kwh_min(self) -> float | None:
        return self.ecologits_kwh.min if self.ecologits_kwh else None

    @property
    def ecologits_kwh_max(self) -> float | None:
        return self.ecologits_kwh.max if self.ecologits_kwh else None

    def columns(self) -> dict[str, float | None]:
        """The figures as flat columns (``EMISSION_COLUMNS``), as the run log and tables hold them."""
        return {name: getattr(self, name) for name in EMISSION_COLUMNS}

    @property
    def headline_method(self) -> str | None:
        """The method behind ``headline_g``: "measured", "EcoLogits" (the range's midpoint) or "tracker"."""
        if self.measured_g is not None:
            return "measured"
        if self.ecologits_g is not None:
            return "EcoLogits"
        return "tracker" if self.tracker_g is not None else None

    @property
    def headline_g(self) -> float | None:
        """One figure for tables: measured, else the EcoLogits midpoint, else the tracker factor."""
        if self.measured_g is not None:
            return self.measured_g
        if self.ecologits_g is not None:
            return self.ecologits_g.mid
        return self.tracker_g


REPLY_FIELDS = tuple(f.name for f in fields(Reply) if f.name != "notes")


@dataclass(init=False)
class Answer:
    """One model's answer to one request, or the error that stopped it.

    Built from its parts (``reply=Reply(...)``, ``cost=Cost(...)``); for examples and tests the reply's
    and the cost's fields may be given flat instead (``Answer(spec, provider, model, text="4", cost_usd=0.1)``).
    """

    spec: str
    provider: str
    model: str
    reply: Reply = field(default_factory=Reply)  # its notes are copied into ``extra`` when the answer is made
    cost: Cost = field(default_factory=Cost)
    emissions: Emissions = field(default_factory=Emissions)
    params: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None
    error_hint: str = ""  # the fix the error named (also the end of ``error``, which is the full text)
    cached: bool = False
    offline: bool = False
    run_id: str | None = None
    call_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __init__(self, spec: str, provider: str, model: str, *, reply: Reply | None = None, cost: Cost | None = None,
                 emissions: Emissions | None = None, params: dict[str, Any] | None = None,
                 messages: list[dict[str, Any]] | None = None, error: str | None = None,
                 error_kind: str | None = None, error_hint: str = "", cached: bool = False, offline: bool = False,
                 run_id: str | None = None, call_id: int | None = None, extra: dict[str, Any] | None = None,
                 cost_usd: float | None = None, cost_note: str = "", **reply_fields: Any) -> None:
        unknown = set(reply_fields) - set(REPLY_FIELDS)
        if unknown:
            raise TypeError(f"Answer() got unexpected keyword argument(s) {sorted(unknown)}")
        if reply is not None and reply_fields:
            raise TypeError("Answer() takes reply=Reply(...) or the reply's fields, not both")
        self.spec, self.provider, self.model = spec, provider, model
        self.reply = reply if reply is not None else Reply(**reply_fields)
        self.cost = cost if cost is not None else Cost(cost_usd, cost_note)
        self.emissions = emissions if emissions is not None else Emissions()
        self.params = params if params is not None else {}
        self.messages = messages if messages is not None else []
        self.error, self.error_kind, self.error_hint = error, error_kind, error_hint
        self.cached, self.offline = cached, offline
        self._error_message: str | None = None  # the live error's own message (not stored in the run log)
        self.run_id, self.call_id = run_id, call_id
        self.extra = extra if extra is not None else {}

    # -- the reply and the cost, read through the answer ------------------------------------
    @property
    def text(self) -> str:
        return self.reply.text

    @property
    def reasoning(self) -> str:
        return self.reply.reasoning

    @property
    def model_reported(self) -> str | None:
        return self.reply.model_reported

    @property
    def usage(self) -> Usage:
        return self.reply.usage

    @property
    def finish_reason(self) -> str | None:
        return self.reply.finish_reason

    @property
    def incomplete(self) -> bool:
        return self.reply.incomplete

    @property
    def latency_s(self) -> float | None:
        return self.reply.latency_s

    @property
    def ttft_s(self) -> float | None:
        return self.reply.ttft_s

    @property
    def tpot_s(self) -> float | None:
        return self.reply.tpot_s

    @property
    def cost_usd(self) -> float | None:
        return self.cost.usd

    @property
    def cost_note(self) -> str:
        return self.cost.note

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def g_co2e(self) -> float | None:
        return self.emissions.headline_g

    @property
    def tokens_per_second(self) -> float | None:
        """Output tokens per second of generation (after the first token when streamed)."""
        n, t = self.usage.completion_tokens, self.latency_s
        if not n or not t:
            return None
        if self.ttft_s is not None and t - self.ttft_s > 0 and n > 1:
            return (n - 1) / (t - self.ttft_s)
        return n / t

    def record_error(self, exc: LabError) -> None:
        """Record ``exc`` as this answer's error: its full text, kind and hint (with any key redacted)."""
        from helpers.keys import redact

        self.error, self.error_kind, self.error_hint = redact(str(exc)), exc.kind, redact(exc.hint)
        self._error_message = redact(exc.message)

    def raise_for_error(self) -> Answer:
        """Raise the stored error as a LabError (its kind, message and hint); return self when the call succeeded."""
        if self.error is None:
            return self
        from helpers import errors

        cls = errors.for_kind(self.error_kind)
        if self._error_message is not None and str(cls(self._error_message, hint=self.error_hint)) == self.error:
            raise cls(self._error_message, hint=self.error_hint)
        raise cls(self.error)  # read back from the run log (no hint kept apart), or edited: the text as it is

    def to_dict(self) -> dict[str, Any]:
        """A flat, JSON-ready dict (the reply's and cost's fields at the top level, as ``--json`` prints)."""
        data: dict[str, Any] = {"spec": self.spec, "provider": self.provider, "model": self.model}
        data.update({name: getattr(self.reply, name) for name in REPLY_FIELDS})
        data["usage"] = asdict(self.usage)
        data["cost_usd"], data["cost_note"] = self.cost.usd, self.cost.note
        data["emissions"] = {**self.emissions.columns(), "notes": self.emissions.notes}
        for name in ("params", "messages", "error", "error_kind", "error_hint", "cached", "offline", "run_id",
                     "call_id"):
            data[name] = getattr(self, name)
        data["extra"] = self.extra
        data["ok"] = self.ok
        data["g_co2e"] = self.g_co2e
        return data

    def __str__(self) -> str:
        from helpers.display import answer_text

        return answer_text(self)

    def _repr_markdown_(self) -> str:
        from helpers.display import answer_markdown

        return answer_markdown(self)
