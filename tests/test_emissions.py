"""Emission estimates: tracker factors (read from the package's data), name normalisation, custom factors,
EcoLogits ranges (registry and parameter counts) against hand-computed values, and annotate()."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.answer import Answer, Emissions, Usage
from helpers.errors import ConfigError
from helpers.estimates import ecologits_range, factors
from helpers.estimates.emissions import annotate, estimate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_custom_factors():
    factors.set_custom(None)
    yield
    factors.set_custom(None)


def test_builtin_factors_come_from_the_installed_package_without_importing_it() -> None:
    # In a fresh interpreter: reading the factors must not import api_emissions_tracker (which patches openai).
    code = ("import sys, json; from helpers.estimates import factors; "
            "from helpers.estimates.emissions import estimate; t = factors.table(); "
            "e = estimate('openai', 'gpt-4o', 1, 1); "
            "print(json.dumps({'loaded': 'api_emissions_tracker' in sys.modules, "
            "'factors': {k: [f.per_prompt_token, f.per_completion_token] for k, f in t.items()}}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    got = json.loads(out.stdout)
    assert got["loaded"] is False
    shipped = json.loads((factors.tracker_data_file() or Path("missing")).read_text())
    assert got["factors"] == {k: [v["per_prompt_token"], v["per_completion_token"]] for k, v in shipped.items()}
    assert got["factors"]["gpt-35-turbo"] == [0.00246, 0.00246] and got["factors"]["gpt-4o-mini"] == [0.00021] * 2


@pytest.mark.parametrize(("name", "factor_model"), [
    ("gpt-35-turbo", "gpt-35-turbo"),
    ("gpt-3.5-turbo", "gpt-35-turbo"),
    ("gpt-3.5-turbo-0125", "gpt-35-turbo"),
    ("GPT-3.5-Turbo-1106", "gpt-35-turbo"),
    ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
    ("gpt-4o-2024-08-06", "gpt-4o"),
    ("gpt-4-0613", "gpt-4"),
    ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4", "gpt-4"),
    ("gpt-4.1-mini", None),
    ("gpt-4-turbo", None),
    ("llama3.2", None),
    ("openai/gpt-oss-20b", None),
])
def test_name_normalisation(name: str, factor_model: str | None) -> None:
    found = factors.find([name])
    assert (found.model if found else None) == factor_model


def test_variants_order() -> None:
    assert factors.variants("gpt-3.5-turbo-0125") == ["gpt-3.5-turbo-0125", "gpt-35-turbo-0125", "gpt-3.5-turbo",
                                                      "gpt-35-turbo"]
    assert factors.variants("openai/gpt-4o-mini-2024-07-18") == [
        "openai/gpt-4o-mini-2024-07-18", "openai/gpt-4o-mini", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"]


def test_reported_name_is_tried_first() -> None:
    assert factors.find(["gpt-4o-2024-05-13", "gpt-4"]).model == "gpt-4o"  # type: ignore[union-attr]
    assert factors.find([None, "gpt-4"]).model == "gpt-4"  # type: ignore[union-attr]


def test_tracker_figures_by_hand() -> None:
    e = estimate("openai", "gpt-3.5-turbo-0125", 10, 9)
    assert e.tracker_g == pytest.approx(19 * 0.00246) and round(e.tracker_g, 4) == 0.0467
    assert estimate("openai", "gpt-4o-mini", 0, 500).tracker_g == pytest.approx(0.105)
    assert estimate("openai", "gpt-4", 100, 50).tracker_g == pytest.approx(150 * 0.00553)
    half = estimate("openai", "gpt-4o", None, 100)
    assert half.tracker_g == pytest.approx(100 * 0.00339) and "prompt count unknown" in " ".join(half.notes)


def test_no_factor_is_a_result_not_a_crash() -> None:
    e = estimate("deepseek", "deepseek-chat", 100, 200)
    assert e.tracker_g is None and any("no factor for 'deepseek-chat'" in n for n in e.notes)
    assert e.ecologits_g_min is not None  # EcoLogits still estimates it from the catalog's parameters
    nothing = estimate("openai", "gpt-4o", None, None)
    assert nothing == Emissions(notes=["no token usage reported: nothing to estimate from"])


def test_custom_factors_course_shape_and_precedence() -> None:
    custom = {"my-model": {"per_prompt_token": 0.001, "per_completion_token": 0.003,
                           "reference_url": "https://example.org/factor"},
              "gpt-4o-mini": {"per_prompt_token": 0.0, "per_completion_token": 0.01}}
    checked = factors.set_custom(custom)
    assert checked["my-model"].reference_url == "https://example.org/factor"
    assert estimate("openrouter", "my-model", 10, 20).tracker_g == pytest.approx(10 * 0.001 + 20 * 0.003)
    assert estimate("openai", "gpt-4o-mini-2024-07-18", 100, 10).tracker_g == pytest.approx(0.1)
    factors.set_custom(None)
    assert estimate("openai", "gpt-4o-mini", 100, 10).tracker_g == pytest.approx(110 * 0.00021)


def test_custom_factors_from_file_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "factors.json"
    path.write_text(json.dumps({"llama3.2": {"per_prompt_token": 0.0001, "per_completion_token": 0.0002}}))
    monkeypatch.setenv("LLMLAB_EMISSION_FACTORS", str(path))
    e = estimate("ollama", "llama3.2", 100, 100)
    assert e.tracker_g == pytest.approx(0.03) and "custom (factors.json)" in e.notes[0]


@pytest.mark.parametrize(("bad", "says"), [
    ({"m": {"per_prompt_token": -1, "per_completion_token": 0}}, "non-negative"),
    ({"m": {"per_prompt_token": "0.1", "per_completion_token": 0}}, "non-negative"),
    ({"m": {"per_prompt_token": math.nan, "per_completion_token": 0}}, "non-negative"),
    ({"m": {"per_prompt_token": True, "per_completion_token": 0}}, "non-negative"),
    ({"m": {"per_prompt_token": 0.1}}, "lack per_completion_token"),
    ({"m": {"per_prompt_token": 0.1, "per_completion_token": 0.1, "per_tokn": 1}}, "unknown fields"),
    ({"m": 0.1}, "must be a dict"),
    ({"": {"per_prompt_token": 0.1, "per_completion_token": 0.1}}, "non-empty string"),
    ([("m", 1)], "dict of models"),
])
def test_custom_factor_validation(bad: object, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as err:
        factors.set_custom(bad)  # type: ignore[arg-type]
    assert err.value.hint  # every message says how to fix it
    assert factors.find(["m"]) is None  # nothing half-applied


def _dense_kwh(params_b: float, tokens: int, pue: float) -> float:
    """EcoLogits' published model for a dense model on one 80 GB GPU, computed by hand (kWh)."""
    gpu_wh_per_token = 1.1665273170451914e-06 * math.exp(-0.011205921025579175 * 64) * params_b + 4.052928146734005e-05
    gpu_kwh = tokens * gpu_wh_per_token / 1000
    gpus = 2 ** math.ceil(math.log2(math.ceil(1.2 * params_b * 16 / 8 / 80)))
    latency_s = tokens * (0.0006785088094353663 * params_b + 0.0003119310311688259 * 64 + 0.019473717579473387)
    server_kwh = latency_s / 3600 * 1.2 * gpus / 8 / 64
    return pue * (server_kwh + gpus * gpu_kwh)


