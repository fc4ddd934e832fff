"""What every lab checker shares: the Report of findings, calling student code safely, close comparisons."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from helpers import display

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

    def _table_lines(self, markdown: bool = False) -> list[str]:
        if not self.table:
            return []
        cols = list(dict.fromkeys(k for row in self.table for k in row))
        esc = (lambda text: display.escape(text, "table")) if markdown else (lambda text: text.replace("|", "\\|"))
        rows = [" | ".join(esc(_cell(row.get(c))) for c in cols) for row in self.table]
        return ["", "| " + " | ".join(map(esc, cols)) + " |", "|" + "---|" * len(cols), *[f"| {r} |" for r in rows]]

    def __str__(self) -> str:
        lines = [self.headline, *[f"  {MARKS[f.state]} {f.message}" for f in self.findings]]
        return "\n".join(lines + self._table_lines())

    __repr__ = __str__

    def _repr_markdown_(self) -> str:
        lines = [f"**{display.escape(self.headline)}**", "",
                 *[f"- {MARKS[f.state]} {display.escape(f.message, 'prose')}" for f in self.findings]]
        return "\n".join(lines + self._table_lines(markdown=True))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


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


