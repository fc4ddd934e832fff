"""Tests of the loopback stand-ins themselves, through the real openai SDK and httpx."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from tests.fakes.ollama_server import FakeOllama
from tests.fakes.openai_server import FakeOpenAI, Fault

MSG = [{"role": "user", "content": "hello there world"}]


def client(server: FakeOpenAI, **kw: object) -> openai.OpenAI:
    kw.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=server.base_url, api_key="sk-test", **kw)  # type: ignore[arg-type]


def test_completion_with_usage(fake_openai: FakeOpenAI) -> None:
    r = client(fake_openai).chat.completions.create(model="gpt-4.1-mini", messages=MSG)
    assert r.id.startswith("chatcmpl-") and r.object == "chat.completion"
    assert r.model == "gpt-4.1-mini"
    assert r.choices[0].message.content == "Echo: hello there world"
    assert r.choices[0].message.role == "assistant" and r.choices[0].finish_reason == "stop"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens, r.usage.total_tokens) == (3, 4, 7)
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details.reasoning_tokens == 0


def test_requests_are_recorded(fake_openai: FakeOpenAI) -> None:
    client(fake_openai).chat.completions.create(model="gpt-5-nano", messages=MSG, temperature=0.2)
    assert fake_openai.count("/v1/chat/completions") == 1 and fake_openai.count() == 1
    rec = fake_openai.requests[0]
    assert rec.method == "POST" and rec.path == "/v1/chat/completions"
    assert rec.headers["authorization"] == "Bearer sk-test" and rec.api_key == "sk-test"
    assert rec.body == {"model": "gpt-5-nano", "messages": MSG, "temperature": 0.2}
    assert rec.time <= time.time()


def test_stream_with_usage(fake_openai: FakeOpenAI) -> None:
    stream = client(fake_openai).chat.completions.create(
        model="gpt-4.1-mini", messages=MSG, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hello there world"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 3
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


def test_stream_without_include_usage_has_no_usage(fake_openai: FakeOpenAI) -> None:
    chunks = list(client(fake_openai).chat.completions.create(model="m", messages=MSG, stream=True))
    assert all(c.usage is None for c in chunks) and chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize(("fault", "exc"), [
    ("status:400", openai.BadRequestError),
    (401, openai.AuthenticationError),
    ("403", openai.PermissionDeniedError),
    (Fault.status(404), openai.NotFoundError),
    (Fault.status(429, retry_after=0), openai.RateLimitError),
    ("quota", openai.RateLimitError),
    ("status:500", openai.InternalServerError),
    ("status:503", openai.InternalServerError),
    ("close", openai.APIConnectionError),
])
def test_faults_raise_sdk_errors(fake_openai: FakeOpenAI, fault: Fault | str | int,
                                 exc: type[Exception]) -> None:
    fake_openai.script([fault])
    with pytest.raises(exc):
        client(fake_openai).chat.completions.create(model="gpt-4.1-mini", messages=MSG)
    assert fake_openai.pending == 0 and not fake_openai.errors


def test_error_bodies_are_realistic(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(["status:400", "status:404", Fault.status(429, retry_after=2)])
    with pytest.raises(openai.BadRequestError) as e400:
        client(fake_openai).chat.completions.create(model="gpt-4.1-mini", messages=MSG)
    assert e400.value.code == "context_length_exceeded" and e400.value.type == "invalid_request_error"
    with pytest.raises(openai.NotFoundError) as e404:
        client(fake_openai).chat.completions.create(model="gpt-9", messages=MSG)
    assert e404.value.code == "model_not_found" and "gpt-9" in e404.value.message
    r = httpx.post(fake_openai.base_url + "/chat/completions", json={"model": "x", "messages": MSG})
    assert r.status_code == 429 and r.headers["retry-after"] == "2"
    assert r.json()["error"]["code"] == "rate_limit_exceeded" and r.json()["error"]["param"] is None


def test_timeout_fault(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Fault.timeout(5)])
    with pytest.raises(openai.APITimeoutError):
        client(fake_openai, timeout=0.3).chat.completions.create(model="m", messages=MSG)
    start = time.monotonic()
    fake_openai.stop()  # wakes the sleeping handler
    assert time.monotonic() - start < 2


def test_cut_stream_raises(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Fault.cut_stream(after=2)])
    stream = client(fake_openai).chat.completions.create(model="m", messages=MSG, stream=True)
    got: list[object] = []
    with pytest.raises((httpx.RemoteProtocolError, openai.APIConnectionError)):
        got.extend(stream)
    assert len(got) == 2


def test_slow_first_byte_and_chunk_delay(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(first_byte_delay=0.3, chunk_delay=0.02)
    start = time.monotonic()
    stream = client(server).chat.completions.create(model="m", messages=MSG, stream=True)
    first = next(iter(stream))
    ttft = time.monotonic() - start
    assert first.choices[0].delta.role == "assistant" and 0.3 <= ttft < 2
    list(stream)
    server.script([Fault.slow_first_byte(0.3)])
    start = time.monotonic()
    client(server).chat.completions.create(model="m", messages=MSG)
    assert time.monotonic() - start >= 0.3


def test_content_shapes(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(["empty_choices", "no_usage", "empty_content", "think", "reasoning_field", "length",
                        Fault.ok(text="fixed", usage={"prompt_tokens": 100, "cached_tokens": 60},
                                 model="gpt-4.1-mini-2025-04-14")])
    c = client(fake_openai)

    def call() -> openai.types.chat.ChatCompletion:
        return c.chat.completions.create(model="gpt-4.1-mini", messages=MSG)

    assert call().choices == []
    assert call().usage is None
    assert call().choices[0].message.content == ""
    assert call().choices[0].message.content.startswith("<think>")  # type: ignore[union-attr]
    r = call()
    assert r.choices[0].message.content == "Echo: hello there world"
    assert getattr(r.choices[0].message, "reasoning_content", "").startswith("The user")
    assert r.usage is not None and r.usage.completion_tokens_details.reasoning_tokens > 0
    assert call().choices[0].finish_reason == "length"
    r = call()
    assert r.choices[0].message.content == "fixed" and r.model == "gpt-4.1-mini-2025-04-14"
    assert r.usage is not None and r.usage.prompt_tokens == 100 and r.usage.total_tokens == 101
    assert r.usage.prompt_tokens_details.cached_tokens == 60


def test_malformed_body(fake_openai: FakeOpenAI) -> None:
    fake_openai.script(["malformed"])
    with pytest.raises((openai.APIResponseValidationError, json.JSONDecodeError)):
        client(fake_openai).chat.completions.create(model="m", messages=MSG)


def test_max_tokens_truncates(fake_openai: FakeOpenAI) -> None:
    r = client(fake_openai).chat.completions.create(model="m", messages=MSG, max_tokens=2)
    assert r.choices[0].message.content == "Echo: hello" and r.choices[0].finish_reason == "length"


def test_reply_callable_model_map_and_reported_name(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(reply=lambda body: body["model"].upper(),
                                 model_reported={"gpt-4.1-mini": "gpt-4.1-mini-2025-04-14"})
    server.on_model("bad-model", Fault.status(404)).script(["status:500"])
    c = client(server)
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="bad-model", messages=MSG)
    assert server.pending == 1  # the per-model fault did not consume the queue
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="gpt-4.1-mini", messages=MSG)
    r = c.chat.completions.create(model="gpt-4.1-mini", messages=MSG)
    assert r.choices[0].message.content == "GPT-4.1-MINI" and r.model == "gpt-4.1-mini-2025-04-14"


def test_sdk_retries_through_script(fake_openai: FakeOpenAI) -> None:
    fake_openai.script([Fault.status(429, headers={"retry-after-ms": "1"}), "ok"])
    r = client(fake_openai, max_retries=2).chat.completions.create(model="m", messages=MSG)
    assert r.choices[0].message.content and fake_openai.count("/v1/chat/completions") == 2


def test_models_and_unknown_path(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(["a-model", "b-model"], strict_models=True)
    assert [m.id for m in client(server).models.list()] == ["a-model", "b-model"]
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(model="c-model", messages=MSG)
    r = httpx.get(server.root_url + "/v1/nothing")
    assert r.status_code == 404 and "Invalid URL" in r.json()["error"]["message"]
    server.on_path("/v1/models", "status:503")
    with pytest.raises(openai.InternalServerError):
        client(server).models.list()


def test_api_key_check(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(api_key="sk-right")
    with pytest.raises(openai.AuthenticationError) as err:
        client(server).chat.completions.create(model="m", messages=MSG)
    assert err.value.code == "invalid_api_key"
    ok = openai.OpenAI(base_url=server.base_url, api_key="sk-right", max_retries=0)
    assert ok.chat.completions.create(model="m", messages=MSG).choices


def test_fifty_concurrent_calls(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(latency=0.2)
    c = client(server)
    start = time.monotonic()
    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda i: c.chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"n{i}"}]), range(50)))
    assert sorted(r.choices[0].message.content for r in results) == sorted(f"Echo: n{i}" for i in range(50))
    assert time.monotonic() - start < 3 and server.max_inflight >= 10 and not server.errors


async def test_async_client_concurrency(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    server = fake_openai_factory(latency=0.1)
    c = openai.AsyncOpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    rs = await asyncio.gather(*(c.chat.completions.create(model="m", messages=MSG) for _ in range(30)))
    assert len(rs) == 30 and server.count() == 30


def test_rate_limit_option(fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    server = fake_openai_factory(latency=0.3, rate_limit=2)

    def status(_: int) -> int:
        return httpx.post(server.base_url + "/chat/completions", json={"model": "m", "messages": MSG},
                          timeout=5).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(status, range(8)))
    assert codes.count(200) >= 2 and codes.count(429) >= 1 and server.max_inflight <= 2


def test_fault_parse() -> None:
    assert Fault.parse("status:429") == Fault.status(429)
    assert Fault.parse("503").code == 503 and Fault.parse(500).kind == "status"
    assert Fault.parse("timeout:2").seconds == 2 and Fault.parse("cut-stream:3").after == 3
    assert Fault.parse("think").kind == "think"
    with pytest.raises(ValueError):
        Fault.parse("explode")


def test_isolated_env(isolated_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    assert "OPENAI_API_KEY" not in os.environ and "OLLAMA_BASE_URL" not in os.environ
    assert os.environ["LLMLAB_DB"].startswith(str(isolated_env))
    assert not os.path.exists(os.environ["LLMLAB_ENV_FILE"])


# -- Ollama ------------------------------------------------------------------------------------------
def test_ollama_root_and_tags(fake_ollama: FakeOllama) -> None:
    assert httpx.get(fake_ollama.root_url + "/").text == "Ollama is running"
    models = httpx.get(fake_ollama.root_url + "/api/tags").json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:latest"]
    assert models[0]["details"]["family"] == "llama" and models[0]["details"]["parameter_size"] == "3.2B"
    assert models[0]["size"] > 0 and len(models[0]["digest"]) == 64


def test_ollama_pull_stream(fake_ollama: FakeOllama) -> None:
    with httpx.stream("POST", fake_ollama.root_url + "/api/pull", json={"model": "qwen2.5:0.5b"}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[0] == {"status": "pulling manifest"} and lines[-1] == {"status": "success"}
    progress = [x for x in lines if "total" in x]
    assert len(progress) >= 4 and all(x["completed"] <= x["total"] for x in progress)
    assert progress[0]["status"].startswith("pulling ") and progress[0]["digest"].startswith("sha256:")
    assert {"status": "verifying sha256 digest"} in lines and {"status": "writing manifest"} in lines
    assert "qwen2.5:0.5b" in fake_ollama.installed
    with httpx.stream("POST", fake_ollama.root_url + "/api/pull", json={"model": "no-such"}) as r:
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[-1] == {"error": "pull model manifest: file does not exist"}


def test_ollama_native_chat_and_generate(fake_ollama: FakeOllama) -> None:
    r = httpx.post(fake_ollama.root_url + "/api/chat",
                   json={"model": "llama3.2", "messages": MSG, "stream": False}).json()
    assert r["message"] == {"role": "assistant", "content": "Echo: hello there world"} and r["done"] is True
    assert r["eval_count"] == 4 and r["prompt_eval_count"] == 3
    assert r["eval_duration"] > 0 and r["eval_count"] / (r["eval_duration"] / 1e9) == pytest.approx(50)
    assert r["total_duration"] >= r["eval_duration"]
    with httpx.stream("POST", fake_ollama.root_url + "/api/generate",
                      json={"model": "llama3.2", "prompt": "hi you"}) as s:
        parts = [json.loads(line) for line in s.iter_lines() if line]
    assert "".join(p["response"] for p in parts) == "Echo: hi you" and parts[-1]["done"]
    assert parts[-1]["eval_count"] == 3
    missing = httpx.post(fake_ollama.root_url + "/api/chat", json={"model": "nope", "messages": MSG})
    assert missing.status_code == 404 and "not found" in missing.json()["error"]


def test_ollama_openai_compatible(fake_ollama: FakeOllama) -> None:
    c = openai.OpenAI(base_url=fake_ollama.base_url, api_key="ollama", max_retries=0)
    assert [m.id for m in c.models.list()] == ["llama3.2:latest"]
    r = c.chat.completions.create(model="llama3.2", messages=MSG)
    assert r.choices[0].message.content == "Echo: hello there world" and r.usage is not None
    with pytest.raises(openai.NotFoundError):
        c.chat.completions.create(model="mistral", messages=MSG)
    fake_ollama.script(["status:500"])
    assert httpx.post(fake_ollama.root_url + "/api/chat", json={"model": "llama3.2"}).json() == {
        "error": "The server had an error while processing your request. Sorry about that!"}
    assert fake_ollama.count("/v1/chat/completions") == 2 and fake_ollama.requests[0].path == "/v1/models"