def test_ecologits_from_parameters_by_hand() -> None:
    r = ecologits_range.from_parameters(8, 8, 100, None, "WOR")
    # huggingface_hub data-centre PUE 1.09–1.14; world mix 0.45829 kg CO2e/kWh
    assert r.kwh_min == pytest.approx(_dense_kwh(8, 100, 1.09), rel=1e-9)
    assert r.kwh_max == pytest.approx(_dense_kwh(8, 100, 1.14), rel=1e-9)
    latency_s = 100 * (0.0006785088094353663 * 8 + 0.0003119310311688259 * 64 + 0.019473717579473387)
    embodied_kg = latency_s * (1 / 8 * 5700 + 1 * 273) / (3 * 365 * 24 * 3600 * 64)
    assert r.g_min == pytest.approx((r.kwh_min * 0.45829 + embodied_kg) * 1000, rel=1e-9)
    assert r.g_max == pytest.approx((r.kwh_max * 0.45829 + embodied_kg) * 1000, rel=1e-9)
    assert r.how == "parameters 8B active / 8B total" and r.zone == "WOR"


def test_ecologits_registry_matches_the_documented_example() -> None:
    usa = ecologits_range.estimate("openai", "gpt-4o-mini", 500, 5.0, zone_="USA")
    assert not isinstance(usa, str)
    assert (round(usa.g_min, 4), round(usa.g_max, 4)) == (0.0127, 0.0153)  # 12.7–15.3 mg
    world = ecologits_range.estimate("openai", "gpt-4o-mini", 500, 5.0)
    assert not isinstance(world, str) and world.zone == "WOR"
    assert world.kwh_min == pytest.approx(usa.kwh_min) and world.g_min > usa.g_min  # same energy, dirtier mix
    assert world.how == "registry openai/gpt-4o-mini" and world.warnings


