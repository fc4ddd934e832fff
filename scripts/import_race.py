"""Reproduce the SDK import race: `ask` with eight providers at once, each run in a fresh process.

    python scripts/import_race.py [RUNS]      # prints how many runs ended in a traceback

Every provider points at a closed loopback port, so no request leaves the machine; what is measured is
whether the threads of one `ask` import the SDKs (openai, anthropic, google-genai, httpx…) without one
of them seeing a half-initialised module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["openai/gpt-4.1-mini", "anthropic/claude-haiku-4-5", "google/gemini-2.5-flash-lite", "deepseek/deepseek-chat",
         "groq/openai/gpt-oss-20b", "grok/grok-4", "openrouter/meta-llama/llama-3.3-70b-instruct", "stub/gpt-35-turbo"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_run(folder: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LLMLAB_HOME": folder, "LLMLAB_DB": f"{folder}/llmlab.db",
           "LLMLAB_ENV_FILE": f"{folder}/none.env", "LLMLAB_MAX_RETRIES": "0"}
    url = f"http://127.0.0.1:{closed_port()}/v1"
    for name in ("OPENAI", "ANTHROPIC", "GOOGLE", "DEEPSEEK", "GROQ", "GROK", "OPENROUTER"):
        env[f"{name}_API_KEY"] = f"test-{name.lower()}-0123456789"
        env[f"{name}_BASE_URL"] = url
    args = [sys.executable, "-m", "helpers", "ask", "--no-cache", "--json", "hello"]
    for spec in SPECS:
        args += ["-m", spec]
    return subprocess.run(args, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def main(runs: int = 10) -> int:
    broken = 0
    with tempfile.TemporaryDirectory() as folder:
        for i in range(runs):
            result = one_run(folder)
            if "Traceback" in result.stderr or "partially initialized" in result.stderr + result.stdout:
                broken += 1
                print(f"run {i}: {result.stderr.strip().splitlines()[-1][:200]}")
    print(f"{broken} of {runs} runs ended in a traceback")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
