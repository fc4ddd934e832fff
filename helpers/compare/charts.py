"""Charts of a comparison (matplotlib): accuracy vs cost, accuracy vs g CO2e, latency per model.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot, so no display and no global backend
change: this works headless and in tests; a notebook shows a returned Figure as usual). Models whose cost
or emissions are unknown are left off a chart and named under it, never plotted at 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHARTS = {"accuracy_vs_cost": "accuracy vs cost", "accuracy_vs_co2e": "accuracy vs g CO2e",
          "latency": "latency per model"}


def _figure(width: float = 7.0, height: float = 4.5) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _short(model: str, width: int = 28) -> str:
    return model if len(model) <= width else "…" + model[-(width - 1):]


def _scatter(summary: Any, column: str, xlabel: str, title: str) -> Any:
    fig = _figure()
    ax = fig.add_subplot()
    known = summary[summary[column].notna() & summary.accuracy.notna()]
    left_off = [m for m in summary.model if m not in set(known.model)]
    for row in known.itertuples():
        x = getattr(row, column)
        ax.scatter([x], [row.accuracy * 100], s=60)
        ax.annotate(_short(row.model), (x, row.accuracy * 100), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    positive = [v for v in known[column] if v > 0]
    if positive and max(positive) / min(positive) > 50 and len(positive) == len(known):
        ax.set_xscale("log")
    ax.set_xlabel(xlabel + ("\nnot shown (n/a): " + ", ".join(_short(m) for m in left_off) if left_off else ""))
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(-5, 105)
    ax.set_title(title)
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
    ax.set_title(f"Latency · run {comparison.run_id}")
    ax.grid(alpha=0.3, axis="x")
    return fig


def save_all(comparison: Any, folder: str | Path, dpi: int = 120) -> dict[str, Path]:
    """Write every chart as PNG into ``folder``; returns {chart name: path}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, make in (("accuracy_vs_cost", accuracy_vs_cost), ("accuracy_vs_co2e", accuracy_vs_co2e),
                       ("latency", latency)):
        path = folder / f"{name}.png"
        make(comparison).savefig(path, dpi=dpi)
        out[name] = path
    return out

