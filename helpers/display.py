"""Plain-text and Markdown renderings of answers, for terminals and notebooks."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: answer.py renders itself through this module
    from helpers.answer import Answer


def fmt_cost(value: float | None) -> str:
    """US dollars with enough digits for fractions of a cent; 'n/a' when unknown (never 0)."""
    if value is None:
        return "n/a"
    if value == 0:
        return "$0"
    return f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def fmt_g(value: float | None) -> str:
    """Grams CO2e, or 'n/a'."""
    if value is None:
        return "n/a"
    return f"{value * 1000:.2f} mg" if value < 0.1 else f"{value:.3f} g"


def fmt_s(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def fmt_tokens(answer: Answer) -> str:
    u = answer.usage
    if u.prompt_tokens is None and u.completion_tokens is None:
        return "n/a"
    parts = [f"{u.prompt_tokens or 0} in", f"{u.completion_tokens or 0} out"]
    if u.cached_tokens:
        parts.append(f"{u.cached_tokens} cached")
    if u.reasoning_tokens:
        parts.append(f"{u.reasoning_tokens} reasoning")
    return " / ".join(parts)


def tags(answer: Answer) -> str:
    marks = []
    if answer.offline:
        marks.append("offline")
    if answer.cached:
        marks.append("from cache")
    if answer.incomplete:
        marks.append("incomplete")
    return f" [{', '.join(marks)}]" if marks else ""


def stats_line(answer: Answer) -> str:
    """Tokens, latency, cost and emissions on one line."""
    bits = [f"tokens {fmt_tokens(answer)}", f"latency {fmt_s(answer.latency_s)}"]
    if answer.ttft_s is not None:
        bits.append(f"first token {fmt_s(answer.ttft_s)}")
    bits.append(f"cost {fmt_cost(answer.cost_usd)}")
    bits.append(f"CO2e {fmt_g(answer.g_co2e)}")
    return " · ".join(bits)


def answer_text(answer: Answer) -> str:
    """A terminal rendering: header, text (or the error), stats."""
    head = f"── {answer.spec}" + (f" (model {answer.model_reported})" if answer.model_reported
                                   and answer.model_reported != answer.model else "") + tags(answer)
    if not answer.ok and not answer.text:
        return f"{head}\n⚠ {answer.error}"
    body = answer.text.strip()
    if not answer.ok:
        body += f"\n⚠ {answer.error}"
    return f"{head}\n{body}\n{stats_line(answer)}"


def answer_markdown(answer: Answer) -> str:
    """A notebook rendering of one answer."""
    head = f"**{answer.spec}**{tags(answer)}"
    if not answer.ok and not answer.text:
        return f"{head}\n\n> ⚠ {answer.error}"
    reasoning = ""
    if answer.reasoning:
        reasoning = f"<details><summary>reasoning</summary>\n\n{answer.reasoning.strip()}\n\n</details>\n\n"
    warn = f"\n\n> ⚠ {answer.error}" if not answer.ok else ""
    return f"{head}\n\n{reasoning}{answer.text.strip()}{warn}\n\n<small>{stats_line(answer)}</small>"


def side_by_side(answers: Sequence[Answer], width: int | None = None) -> str:
    """Answers in columns for a terminal (stacked when the terminal is too narrow)."""
    if not answers:
        return ""
    width = width or shutil.get_terminal_size((120, 40)).columns
    col = (width - 3 * (len(answers) - 1)) // len(answers)
    if col < 28:
        return "\n\n".join(answer_text(a) for a in answers)
    columns = []
    for a in answers:
        lines = [a.spec + tags(a), "─" * min(col, len(a.spec + tags(a)))]
        body = a.text.strip() if a.text else ""
        if not a.ok:
            body = (body + "\n" if body else "") + f"⚠ {a.error}"
        for para in body.splitlines() or [""]:
            lines.extend(textwrap.wrap(para, col) or [""])
        if a.ok or a.text:  # a call that failed before any answer has no figures worth a block of n/a
            lines.append("")
            lines.extend([f"tokens   {fmt_tokens(a)}", f"latency  {fmt_s(a.latency_s)}"]
                         + ([f"1st tok  {fmt_s(a.ttft_s)}"] if a.ttft_s is not None else [])
                         + [f"cost     {fmt_cost(a.cost_usd)}", f"CO2e     {fmt_g(a.g_co2e)}"])
        columns.append([line[:col] for line in lines])
    height = max(len(c) for c in columns)
    rows = []
    for i in range(height):
        rows.append(" │ ".join((c[i] if i < len(c) else "").ljust(col) for c in columns).rstrip())
    return "\n".join(rows)


def markdown_table(answers: Sequence[Answer]) -> str:
    """Answers as one Markdown table (notebooks)."""
    head = "| model | answer | tokens | latency | cost | CO2e |\n|---|---|---|---|---|---|"
    rows = []
    for a in answers:
        text = (a.text.strip() or f"⚠ {a.error}").replace("|", "\\|").replace("\n", "<br>")
        rows.append(f"| {a.spec}{tags(a)} | {text} | {fmt_tokens(a)} | {fmt_s(a.latency_s)} | "
                    f"{fmt_cost(a.cost_usd)} | {fmt_g(a.g_co2e)} |")
    return "\n".join([head, *rows])
