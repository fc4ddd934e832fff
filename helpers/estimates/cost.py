"""Cost in US dollars from genai-prices (offline price data). Pure functions of an Answer.

Unknown prices give ``None`` with a reason, never a silent 0. Local models cost nothing in API fees,
and say so.
"""

from __future__ import annotations

from helpers import catalog
from helpers.answer import Answer, Usage


def price_usage(usage: Usage, model_ref: str, price_provider: str) -> tuple[float | None, str]:
    """Dollars for a usage record with genai-prices, or (None, reason).

    ``usage.prompt_tokens`` is the whole prompt, cached reads and cache writes included (genai-prices
    prices those parts at their own rates).
    """
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    if usage.prompt_tokens is None and usage.completion_tokens is None:
        return None, "the provider reported no token usage"
    priced = PriceUsage(input_tokens=usage.prompt_tokens or 0, output_tokens=usage.completion_tokens or 0,
                        cache_read_tokens=usage.cached_tokens or None,
                        cache_write_tokens=usage.cache_write_tokens or None)
    try:
        result = calc_price(priced, model_ref=model_ref, provider_id=price_provider)
    except LookupError as exc:
        return None, f"no price known: {exc}"
    return float(result.total_price), f"genai-prices: {result.provider.id}/{result.model.id}"


def price(answer: Answer) -> tuple[float | None, str]:
    """Dollars for one answer: genai-prices for remote providers, 0 for local engines, None if unknown."""
    provider = catalog.provider(answer.provider)
    if provider.local:
        return 0.0, "runs on this machine: no API fee"
    if provider.offline:
        return None, "recorded answer: no real call was made"
    if not provider.price_provider:
        return None, f"no price source for provider '{provider.name}'"
    info = provider.model(answer.model)
    refs = [r for r in (info.price_ref, answer.model_reported, answer.model) if r]
    reason = "no price known"
    for ref in dict.fromkeys(refs):
        usd, reason = price_usage(answer.usage, ref, provider.price_provider)
        if usd is not None:
            return usd, reason
    return None, reason
