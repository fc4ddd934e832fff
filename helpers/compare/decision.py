"""A carbon-aware decision matrix: weighted criteria over measured results → a ranked recommendation.

Criteria: accuracy (fraction correct, 0–1, higher is better) and cost ($), latency (s), energy (kWh),
emissions (g CO2e), all lower is better. Each criterion is scored 0–1:

- accuracy is used as it is (it is already on an absolute 0–1 scale);
- the others are scored *relative to the best candidate*: ``best / value`` (1 for the best; a candidate
  twice as costly scores 0.5). A value of 0 (a local model's $0) is the best; then others score 0.

This stays meaningful with one candidate (it is the best on every relative criterion) and with ties
(tied candidates score the same), where min–max scaling would divide by zero or give 0 to everyone. An
unknown value scores 0 on that criterion and the reasons say so. Weights are validated and normalised
to sum to 1; the score is the weighted sum (0–1).

Accuracy is measured on a sample of puzzles, so a candidate is called "most accurate" only when the
paired difference with every other candidate has a 95 % interval that excludes 0
(``helpers.compare.stats``); otherwise the reasons say which candidates it cannot be told apart from.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from helpers import display
from helpers.errors import ConfigError

CRITERIA = ("accuracy", "cost", "latency", "energy", "emissions")
FIELDS = {"accuracy": "accuracy", "cost": "cost_usd", "latency": "latency_s", "energy": "kwh",
          "emissions": "g_co2e"}
UNITS = {"accuracy": "", "cost": "$", "latency": "s", "energy": "kWh", "emissions": "g CO2e"}
DEFAULT_WEIGHTS = {"accuracy": 0.4, "cost": 0.15, "latency": 0.15, "energy": 0.1, "emissions": 0.2}


@dataclass
class Candidate:
    """One model's measured results (None where unknown)."""

    name: str
    accuracy: float | None = None
    cost_usd: float | None = None
    latency_s: float | None = None
    kwh: float | None = None
    g_co2e: float | None = None
    accuracy_low: float | None = None  # the accuracy's 95 % interval, when measured
    accuracy_high: float | None = None
    same_accuracy_as: tuple[str, ...] = field(default=(), compare=False)  # paired difference includes 0

    def value(self, criterion: str) -> float | None:
        return getattr(self, FIELDS[criterion])

    def figures(self) -> dict[str, str]:
        """Each criterion's figure for reading (rounded, with its unit; 'n/a' when unknown)."""
        return {c: "n/a" if self.value(c) is None else _fmt(c, self.value(c)) for c in CRITERIA}  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.name}: " + ", ".join(f"{c} {v}" for c, v in self.figures().items())


def candidates_markdown(items: Iterable[Candidate]) -> str:
    """The candidates as a Markdown table of rounded figures, unknown as n/a (every cell escaped)."""
    head = "| model | " + " | ".join(f"{c} ({UNITS[c]})" if UNITS[c] else c for c in CRITERIA) + " |"
    rows = ["| " + " | ".join(display.escape(x, "table") for x in [c.name, *c.figures().values()]) + " |"
            for c in items]
    return "\n".join([display.escape(head, "prose"), "|---" * (len(CRITERIA) + 1) + "|", *rows])


@dataclass
class Ranked:
    """A candidate's place: total score (0–1), per-criterion scores and the reasons."""

    candidate: Candidate
    score: float
    rank: int
    scores: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.candidate.name


