"""Plain-text and Markdown renderings of answers, for terminals and notebooks."""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

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


def fmt_ms(value: float | None) -> str:
    """Milliseconds (time per output token), or 'n/a'."""
    return "n/a" if value is None else f"{value * 1000:.1f} ms"


def cost_text(answer: Answer) -> str:
    """The cost, with its reason when it is n/a (and the provider's own charge when that differs)."""
    note = answer.cost_note or ""
    if answer.cost_usd is None:
        return f"n/a ({note})" if note else "n/a"
    billed = note.partition("; ")[2]
    return fmt_cost(answer.cost_usd) + (f" ({billed})" if billed else "")


def answered_by(answer: Answer) -> str:
    """'answered by X' when the provider reports another model name than the one asked for, else ''."""
    reported = answer.model_reported
    return f"answered by {reported}" if reported and reported != answer.model else ""


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
    if answer.finish_reason == "length":
        marks.append("cut at max_tokens")
    return f" [{', '.join(marks)}]" if marks else ""


def stats_line(answer: Answer) -> str:
    """Tokens, latency, cost and emissions on one line."""
    bits = [f"tokens {fmt_tokens(answer)}", f"latency {fmt_s(answer.latency_s)}"]
    if answer.ttft_s is not None:
        bits.append(f"first token {fmt_s(answer.ttft_s)}")
    if answer.tpot_s is not None:
        bits.append(f"per token {fmt_ms(answer.tpot_s)}")
    bits.append(f"cost {cost_text(answer)}")
    bits.append(f"CO2e {fmt_g(answer.g_co2e)}")
    return " · ".join(bits)


def answer_text(answer: Answer) -> str:
    """A terminal rendering: header, text (or the error), stats."""
    head = f"── {answer.spec}" + (f" ({answered_by(answer)})" if answered_by(answer) else "") + tags(answer)
    if not answer.ok and not answer.text:
        return terminal(f"{head}\n⚠ {answer.error}")
    body = shown(answer.text.strip())
    if not answer.ok:
        body += f"\n⚠ {answer.error}"
    return terminal(f"{head}\n{body}\n{stats_line(answer)}")


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
        lines = [terminal(a.spec + tags(a)), "─" * min(col, len(a.spec + tags(a)))]
        if answered_by(a):
            lines.insert(1, terminal(answered_by(a)))
        body = shown(a.text.strip()) if a.text else ""
        if not a.ok:
            body = (body + "\n" if body else "") + f"⚠ {a.error}"
        body = terminal(body)
        for para in body.splitlines() or [""]:
            lines.extend(textwrap.wrap(para, col) or [""])
        if a.ok or a.text:  # a call that failed before any answer has no figures worth a block of n/a
            lines.append("")
            stats = ([f"tokens   {fmt_tokens(a)}", f"latency  {fmt_s(a.latency_s)}"]
                     + ([f"1st tok  {fmt_s(a.ttft_s)}"] if a.ttft_s is not None else [])
                     + ([f"per tok  {fmt_ms(a.tpot_s)}"] if a.tpot_s is not None else [])
                     + [f"cost     {cost_text(a)}", f"CO2e     {fmt_g(a.g_co2e)}"])
            for line in stats:  # a long reason (cost n/a because …) wraps instead of being cut
                lines.extend(textwrap.wrap(line, col, subsequent_indent=" " * 9) or [""])
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


# -- sinks: text from a model or a provider is hostile ------------------------------------------------------
_BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
_TERMINAL = {**{c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}, 0x7F: "\u2421",
             **{c: "\ufffd" for c in range(0x80, 0xA0)}, **{ord(c): "\ufffd" for c in _BIDI},
             **{c: "\ufffd" for c in range(0xD800, 0xE000)}}  # lone surrogates: a terminal cannot encode them


def terminal(text: object) -> str:
    """Text safe to print on a terminal: every control character but tab and newline is shown as a visible
    symbol (ESC as ␛, so no escape sequence, CSI, OSC title, hyperlink or terminal query can act), C1 controls
    and bidirectional overrides as �. The one sanitiser of every CLI print of model or provider text."""
    return ("" if text is None else str(text)).replace("\r\n", "\n").translate(_TERMINAL)


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A CSV cell that no spreadsheet runs: text starting with = + - @ tab or CR gets a leading apostrophe
    (OWASP's advice), and a bare CR becomes a newline (pandas leaves a CR unquoted, so a spreadsheet would
    start a new row, and maybe a formula, there); numbers and everything else pass unchanged. The one CSV
    sanitiser."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n") if "\r" in value else value


def csv_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame with every text cell (and column name) passed through ``csv_cell``."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(csv_cell)
    out.columns = [csv_cell(c) for c in out.columns]
    return out


# with [ ] escaped no link or image can form; an underscore inside a word (GROK_API_KEY) is no emphasis
_MD_ACTIVE = re.compile(r"([\\`*{}\[\]|~$]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
_MD_LINE_START = re.compile(r"^(\s*)([#+=-]|\d+[.)])", re.MULTILINE)  # headings, lists, setext underlines


def markdown_text(text: object, *, table: bool = False) -> str:
    """Text from a model, a provider or a file shown literally in Markdown (report.md, notebooks): HTML tags
    inert (``<`` ``>`` ``&`` as entities), Markdown's active characters backslash-escaped (no link, image,
    heading, emphasis or math), control characters shown as symbols. ``table``: also one line (a table cell)."""
    text = terminal(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_ACTIVE.sub(r"\\\1", text)
    if table:
        return text.replace("\n", "<br>")
    return _MD_LINE_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\" + m.group(2)[-1] if m.group(2)[0].isdigit()
                                                      else "\\" + m.group(2)), text)


SHOWN_CHARS = 20_000  # a terminal shows this much of one answer; the whole answer is in the run log


def shown(text: str) -> str:
    """At most ``SHOWN_CHARS`` of an answer for a terminal (so printing stays fast for a huge answer)."""
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"\n… ({len(text) - SHOWN_CHARS:,} more characters: the whole answer is in the run log)"
