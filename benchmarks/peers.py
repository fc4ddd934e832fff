"""LLM Lab side by side with the tools a user would pick instead, on the same grid and the same server.

One loopback OpenAI-compatible server (its own process, a fixed latency per call) answers every tool:
- ``floor``: the bare ``openai.AsyncOpenAI`` client under one semaphore (nothing else: the floor);
- ``llmlab-cli``: ``python -m helpers compare ... --no-cache`` (graded, priced, emissions, run log, table);
- ``llmlab-compare``: ``helpers.compare.compare()`` from a script, then ``table()`` and the report folder;
- ``promptfoo``: ``promptfoo eval -j N --no-cache`` (npm, pinned), its OpenAI provider with ``apiBaseUrl``;
- ``litellm``: ``litellm.acompletion`` under the same semaphore, in a benchmark-only venv (pinned).
Every run is a fresh process, timed from spawn to exit (wall, CPU and peak RSS from ``wait4``); rounds
rotate the order, and a figure is the median of the per-round ratios to the floor. The server counts the
requests each run sent: a run that did not send every cell fails the benchmark.

    .venv/bin/python -m benchmarks.peers                     # both grids (48 and 6,000 cells)
    .venv/bin/python -m benchmarks.peers --grid small --rounds 7
    .venv/bin/python -m benchmarks.peers --grid large --rounds 3 --tools floor,llmlab-cli,llmlab-compare

The peers are installed on first use into ``benchmarks/.peers/`` (git-ignored): promptfoo with npm,
LiteLLM into its own venv (it pins versions that conflict with ours).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.setup import ROOT

PEERS = ROOT / "benchmarks" / ".peers"
PROMPTFOO_VERSION = "0.121.20"  # the newest that runs on Node 20 (0.122 wants Node ≥ 22.22)
LITELLM_VERSION = "1.110.2"
PROMPTFOO = PEERS / "node" / "node_modules" / ".bin" / "promptfoo"
LITELLM_PY = PEERS / "litellm" / "bin" / "python"
TOOLS = ("floor", "llmlab-cli", "llmlab-compare", "promptfoo", "litellm")
KEY = "fake-key-0123456789abcdef"
PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "groq": "GROQ_API_KEY", "deepseek": "DEEPSEEK_API_KEY",
                 "grok": "GROK_API_KEY", "openrouter": "OPENROUTER_API_KEY", "gemini": "GOOGLE_API_KEY"}
SMALL_MODELS = ["openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b", "deepseek/deepseek-chat", "grok/grok-4",
                "openrouter/meta-llama/llama-3.3-70b-instruct", "gemini/gemini-2.5-flash-lite"]
LARGE_MODELS = [*SMALL_MODELS, "openai/gpt-4o-mini", "openai/gpt-5-nano", "groq/openai/gpt-oss-120b",
                "deepseek/deepseek-reasoner"]

SERVER = """
import sys, zlib
from tests.fakes.openai_server import FakeOpenAI

def reply(body):  # a short reasoned answer, the same for the same question (right for two puzzles in three)
    question = body["messages"][-1]["content"]
    return "Working it out step by step.\\nAnswer: %d" % (zlib.crc32(question.encode()) % 3 + 1)

server = FakeOpenAI(latency=float(sys.argv[1]), reply=reply).start()
print(server.base_url, flush=True)
for line in sys.stdin:  # any line: print the request count; end of input stops the server
    print(server.count(), flush=True)
server.stop()
"""


@dataclass
class Grid:
    """One benchmark grid: models × puzzles × repeats at a concurrency, against a server latency."""

    name: str
    models: list[str]
    puzzles: int
    repeat: int
    concurrency: int
    latency: float

    @property
    def cells(self) -> int:
        return len(self.models) * self.puzzles * self.repeat

    def title(self) -> str:
        return (f"{len(self.models)} models × {self.puzzles} puzzles × {self.repeat} repeat(s) = {self.cells:,} "
                f"cells, server latency {self.latency * 1000:.0f} ms, concurrency {self.concurrency}")


@dataclass
class Run:
    """One tool's run in one round: wall seconds (spawn to exit), CPU seconds, peak RSS, its own report."""

    tool: str
    wall_s: float
    cpu_s: float
    rss_mb: float
    sent: int
    report: dict[str, Any] = field(default_factory=dict)


