"""Lab 06 checker: choose a model with the decision matrix.

The student's work: ``WEIGHTS`` (criterion → weight), ``normalise(values, higher_is_better)`` (one
criterion's values across the candidates → 0–1 scores, 1 the best), ``score(scores, weights)`` (one
candidate's criterion scores → its weighted score, 0–1), ``rank_models(candidates, weights)`` (``(name,
score)`` pairs, best first) and ``choice`` (the model they pick). The normaliser is tried on small cases
where the usual scalings break: one candidate, ties, an unknown value, a value of 0.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Mapping
from typing import Any

from helpers.compare.decision import CRITERIA, Candidate, rank, validate_weights
from helpers.errors import ConfigError
from helpers.labcheck.core import NOT_DONE, Report, _todo, close

HIGHER_IS_BETTER = ("accuracy",)
LOWER = "for cost, latency, energy and emissions lower is better"
MIN_MAX_ONE = ("min–max scaling of a single candidate gives 0 for everything (max − min is 0): handle one "
               "candidate — it is the best there is, so score it 1")
# score() is tried with weights that do not sum to 1 and with criteria left out (they count 0).
SCORE_WEIGHTS = {"accuracy": 2.0, "cost": 0.0, "latency": 1.0, "energy": 0.0, "emissions": 1.0}
SCORE_CASE = {"accuracy": 0.5, "cost": 1.0, "latency": 0.25, "energy": 0.0, "emissions": 1.0}
PARTIAL_WEIGHTS = {"accuracy": 3.0, "emissions": 1.0}


class _Raised(Exception):
    """What a student's function raised (kept to word the message for the case that broke it)."""


