"""Ollama: native endpoints against the loopback stand-in, chat through the OpenAI-compatible path, and
the 'not running' message (fast: no retries against a local server)."""

from __future__ import annotations

import pytest

from helpers.cli import main
from helpers.errors import ConnectionFailed, UnknownModelError
from helpers.llm import ask
from helpers.providers import ollama
from helpers.providers.local_engine import free_port
from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def ollama_env(fake_ollama: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> FakeOllama:
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.base_url)
    return fake_ollama


@pytest.fixture
def no_ollama(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nobody listens there
    monkeypatch.setenv("OLLAMA_BASE_URL", url)
    return url


def test_root_url_from_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ollama.root_url() == "http://localhost:11434"
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://gpu-box:11434/v1/")
    assert ollama.root_url() == "http://gpu-box:11434"


def test_status_running_and_not(ollama_env: FakeOllama, fake_openai: FakeOpenAI, no_ollama: str) -> None:
    up = ollama.status(ollama_env.root_url)
    assert up.running and up.version == "0.12.3" and up.url == ollama_env.root_url
    assert [r.path for r in ollama_env.requests] == ["/", "/api/version"]
    down = ollama.status()
    assert not down.running and down.url == no_ollama.removesuffix("/v1")
    assert "Ollama is not running" in down.message and "ollama serve" in down.message
    assert "local/smollm2" in down.message
    other = ollama.status(fake_openai.root_url)
    assert not other.running and "not as Ollama" in other.message


def test_installed_models(ollama_env: FakeOllama) -> None:
    ollama_env.add_model("qwen2.5:0.5b")
    found = {m.name: m for m in ollama.models()}
    assert set(found) == {"llama3.2:latest", "qwen2.5:0.5b"}
    llama = found["llama3.2:latest"]
    assert llama.spec == "ollama/llama3.2" and found["qwen2.5:0.5b"].spec == "ollama/qwen2.5:0.5b"
    assert (llama.parameter_size, llama.quantization, llama.family) == ("3.2B", "Q4_K_M", "llama")
    assert llama.size_bytes == int(3.2e9 * 0.6)


def test_pull_streams_progress_bars(ollama_env: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    events = ollama.pull("qwen2.5:0.5b")
    assert events[0] == {"status": "pulling manifest"} and events[-1] == {"status": "success"}
    assert "qwen2.5:0.5b" in ollama_env.installed
    assert ollama_env.last.body == {"model": "qwen2.5:0.5b", "stream": True}
    out, err = capsys.readouterr()
    layers = {e["digest"] for e in events if "digest" in e}
    assert len(layers) == 3 and all(f"pulling {d[7:19]}: 100%" in err for d in layers)  # a bar per layer
    assert "286M/286M" in err  # the big layer's size, in bytes with units
    assert "verifying sha256 digest" in out and "writing manifest" in out  # status lines between the bars


def test_pull_failures(ollama_env: FakeOllama, no_ollama: str) -> None:
    with pytest.raises(ConnectionFailed) as err:
        ollama.pull("llama3.2", progress=False)
    assert "Ollama is not running" in err.value.message and "ollama serve" in err.value.hint
    with pytest.raises(UnknownModelError) as err:
        ollama.pull("no-such-model", url=ollama_env.base_url, progress=False)
    assert "file does not exist" in err.value.message and "ollama.com/library" in err.value.hint


def test_tokens_per_second_from_counters() -> None:
    assert ollama.tokens_per_second(120, 3_000_000_000) == pytest.approx(40.0)
    assert ollama.tokens_per_second(0, 5) is None and ollama.tokens_per_second(5, None) is None


def test_chat_stats_reads_eval_counters(ollama_env: FakeOllama) -> None:
    ollama_env.tokens_per_second = 80.0
    stats = ollama.chat_stats("llama3.2", "hello there world", temperature=0, num_predict=50)
    sent = ollama_env.last
    assert sent.path == "/api/chat" and sent.body["stream"] is False
    assert sent.body["options"] == {"temperature": 0, "num_predict": 50}
    assert stats.text == "Echo: hello there world" and stats.completion_tokens == 4
    assert stats.eval_s == pytest.approx(4 / 80, rel=1e-6) and stats.tokens_per_second == pytest.approx(80)
    assert stats.prompt_tokens == 3 and stats.prompt_tokens_per_second == pytest.approx(800, rel=1e-3)
    assert stats.load_s == pytest.approx(0.05) and stats.total_s > stats.eval_s
    with pytest.raises(UnknownModelError) as err:
        ollama.chat_stats("mistral", "hi")
    assert "not found" in err.value.message


def test_ask_ollama_through_openai_path(ollama_env: FakeOllama) -> None:
    a = ask("ollama/llama3.2", "hi there", max_tokens=20)
    sent = ollama_env.last
    assert sent.path == "/v1/chat/completions" and sent.body["model"] == "llama3.2"
    assert sent.body["max_tokens"] == 20 and sent.api_key == "ollama"
    assert a.ok and a.text == "Echo: hi there" and a.offline and a.usage.completion_tokens == 3


def test_local_servers_are_not_retried(ollama_env: FakeOllama, monkeypatch: pytest.MonkeyPatch) -> None:
    ollama_env.script(["status:503", "status:503"])
    a = ask("ollama/llama3.2", "hi")
    assert a.error_kind == "provider" and ollama_env.count("/v1/chat/completions") == 1
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "1")  # an explicit setting still applies
    ollama_env.script(["status:503"])
    assert ask("ollama/llama3.2", "hi again").ok and ollama_env.count("/v1/chat/completions") == 3


def test_cli_ask_when_ollama_is_not_running(no_ollama: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-m", "ollama/llama3.2", "hi"]) == 1
    out, err = capsys.readouterr()
    assert f"Ollama is not running at {no_ollama}" in err and "`ollama serve`" in err
    assert "local/smollm2" in err and "Traceback" not in out + err


def test_cli_ollama_commands(ollama_env: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ollama", "status"]) == 0 and "0.12.3 is running" in capsys.readouterr().out
    assert main(["ollama", "list"]) == 0
    assert "ollama/llama3.2" in capsys.readouterr().out
    assert main(["ollama", "pull", "gemma3:1b"]) == 0 and "gemma3:1b" in ollama_env.installed
    assert "ask it with -m ollama/gemma3:1b" in capsys.readouterr().out
    assert main(["ollama", "speed", "-m", "llama3.2", "--max-tokens", "9", "count", "to", "three"]) == 0
    out = capsys.readouterr().out
    assert "Echo: count to three" in out and "4 tokens" in out and "50.0 tokens/s" in out
    assert ollama_env.last.body["options"] == {"num_predict": 9}


def test_cli_ollama_not_running(no_ollama: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ollama", "status"]) == 1
    assert "ollama serve" in capsys.readouterr().out
    assert main(["ollama", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: Ollama is not running") and "fix: Start it with `ollama serve`" in err
