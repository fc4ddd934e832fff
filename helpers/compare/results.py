"""Results of a comparison, rebuilt from the run log: one DataFrame row per cell, per-model figures, tables.

The run log is the single source of truth: a live run, a resumed one and a replay all go through
``load(run_id)``, and grading is re-done from the stored text (graders are pure), so a replayed run shows
exactly what the live one did. Unknown cost or emissions stay NaN here and print as "n/a", never as 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from helpers import display
from helpers.compare import graders
from helpers.compare.config import Cell, CompareConfig, Outcome, load_config
from helpers.runlog import store as run_log

NUMERIC = ["prompt_tokens", "completion_tokens", "reasoning_tokens", "total_tokens", "latency_s", "ttft_s", "tpot_s",
           "cost_usd", "g_co2e", "kwh", "judge_cost_usd", "judge_g_co2e"]
COLUMNS = ["run_id", "model", "provider", "puzzle", "repeat", "status", "grader", "expected", "extracted",
           "correct", "note", "answer", "error_kind", "error", *NUMERIC, "cost_note", "co2e_method", "cached",
           "model_reported",
           "judge_verdict", "call_id", "created_at", "vote"]


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
               g_co2e=_na(a.g_co2e), co2e_method=a.emissions.headline_method,
               kwh=_na(energy_kwh(a)), cached=a.cached, model_reported=a.model_reported,
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
    rec.update(correct=grade.correct, extracted=grade.extracted, note=grade.note,
               vote=graders.answer_key(p, a.text, grade.extracted))  # the key the majority vote counts
    return rec


GROUP = ["model", "puzzle"]


def _group_total(ok: Any, by: list[str], column: str, judge_column: str | None = None) -> Any:
    """Per group of ``by``: the sum of ``column`` over answered cells (plus the judge's share on judged
    puzzles); NaN where any of them is unknown, so n/a never becomes 0. ``ok`` holds answered cells only."""
    keys = [ok[b] for b in by]
    values = ok[column]
    unknown = values.isna()
    if judge_column is not None:
        judged = ok.grader == "judge"
        values = values + ok[judge_column].where(judged, 0.0)
        unknown |= judged & ok[judge_column].isna()
    total = values.groupby(keys, sort=False).sum()
    return total.mask(unknown.groupby(keys, sort=False).any())


def summary_frame(cells: Any, models: list[str]) -> Any:
    """``Comparison.summary`` for a cells frame: one row per model, in ``models``' order."""
    import pandas as pd

    index = pd.Index(models, name="model")
    ok = cells[cells.status == "ok"]
    graded = ok.correct.notna()
    # per correct answer: what the puzzles with a graded answer took (all their answered repeats)
    scored = ok[graded.groupby([ok.model, ok.puzzle], sort=False).transform("any").astype(bool)]

    def count(mask: Any) -> Any:
        return mask.groupby(cells.model, sort=False).sum().reindex(index, fill_value=0).astype(int)

    def total(frame: Any, column: str, judge: str | None = None) -> Any:
        return _group_total(frame, ["model"], column, judge).reindex(index)

    n_cells = cells.groupby("model", sort=False).size().reindex(index, fill_value=0)
    answered = count(cells.status == "ok")
    n_graded = ok[graded].groupby("model", sort=False).size().reindex(index, fill_value=0)
    correct = ok.correct[graded].astype(bool).groupby(ok.model[graded], sort=False).sum()
    correct = correct.reindex(index, fill_value=0).astype(int)
    per_answer, per_correct = answered.where(answered > 0), correct.where(correct > 0)
    usd, grams = total(ok, "cost_usd", "judge_cost_usd"), total(ok, "g_co2e", "judge_g_co2e")
    kwh = total(ok, "kwh")  # the answers' energy (a judge's is not counted)
    latency = ok.groupby("model", sort=False).latency_s
    out = pd.DataFrame({
        "model": models, "cells": n_cells.to_numpy(), "answered": answered.to_numpy(),
        "errors": count(cells.status == "error").to_numpy(), "not_run": count(cells.status == "not run").to_numpy(),
        "graded": n_graded.to_numpy(), "correct": correct.to_numpy(),
        "accuracy": (correct / n_graded.where(n_graded > 0)).to_numpy(dtype=float),
        "tokens": total(ok, "total_tokens").to_numpy(dtype=float), "cost_usd": usd.to_numpy(dtype=float),
        "g_co2e": grams.to_numpy(dtype=float), "usd_per_answer": (usd / per_answer).to_numpy(dtype=float),
        "g_per_answer": (grams / per_answer).to_numpy(dtype=float), "kwh": kwh.to_numpy(dtype=float),
        "kwh_per_answer": (kwh / per_answer).to_numpy(dtype=float),
        "tokens_per_correct": (total(scored, "total_tokens") / per_correct).to_numpy(dtype=float),
        "usd_per_correct": (total(scored, "cost_usd", "judge_cost_usd") / per_correct).to_numpy(dtype=float),
        "g_per_correct": (total(scored, "g_co2e", "judge_g_co2e") / per_correct).to_numpy(dtype=float),
        "latency_median_s": latency.median().reindex(index).to_numpy(dtype=float),
        "latency_p90_s": latency.quantile(0.9).reindex(index).to_numpy(dtype=float),
        "ttft_median_s": ok.groupby("model", sort=False).ttft_s.median().reindex(index).to_numpy(dtype=float),
        "tpot_median_s": ok.groupby("model", sort=False).tpot_s.median().reindex(index).to_numpy(dtype=float),
        "co2e_method": [co2e_method(group) for group in (ok[ok.model == m] for m in models)]})
    return out


