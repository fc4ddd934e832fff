"""API keys: where they come from, whether they look right, and how to show them safely.

A key is never shown beyond its first 8 characters (``mask``), and ``redact`` removes any key-shaped
string (and every configured key) from text before it reaches a log, a table or an exception.
"""

from __future__ import annotations

import os
import re
import unicodedata
from dataclasses import dataclass, field

from helpers import catalog, settings

SHOWN_CHARS = 8
PLACEHOLDERS = re.compile(r"x{4,}|your[-_ ]?(api[-_ ]?)?key|replace[-_ ]?me|changeme|<.*>|\.\.\.|^sk-\*+$|^todo$",
                          re.IGNORECASE)
KEY_SHAPES = re.compile(r"(sk-(?:proj-|ant-|or-)?|gsk_|xai-|AIza)[A-Za-z0-9_\-]{8,}")
CURLY = "\u2018\u2019\u201c\u201d\u00ab\u00bb"
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"


def mask(key: str | None) -> str:
    """At most the first 8 characters of a key, then an ellipsis; 'not set' for no key."""
    if not key:
        return "not set"
    shown = key[: min(SHOWN_CHARS, max(len(key) // 3, 1))]
    return f"{shown}…({len(key)} chars)"


def redact(text: str) -> str:
    """Text with every configured key and every key-shaped string replaced by its masked form."""
    if not text:
        return text
    for p in catalog.key_providers():
        value = os.environ.get(p.key_var or "")
        if value and len(value.strip()) >= 8:
            text = text.replace(value.strip(), mask(value.strip()))
    return KEY_SHAPES.sub(lambda m: mask(m.group(0)), text)


@dataclass
class KeyStatus:
    """What we can tell about one provider's key without calling the provider."""

    variable: str
    providers: list[str]
    key_url: str
    is_set: bool
    shown: str
    warnings: list[str] = field(default_factory=list)


def check_value(raw: str, prefixes: tuple[str, ...] = (), variable: str = "the key") -> list[str]:
    """Warnings about a key's value, each naming the fix. An empty list means it looks right."""
    out = []
    if raw != raw.strip():
        out.append(f"{variable} has leading or trailing whitespace: remove the spaces around the value in .env.")
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        out.append(f"{variable} is wrapped in quotes inside the value: write KEY=value or KEY=\"value\" once, "
                   "not nested quotes.")
    if any(c in CURLY for c in value):
        out.append(f"{variable} holds curly quotes (copied from a document?): retype the quotes as plain ' or \".")
    if any(c in DASHES for c in value):
        out.append(f"{variable} holds a long dash (– or —) where a hyphen '-' belongs: copy the key again from "
                   "the provider's page.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zs", "Zl", "Zp") for c in value):
        out.append(f"{variable} holds spaces or invisible characters: copy the key again as plain text.")
    if PLACEHOLDERS.search(value):
        out.append(f"{variable} looks like a placeholder ('{mask(value)}'): paste your real key into .env.")
    elif prefixes and not value.strip("'\"").startswith(prefixes):
        wanted = " or ".join(f"'{p}'" for p in prefixes)
        out.append(f"{variable} starts with '{value[:4]}…' but keys for this provider start with {wanted}: "
                   "check that the key is in the right variable.")
    return out


def unsendable(value: str, variable: str) -> tuple[str, str] | None:
    """(what is wrong, the fix) when no HTTP header can carry the key (non-ASCII or control characters)."""
    if value.isascii() and value.isprintable():
        return None
    fixes = " ".join(check_value(value, (), variable)) or "Copy the key again from the provider's page as plain text."
    return f"{variable} holds characters no HTTP header can carry, so the request was not sent", fixes


def env_problems() -> list[settings.EnvProblem]:
    """`.env` lines that do not set what they seem to (key and base-URL variables recognised by name)."""
    known = {name for p in catalog.providers().values() for name in (p.key_var, p.base_url_var) if name}
    return settings.env_file_problems(known)


def status() -> list[KeyStatus]:
    """Set / not set, masked prefix and warnings for every provider key (reads `.env` first).

    Warnings include `.env` lines meant for the key that python-dotenv could not read or that misspell it.
    """
    settings.load_env()
    everyone = catalog.providers().values()
    lines = env_problems()
    out = []
    for p in catalog.key_providers():
        raw = os.environ.get(p.key_var or "", "")
        sharing = [q.name for q in everyone if q.key_var == p.key_var]
        warnings = [e.message for e in lines if e.variable == p.key_var]
        warnings += check_value(raw, p.key_prefixes, p.key_var or "") if raw.strip() else []
        out.append(KeyStatus(variable=p.key_var or "", providers=sharing, key_url=p.key_url, is_set=bool(raw.strip()),
                             shown=mask(raw.strip()), warnings=warnings))
    return out


def missing_key_hint(provider: catalog.Provider) -> str:
    """How to fix a missing key, for error messages."""
    return (f"Set {provider.key_var} in the .env file at the project root (copy .env.example) or in your "
            f"environment; get a key at {provider.key_url}. Without keys, use local/smollm2 or stub/gpt-35-turbo.")
