"""The three ways of counting a call's emissions side by side: one table, one chart, and why they differ.

- **tracker**: api-emissions-tracker's factor × (prompt + completion tokens). One number per token, the same
  for input and output, taken from published per-query estimates.
- **EcoLogits**: a model of the GPUs and servers needed for the model's size and the **output tokens
  only**, times the electricity mix of a zone (plus the hardware's manufacturing share); a min–max range
  because the size of closed models is unknown.
- **measured**: CodeCarbon on this machine around a local call (CPU/GPU/RAM power × time × the country's
  grid intensity); only for local models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from helpers.answer import Answer, Range
from helpers.display import escape
from helpers.errors import LabError

TOKENS_NOTE = ("EcoLogits counts output tokens only; the tracker counts prompt and completion tokens; "
               "measured = CodeCarbon on this machine (local models only).")

EXPLANATION = """\
Why the three methods disagree:
- The tracker multiplies *all* tokens (prompt and completion) by one factor per model, derived from
  published per-query estimates for large GPT models; the factor does not change with the grid or the
  hardware, and models without a factor get none.
- EcoLogits counts *output tokens only* (generation dominates inference energy) and models the GPUs a model
  of that size needs, the data centre's PUE and the electricity mix of a zone (LLMLAB_COUNTRY, default
  world); closed models get a range because their size is a guess.
- CodeCarbon measures this machine's power while a local model answers: a tiny model on a CPU, a real grid
  factor, and whatever else the machine was doing at the time (machine mode).
"""


def explanation(zone: str = "USA") -> str:
    """EXPLANATION with its worked example computed now (gpt-4o-mini, 500 output tokens, 5 s), never typed in."""
    try:
        mg = example(zone)
    except LabError as exc:
        return EXPLANATION + f"(The worked example is not available here: {exc})\n"
    return EXPLANATION + ("Example: gpt-4o-mini writing 500 tokens: "
                          f"the tracker's factor gives {mg['tracker_mg']:.0f} mg; "
                          f"EcoLogits gives {mg['ecologits_mg_min']:.1f}–{mg['ecologits_mg_max']:.1f} mg "
                          f"(zone {zone}), "
                          f"{mg['tracker_mg'] / mg['ecologits_mg_max']:.1f}–"
                          f"{mg['tracker_mg'] / mg['ecologits_mg_min']:.1f}"
                          " times less.\n")


@dataclass
class MethodRow:
    """One call (or one model, summed) by method. Grams CO2e; kWh; Wh per 1,000 output tokens."""

    label: str
    calls: int
    prompt_tokens: int | None
    completion_tokens: int | None
    tracker_g: float | None
    ecologits_g: Range | None
    measured_g: float | None
    measured_kwh: float | None

    @property
    def measured_wh_per_1k(self) -> float | None:
        if self.measured_kwh is None or not self.completion_tokens:
            return None
        return self.measured_kwh * 1e6 / self.completion_tokens


def _get(item: Answer | Mapping[str, Any], name: str) -> Any:
    if isinstance(item, Answer):
        if name in ("prompt_tokens", "completion_tokens"):
            return getattr(item.usage, name)
        if name == "label":
            return item.spec
        return getattr(item.emissions, name)
    return item.get("spec") if name == "label" else item.get(name)


def _sum(values: list[Any]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _sum_int(values: list[Any]) -> int | None:
    known = [int(v) for v in values if v is not None]
    return sum(known) if known else None  # unknown is n/a, never 0


def rows(items: Iterable[Answer | Mapping[str, Any]], per_model: bool = False) -> list[MethodRow]:
    """Rows per call (or per model with ``per_model``) from Answers or run-log rows (dicts)."""
    groups: dict[str, list[Any]] = {}
    for i, item in enumerate(items):
        label = str(_get(item, "label"))
        groups.setdefault(label if per_model else f"{i + 1}. {label}", []).append(item)
    out = []
    for label, group in groups.items():
        out.append(MethodRow(
            label=label, calls=len(group),
            prompt_tokens=_sum_int([_get(x, "prompt_tokens") for x in group]),
            completion_tokens=_sum_int([_get(x, "completion_tokens") for x in group]),
            ecologits_g=Range.of(_sum([_get(x, "ecologits_g_min") for x in group]),
                                 _sum([_get(x, "ecologits_g_max") for x in group])),
            **{f: _sum([_get(x, f) for x in group]) for f in ("tracker_g", "measured_g", "measured_kwh")}))
    return out


def _mg(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 1000:.3g} mg"


def power_sources(items: Iterable[Answer | Mapping[str, Any]]) -> list[str]:
    """Where CodeCarbon's power came from, for the measured answers among ``items`` (each source once)."""
    found = [(item.extra.get("measured") or {}).get("power_source") for item in items if isinstance(item, Answer)]
    return list(dict.fromkeys(s for s in found if s))


