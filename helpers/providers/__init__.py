"""Provider adapters, one class per API family (see ``helpers.providers.base.Adapter``).

``adapter(api)`` returns the adapter for a catalog ``api`` value. Adapters are imported on first use, so an
SDK that is not needed is never imported. The first use imports the adapter's SDK too, one thread at a time:
two threads importing parts of one package for the first time at once (``ask_many`` over the stub and an
OpenAI-compatible model) can see it half-initialised ("cannot import name … from partially initialized
module"). A module sits in ``sys.modules`` while it is still being imported, so only a finished import is
remembered as ready. The SDKs share transports: the openai SDK looks ``httpx`` up in ``sys.modules`` while a
client is built, so if google-genai's import of ``httpx`` is still under way in another thread, building an
OpenAI client fails ("partially initialized module 'httpx'"). Hence ``SHARED`` is imported, whole, under the
same lock before the first adapter's SDK, and ``load(apis)`` imports every adapter a fan-out needs before its
threads start (``scripts/import_race.py`` reproduces the race: 4 runs in 10 before, 0 after).
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from helpers.providers.base import Adapter

ADAPTERS = {  # catalog api -> "module:class"
    "openai": "helpers.providers.openai_compat:OpenAICompatible",
    "anthropic": "helpers.providers.anthropic_native:Anthropic",
    "google": "helpers.providers.google_native:Google",
    "local": "helpers.providers.local:Local",
    "stub": "helpers.providers.stub:Stub",
}
SHARED = ("httpx", "httpx2")  # transports several SDKs import or look up; imported whole before any SDK
_first_import = threading.Lock()
_ready: dict[str, Adapter] = {}


def ready(api: str) -> bool:
    """Whether the adapter (and its SDK) is imported already: its first use need not wait for an import."""
    return api in _ready


def load(apis: Iterable[str]) -> None:
    """Import the adapters (and their SDKs) for these catalog ``api`` values now, one after the other: call it
    before threads that use them start."""
    for api in dict.fromkeys(apis):
        adapter(api)


def adapter(api: str) -> Adapter:
    """The adapter for a catalog ``api`` value (its SDK imported, once, under a lock)."""
    found = _ready.get(api)
    if found is not None:
        return found
    with _first_import:
        if api not in _ready:
            module_name, class_name = ADAPTERS[api].split(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            for sdk in (*SHARED, *cls.sdks) if cls.sdks else ():
                with contextlib.suppress(ImportError):  # a missing SDK is for the adapter to explain
                    importlib.import_module(sdk)
            _ready[api] = cls()
        return _ready[api]