def _call(fn: Any, *args: Any) -> Any:
    """The student's function's value; NotImplementedError passes through, anything else becomes _Raised."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as exc:  # student code may raise anything: say what
        raise _Raised(f"{type(exc).__name__}: {str(exc)[:120]}") from exc


def _outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    """("done", value), ("todo", None) when it still raises NotImplementedError, or ("raised", message)."""
    try:
        return "done", _call(fn, *args)
    except NotImplementedError:
        return "todo", None
    except _Raised as exc:
        return "raised", str(exc)


def _unfinished(report: Report, step: int, name: str, state: str, got: Any, returns: str) -> bool:
    """Report a step whose function still raises NotImplementedError or returns None; True when it does."""
    if got is not None:
        return False
    why = "still raises NotImplementedError" if state == "todo" else f"returns None; return {returns}"
    report.todo(f"Step {step} is {NOT_DONE}: `{name}` {why}")
    return True


def _is_function(report: Report, fn: Any, signature: str) -> bool:
    """True when ``fn`` can be called; otherwise say how to define it."""
    if callable(fn):
        return True
    report.wrong(f"`{signature.split('(')[0]}` is a {type(fn).__name__}, not a function: define it with "
                 f"`def {signature}:`")
    return False


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _fmt(values: Any) -> str:
    if isinstance(values, (list, tuple)):
        return "[" + ", ".join(f"{v:.3g}" if _number(v) else repr(v) for v in values) + "]"
    return repr(values)


# -- step 1: the weights --------------------------------------------------------------------------------------
def _check_weights(report: Report, weights: Any) -> dict[str, float] | None:
    if _todo(weights):
        report.todo(f"Step 1 is {NOT_DONE}: set WEIGHTS to a dict of criterion → weight over "
                    f"{', '.join(CRITERIA)}. The weights are your judgement, so there is no right set: ask "
                    "yourself which criterion should count most for a carbon-aware choice, and by how much")
        return None
    if not isinstance(weights, Mapping):
        report.wrong(f"WEIGHTS is a {type(weights).__name__}: make it a dict of criterion → weight")
        return None
    unknown = [k for k in weights if k not in CRITERIA]
    if unknown:
        hints = [f"{k!r} (did you mean {close_[0]!r}?)" if (close_ := difflib.get_close_matches(str(k), CRITERIA, 1))
                 else repr(k) for k in unknown]
        report.wrong(f"WEIGHTS names unknown criteria {', '.join(hints)}: the criteria are {', '.join(CRITERIA)}")
        return None
    try:
        normalised = validate_weights(weights)
    except ConfigError as exc:
        report.wrong(f"WEIGHTS: {exc}")
        return None
    if not normalised["emissions"] and not normalised["energy"]:
        report.wrong("WEIGHTS gives emissions and energy no weight: this is a carbon-aware choice, so give "
                     "emissions (or energy) a weight above 0")
        return None
    shares = ", ".join(f"{c} {w:.0%}" for c, w in sorted(normalised.items(), key=lambda kv: -kv[1]) if w)
    report.ok(f"WEIGHTS: {shares} (normalised to sum to 1)")
    return normalised


# -- step 2: the normaliser ------------------------------------------------------------------------------------
def _shape(got: Any, values: list[Any]) -> str | None:
    """Why ``got`` is not a list of 0–1 scores, one per value (None when it is)."""
    if not isinstance(got, (list, tuple)):
        return f"returns a {type(got).__name__}: return a list of scores, one per value"
    if len(got) != len(values):
        return f"returns {len(got)} score(s) for {len(values)} value(s): return one score per value"
    if not all(_number(v) for v in got):
        return f"returns {_fmt(got)}: every score should be a number (0 for an unknown value)"
    if any(math.isnan(v) for v in got):
        return f"returns {_fmt(got)} for {_fmt(values)}: NaN comes from 0 ÷ 0"
    if any(v < -1e-9 or v > 1 + 1e-9 for v in got):
        return f"returns {_fmt(got)} for {_fmt(values)}: scores should lie between 0 and 1"
    return None


def _normalise_problems(fn: Any) -> list[str]:
    """What goes wrong on the cases where scalings break (empty when nothing does)."""
    cases: list[tuple[list[Any], bool, Any, str]] = [
        ([0.004, 0.001, 0.002], False, lambda r: r[1] == max(r) and r[1] > r[0] and r[2] >= r[0],
         f"the smallest value should score highest: {LOWER}"),
        ([0.5, 1.0], True, lambda r: r[1] > r[0], "for accuracy higher is better: the larger value scores higher"),
        ([0.004, 0.001, 0.002], False, lambda r: close(r[1], 1.0), "the best value should score 1"),
        ([0.003], False, lambda r: close(r[0], 1.0), MIN_MAX_ONE),
        ([2.0, 2.0, 4.0], False, lambda r: close(r[0], r[1]) and close(r[0], 1.0) and r[2] < r[0],
         "tied values should get the same score, and tied best values the top score 1"),
        ([2.0, 2.0], False, lambda r: close(r[0], 1.0) and close(r[1], 1.0),
         ("when every candidate has the same value (a tie), each is the best there is: score them all 1 "
          "(min–max divides by max − min = 0 here)")),
        ([0.002, None], False, lambda r: close(r[0], 1.0) and close(r[1], 0.0),
         ("an unknown value (None) should score 0, the worst — unknown is not free — and be left out when "
          "finding the best")),
        ([None, None], True, lambda r: close(r[0], 0.0) and close(r[1], 0.0),
         "when every value is unknown, every score is 0"),
        ([0.0, 0.002], False, lambda r: close(r[0], 1.0) and r[1] < 1.0,
         "a value of 0 (a local model's $0 cost) is the best possible: score it 1 (and never divide by it)"),
        ([0.0, 0.0], True, lambda r: close(r[0], r[1]), "accuracies that are all 0 should score alike"),
    ]
    problems: list[str] = []
    problem: str | None
    for values, higher, good, why in cases:
        call = f"normalise({_fmt(values)}, higher_is_better={higher})"
        try:
            got = _call(fn, list(values), higher)
        except _Raised as exc:
            problem = f"{call} raised {exc}: {why}"
        else:
            got = list(got) if isinstance(got, (list, tuple)) else got
            problem = _shape(got, values)
            problem = f"{call} {problem}" if problem else (None if good(got) else f"{call} gives {_fmt(got)}: {why}")
        if problem and why not in " ".join(problems):
            problems.append(problem)
    return problems


def _check_normalise(report: Report, normalise: Any) -> bool:
    if not _is_function(report, normalise, "normalise(values, higher_is_better)"):
        return False
    state, got = _outcome(normalise, [0.004, 0.001], False)
    try:
        if _unfinished(report, 2, "normalise", state, got, "a list of scores, one per value"):
            return False
        problems = _normalise_problems(normalise)
    except NotImplementedError:  # unfinished for some cases only
        report.todo(f"Step 2 is {NOT_DONE}: `normalise` still raises NotImplementedError for some values")
        return False
    if problems:
        report.wrong("`normalise`: " + "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)"
                                                                 if len(problems) > 3 else ""))
        return False
    report.ok("`normalise`: best value scores 1, lower is better except for accuracy, and one candidate, ties, "
              "unknown values and $0 all score sensibly")
    return True


# -- step 3: the score -----------------------------------------------------------------------------------------
def _weighted(scores: Mapping[str, float], weights: Mapping[str, float]) -> float:
    total = sum(weights.get(c, 0.0) for c in CRITERIA)
    return sum(weights.get(c, 0.0) * scores[c] for c in CRITERIA) / total


def _check_score(report: Report, score: Any) -> bool:
    if not _is_function(report, score, "score(scores, weights)"):
        return False
    ones = {c: 1.0 for c in CRITERIA}
    cases = [(f"a candidate that scores 1 on every criterion, weights {SCORE_WEIGHTS}", ones, SCORE_WEIGHTS),
             (f"scores {SCORE_CASE}, weights {SCORE_WEIGHTS}", SCORE_CASE, SCORE_WEIGHTS),
             (f"weights that leave criteria out, {PARTIAL_WEIGHTS}", SCORE_CASE, PARTIAL_WEIGHTS)]
    for case, scores, weights in cases:
        want = _weighted(scores, weights)
        state, got = _outcome(score, dict(scores), dict(weights))
        if state == "raised":
            missing = weights is PARTIAL_WEIGHTS and "KeyError" in got
            report.wrong(f"`score` raised {got} for {case}"
                         + (": a criterion left out of the weights counts 0, use weights.get(c, 0)" if missing
                            else ""))
            return False
        if _unfinished(report, 3, "score", state, got, "the candidate's weighted score"):
            return False
        if not _number(got):
            report.wrong(f"`score` returns a {type(got).__name__}: return one number")
            return False
        if not close(float(got), want, rel=1e-6):
            total = sum(weights.values())
            hint = (f"divide the weighted sum by the sum of the weights ({total:g}), so a candidate that is "
                    "best everywhere scores 1" if close(float(got), want * total, rel=1e-6)
                    else "the score is Σ weight × criterion score ÷ Σ weight")
            report.wrong(f"`score` gives {got:.4g} for {case}, which is {'more' if got > want else 'less'} than the "
                         f"weighted mean of the scores: {hint}")
            return False
    report.ok("`score`: the weighted mean of the criterion scores (1 for a candidate that is best everywhere)")
    return True


# -- step 4: the ranking ---------------------------------------------------------------------------------------
def _expected_ranking(candidates: list[Candidate], weights: Mapping[str, float], normalise: Any,
                      score: Any) -> list[tuple[str, float]]:
    """The ranking the student's own normalise and score give (so any sound normaliser is accepted)."""
    per = {c: list(normalise([x.value(c) for x in candidates], c in HIGHER_IS_BETTER)) for c in CRITERIA}
    rows = [(x.name, float(score({c: per[c][i] for c in CRITERIA}, dict(weights)))) for i, x in enumerate(candidates)]
    return sorted(rows, key=lambda r: -r[1])


