"""`llmlab report`: tokens, dollars and g CO2e (by method) per provider, model and day, from the run log."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

from helpers import display
from helpers.errors import ConfigError
from helpers.estimates.methods import TOKENS_NOTE
from helpers.runlog import store as run_log
from helpers.runlog.totals import GROUPS, summary


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="tokens, cost and emissions per provider, model and day",
                       description="Sum the run log: calls, tokens, dollars and grams CO2e by method (tracker "
                                   "factor, EcoLogits range, CodeCarbon measurement) per provider, model and "
                                   "day (UTC). Answers served from the cache are counted but not summed: they "
                                   "cost and emitted nothing.")
    p.add_argument("--run", dest="run_id", metavar="RUN_ID", help="only this run")
    p.add_argument("--since", metavar="WHEN", help="only calls since a day (YYYY-MM-DD) or the last N days (7d)")
    p.add_argument("--by", default="provider,model,day",
                   help="grouping: any of provider, model, day, comma-separated (default: all three)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.set_defaults(run=run)


def since_iso(value: str, today: date | None = None) -> str:
    """A ``--since`` value as an ISO timestamp prefix: ``2026-11-01`` or ``7d`` (last 7 days, today included)."""
    value = value.strip()
    days = re.fullmatch(r"(\d+)\s*d", value)
    if days:
        start = (today or datetime.now(UTC).date()) - timedelta(days=int(days.group(1)) - 1)
        return start.isoformat()
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ConfigError(f"--since {value!r} is not a date",
                          hint="Use YYYY-MM-DD or a number of days like 7d.") from None


def groups(value: str) -> list[str]:
    chosen = [g.strip() for g in value.split(",") if g.strip()]
    bad = [g for g in chosen if g not in GROUPS]
    if bad or not chosen:
        raise ConfigError(f"--by {value!r} is not valid", hint=f"Use any of {', '.join(GROUPS)}, comma-separated.")
    return chosen


def _tokens(v: float | None) -> str:
    return "0" if not v else f"{int(v):,}"


def render(rows: list[dict[str, Any]], by: list[str]) -> str:
    """A plain-text table with a totals line and the note on what each method counts."""
    head = [*by, "calls", "err", "cached", "tokens in", "tokens out", "cost", "tracker", "EcoLogits", "measured",
            "kWh measured"]
    body = []
    for r in rows:
        eco = ("n/a" if r["ecologits_g_min"] is None
               else f"{display.fmt_g(r['ecologits_g_min'])}–{display.fmt_g(r['ecologits_g_max'])}")
        cost = display.fmt_cost(r["cost_usd"])
        if r["cost_usd"] is not None and r["cost_unknown"]:
            cost += f" (+{r['cost_unknown']} n/a)"
        body.append([*(str(r[g]) for g in by), str(r["calls"]), str(r["errors"] or 0), str(r["cached"] or 0),
                     _tokens(r["prompt_tokens"]), _tokens(r["completion_tokens"]), cost,
                     display.fmt_g(r["tracker_g"]), eco, display.fmt_g(r["measured_g"]),
                     "n/a" if r["measured_kwh"] is None else f"{r['measured_kwh']:.3g}"])
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(head)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, body_rule(widths), *body]]
    total = {c: sum(r[c] or 0 for r in rows) for c in ("calls", "prompt_tokens", "completion_tokens")}
    lines.append(f"\n{total['calls']} call(s), {_tokens(total['prompt_tokens'])} tokens in, "
                 f"{_tokens(total['completion_tokens'])} out. {TOKENS_NOTE}")
    return "\n".join(lines)


def body_rule(widths: list[int]) -> list[str]:
    return ["─" * w for w in widths]


def run(args: argparse.Namespace) -> int:
    by = groups(args.by)
    since = since_iso(args.since) if args.since else None
    store = run_log.default()
    if args.run_id and store.run(args.run_id) is None:
        raise ConfigError(f"no run {args.run_id!r} in {store.path}",
                          hint="List runs with `python -m helpers runs list`, or omit --run.")
    rows = summary(store, args.run_id, since, by)
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    elif not rows:
        print(f"No calls in the run log ({store.path}) for this selection.")
    else:
        print(render(rows, by))
    return 0
