"""One budget in US dollars and grams CO2e: per session (``ask``, ``chat``) and per comparison run.

    from helpers.estimates.budget import set_budget
    set_budget(gco2e=2.0, usd=0.05)          # this process (notebook kernel) from now on
    set_budget(gco2e=2.0, min_interval_s=1)  # … and at most one call per second (throttling)

    compare(models, max_usd=0.50)            # a run's own budget (``--max-usd``, ``--max-gco2e``)

Before a call, ``Budget.admit`` takes the call's worst case (``worst_case_of``: the prompt length and
``max_tokens``, or ``ASSUMED_MAX_TOKENS`` when unset) and refuses it with BudgetExceeded when spent +
reserved (calls in flight) + that worst case would pass a limit; else it reserves it. After the call,
``settle`` replaces the reservation with what the call really cost and emitted (``answer.cost_usd``,
``answer.g_co2e``; the worst case again when an answered call's figure is unknown). Answers served from the
cache cost nothing and are never refused. When a call passes both a run's budget and the session's, its
worst case is computed once and handed to both. Reservations make concurrent calls respect the limits too.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from helpers import catalog
from helpers.answer import Answer, Usage
from helpers.errors import BudgetExceeded, ConfigError
from helpers.estimates.emissions import estimate

if TYPE_CHECKING:
    from helpers.providers.base import Request

ASSUMED_MAX_TOKENS = 1000  # output tokens assumed for the pre-call estimate when max_tokens is not set
CHARS_PER_TOKEN = 4

Scope = Literal["session", "run"]
# How each scope's limits are spelled in messages, and an example of setting them.
_NAMES: dict[Scope, dict[str, str]] = {
    "session": {"usd": "usd", "gco2e": "gco2e", "min_interval_s": "min_interval_s",
                "example": "set_budget(gco2e=2.0, usd=0.05)", "unset": "None"},
    "run": {"usd": "--max-usd", "gco2e": "--max-gco2e", "min_interval_s": "min_interval_s",
            "example": "--max-usd 0.05 or compare(…, max_usd=0.05)", "unset": "no value"},
}


def check_limit(name: str, value: object, example: str, unset: str = "None") -> float | None:
    """A limit as a float (None: no limit); anything but a finite number ≥ 0 raises ConfigError naming the fix."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name}={value!r} is not a non-negative number",
                          hint=f"Pass {name} as a number ≥ 0 (e.g. {example}), or {unset} for no limit.")
    return float(value)


@dataclass(frozen=True)
class WorstCase:
    """The most a call could cost (US dollars) and emit (g CO2e) before it is sent; unknown counts as 0."""

    usd: float
    g: float
    max_tokens: int | None  # as asked; None: ASSUMED_MAX_TOKENS were assumed

    @property
    def assumed(self) -> str:
        if self.max_tokens:
            return f"max_tokens={self.max_tokens}"
        return f"max_tokens unset, {ASSUMED_MAX_TOKENS} assumed"


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


def worst_case_of(request: Request) -> WorstCase:
    """The worst case of a prepared request (``worst_case`` of its provider, model, messages, max_tokens)."""
    max_tokens = request.params.get("max_tokens")
    usd, g = worst_case(request.provider.name, request.model, request.messages, max_tokens)
    return WorstCase(usd, g, max_tokens)