# -- the peers ---------------------------------------------------------------------------------------------
def install_peers(tools: list[str]) -> None:
    """promptfoo (npm) and LiteLLM (its own venv) into benchmarks/.peers/, pinned, when missing."""
    if "promptfoo" in tools and not PROMPTFOO.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("promptfoo needs npm (Node.js 20.20+): install it, or leave promptfoo out with --tools")
        print(f"installing promptfoo {PROMPTFOO_VERSION} into {PROMPTFOO.parents[2]} ...", flush=True)
        subprocess.run([npm, "install", "--prefix", str(PEERS / "node"), "--no-audit", "--no-fund",
                        "--loglevel=error", f"promptfoo@{PROMPTFOO_VERSION}"], check=True)
    if "litellm" in tools and not LITELLM_PY.exists():
        print(f"installing litellm {LITELLM_VERSION} into {LITELLM_PY.parents[1]} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEERS / "litellm")], check=True)
        subprocess.run([str(LITELLM_PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        f"litellm=={LITELLM_VERSION}"], check=True)


# -- files each tool reads -------------------------------------------------------------------------------
def puzzles(n: int) -> list[dict[str, Any]]:
    """``n`` numeric puzzles (the server's reply is right for about two in three)."""
    out = []
    for i in range(n):
        prompt = f"Puzzle {i}: what is {i} modulo 3, plus one? Give the number."
        said = zlib.crc32(prompt.encode()) % 3 + 1  # what the server answers (see SERVER)
        out.append({"id": f"p{i:03d}", "prompt": prompt, "grader": "numeric",
                    "answer": str(said if i % 3 else said % 3 + 1)})
    return out


def write_inputs(grid: Grid, base_url: str, folder: Path) -> dict[str, Path]:
    """The grid as JSON (floor, LiteLLM, compare()), a puzzle YAML (the CLI) and a promptfoo config."""
    items = puzzles(grid.puzzles)
    data = {"models": grid.models, "puzzles": items, "repeat": grid.repeat, "concurrency": grid.concurrency,
            "base_url": base_url, "key": KEY}
    paths = {"grid": folder / "grid.json", "puzzles": folder / "puzzles.yaml", "promptfoo": folder / "promptfoo.yaml"}
    paths["grid"].write_text(json.dumps(data), encoding="utf-8")
    paths["puzzles"].write_text("".join(f"- id: {p['id']}\n  prompt: {json.dumps(p['prompt'])}\n  grader: numeric\n"
                                        f"  answer: '{p['answer']}'\n" for p in items), encoding="utf-8")
    providers = "".join(f"  - id: {json.dumps('openai:chat:' + m.partition('/')[2])}\n    label: {json.dumps(m)}\n"
                        f"    config: {{apiBaseUrl: {json.dumps(base_url)}, apiKey: {json.dumps(KEY)}}}\n"
                        for m in grid.models)
    tests = "".join(f"  - vars: {{question: {json.dumps(p['prompt'])}}}\n" for p in items)
    paths["promptfoo"].write_text(f'prompts:\n  - "{{{{question}}}}"\nproviders:\n{providers}tests:\n{tests}',
                                  encoding="utf-8")
    return paths


def environment(base_url: str, home: Path) -> dict[str, str]:
    """The environment of every tool run: keys and base URLs to the server, private homes, no telemetry."""
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("LLMLAB_")}
    env.update({var: KEY for var in PROVIDER_KEYS.values()})
    env.update({f"{name.upper()}_BASE_URL": base_url for name in PROVIDER_KEYS})
    env.update(LLMLAB_HOME=str(home), LLMLAB_DB=str(home / "llmlab.db"), LLMLAB_ENV_FILE=str(home / "none"),
               PYTHONPATH=str(ROOT), PROMPTFOO_CONFIG_DIR=str(home / "promptfoo"), PROMPTFOO_DISABLE_TELEMETRY="1",
               PROMPTFOO_DISABLE_UPDATE="1", PROMPTFOO_DISABLE_SHARING="1", PROMPTFOO_DISABLE_REMOTE_GENERATION="1",
               LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")
    return env


def command(tool: str, grid: Grid, paths: dict[str, Path], report_dir: Path | None = None) -> list[str]:
    if tool == "floor":
        return [sys.executable, "-m", "benchmarks.peers_clients", "floor", str(paths["grid"])]
    if tool == "llmlab-compare":
        return [sys.executable, "-m", "benchmarks.peers_clients", "compare", str(paths["grid"]),
                *([str(report_dir)] if report_dir else [])]
    if tool == "llmlab-cli":
        models = [a for m in grid.models for a in ("-m", m)]
        return [sys.executable, "-m", "helpers", "compare", *models, "--puzzles", str(paths["puzzles"]),
                "--repeat", str(grid.repeat), "--concurrency", str(grid.concurrency), "--per-provider",
                str(grid.concurrency), "--no-cache", "--no-progress"]
    if tool == "promptfoo":
        return [str(PROMPTFOO), "eval", "-c", str(paths["promptfoo"]), "-j", str(grid.concurrency), "--no-cache",
                "--repeat", str(grid.repeat), "--no-progress-bar"]
    if tool == "litellm":
        return [str(LITELLM_PY), str(ROOT / "benchmarks" / "peers_clients.py"), "litellm", str(paths["grid"])]
    raise ValueError(tool)


def measure(cmd: list[str], env: dict[str, str], timeout: float = 900) -> tuple[float, float, float, str]:
    """Run ``cmd`` to its end: (wall s, CPU s user+system, peak RSS MB, stdout). Fails on a non-zero exit."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                raise SystemExit(f"timed out after {timeout:.0f} s: {' '.join(cmd)}")
            time.sleep(0.005)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"exit {proc.returncode}: {' '.join(cmd)}\n{text[-2000:]}\n"
                             f"{err.read().decode(errors='replace')[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, text


class Server:
    """The loopback server in its own process; ``count()`` is the number of requests it has answered."""

    def __init__(self, latency: float) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(latency)], cwd=ROOT, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env={**os.environ,
                                                                                         "PYTHONPATH": str(ROOT)})
        self.base_url = self.proc.stdout.readline().strip()  # type: ignore[union-attr]

    def count(self) -> int:
        self.proc.stdin.write("count\n")  # type: ignore[union-attr]
        self.proc.stdin.flush()  # type: ignore[union-attr]
        return int(self.proc.stdout.readline())  # type: ignore[union-attr]

    def stop(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        self.proc.wait(10)


# -- one grid ------------------------------------------------------------------------------------------------
def run_grid(grid: Grid, tools: list[str], rounds: int, extras: bool) -> dict[str, Any]:
    """Every tool ``rounds`` times (order rotated each round); with ``extras``, the replay and report timings."""
    server = Server(grid.latency)
    home = Path(tempfile.mkdtemp(prefix="llmlab-peers-"))
    env = environment(server.base_url, home)
    paths = write_inputs(grid, server.base_url, home)
    runs: list[dict[str, Run]] = []
    load = [os.getloadavg()[0]]
    last_run_id = None
    try:
        for r in range(rounds):
            order = tools[r % len(tools):] + tools[:r % len(tools)]
            done: dict[str, Run] = {}
            for tool in order:
                report_dir = home / f"report-{r}" if extras and tool == "llmlab-compare" else None
                before = server.count()
                wall, cpu, rss, text = measure(command(tool, grid, paths, report_dir), env)
                sent = server.count() - before
                if sent != grid.cells:
                    raise SystemExit(f"{tool} sent {sent} requests for {grid.cells} cells")
                report = (json.loads(text.strip().splitlines()[-1])
                          if tool in ("floor", "litellm", "llmlab-compare") else {})
                if tool == "llmlab-cli":
                    last_run_id = re.search(r"run id: (\S+)", text).group(1)  # type: ignore[union-attr]
                done[tool] = Run(tool, wall, cpu, rss, sent, report)
                print(f"  round {r + 1} {tool:15s} {wall:7.2f} s wall {cpu:7.2f} s CPU {rss:6.0f} MB", flush=True)
            runs.append(done)
            load.append(os.getloadavg()[0])
        replay = replay_times(last_run_id, env, home, rounds) if extras and last_run_id else {}
    finally:
        server.stop()
    shutil.rmtree(home, ignore_errors=True)
    return {"grid": grid, "runs": runs, "load": load, "replay": replay}


def replay_times(run_id: str, env: dict[str, str], home: Path, rounds: int) -> dict[str, list[float]]:
    """``--replay`` and ``--replay --report`` of the CLI's last run, interleaved, fresh processes."""
    out: dict[str, list[float]] = {"replay": [], "replay_report": []}
    base = [sys.executable, "-m", "helpers", "compare", "--replay", run_id]
    for i in range(rounds):
        out["replay"].append(measure(base, env)[0])
        out["replay_report"].append(measure([*base, "--report", str(home / f"replay-{i}")], env)[0])
    return out


# -- what BENCHMARKS.md records ------------------------------------------------------------------------------
def median_ratio(runs: list[dict[str, Run]], tool: str, base: str = "floor", what: str = "wall_s") -> float:
    return statistics.median(getattr(r[tool], what) / getattr(r[base], what) for r in runs)


def render(result: dict[str, Any], command_line: str) -> str:
    grid, runs = result["grid"], result["runs"]
    tools = list(runs[0])
    n = grid.cells
    lines = [(f"**{grid.title()}** — {len(runs)} rounds, load average {min(result['load']):.1f}–"
              f"{max(result['load']):.1f} (1 min) · `{command_line}`"), "",
             "| tool | median wall | wall ÷ floor (median of rounds) | CPU per call (process) | peak RSS |",
             "|---|---|---|---|---|"]
    for tool in tools:
        wall = statistics.median(r[tool].wall_s for r in runs)
        cpu = statistics.median(r[tool].cpu_s for r in runs) / n * 1000
        rss = max(r[tool].rss_mb for r in runs)
        ratio = "1 (the floor)" if tool == "floor" else f"**{median_ratio(runs, tool):.2f}×**"
        lines.append(f"| {tool} | {wall:.2f} s | {ratio} | {cpu:.2f} ms | {rss:.0f} MB |")
    lines.append("")
    lines.append("Per-round wall ratios to the floor: " + "; ".join(
        f"{t} " + ", ".join(f"{r[t].wall_s / r['floor'].wall_s:.2f}" for r in runs) for t in tools if t != "floor"))
    if "llmlab-compare" in tools and "floor" in tools and result["replay"]:  # the large grid (one-time loading
        # dominates the CPU of a 48-cell run)
        cpu_call = [r[t].report["run_cpu_s"] / n * 1000 for r in runs for t in ("floor", "llmlab-compare")]
        ratios = [r["llmlab-compare"].report["run_cpu_s"] / r["floor"].report["run_cpu_s"] for r in runs]
        lines += ["", (f"CPU per call during the run (imports excluded): floor {statistics.median(cpu_call[0::2]):.2f} "
                       f"ms, `compare()` {statistics.median(cpu_call[1::2]):.2f} ms: "
                       f"**{statistics.median(ratios):.2f}×** "
                       f"(per round {', '.join(f'{x:.2f}' for x in ratios)}).")]
        table = [r["llmlab-compare"].report.get("table_s") for r in runs]
        both = [r["llmlab-compare"].report.get("table_report_s") for r in runs]
        if all(both):
            lines.append(f"After the run, in the same process: `table()` {statistics.median(table):.2f} s, "
                         f"`table()` + `report.write` (CSV, 3 PNG charts, Markdown; matplotlib imported) "
                         f"**{statistics.median(both):.2f} s** (per round {', '.join(f'{x:.2f}' for x in both)}).")
    if result["replay"]:
        rp, rr = result["replay"]["replay"], result["replay"]["replay_report"]
        lines.append(f"The CLI run's `--replay` (fresh process): **{statistics.median(rp):.2f} s** "
                     f"({', '.join(f'{x:.2f}' for x in rp)}); "
                     f"`--replay --report DIR`: **{statistics.median(rr):.2f} s** "
                     f"({', '.join(f'{x:.2f}' for x in rr)}).")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=["small", "large", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per grid (default: 7 small, 3 large)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, from {', '.join(TOOLS)}")
    parser.add_argument("--small-latencies", default="0.2,0.02", help="server latencies (s) of the 48-cell grid")
    args = parser.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or "floor" not in tools:
        raise SystemExit(f"--tools: unknown {unknown}" if unknown else "--tools must include floor")
    install_peers(tools)
    grids = []
    if args.grid in ("small", "both"):
        grids += [(Grid("small", SMALL_MODELS, 8, 1, 8, float(x)), args.rounds or 7, False)
                  for x in args.small_latencies.split(",")]
    if args.grid in ("large", "both"):
        grids.append((Grid("large", LARGE_MODELS, 200, 3, 64, 0.05), args.rounds or 3, True))
    shown = " ".join(["python -m benchmarks.peers", *(argv if argv is not None else sys.argv[1:])])
    sections = []
    for grid, rounds, extras in grids:
        print(f"# {grid.title()}", flush=True)
        sections.append(render(run_grid(grid, tools, rounds, extras), shown))
        print(sections[-1] + "\n", flush=True)
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
