"""helpers.notebook: the setup cell's status, model choices, keyed-cell guard and rendering."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import notebook
from helpers.answer import Answer, Usage
from helpers.errors import ConfigError
from helpers.notebook import Service, setup

ENGINE = Service("bundled engine", True, "test engine", ["local/smollm2"])
STUB = Service("stub", True, "recorded", ["stub/gpt-35-turbo", "stub/gpt-4"])
NO_OLLAMA = Service("Ollama", False, "not running at http://localhost:11434")
OPENAI_TEST_KEY = "sk-" + "proj-" + "T3stKeyForNotebookSetup0123456789"  # built at run time: no key-shaped literal


def offline_lab(*extra: Service) -> notebook.Lab:
    return setup(show_status=False, services=[ENGINE, *extra, STUB])


def test_offline_models_span_two_providers_first() -> None:
    lab = offline_lab(NO_OLLAMA)
    assert lab.models() == ["local/smollm2", "stub/gpt-35-turbo", "stub/gpt-4"]
    assert lab.models(2) == ["local/smollm2", "stub/gpt-35-turbo"]
    assert lab.model() == "local/smollm2"
    assert all(c.offline and c.label.startswith("offline: ") for c in lab.choices())


def test_one_model_per_provider_comes_before_a_providers_second() -> None:
    ollama = Service("Ollama", True, "running", ["ollama/llama3.2", "ollama/qwen3"])
    lab = offline_lab(ollama)
    assert lab.models(3) == ["local/smollm2", "ollama/llama3.2", "stub/gpt-35-turbo"]
    assert lab.models()[3:] == ["ollama/qwen3", "stub/gpt-4"]
    assert lab.offline_models("ollama") == ["ollama/llama3.2", "ollama/qwen3"]


def test_keyed_frontier_defaults_come_first_in_course_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_" + "x" * 20)
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_TEST_KEY)
    lab = offline_lab()
    assert lab.models(3) == ["openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b", "local/smollm2"]
    assert lab.label("openai/gpt-4.1-mini") == "OpenAI, OPENAI_API_KEY set"
    assert lab.label("anthropic/claude-haiku-4-5") == "not available here"


def test_nothing_available_says_how_to_fix() -> None:
    lab = setup(show_status=False, services=[Service("stub", False, "stub-ai is not installed")])
    assert lab.models() == []
    with pytest.raises(ConfigError, match="make install"):
        lab.model()


def test_status_masks_keys_and_shows_their_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_TEST_KEY)
    monkeypatch.setenv("GROQ_API_KEY", " " + "gsk_" + "y" * 20)
    text = str(offline_lab(NO_OLLAMA))
    assert OPENAI_TEST_KEY not in text and "y" * 20 not in text
    assert "OPENAI_API_KEY sk-proj-…(" in text
    assert "GROQ_API_KEY has leading or trailing whitespace" in text
    assert "Keys not set: ANTHROPIC_API_KEY" in text
    assert "Ollama: ✗ not running" in text and "1. openai/gpt-4.1-mini — OpenAI" in text


def test_setup_reads_the_env_file(isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    env = isolated_env / "course.env"
    env.write_text("DEEPSEEK_API_KEY=sk-" + "d" * 24 + "\n", encoding="utf-8")
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    lab = setup(services=[STUB])
    printed = capsys.readouterr().out
    assert lab.models(1) == ["deepseek/deepseek-chat"]
    assert f".env: {env}" in printed and "d" * 24 not in printed


def test_no_key_status_says_cells_will_skip() -> None:
    text = str(offline_lab())
    assert "Keys set\n- none: the offline models answer" in text


def test_need_names_the_missing_key_and_where_to_get_it(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    lab = offline_lab(NO_OLLAMA)
    assert lab.need("ANTHROPIC_API_KEY") is False
    assert capsys.readouterr().out == ("⏭ this cell needs ANTHROPIC_API_KEY (get one at "
                                       "https://console.anthropic.com/settings/keys); skipped\n")
    assert lab.need("groq/openai/gpt-oss-20b", "anthropic") is False
    out = capsys.readouterr().out
    assert "GROQ_API_KEY (get one at https://console.groq.com/keys); ANTHROPIC_API_KEY" in out
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-" + "z" * 20)
    assert lab.need("ANTHROPIC_API_KEY") and lab.need("anthropic/claude-haiku-4-5")
    assert capsys.readouterr().out == ""


def test_need_checks_offline_services(capsys: pytest.CaptureFixture[str]) -> None:
    lab = offline_lab(NO_OLLAMA)
    assert lab.need("engine") and lab.need("local/smollm2") and lab.need("stub/gpt-4")
    assert lab.need("ollama") is False
    assert "needs Ollama (not running at http://localhost:11434); skipped" in capsys.readouterr().out


def test_need_for_a_service_setup_did_not_look_at(capsys: pytest.CaptureFixture[str]) -> None:
    assert offline_lab().need("ollama") is False
    assert "needs Ollama (not looked at by setup())" in capsys.readouterr().out


def test_need_rejects_what_it_does_not_know() -> None:
    with pytest.raises(ConfigError, match="not a key, provider or spec"):
        offline_lab().need("OPENAPI_KEY")


def test_ollama_service_lists_installed_models(fake_ollama, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.base_url)
    service = notebook.ollama_service()
    assert service.available and service.models == ["ollama/llama3.2"]
    fake_ollama.remove_model("llama3.2:latest")
    service = notebook.ollama_service()
    assert not service.available and "ollama pull" in service.detail


def test_ollama_service_when_nothing_listens(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.providers import local_engine

    monkeypatch.setenv("OLLAMA_BASE_URL", f"http://127.0.0.1:{local_engine.free_port()}/v1")
    service = notebook.ollama_service()
    assert not service.available and "ollama serve" in service.detail


def test_engine_service(monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    monkeypatch.setenv("LOCAL_BASE_URL", "http://127.0.0.1:9/v1")
    assert notebook.engine_service().detail == "LOCAL_BASE_URL=http://127.0.0.1:9/v1 serves local/smollm2"
    monkeypatch.delenv("LOCAL_BASE_URL")
    monkeypatch.setenv("LLMLAB_LOCAL_MODEL", str(isolated_env / "missing.gguf"))
    if notebook.importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    service = notebook.engine_service()
    assert not service.available and "missing.gguf" in service.detail and "does not exist" in service.detail


def test_versions_are_read_from_package_metadata() -> None:
    found = notebook.versions()
    assert found["python"].startswith("3.") and found["openai"] == "3.54.0"
    assert notebook._version("no-such-package-xyz") == "not installed"


def answer(spec: str, text: str, error: str | None = None) -> Answer:
    provider, _, model = spec.partition("/")
    return Answer(spec=spec, provider=provider, model=model, text=text, error=error, offline=True,
                  usage=Usage(prompt_tokens=5, completion_tokens=7), latency_s=0.5)


def test_show_renders_text_outside_a_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    assert not notebook.in_notebook()
    notebook.show(answer("local/smollm2", "Blue."))
    out = capsys.readouterr().out
    assert "── local/smollm2 [offline]\nBlue.\ntokens 5 in / 7 out" in out
    notebook.show([answer("local/smollm2", "Blue."), answer("stub/gpt-4", "", error="no recording")])
    out = capsys.readouterr().out
    assert "Blue." in out and "⚠ no recording" in out
    for empty in (None, []):
        notebook.show(empty)
        assert capsys.readouterr().out == "(nothing to show yet)\n"
    notebook.show("**bold**")
    assert capsys.readouterr().out == "**bold**\n"