def markdown(items: Iterable[Answer | Mapping[str, Any]], per_model: bool = False) -> str:
    """A Markdown table of the three methods, with the note on what each counts (and, for measured answers,
    where CodeCarbon's power came from: a sensor, or an estimate)."""
    items = list(items)
    head = ("| call | tokens in / out | tracker (in+out) | EcoLogits (out only) | measured | Wh / 1k out |\n"
            "|---|---|---|---|---|---|")
    lines = [head]
    for r in rows(items, per_model):
        eco = "n/a" if r.ecologits_g is None else f"{_mg(r.ecologits_g.min)} – {_mg(r.ecologits_g.max)}"
        wh = "n/a" if r.measured_wh_per_1k is None else f"{r.measured_wh_per_1k:.3g}"
        tokens = " / ".join("n/a" if n is None else str(n) for n in (r.prompt_tokens, r.completion_tokens))
        cells = [r.label, tokens, _mg(r.tracker_g), eco, _mg(r.measured_g), wh]
        lines.append("| " + " | ".join(escape(c, "table") for c in cells) + " |")
    power = "".join(f" CodeCarbon's power here: {s}." for s in power_sources(items))
    return "\n".join(lines) + f"\n\n_{escape(TOKENS_NOTE + power, 'prose')}_"


def chart(items: Iterable[Answer | Mapping[str, Any]], per_model: bool = True, ax: Any = None) -> Any:
    """A bar chart (mg CO2e, log scale): tracker, EcoLogits (bar to the midpoint, whisker to min–max),
    measured. Returns the matplotlib Figure (displayed by Jupyter)."""
    from matplotlib.figure import Figure

    data = rows(items, per_model)
    if ax is None:
        fig = Figure(figsize=(max(5.0, 1.6 * len(data) + 2), 3.8), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    width = 0.26
    xs = range(len(data))

    def mg(v: float | None) -> float:
        return v * 1000 if v else float("nan")

    ax.bar([x - width for x in xs], [mg(r.tracker_g) for r in data], width, label="tracker (in + out tokens)")
    mids = [mg(r.ecologits_g.mid) if r.ecologits_g else float("nan") for r in data]
    errs = [[m - mg(r.ecologits_g.min) if r.ecologits_g else 0 for m, r in zip(mids, data)],
            [mg(r.ecologits_g.max) - m if r.ecologits_g else 0 for m, r in zip(mids, data)]]
    ax.bar(list(xs), mids, width, yerr=errs, capsize=3, label="EcoLogits (out tokens, min–max)")
    ax.bar([x + width for x in xs], [mg(r.measured_g) for r in data], width, label="measured (CodeCarbon)")
    ax.set_xticks(list(xs), [escape(r.label, "chart") for r in data], rotation=20, ha="right")
    ax.set_ylabel("mg CO2e")
    highest = [(r.tracker_g, r.ecologits_g.max if r.ecologits_g else None, r.measured_g) for r in data]
    if any(mg(v) > 0 for values in highest for v in values):
        ax.set_yscale("log")
    ax.set_title("Emissions by method")
    ax.legend(fontsize="small")
    return fig


def example(zone: str = "USA") -> dict[str, float]:
    """The worked example: gpt-4o-mini, 500 output tokens, 5 s: tracker vs EcoLogits, in mg.

    ``zone="USA"`` is EcoLogits' own default for OpenAI; LLM Lab's default zone is WOR (world).
    """
    from helpers.estimates import ecologits_range, factors

    factor = factors.find(["gpt-4o-mini"])
    eco = ecologits_range.estimate("openai", "gpt-4o-mini", 500, 5.0, zone_=zone)
    if isinstance(eco, str):  # EcoLogits lacks the model: say why instead of a number
        raise LabError(eco)
    return {"tracker_mg": factor.grams(0, 500) * 1000 if factor else float("nan"),
            "ecologits_mg_min": eco.g_min * 1000, "ecologits_mg_max": eco.g_max * 1000}
