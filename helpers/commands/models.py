"""`llmlab models`: the catalog's providers and models; with --check, what the provider offers now."""

from __future__ import annotations

import argparse

from helpers import catalog
from helpers.errors import ConfigError, LabError
from helpers.providers import adapter
from helpers.providers.base import Request


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list providers and models from the catalog",
                       description="List the model catalog (assets/models.yaml). With --check, ask each "
                                   "provider whose key is set which models it offers (its /models endpoint).")
    p.add_argument("provider", nargs="?", help="only this provider")
    p.add_argument("--check", action="store_true", help="ask the provider's /models endpoint (needs its key)")
    p.set_defaults(run=run)


def available(provider: catalog.Provider) -> list[str]:
    """Model ids the provider's API lists right now."""
    chosen = adapter(provider.api)
    if not chosen.lists_models:
        raise ConfigError(f"{provider.name} cannot list its models")
    request = Request(provider=provider, model=provider.default_model, messages=[], api_key=provider.api_key(),
                      base_url=provider.base_url, spec=provider.name)
    return chosen.list_models(request)


def run(args: argparse.Namespace) -> int:
    chosen = [catalog.provider(args.provider)] if args.provider else list(catalog.providers().values())
    status = 0
    for p in chosen:
        key = "no key needed" if not p.needs_key else (f"{p.key_var} set" if p.has_key() else f"{p.key_var} not set")
        print(f"{p.name:<11} {p.label}  [{key}]  {p.base_url or ''}")
        live: set[str] | None = None
        if args.check and p.has_key():
            try:
                live = set(available(p))
            except LabError as exc:
                status = 1
                print(f"    ⚠ {exc}")
        for m in p.models.values():
            mark = "" if live is None else ("  ✓ offered" if m.id in live else "  ✗ not offered")
            flags = [f for f, on in (("default", m.id == p.default_model), ("reasoning", m.reasoning),
                                     ("retired", m.retired)) if on]
            print(f"    {p.name}/{m.id}{'  (' + ', '.join(flags) + ')' if flags else ''}{mark}")
        if live:
            extra = sorted(live - set(p.models))
            if extra:
                print(f"    also offered: {', '.join(extra[:15])}{' …' if len(extra) > 15 else ''}")
    return status
