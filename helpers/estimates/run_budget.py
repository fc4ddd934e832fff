"""A comparison run's budget: ``--max-usd`` and ``--max-gco2e``, checked before each call.

The estimate before a call is the worst case from the prompt length and ``max_tokens`` (the same estimate
as the session budget, ``helpers.estimates.budget.worst_case``). Spent + reserved (calls in flight) + the
estimate must stay within the limit, else the run stops and keeps what was done. After a call its
reservation is replaced by what it really cost (the estimate again when the provider reported no usage).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from helpers import catalog
from helpers import spec as specs
from helpers.answer import Answer, Usage
from helpers.errors import ConfigError


def _limit(name: str, value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{name}={value!r} is not valid", hint=f"{name} is a number ≥ 0, e.g. {name}=0.05.")
    return float(value)


class RunBudget:
    """Limits in US dollars and grams CO2e (None: no limit) and what the run has spent and reserved."""

    def __init__(self, max_usd: float | None = None, max_gco2e: float | None = None) -> None:
        self.max_usd, self.max_g = _limit("--max-usd", max_usd), _limit("--max-gco2e", max_gco2e)
        self.spent_usd = self.spent_g = 0.0
        self._reserved: dict[str, tuple[float, float]] = {}

    @property
    def active(self) -> bool:
        return self.max_usd is not None or self.max_g is not None

    def check_known(self, models: Sequence[str]) -> None:
        """Refuse a limit that cannot be checked: a model with no known price (or no emission estimate)."""
        from helpers.estimates.cost import price_usage
        from helpers.estimates.emissions import estimate

        for label in models:
            spec = specs.parse(label)
            p = catalog.provider(spec.provider)
            free = p.local or p.offline
            if self.max_usd is not None and not free:
                ref = p.model(spec.model).price_ref or spec.model
                usd = price_usage(Usage(100, 100), ref, p.price_provider)[0] if p.price_provider else None
                if usd is None:
                    raise ConfigError(f"no price is known for {label}, so --max-usd cannot be checked",
                                      hint="Drop that model or the --max-usd limit (--max-gco2e still works).")
            if self.max_g is not None and estimate(p.name, spec.model, 100, 100).headline_g is None:
                raise ConfigError(f"no emission estimate exists for {label}, so --max-gco2e cannot be checked",
                                  hint="Drop that model, add its parameter count to assets/models.yaml, or drop "
                                       "the --max-gco2e limit.")

    def add_spent(self, answers: Iterable[Answer]) -> None:
        """Count what earlier calls of this run spent (resume)."""
        for a in answers:
            self.spent_usd += a.cost_usd or 0.0
            self.spent_g += a.g_co2e or 0.0

    def reserve(self, key: str, request: Any) -> str | None:
        """Reserve a call's worst case; returns why the run must stop instead (None: go ahead)."""
        if not self.active:
            return None
        from helpers.estimates.budget import ASSUMED_MAX_TOKENS, worst_case

        max_tokens = request.params.get("max_tokens")
        usd, g = worst_case(request.provider.name, request.model, request.messages, max_tokens)
        held_usd = sum(r[0] for r in self._reserved.values())
        held_g = sum(r[1] for r in self._reserved.values())
        tokens = f"max_tokens {max_tokens}" if max_tokens else f"max_tokens unset, {ASSUMED_MAX_TOKENS} assumed"
        cell = key.replace("|", " on ", 1).replace("|", ", repeat ")
        if self.max_usd is not None and self.spent_usd + held_usd + usd > self.max_usd:
            return (f"--max-usd {self.max_usd:g} reached: ${self.spent_usd:.6f} spent, ${held_usd:.6f} in flight, "
                    f"and {cell} could cost up to ${usd:.6f} ({tokens}). What was done is kept; resume with a "
                    f"higher --max-usd.")
        if self.max_g is not None and self.spent_g + held_g + g > self.max_g:
            return (f"--max-gco2e {self.max_g:g} reached: {self.spent_g:.4g} g spent, {held_g:.4g} g in flight, "
                    f"and {cell} could emit up to {g:.4g} g CO2e ({tokens}). What was done is kept; resume with "
                    f"a higher --max-gco2e.")
        self._reserved[key] = (usd, g)
        return None

    def settle(self, key: str, answer: Answer | None) -> None:
        """Replace the reservation with the call's real cost and emissions."""
        usd, g = self._reserved.pop(key, (0.0, 0.0))
        if answer is None:
            return
        counted = answer.ok or answer.usage.completion_tokens is not None
        self.spent_usd += answer.cost_usd if answer.cost_usd is not None else (usd if counted else 0.0)
        self.spent_g += answer.g_co2e if answer.g_co2e is not None else (g if counted else 0.0)
