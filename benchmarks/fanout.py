"""Fan-out of the comparison runner vs the course's sequential loops, and the cached re-run.

Six models (six providers, each pointed at one loopback OpenAI-compatible server with a fixed latency per
call, run in its own process like any real server, so it does not share our GIL) × eight puzzles.
Sequential: ``for model: for puzzle: helpers.llm.ask(...)`` as the course's loops do. Fan-out:
``helpers.compare.compare(..., concurrency=8)``. Both skip the cache, write the run log, price and
estimate emissions; rounds alternate which side goes first and the figure is the median of the
per-round ratios. Then a cached re-run of the same grid: the server's request count must not move.

    .venv/bin/python -m benchmarks.fanout [--rounds 3] [--latency 0.2] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import time

from benchmarks.setup import ROOT, isolate

PROVIDERS = {"openai": "OPENAI_API_KEY", "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY",
             "grok": "GROK_API_KEY", "openrouter": "OPENROUTER_API_KEY", "gemini": "GOOGLE_API_KEY"}


SERVER = """
import sys
from tests.fakes.openai_server import FakeOpenAI
server = FakeOpenAI(latency=float(sys.argv[1]), reply=lambda body: "Answer: 2/3").start()
print(server.base_url, flush=True)
for line in sys.stdin:  # 'count' or 'peak'; end of input stops the server
    print(server.count() if line.strip() == "count" else server.max_inflight, flush=True)
server.stop()
"""


def _ask(server: subprocess.Popen, what: str) -> int:
    server.stdin.write(what + "\n")  # type: ignore[union-attr]
    server.stdin.flush()  # type: ignore[union-attr]
    return int(server.stdout.readline())  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per call at the server")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    isolate(LLMLAB_MAX_RETRIES="0")
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(args.latency)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
    for name, key_var in PROVIDERS.items():
        os.environ[f"{name.upper()}_BASE_URL"] = base_url
        os.environ[key_var] = f"fake-{name}-key-0123456789"

    from helpers import catalog
    from helpers.compare import compare, puzzles
    from helpers.llm import ask

    models = [f"{name}/{catalog.provider(name).default_model}" for name in PROVIDERS]
    grid = (puzzles.course() + puzzles.known_answers())[:8]
    calls = len(models) * len(grid)

    def sequential() -> float:
        start = time.perf_counter()
        for model in models:
            for p in grid:
                assert ask(model, p.prompt, system=p.system, use_cache=False).ok
        return time.perf_counter() - start

    def fanout() -> float:
        start = time.perf_counter()
        result = compare(models, grid, concurrency=args.concurrency, use_cache=False, progress=False,
                         out=io.StringIO())
        elapsed = time.perf_counter() - start
        assert (result.cells.status == "ok").all() and len(result.cells) == calls
        return elapsed

    fanout()  # warm-up: imports, clients, EcoLogits and price tables
    seq_times, fan_times, ratios = [], [], []
    for i in range(args.rounds):
        order = (sequential, fanout) if i % 2 == 0 else (fanout, sequential)
        times = {f.__name__: f() for f in order}
        seq_times.append(times["sequential"])
        fan_times.append(times["fanout"])
        ratios.append(times["sequential"] / times["fanout"])

    before = _ask(server, "count")
    start = time.perf_counter()
    cached = compare(models, grid, concurrency=args.concurrency, progress=False, out=io.StringIO())
    cached_s = time.perf_counter() - start
    sent = _ask(server, "count") - before
    peak = _ask(server, "peak")
    server.stdin.close()  # type: ignore[union-attr]
    server.wait(10)

    ideal = min(args.concurrency, calls)
    print(f"## Fan-out and cache (comparison runner)\n\n"
          f"`.venv/bin/python -m benchmarks.fanout --rounds {args.rounds} --latency {args.latency} "
          f"--concurrency {args.concurrency}`\n\n"
          f"{len(models)} models (six providers, one loopback OpenAI-compatible server, {args.latency * 1000:.0f} ms "
          f"per call) × {len(grid)} puzzles = {calls} calls, cache off, run log, pricing and emission estimates "
          f"on both sides.\n\n"
          f"| | median wall time | |\n|---|---|---|\n"
          f"| sequential `ask()` loops (the course's way) | {statistics.median(seq_times):.2f} s | |\n"
          f"| `compare(..., concurrency={args.concurrency})` | {statistics.median(fan_times):.2f} s | "
          f"peak {peak} requests in flight |\n"
          f"| **speed-up** (median of {args.rounds} per-round ratios) | **{statistics.median(ratios):.2f}×** | "
          f"goal ≥ 7.2×; ideal {ideal}× |\n"
          f"| cached re-run of the same grid | {cached_s:.2f} s | **{sent} requests** sent, "
          f"{cached.outcome.cached} answers from the run log |\n\n"
          f"Per-round ratios: {', '.join(f'{r:.2f}×' for r in ratios)}.")


if __name__ == "__main__":
    main()
