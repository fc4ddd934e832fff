"""Model specs: ``provider/model-id[@param=value[,param=value…]]``.

The model id may itself contain slashes (``groq/openai/gpt-oss-20b``); parameter variants follow an
``@`` (``openai/gpt-5-nano@reasoning_effort=minimal``). A bare provider name means its default model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from helpers import catalog
from helpers.errors import ConfigError

_PARAM = re.compile(r"^[a-z_][a-z0-9_]*$")

TRANSPORT_PARAMS = ("stream", "timeout", "max_retries")
"""Parameters that change how a request travels, never the answer: the one list left out of the cache key
(``helpers.runlog.store.request_hash``) and of the parameters recorded in the run log
(``helpers.providers.base.public_params``)."""


def answer_params(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters that can change an answer: ``params`` without transport settings and unset values."""
    return {k: v for k, v in params.items() if k not in TRANSPORT_PARAMS and v is not None}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed spec: provider name, model id and the parameter variant (may be empty)."""

    provider: str
    model: str
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)

    @property
    def label(self) -> str:
        """The canonical spelling, e.g. ``openai/gpt-5-nano@reasoning_effort=low``."""
        base = f"{self.provider}/{self.model}"
        if not self.params:
            return base
        return base + "@" + ",".join(f"{k}={_show(v)}" for k, v in self.params.items())

    def __str__(self) -> str:
        return self.label


def _show(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _value(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse(spec: str | ModelSpec) -> ModelSpec:
    """Parse a spec string; raises ConfigError naming the fix for malformed or unknown ones."""
    if isinstance(spec, ModelSpec):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"a model spec must be a non-empty string, got {spec!r}",
                          hint="Write provider/model-id, e.g. openai/gpt-4.1-mini or local/smollm2.")
    text = spec.strip()
    base, _, variant = text.partition("@")
    name, _, model = base.partition("/")
    name = name.strip().lower()
    provider = catalog.provider(name)
    model = model.strip() or provider.default_model
    if not model:
        raise ConfigError(f"'{spec}' names no model and provider '{name}' has no default",
                          hint=f"Write {name}/<model-id>.")
    params: dict[str, Any] = {}
    for item in filter(None, re.split(r"[,@]", variant)):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not _PARAM.match(key) or not value.strip():
            raise ConfigError(f"malformed parameter '{item}' in spec '{spec}'",
                              hint="Parameters follow '@' as name=value, e.g. openai/gpt-5-nano@reasoning_effort=low.")
        params[key] = _value(value.strip())
    return ModelSpec(provider=name, model=model, params=params)
