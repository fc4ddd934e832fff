"""What the per-call path keeps between calls gives the same figures as computing everything again: EcoLogits'
registry entry, zone mix and graph order; genai-prices' misses; the `.env` file read by settings."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from helpers import settings
from helpers.answer import Usage
from helpers.estimates import cost, ecologits_range


@pytest.mark.parametrize("zone", ["WOR", "FRA"])
def test_ecologits_fast_path_matches_llm_impacts_with_its_own_graph_order(zone: str,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from ecologits.impacts import llm as graph

    lib = ecologits_range._lib()
    assert "build_dag" in vars(graph.dag)  # the order is sorted once
    cases = [(p, m, tokens, latency) for p, m in [("openai", "gpt-4o-mini"), ("openai", "gpt-4.1-mini"),
                                                  ("anthropic", "claude-sonnet-4-5"),
                                                  ("google_genai", "gemini-2.5-flash"),
                                                  ("huggingface_hub", "openai/gpt-oss-20b")]
             for tokens in (1, 37, 800) for latency in (0.02, 0.4, 3.0, math.inf)]
    ours = [ecologits_range._registry_impacts(p, m, t, lat, zone) for p, m, t, lat in cases]
    monkeypatch.delattr(graph.dag, "build_dag")  # EcoLogits as shipped: a graphlib sort on every call
    for (p, m, t, lat), mine in zip(cases, ours):
        ref = lib.llm_impacts(p, m, t, lat, electricity_mix_zone=zone)
        assert mine == ecologits_range._result(ref, f"registry {p}/{m}", zone), (p, m, t, lat)
    assert any(r.warnings for r in ours)  # the registry's warnings come through as notes


def test_estimate_through_the_catalog_is_the_registry_figure() -> None:
    r = ecologits_range.estimate("openai", "gpt-4o-mini", 500, 5.0, zone_="USA")
    ref = ecologits_range._lib().llm_impacts("openai", "gpt-4o-mini", 500, 5.0, electricity_mix_zone="USA")
    assert isinstance(r, ecologits_range.EcoRange) and r.how == "registry openai/gpt-4o-mini"
    assert (r.g_min, r.g_max) == (ref.gwp.value.min * 1000, ref.gwp.value.max * 1000)


def test_a_price_miss_is_remembered_not_looked_up_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import genai_prices

    usage = Usage(prompt_tokens=100, completion_tokens=20)
    usd, reason = cost.price_usage(usage, "no-such-model-xyz", "openai")
    assert usd is None and reason.startswith("no price known")
    monkeypatch.setattr(genai_prices, "calc_price", lambda *a, **k: pytest.fail("looked up again"))
    assert cost.price_usage(usage, "no-such-model-xyz", "openai") == (None, reason)
    monkeypatch.undo()
    usd, note = cost.price_usage(usage, "gpt-4.1-mini", "openai")
    assert usd is not None and usd > 0 and note == "genai-prices: openai/gpt-4.1-mini"


def test_settings_read_the_env_file_named_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.write_text("LLMLAB_PERF_PROBE=one\n")
    second.write_text("LLMLAB_PERF_PROBE=two\n")
    monkeypatch.delenv("LLMLAB_PERF_PROBE", raising=False)
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(first))
    assert settings.get("LLMLAB_PERF_PROBE") == "one"
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(second))
    assert settings.get("LLMLAB_PERF_PROBE") == "two"
    monkeypatch.setenv("LLMLAB_PERF_PROBE", "from the environment")  # the environment is read on every call
    assert settings.get("LLMLAB_PERF_PROBE") == "from the environment"
    monkeypatch.delenv("LLMLAB_PERF_PROBE")
    monkeypatch.setattr(settings, "_loaded_from", None)  # the documented way to forget what was loaded
    assert settings.get("LLMLAB_PERF_PROBE") == "two"
