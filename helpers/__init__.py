"""LLM Lab helpers: one package for the notebooks, labs, CLI and tests.

Importing it does nothing (no network, no file reads, no logging changes); names load on first use:

    from helpers import ask
    print(ask("local/smollm2", "Name a colour of the sky."))
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ask": "helpers.llm", "ask_async": "helpers.llm", "ask_many": "helpers.llm",
    "Answer": "helpers.answer", "Usage": "helpers.answer", "Emissions": "helpers.answer",
    "LabError": "helpers.errors", "Store": "helpers.runlog.store",
    "chat": "helpers.conversation", "Conversation": "helpers.conversation", "Seat": "helpers.conversation",
    "setup": "helpers.notebook",
}

__all__ = ["Answer", "Conversation", "Emissions", "LabError", "Seat", "Store", "Usage", "ask", "ask_async",
           "ask_many", "chat", "setup"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'helpers' has no attribute {name!r}")
