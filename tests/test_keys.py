"""Key loading, masking, redaction and the warnings of `llmlab keys`."""

import pytest

from helpers import keys, settings
from helpers.cli import main

REAL_LOOKING = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2


def test_mask_shows_at_most_eight_characters():
    masked = keys.mask(REAL_LOOKING)
    assert masked.startswith("sk-proj-") and REAL_LOOKING[8:12] not in masked
    assert keys.mask("abc") == "a…(3 chars)"
    assert keys.mask(None) == "not set"


def test_redact_removes_configured_and_key_shaped_strings(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "weird-format-key-123456789")
    groq_like = "gsk_" + "abcdefghijklmnop"
    text = f"failed with {REAL_LOOKING} and weird-format-key-123456789 and {groq_like}"
    out = keys.redact(text)
    for secret in (REAL_LOOKING, "weird-format-key-123456789", groq_like):
        assert secret not in out


@pytest.mark.parametrize("raw, prefixes, words", [
    (" sk-abcdefghijklmnopqrst", ("sk-",), "whitespace"),
    ("sk-abcdefghijklmnopqrst\t", ("sk-",), "whitespace"),
    ("'sk-abcdefghijklmnopqrst'", ("sk-",), "quotes"),
    ("\u201csk-abcdefghijklmnopqrst\u201d", ("sk-",), "curly quotes"),
    ("sk\u2013abcdefghijklmnopqrst", ("sk-",), "long dash"),
    ("sk-abcdefghij\u200bklmnopqrst", ("sk-",), "invisible"),
    ("sk-xxxxxxxxxxxxxxxx", ("sk-",), "placeholder"),
    ("your-api-key-here", ("sk-",), "placeholder"),
    ("sk-abcdefghijklmnopqrst", ("gsk_",), "'gsk_'"),
    ("AIza" + "Syabcdefghijklmnop", ("sk-ant-",), "right variable"),
])
def test_warnings_name_the_fix(raw, prefixes, words):
    found = keys.check_value(raw, prefixes, "X_API_KEY")
    assert any(words in w for w in found), found


def test_good_key_has_no_warning():
    assert keys.check_value("sk-ant-" + "api03-abcdefghijklmnop", ("sk-ant-",), "ANTHROPIC_API_KEY") == []


def test_env_file_is_loaded_with_override(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text('OPENAI_API_KEY="sk-fromfile-abcdefghijklmnop"\nGROQ_API_KEY= gsk_' + 'x' * 16 + '\n')
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fromshell-abcdefghijkl")
    settings.load_env(force=True)
    assert settings.get("OPENAI_API_KEY") == "sk-fromfile-abcdefghijklmnop"


def test_keys_command_masks_and_warns(tmp_path, monkeypatch, capsys):
    env = tmp_path / ".env"
    secret = "sk-ant-" + "Zq9" * 12
    env.write_text(f"ANTHROPIC_API_KEY={secret}\nGROQ_API_KEY=sk-wrongprefix-abcdefghijk\n"
                   "OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxx\n")
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    settings.load_env(force=True)
    code = main(["keys"])
    out = capsys.readouterr().out
    assert code == 1
    assert secret not in out and secret[:8] in out
    assert "GROQ_API_KEY starts with 'sk-w…'" in out and "'gsk_'" in out
    assert "placeholder" in out
    assert "DEEPSEEK_API_KEY" in out and "not set" in out
