"""The `llmlab` / `python -m helpers` command line: one sub-command per module in helpers.commands.

Errors LLM Lab raises on purpose are printed as one clear message (no traceback), exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from helpers.errors import LabError

COMMANDS = ["keys", "models", "ask", "chat", "local", "ollama", "report", "compare", "runs"]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="llmlab", description="LLM Lab: ask, compare and measure large language models.",
        epilog="Run `llmlab COMMAND --help` for a command's options. With no API key, local/smollm2 and "
               "stub/gpt-35-turbo answer offline.")
    sub = top.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"helpers.commands.{name}").register(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from helpers.providers.local_engine import stop_on_sigterm

    stop_on_sigterm()  # SIGTERM runs the exit hooks: an engine started on demand is stopped with us
    if not getattr(args, "run", None):
        parser().print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except LabError as exc:
        from helpers.display import terminal  # a message may quote a provider or a file: shown inert

        print(terminal(f"error: {exc.message}"), file=sys.stderr)
        if exc.hint:
            print(terminal(f"  fix: {exc.hint}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
