"""Plain-text and Markdown renderings of answers, for terminals and notebooks.

``escape`` is the one place where text becomes safe for a sink that reads characters as markup: Markdown
shown in JupyterLab (where two `$` make a math span), a Markdown file, or a matplotlib label (where two `$`
make mathtext, and an unbalanced one raises). Every Markdown and chart label the helpers produce passes
what it did not write itself (model text, names, figures with `$`) through it.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # only for annotations: answer.py renders itself through this module
    from helpers.answer import Answer

Sink = Literal["notebook", "markdown", "table", "file-table", "prose", "chart"]
# Characters that Markdown acts on anywhere in a line; a backslash escapes them (CommonMark).
_INLINE_ACTIVE = set("\\`*_[]|~")
_LINE_START = re.compile(r"^(\s*)([#+=-]|\d+[.)])", re.MULTILINE)  # headings, lists, setext underlines
WORD_JOINER = "\u2060"  # invisible: keeps MathJax from reading \\begin{…} / \\end{…} in a page as LaTeX
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: object, sink: Sink = "notebook") -> str:
    """``text`` shown literally in ``sink``; the one escaping function of LLM Lab.

    - ``notebook``: Markdown that JupyterLab renders: Markdown's active characters are backslash-escaped,
      HTML is neutralised, and ``$`` becomes ``\\\\$`` so that the page holds ``\\$``, which JupyterLab's
      MathJax (processEscapes) shows as a dollar sign and never as the start of math; LaTeX delimiters
      (``\\(``, ``\\[``, ``\\begin{``) are shown as written.
    - ``markdown``: a Markdown file (GitHub, VS Code, JupyterLab's preview of a file): the same, with ``\\$``.
    - ``table`` / ``file-table``: the same inside a Markdown table cell (line breaks become ``<br>``).
    - ``prose``: Markdown of our own (formatting kept) that carries figures or names: only what starts math
      is escaped, as for ``notebook``.
    - ``chart``: a matplotlib label: ``$`` becomes ``\\$`` (no mathtext, no crash on an odd count).
    """
    text = "" if text is None else str(text)
    if sink == "chart":
        return text.replace("$", r"\$")
    if sink != "prose":
        text = terminal(text)  # control characters and bidi overrides shown as symbols, as in a terminal
    dollar = "\\$" if sink in ("markdown", "file-table") else "\\\\$"
    text = text.replace("\\begin{", "\\" + WORD_JOINER + "begin{").replace("\\end{", "\\" + WORD_JOINER + "end{")
    if sink == "prose":
        for delimiter in ("\\(", "\\)", "\\[", "\\]"):  # \( → \\\( : a shown backslash, then an escaped bracket
            text = text.replace(delimiter, "\\\\\\" + delimiter[1])
        return text.replace("$", dollar)
    out = []
    after_backslash = False
    for i, ch in enumerate(text):
        if ch == "$":
            out.append(dollar)
        elif ch in _HTML:
            out.append(_HTML[ch])
        elif ch == "_" and text[i - 1:i].isalnum() and text[i + 1:i + 2].isalnum():
            out.append(ch)  # inside a word (GROK_API_KEY) an underscore is no emphasis
        elif (ch == ":" and text[i + 1:i + 3] == "//") or (ch == "." and text[i - 3:i].lower() == "www"):
            out.append("\\" + ch)  # no autolink: inside one, escapes would show as backslashes
        elif ch in _INLINE_ACTIVE or (after_backslash and ch in "()"):
            # a second backslash in a row: a word joiner between, or the page shows one backslash for two
            out.append((WORD_JOINER if ch == "\\" and after_backslash else "") + "\\" + ch)
        elif ch == "\n" and sink in ("table", "file-table"):
            out.append("<br>")
        else:
            out.append(ch)
        after_backslash = ch == "\\"
    if sink in ("table", "file-table"):
        return "".join(out)
    return _LINE_START.sub(_line_start, "".join(out))


def _line_start(m: re.Match[str]) -> str:
    mark = m.group(2)
    return m.group(1) + (mark[:-1] + "\\" + mark[-1] if mark[0].isdigit() else "\\" + mark)


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


def fmt_g_range(low: float | None, high: float | None) -> str:
    """A min–max range of grams CO2e in one unit ("12.7–15.3 mg"), or 'n/a'."""
    if low is None or high is None:
        return "n/a"
    if high < 0.1:
        return f"{low * 1000:.3g}–{high * 1000:.3g} mg"
    return f"{low:.3g}–{high:.3g} g"


def imitated(answer: Answer) -> str | None:
    """The model a recorded (stub) answer imitates, whose figures it carries; None for a real model."""
    from helpers import catalog
    from helpers.errors import LabError

    try:
        recorded = catalog.provider(answer.provider).offline
    except LabError:
        return None
    return (answer.model_reported or answer.model) if recorded else None


HEADLINE_METHODS = {"measured": "CodeCarbon measurement", "EcoLogits": "EcoLogits midpoint",
                    "tracker": "tracker factor"}  # the one figure a total sums per answer (Emissions.headline_g)


def co2e_parts(answer: Answer) -> list[tuple[str, str]]:
    """Every emission figure of an answer, each with its method: [(method, figure)], [] when none."""
    e = answer.emissions
    parts = []
    if e.measured_g is not None:
        measured = answer.extra.get("measured") or {}
        how = "sensor" if measured.get("sensor") else ("no power sensor: estimated power" if measured else "")
        parts.append(("measured", f"{fmt_g(e.measured_g)} (CodeCarbon{', ' + how if how else ''})"))
    if e.tracker_g is not None:
        parts.append(("tracker", fmt_g(e.tracker_g)))
    if e.ecologits_g is not None:
        parts.append(("EcoLogits", fmt_g_range(e.ecologits_g.min, e.ecologits_g.max)))
    return parts


def co2e_text(answer: Answer) -> str:
    """The emission figures on one line, each named ("tracker 0.369 g, EcoLogits 12.7–15.3 mg"), or 'n/a'."""
    parts = co2e_parts(answer)
    if not parts:
        return "n/a"
    text = ", ".join(f"{method} {figure}" for method, figure in parts)
    model = imitated(answer)
    return text + (f" (estimates for {model}, which this recorded answer imitates)" if model else "")


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
    parts = [f"{'n/a' if u.prompt_tokens is None else u.prompt_tokens} in",
             f"{'n/a' if u.completion_tokens is None else u.completion_tokens} out"]  # unknown is n/a, never 0
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
    bits.append(f"CO2e {co2e_text(answer)}")
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


def md_text(text: str) -> str:
    """Hostile text as Markdown paragraphs in a notebook: escaped, its line breaks kept."""
    return escape(text.strip()).replace("\n", "  \n")


def answer_markdown(answer: Answer) -> str:
    """A notebook rendering of one answer (everything it did not write itself escaped)."""
    head = f"**{escape(answer.spec)}**{escape(tags(answer))}"
    if not answer.ok and not answer.text:
        return f"{head}\n\n> ⚠ {md_text(answer.error or '')}"
    reasoning = ""
    if answer.reasoning:
        reasoning = f"<details><summary>reasoning</summary>\n\n{md_text(answer.reasoning)}\n\n</details>\n\n"
    warn = f"\n\n> ⚠ {md_text(answer.error or '')}" if not answer.ok else ""
    return f"{head}\n\n{reasoning}{md_text(answer.text)}{warn}\n\n<small>{escape(stats_line(answer))}</small>"


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
                     + [f"cost     {cost_text(a)}"] + _co2e_lines(a))
            for line in stats:  # a long reason (cost n/a because …) wraps instead of being cut
                lines.extend(textwrap.wrap(line, col, subsequent_indent=" " * 9) or [""])
        columns.append([line[:col] for line in lines])
    height = max(len(c) for c in columns)
    rows = []
    for i in range(height):
        rows.append(" │ ".join((c[i] if i < len(c) else "").ljust(col) for c in columns).rstrip())
    return "\n".join(rows)


def _co2e_lines(answer: Answer) -> list[str]:
    """The emission figures for a terminal column: one named method per line."""
    parts = co2e_parts(answer)
    if not parts:
        return ["CO2e     n/a"]
    lines = [f"{'CO2e' if i == 0 else '':<9}{method} {figure}" for i, (method, figure) in enumerate(parts)]
    model = imitated(answer)
    return lines + ([f"{'':<9}(estimates for {model}, which this recorded answer imitates)"] if model else [])


def markdown_table(answers: Sequence[Answer]) -> str:
    """Answers as one Markdown table (notebooks); every cell escaped."""
    head = "| model | answer | tokens | latency | cost | CO2e |\n|---|---|---|---|---|---|"
    rows = []
    for a in answers:
        cells = [a.spec + tags(a), a.text.strip() or f"⚠ {a.error}", fmt_tokens(a), fmt_s(a.latency_s),
                 cost_text(a), co2e_text(a)]
        rows.append("| " + " | ".join(escape(c, "table") for c in cells) + " |")
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
def markdown_text(text: object, *, table: bool = False) -> str:
    """Text from a model, a provider or a file shown literally in a Markdown file (report.md): ``escape`` for a
    Markdown file (``table``: inside a table cell, on one line)."""
    return escape(text, "file-table" if table else "markdown")


SHOWN_CHARS = 20_000  # a terminal shows this much of one answer; the whole answer is in the run log


def shown(text: str) -> str:
    """At most ``SHOWN_CHARS`` of an answer for a terminal (so printing stays fast for a huge answer)."""
    if len(text) <= SHOWN_CHARS:
        return text
    return text[:SHOWN_CHARS] + f"\n… ({len(text) - SHOWN_CHARS:,} more characters: the whole answer is in the run log)"
