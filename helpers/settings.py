"""One way to read settings: the process environment plus the project's `.env` file.

Nothing happens at import time. `load_env()` reads `.env` (once per process unless forced) with
python-dotenv's ``override=True``, as the course does; tests point ``LLMLAB_ENV_FILE`` elsewhere.

Per-user files (the run log, the engine's state and log, `.env`) sit in the project folder of a personal
clone. When the project is a shared installation this user cannot write to (a classroom image, a
site-wide install), they go under the user's own home instead, ``~/.llmlab``, so users never share them.
``LLMLAB_HOME`` and ``LLMLAB_ENV_FILE`` choose the places explicitly (the classroom image sets both).
"""

from __future__ import annotations

import io
import os
import re
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from helpers.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS = PROJECT_ROOT / "assets"

_loaded_from: Path | None = None  # the .env path last looked at (read, or found missing)
_loaded_raw: str | None = None  # LLMLAB_ENV_FILE as it was then (so `get` compares a string, not a Path)
_load_lock = threading.Lock()


def shared_install(root: Path = PROJECT_ROOT) -> bool:
    """True when this user cannot write to the project folder (an installation shared by several users)."""
    return not os.access(root, os.W_OK)


def user_dir() -> Path:
    """Where a user's own files go when the installation is shared: `~/.llmlab` (HOME is per user)."""
    return Path.home() / ".llmlab"


def env_file() -> Path:
    """The `.env` file to read: ``LLMLAB_ENV_FILE``, else `<project root>/.env` (a shared install: `~/.llmlab/.env`)."""
    configured = os.environ.get("LLMLAB_ENV_FILE")
    if configured:
        return Path(configured).expanduser()
    return user_dir() / ".env" if shared_install() else PROJECT_ROOT / ".env"


def load_env(force: bool = False) -> Path | None:
    """Load `.env` into ``os.environ`` (values in the file win). Returns the file read, or None.

    Read once per process and path; ``force=True`` reads it again (e.g. after editing `.env`).
    """
    global _loaded_from, _loaded_raw
    raw = os.environ.get("LLMLAB_ENV_FILE")
    path = env_file()
    with _load_lock:  # threads (ask_many) must not read the environment while another one is loading it
        if force or _loaded_from != path:
            if path.is_file():
                from dotenv import load_dotenv

                load_dotenv(stream=io.StringIO(env_text(path)[0]), override=True)
            _loaded_from = path
        _loaded_raw = raw
    return path if path.is_file() else None


