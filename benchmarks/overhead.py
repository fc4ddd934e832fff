"""Overhead of `helpers.llm.ask` per call vs the bare openai client, on the same loopback server.

Both sides send the same request to the same FakeOpenAI server (fixed server latency); ours also
validates, looks up the cache (a miss: use_cache=False still reads nothing), prices, estimates emissions
and writes the run-log row. Calls alternate between the two sides so machine noise hits both alike.

    .venv/bin/python -m benchmarks.overhead [--calls 200] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from benchmarks.setup import isolate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.02, help="server latency per call, seconds")
    args = parser.parse_args()

    from tests.fakes.openai_server import FakeOpenAI

    isolate(OPENAI_API_KEY="sk-bench-" + "x" * 20)
    import openai

    from helpers.llm import ask

    with FakeOpenAI(latency=args.latency) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        bare = openai.OpenAI(base_url=server.base_url, api_key=os.environ["OPENAI_API_KEY"], max_retries=0)
        messages = [{"role": "user", "content": "Say hi."}]

        def call_bare() -> None:
            bare.chat.completions.create(model="gpt-4o-mini", messages=messages)

        def call_ours() -> None:
            answer = ask("openai/gpt-4o-mini", messages, use_cache=False, max_retries=0)
            assert answer.ok, answer.error

        for fn in (call_bare, call_ours):  # warm up imports, connections, the database
            for _ in range(5):
                fn()
        times: dict[str, list[float]] = {"bare": [], "ours": []}
        for _ in range(args.calls):
            for name, fn in (("bare", call_bare), ("ours", call_ours)):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    bare_ms = statistics.median(times["bare"]) * 1000
    ours_ms = statistics.median(times["ours"]) * 1000
    print("| measure | bare openai client | helpers.llm.ask | ratio | overhead |")
    print("|---|---|---|---|---|")
    print(f"| median per call, {args.calls} calls, server latency {args.latency * 1000:.0f} ms | "
          f"{bare_ms:.2f} ms | {ours_ms:.2f} ms | {ours_ms / bare_ms:.3f}× | {ours_ms - bare_ms:+.2f} ms |")


if __name__ == "__main__":
    main()
