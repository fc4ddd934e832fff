"""A session budget in grams CO2e and US dollars, checked before every call.

    from helpers.estimates.budget import set_budget
    set_budget(gco2e=2.0, usd=0.05)          # this process (notebook kernel) from now on
    set_budget(gco2e=2.0, min_interval_s=1)  # … and at most one call per second (throttling)

Before a call, ``admit`` estimates its worst case from the prompt length and ``max_tokens`` (or
``ASSUMED_MAX_TOKENS`` when unset) and raises BudgetExceeded when spent + reserved + that estimate would
pass a limit. After the call, ``settle`` replaces the reservation with what the call really cost and
emitted (``answer.cost_usd`` and ``answer.g_co2e``). Answers from the cache cost nothing and are never
refused. Reservations make concurrent calls (ask_many) respect the limit too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers import catalog
from helpers.answer import Answer, Usage
from helpers.errors import BudgetExceeded, ConfigError
from helpers.estimates.emissions import estimate

ASSUMED_MAX_TOKENS = 1000  # output tokens assumed for the pre-call estimate when max_tokens is not set
CHARS_PER_TOKEN = 4


@dataclass
class Budget:
    """Limits (None = no limit) and what this session has spent and reserved so far."""

    usd: float | None = None
    gco2e: float | None = None
    min_interval_s: float | None = None
    spent_usd: float = 0.0
    spent_g: float = 0.0
    calls: int = 0
    refused: int = 0
    reserved: dict[int, tuple[float, float]] = field(default_factory=dict)
    last_start: float | None = None

    @property
    def reserved_usd(self) -> float:
        return sum(r[0] for r in self.reserved.values())

    @property
    def reserved_g(self) -> float:
        return sum(r[1] for r in self.reserved.values())

    def summary(self) -> str:
        parts = []
        if self.gco2e is not None:
            parts.append(f"{self.spent_g:.4g} of {self.gco2e:g} g CO2e")
        if self.usd is not None:
            parts.append(f"${self.spent_usd:.4g} of ${self.usd:g}")
        return f"budget: {' and '.join(parts) or 'no limit'} spent in {self.calls} call(s)"


_budget: Budget | None = None
_lock = threading.Lock()
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep


def _limit(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name}={value!r} is not a non-negative number",
                          hint=f"Pass {name} as a number (e.g. set_budget(gco2e=2.0, usd=0.05)) or None for no limit.")
    return float(value)


def set_budget(usd: float | None = None, gco2e: float | None = None, min_interval_s: float | None = None) -> Budget:
    """Start a session budget (spending counted from now). None means no limit on that quantity."""
    global _budget
    budget = Budget(usd=_limit("usd", usd), gco2e=_limit("gco2e", gco2e),
                    min_interval_s=_limit("min_interval_s", min_interval_s))
    with _lock:
        _budget = budget
    return budget


def clear_budget() -> None:
    """No budget from now on."""
    global _budget
    with _lock:
        _budget = None


def current() -> Budget | None:
    """The budget in force, or None."""
    return _budget


def rough_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """About how many tokens the messages hold (characters / 4, plus a few per message)."""
    chars = 0
    for m in messages:
        content = m.get("content")
        chars += len(content) if isinstance(content, str) else len(str(content or ""))
    return chars // CHARS_PER_TOKEN + 4 * len(messages)


def worst_case(provider: str, model: str, messages: list[dict[str, Any]],
               max_tokens: int | None) -> tuple[float, float]:
    """(dollars, grams CO2e) the call could cost at most; unknown figures count as 0."""
    from helpers.estimates.cost import price_usage

    prompt, completion = rough_prompt_tokens(messages), max_tokens or ASSUMED_MAX_TOKENS
    grams = estimate(provider, model, prompt, completion)
    g = max([x for x in (grams.tracker_g, grams.ecologits_g_max) if x is not None], default=0.0)
    usd = 0.0
    p = catalog.provider(provider)
    if p.price_provider and not p.local and not p.offline:
        info = p.model(model)
        usd = price_usage(Usage(prompt, completion), info.price_ref or model, p.price_provider)[0] or 0.0
    return usd, g


def admit(request: Any) -> None:
    """Reserve the worst case of this call, or raise BudgetExceeded. Waits out ``min_interval_s``."""
    budget = _budget
    if budget is None:
        return
    max_tokens = request.params.get("max_tokens")
    usd, g = worst_case(request.provider.name, request.model, request.messages, max_tokens)
    with _lock:
        over = []
        if budget.gco2e is not None and budget.spent_g + budget.reserved_g + g > budget.gco2e:
            over.append(f"{budget.gco2e:g} g CO2e ({budget.spent_g:.4g} g spent, up to {g:.4g} g for this call)")
        if budget.usd is not None and budget.spent_usd + budget.reserved_usd + usd > budget.usd:
            over.append(f"${budget.usd:g} (${budget.spent_usd:.4g} spent, up to ${usd:.4g} for this call)")
        if over:
            budget.refused += 1
            assumed = f"max_tokens={max_tokens}" if max_tokens else f"max_tokens unset, {ASSUMED_MAX_TOKENS} assumed"
            raise BudgetExceeded(
                f"the session budget of {' and '.join(over)} would be exceeded by {request.spec} ({assumed}); "
                f"{budget.calls} call(s) made so far",
                hint="Raise the limit with set_budget(gco2e=…, usd=…), lower max_tokens, or remove the budget "
                     "with clear_budget().")
        budget.reserved[id(request)] = (usd, g)
        wait = 0.0
        now = _clock()
        if budget.min_interval_s and budget.last_start is not None:
            wait = max(0.0, budget.last_start + budget.min_interval_s - now)
        budget.last_start = now + wait
    if wait:
        _sleep(wait)


def settle(request: Any, answer: Answer) -> None:
    """Replace this call's reservation with what it really cost and emitted."""
    budget = _budget
    if budget is None:
        return
    with _lock:
        if budget.reserved.pop(id(request), None) is None:  # refused, or admitted before this budget
            return
        budget.spent_usd += answer.cost_usd or 0.0
        budget.spent_g += answer.g_co2e or 0.0
        budget.calls += 1