_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
         (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def env_text(path: Path) -> tuple[str, list[str]]:
    """The text of a `.env` file however an editor saved it, and what was odd about it (each with its fix).

    A byte-order mark says UTF-8/16/32 (Notepad's "Unicode" is UTF-16); else UTF-8; else Windows-1252 (an
    accented comment typed on Windows). NUL bytes are dropped. Never raises for the file's content.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return "", [f"{path.name} cannot be read ({exc}): check its permissions."]
    notes: list[str] = []
    encoding = next((name for bom, name in _BOMS if raw.startswith(bom)), None)
    if encoding in ("utf-16", "utf-32"):
        text = raw.decode(encoding, errors="replace")
        notes.append(f"{path.name} is saved as {encoding.upper()} (Notepad's \"Unicode\"); it was read, but save it "
                     "as UTF-8 (in Notepad: Save as → Encoding: UTF-8).")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
            notes.append(f"{path.name} is not UTF-8 (read as Windows-1252, e.g. an accented comment); save it as "
                         "UTF-8.")
    if "\x00" in text:
        text = text.replace("\x00", "")
        notes.append(f"{path.name} holds NUL bytes (dropped when read); save it again as plain UTF-8 text.")
    return text, notes


def get(name: str, default: str | None = None) -> str | None:
    """A setting from the environment (after loading `.env`); empty strings count as unset.

    The environment is read on every call (tests and notebooks change it between calls); `.env` is read
    again only when ``LLMLAB_ENV_FILE`` names another file. Cheap: a call path reads ~10 settings."""
    if _loaded_from is None or os.environ.get("LLMLAB_ENV_FILE") != _loaded_raw:
        load_env()
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def home() -> Path:
    """Where LLM Lab writes its files (run log, engine state): ``LLMLAB_HOME``, else `<root>/runs` (a shared
    install: `~/.llmlab/runs`)."""
    configured = get("LLMLAB_HOME")
    if configured:
        return Path(configured).expanduser()
    return user_dir() / "runs" if shared_install() else PROJECT_ROOT / "runs"


def db_path() -> Path:
    """The SQLite run log: ``LLMLAB_DB`` or `<home>/llmlab.db`."""
    configured = get("LLMLAB_DB")
    return Path(configured).expanduser() if configured else home() / "llmlab.db"


def _number(name: str, default: float, cast: Callable[[str], float], low: float, high: float, what: str) -> float:
    raw = get(name)
    if raw is None:
        return default
    try:
        value = cast(raw.strip())
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ConfigError(f"{name}={raw!r} is not valid",
                          hint=f"Set {name} to {what} in .env or the environment, or remove it for the default.")
    return value


def timeout_seconds() -> float:
    """Default request timeout (``LLMLAB_TIMEOUT``, seconds, default 60); ConfigError naming the fix if bad."""
    return float(_number("LLMLAB_TIMEOUT", 60.0, float, 0.001, 3600, "a number of seconds, e.g. LLMLAB_TIMEOUT=60"))


def max_retries() -> int:
    """How often 429/5xx/connection errors are retried (``LLMLAB_MAX_RETRIES``, default 2)."""
    return int(_number("LLMLAB_MAX_RETRIES", 2, int, 0, 20, "a whole number from 0 to 20, e.g. LLMLAB_MAX_RETRIES=2"))


@dataclass(frozen=True)
class EnvProblem:
    """A `.env` line that does not set what it seems to: the line, the variable it is about, and the fix."""

    line: int
    variable: str | None
    message: str


_NAME = re.compile(r"\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]*)\s*(=?)")


def env_file_problems(known: Collection[str] = (), path: Path | None = None) -> list[EnvProblem]:
    """Lines of `.env` that python-dotenv cannot read, name ``known`` variables without a value, or spell a
    ``known`` name differently (case, dashes). Messages never repeat a value (it may be a key)."""
    path = path or env_file()
    if not path.is_file():
        return []
    from dotenv.parser import parse_stream

    where = f"of {path.name}"
    out: list[EnvProblem] = []
    text, notes = env_text(path)
    out.extend(EnvProblem(0, None, note) for note in notes)
    for binding in parse_stream(io.StringIO(text)):
        n, name = binding.original.line, binding.key
        if binding.error:
            match = _NAME.match(binding.original.string)
            if match is None:
                out.append(EnvProblem(n, None, f"line {n} {where} cannot be read: write one setting per line as "
                                               "NAME=value, or start a comment with #."))
            elif match.group(2):
                name = match.group(1)
                out.append(EnvProblem(n, name, f"line {n} {where}: the value of {name} opens a quote that is not "
                                               f"closed: close the quote ({name}=\"value\") or drop the quotes."))
            else:
                name = match.group(1)
                out.append(EnvProblem(n, name, f"line {n} {where} does not set {name}: write {name}=value (an '=' "
                                               "between the name and the value, no ':' or space)."))
        elif name is None:
            continue
        elif name not in known and (spelled := name.upper().replace("-", "_").replace(".", "_")) in known:
            out.append(EnvProblem(n, spelled, f"line {n} {where} sets '{name}', but LLM Lab reads {spelled}: "
                                              f"write {spelled}=value (upper case, underscores)."))
        elif name in known and binding.value is None:
            out.append(EnvProblem(n, name, f"line {n} {where} names {name} without a value: write {name}=value."))
    return out
