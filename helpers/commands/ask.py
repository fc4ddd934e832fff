"""`llmlab ask`: the same prompt to one or more models, answers side by side."""

from __future__ import annotations

import argparse
import json
import sys

from helpers import catalog, display
from helpers.llm import ask, ask_many


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask one or more models the same prompt",
                       description="Ask one or more models the same prompt and print the answers side by side "
                                   "with tokens, latency, cost and emissions. Without -m, the first provider "
                                   "whose key is set answers, else the offline model local/smollm2.")
    p.add_argument("prompt", nargs="+", help="the prompt (several words are joined)")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="SPEC",
                   help="provider/model-id[@param=value], repeatable (e.g. -m openai/gpt-4.1-mini -m local/smollm2)")
    p.add_argument("-s", "--system", help="system prompt")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--reasoning-effort", choices=["none", "minimal", "low", "medium", "high"])
    p.add_argument("--timeout", type=float, help="seconds per request")
    p.add_argument("--stream", action="store_true", help="stream (prints text as it arrives for one model; "
                                                         "measures time to first token)")
    p.add_argument("--no-cache", action="store_true", help="ask again even if the run log holds this answer")
    p.add_argument("--json", action="store_true", help="print the answers as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    models = args.models or [catalog.default_spec()]
    prompt = " ".join(args.prompt)
    params = {k: v for k, v in {"temperature": args.temperature, "max_tokens": args.max_tokens,
                                "seed": args.seed, "reasoning_effort": args.reasoning_effort,
                                "timeout": args.timeout}.items() if v is not None}
    live = args.stream and len(models) == 1 and not args.json
    if live:
        print(f"── {models[0]}", flush=True)
        answers = [ask(models[0], prompt, system=args.system, use_cache=not args.no_cache,
                       on_text=lambda piece: print(display.terminal(piece), end="", flush=True), **params)]
        print()
    else:
        if args.stream:
            params["stream"] = True
        answers = ask_many(models, prompt, system=args.system, use_cache=not args.no_cache, **params)
    if args.json:
        json.dump([a.to_dict() for a in answers], sys.stdout, indent=2, default=str)
        print()
    elif live:
        a = answers[0]
        print(display.answer_text(a) if not a.ok or a.cached else display.terminal(display.stats_line(a)))
        if a.extra.get("truncated"):
            print(display.terminal(f"note: {a.extra['truncated']}"), file=sys.stderr)
    else:
        print(display.side_by_side(answers))
    failed = [a for a in answers if not a.ok]
    for a in failed:
        print(display.terminal(f"error: {a.spec}: {a.error}"), file=sys.stderr)
    return 1 if failed else 0