@dataclass
class Budget:
    """Limits (None = no limit) and what has been spent and reserved under them so far.

    ``scope`` is "session" (``set_budget``: every call of this process) or "run" (one comparison run); it
    only changes how limits are named in messages. ``reserved`` maps a call's key to its worst case.
    """

    usd: float | None = None
    gco2e: float | None = None
    min_interval_s: float | None = None
    scope: Scope = "session"
    spent_usd: float = 0.0
    spent_g: float = 0.0
    calls: int = 0
    refused: int = 0
    reserved: dict[Hashable, tuple[float, float]] = field(default_factory=dict)
    last_start: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = _NAMES[self.scope]
        self.usd = check_limit(names["usd"], self.usd, names["example"], names["unset"])
        self.gco2e = check_limit(names["gco2e"], self.gco2e, names["example"], names["unset"])
        self.min_interval_s = check_limit(names["min_interval_s"], self.min_interval_s, names["example"],
                                          names["unset"])

    @property
    def active(self) -> bool:
        """Whether any limit or throttle is set (an inactive budget admits everything, reserving nothing)."""
        return self.usd is not None or self.gco2e is not None or bool(self.min_interval_s)

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

    def check_known(self, models: Sequence[str]) -> None:
        """Refuse a limit that cannot be checked: a model with no known price (or no emission estimate)."""
        from helpers import spec as specs
        from helpers.estimates.cost import price_usage

        if self.usd is None and self.gco2e is None:
            return
        names = _NAMES[self.scope]
        for label in models:
            spec = specs.parse(label)
            p = catalog.provider(spec.provider)
            if self.usd is not None and not (p.local or p.offline):
                ref = p.model(spec.model).price_ref or spec.model
                usd = price_usage(Usage(100, 100), ref, p.price_provider)[0] if p.price_provider else None
                if usd is None:
                    raise ConfigError(f"no price is known for {label}, so {names['usd']} cannot be checked",
                                      hint=f"Drop that model or the {names['usd']} limit ({names['gco2e']} "
                                           "still works).")
            if self.gco2e is not None and estimate(p.name, spec.model, 100, 100).headline_g is None:
                raise ConfigError(f"no emission estimate exists for {label}, so {names['gco2e']} cannot be checked",
                                  hint=f"Drop that model, add its parameter count to assets/models.yaml, or drop "
                                       f"the {names['gco2e']} limit.")

    def add_spent(self, answers: Iterable[Answer]) -> None:
        """Count what earlier calls spent (a resumed run: its calls not served from the cache)."""
        with self._lock:
            for a in answers:
                self.spent_usd += a.cost_usd or 0.0
                self.spent_g += a.g_co2e or 0.0

    def admit(self, key: Hashable, request: Request, *, worst: WorstCase | None = None,
              label: str | None = None) -> WorstCase | None:
        """Reserve the call's worst case under ``key``, or raise BudgetExceeded saying which limit and how to
        go on. Waits out ``min_interval_s``. Returns the worst case (computed here unless given), so another
        budget can reuse it; None when nothing needed it."""
        if not self.active:
            return worst
        if worst is None and (self.usd is not None or self.gco2e is not None):
            worst = worst_case_of(request)
        with self._lock:
            if worst is not None:
                refusal = self._refusal(label or request.spec, worst)
                if refusal is not None:
                    self.refused += 1
                    raise refusal
                self.reserved[key] = (worst.usd, worst.g)
            else:
                self.reserved[key] = (0.0, 0.0)
            wait = 0.0
            now = _clock()
            if self.min_interval_s and self.last_start is not None:
                wait = max(0.0, self.last_start + self.min_interval_s - now)
            self.last_start = now + wait
        if wait:
            _sleep(wait)
        return worst

    def _refusal(self, label: str, worst: WorstCase) -> BudgetExceeded | None:
        held_usd, held_g = self.reserved_usd, self.reserved_g
        over: list[tuple[str, float, str]] = []
        if self.usd is not None and self.spent_usd + held_usd + worst.usd > self.usd:
            over.append(("usd", self.usd, (f"${self.spent_usd:.6f} spent, ${held_usd:.6f} in flight, and {label} "
                                          f"could cost up to ${worst.usd:.6f}")))
        if self.gco2e is not None and self.spent_g + held_g + worst.g > self.gco2e:
            over.append(("gco2e", self.gco2e, (f"{self.spent_g:.4g} g spent, {held_g:.4g} g in flight, and {label} "
                                              f"could emit up to {worst.g:.4g} g CO2e")))
        if not over:
            return None
        if self.scope == "run":
            name, limit, detail = over[0]
            flag = _NAMES["run"][name]
            return BudgetExceeded(f"{flag} {limit:g} reached: {detail} ({worst.assumed})",
                                  hint=f"What was done is kept; resume with a higher {flag}.")
        limits = " and ".join(f"${limit:g}" if name == "usd" else f"{limit:g} g CO2e" for name, limit, _ in over)
        return BudgetExceeded(
            f"the session budget of {limits} would be exceeded by {label} ({worst.assumed}): "
            f"{'; '.join(detail for _, _, detail in over)}; {self.calls} call(s) made so far",
            hint="Raise the limit with set_budget(gco2e=…, usd=…), lower max_tokens, or remove the budget "
                 "with clear_budget().")

    def settle(self, key: Hashable, answer: Answer | None) -> None:
        """Replace the call's reservation with what it really cost and emitted.

        A figure the answer lacks counts as the reserved worst case when the call was answered (or reported
        usage), as 0 when it failed before any answer. Nothing happens for a key never admitted (refused,
        or admitted before this budget existed) or when ``answer`` is None (the call never ran).
        """
        with self._lock:
            reserved = self.reserved.pop(key, None)
            if reserved is None or answer is None:
                return
            usd, g = reserved
            counted = answer.ok or answer.usage.completion_tokens is not None
            self.spent_usd += answer.cost_usd if answer.cost_usd is not None else (usd if counted else 0.0)
            self.spent_g += answer.g_co2e if answer.g_co2e is not None else (g if counted else 0.0)
            self.calls += 1


# -- the session budget (one per process) -------------------------------------------------------------------
_budget: Budget | None = None
_lock = threading.Lock()
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep


def set_budget(usd: float | None = None, gco2e: float | None = None, min_interval_s: float | None = None) -> Budget:
    """Start a session budget (spending counted from now). None means no limit on that quantity."""
    global _budget
    budget = Budget(usd=usd, gco2e=gco2e, min_interval_s=min_interval_s, scope="session")
    with _lock:
        _budget = budget
    return budget


def clear_budget() -> None:
    """No budget from now on."""
    global _budget
    with _lock:
        _budget = None


def current() -> Budget | None:
    """The session budget in force, or None."""
    return _budget


def admit(request: Request, *, worst: WorstCase | None = None) -> None:
    """Reserve a call's worst case under the session budget (if any), or raise BudgetExceeded."""
    budget = _budget
    if budget is not None:
        budget.admit(id(request), request, worst=worst)


def settle(request: Request, answer: Answer) -> None:
    """Settle a call admitted by ``admit`` under the session budget."""
    budget = _budget
    if budget is not None:
        budget.settle(id(request), answer)
