"""Provider adapters, one per API family. Each module exposes ``complete(request)`` and
``async acomplete(request)`` returning an Answer (text, usage, reasoning, timing) or raising a LabError.

Adapters are imported on first use, so an SDK that is not needed is never imported.
"""

from __future__ import annotations

import importlib
from types import ModuleType

MODULES = {
    "openai": "helpers.providers.openai_compat",
    "anthropic": "helpers.providers.anthropic_native",
    "google": "helpers.providers.google_native",
    "local": "helpers.providers.local",
    "stub": "helpers.providers.stub",
}


def adapter(api: str) -> ModuleType:
    """The adapter module for a catalog ``api`` value."""
    return importlib.import_module(MODULES[api])
