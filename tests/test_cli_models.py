"""`llmlab models`: the catalog, and --check against a provider's /models endpoint."""

from helpers.cli import main


def test_models_lists_catalog_without_network(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "groq/openai/gpt-oss-20b" in out and "local/smollm2  (default)" in out
    assert "OPENAI_API_KEY not set" in out


def test_models_check_marks_offered_models(fake_openai, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "m" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    fake_openai.models = ["gpt-4.1-mini", "gpt-5-nano", "o9-preview"]
    assert main(["models", "openai", "--check"]) == 0
    out = capsys.readouterr().out
    assert fake_openai.last.path == "/v1/models"
    assert "openai/gpt-4.1-mini  (default)  ✓ offered" in out
    assert "openai/gpt-4o-mini  ✗ not offered" in out
    assert "also offered: o9-preview" in out


def test_models_check_reports_refused_key(fake_openai, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "m" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    fake_openai.on_path("/v1/models", "status:401")
    assert main(["models", "openai", "--check"]) == 1
    assert "refused the key in OPENAI_API_KEY" in capsys.readouterr().out


def test_unknown_provider_is_a_clear_error(capsys):
    assert main(["models", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown provider 'nosuch'" in err and "Known providers" in err
