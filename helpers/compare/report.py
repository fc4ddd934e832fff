"""`--report DIR`: a comparison as a folder: report.md and report.html (one self-contained page), PNG
charts, cells.csv (one row per cell, errors included), summary.csv (one row per model, accuracy with its
95 % interval) and pairs.csv (paired differences between models). Unknown figures are written as "n/a".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import display
from helpers.compare import charts, report_html, stats
from helpers.compare.results import NUMERIC, Comparison, excerpt, md_table
from helpers.display import csv_frame
from helpers.errors import ConfigError

CELL_COLUMNS = ["model", "puzzle", "repeat", "status", "correct", "extracted", "expected", "grader", "note",
                "prompt_tokens", "completion_tokens", "reasoning_tokens", "total_tokens", "latency_s", "ttft_s",
                "tpot_s", "cost_usd", "g_co2e", "co2e_method", "judge_cost_usd", "judge_g_co2e", "cached", "error_kind",
                "error", "answer", "cost_note", "model_reported", "call_id", "created_at", "run_id"]

NUMBERS = NUMERIC
FILE = "file-table"  # cells of a Markdown file (display.escape)


def _errors(comparison: Comparison) -> str:
    failed = comparison.cells[comparison.cells.status == "error"]
    if failed.empty:
        return "No call failed."
    rows = [[r.model, r.puzzle, str(r.repeat), str(r.error_kind), excerpt(r.error, 160)] for r in failed.itertuples()]
    return md_table(["model", "puzzle", "repeat", "kind", "error"], rows, FILE)


def markdown(comparison: Comparison, chart_files: dict[str, Path] | None = None) -> str:
    """The report's Markdown text (charts linked by file name when given)."""
    c = comparison.config
    md = display.markdown_text  # names, sources and messages may come from an imported file or a provider
    params = ", ".join(f"{k}={v}" for k, v in c.params.items()) or "provider defaults"
    lines = [f"# Comparison {md(comparison.run_id)}", "",
             f"- created: {md(comparison.created_at or 'n/a')}",
             f"- puzzles: {len(c.puzzles.puzzles)} from {md(c.puzzles.source)}",
             f"- models: {', '.join(md(m) for m in c.models)}",
             f"- repeats: {c.repeat} · parameters: {md(params)}" + (f" · judge: {md(c.judge)}" if c.judge else ""),
             f"- replay offline: `python -m helpers compare --replay {comparison.run_id}`", ""]
    if comparison.stopped:
        lines += [f"> **Stopped early:** {md(comparison.stopped)}", ""]
    head, rows = comparison.summary_rows()
    lines += ["## Per model", "", md_table(head, rows, FILE), "",
              ("Accuracy counts graded answers only (errors and ungraded puzzles are left out). "
              "\"n/a\" means unknown (no price or emission estimate for the model, or no correct answer to "
              "divide by); it is never a zero."), "",
              "## How sure?", "", comparison.uncertainty_text(markdown=True), "",
              ("Each accuracy comes from a sample of puzzles, so it carries an interval: the range of true accuracies "
               "these answers leave plausible (95 %). A − B compares two models on the same puzzles; when its "
               "interval includes 0, the data cannot say which is more accurate."), ""]
    for name, path in (chart_files or {}).items():
        lines += [f"![{md(charts.CHARTS.get(name, name))}]({path.name})", ""]
    head, rows = comparison.side_by_side_rows()
    lines += ["## Answers side by side", "", md_table(head, rows, FILE), "", "## Errors", "", _errors(comparison), "",
              "Every cell, with the full answer text, is in `cells.csv` and in `report.html`.", ""]
    return "\n".join(lines)


def check_folder(folder: str | Path) -> Path:
    """The report folder as a Path; ConfigError naming the fix when it is an existing file."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"the report folder {folder} is a file",
                          hint="Give --report a folder path (it is created), e.g. --report runs/my-report.")
    return folder


def write(comparison: Comparison, folder: str | Path) -> Path:
    """Write the report folder; returns the path of report.md. ConfigError naming the fix if it cannot."""
    folder = check_folder(folder)
    try:
        return _write(comparison, folder)
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {folder}: {exc}",
                          hint="Give --report a folder you can write to. The answers are in the run log: "
                               "`compare --replay RUN_ID --report DIR` writes the report again.") from exc


def _write(comparison: Comparison, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cells = comparison.cells.reindex(columns=CELL_COLUMNS)
    text = [c for c in CELL_COLUMNS if c not in NUMBERS]
    cells[text] = cells[text].astype(object).where(cells[text].notna(), "")  # n/a is for unknown numbers only
    csv_frame(cells).to_csv(folder / "cells.csv", index=False, na_rep="n/a")  # no cell a spreadsheet runs
    csv_frame(comparison.summary()).to_csv(folder / "summary.csv", index=False, na_rep="n/a")
    csv_frame(stats.pairs_frame(comparison.pairs())).to_csv(folder / "pairs.csv", index=False, na_rep="n/a")
    files = charts.save_all(comparison, folder)
    path = folder / "report.md"
    path.write_text(markdown(comparison, files), encoding="utf-8")
    report_html.write(comparison, folder, files)
    return path


def csv_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a report's cells.csv as dicts (for checks and notebooks)."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
