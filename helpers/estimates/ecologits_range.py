"""EcoLogits estimates for one call: energy (kWh) and GWP (g CO2e) as min–max ranges.

Models in EcoLogits' registry go through ``ecologits.tracers.utils.llm_impacts``; others through its
estimation core ``compute_llm_impacts`` with the parameter counts of our model catalog. EcoLogits counts
**output tokens only** (the tracker's factors count prompt tokens too). The electricity-mix zone is
``LLMLAB_COUNTRY`` (an ISO-3 code such as FRA, or WOR for the world average; default WOR).

EcoLogits is imported on first use; its import-time change of the logging class is undone and its own
logger is quietened (its warnings come back in the result as notes instead).

Per call, only what depends on the call is computed: the registry lookup, the zone's mix and the order of
EcoLogits' impact graph are found once (its ``DAG.execute`` sorts the same fixed graph on every call, about
half of its cost; upstream, the order could be kept where the graph is built).
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from helpers import catalog, settings
from helpers.answer import Range
from helpers.errors import ConfigError
from helpers.estimates.factors import variants

COUNTRY_ENV = "LLMLAB_COUNTRY"
DEFAULT_ZONE = "WOR"
# Data-centre assumptions for models estimated from parameter counts (EcoLogits' open-weight host figures).
PARAMS_PROVIDER = "huggingface_hub"


@dataclass(frozen=True)
class EcoRange:
    """EcoLogits' result for one call: grams CO2e and kWh as ranges; ``how`` names the path taken."""

    g: Range
    kwh: Range
    how: str
    zone: str
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def g_min(self) -> float:
        return self.g.min

    @property
    def g_max(self) -> float:
        return self.g.max

    @property
    def kwh_min(self) -> float:
        return self.kwh.min

    @property
    def kwh_max(self) -> float:
        return self.kwh.max


@functools.cache
def _lib() -> ModuleType:
    """``ecologits.tracers.utils``, imported without leaving a changed logger class behind."""
    previous = logging.getLoggerClass()
    try:
        from ecologits.tracers import utils
    finally:
        logging.setLoggerClass(previous)
    logging.getLogger("ecologits").setLevel(logging.ERROR)
    _sort_graph_once()
    return utils


def warm() -> None:
    """Import EcoLogits now (it takes a while), e.g. before requests are in flight."""
    _lib()


class _Sorted:
    """Stands in for the ``graphlib.TopologicalSorter`` EcoLogits builds per call: the same order, kept."""

    def __init__(self, order: tuple[str, ...]) -> None:
        self.order = order

    def static_order(self) -> Iterator[str]:
        return iter(self.order)


def _sort_graph_once() -> None:
    """Give EcoLogits' LLM impact graph (fixed once its module is imported) an order sorted once.

    ``DAG.execute`` calls ``self.build_dag().static_order()``; this instance's ``build_dag`` now returns
    that order without sorting again. Same graph, same order, same numbers (tests compare them)."""
    from ecologits.impacts import llm

    dag = llm.dag
    if "build_dag" not in vars(dag) and callable(getattr(dag, "build_dag", None)):
        order = tuple(dag.build_dag().static_order())
        vars(dag)["build_dag"] = lambda: _Sorted(order)  # this instance only; the class is untouched


@functools.lru_cache(maxsize=64)
def _mix(zone_: str) -> Any:
    return _lib().electricity_mixes.find_electricity_mix(zone=zone_)


def zone() -> str:
    """The electricity-mix zone in force (``LLMLAB_COUNTRY``, default WOR); ConfigError if EcoLogits lacks it."""
    value = (settings.get(COUNTRY_ENV) or DEFAULT_ZONE).strip().upper()
    if _mix(value) is None:
        raise ConfigError(f"{COUNTRY_ENV}={value!r} is not an electricity-mix zone EcoLogits knows",
                          hint="Use an ISO 3166-1 alpha-3 country code such as FRA, DEU or USA, or WOR for "
                               "the world average.")
    return value


def _catalog_provider(provider: str) -> catalog.Provider | None:
    try:
        return catalog.provider(provider)
    except ConfigError:
        return None