@dataclass
class Recommendation:
    """The ranking, best first, with the weights used."""

    ranking: list[Ranked]
    weights: dict[str, float]

    @property
    def best(self) -> Ranked:
        return self.ranking[0]

    def explain(self) -> str:
        """A few sentences: who wins and why."""
        top = self.best
        tied = [r.name for r in self.ranking[1:] if abs(r.score - top.score) < 1e-9]
        lead = f"Recommended: {top.name} (score {top.score:.2f})"
        if tied:
            lead += f", tied with {', '.join(tied)}"
        weights = ", ".join(f"{c} {w:.0%}" for c, w in self.weights.items() if w)
        lines = [lead + f". Weights: {weights}.", *[f"- {r}" for r in top.reasons]]
        for r in self.ranking[1:]:
            lines.append(f"{r.rank}. {r.name} ({r.score:.2f}): {'; '.join(r.reasons) or 'no notable difference'}")
        return "\n".join(lines)

    def to_markdown(self) -> str:
        head = "| rank | model | score | " + " | ".join(CRITERIA) + " |\n|---|---|---|" + "---|" * len(CRITERIA)
        rows = [f"| {r.rank} | {display.escape(r.name, 'table')} | {r.score:.2f} | "
                + " | ".join(f"{r.scores[c]:.2f}" for c in CRITERIA) + " |" for r in self.ranking]
        return "\n".join([head, *rows])

    def _repr_markdown_(self) -> str:
        return self.to_markdown() + "\n\n" + display.md_text(self.explain())


def validate_weights(weights: Mapping[str, Any] | None) -> dict[str, float]:
    """Known criteria, non-negative numbers, not all zero; returned normalised to sum to 1."""
    if weights is None:
        weights = DEFAULT_WEIGHTS
    if not isinstance(weights, Mapping):
        raise ConfigError("weights must be a dict of criterion → number", hint=f"Criteria: {', '.join(CRITERIA)}.")
    unknown = sorted(set(weights) - set(CRITERIA))
    if unknown:
        raise ConfigError(f"unknown criteria {unknown} in the weights", hint=f"Use {', '.join(CRITERIA)}.")
    clean = {}
    for c in CRITERIA:
        w = weights.get(c, 0)
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w < float("inf"):
            raise ConfigError(f"weight {c}={w!r} is not a non-negative number",
                              hint="Give each criterion a weight ≥ 0, e.g. {'accuracy': 2, 'emissions': 1}.")
        clean[c] = float(w)
    total = sum(clean.values())
    if total <= 0:
        raise ConfigError("all weights are 0", hint="Give at least one criterion a positive weight.")
    return {c: w / total for c, w in clean.items()}


def _candidate(item: Candidate | Mapping[str, Any]) -> Candidate:
    if isinstance(item, Candidate):
        c = item
    elif isinstance(item, Mapping):
        name = item.get("name") or item.get("spec") or item.get("model")
        if not name:
            raise ConfigError(f"a candidate has no name: {dict(item)!r:.80}",
                              hint="Give each row a 'name' (or 'spec').")
        c = Candidate(name=str(name), accuracy=item.get("accuracy"), cost_usd=item.get("cost_usd"),
                      latency_s=item.get("latency_s"), kwh=item.get("kwh"), g_co2e=item.get("g_co2e"),
                      accuracy_low=_known(item.get("accuracy_low")), accuracy_high=_known(item.get("accuracy_high")))
    else:
        raise ConfigError(f"cannot rank {type(item).__name__}", hint="Pass Candidate objects or dicts of results.")
    for crit in CRITERIA:
        v = c.value(crit)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf")):
            raise ConfigError(f"{c.name}: {FIELDS[crit]}={v!r} is not a non-negative number")
        if crit == "accuracy" and v is not None and v > 1:
            raise ConfigError(f"{c.name}: accuracy={v!r} is above 1", hint="Give accuracy as a fraction (0–1).")
    return c


# A comparison's per-model summary (helpers.compare.results) → the decision's per-answer figures.
SUMMARY_COLUMNS = {"accuracy": "accuracy", "cost_usd": "usd_per_answer", "latency_s": "latency_median_s",
                   "kwh": "kwh_per_answer", "g_co2e": "g_per_answer"}


