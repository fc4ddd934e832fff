"""api-emissions-tracker factors: grams CO2e per prompt and per completion token, by model name.

The factors are read from the installed package's ``emission_factors.json`` *without importing the
package* (importing it wraps openai's ``Completions.create`` for the whole process). Custom factors use the
course's shape ``{"model": {"per_prompt_token": g, "per_completion_token": g, "reference_url": url}}`` and
win over the package's. Names are normalised so dated and Azure spellings find their factor; a model with
no factor gives ``None`` (a result, not an exception).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import settings
from helpers.errors import ConfigError

TRACKER_PACKAGE = "api_emissions_tracker"
FACTORS_ENV = "LLMLAB_EMISSION_FACTORS"  # optional path of a JSON file of custom factors

_DATE = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")  # -2024-07-18, -20240718, -0125 / -0613
_custom: dict[str, Factor] = {}
_custom_lock = threading.Lock()


@dataclass(frozen=True)
class Factor:
    """Grams CO2e per token for one model, and where the figure comes from."""

    model: str
    per_prompt_token: float
    per_completion_token: float
    reference_url: str = ""
    source: str = "api-emissions-tracker"

    def grams(self, prompt_tokens: int | None, completion_tokens: int | None) -> float:
        """g CO2e for a call: prompt tokens × prompt factor + completion tokens × completion factor."""
        return (prompt_tokens or 0) * self.per_prompt_token + (completion_tokens or 0) * self.per_completion_token


def tracker_data_file() -> Path | None:
    """The installed tracker's ``emission_factors.json`` (found without importing the package)."""
    spec = importlib.util.find_spec(TRACKER_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "emission_factors.json"
        if path.is_file():
            return path
    return None


def _version(data_file: Path | None = None) -> str:
    """The tracker's version: from its dist-info folder beside the package (``importlib.metadata.version``
    scans every installed distribution, ~0.1-0.2 s in this venv), else from the metadata."""
    from importlib.metadata import PackageNotFoundError, version

    if data_file is not None:
        for info in sorted(data_file.parent.parent.glob(f"{TRACKER_PACKAGE}-*.dist-info")):
            return info.name[len(TRACKER_PACKAGE) + 1:-len(".dist-info")]
    try:
        return version("api-emissions-tracker")
    except PackageNotFoundError:
        return "?"


@functools.cache
def builtin() -> dict[str, Factor]:
    """The package's own factors by model name (empty when the package is not installed)."""
    path = tracker_data_file()
    if path is None:
        return {}
    raw = json.loads(path.read_text(encoding="utf-8"))
    return validate(raw, source=f"api-emissions-tracker {_version(path)}")


def _number(model: str, field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"emission factor {model}.{field}={value!r} is not a non-negative number",
                          hint="Give grams CO2e per token as a number, e.g. "
                               '{"my-model": {"per_prompt_token": 0.001, "per_completion_token": 0.002}}.')
    return float(value)


def validate(factors: Mapping[str, Any], source: str = "custom") -> dict[str, Factor]:
    """Check factors in the course's shape; returns Factor values or raises ConfigError naming the fix."""
    if not isinstance(factors, Mapping):
        raise ConfigError(f"emission factors must be a dict of models, not {type(factors).__name__}",
                          hint='Use {"model": {"per_prompt_token": g, "per_completion_token": g, '
                               '"reference_url": url}}.')
    out = {}
    for model, body in factors.items():
        if not isinstance(model, str) or not model.strip():
            raise ConfigError(f"emission factor model name {model!r} is not a non-empty string",
                              hint="Key each factor by the model name the provider reports, e.g. 'gpt-4o-mini'.")
        if not isinstance(body, Mapping):
            raise ConfigError(f"emission factors for '{model}' must be a dict, not {type(body).__name__}",
                              hint="Give per_prompt_token and per_completion_token (g CO2e per token).")
        missing = [f for f in ("per_prompt_token", "per_completion_token") if f not in body]
        if missing:
            raise ConfigError(f"emission factors for '{model}' lack {', '.join(missing)}",
                              hint="Give both per_prompt_token and per_completion_token (g CO2e per token).")
        unknown = sorted(set(body) - {"per_prompt_token", "per_completion_token", "reference_url"})
        if unknown:
            raise ConfigError(f"emission factors for '{model}' have unknown fields {unknown}",
                              hint="Allowed: per_prompt_token, per_completion_token, reference_url.")
        url = body.get("reference_url") or ""
        if not isinstance(url, str):
            raise ConfigError(f"emission factors for '{model}': reference_url must be a string",
                              hint="Give the source of the factor as a URL string, or leave it out.")
        out[model] = Factor(model, _number(model, "per_prompt_token", body["per_prompt_token"]),
                            _number(model, "per_completion_token", body["per_completion_token"]), url, source)
    return out


def set_custom(factors: Mapping[str, Any] | None) -> dict[str, Factor]:
    """Use these custom factors from now on in this process (None clears them). Validated first."""
    checked = validate(factors) if factors is not None else {}
    with _custom_lock:
        _custom.clear()
        _custom.update(checked)
    return checked


def load_custom(path: str | Path) -> dict[str, Factor]:
    """Read custom factors from a JSON file (course shape) and use them."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read emission factors from {path}: {exc}",
                          hint=f"Point {FACTORS_ENV} at a JSON file in the course's factor shape.") from exc
    return set_custom(raw)


@functools.cache
def _from_file(path: str) -> dict[str, Factor]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read emission factors from {path} ({FACTORS_ENV}): {exc}",
                          hint=f"Fix the file or unset {FACTORS_ENV}.") from exc
    return validate(raw, source=f"custom ({Path(path).name})")


def table() -> dict[str, Factor]:
    """All factors in force: the package's, then ``LLMLAB_EMISSION_FACTORS``, then ``set_custom`` ones."""
    merged = dict(builtin())
    path = settings.get(FACTORS_ENV)
    if path:
        merged.update(_from_file(path))
    with _custom_lock:
        merged.update(_custom)
    return merged


def variants(name: str) -> list[str]:
    """Spellings to try for a model name, most specific first.

    Lower case; the full name, then without a ``provider/`` prefix; each dated name before its undated
    base; ``gpt-3.5`` and Azure's ``gpt-35`` both. ``gpt-3.5-turbo-0125`` → gpt-3.5-turbo-0125,
    gpt-35-turbo-0125, gpt-3.5-turbo, gpt-35-turbo.
    """
    base = name.strip().lower()
    out: list[str] = []
    for n in dict.fromkeys([base, base.rsplit("/", 1)[-1]]):
        for v in dict.fromkeys([n, _DATE.sub("", n)]):
            out.append(v)
            if "gpt-3.5" in v:
                out.append(v.replace("gpt-3.5", "gpt-35"))
            elif "gpt-35" in v:
                out.append(v.replace("gpt-35", "gpt-3.5"))
    return list(dict.fromkeys(out))


def find(names: Iterable[str | None]) -> Factor | None:
    """The factor for the first name that has one (exactly, else a normalised spelling); None if none does.

    Pass the name the provider reported first: it is what really answered.
    """
    known = table()
    lowered = {k.lower(): f for k, f in known.items()}
    for n in (n for n in names if n):
        if n in known:
            return known[n]
        for v in variants(n):
            if v in lowered:
                return lowered[v]
    return None
