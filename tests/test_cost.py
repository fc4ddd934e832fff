"""Cost from genai-prices, checked against hand-computed figures."""

import pytest

from helpers.answer import Answer, Usage
from helpers.estimates import cost


def priced(provider, model, **usage):
    return cost.price(Answer(spec=f"{provider}/{model}", provider=provider, model=model, usage=Usage(**usage)))


def test_gpt_4_1_mini_with_cached_tokens():
    # $0.40/M input, $0.10/M cached input, $1.60/M output
    usd, note = priced("openai", "gpt-4.1-mini", prompt_tokens=1000, completion_tokens=500, cached_tokens=200)
    assert usd == pytest.approx(800 * 0.4e-6 + 200 * 0.1e-6 + 500 * 1.6e-6)
    assert "genai-prices" in note


def test_dated_model_name_finds_its_price():
    usd, _ = cost.price(Answer(spec="openai/gpt-4o-mini", provider="openai", model="gpt-4o-mini",
                               model_reported="gpt-4o-mini-2024-07-18",
                               usage=Usage(prompt_tokens=1_000_000, completion_tokens=0)))
    assert usd == pytest.approx(0.15)


def test_anthropic_cache_write_and_read():
    # Haiku 4.5: $1/M input, $1.25/M cache write, $0.10/M cache read, $5/M output
    usd, _ = priced("anthropic", "claude-haiku-4-5", prompt_tokens=1000, completion_tokens=500,
                    cached_tokens=200, cache_write_tokens=300)
    assert usd == pytest.approx(500e-6 + 300 * 1.25e-6 + 200 * 0.1e-6 + 500 * 5e-6)


def test_unknown_price_is_none_with_reason_not_zero():
    usd, note = priced("openai", "gpt-nonexistent-9", prompt_tokens=10, completion_tokens=5)
    assert usd is None and "no price" in note
    usd, note = priced("openai", "gpt-4.1-mini")
    assert usd is None and "no token usage" in note


def test_local_models_cost_nothing_and_say_so():
    usd, note = priced("local", "smollm2", prompt_tokens=10, completion_tokens=5)
    assert usd == 0.0 and "no API fee" in note