def registry_candidates(provider: str, model: str, model_reported: str | None = None) -> list[tuple[str, str]]:
    """(EcoLogits provider, model name) pairs to look up, best first."""
    out: list[tuple[str, str]] = []
    known = _catalog_provider(provider)
    vendors = catalog.ecologits_vendors()
    mapped = known.ecologits_provider if known else vendors.get(provider)
    if mapped and model_reported:  # what really answered, e.g. the dated gpt-3.5-turbo-0125
        out.append((mapped, model_reported))
    info = known.models.get(model) if known else None
    if info and info.ecologits:
        eco_provider, _, name = info.ecologits.partition("/")
        out.append((eco_provider, name))
    names = [n for n in (model_reported, model) if n]
    if mapped:
        out += [(mapped, n) for n in names]
        out += [(mapped, v) for n in names for v in variants(n)]
    if (known and known.ecologits_hub) or not mapped:
        for n in names:
            vendor, _, rest = n.partition("/")
            if rest and vendor in vendors:  # e.g. openrouter's "openai/gpt-4.1-mini"
                out.append((vendors[vendor], rest))
                out += [(vendors[vendor], v) for v in variants(rest)]
            out.append(("huggingface_hub", n))
    return list(dict.fromkeys(out))


def _dated(eco_provider: str, name: str) -> str | None:
    """The registry's dated entry for an undated name (claude-sonnet-4-5 → claude-sonnet-4-5-20250929)."""
    pattern = re.compile(re.escape(name) + r"-\d{8}$")
    found = sorted(m.name for m in _lib().models.list_models()
                   if getattr(m.provider, "value", m.provider) == eco_provider and pattern.match(m.name))
    return found[-1] if found else None


def find_registry(provider: str, model: str, model_reported: str | None = None) -> tuple[str, str] | None:
    """The first registry entry that exists for this model, or None.

    Each candidate is tried as given, then with dots as dashes (OpenRouter writes claude-sonnet-4.5 where
    Anthropic writes claude-sonnet-4-5), then as the registry's dated entry of that name. Looked up once
    per model (what the catalog says about it is part of the key)."""
    known = _catalog_provider(provider)
    info = known.models.get(model) if known else None
    catalog_entry = (info.ecologits if info else None, known.ecologits_provider if known else None,
                     known.ecologits_hub if known else None)
    return _find_registry(provider, model, model_reported, catalog_entry)


@functools.lru_cache(maxsize=1024)
def _find_registry(provider: str, model: str, model_reported: str | None, _catalog_entry: tuple[Any, ...]
                   ) -> tuple[str, str] | None:
    models = _lib().models
    candidates = registry_candidates(provider, model, model_reported)
    for eco_provider, name in candidates:
        if eco_provider in _lib().PROVIDER_CONFIG_MAP and models.find_model(eco_provider, name) is not None:
            return eco_provider, name
    for eco_provider, name in candidates:
        if eco_provider not in _lib().PROVIDER_CONFIG_MAP or eco_provider == PARAMS_PROVIDER:
            continue
        for spelling in dict.fromkeys([name.replace(".", "-"), name]):
            if models.find_model(eco_provider, spelling) is not None:
                return eco_provider, spelling
            dated = _dated(eco_provider, spelling)
            if dated:
                return eco_provider, dated
    return None


@dataclass(frozen=True)
class _Entry:
    """What EcoLogits' ``llm_impacts`` reads from its registry for one model (looked up once)."""

    active: Any
    total: Any
    tps: float | None
    ttft: float | None
    pue: Any
    wue: Any
    warnings: tuple[Any, ...]


@functools.lru_cache(maxsize=256)
def _entry(eco_provider: str, name: str) -> _Entry:
    lib = _lib()
    model = lib.models.find_model(provider=eco_provider, model_name=name)
    params = model.architecture.parameters
    moe = isinstance(params, lib.ParametersMoE)
    config = lib.PROVIDER_CONFIG_MAP[eco_provider]
    deployment = model.deployment
    return _Entry(params.active if moe else params, params.total if moe else params,
                  deployment.tps if deployment else None, deployment.ttft if deployment else None,
                  config.datacenter_pue, config.datacenter_wue,
                  tuple(model.warnings or ()) if model.has_warnings else ())


