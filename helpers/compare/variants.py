"""The offline comparison worth showing: the bundled model's real variants on a generated puzzle set, with
error bars (used by ``make demo`` and notebook 02).

Three runs on the same seeded puzzles (so their cells line up):

1. **greedy vs sampled**: ``local/smollm2@temperature=0`` against ``local/smollm2@temperature=1``, each
   with a "reply with the answer only" system prompt — one paired comparison;
2. **direct vs step by step**: the greedy model again with a "think step by step" system prompt, lined
   up cell by cell with run 1 (``rundiff``) — what flipped, and whether the change beats the noise;
3. **self-consistency**: the sampled model asked ``samples`` times per puzzle; its majority answer
   against a single sample, paired by puzzle.

    python -m helpers.compare.variants --report runs/variants     # what `make demo` runs
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import IO, Any

GREEDY = "local/smollm2@temperature=0"
SAMPLED = "local/smollm2@temperature=1"
FAMILIES = "logic+arithmetic+percent"


@dataclass
class VariantRuns:
    """The three comparisons and the direct-vs-steps diff."""

    sampling: Any  # results.Comparison: greedy vs sampled (direct prompt)
    steps: Any  # the greedy model with the step-by-step prompt
    steps_diff: Any  # rundiff.RunDiff: steps against direct, cell by cell
    voting: Any  # the sampled model, ``samples`` answers per puzzle

    def text(self) -> str:
        parts = ["== 1. greedy vs sampled (same puzzles, paired) ==", self.sampling.table(),
                 "== 2. direct vs step-by-step system prompt (greedy, cell by cell) ==", self.steps_diff.text(),
                 "== 3. self-consistency: majority answer vs one sample (sampled model) ==",
                 self.voting.uncertainty_text()]
        return "\n\n".join(parts)


def spelling(n: int, seed: int, style: str) -> str:
    return f"gen:{FAMILIES}?n={n}&seed={seed}&style={style}"


def run(n: int = 30, seed: int = 7, samples: int = 3, max_tokens: int = 32, steps_tokens: int = 64,
        progress: bool = False, out: IO[str] | None = None) -> VariantRuns:
    """Run the three comparisons on the bundled model (no key, no network). Cached answers are reused."""
    from helpers.compare import rundiff, runner

    out = out or sys.stdout
    sampling = runner.compare([GREEDY, SAMPLED], spelling(n, seed, "direct"), max_tokens=max_tokens,
                              progress=progress, out=out)
    steps = runner.compare([GREEDY], spelling(n, seed, "steps"), max_tokens=steps_tokens, progress=progress, out=out)
    voting = runner.compare([SAMPLED], spelling(n, seed, "direct"), repeat=samples, max_tokens=max_tokens,
                            progress=progress, out=out)
    return VariantRuns(sampling, steps, rundiff.diff(sampling, steps), voting)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.compare.variants", description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=30, help="puzzles (default 30)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=3, help="answers per puzzle for the majority vote")
    parser.add_argument("--report", metavar="DIR", help="write the greedy-vs-sampled report (report.md, report.html)")
    args = parser.parse_args(argv)
    from helpers.compare import report

    runs = run(args.n, args.seed, args.samples, progress=sys.stderr.isatty())
    print()
    print(runs.text())
    if args.report:
        print(f"\nreport: {report.write(runs.sampling, args.report)} (report.html beside it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
