"""Run every benchmark script in benchmarks/ with the arguments BENCHMARKS.md quotes, one section each.

Each script runs in its own process (`python -m benchmarks.NAME ...`), one after the other so they do not
compete for the cores; its output is printed under a heading with the exact command, then a summary of
what ran, how long it took and whether it succeeded. A script added later runs with its own defaults.

    .venv/bin/python -m benchmarks.run_all                    # all of them (about 10 minutes on 2 cores)
    .venv/bin/python -m benchmarks.run_all fanout overhead    # some of them
    .venv/bin/python -m benchmarks.run_all --list             # the commands, without running them
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The arguments each section of BENCHMARKS.md names; one list per run (the overhead section has two).
DOCUMENTED: dict[str, list[list[str]]] = {
    "fanout": [["--rounds", "5", "--latency", "0.2", "--concurrency", "8"]],
    "overhead": [["--calls", "200", "--latency", "0.02"], ["--calls", "60", "--latency", "0.2"]],
    "local_tokens": [[]],
    "codecarbon_overhead": [["--rounds", "15"]],
}
SKIP = {"__init__", "run_all", "setup", "peers_clients"}  # not benchmarks themselves


@dataclass
class Run:
    """One benchmark command and how it went."""

    name: str
    args: list[str]
    seconds: float = 0.0
    code: int | None = None

    @property
    def command(self) -> str:
        return " ".join([".venv/bin/python", "-m", f"benchmarks.{self.name}", *self.args])


def scripts() -> list[str]:
    """Benchmark modules in this folder, documented ones first (in BENCHMARKS.md's order)."""
    found = sorted(p.stem for p in HERE.glob("*.py") if p.stem not in SKIP)
    return [n for n in DOCUMENTED if n in found] + [n for n in found if n not in DOCUMENTED]


def plan(names: list[str] | None = None) -> list[Run]:
    """The runs for the named scripts (all when None); an unknown name raises SystemExit naming the known."""
    known = scripts()
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [Run(n, list(args)) for n in (names or known) for args in DOCUMENTED.get(n, [[]])]


def execute(run: Run) -> Run:
    """Run one command with this interpreter, its output going straight to ours."""
    print(f"\n{'=' * 100}\n# {run.command}\n{'=' * 100}", flush=True)
    started = time.perf_counter()
    run.code = subprocess.run([sys.executable, "-m", f"benchmarks.{run.name}", *run.args], cwd=ROOT,
                              check=False).returncode
    run.seconds = time.perf_counter() - started
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all: "
                                                                 f"{', '.join(scripts())})")
    parser.add_argument("--list", action="store_true", help="print the commands without running them")
    args = parser.parse_args(argv)
    runs = plan(args.names or None)
    if args.list:
        print("\n".join(r.command for r in runs))
        return 0
    for run in runs:
        execute(run)
    print(f"\n{'=' * 100}\n# summary\n")
    for r in runs:
        print(f"{'ok    ' if r.code == 0 else f'FAILED ({r.code})'}  {r.seconds:7.1f} s  {r.command}")
    return 0 if all(r.code == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
