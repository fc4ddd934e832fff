"""`llmlab runs`: list stored runs, export one as JSON Lines, import one (record once, replay in class)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("runs", help="list, export, import and diff runs of the run log",
                       description="List the runs in the run log, export one run (config and every call) to a "
                                   "portable JSON Lines file, or import such a file, e.g. to replay a recorded "
                                   "comparison offline with `compare --replay RUN_ID`, or diff two comparison runs "
                                   "cell by cell (`runs diff A B`). Keys are never stored, so they are never "
                                   "exported.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="newest runs first")
    listing.add_argument("--kind", help="only runs of this kind (compare, chat, session, …)")
    listing.add_argument("--limit", type=int, default=20)
    export = actions.add_parser("export", help="write a run to a JSON Lines file")
    export.add_argument("run_id", metavar="RUN_ID")
    export.add_argument("file", metavar="FILE")
    load = actions.add_parser("import", help="add a run from a JSON Lines file")
    load.add_argument("file", metavar="FILE")
    diff = actions.add_parser("diff", help="two comparison runs cell by cell: what flipped, the paired difference",
                              description="Line up the same cells (puzzle, repeat) of two comparison runs and show "
                                          "what flipped (✓→✗, ✗→✓) per model, with the paired difference (B − A) and "
                                          "its 95 % interval. Models are matched by name, else in order.")
    diff.add_argument("baseline", metavar="A", help="the baseline run id")
    diff.add_argument("new", metavar="B", help="the run to compare with it")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from helpers.compare.results import text_table
    from helpers.runlog import transfer

    if args.action == "list":
        runs = transfer.list_runs(kind=args.kind, limit=args.limit)
        if not runs:
            print("no runs yet")
            return 0
        rows = [[r["id"], r["kind"], r["created_at"][:19].replace("T", " "), str(r["calls"]), str(r["errors"]),
                 r["label"] or ""] for r in runs]
        print(text_table(["run id", "kind", "created (UTC)", "calls", "errors", "label"], rows))
    elif args.action == "diff":
        from helpers.compare import results, rundiff

        print(rundiff.diff(results.load(args.baseline), results.load(args.new)).text())
    elif args.action == "export":
        n = transfer.export_run(args.run_id, args.file)
        print(f"exported run {args.run_id}: {n} calls to {args.file}")
    else:
        run_id = transfer.import_run(args.file)
        print(f"imported run {run_id}; replay it with: python -m helpers compare --replay {run_id}")
    return 0
