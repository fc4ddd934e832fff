"""Tokens/s of the bundled engine through `helpers.llm.ask` vs llama.cpp in-process (`llama_cpp.Llama`).

Same GGUF file, prompt, max_tokens, n_ctx and greedy sampling (temperature 0) on both sides; llama.cpp's
thread defaults are the same for the server and the in-process model. Ours pays for the HTTP round trip,
JSON, the openai client, validation, pricing, emissions and the run-log row; tokens/s is completion tokens
over the whole call's wall time on both sides (ours: all of `ask()`). Rounds alternate which side goes
first; the figure is the median of the per-round ratios.

    .venv/bin/python -m benchmarks.local_tokens [--rounds 15] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.setup import isolate, local_engine_on_free_port

PROMPT = "Write a short story about a robot who learns to paint."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()

    isolate()
    engine = local_engine_on_free_port()
    from llama_cpp import Llama

    from helpers.llm import ask
    from helpers.providers import local_engine

    model = Llama(model_path=engine.model, n_ctx=local_engine.N_CTX, verbose=False)
    messages = [{"role": "user", "content": PROMPT}]
    outside: list[float] = []  # ask()'s own time around the HTTP exchange

    def ours() -> tuple[int, float]:
        start = time.perf_counter()
        a = ask("local/smollm2", messages, use_cache=False, temperature=0, max_tokens=args.max_tokens)
        seconds = time.perf_counter() - start  # the whole call, not only the HTTP exchange
        assert a.ok, a.error
        outside.append(seconds - (a.latency_s or 0.0))
        return a.usage.completion_tokens or 0, seconds

    def in_process() -> tuple[int, float]:
        start = time.perf_counter()
        r = model.create_chat_completion(messages=messages, temperature=0, max_tokens=args.max_tokens)
        return r["usage"]["completion_tokens"], time.perf_counter() - start

    for fn in (ours, in_process):  # warm up: connection, imports, the prompt's KV cache on both sides
        fn()
    outside.clear()
    rates: dict[str, list[float]] = {"ours": [], "llama": []}
    ratios, tokens = [], set()
    for i in range(args.rounds):
        order = [("ours", ours), ("llama", in_process)]
        got = {}
        for name, fn in order if i % 2 == 0 else reversed(order):
            n, seconds = fn()
            tokens.add(n)
            got[name] = n / seconds
            rates[name].append(got[name])
        ratios.append(got["ours"] / got["llama"])
    ours_rate, llama_rate = statistics.median(rates["ours"]), statistics.median(rates["llama"])
    ratio = statistics.median(ratios)
    print(f"## Local engine tokens/s vs llama.cpp in-process\n\n"
          f"`.venv/bin/python -m benchmarks.local_tokens --rounds {args.rounds} --max-tokens {args.max_tokens}`"
          f" — SmolLM2-135M Q4_1, greedy, {sorted(tokens)} completion tokens per call, {args.rounds} "
          f"interleaved rounds.\n\n"
          f"| side | median tokens/s |\n|---|---|\n"
          f"| `ask(\"local/smollm2\")` (HTTP to the engine, no cache) | {ours_rate:.1f} |\n"
          f"| `llama_cpp.Llama` in-process | {llama_rate:.1f} |\n\n"
          f"**Median ratio ours / in-process: {ratio:.3f}** (goal ≥ 0.9; per round: "
          f"{', '.join(f'{r:.3f}' for r in ratios)}). `ask()`'s own time around the HTTP exchange "
          f"(validation, CodeCarbon task, pricing, run-log row): median {statistics.median(outside) * 1000:.1f} ms "
          f"per call.")


if __name__ == "__main__":
    main()