def _ranking_problem(got: Any, want: list[tuple[str, float]]) -> str | None:
    if not isinstance(got, (list, tuple)) or not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in got):
        return f"returns {type(got).__name__} {str(got)[:80]}: return a list of (name, score) pairs, best first"
    names = [p[0] for p in got]
    if sorted(map(str, names)) != sorted(n for n, _ in want):
        return f"ranks {names}, but the candidates are {[n for n, _ in want]}: rank each candidate once"
    if not all(_number(p[1]) for p in got):
        return "every pair should be (name, score) with a number for the score"
    scores = [float(p[1]) for p in got]
    if any(a < b - 1e-12 for a, b in itertools.pairwise(scores)):
        return (f"gives {[f'{s:.3g}' for s in scores]}: put the best first, "
                "sorted(pairs, key=lambda p: p[1], reverse=True)")
    expected = dict(want)
    for name, value in got:
        if not close(float(value), expected[name], rel=1e-6):
            return (f"gives {name} {float(value):.4g}, but your normalise and score give {expected[name]:.4g}: "
                    "normalise each criterion across all the candidates (one list per criterion; "
                    "higher_is_better only for accuracy), then score each candidate with WEIGHTS")
    return None


def _check_rank_models(report: Report, rank_models: Any, candidates: list[Candidate],
                       weights: Mapping[str, float], normalise: Any, score: Any) -> list[tuple[str, float]] | None:
    if not _is_function(report, rank_models, "rank_models(candidates, weights)"):
        return None
    ranking: list[tuple[str, float]] | None = None
    for group in (candidates, candidates[:1]):
        try:
            want = _expected_ranking(group, weights, normalise, score)
        except Exception as exc:  # noqa: BLE001  (their normalise or score, on the real figures)
            report.wrong(f"`normalise` or `score` raised {type(exc).__name__} on the candidates' figures: {exc}")
            return None
        state, got = _outcome(rank_models, list(group), dict(weights))
        if state == "raised":
            report.wrong(f"`rank_models` raised {got} with {len(group)} candidate(s)")
            return None
        if _unfinished(report, 4, "rank_models", state, got, "(name, score) pairs, best first"):
            return None
        problem = _ranking_problem(got, want)
        if problem:
            report.wrong(f"`rank_models` with {len(group)} candidate(s) {problem}")
            return None
        ranking = ranking or [(str(n), float(s)) for n, s in got]
    assert ranking is not None  # the loop ran at least once and returned on every failure
    report.ok(f"`rank_models`: {ranking[0][0]} first ({ranking[0][1]:.2f}); one candidate alone ranks sensibly too")
    return ranking