def majority_frame(cells: Any, config: CompareConfig) -> Any:
    """``Comparison.majority`` for a cells frame: one row per (model, puzzle) in the frame's order.

    The vote: each answered cell's ``graders.answer_key``; the most frequent key wins, a tie goes to the key
    answered first; its first cell gives the majority answer and its grade."""
    import numpy as np
    import pandas as pd

    puzzles = {p.id: p for p in config.puzzles.puzzles}
    groups = cells.groupby(GROUP, sort=False).size()
    index = groups.index
    ok = cells[cells.status == "ok"]
    stored = ok.vote if "vote" in ok else [None] * len(ok)  # computed while loading (see cell_record)
    keys = [k if isinstance(k, str) else graders.answer_key(puzzles[pid], text, None if _missing(x) else x)
            for k, pid, text, x in zip(stored, ok.puzzle, ok.answer, ok.extracted)]
    votes = pd.DataFrame({"model": ok.model.to_numpy(), "puzzle": ok.puzzle.to_numpy(), "key": keys,
                          "row": np.arange(len(ok))})
    votes = (votes.groupby([*GROUP, "key"], sort=False).row.agg(["size", "min"]).reset_index()
             .sort_values(["size", "min"], ascending=[False, True], kind="stable")
             .drop_duplicates(GROUP).set_index(GROUP).reindex(index))
    found = votes["min"].notna().to_numpy()
    rows = votes["min"].fillna(0).astype(int).to_numpy()
    first = ok.iloc[rows] if len(ok) else None
    majority, correct = [None] * len(index), [None] * len(index)
    if first is not None:
        for i, (f, x, key, c) in enumerate(zip(found, first.extracted, votes.key, first.correct)):
            if f:
                majority[i], correct[i] = (key if _missing(x) else x), c
    answered = ok.groupby(GROUP, sort=False).size().reindex(index, fill_value=0)
    per_answer = answered.where(answered > 0)  # NaN divides to NaN where nothing was answered
    stats = ok.groupby(GROUP, sort=False).agg(tokens_mean=("total_tokens", "mean"),
                                              latency_median_s=("latency_s", "median")).reindex(index)
    failed = cells[cells.status == "error"]
    kinds = failed.assign(kind=failed.error_kind.astype(str))[[*GROUP, "kind"]].drop_duplicates()
    errors = (kinds.sort_values("kind", kind="stable").groupby(GROUP, sort=False).kind.agg("; ".join)
              .reindex(index))
    return pd.DataFrame({
        "model": index.get_level_values(0), "puzzle": index.get_level_values(1),
        "repeats": groups.to_numpy(), "answered": answered.to_numpy(),
        "majority": majority, "agreement": (votes["size"] / per_answer).to_numpy(dtype=float),
        "correct": correct,
        "tokens_mean": stats.tokens_mean.to_numpy(dtype=float),
        "latency_median_s": stats.latency_median_s.to_numpy(dtype=float),
        "cost_usd": (_group_total(ok, GROUP, "cost_usd", "judge_cost_usd").reindex(index) / per_answer).to_numpy(float),
        "g_co2e": (_group_total(ok, GROUP, "g_co2e", "judge_g_co2e").reindex(index) / per_answer).to_numpy(float),
        "errors": [None if _missing(e) else e for e in errors]})


