"""`llmlab local serve|status|stop`: the bundled llama.cpp engine."""

from __future__ import annotations

import argparse

from helpers import settings
from helpers.providers import local_engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("local", help="start, inspect or stop the bundled offline engine (local/smollm2)",
                       description="Manage the bundled llama.cpp engine that answers local/… models offline. "
                                   "Asking local/smollm2 starts it on demand (stopped when that process exits); "
                                   "`serve` keeps it running for every process until `stop`.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    serve = actions.add_parser("serve", help="start the engine (waits until it answers) and keep it running")
    serve.add_argument("--port", type=int, help="loopback port (default: LLMLAB_LOCAL_PORT, else a free port; "
                                                "every process finds it in the engine's state file)")
    serve.add_argument("--model", default=local_engine.DEFAULT_ALIAS,
                       help="smollm2 (the bundled model, or LLMLAB_LOCAL_MODEL) or a path to a .gguf file")
    serve.add_argument("--timeout", type=float, default=local_engine.START_TIMEOUT,
                       help="seconds to wait until it answers")
    actions.add_parser("status", help="show the running engine (model, port, pid)")
    actions.add_parser("stop", help="stop the engine; no process is left behind")
    p.set_defaults(run=run)


def describe(state: local_engine.EngineState) -> str:
    kept = "until `local stop`" if state.persistent else f"until process {state.started_by} exits"
    return (f"model  local/{state.alias}  ({state.model})\n"
            f"url    {state.base_url}\npid    {state.pid}\nkept   {kept}\nlog    {state.log}")


def run(args: argparse.Namespace) -> int:
    external = settings.get("LOCAL_BASE_URL")
    if external:
        print(f"LOCAL_BASE_URL={external}: local/… models use that server; LLM Lab neither starts nor stops it.")
        return 0 if args.action != "status" or local_engine.answers(external) else 1
    if args.action == "serve":
        state, started = local_engine.serve(args.model, args.port, args.timeout)
        print(("started the local engine" if started else "the local engine is already running") + "\n"
              + describe(state))
        return 0
    if args.action == "status":
        running = local_engine.status()
        if running is None:
            print("the local engine is not running (asking local/smollm2 starts it; or `local serve`)")
            return 1
        healthy = local_engine.answers(running.base_url, timeout=10.0)  # a busy engine answers between answers
        print(describe(running) + ("" if healthy else "\n⚠ the process runs but does not answer on its port "
                                                    "(busy with a long answer, or stuck: `local stop`)"))
        return 0 if healthy else 1
    stopped = local_engine.stop()
    print("no local engine was running" if stopped is None else f"stopped the local engine (pid {stopped.pid}, "
                                                                  f"port {stopped.port})")
    return 0