# -- step 5: the choice -----------------------------------------------------------------------------------------
def _check_choice(report: Report, choice: Any, ranking: list[tuple[str, float]] | None,
                  candidates: list[Candidate]) -> None:
    names = [c.name for c in candidates]
    if _todo(choice):
        report.todo(f"Step 5 is {NOT_DONE}: set `choice` to the model you pick")
        return
    if choice not in names:
        report.wrong(f"`choice` is {choice!r}, not one of the candidates {names}")
        return
    if ranking is None:
        report.todo("Step 5 needs the ranking of step 4 first")
        return
    top = [n for n, s in ranking if close(s, ranking[0][1], rel=1e-9)]
    if choice not in top:
        report.wrong(f"your ranking puts {ranking[0][0]} first, but `choice` is {choice!r}: pick the top of the "
                     "ranking, or change WEIGHTS until the ranking says what you believe")
        return
    report.ok(f"`choice`: {choice}, the top of your ranking")


def _table(candidates: list[Candidate], weights: Mapping[str, float],
           ranking: list[tuple[str, float]] | None) -> list[dict[str, Any]]:
    mine = {n: (i + 1, s) for i, (n, s) in enumerate(ranking or [])}
    helpers = {r.name: r for r in rank(candidates, weights).ranking}
    rows = []
    for c in candidates:
        row: dict[str, Any] = {"model": c.name, "accuracy": c.accuracy, "cost_usd": c.cost_usd,
                               "latency_s": c.latency_s, "kwh": c.kwh, "g_co2e": c.g_co2e}
        if ranking:
            row["your rank"], row["your score"] = mine[c.name]
        row["decision.rank score"] = helpers[c.name].score
        rows.append(row)
    return sorted(rows, key=lambda r: r.get("your rank", 0))


def _check_candidates(report: Report, candidates: Any) -> list[Candidate] | None:
    if _todo(candidates):
        report.todo("`candidates` is empty: run the cells above (the comparison and decision.candidates(result))")
        return None
    if not isinstance(candidates, (list, tuple)) or not all(isinstance(c, Candidate) for c in candidates):
        report.wrong("`candidates` should be the list that decision.candidates(result) returned")
        return None
    report.ok(f"`candidates`: {', '.join(c.name for c in candidates)} (measured in the comparison run)")
    return list(candidates)


def decision_matrix(weights: Any = None, normalise: Any = None, score: Any = None, rank_models: Any = None,
                    choice: Any = None, candidates: Any = None) -> Report:
    """Lab 06: weights, a normaliser that survives one candidate and ties, the score, the ranking, the choice."""
    report = Report("Lab 06 · decision matrix")
    cands = _check_candidates(report, candidates)
    w = _check_weights(report, weights)
    norm_ok = _check_normalise(report, normalise)
    score_ok = _check_score(report, score)
    if cands is None or w is None or not (norm_ok and score_ok):
        report.todo("Steps 4 and 5 need the candidates, WEIGHTS, `normalise` and `score` first")
        return report
    ranking = _check_rank_models(report, rank_models, cands, weights, normalise, score)
    _check_choice(report, choice, ranking, cands)
    report.table = _table(cands, w, ranking)
    return report
