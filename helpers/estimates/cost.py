"""Cost in US dollars from genai-prices (offline price data). Pure functions of an Answer.

Unknown prices give ``None`` with a reason, never a silent 0. Local models cost nothing in API fees,
and say so. The price is that of the model that answered: when a provider reports another model than the
one asked for (a router's fallback), the requested model's price is not used for it. A provider that
reports its own charge (OpenRouter's ``usage.cost``, kept in ``answer.extra["provider_cost_usd"]``) is
named in the note when it differs from ours or when ours is unknown.
"""

from __future__ import annotations

import re

from helpers import catalog
from helpers.answer import Answer, Usage

PROVIDER_COST = "provider_cost_usd"  # the key under which adapters keep a provider's own charge in Answer.extra
_DATE = re.compile(r"(-\d{8}|-\d{4}-\d{2}-\d{2}|-\d{4}|-latest|-preview|-exp|-\d{2}-\d{2})+$")
_unpriced: dict[tuple[str, str], str] = {}  # (model ref, provider) genai-prices has no price for: the reason


def price_usage(usage: Usage, model_ref: str, price_provider: str) -> tuple[float | None, str]:
    """Dollars for a usage record with genai-prices, or (None, reason).

    ``usage.prompt_tokens`` is the whole prompt, cached reads and cache writes included (genai-prices
    prices those parts at their own rates).
    """
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None, "the provider reported no token usage"
    odd = [f"{name}={value!r}" for name, value in vars(usage).items()
           if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0)]
    if odd:
        return None, f"the provider reported token counts that are not whole numbers ≥ 0 ({', '.join(odd)[:120]})"
    known_miss = _unpriced.get((model_ref, price_provider))
    if known_miss is not None:  # looking a missing model up again costs more than pricing a known one
        return None, known_miss
    priced = PriceUsage(input_tokens=usage.prompt_tokens or 0, output_tokens=usage.completion_tokens or 0,
                        cache_read_tokens=usage.cached_tokens or None,
                        cache_write_tokens=usage.cache_write_tokens or None)
    try:
        result = calc_price(priced, model_ref=model_ref, provider_id=price_provider)
    except LookupError:
        _unpriced[(model_ref, price_provider)] = reason = f"no price known for '{model_ref}' ({price_provider})"
        return None, reason
    except (ValueError, TypeError, ArithmeticError) as exc:  # never lose the answer over its price
        return None, f"genai-prices could not price this usage ({type(exc).__name__}: {exc})"[:200]
    return float(result.total_price), f"genai-prices: {result.provider.id}/{result.model.id}"


def family(name: str) -> str:
    """A model name without vendor prefix, tag, date or release suffixes, dots as dashes (for comparing)."""
    base = name.lower().rsplit("/", 1)[-1].split(":", 1)[0].replace(".", "-")
    return _DATE.sub("", base)


def same_model(reported: str, requested: str) -> bool:
    """Whether a reported model name is a spelling of the requested one (dated, tagged, aliased)."""
    a, b = family(reported), family(requested)
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")


def _references(answer: Answer, info: catalog.ModelInfo) -> list[str]:
    reported = answer.model_reported
    if reported and not same_model(reported, answer.model):
        return [reported]  # another model answered (a fallback): its own price, or none
    return [r for r in dict.fromkeys((info.price_ref, reported, answer.model)) if r]


def _with_provider_cost(answer: Answer, usd: float | None, note: str) -> tuple[float | None, str]:
    billed = answer.extra.get(PROVIDER_COST)
    if not isinstance(billed, (int, float)) or isinstance(billed, bool):
        return usd, note
    who = catalog.provider(answer.provider).label.split(" (")[0]
    if usd is None or abs(usd - billed) > max(1e-9, 0.01 * abs(billed)):
        note += f"; {who} billed ${billed:.6f}".rstrip("0").rstrip(".") if billed else f"; {who} billed $0"
    return usd, note


def price(answer: Answer) -> tuple[float | None, str]:
    """Dollars for one answer: genai-prices for remote providers, 0 for local engines, None if unknown."""
    provider = catalog.provider(answer.provider)
    if provider.local:
        return 0.0, "runs on this machine: no API fee"
    if provider.offline:
        return None, "recorded answer: no real call was made"
    if not provider.price_provider:
        return None, f"no price source for provider '{provider.name}'"
    reason = "no price known"
    for ref in _references(answer, provider.model(answer.model)):
        usd, reason = price_usage(answer.usage, ref, provider.price_provider)
        if usd is not None:
            return _with_provider_cost(answer, usd, reason)
    if answer.model_reported and not same_model(answer.model_reported, answer.model):
        reason += f", the model that answered (asked for '{answer.model}')"
    return _with_provider_cost(answer, None, reason)