@pytest.mark.parametrize(("provider", "model", "how"), [
    ("gemini", "gemini-2.5-flash-lite", "registry google_genai/gemini-2.5-flash-lite"),
    ("google", "gemini-2.5-flash", "registry google_genai/gemini-2.5-flash"),
    ("groq", "openai/gpt-oss-20b", "registry huggingface_hub/openai/gpt-oss-20b"),
    ("openrouter", "openai/gpt-4.1-mini", "registry openai/gpt-4.1-mini"),
    ("openrouter", "anthropic/claude-haiku-4-5", "registry anthropic/claude-haiku-4-5"),
    ("stub", "gpt-35-turbo", "registry openai/gpt-3.5-turbo"),
    ("openai", "gpt-3.5-turbo-0125", "registry openai/gpt-3.5-turbo-0125"),
    ("openai", "gpt-4o-mini-2024-07-18", "registry openai/gpt-4o-mini-2024-07-18"),
    ("groq", "llama-3.3-70b-versatile", "parameters 70B active / 70B total"),
    ("openrouter", "meta-llama/llama-3.3-70b-instruct", "parameters 70B active / 70B total"),
    ("deepseek", "deepseek-chat", "parameters 37B active / 671B total"),
    ("grok", "grok-4", "parameters 86B active / 314B total"),
    ("ollama", "llama3.2", "parameters 3.2B active / 3.2B total"),
])
def test_ecologits_provider_mapping(provider: str, model: str, how: str) -> None:
    r = ecologits_range.estimate(provider, model, 100, 2.0)
    assert not isinstance(r, str) and r.how == how
    assert 0 < r.g_min <= r.g_max and 0 < r.kwh_min <= r.kwh_max


def test_ecologits_unknown_model_and_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = ecologits_range.estimate("openai", "no-such-model", 10)
    assert isinstance(reason, str) and "params_b" in reason
    assert ecologits_range.estimate("openai", "gpt-4o", None).startswith("EcoLogits: the provider reported no")
    monkeypatch.setenv("LLMLAB_COUNTRY", "XYZ")
    with pytest.raises(ConfigError, match="LLMLAB_COUNTRY"):
        ecologits_range.zone()
    e = estimate("openai", "gpt-4o", 10, 10)  # a bad zone is a note on the answer, not a crash
    assert e.ecologits_g_min is None and e.tracker_g is not None and "LLMLAB_COUNTRY" in " ".join(e.notes)


def test_zone_setting_changes_grams_not_energy(monkeypatch: pytest.MonkeyPatch) -> None:
    world = estimate("openai", "gpt-4o", 10, 100)
    monkeypatch.setenv("LLMLAB_COUNTRY", "fra")
    france = estimate("openai", "gpt-4o", 10, 100)
    assert france.ecologits_kwh_min == pytest.approx(world.ecologits_kwh_min)
    assert france.ecologits_g_max < world.ecologits_g_max / 2  # nuclear-heavy grid
    assert france.tracker_g == world.tracker_g  # the tracker's factor ignores the grid
    assert "zone FRA" in " ".join(france.notes)


def test_importing_ecologits_leaves_the_logger_class_alone() -> None:
    code = ("import logging; before = logging.getLoggerClass(); from helpers.estimates.emissions import estimate; "
            "estimate('openai', 'gpt-4o', 1, 1); print(logging.getLoggerClass() is before, "
            "logging.getLogger('ecologits').level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["True", "40"] and "architecture" not in out.stderr


def test_annotate_keeps_measurement_and_notes() -> None:
    a = Answer(spec="openai/gpt-4o-mini", provider="openai", model="gpt-4o-mini",
               usage=Usage(prompt_tokens=0, completion_tokens=500), latency_s=5.0,
               emissions=Emissions(measured_g=1.5, measured_kwh=0.002, notes=["earlier"]))
    annotate(a)
    assert a.emissions.tracker_g == pytest.approx(0.105) and a.emissions.ecologits_g_min is not None
    assert (a.emissions.measured_g, a.emissions.measured_kwh) == (1.5, 0.002)
    assert a.emissions.notes[0] == "earlier" and a.g_co2e == 1.5


def test_annotate_headline_is_ecologits_midpoint() -> None:
    a = Answer(spec="openai/gpt-4o", provider="openai", model="gpt-4o", usage=Usage(20, 80), latency_s=1.0)
    annotate(a)
    e = a.emissions
    assert a.g_co2e == pytest.approx((e.ecologits_g_min + e.ecologits_g_max) / 2)
