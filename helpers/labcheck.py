"""Checkers for the labs: each looks at a student's work and says what is right, what is wrong (and how
to fix it) and what is not done yet. A check never raises because of the student's code: an unfinished
step (``None``, an empty value, ``NotImplementedError``) is reported as "not done yet".

In a lab's ``check`` cell: ``labcheck.two_providers(models=models, answers=answers, …)``; the Report
renders as Markdown in a notebook and as text elsewhere.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from .answer import Answer
from .errors import LabError

MARKS = {"ok": "✓", "wrong": "✗", "todo": "…"}
NOT_DONE = "not done yet"


@dataclass
class Finding:
    """One observation: ``state`` is "ok", "wrong" or "todo"."""

    state: str
    message: str


@dataclass(repr=False)
class Report:
    """What a checker found, in order, with an optional table of the student's results."""

    title: str
    findings: list[Finding] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)

    def ok(self, message: str) -> None:
        self.findings.append(Finding("ok", message))

    def wrong(self, message: str) -> None:
        self.findings.append(Finding("wrong", message))

    def todo(self, message: str) -> None:
        self.findings.append(Finding("todo", message))

    def count(self, state: str) -> int:
        return sum(f.state == state for f in self.findings)

    @property
    def passed(self) -> bool:
        return bool(self.findings) and all(f.state == "ok" for f in self.findings)

    @property
    def headline(self) -> str:
        if self.passed:
            return f"✅ {self.title}: all {len(self.findings)} checks pass"
        parts = []
        if self.count("wrong"):
            parts.append(f"{self.count('wrong')} to fix")
        if self.count("todo"):
            parts.append(f"{NOT_DONE} ({self.count('todo')} step(s) to go)")
        return f"{'❌' if self.count('wrong') else '⏳'} {self.title}: {', '.join(parts)}"

    def _table_lines(self) -> list[str]:
        if not self.table:
            return []
        cols = list(dict.fromkeys(k for row in self.table for k in row))
        rows = [" | ".join(_cell(row.get(c)) for c in cols) for row in self.table]
        return ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols), *[f"| {r} |" for r in rows]]

    def __str__(self) -> str:
        lines = [self.headline, *[f"  {MARKS[f.state]} {f.message}" for f in self.findings]]
        return "\n".join(lines + self._table_lines())

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        lines = [f"**{self.headline}**", "", *[f"- {MARKS[f.state]} {f.message}" for f in self.findings]]
        return "\n".join(lines + self._table_lines())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value).replace("|", "\\|")


def _todo(value: Any) -> bool:
    """True for the values a student skeleton starts with."""
    return value is None or value is ... or (isinstance(value, (str, list, tuple, dict)) and not value)


def attempt(report: Report, name: str, fn: Any, *args: Any) -> tuple[bool, Any]:
    """Call a student's function; report "not done yet" or what it raised. Returns (finished, value)."""
    if not callable(fn):
        report.wrong(f"`{name}` is a {type(fn).__name__}, not a function: define it with `def {name}(…):`")
        return False, None
    try:
        return True, fn(*args)
    except NotImplementedError:
        report.todo(f"`{name}` is {NOT_DONE}: replace `raise NotImplementedError` with your code")
    except Exception as exc:  # noqa: BLE001  (student code may raise anything: say what, go on)
        report.wrong(f"`{name}` raised {type(exc).__name__}: {str(exc)[:200]}")
    return False, None


