"""How sure is an accuracy? Standard errors, intervals, paired differences and power (Miller 2024,
"Adding Error Bars to Evals"), on a comparison's graded cells.

- ``accuracy``: a proportion with its standard error (CLT; clustered by puzzle when a puzzle is asked
  several times, since repeats of one puzzle are not independent questions) and a 95 % Wilson score
  interval, which stays inside [0, 1] even for a handful of puzzles. With repeats, the Wilson interval
  is taken on the *effective* number of questions, n_eff = p(1 − p) / SE², so clustering widens it.
- ``paired_difference``: model A minus model B on the cells both answered. One answer per puzzle: the
  discordant cells decide (A right and B wrong, or the reverse); Wilson intervals on their share and on
  their split give an interval for the difference that never claims a winner from two lucky puzzles
  (``discordant_interval``). With repeats: per-puzzle differences of the two models' mean scores, a
  t interval clustered by puzzle (Miller's paired, clustered standard error).
- ``puzzles_needed``: power analysis — how many puzzles it takes to see a gap.

Every function is pure. Normal quantiles come from the standard library (``statistics.NormalDist``),
Student t quantiles from scipy (``scipy.special.stdtrit``, imported only when a t interval is needed);
the Wilson interval is its closed form, as ``scipy.stats.binomtest(...).proportion_ci(method='wilson')``
computes it. ``scipy.stats`` itself is not imported: it costs ~0.45 s of CPU and ~64 MB in a fresh process.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist
from typing import Any

LEVEL = 0.95
GAP = 0.10
POWER = 0.80


@dataclass(frozen=True)
class Estimate:
    """A figure (an accuracy, or a difference of two) with its standard error and interval.

    ``n`` counts graded cells, ``clusters`` the distinct puzzles among them. NaN means unknown.
    """

    value: float
    se: float
    low: float
    high: float
    n: int
    clusters: int
    method: str
    level: float = LEVEL

    @property
    def known(self) -> bool:
        return not math.isnan(self.value)

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or below 0 (for a difference: the data can tell)."""
        return not math.isnan(self.low) and (self.low > 0 or self.high < 0)

    def interval(self, signed: bool = False) -> str:
        """The interval in percentage points, e.g. '40–73%' or '−12 to +31 pts'; 'n/a' when unknown."""
        if math.isnan(self.low) or math.isnan(self.high):
            return "n/a"
        if signed:
            return f"{_pts(self.low)} to {_pts(self.high)} pts"
        return f"{self.low * 100:.0f}–{self.high * 100:.0f}%"


@dataclass(frozen=True)
class Paired:
    """Model ``a`` minus model ``b`` on their shared graded cells, and which cells disagree."""

    a: str
    b: str
    estimate: Estimate
    a_only: int  # cells A got right and B wrong
    b_only: int  # cells B got right and A wrong

    @property
    def verdict(self) -> str:
        e = self.estimate
        if not e.known or math.isnan(e.low):
            return "cannot tell (too few shared puzzles)"
        if not e.excludes_zero:
            return "cannot tell apart"
        return f"{self.a if e.value > 0 else self.b} is better"


NAN_ESTIMATE = Estimate(math.nan, math.nan, math.nan, math.nan, 0, 0, "no graded answer")


def _pts(x: float) -> str:
    v = round(x * 100)
    return "0" if v == 0 else f"{'+' if v > 0 else '−'}{abs(v)}"


@lru_cache(maxsize=64)
def z_value(level: float = LEVEL) -> float:
    """The two-sided normal quantile (1.959964… for 95 %)."""
    return NormalDist().inv_cdf(0.5 + level / 2)


@lru_cache(maxsize=256)
def t_value(df: int, level: float = LEVEL) -> float:
    """The two-sided Student t quantile with ``df`` degrees of freedom (3.182446… for df=3, 95 %)."""
    from scipy.special import stdtrit  # ~0.15 s and ~15 MB on top of pandas: only when repeats need it

    return float(stdtrit(df, 0.5 + level / 2))