def _registry_impacts(eco_provider: str, name: str, output_tokens: int, latency_s: float, zone_: str) -> EcoRange:
    """What ``llm_impacts(eco_provider, name, output_tokens, latency_s, zone_)`` gives, without looking the
    model and the zone up again and without its second validation of the result."""
    entry, mix = _entry(eco_provider, name), _mix(zone_)
    impacts = _lib().compute_llm_impacts(
        model_active_parameter_count=entry.active, model_total_parameter_count=entry.total,
        output_token_count=output_tokens, request_latency=latency_s, if_electricity_mix_adpe=mix.adpe,
        if_electricity_mix_pe=mix.pe, if_electricity_mix_gwp=mix.gwp, if_electricity_mix_wue=mix.wue,
        datacenter_pue=entry.pue, datacenter_wue=entry.wue, tps=entry.tps, ttft=entry.ttft)
    codes: set[Any] = set()
    notes = []
    for w in [*entry.warnings, *(mix.warnings if mix.has_warnings else [])]:  # the first of a code, as EcoLogits
        if w.code not in codes:
            codes.add(w.code)
            notes.append(str(w.message))
    g_min, g_max = _bounds(impacts.gwp.value)
    kwh_min, kwh_max = _bounds(impacts.energy.value)
    return EcoRange(Range(g_min * 1000, g_max * 1000), Range(kwh_min, kwh_max), f"registry {eco_provider}/{name}",
                    zone_, tuple(notes))


def _bounds(value: object) -> tuple[float, float]:
    low, high = getattr(value, "min", value), getattr(value, "max", value)
    return float(low), float(high)  # type: ignore[arg-type]


def _result(impacts: object, how: str, zone_: str) -> EcoRange:
    g_min, g_max = _bounds(impacts.gwp.value)  # type: ignore[attr-defined]
    kwh_min, kwh_max = _bounds(impacts.energy.value)  # type: ignore[attr-defined]
    notes = tuple(str(w.message) for w in (getattr(impacts, "warnings", None) or []))
    return EcoRange(Range(g_min * 1000, g_max * 1000), Range(kwh_min, kwh_max), how, zone_, notes)


def from_parameters(active_b: float, total_b: float, output_tokens: int, latency_s: float | None = None,
                    zone_: str | None = None) -> EcoRange:
    """EcoLogits' core with given parameter counts (billions); data-centre figures of open-weight hosts."""
    lib = _lib()
    zone_ = zone_ or zone()
    mix = _mix(zone_)
    config = lib.PROVIDER_CONFIG_MAP[PARAMS_PROVIDER]
    impacts = lib.compute_llm_impacts(
        model_active_parameter_count=active_b, model_total_parameter_count=total_b,
        output_token_count=output_tokens, request_latency=latency_s if latency_s else math.inf,
        if_electricity_mix_adpe=mix.adpe, if_electricity_mix_pe=mix.pe, if_electricity_mix_gwp=mix.gwp,
        if_electricity_mix_wue=mix.wue, datacenter_pue=config.datacenter_pue, datacenter_wue=config.datacenter_wue)
    return _result(impacts, f"parameters {active_b:g}B active / {total_b:g}B total", zone_)


def estimate(provider: str, model: str, output_tokens: int | None, latency_s: float | None = None,
             model_reported: str | None = None, zone_: str | None = None) -> EcoRange | str:
    """EcoLogits' range for one call, or the reason there is none (a string). ``zone_`` overrides the setting."""
    if output_tokens is None:
        return "EcoLogits: the provider reported no output token count"
    zone_ = zone_ or zone()
    found = find_registry(provider, model, model_reported)
    if found is not None and _mix(zone_) is not None:
        return _registry_impacts(found[0], found[1], output_tokens, latency_s if latency_s else math.inf, zone_)
    known = _catalog_provider(provider)
    info = known.models.get(model) if known else None
    if info and info.params_b:
        return from_parameters(info.active_b or info.params_b, info.params_b, output_tokens, latency_s, zone_)
    return (f"EcoLogits: '{model}' is not in its registry and the catalog has no parameter count "
            f"(add params_b/active_b to assets/models.yaml)")
