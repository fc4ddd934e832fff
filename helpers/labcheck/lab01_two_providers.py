"""Lab 01 checker: call two providers and compare."""

from __future__ import annotations

from typing import Any

from helpers.answer import Answer
from helpers.errors import LabError
from helpers.labcheck.core import NOT_DONE, Report, _todo, attempt, close

# -- lab 01: call two providers and compare ---------------------------------------------------------------------
SUMMARY_HINTS = {
    "model": "the model spec the answer came from (look at the Answer's fields)",
    "words": "count the words of the answer's text (whitespace separates words)",
    "output_tokens": "the output (completion) tokens the provider reported in the answer's usage",
    "seconds": "how long the call took, as the answer measured it",
    "tokens_per_s": "output tokens ÷ seconds, None when either is missing",
    "cost_usd": "what the answer cost, None when the price is unknown (never 0 for unknown)",
}


def expected_summary(answer: Answer) -> dict[str, Any]:
    """The row lab 01 asks for, computed from an Answer."""
    tokens, seconds = answer.usage.completion_tokens, answer.latency_s
    return {"model": answer.spec, "words": len(answer.text.split()), "output_tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / seconds if tokens and seconds else None, "cost_usd": answer.cost_usd}


def _check_models(report: Report, models: Any) -> list[str] | None:
    from helpers import catalog
    from helpers import spec as specs

    if _todo(models):
        report.todo(f"Step 1 is {NOT_DONE}: set `models` to two model specs from two different providers (the "
                    "setup cell lists the models that answer on this machine)")
        return None
    if isinstance(models, str) or not isinstance(models, (list, tuple)):
        report.wrong(f"`models` is a {type(models).__name__}: make it a list of two spec strings")
        return None
    if len(models) != 2:
        report.wrong(f"`models` holds {len(models)} spec(s): the lab compares exactly two")
        return None
    try:
        parsed = [specs.parse(m) for m in models]
    except LabError as exc:
        report.wrong(f"a spec in `models` is not valid: {exc}")
        return None
    if parsed[0].provider == parsed[1].provider:
        report.wrong(f"both models come from {parsed[0].provider}: pick two different providers "
                     "(lab.models() lists what answers here)")
        return None
    for p in parsed:
        provider = catalog.provider(p.provider)
        if not provider.has_key():
            report.wrong(f"{p.label} needs {provider.key_var}, which is not set here: set it in .env or pick a "
                         "model from lab.models()")
            return None
    report.ok(f"`models`: {parsed[0].label} and {parsed[1].label}, two providers")
    return [p.label for p in parsed]


def _check_answers(report: Report, answers: Any, specs_: list[str] | None) -> list[Answer] | None:
    if _todo(answers):
        report.todo(f"Step 2 is {NOT_DONE}: ask both models the QUESTION and keep the list of answers")
        return None
    if not isinstance(answers, (list, tuple)) or not all(isinstance(a, Answer) for a in answers):
        report.wrong("`answers` should be the list of Answer objects that ask_many (or two ask calls) returned")
        return None
    got = [a.spec for a in answers]
    if specs_ is not None and sorted(got) != sorted(specs_):
        report.wrong(f"`answers` come from {got}, but `models` is {specs_}: ask the models you picked")
        return None
    failed = [a for a in answers if not a.ok]
    if failed:
        report.wrong("; ".join(f"{a.spec} failed: {a.error}" for a in failed))
        return None
    report.ok(f"`answers`: {len(answers)} answers, none failed")
    return list(answers)


def _check_summaries(report: Report, summarize: Any, answers: list[Answer]) -> bool:
    rows, problems = [], []
    for a in answers:
        finished, row = attempt(report, "summarize", summarize, a)
        if not finished:
            return False
        if _todo(row):
            report.todo(f"Step 3 is {NOT_DONE}: `summarize` returns {row!r}; return a dict")
            return False
        if not isinstance(row, dict):
            report.wrong(f"`summarize` returns a {type(row).__name__}: return a dict with keys {list(SUMMARY_HINTS)}")
            return False
        want = expected_summary(a)
        missing = [k for k in want if k not in row]
        if missing:
            problems.append(f"for {a.spec} the dict lacks {missing}")
        for k in want:
            if k in row and not close(row[k], want[k]):
                problems.append(f"{k} for {a.spec} is {row[k]!r}, which does not match the answer: {SUMMARY_HINTS[k]}")
        rows.append(row)
    if problems:
        report.wrong("`summarize`: " + "; ".join(problems))
        return False
    report.ok("`summarize`: every field matches the answers")
    report.table = rows
    return True


def _check_faster(report: Report, faster: Any, answers: list[Answer]) -> None:
    if _todo(faster):
        report.todo(f"Step 4 is {NOT_DONE}: set `faster` to the spec of the quicker model")
        return
    timed = [a for a in answers if a.latency_s is not None]
    if len(timed) < 2:
        report.wrong("the answers carry no latency to compare (were they read from a file?): ask again")
        return
    best = min(timed, key=lambda a: a.latency_s or 0.0)
    if faster == best.spec:
        report.ok(f"`faster`: {best.spec} ({best.latency_s:.2f} s)")
        return
    times = ", ".join(f"{a.spec} {a.latency_s:.2f} s" for a in timed)
    report.wrong(f"`faster` is {faster!r}, but the latencies are {times}: the faster one is {best.spec}")


def two_providers(models: Any = None, answers: Any = None, summarize: Any = None, faster: Any = None) -> Report:
    """Lab 01: two models from two providers, their answers, a summary row each and the faster one."""
    report = Report("Lab 01 · two providers")
    chosen = _check_models(report, models)
    got = _check_answers(report, answers, chosen)
    if got is None:
        report.todo("Steps 3 and 4 need the answers of step 2 first")
        return report
    _check_summaries(report, summarize, got)
    _check_faster(report, faster, got)
    return report


