"""Lab 05 checker: measure your machine's energy per token with CodeCarbon around local calls.

The student measures a few local calls (``runs``: one dict per call with output_tokens, seconds, kwh and
g_co2e) and writes ``wh_per_1k(runs)``: watt-hours per 1,000 output tokens. The checker looks at the
measurements for unit slips (Wh or J for kWh, kg for g) and verifies the arithmetic on the student's own
runs, naming the slip when the figure is off (kWh not converted, per token, averaged ratios, joules).
"""

from __future__ import annotations

import copy
import math
from typing import Any

from helpers.labcheck.core import NOT_DONE, Report, _todo, attempt, close

MIN_RUNS = 3
RUN_FIELDS = {
    "output_tokens": "answer.usage.completion_tokens",
    "seconds": "the task's duration (data.duration, seconds)",
    "kwh": "the task's energy (data.energy_consumed, already in kWh)",
    "g_co2e": "the task's emissions in grams (data.emissions is in kg: × 1000)",
}
MAX_WATTS = 5000.0  # a laptop or desktop draws far less: more means the energy is not in kWh
MIN_G_PER_KWH, MAX_G_PER_KWH = 1.0, 2000.0  # every grid in CodeCarbon's data lies in between
# A hand-made case whose per-call ratios differ (0.2 and 0.133 Wh/1k) from the total's (0.15 Wh/1k).
HAND_RUNS = [{"output_tokens": 100, "seconds": 1.0, "kwh": 2e-5, "g_co2e": 0.0095},
             {"output_tokens": 300, "seconds": 3.0, "kwh": 4e-5, "g_co2e": 0.019}]


def expected_wh_per_1k(runs: list[dict[str, Any]]) -> float:
    """Total energy in Wh ÷ total output tokens × 1,000."""
    return sum(r["kwh"] for r in runs) * 1000 / sum(r["output_tokens"] for r in runs) * 1000


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _row_problem(i: int, row: Any) -> str | None:
    if not isinstance(row, dict):
        return f"call {i} is a {type(row).__name__}: make each run a dict with keys {list(RUN_FIELDS)}"
    missing = [k for k in RUN_FIELDS if k not in row]
    if missing:
        return f"call {i} lacks {missing}: " + "; ".join(f"{k} = {RUN_FIELDS[k]}" for k in missing)
    for k, source in RUN_FIELDS.items():
        if not _number(row[k]):
            return f"call {i}: {k} is {row[k]!r}, not a number: use {source}"
    if row["output_tokens"] <= 0:
        return f"call {i} has {row['output_tokens']} output tokens: ask for something longer (per token needs tokens)"
    if row["kwh"] <= 0 or row["seconds"] <= 0:
        return f"call {i} has kwh={row['kwh']!r}, seconds={row['seconds']!r}: measure between start_task and stop_task"
    watts = row["kwh"] * 3.6e6 / row["seconds"]
    if watts > MAX_WATTS:
        return (f"call {i}: {row['kwh']:.3g} kWh in {row['seconds']:.3g} s would mean {watts:,.0f} W; is the energy "
                f"in Wh or J? CodeCarbon's energy_consumed is already in kWh")
    g_per_kwh = row["g_co2e"] / row["kwh"]
    if g_per_kwh < MIN_G_PER_KWH:
        return (f"call {i}: {row['g_co2e']:.3g} g for {row['kwh']:.3g} kWh is {g_per_kwh:.3g} g/kWh, far below any "
                f"grid: data.emissions is in kg, multiply by 1000 for grams")
    if g_per_kwh > MAX_G_PER_KWH:
        return (f"call {i}: {row['g_co2e']:.3g} g for {row['kwh']:.3g} kWh is {g_per_kwh:,.0f} g/kWh, above any grid: "
                f"keep kwh in kWh and g_co2e in grams (data.emissions × 1000)")
    return None


