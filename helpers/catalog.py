"""The model catalog (`assets/models.yaml`): providers, base URLs, keys, default and suggested models.

Loaded lazily and once. A provider's base URL can be overridden with ``<PROVIDER>_BASE_URL``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import settings
from helpers.errors import ConfigError

CATALOG_FILE = settings.ASSETS / "models.yaml"


@dataclass(frozen=True)
class ModelInfo:
    """What the catalog knows of one model (all optional facts)."""

    id: str
    params_b: float | None = None
    active_b: float | None = None
    params_note: str = ""
    ecologits: str | None = None
    price_ref: str | None = None
    reasoning: bool = False
    retired: bool = False


@dataclass(frozen=True)
class Provider:
    """One provider: how to reach it and which models it offers."""

    name: str
    label: str
    api: str
    key_var: str | None
    key_url: str = ""
    key_prefixes: tuple[str, ...] = ()
    default_base_url: str | None = None
    price_provider: str | None = None
    default_model: str = ""
    models: dict[str, ModelInfo] = field(default_factory=dict)
    local: bool = False
    offline: bool = False
    ecologits_provider: str | None = None  # EcoLogits' registry provider for this provider's models
    ecologits_hub: bool = False  # a host of open-weight models (huggingface_hub ids, vendor prefixes)
    batch: str | None = None  # the batch API this provider speaks (``openai``: Files + Batches), if any
    batch_discount: float | None = None  # its documented batch price as a fraction of the standard one

    @property
    def base_url_var(self) -> str:
        return f"{self.name.upper()}_BASE_URL"

    @property
    def base_url(self) -> str | None:
        """The base URL in force: ``<PROVIDER>_BASE_URL`` if set, else the catalog's."""
        return settings.get(self.base_url_var) or self.default_base_url

    @property
    def needs_key(self) -> bool:
        return self.key_var is not None

    def api_key(self) -> str | None:
        """The key from the environment/.env, stripped of surrounding blanks; None when unset."""
        if not self.key_var:
            return None
        value = settings.get(self.key_var)
        return value.strip() if value else None

    def has_key(self) -> bool:
        return not self.needs_key or bool(self.api_key())

    def model(self, model_id: str) -> ModelInfo:
        """Catalog facts for a model; an empty record for models the catalog does not list."""
        return self.models.get(model_id) or ModelInfo(id=model_id)

    def suggested(self) -> list[str]:
        return [m.id for m in self.models.values() if not m.retired]


def _provider(name: str, raw: dict[str, Any], source: Path) -> Provider:
    from helpers.providers import ADAPTERS

    api = raw.get("api")
    if api not in ADAPTERS:
        raise ConfigError(f"{source}: provider '{name}' has api '{api}'", hint=f"Use one of {', '.join(ADAPTERS)}.")
    models = {}
    for model_id, facts in (raw.get("models") or {}).items():
        facts = dict(facts or {})
        unknown = set(facts) - set(ModelInfo.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"{source}: model '{name}/{model_id}' has unknown fields {sorted(unknown)}")
        models[str(model_id)] = ModelInfo(id=str(model_id), **facts)
    return Provider(
        name=name,
        label=raw.get("label", name),
        api=api,
        key_var=raw.get("key_var"),
        key_url=raw.get("key_url", ""),
        key_prefixes=tuple(raw.get("key_prefixes") or ()),
        default_base_url=raw.get("base_url"),
        price_provider=raw.get("price_provider"),
        default_model=str(raw.get("default", "")),
        models=models,
        local=bool(raw.get("local", False)),
        offline=bool(raw.get("offline", False)),
        ecologits_provider=raw.get("ecologits_provider"),
        ecologits_hub=bool(raw.get("ecologits_hub", False)),
        batch=raw.get("batch"),
        batch_discount=raw.get("batch_discount"),
    )


@functools.cache
def _document(path: Path = CATALOG_FILE) -> dict[str, Any]:
    import yaml

    try:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: 15× faster, same result
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the model catalog {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"the model catalog {path} is not a mapping", hint="Restore assets/models.yaml.")
    return raw


@functools.cache
def load(path: Path = CATALOG_FILE) -> dict[str, Provider]:
    """All providers of a catalog file, by name (cached)."""
    raw = _document(path)
    return {name: _provider(name, body or {}, path) for name, body in (raw.get("providers") or {}).items()}


def preferred() -> tuple[str, ...]:
    """Providers in the course's order of preference (the catalog's ``preferred`` list)."""
    return tuple(str(name) for name in _document().get("preferred") or ())


def ecologits_vendors() -> dict[str, str]:
    """Vendor prefixes of router model ids (``openai/…``) and the EcoLogits provider each maps to."""
    return {str(k): str(v) for k, v in (_document().get("ecologits_vendors") or {}).items()}


def providers() -> dict[str, Provider]:
    return load()


def provider(name: str) -> Provider:
    """A provider by name, or a ConfigError listing the known ones."""
    known = load()
    if name not in known:
        raise ConfigError(
            f"unknown provider '{name}'",
            hint=f"Known providers: {', '.join(known)}. Write a model as provider/model-id, e.g. openai/gpt-4.1-mini.",
        )
    return known[name]


def key_providers() -> list[Provider]:
    """Providers that need a key, one per key variable (gemini and google share GOOGLE_API_KEY)."""
    seen, out = set(), []
    for p in load().values():
        if p.key_var and p.key_var not in seen:
            seen.add(p.key_var)
            out.append(p)
    return out


OFFLINE_DEFAULT = "local/smollm2"


def has_key(name: str) -> bool:
    """True when the provider needs no key or its key is set."""
    return provider(name).has_key()


def keyed_providers() -> list[str]:
    """Remote providers whose key is set, in the course's order of preference."""
    return [name for name in preferred() if name in load() and load()[name].needs_key and has_key(name)]


def default_spec() -> str:
    """The model to use when none is named: the first keyed provider's default, else the offline model."""
    keyed = keyed_providers()
    if keyed:
        p = provider(keyed[0])
        return f"{p.name}/{p.default_model}"
    return OFFLINE_DEFAULT
