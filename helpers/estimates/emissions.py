"""Remote-call emission estimates for an Answer: the tracker's factor and EcoLogits' range.

``estimate`` is a pure function of token counts (also used before a call, with max_tokens, for budgets);
``annotate`` puts its figures on an Answer and keeps any local measurement already there. Neither raises
for an unknown model or zone: the reason lands in ``Emissions.notes``.
"""

from __future__ import annotations

from helpers import catalog
from helpers.answer import Answer, Emissions
from helpers.errors import LabError
from helpers.estimates import ecologits_range, factors


def tracker_part(emissions: Emissions, model: str, prompt_tokens: int | None, completion_tokens: int | None,
                 model_reported: str | None = None) -> None:
    """Fill ``tracker_g`` from the factor table (prompt + completion tokens), or note why not."""
    try:
        factor = factors.find([model_reported, model])
    except LabError as exc:  # a bad LLMLAB_EMISSION_FACTORS file: never lose the answer it would annotate
        emissions.notes.append(f"tracker: {exc}")
        return
    if factor is None:
        known = ", ".join(sorted(factors.table())) or "none (api-emissions-tracker is not installed)"
        emissions.notes.append(f"tracker: no factor for '{model_reported or model}' (known: {known}; "
                               f"add one with helpers.estimates.factors.set_custom)")
        return
    emissions.tracker_g = factor.grams(prompt_tokens, completion_tokens)
    missing = [n for n, v in (("prompt", prompt_tokens), ("completion", completion_tokens)) if v is None]
    emissions.notes.append(f"tracker: {factor.source} factor for {factor.model}, prompt + completion tokens"
                           + (f" ({' and '.join(missing)} count unknown, taken as 0)" if missing else ""))


def ecologits_part(emissions: Emissions, provider: str, model: str, completion_tokens: int | None,
                   latency_s: float | None = None, model_reported: str | None = None) -> None:
    """Fill the ``ecologits_*`` ranges (output tokens only), or note why not."""
    try:
        result = ecologits_range.estimate(provider, model, completion_tokens, latency_s, model_reported)
    except LabError as exc:
        emissions.notes.append(f"EcoLogits: {exc}")
        return
    except (ValueError, TypeError, AttributeError, KeyError, ArithmeticError) as exc:  # never break a call
        emissions.notes.append(f"EcoLogits failed: {type(exc).__name__}: {exc}"[:300])
        return
    if isinstance(result, str):
        emissions.notes.append(result)
        return
    emissions.ecologits_g, emissions.ecologits_kwh = result.g, result.kwh
    emissions.notes.append(f"EcoLogits: {result.how}, zone {result.zone}, output tokens only"
                           + (f" ({'; '.join(result.warnings)})" if result.warnings else ""))


def estimate(provider: str, model: str, prompt_tokens: int | None, completion_tokens: int | None,
             latency_s: float | None = None, model_reported: str | None = None) -> Emissions:
    """Estimated emissions of one remote call from its token counts (grams CO2e, kWh).

    ``tracker_g`` = prompt × factor + completion × factor (api-emissions-tracker, or custom factors);
    ``ecologits_*`` = EcoLogits' min–max for ``completion_tokens`` output tokens (``latency_s`` None means
    unknown). ``measured_*`` stay None (only CodeCarbon around a local call fills them).
    """
    emissions = Emissions()
    if prompt_tokens is None and completion_tokens is None:
        emissions.notes.append("no token usage reported: nothing to estimate from")
        return emissions
    odd = [v for v in (prompt_tokens, completion_tokens)
           if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0)]
    if odd:
        emissions.notes.append(f"token counts that are not whole numbers ≥ 0 ({odd!r:.80}): nothing to estimate from")
        return emissions
    tracker_part(emissions, model, prompt_tokens, completion_tokens, model_reported)
    ecologits_part(emissions, provider, model, completion_tokens, latency_s, model_reported)
    return emissions


def _recorded(provider: str) -> bool:
    try:
        return catalog.provider(provider).offline
    except LabError:
        return False


def annotate(answer: Answer) -> None:
    """Put the remote estimates on an answer; a local measurement already on it is kept."""
    latency = None if _recorded(answer.provider) else answer.latency_s  # a replay's timing is not the model's
    figures = estimate(answer.provider, answer.model, answer.usage.prompt_tokens, answer.usage.completion_tokens,
                       latency, answer.model_reported)
    figures.measured_g, figures.measured_kwh = answer.emissions.measured_g, answer.emissions.measured_kwh
    figures.notes = [*answer.emissions.notes, *figures.notes]
    answer.emissions = figures
