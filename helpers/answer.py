"""The value types every call returns: Usage, Emissions and Answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


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


@dataclass
class Emissions:
    """Emission estimates of one call, by method. Grams CO2e and kWh; None where a method gave nothing.

    ``tracker_g`` uses api-emissions-tracker factors (prompt + completion tokens); ``ecologits_*`` are
    EcoLogits ranges (output tokens only); ``measured_*`` come from CodeCarbon around a local call.
    """

    tracker_g: float | None = None
    ecologits_g_min: float | None = None
    ecologits_g_max: float | None = None
    ecologits_kwh_min: float | None = None
    ecologits_kwh_max: float | None = None
    measured_g: float | None = None
    measured_kwh: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def headline_g(self) -> float | None:
        """One figure for tables: measured, else the EcoLogits midpoint, else the tracker factor."""
        if self.measured_g is not None:
            return self.measured_g
        if self.ecologits_g_min is not None and self.ecologits_g_max is not None:
            return (self.ecologits_g_min + self.ecologits_g_max) / 2
        return self.tracker_g


@dataclass
class Answer:
    """One model's answer to one request, or the error that stopped it."""

    spec: str
    provider: str
    model: str
    text: str = ""
    reasoning: str = ""
    model_reported: str | None = None
    usage: Usage = field(default_factory=Usage)
    latency_s: float | None = None
    ttft_s: float | None = None
    cost_usd: float | None = None
    cost_note: str = ""
    emissions: Emissions = field(default_factory=Emissions)
    params: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    incomplete: bool = False
    error: str | None = None
    error_kind: str | None = None
    cached: bool = False
    offline: bool = False
    run_id: str | None = None
    call_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

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

    def raise_for_error(self) -> Answer:
        """Raise the stored error as a LabError; return self when the call succeeded."""
        if self.error is not None:
            from helpers import errors

            cls = next((c for c in vars(errors).values()
                        if isinstance(c, type) and issubclass(c, errors.LabError) and c.kind == self.error_kind),
                       errors.LabError)
            raise cls(self.error)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["g_co2e"] = self.g_co2e
        return data

    def __str__(self) -> str:
        from helpers.display import answer_text

        return answer_text(self)

    def _repr_markdown_(self) -> str:
        from helpers.display import answer_markdown

        return answer_markdown(self)
