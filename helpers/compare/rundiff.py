"""Run against run: line up the same cells (puzzle, repeat) of two comparison runs and show what flipped.

    from helpers.compare import results, rundiff
    print(rundiff.diff(results.load(OLD), results.load(NEW)).text())

Models are matched by name; when the two runs name different models (a model upgrade), the ones left
over are paired in order when both runs have the same number of them. Puzzles are matched by id; a
puzzle whose prompt or system prompt changed is still lined up and is named as changed. Per model the
paired difference (new − baseline, ``helpers.compare.stats``) says whether the change can be told from
noise; the flips (✓→✗ regressions, ✗→✓ fixes) say where it happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpers.compare import stats
from helpers.compare.results import excerpt, md_table, text_table

SHOW = 15  # flips listed per direction and model


@dataclass(frozen=True)
class Flip:
    puzzle: str
    repeat: int
    before: str
    after: str


@dataclass
class ModelDiff:
    """One model of the baseline against its counterpart in the new run."""

    baseline: str
    new: str
    paired: stats.Paired  # new − baseline
    regressions: list[Flip] = field(default_factory=list)  # ✓ → ✗
    fixes: list[Flip] = field(default_factory=list)  # ✗ → ✓
    same_right: int = 0
    same_wrong: int = 0

    @property
    def label(self) -> str:
        return self.new if self.new == self.baseline else f"{self.baseline} → {self.new}"


@dataclass
class RunDiff:
    baseline_id: str
    new_id: str
    models: list[ModelDiff]
    changed_puzzles: list[str]
    only_baseline: list[str]  # puzzles or models the other run lacks
    only_new: list[str]

    def rows(self) -> tuple[list[str], list[list[str]]]:
        head = ["model", "shared cells", "✓→✗", "✗→✓", "same ✓", "same ✗", "new − baseline", "95% interval",
                "verdict"]
        rows = []
        for m in self.models:
            e = m.paired.estimate
            verdict = ("cannot tell apart" if not e.excludes_zero else
                       "new run better" if e.value > 0 else "new run worse")
            rows.append([m.label, str(e.n), str(len(m.regressions)), str(len(m.fixes)), str(m.same_right),
                         str(m.same_wrong), "n/a" if not e.known else f"{stats._pts(e.value)} pts",
                         e.interval(signed=True), verdict])
        return head, rows

    def _lines(self) -> list[str]:
        out = []
        if self.changed_puzzles:
            out.append(f"puzzles whose prompt or system prompt changed: {len(self.changed_puzzles)} "
                       f"({', '.join(self.changed_puzzles[:8])}{' …' if len(self.changed_puzzles) > 8 else ''})")
        if self.only_baseline:
            out.append(f"only in the baseline (left out): {', '.join(self.only_baseline[:8])}"
                       f"{' …' if len(self.only_baseline) > 8 else ''}")
        if self.only_new:
            out.append(f"only in the new run (left out): {', '.join(self.only_new[:8])}"
                       f"{' …' if len(self.only_new) > 8 else ''}")
        for m in self.models:
            for mark, flips in (("✓→✗", m.regressions), ("✗→✓", m.fixes)):
                for f in flips[:SHOW]:
                    out.append(f"{mark} {m.new} · {f.puzzle}#{f.repeat}: {excerpt(f.before, 30)!r} → "
                               f"{excerpt(f.after, 30)!r}")
                if len(flips) > SHOW:
                    out.append(f"{mark} {m.new}: … and {len(flips) - SHOW} more")
        return out

    def text(self) -> str:
        head = f"run {self.new_id} against baseline {self.baseline_id} (same puzzle and repeat, cell by cell)"
        return "\n".join([head, "", text_table(*self.rows()), "", *self._lines()]).rstrip()

    def markdown(self) -> str:
        head = f"**Run {self.new_id} against baseline {self.baseline_id}** (same puzzle and repeat, cell by cell)"
        lines = [f"- {line}" for line in self._lines()]
        return "\n".join([head, "", md_table(*self.rows()), "", *lines]).rstrip()

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __str__(self) -> str:
        return self.text()


def match_models(baseline: list[str], new: list[str]) -> list[tuple[str, str]]:
    """Same names first; then the leftovers in order when both runs have as many of them."""
    pairs = [(m, m) for m in baseline if m in new]
    left_b = [m for m in baseline if m not in new]
    left_n = [m for m in new if m not in baseline]
    if left_b and len(left_b) == len(left_n):
        pairs += list(zip(left_b, left_n))
    return pairs


def _shown(row: Any) -> str:
    if row.extracted is not None and str(row.extracted) not in ("nan", "<NA>", ""):
        return str(row.extracted)
    return str(row.answer or "")


def diff(baseline: Any, new: Any) -> RunDiff:
    """Two comparisons (``helpers.compare.results.Comparison``), cell by cell."""
    pairs = match_models(list(baseline.config.models), list(new.config.models))
    old_p = {p.id: p for p in baseline.config.puzzles.puzzles}
    new_p = {p.id: p for p in new.config.puzzles.puzzles}
    changed = [pid for pid in old_p if pid in new_p and (old_p[pid].prompt, old_p[pid].system, old_p[pid].answer)
               != (new_p[pid].prompt, new_p[pid].system, new_p[pid].answer)]
    paired_models = {a for a, _ in pairs} | {b for _, b in pairs}
    only_b = [pid for pid in old_p if pid not in new_p] + [m for m in baseline.config.models if m not in paired_models]
    only_n = [pid for pid in new_p if pid not in old_p] + [m for m in new.config.models if m not in paired_models]
    old_cells, new_cells = stats.graded(baseline.cells), stats.graded(new.cells)
    models = []
    for a, b in pairs:
        before = {(str(r.puzzle), int(r.repeat)): r for r in old_cells[old_cells.model == a].itertuples()}
        after = {(str(r.puzzle), int(r.repeat)): r for r in new_cells[new_cells.model == b].itertuples()}
        paired = stats.paired_difference({k: bool(r.correct) for k, r in after.items()},
                                         {k: bool(r.correct) for k, r in before.items()}, (b, a))
        md = ModelDiff(a, b, paired)
        for key in sorted(set(before) & set(after)):
            x, y = bool(before[key].correct), bool(after[key].correct)
            if x and not y:
                md.regressions.append(Flip(*key, _shown(before[key]), _shown(after[key])))
            elif y and not x:
                md.fixes.append(Flip(*key, _shown(before[key]), _shown(after[key])))
            elif x:
                md.same_right += 1
            else:
                md.same_wrong += 1
        models.append(md)
    return RunDiff(baseline.run_id, new.run_id, models, changed, only_b, only_n)
