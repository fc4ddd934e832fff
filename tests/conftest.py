"""Shared fixtures: an isolated environment for every test, and loopback provider stand-ins."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers import settings
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI

# Every variable that could point a test at a real provider or a real key. Extend here.
PROVIDER_ENV_VARS: list[str] = [
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
    "GROQ_API_KEY", "GROK_API_KEY", "XAI_API_KEY", "OPENROUTER_API_KEY",
    "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL", "GOOGLE_BASE_URL", "DEEPSEEK_BASE_URL",
    "GROQ_BASE_URL", "GROK_BASE_URL", "OPENROUTER_BASE_URL", "OLLAMA_BASE_URL", "LOCAL_BASE_URL",
    "CUSTOM_BASE_URL",
    "LLMLAB_LOCAL_MODEL", "LLMLAB_MAX_RETRIES", "LLMLAB_COUNTRY", "LLMLAB_EMISSION_FACTORS",
]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real keys, base URLs or .env; the database and LLMLAB_HOME live in tmp_path."""
    for name in PROVIDER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LLMLAB_DB", str(tmp_path / "llmlab.db"))
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(tmp_path / "no-such.env"))
    monkeypatch.setenv("LLMLAB_HOME", str(tmp_path))
    monkeypatch.setenv("LLMLAB_MEASURE_LOCAL", "0")  # CodeCarbon around local calls: off unless a test turns it on
    monkeypatch.setattr(settings, "_loaded_from", None)  # forget any .env loaded by an earlier test
    return tmp_path


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A started OpenAI-compatible server; `.base_url` ends in /v1."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai_factory() -> Iterator[Callable[..., FakeOpenAI]]:
    """Make any number of started FakeOpenAI servers (same arguments as FakeOpenAI); all stopped after."""
    servers: list[FakeOpenAI] = []

    def make(*args: Any, **kwargs: Any) -> FakeOpenAI:
        server = FakeOpenAI(*args, **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    """A started Ollama stand-in with llama3.2:latest installed; native API at `.root_url`."""
    with FakeOllama() as server:
        yield server


@pytest.fixture(scope="session")
def _engine_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real bundled engine (SmolLM2 via llama.cpp) on a free port, for the whole session."""
    from helpers.providers import local_engine

    folder = tmp_path_factory.mktemp("engine")
    state = local_engine.launch(local_engine.bundled_model(), local_engine.free_port(), "smollm2",
                                folder / "engine.log")
    yield state
    local_engine.terminate(state.pid)


@pytest.fixture
def local_engine(_engine_process: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The session's real engine, with LOCAL_BASE_URL pointing at it (local/smollm2 answers through it)."""
    monkeypatch.setenv("LOCAL_BASE_URL", _engine_process.base_url)
    return _engine_process


@pytest.fixture(autouse=True)
def _no_engine_left(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An engine started on demand in a test gets a free port and is stopped when the test ends."""
    from helpers.providers import local_engine

    monkeypatch.setenv("LLMLAB_LOCAL_PORT", str(local_engine.free_port()))
    yield
    if (isolated_env / "engine.json").exists():
        local_engine.stop()
