"""`llmlab compare`: models × puzzles × repeats, graded, costed, resumable; `--replay` re-renders a stored run."""

from __future__ import annotations

import argparse
import sys

from helpers import llm
from helpers.compare import config as grid
from helpers.errors import ConfigError

NEW_RUN_ONLY = ("puzzles", "models", "repeat", "max_tokens", "temperature", "reasoning_effort", "timeout",
                "stream", "judge", "batch")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="compare models on reasoning puzzles (graded, costed, resumable)",
        description="Ask every model every puzzle (--repeat times), concurrently, and grade the final answers. "
                    "Every answer lands in the run log as it arrives; the run id is printed first so an "
                    "interrupted run can be finished with --resume. Without -m: each provider whose key is set "
                    "(its default model), else the offline model local/smollm2. Without --puzzles: the course set.")
    p.add_argument("--puzzles", metavar="FILE", help="a puzzle file (YAML, CSV or JSON Lines), a shipped set: "
                                                     "course (default), known_answers, or a seeded generator of "
                                                     "known-answer puzzles, e.g. 'gen:arithmetic?n=100&seed=7' "
                                                     "(families: arithmetic, units, percent, fractions, dates, "
                                                     "logic, mixed; options n, seed, style=direct|steps)")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="SPEC",
                   help="provider/model-id[@param=value], repeatable; variants side by side, e.g. "
                        "-m openai/gpt-5-nano@reasoning_effort=minimal -m openai/gpt-5-nano@reasoning_effort=low")
    p.add_argument("--repeat", type=int, metavar="N",
                   help="ask each puzzle N times per model (majority answer, agreement)")
    p.add_argument("--concurrency", type=int, metavar="N",
                   help=f"calls in flight at once (default {grid.DEFAULT_CONCURRENCY})")
    p.add_argument("--per-provider", type=int, metavar="N", help=f"calls in flight per provider (default "
                                                    f"{grid.DEFAULT_PER_PROVIDER}; 1 for local engines)")
    p.add_argument("--no-cache", action="store_true", help="ask again even when the run log holds the answer "
                                                          "(the new answers are still recorded)")
    p.add_argument("--report", metavar="DIR", help="write report.md, report.html (one self-contained page), PNG "
                                                  "charts, cells.csv, summary.csv and pairs.csv into DIR")
    p.add_argument("--baseline", metavar="RUN_ID", help="line this run up with an earlier one, cell by cell: what "
                                                       "flipped (✓→✗, ✗→✓) and the paired difference")
    p.add_argument("--resume", metavar="RUN_ID", help="finish a stored run: ask only the cells with no answer")
    p.add_argument("--replay", metavar="RUN_ID", help="show a stored run again from the run log (no call)")
    p.add_argument("--max-usd", type=float, metavar="X",
                   help="stop before a call that could take the run over X US dollars")
    p.add_argument("--max-gco2e", type=float, metavar="X",
                   help="stop before a call that could take the run over X g CO2e")
    p.add_argument("--max-tokens", type=int, metavar="N",
                   help="output token limit per answer (also the budget estimate)")
    p.add_argument("-t", "--temperature", type=float, metavar="T")
    p.add_argument("--reasoning-effort", choices=list(llm.REASONING_EFFORTS))
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="seconds per request")
    p.add_argument("--stream", action="store_true", help="stream answers to measure time to first token")
    p.add_argument("--judge", metavar="SPEC", help="the model that grades puzzles whose grader is 'judge'")
    p.add_argument("--batch", action="store_true", help="send the cells of providers with a batch API (OpenAI, "
                                                        "Groq, Anthropic, Gemini via google/) as batch jobs: about "
                                                        "half the price, results within 24 h; --resume RUN_ID "
                                                        "collects them")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _params(args: argparse.Namespace) -> dict:
    params = {"max_tokens": args.max_tokens, "temperature": args.temperature,
              "reasoning_effort": args.reasoning_effort, "timeout": args.timeout, "stream": args.stream or None}
    return {k: v for k, v in params.items() if v is not None}


def _check_modes(args: argparse.Namespace) -> None:
    if args.resume and args.replay:
        raise ConfigError("--resume and --replay do not go together", hint="Pick one.")
    stored = args.resume or args.replay
    given = [n for n in NEW_RUN_ONLY if getattr(args, n) not in (None, False)]
    if stored and given:
        flags = ", ".join("--" + n.replace("_", "-") if n != "models" else "-m" for n in given)
        raise ConfigError(f"{flags} cannot change a stored run",
                          hint="A resumed or replayed run keeps its models, puzzles and parameters; start a new run "
                               "to change them.")


def run(args: argparse.Namespace) -> int:
    from helpers.compare import report, results, runner

    _check_modes(args)
    if args.report:
        report.check_folder(args.report)  # before the run, not after it
    baseline = results.load(args.baseline) if args.baseline else None  # a bad id fails before the run
    progress = not args.no_progress and sys.stderr.isatty()
    if args.replay:
        result = results.load(args.replay)
        print(f"run id: {result.run_id} (replayed from the run log, no call made)")
    elif args.resume:
        result = runner.resume(args.resume, progress=progress, concurrency=args.concurrency,
                                per_provider=args.per_provider, use_cache=False if args.no_cache else None,
                                max_usd=args.max_usd, max_gco2e=args.max_gco2e)
    else:
        options = {k: v for k, v in {"repeat": args.repeat, "concurrency": args.concurrency,
                                     "per_provider": args.per_provider, "max_usd": args.max_usd,
                                     "max_gco2e": args.max_gco2e, "judge": args.judge}.items() if v is not None}
        result = runner.compare(args.models or grid.default_models(), args.puzzles or "course", progress=progress,
                                 use_cache=not args.no_cache, batch=args.batch, **options, **_params(args))
    print()
    print(result.table())
    if baseline is not None:
        from helpers.compare import rundiff

        print()
        print(rundiff.diff(baseline, result).text())
    if args.report:
        path = report.write(result, args.report)
        print(f"\nreport: {path} (report.html, charts and cells.csv beside it)")
    print(f"\nrun id: {result.run_id} · replay: python -m helpers compare --replay {result.run_id}")
    return 1 if result.stopped else 0
