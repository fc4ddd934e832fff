"""Property-based tests (Hypothesis): whatever body a server sends, and whatever line a run file holds, the
result is an Answer (with text, or an error that says what happened) or a clear ConfigError, never a traceback.

Bodies go through a loopback server and the real SDKs (whole and streamed) for every adapter family, and
through each adapter's usage parser directly. Example counts are kept modest (CI has two cores).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import errors, llm
from helpers.providers import adapter
from helpers.runlog import store as run_log
from helpers.runlog import transfer

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
KINDS = {"malformed", "empty", "incomplete", "connection", "timeout", "provider", "bad_request", "auth",
         "unknown_model", "rate_limit", "config"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=12)

OPENAI = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
OPENAI_CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
ANTHROPIC = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-haiku-4-5",
             "content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn",
             "usage": {"input_tokens": 3, "output_tokens": 1}}
ANTHROPIC_EVENTS = [
    {"type": "message_start",
     "message": {**ANTHROPIC, "content": [], "usage": {"input_tokens": 3, "output_tokens": 0}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
    {"type": "message_stop"}]
GOOGLE = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}, "modelVersion": "gemini-2.5-flash-lite"}


def mutated(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A valid body with one field (at any depth) replaced by arbitrary JSON."""
    paths: list[tuple[Any, ...]] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(valid, ())

    def put(path: tuple[Any, ...], value: Any) -> Any:
        body = json.loads(json.dumps(valid))
        if not path:
            return value
        node = body
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        return body

    return st.builds(put, st.sampled_from(paths[1:]), json_values)


def bodies(valid: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.one_of(mutated(valid), json_values)


class _Raw(ThreadingHTTPServer):
    daemon_threads = True
    body: bytes = b"{}"
    ctype: str = "application/json"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Raw

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", self.server.ctype)
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    do_GET = do_POST


@pytest.fixture(scope="module")
def raw_server() -> Iterator[_Raw]:
    server = _Raw(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def point(raw_server: _Raw, monkeypatch: pytest.MonkeyPatch) -> _Raw:
    url = f"http://127.0.0.1:{raw_server.server_address[1]}"
    for name, base in (("GROQ", url + "/v1"), ("ANTHROPIC", url), ("GOOGLE", url)):
        monkeypatch.setenv(f"{name}_BASE_URL", base)
        monkeypatch.setenv(f"{name}_API_KEY", "test-key-0123456789")
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    return raw_server


def sse(events: list[Any], done: bool = True) -> bytes:
    lines = [f"data: {json.dumps(e)}\n\n" for e in events]
    return ("".join(lines) + ("data: [DONE]\n\n" if done else "")).encode()


def check(answer: Any) -> None:
    assert isinstance(answer, llm.Answer)
    if answer.ok:
        assert isinstance(answer.text, str)
    else:
        assert answer.error_kind in KINDS and answer.error, answer.error
    for name in ("prompt_tokens", "completion_tokens", "cached_tokens", "reasoning_tokens", "cache_write_tokens"):
        value = getattr(answer.usage, name)
        assert value is None or (isinstance(value, int) and value >= 0)


SPECS = {"openai": "groq/m", "anthropic": "anthropic/claude-haiku-4-5", "google": "google/gemini-2.5-flash-lite"}


@pytest.mark.parametrize("family", ["openai", "anthropic", "google"])
@SETTINGS
@given(data=st.data())
def test_any_whole_body_gives_an_answer_or_a_clear_error(point: _Raw, family: str, data: st.DataObject) -> None:
    valid = {"openai": OPENAI, "anthropic": ANTHROPIC, "google": GOOGLE}[family]
    point.body, point.ctype = json.dumps(data.draw(bodies(valid))).encode(), "application/json"
    check(llm.ask(SPECS[family], "hi", use_cache=False, timeout=10))


@pytest.mark.parametrize("family", ["openai", "anthropic", "google"])
@SETTINGS
@given(data=st.data())
def test_any_stream_gives_an_answer_or_a_clear_error(point: _Raw, family: str, data: st.DataObject) -> None:
    if family == "anthropic":
        events = list(ANTHROPIC_EVENTS)
        i = data.draw(st.integers(0, len(events) - 1))
        events[i] = data.draw(bodies(events[i]))
        body = "".join(f"event: {e.get('type', 'x') if isinstance(e, dict) else 'x'}\ndata: {json.dumps(e)}\n\n"
                       for e in events).encode()
    else:
        valid = OPENAI_CHUNK if family == "openai" else GOOGLE
        body = sse(data.draw(st.lists(bodies(valid), min_size=1, max_size=3)), done=family == "openai")
    point.body, point.ctype = body, "text/event-stream"
    check(llm.ask(SPECS[family], "hi", use_cache=False, stream=True, timeout=10))


@pytest.mark.parametrize("family", ["openai", "anthropic"])
@settings(max_examples=150, deadline=None, derandomize=True)
@given(raw=st.dictionaries(st.sampled_from(["prompt_tokens", "completion_tokens", "input_tokens", "output_tokens",
                                            "cache_read_input_tokens", "cache_creation_input_tokens",
                                            "prompt_tokens_details", "completion_tokens_details",
                                            "output_tokens_details", "prompt_cache_hit_tokens"]),
                           json_values, max_size=6))
def test_usage_parsers_turn_anything_into_counts_or_none(family: str, raw: dict[str, Any]) -> None:
    usage = adapter(family).parse_usage(raw)
    for value in vars(usage).values():
        assert value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


HEADER = {"type": "run", "format": "llmlab-run/1", "run": {"id": "r-prop", "kind": "compare", "config": {}}}
CALL = {"type": "call", "spec": "groq/m", "provider": "groq", "model": "m", "cell": "c",
        "request": json.dumps({"messages": [], "params": {}}), "text": "55"}


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(bodies(HEADER), bodies(CALL), st.text(max_size=30)), min_size=1, max_size=4),
       keep_header=st.booleans())
def test_any_import_file_is_imported_or_refused_clearly(tmp_path: Path, lines: list[Any], keep_header: bool) -> None:
    path = tmp_path / "run.jsonl"
    records = ([HEADER] if keep_header else []) + lines
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    store = run_log.Store(tmp_path / "prop.db")
    try:
        run_id = transfer.import_run(path, store)
    except errors.ConfigError as exc:
        assert str(exc) and store.run("r-prop") is None
    else:
        assert store.run(run_id)["imported"] == 1
    finally:
        store.close()
        (tmp_path / "prop.db").unlink(missing_ok=True)