def _known(value: Any) -> float | None:
    """A number, or None for missing / NaN (pandas' way of saying unknown)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def candidates(results: Any) -> list[Candidate]:
    """One Candidate per model of a comparison (``helpers.compare.results.Comparison``, or its ``summary()``).

    Figures are per answer: accuracy (0–1), mean US$, median latency (s), mean kWh and mean g CO2e;
    an unknown figure (a price or an estimate nobody has) stays None, so the matrix says so.
    """
    summary = results.summary() if hasattr(results, "summary") else results
    rows = summary.to_dict("records") if hasattr(summary, "to_dict") else list(summary)
    same: dict[str, list[str]] = {}
    for pair in (results.pairs() if hasattr(results, "pairs") else []):
        if not pair.estimate.excludes_zero:
            same.setdefault(pair.a, []).append(pair.b)
            same.setdefault(pair.b, []).append(pair.a)
    return [Candidate(name=str(r["model"]), **{f: _known(r.get(col)) for f, col in SUMMARY_COLUMNS.items()},
                      accuracy_low=_known(r.get("accuracy_low")), accuracy_high=_known(r.get("accuracy_high")),
                      same_accuracy_as=tuple(same.get(str(r["model"]), ())))
            for r in rows]


def criterion_scores(values: list[float | None], criterion: str) -> list[float]:
    """0–1 scores of one criterion across candidates (see the module docstring)."""
    if criterion == "accuracy":
        return [v if v is not None else 0.0 for v in values]
    known = [v for v in values if v is not None]
    if not known:
        return [0.0 for _ in values]
    best = min(known)
    out = []
    for v in values:
        if v is None:
            out.append(0.0)
        elif v == best:
            out.append(1.0)
        else:
            out.append(best / v)
    return out


def _fmt(criterion: str, v: float) -> str:
    if criterion == "accuracy":
        return f"{v:.0%}"
    if criterion == "cost":
        return f"${v:.6f}".rstrip("0").rstrip(".") if v else "$0"
    return f"{v:.3g} {UNITS[criterion]}"


def _interval(c: Candidate) -> str:
    if c.accuracy_low is None or c.accuracy_high is None:
        return ""
    return f" (95 % interval {c.accuracy_low:.0%}–{c.accuracy_high:.0%})"


def _reasons(c: Candidate, all_: list[Candidate], weights: dict[str, float]) -> list[str]:
    out = []
    for crit in sorted(CRITERIA, key=lambda k: -weights[k]):
        if not weights[crit]:
            continue
        v = c.value(crit)
        if v is None:
            out.append(f"{crit} unknown (scored 0)")
            continue
        others = [x for o in all_ if o is not c and (x := o.value(crit)) is not None]
        if not others:
            continue
        better = v > max(others) if crit == "accuracy" else v < min(others)
        worse = v < min(others) if crit == "accuracy" else v > max(others)
        if crit == "accuracy" and (better or worse) and c.same_accuracy_as:
            out.append(f"accuracy {_fmt(crit, v)}{_interval(c)}: cannot be told apart from "
                       f"{', '.join(c.same_accuracy_as)} (the paired 95 % interval includes 0)")
        elif better:
            label = "most accurate" if crit == "accuracy" else f"lowest {crit}"
            out.append(f"{label} ({_fmt(crit, v)})")
        elif worse:
            label = "least accurate" if crit == "accuracy" else f"highest {crit}"
            out.append(f"{label} ({_fmt(crit, v)})")
    return out


def rank(candidates: Iterable[Candidate | Mapping[str, Any]],
         weights: Mapping[str, Any] | None = None) -> Recommendation:
    """Score and rank candidates; ties share a rank and keep their input order."""
    if hasattr(candidates, "to_dict") and not isinstance(candidates, Mapping):
        candidates = candidates.to_dict("records")  # a pandas DataFrame
    items = [_candidate(x) for x in candidates]
    if not items:
        raise ConfigError("nothing to rank", hint="Pass at least one candidate's results.")
    names = [c.name for c in items]
    if len(set(names)) != len(names):
        raise ConfigError("candidate names repeat", hint="Give each candidate a distinct name.")
    w = validate_weights(weights)
    per = {crit: criterion_scores([c.value(crit) for c in items], crit) for crit in CRITERIA}
    ranked = []
    for i, c in enumerate(items):
        scores = {crit: per[crit][i] for crit in CRITERIA}
        total = sum(w[crit] * scores[crit] for crit in CRITERIA)
        ranked.append(Ranked(c, round(total, 12), 0, scores, _reasons(c, items, w)))
    ranked.sort(key=lambda r: -r.score)
    for i, r in enumerate(ranked):
        r.rank = ranked[i - 1].rank if i and r.score == ranked[i - 1].score else i + 1
    return Recommendation(ranked, w)