def _check_runs(report: Report, runs: Any) -> list[dict[str, Any]] | None:
    if _todo(runs):
        report.todo(f"Steps 1 and 2 are {NOT_DONE}: write `measure_call`, then keep its dict for each measured "
                    "call in `runs`")
        return None
    if not isinstance(runs, (list, tuple)):
        report.wrong(f"`runs` is a {type(runs).__name__}: make it a list with one dict per measured call")
        return None
    problems = [p for i, row in enumerate(runs, 1) if (p := _row_problem(i, row))]
    if problems:
        more = f" ({len(problems) - 1} more call(s) have problems too)" if len(problems) > 1 else ""
        report.wrong(f"`runs`: {problems[0]}{more}")
        return None
    if len(runs) < MIN_RUNS:
        report.wrong(f"`runs` holds {len(runs)} call(s): measure at least {MIN_RUNS}, one short call's figure is noisy")
        return None
    rows = list(runs)
    kwh, seconds = sum(r["kwh"] for r in rows), sum(r["seconds"] for r in rows)
    tokens = sum(r["output_tokens"] for r in rows)
    intensity = sum(r["g_co2e"] for r in rows) / kwh
    report.ok(f"`runs`: {len(rows)} calls, {tokens} output tokens, {kwh * 1000:.3g} Wh in {seconds:.3g} s "
              f"(about {kwh * 3.6e6 / seconds:.3g} W on average; grid {intensity:.0f} g CO2e/kWh)")
    report.table = [{"call": i, "output_tokens": r["output_tokens"], "seconds": r["seconds"], "kwh": r["kwh"],
                     "g_co2e": r["g_co2e"], "watts": r["kwh"] * 3.6e6 / r["seconds"],
                     "Wh per 1k tokens": r["kwh"] * 1e6 / r["output_tokens"]} for i, r in enumerate(rows, 1)]
    return rows


def _slip(got: float, runs: list[dict[str, Any]]) -> str:
    """What a wrong Wh-per-1,000-tokens figure most likely did."""
    want = expected_wh_per_1k(runs)
    mean_of_ratios = sum(r["kwh"] * 1e6 / r["output_tokens"] for r in runs) / len(runs)
    per_token = ("1,000 times too small: convert kWh to Wh (× 1000) and count per 1,000 tokens (× 1000), "
                 "not per token")
    averaged = ("that is the mean of the per-call ratios; divide the total energy by the total tokens instead "
                "(a long answer weighs more than a short one)")
    named = [
        (want / 1000, per_token),
        (want / 1e6, "a million times too small: that is kWh per token; × 1000 for Wh and × 1000 for 1,000 tokens"),
        (want * 1000, "1,000 times too big: kWh × 1000 is Wh, once; then ÷ tokens × 1000"),
        (want * 3600, "3,600 times too big: that is joules; 1 Wh = 3,600 J"),
        (want * 3.6, "3.6 times too big: that is kJ; 1 Wh = 3.6 kJ"),
    ]
    if not close(mean_of_ratios, want, rel=1e-2):
        named.insert(0, (mean_of_ratios, averaged))
    for value, why in named:
        if close(got, value, rel=1e-2):
            return why
    return "total Wh = sum of kwh × 1000; per 1,000 tokens = total Wh ÷ total output tokens × 1000"


def _check_wh_per_1k(report: Report, wh_per_1k: Any, runs: list[dict[str, Any]]) -> None:
    want = expected_wh_per_1k(runs)
    if wh_per_1k is None:
        report.todo(f"Step 3 is {NOT_DONE}: define `wh_per_1k(runs)`")
        return
    for case, label in ((runs, "your runs"), (HAND_RUNS, f"the runs {HAND_RUNS}")):
        finished, got = attempt(report, "wh_per_1k", wh_per_1k, copy.deepcopy(case))
        if not finished:
            return
        if got is None or got is ...:
            report.todo(f"Step 3 is {NOT_DONE}: `wh_per_1k` returns {got!r}; return a number")
            return
        if not _number(got):
            report.wrong(f"`wh_per_1k` returns {got!r} (a {type(got).__name__}): return the number of Wh")
            return
        right = expected_wh_per_1k(case)
        if not close(got, right, rel=1e-2):
            report.wrong(f"`wh_per_1k` gives {got:.4g} for {label}, which is not the Wh per 1,000 output "
                         f"tokens of those runs: {_slip(got, case)}")
            return
    report.ok(f"`wh_per_1k`: {want:.3g} Wh per 1,000 output tokens on this machine (total energy ÷ total tokens)")


def energy_per_token(runs: Any = None, wh_per_1k: Any = None) -> Report:
    """Lab 05: measured local calls (``runs``) and the Wh per 1,000 output tokens computed from them."""
    report = Report("Lab 05 · energy per token")
    rows = _check_runs(report, runs)
    if rows is None:
        report.todo("Step 3 needs the measurements of step 2 first")
        return report
    _check_wh_per_1k(report, wh_per_1k, rows)
    return report
