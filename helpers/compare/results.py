"""Results of a comparison, rebuilt from the run log: one DataFrame row per cell, per-model figures, tables.

The run log is the single source of truth: a live run, a resumed one and a replay all go through
``load(run_id)``, and grading is re-done from the stored text (graders are pure), so a replayed run shows
exactly what the live one did. Unknown cost or emissions stay NaN here and print as "n/a", never as 0.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from helpers import display
from helpers.compare import graders
from helpers.compare.config import Cell, CompareConfig, Outcome, load_config
from helpers.runlog import store as run_log

NUMERIC = ["prompt_tokens", "completion_tokens", "reasoning_tokens", "total_tokens", "latency_s", "ttft_s", "tpot_s",
           "cost_usd", "g_co2e", "kwh", "judge_cost_usd", "judge_g_co2e"]
COLUMNS = ["run_id", "model", "provider", "puzzle", "repeat", "status", "grader", "expected", "extracted",
           "correct", "note", "answer", "error_kind", "error", *NUMERIC, "cost_note", "cached", "model_reported",
           "judge_verdict", "call_id", "created_at"]


def _best_rows(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per cell: its successful row if any, else its latest error row."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        key, prev = row.get("cell"), out.get(row.get("cell") or "")
        if key is None or (prev is not None and prev["error"] is None):
            continue
        out[key] = row
    return out


def energy_kwh(answer: Any) -> float | None:
    """An answer's energy in kWh: measured (CodeCarbon), else the EcoLogits midpoint, else None."""
    e = answer.emissions
    if e.measured_kwh is not None:
        return e.measured_kwh
    return e.ecologits_kwh.mid if e.ecologits_kwh is not None else None


def _na(value: Any) -> float:
    return math.nan if value is None else float(value)


def cell_record(run_id: str, cell: Cell, row: dict[str, Any] | None, judge_row: dict[str, Any] | None) -> dict:
    """One DataFrame row: the cell, its answer (or error, or 'not run'), its grade and its figures."""
    p = cell.puzzle
    rec: dict[str, Any] = {"run_id": run_id, "model": cell.spec, "provider": cell.provider, "puzzle": p.id,
                           "repeat": cell.repeat, "grader": p.grader, "expected": p.answer, "status": "not run",
                           "correct": None, "cached": False, **{k: math.nan for k in NUMERIC}}
    if row is None:
        return rec
    a = run_log.answer_from_row(row)
    u = a.usage
    rec.update(status="ok" if a.ok else "error", answer=a.text, error=a.error, error_kind=a.error_kind,
               prompt_tokens=_na(u.prompt_tokens), completion_tokens=_na(u.completion_tokens),
               reasoning_tokens=_na(u.reasoning_tokens), total_tokens=_na(u.total_tokens),
               latency_s=_na(a.latency_s), ttft_s=_na(a.ttft_s),
               tpot_s=_na(a.tpot_s), cost_usd=_na(a.cost_usd), cost_note=a.cost_note,
               g_co2e=_na(a.g_co2e), kwh=_na(energy_kwh(a)), cached=a.cached, model_reported=a.model_reported,
               call_id=a.call_id, created_at=row.get("created_at"))
    if not a.ok:
        return rec
    grade = graders.grade(p, a.text)
    if p.grader == "judge":
        j = run_log.answer_from_row(judge_row) if judge_row else None
        grade = graders.judged(grade, j.text if j else None, (j.error if j else "no verdict yet"))
        if j is not None:
            rec.update(judge_verdict=j.text[-200:] if j.ok else None, judge_cost_usd=_na(j.cost_usd),
                       judge_g_co2e=_na(j.g_co2e))
    rec.update(correct=grade.correct, extracted=grade.extracted, note=grade.note)
    return rec


