"""Waiting for a server process that a test started (JupyterHub, the LiteLLM proxy) to answer."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float, name: str) -> None:
    """Poll ``url`` until it answers 200; fail with the log's tail if ``proc`` exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, f"{name} exited:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"{name} did not start:\n{log.read_text()[-4000:]}"
        time.sleep(0.3)