@dataclass
class Comparison:
    """A comparison's results: ``cells`` (a pandas DataFrame, one row per cell) and views of it."""

    run_id: str
    config: CompareConfig
    cells: Any  # pandas.DataFrame
    outcome: Outcome | None = None
    created_at: str | None = None
    _cache: dict[str, tuple[Any, Any]] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def stopped(self) -> str | None:
        return self.outcome.stopped if self.outcome else None

    def summary(self) -> Any:
        """Per model: accuracy, counts, tokens / $ / g CO2e in total and per correct answer, latency.

        Computed once per run with group-bys (a copy is returned, so changing it changes no later table)."""
        return self._memo("summary", lambda: self._with_intervals(summary_frame(self.cells, list(self.config.models)))
                          ).copy()

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
        """Every pair of models: the paired difference in accuracy on shared cells (``stats.Paired``).

        Computed once per cells frame (the table, the power line and the reports all read it)."""
        from helpers.compare import stats

        return list(self._memo("pairs", lambda: stats.pairs(self.cells, list(self.config.models))))

    def power_line(self) -> str:
        """How many puzzles it takes to tell a 10-point gap at this run's accuracy, and how many it has."""
        return str(self._memo("power_line", self._power_line))

    def _power_line(self) -> str:
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

    def _memo(self, name: str, compute: Any) -> Any:
        """``compute()`` once per ``cells`` frame (a new frame assigned to ``cells`` computes it again)."""
        held = self._cache.get(name)
        if held is None or held[0] is not self.cells:
            held = self._cache[name] = (self.cells, compute())
        return held[1]

    def majority(self) -> Any:
        """Per model and puzzle over repeats: the majority answer, the agreement rate, its grade, and per-answer
        figures (mean tokens, median latency, mean cost and g CO2e, the judge's share included).

        Computed once per run with group-bys (a copy is returned, so changing it changes no later table)."""
        return self._memo("majority", lambda: majority_frame(self.cells, self.config)).copy()

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
                "latency p50", "total cost", "total CO2e", "CO2e method"]
        summary = self.summary()
        streamed = bool(summary.ttft_median_s.notna().any())  # TTFT and TPOT exist for streamed answers only
        rows = [[s.model, "n/a" if _missing(s.accuracy) else f"{s.accuracy:.0%}", f"{s.correct}/{s.graded}",
                 str(s.errors + s.not_run) if s.not_run else str(s.errors), _fmt_num(s.tokens_per_correct),
                 display.fmt_cost(_v(s.usd_per_correct)), display.fmt_g(_v(s.g_per_correct)),
                 display.fmt_s(_v(s.latency_median_s)), display.fmt_cost(_v(s.cost_usd)), display.fmt_g(_v(s.g_co2e)),
                  s.co2e_method]
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
        return f"**run {display.escape(self.run_id)}**\n\n" + self.markdown()

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


def co2e_method(cells: Any) -> str:
    """The method(s) behind a group of cells' g CO2e, named (a model whose figures are recorded answers of
    another model says so), or 'n/a'."""
    if "co2e_method" not in cells:  # a frame built without it (by hand, or by an older version)
        return "n/a"
    methods = [display.HEADLINE_METHODS.get(m, str(m)) for m in dict.fromkeys(cells.co2e_method.dropna())]
    text = " + ".join(methods) or "n/a"
    providers = set(cells.provider.dropna()) if "provider" in cells else set()
    if methods and providers and all(_recorded(p) for p in providers):
        reported = cells.model_reported.dropna() if "model_reported" in cells else []
        imitated = ", ".join(dict.fromkeys(str(m) for m in reported)) or "the recorded model"
        text += f", as {imitated}"
    return text


def _recorded(provider: str) -> bool:
    from helpers import catalog
    from helpers.errors import LabError

    try:
        return catalog.provider(provider).offline
    except LabError:
        return False


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


def md_table(head: list[str], rows: list[list[str]], sink: str = "table") -> str:
    """A Markdown table, every cell escaped (``sink="file-table"`` for a Markdown file, "table" for a notebook)."""
    esc = lambda c: display.escape(str(c).replace("\n", " "), sink)  # type: ignore[arg-type]
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