@dataclass
class Comparison:
    """A comparison's results: ``cells`` (a pandas DataFrame, one row per cell) and views of it."""

    run_id: str
    config: CompareConfig
    cells: Any  # pandas.DataFrame
    outcome: Outcome | None = None
    created_at: str | None = None

    @property
    def stopped(self) -> str | None:
        return self.outcome.stopped if self.outcome else None

    def _total(self, d: Any, column: str, judge_column: str | None = None) -> float:
        """Sum over answered cells; NaN if any of them is unknown (so n/a never becomes 0)."""
        ok = d[d.status == "ok"]
        if ok.empty or ok[column].isna().any():
            return math.nan
        total = float(ok[column].sum())
        if judge_column is not None:
            judged = ok[ok.grader == "judge"]
            if judged[judge_column].isna().any():
                return math.nan
            total += float(judged[judge_column].sum())
        return total

    def summary(self) -> Any:
        """Per model: accuracy, counts, tokens / $ / g CO2e in total and per correct answer, latency."""
        import pandas as pd

        out = []
        for model in self.config.models:
            d = self.cells[self.cells.model == model]
            ok = d[d.status == "ok"]
            graded = ok[ok.correct.notna()]
            correct = int(graded.correct.astype(bool).sum())
            tokens, usd = self._total(d, "total_tokens"), self._total(d, "cost_usd", "judge_cost_usd")
            grams = self._total(d, "g_co2e", "judge_g_co2e")
            kwh = self._total(d, "kwh")  # the answers' energy (a judge's is not counted)
            scored = ok[ok.puzzle.isin(graded.puzzle)]  # per correct answer: what the graded puzzles took

            def per(column: str, judge: str | None = None, correct: int = correct, scored: Any = scored) -> float:
                return self._total(scored, column, judge) / correct if correct else math.nan

            out.append({"model": model, "cells": len(d), "answered": len(ok), "errors": int((d.status == "error").sum()),
                        "not_run": int((d.status == "not run").sum()), "graded": len(graded), "correct": correct,
                        "accuracy": correct / len(graded) if len(graded) else math.nan,
                        "tokens": tokens, "cost_usd": usd, "g_co2e": grams,
                        "usd_per_answer": usd / len(ok) if len(ok) else math.nan,
                        "g_per_answer": grams / len(ok) if len(ok) else math.nan,
                        "kwh": kwh, "kwh_per_answer": kwh / len(ok) if len(ok) else math.nan,
                        "tokens_per_correct": per("total_tokens"),
                        "usd_per_correct": per("cost_usd", "judge_cost_usd"),
                        "g_per_correct": per("g_co2e", "judge_g_co2e"),
                        "latency_median_s": float(ok.latency_s.median()) if len(ok) else math.nan,
                        "latency_p90_s": float(ok.latency_s.quantile(0.9)) if len(ok) else math.nan,
                        "ttft_median_s": float(ok.ttft_s.median()) if ok.ttft_s.notna().any() else math.nan,
                        "tpot_median_s": float(ok.tpot_s.median()) if ok.tpot_s.notna().any() else math.nan})
        return self._with_intervals(pd.DataFrame(out))

    # -- uncertainty (helpers.compare.stats) ------------------------------------------------------------
    def _with_intervals(self, summary: Any) -> Any:
        """The summary plus accuracy_se / _low / _high / _method and puzzles (distinct graded puzzles);
        with repeats, the majority answer's accuracy (self-consistency) and its interval too."""
        from helpers.compare import stats

        out = summary.merge(stats.intervals(self.cells, list(self.config.models)), on="model", how="left")
        if self.config.repeat > 1:
            major = self.majority()
            votes = [stats.majority_accuracy(self, m, major=major) for m in out.model]
            out["majority_accuracy"] = [e.value for e in votes]
            out["majority_low"] = [e.low for e in votes]
            out["majority_high"] = [e.high for e in votes]
        return out

    def pairs(self) -> list[Any]:
        """Every pair of models: the paired difference in accuracy on shared cells (``stats.Paired``)."""
        from helpers.compare import stats

        return stats.pairs(self.cells, list(self.config.models))

    def power_line(self) -> str:
        """How many puzzles it takes to tell a 10-point gap at this run's accuracy, and how many it has."""
        from helpers.compare import stats

        d = stats.graded(self.cells)
        mean = float(d.correct.astype(bool).mean()) if len(d) else math.nan
        variance = stats.difference_variance(self.pairs(), self.cells)
        return stats.power_line(mean, int(d.puzzle.nunique()), diff_variance=variance)

    def interval_rows(self) -> tuple[list[str], list[list[str]]]:
        """Per model: accuracy, its 95 % interval and standard error, graded cells and puzzles, the method;
        with repeats, the majority answer's accuracy and interval (self-consistency)."""
        head = ["model", "accuracy", "95% interval", "SE", "graded", "puzzles", "method"]
        repeats = self.config.repeat > 1
        if repeats:
            head += [f"majority of {self.config.repeat}", "its 95% interval"]
        rows = []
        for s in self.summary().itertuples():
            row = [s.model, _pct(s.accuracy), _interval(s.accuracy_low, s.accuracy_high),
                   "n/a" if _missing(s.accuracy_se) else f"{s.accuracy_se * 100:.1f} pts", str(s.graded),
                   str(s.puzzles), str(s.accuracy_method)]
            if repeats:
                row += [_pct(s.majority_accuracy), _interval(s.majority_low, s.majority_high)]
            rows.append(row)
        return head, rows

    def uncertainty_text(self, markdown: bool = False) -> str:
        """How sure: per-model intervals, the paired differences (two models or more), the power line."""
        from helpers.compare import stats

        render = md_table if markdown else text_table
        parts = [render(*self.interval_rows()), ""]
        items = self.pairs() + stats.self_consistency(self)
        if items:
            head, rows = stats.pair_rows(items)
            parts += [render(head, rows), ""]
        parts.append(self.power_line())
        return "\n".join(parts)

    def majority(self) -> Any:
        """Per model and puzzle over repeats: the majority answer, the agreement rate, its grade, and per-answer
        figures (mean tokens, median latency, mean cost and g CO2e, the judge's share included)."""
        import pandas as pd

        puzzles = {p.id: p for p in self.config.puzzles.puzzles}
        out = []
        for (model, pid), d in self.cells.groupby(["model", "puzzle"], sort=False):
            ok = d[d.status == "ok"]
            keys = [graders.answer_key(puzzles[pid], r.answer, None if _missing(r.extracted) else r.extracted)
                    for r in ok.itertuples()]
            top, n = Counter(keys).most_common(1)[0] if keys else ("", 0)
            first = ok.iloc[keys.index(top)] if keys else None
            out.append({"model": model, "puzzle": pid, "repeats": len(d), "answered": len(ok),
                        "majority": None if first is None else (first.extracted if not _missing(first.extracted)
                                                                else top),
                        "agreement": n / len(ok) if len(ok) else math.nan,
                        "correct": None if first is None else first.correct,
                        "tokens_mean": float(ok.total_tokens.mean()) if len(ok) else math.nan,
                        "latency_median_s": float(ok.latency_s.median()) if len(ok) else math.nan,
                        "cost_usd": self._total(d, "cost_usd", "judge_cost_usd") / len(ok) if len(ok) else math.nan,
                        "g_co2e": self._total(d, "g_co2e", "judge_g_co2e") / len(ok) if len(ok) else math.nan,
                        "errors": "; ".join(sorted({str(k) for k in d[d.status == "error"].error_kind})) or None})
        return pd.DataFrame(out)

    # -- renderings ---------------------------------------------------------------------------------
    def side_by_side_rows(self) -> tuple[list[str], list[list[str]]]:
        """Rows per puzzle and model: answer excerpt, ✓/✗, tokens, latency, cost, g CO2e (+ agreement).

        With repeats: the majority answer and its grade, mean tokens, median latency, mean cost and CO2e.
        """
        head = ["puzzle", "model", "answer", "✓", "tokens", "latency", "cost", "CO2e"]
        repeats = self.config.repeat > 1
        if repeats:
            head.insert(4, "agree")
        rows = []
        for r in self.majority().itertuples():
            answer = "not run" if r.answered == 0 and not r.errors else (
                f"⚠ {r.errors}" if r.answered == 0 else excerpt(r.majority))
            mark = "–" if _missing(r.correct) else ("✓" if r.correct else "✗")
            row = [r.puzzle, r.model, answer, mark, _fmt_num(r.tokens_mean), display.fmt_s(_v(r.latency_median_s)),
                   display.fmt_cost(_v(r.cost_usd)), display.fmt_g(_v(r.g_co2e))]
            if repeats:
                row.insert(4, "n/a" if _missing(r.agreement) else f"{r.agreement:.0%}")
            rows.append(row)
        return head, rows

    def summary_rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["model", "accuracy", "correct", "errors", "tokens/correct", "$/correct", "CO2e/correct",
                "latency p50", "total cost", "total CO2e"]
        summary = self.summary()
        streamed = bool(summary.ttft_median_s.notna().any())  # TTFT and TPOT exist for streamed answers only
        rows = [[s.model, "n/a" if _missing(s.accuracy) else f"{s.accuracy:.0%}", f"{s.correct}/{s.graded}",
                 str(s.errors + s.not_run) if s.not_run else str(s.errors), _fmt_num(s.tokens_per_correct),
                 display.fmt_cost(_v(s.usd_per_correct)), display.fmt_g(_v(s.g_per_correct)),
                 display.fmt_s(_v(s.latency_median_s)), display.fmt_cost(_v(s.cost_usd)), display.fmt_g(_v(s.g_co2e))]
                + ([display.fmt_s(_v(s.ttft_median_s)), display.fmt_ms(_v(s.tpot_median_s))] if streamed else [])
                for s in summary.itertuples()]
        return head + (["TTFT p50", "TPOT p50"] if streamed else []), rows

    def table(self) -> str:
        """The side-by-side table and the per-model summary, as plain text for a terminal."""
        parts = [text_table(*self.side_by_side_rows()), "", text_table(*self.summary_rows()), "",
                 self.uncertainty_text()]
        if self.stopped:
            parts += ["", f"stopped early: {self.stopped}"]
        return "\n".join(parts)

    def markdown(self) -> str:
        return (md_table(*self.side_by_side_rows()) + "\n\n" + md_table(*self.summary_rows()) + "\n\n"
                + self.uncertainty_text(markdown=True))

    def _repr_markdown_(self) -> str:
        return f"**run {self.run_id}**\n\n" + self.markdown()

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        c = self.config
        return (f"<Comparison {self.run_id}: {len(c.models)} models × {len(c.puzzles.puzzles)} puzzles × "
                f"{c.repeat} repeats{', stopped early' if self.stopped else ''}>")


