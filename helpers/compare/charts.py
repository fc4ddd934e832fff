"""Charts of a comparison (matplotlib): accuracy vs cost, accuracy vs g CO2e (each accuracy with its 95 %
interval as an error bar), latency per model, and, for effort variants of one model, accuracy against
reasoning tokens (the reasoning budget and its knee).

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, so no display and no global backend
change: this works headless and in tests; a notebook shows a returned Figure as usual). Models whose cost
or emissions are unknown are left off a chart and named under it, never plotted at 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from helpers.display import escape

CHARTS = {"accuracy_vs_cost": "accuracy vs cost", "accuracy_vs_co2e": "accuracy vs g CO2e",
          "latency": "latency per model", "reasoning_budget": "accuracy vs reasoning tokens"}


def _figure(width: float = 7.0, height: float = 4.5) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _short(model: str, width: int = 28) -> str:
    """A model name for a chart label: shortened, and escaped (a `$` in a name is not mathtext)."""
    return escape(model if len(model) <= width else "…" + model[-(width - 1):], "chart")


def _scatter(summary: Any, column: str, xlabel: str, title: str) -> Any:
    fig = _figure()
    ax = fig.add_subplot()
    known = summary[summary[column].notna() & summary.accuracy.notna()]
    left_off = [m for m in summary.model if m not in set(known.model)]
    for row in known.itertuples():
        x = getattr(row, column)
        ax.scatter([x], [row.accuracy * 100], s=60)
        low, high = getattr(row, "accuracy_low", None), getattr(row, "accuracy_high", None)
        if low is not None and high is not None and not (math.isnan(low) or math.isnan(high)):
            ax.errorbar([x], [row.accuracy * 100], yerr=[[(row.accuracy - low) * 100], [(high - row.accuracy) * 100]],
                        fmt="none", ecolor="gray", capsize=4, alpha=0.8)
        ax.annotate(_short(row.model), (x, row.accuracy * 100), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    positive = [v for v in known[column] if v > 0]
    if positive and max(positive) / min(positive) > 50 and len(positive) == len(known):
        ax.set_xscale("log")
    ax.set_xlabel(escape(xlabel, "chart")
                  + ("\nnot shown (n/a): " + ", ".join(_short(m) for m in left_off) if left_off else ""))
    ax.set_ylabel("accuracy (%), bars: 95 % interval")
    ax.set_ylim(-5, 105)
    ax.set_title(escape(title, "chart"))
    ax.grid(alpha=0.3)
    return fig


def accuracy_vs_cost(comparison: Any) -> Any:
    """Accuracy (%) against US dollars per answer, one point per model."""
    return _scatter(comparison.summary(), "usd_per_answer", "US$ per answer (mean)",
                    f"Accuracy vs cost · run {comparison.run_id}")


def accuracy_vs_co2e(comparison: Any) -> Any:
    """Accuracy (%) against grams CO2e per answer, one point per model."""
    return _scatter(comparison.summary(), "g_per_answer", "g CO2e per answer (mean, estimate)",
                    f"Accuracy vs emissions · run {comparison.run_id}")


def latency(comparison: Any) -> Any:
    """Latency of every answered cell, a box per model (time to first token marked when streamed)."""
    cells = comparison.cells
    models = list(comparison.config.models)
    fig = _figure(7.0, 0.6 + 0.45 * max(len(models), 3))
    ax = fig.add_subplot()
    data = [cells[(cells.model == m) & (cells.status == "ok")].latency_s.dropna().tolist() for m in models]
    shown = [i for i, d in enumerate(data) if d]
    if shown:
        ax.boxplot([data[i] for i in shown], orientation="horizontal", widths=0.5,
                   tick_labels=[_short(models[i]) for i in shown])
        ttft = [cells[(cells.model == models[i]) & (cells.status == "ok")].ttft_s.dropna() for i in shown]
        for pos, series in enumerate(ttft, start=1):
            if len(series):
                ax.scatter(series, [pos] * len(series), marker="|", s=80, color="tab:red",
                           label="first token" if pos == 1 else None)
        if any(len(s) for s in ttft):
            ax.legend(loc="lower right", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no answered cells", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds")
    ax.set_title(escape(f"Latency · run {comparison.run_id}", "chart"))
    ax.grid(alpha=0.3, axis="x")
    return fig


def base_model(spec: str) -> str:
    """A spec without its parameter variant: openai/gpt-5-nano@reasoning_effort=low → openai/gpt-5-nano."""
    return spec.split("@", 1)[0]


EFFORT_PARAMS = ("reasoning_effort",)


def effort_groups(models: list[str]) -> dict[str, list[str]]:
    """Effort variants: two or more specs of one base model that differ only in reasoning effort (the
    base spec itself counts, as the provider's default effort), grouped by that base."""
    from helpers import spec as specs

    groups: dict[str, list[str]] = {}
    for m in models:
        params = specs.parse(m).params
        if set(params) <= set(EFFORT_PARAMS):
            groups.setdefault(base_model(m), []).append(m)
    return {b: ms for b, ms in groups.items()
            if len(ms) > 1 and any(set(specs.parse(m).params) & set(EFFORT_PARAMS) for m in ms)}


def knee_of(cells: Any, variants: list[tuple[str, float]]) -> str | None:
    """The knee of a reasoning budget: among ``variants`` (model, accuracy), listed from fewest to most
    reasoning tokens, the first that the paired comparison cannot tell from the most accurate one."""
    from helpers.compare import stats

    if not variants:
        return None
    best = max(variants, key=lambda v: v[1])[0]
    per = {m: stats.outcomes(cells, m) for m, _ in variants}
    for m, _ in variants:
        if m == best or not stats.paired_difference(per[best], per[m]).estimate.excludes_zero:
            return m
    return best


def reasoning_budget(comparison: Any) -> Any:
    """For variants of one model: accuracy (with its 95 % interval) against mean reasoning tokens per answer
    (output tokens when the provider reports no reasoning tokens), cost per answer in the labels. The knee,
    ringed, is the variant with the fewest tokens that the paired comparison cannot tell from the most
    accurate variant: past it, more thinking has not been shown to pay. None when no model has variants."""
    groups = effort_groups(list(comparison.config.models))
    if not groups:
        return None
    summary = comparison.summary().set_index("model")
    ok = comparison.cells[comparison.cells.status == "ok"]
    reasoning = ok.reasoning_tokens.notna().any()
    column = "reasoning_tokens" if reasoning else "completion_tokens"
    fig = _figure()
    ax = fig.add_subplot()
    for base, variants in groups.items():
        points = []
        for m in variants:
            tokens = ok[ok.model == m][column].mean()
            s = summary.loc[m]
            if not (math.isnan(tokens) or math.isnan(s.accuracy)):
                points.append((float(tokens), m, s))
        points.sort()
        if not points:
            continue
        xs, ys = [p[0] for p in points], [p[2].accuracy * 100 for p in points]
        lows = [(p[2].accuracy - p[2].accuracy_low) * 100 for p in points]
        highs = [(p[2].accuracy_high - p[2].accuracy) * 100 for p in points]
        line = ax.errorbar(xs, ys, yerr=[lows, highs], marker="o", capsize=4, label=_short(base, 40))
        for x, m, s in points:
            usd = s.usd_per_answer
            cost = "n/a" if math.isnan(usd) else f"${usd:.4g}/answer"
            ax.annotate(f"{_short(m.partition('@')[2] or 'default', 30)}\n{escape(cost, 'chart')}",
                        (x, s.accuracy * 100), textcoords="offset points", xytext=(6, -14), fontsize=7)
        knee = knee_of(comparison.cells, [(m, float(s.accuracy)) for _, m, s in points])
        for x, m, s in points:
            if m == knee:
                ax.scatter([x], [s.accuracy * 100], s=260, facecolors="none", edgecolors=line.lines[0].get_color(),
                           linewidths=2, label=f"knee: {_short(m, 40)}")
    ax.set_xlabel(f"{'reasoning' if reasoning else 'output (no reasoning tokens reported)'} tokens per answer (mean)")
    ax.set_ylabel("accuracy (%), bars: 95 % interval")
    ax.set_ylim(-5, 105)
    ax.set_title(f"Reasoning budget · run {comparison.run_id}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def save_all(comparison: Any, folder: str | Path, dpi: int = 120) -> dict[str, Path]:
    """Write every chart as PNG into ``folder`` (the reasoning budget only when a model has variants);
    returns {chart name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in (("accuracy_vs_cost", accuracy_vs_cost), ("accuracy_vs_co2e", accuracy_vs_co2e),
                       ("latency", latency), ("reasoning_budget", reasoning_budget)):
        fig = make(comparison)
        if fig is None:
            continue
        path = folder / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        out[name] = path
    return out