def close(a: Any, b: Any, rel: float = 1e-3) -> bool:
    """Equal, or numbers within ``rel`` of each other; None only matches None."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    return a == b


# -- lab 01: call two providers and compare ---------------------------------------------------------------------
SUMMARY_HINTS = {
    "model": "the answer's spec (answer.spec)",
    "words": "len(answer.text.split())",
    "output_tokens": "answer.usage.completion_tokens",
    "seconds": "answer.latency_s",
    "tokens_per_s": "output tokens ÷ seconds, None when either is missing",
    "cost_usd": "answer.cost_usd, None when the price is unknown (never 0 for unknown)",
}


def expected_summary(answer: Answer) -> dict[str, Any]:
    """The row lab 01 asks for, computed from an Answer."""
    tokens, seconds = answer.usage.completion_tokens, answer.latency_s
    return {"model": answer.spec, "words": len(answer.text.split()), "output_tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / seconds if tokens and seconds else None, "cost_usd": answer.cost_usd}


def _check_models(report: Report, models: Any) -> list[str] | None:
    from . import catalog
    from . import spec as specs

    if _todo(models):
        report.todo(f"Step 1 is {NOT_DONE}: set `models` to two specs, e.g. lab.models(2)")
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
                problems.append(f"{k} for {a.spec} is {row[k]!r}, expected {want[k]!r}: use {SUMMARY_HINTS[k]}")
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


# -- lab 04: add a provider by base URL ---------------------------------------------------------------------------
def served_models(base_url: str, timeout: float = 5.0) -> list[str] | str:
    """The ids ``GET {base_url}/models`` lists, or a sentence saying why there are none."""
    import httpx

    try:
        response = httpx.get(base_url.rstrip("/") + "/models", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"nothing answers at {base_url} ({type(exc).__name__})"
    if response.status_code != 200:
        return f"{base_url}/models answered HTTP {response.status_code}"
    try:
        return sorted(m["id"] for m in response.json()["data"])
    except (ValueError, KeyError, TypeError):
        return f"{base_url}/models did not answer with an OpenAI-style model list"


def _check_base_url(report: Report, base_url: Any) -> list[str] | None:
    if _todo(base_url):
        report.todo(f"Step 1 is {NOT_DONE}: set BASE_URL to the server's OpenAI-compatible root")
        return None
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        report.wrong(f"BASE_URL is {base_url!r}: it should be a URL starting with http:// or https://")
        return None
    if not base_url.rstrip("/").endswith("/v1"):
        report.wrong(f"BASE_URL {base_url} does not end in /v1: OpenAI-compatible servers serve the API under /v1")
        return None
    served = served_models(base_url)
    if isinstance(served, str):
        report.wrong(f"BASE_URL: {served}; is the server running?")
        return None
    report.ok(f"BASE_URL {base_url} answers and serves {served}")
    return served


def _check_list_models(report: Report, list_models: Any, base_url: str, served: list[str]) -> None:
    finished, ids = attempt(report, "list_models", list_models, base_url)
    if not finished:
        return
    if _todo(ids):
        report.todo(f"Step 2 is {NOT_DONE}: `list_models` returns {ids!r}")
    elif not isinstance(ids, (list, tuple)) or not all(isinstance(i, str) for i in ids):
        report.wrong("`list_models` should return a list of model id strings ([m.id for m in client.models.list()])")
    elif sorted(ids) != served:
        report.wrong(f"`list_models` returns {sorted(ids)}, but the server lists {served}")
    else:
        report.ok(f"`list_models` returns {served}")


def _check_ask_directly(report: Report, ask_directly: Any, base_url: str, model: str) -> None:
    finished, text = attempt(report, "ask_directly", ask_directly, base_url, model, "Say hello.")
    if not finished:
        return
    if text is None:
        report.todo(f"Step 3 is {NOT_DONE}: `ask_directly` returns None")
    elif not isinstance(text, str):
        report.wrong(f"`ask_directly` returns a {type(text).__name__}: return the text, "
                     "reply.choices[0].message.content")
    elif not text.strip():
        report.wrong("`ask_directly` returns an empty string: did you read reply.choices[0].message.content?")
    else:
        report.ok(f"`ask_directly` returns the server's text ({len(text)} characters)")


def _check_custom_answer(report: Report, answer: Any, base_url: str) -> None:
    if _todo(answer):
        report.todo(f"Step 4 is {NOT_DONE}: set CUSTOM_BASE_URL and ask 'custom/<model id>'")
        return
    if not isinstance(answer, Answer):
        report.wrong(f"`answer` is a {type(answer).__name__}: keep what ask(...) returns")
    elif answer.provider != "custom":
        report.wrong(f"`answer` came from provider {answer.provider!r}: ask with the spec custom/<model id>")
    elif (os.environ.get("CUSTOM_BASE_URL") or "").rstrip("/") != base_url.rstrip("/"):
        report.wrong(f"CUSTOM_BASE_URL is {os.environ.get('CUSTOM_BASE_URL')!r}, not BASE_URL: "
                     "set os.environ['CUSTOM_BASE_URL'] = BASE_URL before asking")
    elif not answer.ok:
        report.wrong(f"`answer` holds an error: {answer.error}")
    else:
        report.ok(f"`answer`: {answer.spec} answered through ask(), like any catalog provider")


def add_a_provider(base_url: Any = None, list_models: Any = None, ask_directly: Any = None,
                   answer: Any = None) -> Report:
    """Lab 04: a base URL that answers, its model list, a direct SDK call and ask() through `custom/…`."""
    report = Report("Lab 04 · add a provider")
    served = _check_base_url(report, base_url)
    if not served:
        report.todo("Steps 2 to 4 need a BASE_URL that answers")
        return report
    _check_list_models(report, list_models, base_url, served)
    _check_ask_directly(report, ask_directly, base_url, served[0])
    _check_custom_answer(report, answer, base_url)
    return report

