"""CodeCarbon measurement overhead on local calls: the cost of one CodeCarbon task around `ask()`.

A real local call (the bundled SmolLM2 engine, `local/smollm2`, greedy, max_tokens fixed) is made with
``LLMLAB_MEASURE_LOCAL`` on and off, in alternating rounds. Two figures, both measured in this run:

- **direct**: the time spent in CodeCarbon's ``start_task`` + ``stop_task`` around each measured call,
  over that call's duration (robust to the engine's own jitter);
- **end to end**: median measured-call time over median unmeasured-call time, minus 1.

The one-time cost of the long-lived tracker (hardware probing in its first task) is reported apart.

    .venv/bin/python -m benchmarks.codecarbon_overhead [--rounds 9] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from benchmarks.setup import isolate, local_engine_on_free_port

PROMPT = "Describe the Olympic flame in three sentences."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    isolate()
    local_engine_on_free_port()
    from helpers.estimates import measure
    from helpers.llm import ask

    meter = measure.meter()
    task_seconds: list[float] = []
    begin, end = meter.begin, meter.end

    def timed_begin() -> bool:
        t = time.perf_counter()
        ok = begin()
        task_seconds.append(time.perf_counter() - t)
        return ok

    def timed_end():  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        m = end()
        task_seconds[-1] += time.perf_counter() - t
        return m

    meter.begin, meter.end = timed_begin, timed_end  # type: ignore[method-assign]

    def call(with_meter: bool) -> float:
        os.environ["LLMLAB_MEASURE_LOCAL"] = "1" if with_meter else "0"
        start = time.perf_counter()
        a = ask("local/smollm2", PROMPT, use_cache=False, temperature=0, max_tokens=args.max_tokens)
        seconds = time.perf_counter() - start
        assert a.ok, a.error
        assert (a.emissions.measured_g is not None) == with_meter
        return seconds

    call(False)  # warm up the engine and the client
    first = time.perf_counter()
    call(True)  # the tracker's first task probes the hardware
    first_task = task_seconds[0]
    print(f"first measured call {time.perf_counter() - first:.2f} s (first CodeCarbon task {first_task:.2f} s)")
    task_seconds.clear()

    plain, measured, direct = [], [], []
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        for with_meter in order:
            seconds = call(with_meter)
            (measured if with_meter else plain).append(seconds)
            if with_meter:
                direct.append(task_seconds[-1] / seconds)
    e2e = statistics.median(measured) / statistics.median(plain) - 1
    print(f"calls: median {statistics.median(plain):.3f} s unmeasured, {statistics.median(measured):.3f} s measured "
          f"({args.rounds} rounds, max_tokens={args.max_tokens})")
    print(f"CodeCarbon task per call: median {statistics.median(task_seconds) * 1000:.2f} ms")
    print(f"overhead direct: median {statistics.median(direct):.2%}, max {max(direct):.2%} of a local call")
    print(f"overhead end to end: {e2e:+.2%} (engine jitter included)")


if __name__ == "__main__":
    main()