def _pct(value: Any) -> str:
    return "n/a" if _missing(value) else f"{float(value):.0%}"


def _interval(low: Any, high: Any) -> str:
    """A 95 % interval as text ('n/a' when unknown)."""
    return "n/a" if _missing(low) or _missing(high) else f"{float(low):.0%}–{float(high):.0%}"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("<NA>", "nan")


def _v(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _fmt_num(value: Any) -> str:
    return "n/a" if _missing(value) else f"{float(value):,.0f}"


def excerpt(text: Any, width: int = 40) -> str:
    """One line of at most ``width`` characters; control characters (a terminal's escape codes) shown as �."""
    text = "" if _missing(text) else " ".join(str(text).split())
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    return text if len(text) <= width else text[:width - 1] + "…"


def text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()
    return "\n".join([line(head), line(["─" * w for w in widths]), *map(line, rows)])


def md_table(head: list[str], rows: list[list[str]]) -> str:
    esc = lambda c: str(c).replace("|", "\\|").replace("\n", " ")
    return "\n".join(["| " + " | ".join(map(esc, head)) + " |", "|" + "---|" * len(head),
                      *("| " + " | ".join(map(esc, r)) + " |" for r in rows)])


def load(run_id: str, store: run_log.Store | None = None, outcome: Outcome | None = None) -> Comparison:
    """A stored comparison's results (no call is made): the grid of its config, filled from the run log."""
    import pandas as pd

    store = store or run_log.default()
    config = load_config(run_id, store)
    best = _best_rows(store.calls(run_id))
    records = [cell_record(run_id, c, best.get(c.key), best.get(c.judge_key)) for c in config.cells()]
    frame = pd.DataFrame(records).reindex(columns=COLUMNS)
    frame[NUMERIC] = frame[NUMERIC].astype(float)
    frame["correct"] = frame["correct"].astype("boolean")
    frame = frame.sort_values(["puzzle", "model", "repeat"], key=_grid_order(config), kind="stable")
    run = store.run(run_id) or {}
    return Comparison(run_id, config, frame.reset_index(drop=True), outcome, run.get("created_at"))


def _grid_order(config: CompareConfig) -> Any:
    order = {"puzzle": [p.id for p in config.puzzles.puzzles], "model": config.models}

    def key(series: Any) -> Any:
        names = order.get(series.name)
        return series.map({n: i for i, n in enumerate(names)}) if names else series

    return key
