"""Provider adapters, one per API family. Each module exposes ``complete(request)`` and
``async acomplete(request)`` returning an Answer (text, usage, reasoning, timing) or raising a LabError.

Adapters are imported on first use, so an SDK that is not needed is never imported. The first use
imports the adapter's SDK too, one thread at a time: two threads importing parts of one package for the
first time at once (``ask_many`` over the stub and an OpenAI-compatible model) can see it half-initialised
("cannot import name … from partially initialized module 'openai.types.chat'"). A module sits in
``sys.modules`` while it is still being imported, so only a finished import is remembered as ready.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from types import ModuleType

MODULES = {
    "openai": "helpers.providers.openai_compat",
    "anthropic": "helpers.providers.anthropic_native",
    "google": "helpers.providers.google_native",
    "local": "helpers.providers.local",
    "stub": "helpers.providers.stub",
}
SDKS = {"openai": ("openai",), "anthropic": ("anthropic",), "google": ("google.genai",),
        "local": ("openai", "httpx"), "stub": ("openai",)}
_first_import = threading.Lock()
_ready: dict[str, ModuleType] = {}


def adapter(api: str) -> ModuleType:
    """The adapter module for a catalog ``api`` value (its SDK imported, once, under a lock)."""
    module = _ready.get(api)
    if module is not None:
        return module
    with _first_import:
        if api not in _ready:
            for sdk in SDKS[api]:
                with contextlib.suppress(ImportError):  # a missing SDK is for the adapter to explain
                    importlib.import_module(sdk)
            _ready[api] = importlib.import_module(MODULES[api])
        return _ready[api]
