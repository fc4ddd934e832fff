"""Does the latency a comparison reports belong to the provider? Three families against loopback servers
that wait a fixed time before answering.

One process serves real recorded responses (tests/data/recorded: OpenAI chat, Anthropic Messages, Google
generateContent), each after a fixed delay (default 200 ms). A fresh Python process (cold: no SDK imported
yet) runs ``compare`` over openai/gpt-4o, anthropic/claude-haiku-4-5 and google/gemini-2.5-flash with
``concurrency`` 8 and reads each cell's reported latency back from the run log. The figure is how far
the median and the worst cell are from the servers' delay (the target: within 10 %).

    .venv/bin/python -m benchmarks.latency_truth [--delay 0.2] [--puzzles 6] [--concurrency 8] [--root DIR]

``--root`` runs the compare with another checkout's ``helpers`` (e.g. /work/main, to measure before a fix).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

from benchmarks.setup import ROOT, isolate

FAMILIES = {  # provider -> (recording, model, base-URL prefix, key variable)
    "openai": ("openai/plain_gpt4o", "gpt-4o", "/v1", "OPENAI_API_KEY"),
    "anthropic": ("anthropic/cache_read_write", "claude-sonnet-4-5", "", "ANTHROPIC_API_KEY"),
    "google": ("google/plain_flash_thoughts", "gemini-2.5-flash", "", "GOOGLE_API_KEY"),
}

SERVERS = """
import sys
from tests.fakes.replay_server import ReplayServer, load
servers = [ReplayServer(load(name), latency=float(sys.argv[1])).start() for name in sys.argv[2:]]
print(" ".join(s.base_url for s in servers), flush=True)
sys.stdin.read()  # end of input stops them
print(" ".join(str(s.count()) for s in servers), flush=True)
print(" ".join(f"{r.served_s:.4f}" for s in servers for r in s.requests), flush=True)
"""

CHILD = """
import io, json, sys, time
t0 = time.perf_counter()
from helpers.compare import compare, puzzles
grid = (puzzles.course() + puzzles.known_answers())[:int(sys.argv[1])]
result = compare(sys.argv[3:], grid, concurrency=int(sys.argv[2]), use_cache=False, progress=False, out=io.StringIO())
cells = result.cells
cells = cells.sort_values("call_id")
print(json.dumps({"latency": [float(x) for x in cells.latency_s], "model": list(cells.model),
                  "status": list(cells.status), "wall": time.perf_counter() - t0}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="seconds each server waits before answering")
    parser.add_argument("--puzzles", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose helpers run the comparison")
    args = parser.parse_args()

    isolate(LLMLAB_MAX_RETRIES="0")
    names = [rec for rec, *_ in FAMILIES.values()]
    servers = subprocess.Popen([sys.executable, "-c", SERVERS, str(args.delay), *names], cwd=ROOT, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    urls = servers.stdout.readline().split()  # type: ignore[union-attr]
    env = dict(os.environ, PYTHONPATH=args.root)
    specs = []
    for (provider, (_, model, prefix, key_var)), url in zip(FAMILIES.items(), urls, strict=True):
        env[f"{provider.upper()}_BASE_URL"] = url + prefix
        env[key_var] = ({"openai": "sk-proj-", "anthropic": "sk-ant-", "google": "AIza"}[provider]
                        + "bench0123456789abcd")
        specs.append(f"{provider}/{model}")
    done = subprocess.run([sys.executable, "-c", CHILD, str(args.puzzles), str(args.concurrency), *specs],
                          cwd=args.root, env=env, capture_output=True, text=True, check=False)
    counts, served_line = servers.communicate("")[0].strip().split("\n")
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert all(s == "ok" for s in data["status"]), data["status"]
    lat = data["latency"]
    med, worst = statistics.median(lat), max(lat)
    print(f"{len(lat)} cells ({', '.join(specs)}), concurrency {args.concurrency}, server delay "
          f"{args.delay * 1000:.0f} ms, cold process, helpers from {args.root}")
    served = [float(x) for x in served_line.split()]
    print(f"requests served per server: {counts.strip()}; whole compare {data['wall']:.2f} s")
    print(f"the servers' own time per request (read -> last byte written): median "
          f"{statistics.median(served) * 1000:.1f} ms, worst {max(served) * 1000:.1f} ms")
    for spec in specs:
        mine = [x for x, m in zip(lat, data["model"], strict=True) if m == spec]
        print(f"  {spec:32} median {statistics.median(mine) * 1000:7.1f} ms  worst {max(mine) * 1000:7.1f} ms")
    print("each cell in call order (ms):", " ".join(f"{x * 1000:.0f}" for x in lat))
    print(f"reported latency: median {med * 1000:.1f} ms ({med / args.delay:.3f}x the delay), "
          f"worst {worst * 1000:.1f} ms ({worst / args.delay:.3f}x)")


if __name__ == "__main__":
    main()
