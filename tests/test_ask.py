"""`ask()` end to end against a loopback OpenAI-compatible server: what the SDK sent, what we parsed,
what the run log holds, and how each failure reads."""

import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys

import pytest

from helpers.errors import AuthError
from helpers.llm import ask, ask_async, ask_many
from helpers.runlog import store as run_log
from tests.fakes.openai_server import Fault

KEY = "sk-test-" + "k" * 24


@pytest.fixture
def openai_env(fake_openai, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    return fake_openai


def test_request_sent_and_usage_parsed(openai_env):
    openai_env.usage = {"prompt_tokens": 1000, "completion_tokens": 500, "cached_tokens": 200}
    a = ask("openai/gpt-4.1-mini", "What is 2+2?", system="Be brief.", temperature=0, max_tokens=50, seed=3)
    sent = openai_env.last
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "gpt-4.1-mini"
    assert sent.body["messages"] == [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": "What is 2+2?"}]
    assert sent.body["max_completion_tokens"] == 50 and "max_tokens" not in sent.body
    assert sent.body["temperature"] == 0 and sent.body["seed"] == 3
    assert a.ok and a.text == "Echo: What is 2+2?" and a.model_reported == "gpt-4.1-mini"
    assert (a.usage.prompt_tokens, a.usage.completion_tokens, a.usage.cached_tokens) == (1000, 500, 200)
    assert a.cost_usd == pytest.approx(800 * 0.4e-6 + 200 * 0.1e-6 + 500 * 1.6e-6)
    assert a.latency_s > 0 and not a.offline
    row = run_log.default().calls()[-1]
    assert row["text"] == a.text and row["prompt_tokens"] == 1000 and row["cost_usd"] == pytest.approx(a.cost_usd)
    assert json.loads(row["request"])["params"] == {"temperature": 0, "max_tokens": 50, "seed": 3}


def test_other_providers_send_max_tokens_and_their_key(fake_openai, monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_" + "g" * 30)
    monkeypatch.setenv("GROQ_BASE_URL", fake_openai.base_url)
    fake_openai.models.append("openai/gpt-oss-20b")
    a = ask("groq/openai/gpt-oss-20b@reasoning_effort=low", "hi", max_tokens=20)
    body = fake_openai.last.body
    assert body["model"] == "openai/gpt-oss-20b" and body["max_tokens"] == 20
    assert body["reasoning_effort"] == "low"
    assert fake_openai.last.headers["authorization"] == "Bearer gsk_" + "g" * 30
    assert a.spec == "groq/openai/gpt-oss-20b@reasoning_effort=low"


def test_cache_hit_sends_no_request_and_no_cache_records(openai_env):
    first = ask("openai/gpt-4o-mini", "cache me")
    second = ask("openai/gpt-4o-mini", "cache me")
    assert openai_env.count("/v1/chat/completions") == 1
    assert second.cached and second.text == first.text and second.usage == first.usage
    third = ask("openai/gpt-4o-mini", "cache me", use_cache=False)
    assert openai_env.count("/v1/chat/completions") == 2 and not third.cached
    rows = run_log.default().calls()
    assert [r["cache_hit"] for r in rows] == [0, 1, 0]


def test_streaming_ttft_usage_and_pieces(openai_env):
    openai_env.first_byte_delay = 0.05
    pieces = []
    a = ask("openai/gpt-4o-mini", "stream this please", on_text=pieces.append)
    assert openai_env.last.body["stream"] is True
    assert openai_env.last.body["stream_options"] == {"include_usage": True}
    assert "".join(pieces) == a.text == "Echo: stream this please" and len(pieces) > 1
    assert a.ttft_s is not None and 0.05 <= a.ttft_s <= a.latency_s
    assert a.usage.completion_tokens and a.cost_usd is not None


def test_reasoning_is_separated(openai_env):
    openai_env.script([Fault.think("first, add"), Fault.reasoning_field("deep thought")])
    a = ask("openai/gpt-4o-mini", "think 1")
    assert a.reasoning == "first, add" and "<think>" not in a.text and a.text
    b = ask("openai/gpt-4o-mini", "think 2")
    assert b.reasoning == "deep thought"


@pytest.mark.parametrize("fault, kind, words", [
    ("status:401", "auth", ["refused the key in OPENAI_API_KEY", "python -m helpers keys"]),
    ("status:403", "auth", ["403"]),
    ("status:404", "unknown_model", ["does not know the model", "python -m helpers models openai"]),
    ("status:400", "bad_request", ["context length", "Shorten the prompt"]),
    ("malformed", "malformed", ["could not be read"]),
    ("empty_choices", "malformed", ["no choices"]),
    ("empty_content", "empty", ["empty answer"]),
])
def test_failures_become_error_answers(openai_env, fault, kind, words):
    openai_env.script([fault])
    a = ask("openai/gpt-4o-mini", "fail please", max_retries=0)
    assert not a.ok and a.error_kind == kind
    for w in words:
        assert w in a.error
    assert KEY not in a.error
    row = run_log.default().calls()[-1]
    assert row["error_kind"] == kind and row["text"] == ""


def test_retries_honour_retry_after_then_succeed(openai_env):
    openai_env.script([Fault.status(429, retry_after=0), Fault.status(503, retry_after=0), "ok"])
    a = ask("openai/gpt-4o-mini", "retry me", max_retries=2)
    assert a.ok and openai_env.count("/v1/chat/completions") == 3


def test_5xx_after_retries_is_reported(openai_env):
    openai_env.script([Fault.status(500, retry_after=0)] * 3)
    a = ask("openai/gpt-4o-mini", "always failing", max_retries=2)
    assert a.error_kind == "provider" and "HTTP 500 after retries" in a.error
    assert openai_env.count("/v1/chat/completions") == 3


def test_timeout_and_refused_connection(openai_env, monkeypatch):
    openai_env.script([Fault.timeout(2)])
    a = ask("openai/gpt-4o-mini", "slow", timeout=0.3, max_retries=0)
    assert a.error_kind == "timeout" and "0.3 s" in a.error
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    b = ask("openai/gpt-4o-mini", "nobody home", max_retries=0)
    assert b.error_kind == "connection" and "OPENAI_BASE_URL" in b.error


def test_usage_missing_gives_unknown_cost_not_zero(openai_env):
    openai_env.script(["no_usage"])
    a = ask("openai/gpt-4o-mini", "no usage")
    assert a.ok and a.cost_usd is None and "no token usage" in a.cost_note


def test_stream_cut_keeps_partial_answer_flagged(openai_env):
    openai_env.script([Fault.cut_stream(2)])
    a = ask("openai/gpt-4o-mini", "a long answer that will be cut", stream=True, max_retries=0)
    assert a.incomplete and a.error_kind == "incomplete" and a.text
    assert run_log.default().cached(run_log.request_hash("openai", "gpt-4o-mini", a.messages, {})) is None


def test_missing_key_names_variable_and_where_to_get_one():
    a = ask("anthropic/claude-haiku-4-5", "hi")
    assert a.error_kind == "missing_key"
    assert "ANTHROPIC_API_KEY" in a.error and "console.anthropic.com" in a.error
    with pytest.raises(Exception) as info:
        ask("openai/gpt-4o-mini", "hi", raise_errors=True)
    assert "OPENAI_API_KEY" in str(info.value)


def test_refused_key_raises_typed_error_on_request(openai_env):
    openai_env.script(["status:401"])
    with pytest.raises(AuthError):
        ask("openai/gpt-4o-mini", "bad key", raise_errors=True, max_retries=0)



def test_raise_for_error_keeps_the_live_errors_message_and_hint(openai_env):
    """The error an answer recorded is raised again as it was: same class, message and hint (not the hint
    folded into the message), from ask(), ask(raise_errors=True) and ask_async alike."""
    from helpers.llm import prepare
    from helpers.providers import adapter

    openai_env.script(["status:401"] * 4)
    request = prepare("openai/gpt-4o-mini", "bad key", max_retries=0).request
    with pytest.raises(AuthError) as live:
        adapter(request.provider.api).complete(request)  # the error the adapter raised, before any answer
    assert live.value.hint and "python -m helpers keys" in live.value.hint
    a = ask("openai/gpt-4o-mini", "bad key", max_retries=0)
    assert a.error == str(live.value) and a.error_hint == live.value.hint
    for raising in (a.raise_for_error,
                    lambda: ask("openai/gpt-4o-mini", "bad key", max_retries=0, raise_errors=True),
                    lambda: asyncio.run(ask_async("openai/gpt-4o-mini", "bad key", max_retries=0, raise_errors=True))):
        with pytest.raises(AuthError) as again:
            raising()
        assert (again.value.message, again.value.hint) == (live.value.message, live.value.hint)
        assert str(again.value) == str(live.value)
    # read back from the run log (which stores the full text, no hint column): the same text is raised
    back = run_log.answer_from_row(run_log.default().calls(ok=False)[-1])
    with pytest.raises(AuthError) as read:
        back.raise_for_error()
    assert str(read.value) == str(live.value)


def test_async_fan_out_and_ask_many(openai_env):
    openai_env.latency = 0.2

    async def fan():
        return await asyncio.gather(*(ask_async("openai/gpt-4o-mini", f"q{i}") for i in range(6)))

    answers = asyncio.run(fan())
    assert [a.text for a in answers] == [f"Echo: q{i}" for i in range(6)]
    assert openai_env.max_inflight >= 4
    many = ask_many(["openai/gpt-4o-mini", "openai/gpt-4.1-mini"], "both", use_cache=False)
    assert [a.model for a in many] == ["gpt-4o-mini", "gpt-4.1-mini"]


def test_cli_ask_against_loopback_server(openai_env, tmp_path):
    env = {**os.environ, "OPENAI_BASE_URL": openai_env.base_url, "OPENAI_API_KEY": KEY,
           "LLMLAB_DB": str(tmp_path / "cli.db")}
    out = subprocess.run([sys.executable, "-m", "helpers", "ask", "-m", "openai/gpt-4o-mini", "hi"], check=False,
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Echo: hi" in out.stdout and "tokens" in out.stdout and "latency" in out.stdout
    assert "$0.0000" in out.stdout and KEY not in out.stdout + out.stderr
    rows = sqlite3.connect(tmp_path / "cli.db").execute("SELECT spec, text, cost_usd FROM calls").fetchall()
    assert rows == [("openai/gpt-4o-mini", "Echo: hi", pytest.approx(rows[0][2]))] and rows[0][2] > 0


def test_cli_errors_have_no_traceback(tmp_path):
    env = {**os.environ, "LLMLAB_DB": str(tmp_path / "cli.db"), "LLMLAB_ENV_FILE": str(tmp_path / "none")}
    for args, words in [(["ask", "-m", "nosuch/x", "hi"], "unknown provider 'nosuch'"),
                        (["ask", "-m", "openai/gpt-4o-mini", "hi"], "OPENAI_API_KEY")]:
        out = subprocess.run([sys.executable, "-m", "helpers", *args], check=False, capture_output=True, text=True,
                             env={k: v for k, v in env.items() if k != "OPENAI_API_KEY"}, timeout=60)
        assert out.returncode != 0 and words in out.stderr and "Traceback" not in out.stderr
