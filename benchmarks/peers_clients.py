"""The clients `benchmarks.peers` runs, one per process: the floor (bare AsyncOpenAI), LiteLLM and LLM Lab's
``compare()`` as a script. Each reads the grid (a JSON file written by `benchmarks.peers`), asks every cell
once, and prints one JSON line: cells answered, the run's wall and CPU seconds (imports excluded; the
process's own wall time is measured by the caller), and for LLM Lab the table and report times.

Only the standard library is imported at the top: the LiteLLM client runs in its own venv.

    python benchmarks/peers_clients.py floor GRID.json
    benchmarks/.peers/litellm/bin/python benchmarks/peers_clients.py litellm GRID.json
    python benchmarks/peers_clients.py compare GRID.json [REPORT_DIR]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any


def cells(grid: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(provider, model id, prompt) for every cell: models × puzzles × repeats."""
    out = []
    for spec in grid["models"]:
        provider, _, model = spec.partition("/")
        out += [(provider, model, p["prompt"]) for p in grid["puzzles"] for _ in range(grid["repeat"])]
    return out


async def fan_out(grid: dict[str, Any], one: Callable[[str, str, str], Awaitable[str]]) -> int:
    """Every cell under one semaphore of ``grid['concurrency']``; the number of non-empty answers."""
    gate = asyncio.Semaphore(grid["concurrency"])

    async def guarded(provider: str, model: str, prompt: str) -> str:
        async with gate:
            return await one(provider, model, prompt)

    answers = await asyncio.gather(*(guarded(*c) for c in cells(grid)))
    return sum(1 for a in answers if a)


def floor(grid: dict[str, Any]) -> dict[str, Any]:
    """The floor: one AsyncOpenAI client per provider, nothing else (no pricing, no log, no grading)."""
    import openai

    async def main() -> int:
        providers = {m.partition("/")[0] for m in grid["models"]}
        clients = {p: openai.AsyncOpenAI(base_url=grid["base_url"], api_key=grid["key"]) for p in providers}

        async def one(provider: str, model: str, prompt: str) -> str:
            r = await clients[provider].chat.completions.create(model=model,
                                                                messages=[{"role": "user", "content": prompt}])
            return r.choices[0].message.content or ""

        return await fan_out(grid, one)

    return _timed(lambda: asyncio.run(main()))


def litellm(grid: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's ``acompletion`` under the same semaphore (its OpenAI-compatible route to the same server)."""
    import litellm as lib

    lib.telemetry = False

    async def one(provider: str, model: str, prompt: str) -> str:
        r = await lib.acompletion(model=f"openai/{model}", api_base=grid["base_url"], api_key=grid["key"],
                                  messages=[{"role": "user", "content": prompt}])
        return r.choices[0].message.content or ""

    return _timed(lambda: asyncio.run(fan_out(grid, one)))


def compare(grid: dict[str, Any], report_dir: str | None = None) -> dict[str, Any]:
    """LLM Lab's ``compare()`` (graded, priced, emissions estimated, run log written), then table and report."""
    import io

    from helpers.compare import compare as run_compare
    from helpers.compare import report
    from helpers.compare.puzzles import Puzzle

    puzzles = [Puzzle(id=p["id"], prompt=p["prompt"], answer=p.get("answer"), grader=p.get("grader", "exact"))
               for p in grid["puzzles"]]
    result: list[Any] = []

    def run() -> int:
        r = run_compare(grid["models"], puzzles, repeat=grid["repeat"], concurrency=grid["concurrency"],
                        per_provider=grid["concurrency"], use_cache=False, progress=False, out=io.StringIO())
        result.append(r)
        return int((r.cells.status == "ok").sum())

    out = _timed(run)
    started = time.perf_counter()
    result[0].table()
    out["table_s"] = time.perf_counter() - started
    if report_dir:
        report.write(result[0], report_dir)
        out["table_report_s"] = time.perf_counter() - started
    out["run_id"] = result[0].run_id
    return out


def _timed(run: Callable[[], int]) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    answered = run()
    return {"answered": answered, "run_wall_s": time.perf_counter() - wall, "run_cpu_s": time.process_time() - cpu}


CLIENTS: dict[str, Callable[..., dict[str, Any]]] = {"floor": floor, "litellm": litellm, "compare": compare}

if __name__ == "__main__":
    name, path, *rest = sys.argv[1:]
    with open(path, encoding="utf-8") as f:
        grid_ = json.load(f)
    print(json.dumps(CLIENTS[name](grid_, *rest)), flush=True)
