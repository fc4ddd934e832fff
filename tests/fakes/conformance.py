"""What the conformance tests share: where each provider's base URL and key live, a replay server pointed
at by the environment, the expected price from genai-prices, and the run-log row of an answer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers.answer import Answer
from helpers.runlog import store as run_log
from tests.fakes.replay_server import ReplayServer, load

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Wiring:
    """How a provider is pointed at the replay server: the base-URL variable and the path prefix the real API
    has (so the SDK's requests land where they would), and a fake key of the provider's shape."""

    base_var: str
    prefix: str
    key_var: str | None
    key: str | None


WIRING = {
    "openai": Wiring("OPENAI_BASE_URL", "/v1", "OPENAI_API_KEY", "sk-proj-" + "replaytest0123456789"),
    "anthropic": Wiring("ANTHROPIC_BASE_URL", "", "ANTHROPIC_API_KEY", "sk-ant-" + "api03-replaytest0123456789"),
    "google": Wiring("GOOGLE_BASE_URL", "", "GOOGLE_API_KEY", "AIza" + "ReplayTest0123456789abcdef"),
    "gemini": Wiring("GEMINI_BASE_URL", "/v1beta/openai/", "GOOGLE_API_KEY", "AIza" + "ReplayTest0123456789abcdef"),
    "deepseek": Wiring("DEEPSEEK_BASE_URL", "", "DEEPSEEK_API_KEY", "sk-" + "replaytest0123456789"),
    "groq": Wiring("GROQ_BASE_URL", "/openai/v1", "GROQ_API_KEY", "gsk_" + "replaytest0123456789"),
    "grok": Wiring("GROK_BASE_URL", "/v1", "GROK_API_KEY", "xai-" + "replaytest0123456789"),
    "openrouter": Wiring("OPENROUTER_BASE_URL", "/api/v1", "OPENROUTER_API_KEY", "sk-or-v1-" + "replaytest0123456789"),
    "ollama": Wiring("OLLAMA_BASE_URL", "/v1", None, None),
}


@contextmanager
def replaying(monkeypatch: pytest.MonkeyPatch, provider: str, *names: str, latency: float = 0.0,
              chunk_delay: float = 0.0) -> Iterator[ReplayServer]:
    """A started replay server of the named recordings, with the provider's base URL and a fake key set."""
    wiring = WIRING[provider]
    with ReplayServer(*(load(n) for n in names), latency=latency, chunk_delay=chunk_delay) as server:
        monkeypatch.setenv(wiring.base_var, server.base_url + wiring.prefix)
        if wiring.key_var:
            monkeypatch.setenv(wiring.key_var, wiring.key or "")
        yield server


def genai_price(provider_id: str, model_ref: str, prompt: int, completion: int, cached: int | None = None,
                cache_write: int | None = None) -> float:
    """Dollars genai-prices gives for these recorded token counts (prompt includes cached and written parts)."""
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=prompt, output_tokens=completion, cache_read_tokens=cached or None,
                  cache_write_tokens=cache_write or None)
    return float(calc_price(usage, model_ref=model_ref, provider_id=provider_id).total_price)


def logged(answer: Answer) -> dict[str, Any]:
    """The run-log row written for this answer."""
    assert answer.call_id is not None and answer.run_id is not None, "the answer was not logged"
    rows = [r for r in run_log.default().calls(answer.run_id) if r["id"] == answer.call_id]
    assert len(rows) == 1
    return rows[0]


def recorded_usage(name: str) -> Mapping[str, Any]:
    """The usage object of a recorded JSON body (for comparing with what we parsed)."""
    return load(name)["response"]["body"]["usage"]


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def cli(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120) -> CliResult:
    """``python -m helpers ARGS`` in a fresh process with this test's environment (keys, base URLs, db)."""
    full = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True, text=True, cwd=ROOT,
                          env=full, timeout=timeout, check=False)
    return CliResult(done.returncode, done.stdout, done.stderr)


@dataclass(frozen=True)
class Expected:
    """What a replayed success must produce. ``usage`` is (prompt, completion, cached, reasoning, cache write);
    ``price`` is (genai-prices provider id, model ref) for the expected cost; None for a local model (no API
    fee); ``no_price`` instead names the reason expected when no price is known (the cost is then n/a)."""

    text: str
    model: str
    usage: tuple[int | None, int | None, int | None, int | None, int | None]
    price: tuple[str, str] | None
    finish: str | None = "stop"
    reasoning: str = ""
    provider_cost: float | None = None
    no_price: str = ""
    emissions: bool = True
    sent: dict[str, Any] = field(default_factory=dict)
    path_end: str = "/chat/completions"
