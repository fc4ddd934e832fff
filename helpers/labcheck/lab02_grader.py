"""Lab 02 checker: write a grader for numeric answers (fractions, decimals, percentages, units, money).

The student writes ``read_number(text)`` (the last number in a text, in base units) and
``is_correct(expected, answer)``. The checker runs both on tricky phrasings and names each one they get
wrong and why, e.g. "accepts '0.67' but rejects '66.7%' …: a percentage is a fraction of 100".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from helpers.labcheck.core import NOT_DONE, Report, close


@dataclass(frozen=True)
class Reading:
    """What ``read_number(text)`` should return (base units: fractions, metres, dollars), and the hint."""

    text: str
    value: float | None
    hint: str


@dataclass(frozen=True)
class Case:
    """One phrasing of an answer: right or wrong for ``expected``; ``written`` is its quantity as written."""

    expected: str
    text: str
    correct: bool
    skill: str
    written: str
    why: str


READINGS = [
    Reading("2/3", 2 / 3, "a fraction is numerator ÷ denominator"),
    Reading("0.67", 0.67, "read the digits after the decimal point too"),
    Reading("66.7%", 0.667, "a percentage is a fraction of 100: divide by 100"),
    Reading("67 percent", 0.67, "'percent' written out is a percentage too"),
    Reading("4 mm", 0.004, "lengths are in metres: 1 mm = 0.001 m"),
    Reading("0.4 cm", 0.004, "lengths are in metres: 1 cm = 0.01 m"),
    Reading("4 millimetres", 0.004, "units may be written out (millimetres, millimeters, centimetres…)"),
    Reading("$90", 90.0, "money is in dollars; the $ sign comes before the number"),
    Reading("90 dollars", 90.0, "'dollars' after the number is money too"),
    Reading("55", 55.0, "a whole number is read as it is"),
    Reading("2 cm of pages and 2 mm of cover: 4 mm", 0.004, "read the last number of the text: it is the answer"),
    Reading("I don't know.", None, "return None when the text holds no number"),
]

_COINS = "2/3"
_WORM = "4 mm"
_SHIRTS = "$90"
CASES = [
    Case(_COINS, "Answer: 2/3", True, "fractions", "2/3", "a fraction is numerator ÷ denominator"),
    Case(_COINS, "The probability is 1/2.", False, "fractions", "1/2", "1/2 is 0.5, not 2/3"),
    Case(_COINS, "The probability is 0.67.", True, "decimals", "0.67",
         "0.67 is 2/3 rounded: compare within a tolerance (1 %), never with =="),
    Case(_COINS, "The probability is 0.5.", False, "decimals", "0.5", "0.5 is 25 % away from 2/3"),
    Case(_COINS, "So the probability is about 66.7%.", True, "percentages", "66.7%",
         "handle percentages: 66.7% is 0.667"),
    Case(_COINS, "It's roughly 67 percent.", True, "percentages", "67 percent",
         "handle percentages written out: 67 percent is 0.67"),
    Case(_COINS, "It is 50%.", False, "percentages", "50%", "50% is 0.5, not 2/3: divide percentages by 100"),
    Case(_WORM, "The worm eats through 4 mm.", True, "units", "4 mm", "read the number before the unit"),
    Case(_WORM, "Answer: 4 millimetres", True, "units", "4 millimetres",
         "handle units written out: 4 millimetres is 4 mm"),
    Case(_WORM, "Answer: 0.4 cm", True, "units", "0.4 cm",
         "convert units before comparing: 0.4 cm is 4 mm"),
    Case(_WORM, "The distance is 4 cm.", False, "units", "4 cm",
         "4 cm is 40 mm: convert units before comparing, the unit changes the value"),
    Case(_WORM, "Answer: 4.4 cm", False, "units", "4.4 cm", "4.4 cm is 44 mm"),
    Case(_SHIRTS, "You pay $90.", True, "money", "$90", "read the number after a $ sign"),
    Case(_SHIRTS, "The total is 90 dollars.", True, "money", "90 dollars", "'dollars' after the number is money too"),
    Case(_SHIRTS, "Answer: $90.00", True, "money", "$90.00", "$90.00 is $90"),
    Case(_SHIRTS, "Answer: $100", False, "money", "$100", "$100 is the price before the discount"),
    Case(_SHIRTS, "5 shirts cost $100. With 10% off, you pay $90.", True, "final answer", "$90",
         "grade the last number, not the first: the answer ends with $90"),
    Case(_COINS, "Many people say 2/3, but each coin is independent, so the probability is 1/2.", False,
         "final answer", "1/2", "grade the last number: this answer concludes 1/2 (2/3 is only quoted)"),
    Case(_WORM, "Each volume's pages are 2 cm thick and each cover 2 mm, so the worm eats 4 mm.", True,
         "final answer", "4 mm", "grade the last number: the reasoning's 2 cm and 2 mm are not the answer"),
    Case("55", "The sum is 55.", True, "whole numbers", "55", "a whole number is read as it is"),
    Case("55", "Answer: 56", False, "whole numbers", "56", "56 is not 55: 1 % of 55 is only 0.55"),
]

# Harder phrasings, beyond the lab: shown in the comparison with helpers.compare.graders, not checked.
BEYOND = [
    Case(_COINS, "It is two thirds.", True, "words", "two thirds", "numbers written as words"),
    Case(_COINS, "The answer is $\\frac{2}{3}$.", True, "LaTeX", "\\frac{2}{3}", "LaTeX fractions"),
    Case(_COINS, "Final answer: \\boxed{\\dfrac{2}{3}}", True, "LaTeX", "\\boxed{…}", "a boxed LaTeX answer"),
    Case(_COINS, "The probability is 2/3, not 1/2.", True, "negation", "2/3", "a negated number is not the answer"),
    Case(_WORM, "The answer is 4 mm rather than 4.4 cm.", True, "negation", "4 mm", "'rather than' negates"),
    Case(_WORM, "The answer is 4 mm (many people say 4.4 cm).", True, "asides", "4 mm", "an aside after the answer"),
    Case(_COINS, ("The probability that the other coin is tails is 2/3, because among HH, HT and TH two have a "
                  "tail (2 out of 3)."), True, "justification", "2/3", "numbers in a 'because' clause"),
    Case(_COINS, "The probability is 0.7.", False, "precision", "0.7", "one significant digit is too coarse"),
    Case("55", "The sum is fifty-five.", True, "words", "fifty-five", "numbers written as words"),
    Case(_SHIRTS, "You pay USD 90.", True, "money", "USD 90", "a currency code before the number"),
]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _truth(value: Any) -> bool | None:
    """A student's verdict as a bool (numpy's bool too), or None when it is not one."""
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    return None


def _call(fn: Any, *args: Any) -> tuple[str, Any]:
    """("ok", value), ("todo", None) on NotImplementedError, or ("raised", "TypeError: …")."""
    try:
        return "ok", fn(*args)
    except NotImplementedError:
        return "todo", None
    except Exception as exc:  # noqa: BLE001  (student code may raise anything: say what, go on)
        return "raised", f"{type(exc).__name__}: {str(exc)[:160]}"


def _reading_problem(r: Reading, got: Any) -> str | None:
    shown = f"`read_number({r.text!r})` returns {got!r}"
    if r.value is None:
        return None if got is None else f"{shown}, expected None: {r.hint}"
    if got is None:
        return f"{shown}, expected {r.value:.4g}: {r.hint}"
    if not _number(got):
        return f"{shown} (a {type(got).__name__}), expected the number {r.value:.4g}: return a float"
    if close(float(got), r.value, rel=1e-3):
        return None
    return f"{shown}, expected {r.value:.4g}: {r.hint}"


def _is_function(report: Report, fn: Any, signature: str) -> bool:
    """True for a callable; otherwise report how to define it."""
    if not callable(fn):
        report.wrong(f"`{signature.split('(')[0]}` is a {type(fn).__name__}, not a function: define it with "
                     f"`def {signature}:`")
    return callable(fn)


def _check_read_number(report: Report, read_number: Any) -> None:
    if not _is_function(report, read_number, "read_number(text)"):
        return
    problems = []
    for r in READINGS:
        state, got = _call(read_number, r.text)
        if state == "todo":
            report.todo(f"Step 1 is {NOT_DONE}: replace `raise NotImplementedError` in `read_number` with your code")
            return
        if state == "raised":
            problems.append(f"`read_number({r.text!r})` raised {got}" + (f": {r.hint}" if r.value is None else ""))
            continue
        problem = _reading_problem(r, got)
        if problem:
            problems.append(problem)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        report.wrong("; ".join(problems[:3]) + more)
    else:
        report.ok(f"`read_number` reads all {len(READINGS)} quantities: fractions, decimals, percentages, "
                  "units, money, the last number, no number")


def _verdict(is_correct: Any, case: Case) -> bool | str | None:
    """True/False, a sentence on what went wrong ("raised …", "returned …"), or None when not done yet."""
    state, got = _call(is_correct, case.expected, case.text)
    if state == "todo":
        return None
    if state == "raised":
        return f"raised {got}"
    verdict = _truth(got)
    return f"returned {got!r} (a {type(got).__name__}, not True or False)" if verdict is None else verdict


def _case_problem(case: Case, verdict: bool | str | None, accepted: list[Case]) -> str | None:
    """What is wrong with one verdict, in words (quantities in backticks: `$` would start math in Markdown)."""
    where = f"`{case.written}` in `{case.text}`"
    if isinstance(verdict, str):
        return f"on {where} `is_correct` {verdict}: return True or False (False when there is no number)"
    if verdict is case.correct:
        return None
    if case.correct:
        same = [c for c in accepted if c.expected == case.expected and c.written != case.written]
        if same:  # the nearest accepted phrasing before this one (0.67 before 66.7%), else the first after
            before = [c for c in same if CASES.index(c) < CASES.index(case)]
            shown = before[-1] if before else same[0]
            return f"accepts `{shown.written}` but rejects {where}, both right for `{case.expected}`: {case.why}"
        return f"rejects {where}, which is right for `{case.expected}`: {case.why}"
    return f"accepts {where} as right for `{case.expected}`, but it is wrong: {case.why}"


def _check_is_correct(report: Report, is_correct: Any) -> None:
    if not _is_function(report, is_correct, "is_correct(expected, answer)"):
        return
    verdicts = {c: _verdict(is_correct, c) for c in CASES}
    if any(v is None for v in verdicts.values()):
        report.todo(f"Step 2 is {NOT_DONE}: replace `raise NotImplementedError` in `is_correct` with your code")
        return
    failures = [v for v in verdicts.values() if isinstance(v, str)]
    if len(failures) == len(CASES):
        report.wrong(f"`is_correct` {failures[0]} on every phrasing (the first was `{CASES[0].text}`): "
                     "return True or False, and False when there is no number")
        return
    accepted = [c for c in CASES if c.correct and verdicts[c] is True]
    for skill in dict.fromkeys(c.skill for c in CASES):
        group = [c for c in CASES if c.skill == skill]
        problems = [p for c in group if (p := _case_problem(c, verdicts[c], accepted))]
        if not problems:
            report.ok(f"{skill}: all {len(group)} phrasings graded right")
            continue
        more = f" (and {len(problems) - 1} more {skill} phrasing(s))" if len(problems) > 1 else ""
        report.wrong(f"{skill}: {problems[0]}{more}")
    report.table = [{"expected": f"`{c.expected}`", "answer": f"`{c.text}`", "truly": _word(c.correct),
                     "yours": v if isinstance(v, str) else _word(v)}
                    for c, v in verdicts.items() if v is not c.correct]


def _word(verdict: bool | None) -> str:
    return "right" if verdict else "wrong"


def write_a_grader(read_number: Any = None, is_correct: Any = None) -> Report:
    """Lab 02: ``read_number`` on single quantities, then ``is_correct`` on tricky phrasings, skill by skill.

    The table lists the phrasings ``is_correct`` grades wrongly (empty when all are right).
    """
    report = Report("Lab 02 · write a grader")
    _check_read_number(report, read_number)
    _check_is_correct(report, is_correct)
    return report


def grader_comparison(is_correct: Any) -> str:
    """Markdown: the lab's phrasings and harder ones, graded by ``is_correct`` and by ``helpers.compare.graders``."""
    from helpers.compare import graders
    from helpers.compare.puzzles import Puzzle

    def mark(verdict: bool | str | None, truth: bool) -> str:
        if verdict is None:
            return NOT_DONE
        if isinstance(verdict, str):
            return "⚠ " + verdict.replace("|", "\\|").replace("`", "'")
        return _word(verdict) + ("" if verdict is truth else " ✗")

    cases = CASES + BEYOND
    lines = ["| answer | expected | truly | yours | helpers.compare.graders |", "|---|---|---|---|---|"]
    yours = library = 0
    for case in cases:
        mine = _verdict(is_correct, case)
        theirs = graders.grade(Puzzle(id="lab02", prompt="", answer=case.expected, grader="numeric"), case.text).correct
        yours += mine is case.correct
        library += theirs is case.correct
        lines.append(f"| `{case.text.replace('|', chr(92) + '|')}` | `{case.expected}` | "
                     f"{_word(case.correct)} | {mark(mine, case.correct)} | "
                     f"{mark(theirs, case.correct)} |")
    total = len(cases)
    summary = (f"Graded as they truly are: **yours {yours} of {total}**, helpers.compare.graders {library} of {total} "
               f"(✗ marks a wrong verdict). The last {len(BEYOND)} rows go beyond the lab's checks.")
    lines += ["", summary]
    return "\n".join(lines)