def wilson(successes: float, n: float, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of a proportion; (nan, nan) when n is 0.

    Centre (p + z²/2n) / (1 + z²/n), half-width z·√(p(1−p)/n + z²/4n²) / (1 + z²/n), for whole and
    effective (fractional) counts alike; as in scipy's ``proportion_ci(method='wilson')``, no success
    gives a lower bound of exactly 0 and all successes an upper bound of exactly 1.
    """
    if n <= 0:
        return math.nan, math.nan
    z, p = z_value(level), successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return low, high


def clustered_se(values: Sequence[float], clusters: Sequence[Hashable]) -> float:
    """Miller's clustered standard error of a mean: √(Σ_c (Σ_i (x_ci − x̄))²) / n.

    With one value per cluster this is the plain CLT error √(Σ (x − x̄)²) / n = √(p(1 − p)/n).
    """
    n = len(values)
    if n == 0:
        return math.nan
    mean = sum(values) / n
    sums: dict[Hashable, float] = defaultdict(float)
    for x, c in zip(values, clusters):
        sums[c] += x - mean
    return math.sqrt(sum(s * s for s in sums.values())) / n


def accuracy(correct: Sequence[bool], clusters: Sequence[Hashable] | None = None, level: float = LEVEL) -> Estimate:
    """A model's accuracy over graded cells, with SE and a Wilson interval (see the module docstring).

    ``clusters`` names each cell's puzzle; when a puzzle appears more than once the standard error is
    clustered and the interval uses the effective number of questions (between the puzzle count and n).
    """
    n = len(correct)
    if n == 0:
        return NAN_ESTIMATE
    xs = [1.0 if c else 0.0 for c in correct]
    keys = list(clusters) if clusters is not None else list(range(n))
    k = len(set(keys))
    p = sum(xs) / n
    se = clustered_se(xs, keys)
    if k == n:
        low, high = wilson(sum(xs), n, level)
        return Estimate(p, se, low, high, n, k, "Wilson", level)
    n_eff = p * (1 - p) / (se * se) if se > 0 else float(k)
    n_eff = min(max(n_eff, float(k)), float(n))
    low, high = wilson(p * n_eff, n_eff, level)
    return Estimate(p, se, low, high, n, k, f"Wilson on effective n={n_eff:.1f}, SE clustered by puzzle", level)


def paired_difference(a: Mapping[tuple[str, int], bool], b: Mapping[tuple[str, int], bool], names: tuple[str, str]
                      = ("A", "B"), level: float = LEVEL) -> Paired:
    """A's accuracy minus B's on the cells (puzzle, repeat) both have graded.

    One answer per puzzle: the difference is (a_only − b_only)/n and its interval comes from the
    discordant cells (``discordant_interval``). With repeats: the
    per-puzzle difference of mean scores d_i, mean d̄, SE = sd(d)/√k over k puzzles, d̄ ± t(k−1)·SE;
    when every d_i is the same (SE 0) the discordant-cell interval over all cells is used instead.
    """
    shared = sorted(set(a) & set(b))
    a_only = sum(1 for key in shared if a[key] and not b[key])
    b_only = sum(1 for key in shared if b[key] and not a[key])
    n = len(shared)
    if n == 0:
        return Paired(*names, NAN_ESTIMATE, 0, 0)
    puzzles: dict[str, list[float]] = defaultdict(list)
    for key in shared:
        puzzles[key[0]].append(float(a[key]) - float(b[key]))
    k = len(puzzles)
    diff = (a_only - b_only) / n
    if k < n:
        d = [sum(v) / len(v) for v in puzzles.values()]
        mean = sum(d) / k
        sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (k - 1)) if k > 1 else math.nan
        se = sd / math.sqrt(k) if k > 1 else math.nan
        if k > 1 and se > 0:
            half = t_value(k - 1, level) * se
            est = Estimate(mean, se, max(-1.0, mean - half), min(1.0, mean + half), n, k,
                           f"paired, clustered by puzzle (t, {k - 1} df)", level)
            return Paired(*names, est, a_only, b_only)
    se = math.sqrt(sum((float(a[key]) - float(b[key]) - diff) ** 2 for key in shared)) / n
    low, high = discordant_interval(a_only, b_only, n, level)
    est = Estimate(diff, se, low, high, n, k, "paired, Wilson on discordant cells", level)
    return Paired(*names, est, a_only, b_only)


def discordant_interval(a_only: int, b_only: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """An interval for (a_only − b_only)/n, the paired difference of two models on n one-answer puzzles.

    The difference is π·(2θ − 1): π = m/n the share of discordant cells (one model right, the other
    wrong), θ = a_only/m the share of them A won. Each gets a Wilson interval at 1 − (1 − level)/2
    (97.5 % for 95 %), so both hold together with at least ``level`` (Bonferroni), and the bounds are
    the extremes of π·(2θ − 1) over the two intervals. Never degenerate: two lucky puzzles give a wide
    interval, not a winner; no discordant cell at all gives ± the upper bound of π.
    """
    each = 1 - (1 - level) / 2
    m = a_only + b_only
    pi_low, pi_high = wilson(m, n, each)
    t_low, t_high = wilson(a_only, m, each) if m else (0.0, 1.0)
    lo, hi = 2 * t_low - 1, 2 * t_high - 1
    return lo * (pi_high if lo < 0 else pi_low), hi * (pi_high if hi > 0 else pi_low)


def puzzles_needed(accuracy_: float, gap: float = GAP, level: float = LEVEL, power: float = POWER,
                   diff_variance: float | None = None) -> int | None:
    """Puzzles needed to tell two models ``gap`` apart (a two-sided test at 1 − level that sees a real gap
    with probability ``power``): n = (z_level + z_power)² · σ² / gap² (Miller 2024, section on power).

    σ² is the variance of the per-puzzle difference between the two models. Measured on a run
    (``diff_variance``), it is floored at gap·(1 − gap), the least it can be when the true gap is ``gap``.
    Unmeasured, the models are taken as independent around ``accuracy_``: σ² = p₁q₁ + p₂q₂ with
    p₁, p₂ = accuracy ∓ gap/2 (kept inside [0, 1]) — the pairing usually needs fewer.
    """
    if math.isnan(accuracy_) or not 0 < gap <= 1:
        return None
    if diff_variance is not None and not math.isnan(diff_variance):
        variance = max(diff_variance, gap * (1 - gap))
    else:
        p1 = min(max(accuracy_ - gap / 2, 0.0), 1.0 - gap)
        p2 = p1 + gap
        variance = p1 * (1 - p1) + p2 * (1 - p2)
    n = (z_value(level) + NormalDist().inv_cdf(power)) ** 2 * variance / (gap * gap)
    return math.ceil(n - 1e-9)


def power_line(accuracy_: float, puzzles: int, gap: float = GAP, diff_variance: float | None = None) -> str:
    """'To tell a 10-point gap at about 40 % accuracy you need about N puzzles; this run has M.'"""
    need = puzzles_needed(accuracy_, gap, diff_variance=diff_variance)
    if need is None:
        return (f"How many puzzles to tell a {gap * 100:.0f}-point gap: n/a (no graded answer yet); "
                f"this run has {puzzles}.")
    enough = "enough" if puzzles >= need else "too few to tell such a gap"
    how = ("paired, from how often the models disagreed here" if diff_variance is not None
           and not math.isnan(diff_variance) else "models taken as independent")
    return (f"To tell a {gap * 100:.0f}-point gap at about {accuracy_ * 100:.0f} % accuracy you need about {need} "
            f"puzzles (80 % power, 5 % level; {how}); this run has {puzzles} ({enough}).")


def difference_variance(items: Sequence[Paired], cells: Any) -> float:
    """The mean, over pairs of models, of the variance of their per-cell difference (NaN with no pair)."""
    per: list[float] = []
    by_model = outcomes_by_model(cells)
    for p in items:
        a, b = by_model.get(p.a, {}), by_model.get(p.b, {})
        shared = sorted(set(a) & set(b))
        if len(shared) > 1:
            d = [float(a[k]) - float(b[k]) for k in shared]
            mean = sum(d) / len(d)
            per.append(sum((x - mean) ** 2 for x in d) / (len(d) - 1))
    return sum(per) / len(per) if per else math.nan


# -- a comparison's cells (pandas) -----------------------------------------------------------------

def graded(cells: Any) -> Any:
    """The answered, graded cells of a comparison's frame."""
    return cells[(cells.status == "ok") & cells.correct.notna()]


def outcomes(cells: Any, model: str) -> dict[tuple[str, int], bool]:
    """{(puzzle, repeat): correct} for one model's graded cells."""
    d = graded(cells)
    d = d[d.model == model]
    return {(str(p), int(r)): bool(c) for p, r, c in zip(d.puzzle, d.repeat, d.correct)}


def outcomes_by_model(cells: Any) -> dict[str, dict[tuple[str, int], bool]]:
    """{model: outcomes(cells, model)} for every model with a graded cell, in one pass over the frame
    (filtering the frame once per model and pair cost ~0.4 s at 6,000 cells)."""
    d = graded(cells)
    out: dict[str, dict[tuple[str, int], bool]] = defaultdict(dict)
    for m, p, r, c in zip(d.model, d.puzzle, d.repeat, d.correct):
        out[m][(str(p), int(r))] = bool(c)
    return dict(out)


def model_accuracy(cells: Any, model: str, level: float = LEVEL) -> Estimate:
    d = graded(cells)
    d = d[d.model == model]
    return accuracy([bool(c) for c in d.correct], [str(p) for p in d.puzzle], level)


def intervals(cells: Any, models: Sequence[str], level: float = LEVEL) -> Any:
    """Per model: accuracy_se, accuracy_low, accuracy_high, accuracy_method, puzzles (distinct graded)."""
    import pandas as pd

    rows = []
    for m in models:
        e = model_accuracy(cells, m, level)
        rows.append({"model": m, "accuracy_se": e.se, "accuracy_low": e.low, "accuracy_high": e.high,
                     "accuracy_method": e.method, "puzzles": e.clusters})
    return pd.DataFrame(rows, columns=["model", "accuracy_se", "accuracy_low", "accuracy_high", "accuracy_method",
                                       "puzzles"])


def pairs(cells: Any, models: Sequence[str], level: float = LEVEL) -> list[Paired]:
    """Every pair of models (in the given order, first minus second) on their shared graded cells."""
    by_model = outcomes_by_model(cells)
    per = {m: by_model.get(m, {}) for m in models}
    return [paired_difference(per[a], per[b], (a, b), level)
            for i, a in enumerate(models) for b in models[i + 1:]]


def pairs_frame(items: Sequence[Paired]) -> Any:
    import pandas as pd

    cols = ["a", "b", "shared", "difference", "se", "low", "high", "excludes_zero", "a_only", "b_only", "method",
            "verdict"]
    return pd.DataFrame([{"a": p.a, "b": p.b, "shared": p.estimate.n, "difference": p.estimate.value,
                          "se": p.estimate.se, "low": p.estimate.low, "high": p.estimate.high,
                          "excludes_zero": p.estimate.excludes_zero, "a_only": p.a_only, "b_only": p.b_only,
                          "method": p.estimate.method, "verdict": p.verdict} for p in items], columns=cols)


def pair_rows(items: Sequence[Paired]) -> tuple[list[str], list[list[str]]]:
    """Rows for a text/Markdown table of paired differences."""
    head = ["A", "B", "shared cells", "A − B", "95% interval", "A✓B✗", "A✗B✓", "verdict"]
    rows = [[p.a, p.b, str(p.estimate.n), "n/a" if not p.estimate.known else f"{_pts(p.estimate.value)} pts",
             p.estimate.interval(signed=True), str(p.a_only), str(p.b_only), p.verdict] for p in items]
    return head, rows


def self_consistency(comparison: Any, level: float = LEVEL) -> list[Paired]:
    """With repeats: per model, the majority answer's accuracy vs the first sample's, paired by puzzle.

    ``a`` is "<model> (majority of N)", ``b`` "<model> (one sample)"; each puzzle is one pair.
    """
    if comparison.config.repeat < 2:
        return []
    major = comparison.majority()
    out = []
    by_model = outcomes_by_model(comparison.cells)
    for m in comparison.config.models:
        first = {k: v for k, v in by_model.get(m, {}).items() if k[1] == 0}
        rows = major[(major.model == m) & major.correct.notna()]
        vote = {(str(r.puzzle), 0): bool(r.correct) for r in rows.itertuples()}
        out.append(paired_difference(vote, first, (f"{m} (majority of {comparison.config.repeat})",
                                                   f"{m} (one sample)"), level))
    return out


def majority_accuracy(comparison: Any, model: str, level: float = LEVEL, major: Any = None) -> Estimate:
    """The accuracy of a model's majority answers (one per puzzle), with its Wilson interval
    (``major``: the comparison's ``majority()`` when already computed)."""
    major = comparison.majority() if major is None else major
    rows = major[(major.model == model) & major.correct.notna()]
    return accuracy([bool(c) for c in rows.correct], [str(p) for p in rows.puzzle], level)
