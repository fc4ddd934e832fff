"""One way to read settings: the process environment plus the project's `.env` file.

Nothing happens at import time. `load_env()` reads `.env` (once per process unless forced) with
python-dotenv's ``override=True``, as the course does; tests point ``LLMLAB_ENV_FILE`` elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS = PROJECT_ROOT / "assets"

_loaded_from: Path | None = None  # the .env path last looked at (read, or found missing)


def env_file() -> Path:
    """The `.env` file to read: ``LLMLAB_ENV_FILE`` or `<project root>/.env`."""
    return Path(os.environ.get("LLMLAB_ENV_FILE") or PROJECT_ROOT / ".env")


def load_env(force: bool = False) -> Path | None:
    """Load `.env` into ``os.environ`` (values in the file win). Returns the file read, or None.

    Read once per process and path; ``force=True`` reads it again (e.g. after editing `.env`).
    """
    global _loaded_from
    path = env_file()
    if force or _loaded_from != path:
        _loaded_from = path
        if path.is_file():
            from dotenv import load_dotenv

            load_dotenv(path, override=True)
    return path if path.is_file() else None


def get(name: str, default: str | None = None) -> str | None:
    """A setting from the environment (after loading `.env`); empty strings count as unset."""
    if _loaded_from != env_file():
        load_env()
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def home() -> Path:
    """Where LLM Lab writes its files (run log, engine state): ``LLMLAB_HOME`` or `<root>/runs`."""
    return Path(get("LLMLAB_HOME") or PROJECT_ROOT / "runs")


def db_path() -> Path:
    """The SQLite run log: ``LLMLAB_DB`` or `<home>/llmlab.db`."""
    return Path(get("LLMLAB_DB") or home() / "llmlab.db")


def timeout_seconds() -> float:
    """Default request timeout (``LLMLAB_TIMEOUT``, seconds)."""
    return float(get("LLMLAB_TIMEOUT") or 60)


def max_retries() -> int:
    """How often 429/5xx/connection errors are retried (``LLMLAB_MAX_RETRIES``)."""
    return int(get("LLMLAB_MAX_RETRIES") or 2)
