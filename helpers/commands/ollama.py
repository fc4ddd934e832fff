"""`llmlab ollama status|list|pull|speed`: the Ollama server's native API."""

from __future__ import annotations

import argparse

from helpers.display import terminal
from helpers.providers import ollama


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ollama", help="check Ollama, list or pull its models, measure tokens/s",
                       description="Talk to Ollama's native API (OLLAMA_BASE_URL without /v1; default "
                                   "http://localhost:11434). Chat with `ask -m ollama/MODEL`.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("status", help="is Ollama running? (which version)")
    actions.add_parser("list", help="installed models")
    pull = actions.add_parser("pull", help="download a model, with a progress bar")
    pull.add_argument("name", help="e.g. llama3.2 or qwen2.5:0.5b")
    speed = actions.add_parser("speed", help="tokens/s from Ollama's own eval_count / eval_duration")
    speed.add_argument("prompt", nargs="+")
    speed.add_argument("-m", "--model", default="llama3.2")
    speed.add_argument("--max-tokens", type=int, default=128)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "status":
        s = ollama.status()
        print(terminal(f"Ollama {s.version or ''} is running at {s.url}" if s.running else s.message))
        return 0 if s.running else 1
    if args.action == "list":
        found = ollama.models()
        for m in found:
            print(terminal(f"{m.spec:<32} {m.parameter_size:>6} {m.quantization:<8} {m.size_bytes / 1e9:6.2f} GB"))
        if not found:
            print("no models installed; pull one with `python -m helpers ollama pull llama3.2`")
        return 0
    if args.action == "pull":
        ollama.pull(args.name)
        print(terminal(f"pulled {args.name}; ask it with -m ollama/{args.name}"))
        return 0
    stats = ollama.chat_stats(args.model, " ".join(args.prompt), num_predict=args.max_tokens)
    print(terminal(stats.text.strip()))
    rate = "n/a" if stats.tokens_per_second is None else f"{stats.tokens_per_second:.1f} tokens/s"
    print(terminal(f"── {stats.model}: {stats.completion_tokens} tokens in {stats.eval_s or 0:.2f} s = {rate} "
          f"(prompt {stats.prompt_tokens} tokens, load {stats.load_s or 0:.2f} s)"))
    return 0
