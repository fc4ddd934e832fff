"""`llmlab keys`: which API keys are set (masked) and what looks wrong with them."""

from __future__ import annotations

import argparse

from helpers import keys, settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("keys", help="show which API keys are set (masked) and warn about mistakes",
                       description="Show each provider key as set / not set (first characters only), with "
                                   "warnings that name the fix. Reads .env at the project root.")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    source = settings.load_env()
    print(f".env: {source if source else 'none found (' + str(settings.env_file()) + ')'}")
    problems = 0
    statuses = keys.status()
    for s in statuses:
        state = f"set      {s.shown}" if s.is_set else "not set"
        print(f"  {s.variable:<20} {state:<30} {', '.join(s.providers)}")
        for w in s.warnings:
            problems += 1
            print(f"      ⚠ {w}")
        if not s.is_set:
            print(f"      get one at {s.key_url}")
    print("  (no key needed)        local/smollm2 (bundled engine), stub/gpt-35-turbo, ollama/…")
    shown = {s.variable for s in statuses}
    for line in (e for e in keys.env_problems() if e.variable not in shown):
        problems += 1
        print(f"  ⚠ {line.message}")
    return 1 if problems else 0
