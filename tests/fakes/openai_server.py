"""An OpenAI-compatible loopback server for tests (stdlib only).

    with FakeOpenAI() as srv:
        srv.script(["status:500", "ok"])          # next two chat calls
        srv.on_model("bad-model", Fault.status(404))
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test")
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import socketserver
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from .faults import (
    DEFAULT_REASONING,
    ERRORS,
    FAULT_KINDS,
    MALFORMED,
    Answer,
    Fault,
    Recorded,
    content_text,
    default_reply,
    mask_key,
    pieces,
    usage_body,
)

__all__ = ["DEFAULT_MODELS", "FAULT_KINDS", "FakeOpenAI", "Fault", "Recorded"]

DEFAULT_MODELS = ("gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o-mini", "gpt-5-nano", "gpt-5-mini", "gpt-5")


class _Stopped(Exception):
    """Raised inside a handler when the server stops while it sleeps."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True
    fake: FakeOpenAI

    def server_bind(self) -> None:  # skip HTTPServer's slow getfqdn()
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall
    server_version = "fake-llm/1.0"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _dispatch(self) -> None:
        self.server.fake._dispatch(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def _head(self, status: int, ctype: str, headers: Mapping[str, Any] | None, length: int | None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if length is None:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def send_bytes(self, status: int, data: bytes, ctype: str = "application/json",
                   headers: Mapping[str, Any] | None = None) -> None:
        self._head(status, ctype, headers, len(data))
        self.wfile.write(data)
        self.wfile.flush()

    def send_json(self, status: int, obj: Any, headers: Mapping[str, Any] | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), "application/json", headers)

    def begin_stream(self, ctype: str, headers: Mapping[str, Any] | None = None) -> None:
        self._head(200, ctype, headers, None)

    def write_chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Close the connection without (the rest of) a response."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


Route = Callable[[_Handler, dict[str, Any]], None]


class FakeOpenAI:
    """OpenAI-compatible server on 127.0.0.1: /v1/chat/completions (JSON and SSE) and /v1/models."""

    fingerprint = "fp_fake0001"
    owned_by = "openai"

    def __init__(self, models: Iterable[str] = DEFAULT_MODELS, *,
                 reply: Callable[[dict[str, Any]], str] | None = None,
                 latency: float = 0.0, first_byte_delay: float = 0.0, chunk_delay: float = 0.0,
                 rate_limit: int | None = None, api_key: str | None = None,
                 model_reported: str | Mapping[str, str] | None = None,
                 usage: Mapping[str, int] | None = None, strict_models: bool = False,
                 default: Fault | str = "ok", host: str = "127.0.0.1", port: int = 0) -> None:
        self.models = list(models)
        self.reply = reply
        self.latency, self.first_byte_delay, self.chunk_delay = latency, first_byte_delay, chunk_delay
        self.rate_limit, self.api_key, self.model_reported = rate_limit, api_key, model_reported
        self.usage, self.strict_models, self.default = usage, strict_models, Fault.parse(default)
        self.host, self._port = host, port
        self.errors: list[str] = []  # tracebacks of bugs in the fake itself
        self.max_inflight = 0  # peak concurrent requests seen
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._queue: deque[Fault] = deque()
        self._by_model: dict[str, Fault] = {}
        self._by_path: dict[str, Fault] = {}
        self._inflight = 0
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[tuple[str, str], Route] = {
            ("POST", "/v1/chat/completions"): self._chat,
            ("GET", "/v1/models"): self._models,
        }

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._httpd is None:
            self._stop.clear()
            httpd = _Server((self.host, self._port), _Handler)
            httpd.fake = self
            self._httpd = httpd
            self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"{type(self).__name__}:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stop.set()  # wakes sleeping handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.root_url} requests={len(self._requests)}>"

    # -- scripting -------------------------------------------------------------------------------
    def script(self, faults: Iterable[Fault | str | int]) -> Self:
        """Replace the per-call queue: each call takes the next item; when empty, `default` applies."""
        with self._lock:
            self._queue = deque(Fault.parse(f) for f in faults)
        return self

    def push(self, *faults: Fault | str | int) -> Self:
        """Append to the per-call queue."""
        with self._lock:
            self._queue.extend(Fault.parse(f) for f in faults)
        return self

    def on_model(self, model: str, fault: Fault | str | int | None) -> Self:
        """Every call for `model` gets `fault` (takes precedence over the queue); None clears it."""
        with self._lock:
            if fault is None:
                self._by_model.pop(model, None)
            else:
                self._by_model[model] = Fault.parse(fault)
        return self

    def on_path(self, path: str, fault: Fault | str | int | None) -> Self:
        """Every request to `path` gets `fault` (status, close or timeout), e.g. to break /v1/models."""
        with self._lock:
            if fault is None:
                self._by_path.pop(path, None)
            else:
                self._by_path[path] = Fault.parse(fault)
        return self

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget recorded requests, scripts and errors."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._by_model.clear()
            self._by_path.clear()
            self.errors.clear()
            self.max_inflight = 0

    def _next_fault(self, model: str) -> Fault:
        with self._lock:
            if model in self._by_model:
                return self._by_model[model]
            return self._queue.popleft() if self._queue else self.default

    # -- recording -------------------------------------------------------------------------------
    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Recorded | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    def count(self, path: str | None = None, method: str | None = None) -> int:
        return sum(1 for r in self.requests
                   if (path is None or r.path == path) and (method is None or r.method == method))

    def bodies(self, path: str = "/v1/chat/completions") -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == path and r.body is not None]

    # -- plumbing --------------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stop.wait(seconds):
            raise _Stopped

    def _dispatch(self, h: _Handler) -> None:
        url = urlsplit(h.path)
        path = url.path.rstrip("/") or "/"
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
        rec = Recorded(h.command, path, {k.lower(): v for k, v in h.headers.items()}, body, time.time(),
                       raw, url.query)
        with self._lock:
            self._requests.append(rec)
            limited = self.rate_limit is not None and self._inflight >= self.rate_limit
            if not limited:
                self._inflight += 1
                self.max_inflight = max(self.max_inflight, self._inflight)
            path_fault = self._by_path.get(path)
        try:
            if limited:
                return self._send_error(h, Fault.status(429, retry_after=0), str((body or {}).get("model") or ""))
            try:
                self._sleep(self.latency)
                route = self.routes.get((h.command, path))
                if route is None:
                    return self._unknown_path(h, path)
                if path.startswith("/v1/") and self.api_key is not None and rec.api_key != self.api_key:
                    return self._send_error(h, Fault.status(401), "", key=rec.api_key or "")
                if path_fault is not None and self._pre_fault(h, path_fault, "", native=False):
                    return
                route(h, body or {})
            finally:
                with self._lock:
                    self._inflight -= 1
        except (_Stopped, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            h.drop()
        except Exception:  # noqa: BLE001 - a bug in the fake: keep it visible to tests
            self.errors.append(traceback.format_exc())
            try:
                h.send_json(500, {"error": {"message": "fake server bug", "type": "server_error"}})
            except OSError:
                h.drop()

    def _unknown_path(self, h: _Handler, path: str) -> None:
        msg = f"Invalid URL ({h.command} {path})"
        err = {"message": msg, "type": "invalid_request_error", "param": None, "code": None}
        h.send_json(404, {"error": err})

    def _error_payload(self, code: int, model: str, key: str) -> dict[str, Any]:
        kind = "invalid_request_error" if code < 500 else "server_error"
        msg, typ, param, err = ERRORS.get(code, (f"HTTP {code}", kind, None, None))
        return {"message": msg.format(model=model, key=mask_key(key)), "type": typ, "param": param,
                "code": err}

    def _send_error(self, h: _Handler, fault: Fault, model: str, *, native: bool = False,
                    key: str = "") -> None:
        headers = {"x-request-id": f"req_{next(self._ids):032x}", **(fault.headers or {})}
        if fault.code == 429:
            headers.setdefault("Retry-After", f"{fault.retry_after or 0:g}")
        elif fault.retry_after is not None:
            headers.setdefault("Retry-After", f"{fault.retry_after:g}")
        if isinstance(fault.body, (str, bytes)):
            data = fault.body.encode() if isinstance(fault.body, str) else fault.body
            return h.send_bytes(fault.code, data, "application/json", headers)
        if fault.body is not None:
            return h.send_json(fault.code, fault.body, headers)
        err = self._error_payload(fault.code, model, key)
        if fault.message is not None:
            err["message"] = fault.message
        if fault.error_code is not None:
            err["code"] = fault.error_code
        h.send_json(fault.code, {"error": err["message"]} if native else {"error": err}, headers)

    def _pre_fault(self, h: _Handler, fault: Fault, model: str, *, native: bool) -> bool:
        """Apply close/timeout/status and the transport faults; True if the request has been answered."""
        if fault.kind == "close":
            h.drop()
            return True
        if fault.kind == "redirect_loop":
            h.send_bytes(307, b"", "text/plain", {"Location": h.path})
            return True
        if fault.kind == "raw":
            data = fault.body.encode() if isinstance(fault.body, str) else bytes(fault.body or b"")
            h.send_bytes(fault.code, data, (fault.headers or {}).get("Content-Type", "text/html"),
                         {k: v for k, v in (fault.headers or {}).items() if k != "Content-Type"})
            return True
        if fault.kind == "bad_gzip":
            h.send_bytes(200, b"this is not gzip at all" * 4, "application/json", {"Content-Encoding": "gzip"})
            return True
        if fault.kind == "cut_body":
            h._head(200, "application/json", None, 5000)
            h.wfile.write(b'{"id": "chatcmpl-cut", "object": "chat.completion", "choices": [')
            h.wfile.flush()
            h.drop()
            return True
        if fault.kind == "timeout":
            self._sleep(fault.seconds)
        if fault.kind == "status":
            self._send_error(h, fault, model, native=native)
            return True
        return False

    def _known(self, model: str) -> bool:
        return not self.strict_models or model in self.models

    def model_ids(self) -> list[str]:
        return list(self.models)

    def _reported(self, model: str) -> str:
        if isinstance(self.model_reported, str):
            return self.model_reported
        if isinstance(self.model_reported, Mapping):
            return self.model_reported.get(model, model)
        return model

    def _answer(self, body: Mapping[str, Any], fault: Fault) -> Answer:
        """Reply text, reasoning, finish reason and token counts for one call (deterministic)."""
        text = fault.text if fault.text is not None else (self.reply or default_reply)(dict(body))
        reasoning = None
        if fault.kind == "empty_content":
            text = ""
        elif fault.kind == "think":
            text = f"<think>{fault.reasoning or DEFAULT_REASONING}</think>{text}"
        elif fault.kind == "reasoning_field":
            reasoning = fault.reasoning or DEFAULT_REASONING
        finish = "length" if fault.kind == "length" else "stop"
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        words = [p for p in pieces(text) if p.strip()]
        if isinstance(limit, int) and 0 < limit < len(words):
            text, finish = "".join(words[:limit]).rstrip(), "length"
        prompt = sum(len(content_text(m.get("content")).split())
                     for m in body.get("messages") or [] if isinstance(m, dict))
        rtok = len(reasoning.split()) if reasoning else 0
        usage = {"prompt_tokens": max(1, prompt), "completion_tokens": max(1, len(text.split())) + rtok,
                 "cached_tokens": 0, "reasoning_tokens": rtok}
        for src in (self.usage, fault.usage):
            usage.update(src or {})
        if "total_tokens" not in (self.usage or {}) and "total_tokens" not in (fault.usage or {}):
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        model = fault.model or self._reported(str(body.get("model") or ""))
        return Answer(text, reasoning, finish, usage, model)

    # -- OpenAI routes ---------------------------------------------------------------------------
    def _models(self, h: _Handler, body: dict[str, Any]) -> None:
        data = [{"id": m, "object": "model", "created": 1_700_000_000, "owned_by": self.owned_by}
                for m in self.model_ids()]
        h.send_json(200, {"object": "list", "data": data})

    def _missing_model(self, h: _Handler, model: str) -> None:
        self._send_error(h, Fault.status(404), model)

    def _chat(self, h: _Handler, body: dict[str, Any]) -> None:
        model = str(body.get("model") or "")
        fault = self._next_fault(model)
        if self._pre_fault(h, fault, model, native=False):
            return
        if not self._known(model):
            return self._missing_model(h, model)
        ans = self._answer(body, fault)
        if body.get("stream"):
            return self._stream_chat(h, body, fault, ans)
        if fault.kind == "slow_first_byte":
            self._sleep(fault.seconds)
        if fault.kind == "malformed":
            return h.send_bytes(200, MALFORMED)
        message: dict[str, Any] = {"role": "assistant", "content": ans.text, "refusal": None,
                                   "annotations": []}
        if ans.reasoning is not None:
            message["reasoning_content"] = ans.reasoning
        out: dict[str, Any] = {
            "id": self._new_id(), "object": "chat.completion", "created": int(time.time()),
            "model": ans.model, "system_fingerprint": self.fingerprint, "service_tier": "default",
            "choices": [] if fault.kind == "empty_choices" else [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": ans.finish}],
        }
        if fault.kind != "no_usage":
            out["usage"] = usage_body(ans.usage) if fault.raw_usage is None else fault.raw_usage
        if fault.kind == "drip":
            data = json.dumps(out).encode()
            h._head(200, "application/json", None, len(data))
            for i in range(len(data)):
                self._sleep(fault.seconds)
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
            return
        h.send_json(200, out)

    def _new_id(self) -> str:
        return "chatcmpl-" + hashlib.sha1(f"{id(self)}:{next(self._ids)}".encode()).hexdigest()[:29]

    def _stream_chat(self, h: _Handler, body: dict[str, Any], fault: Fault, ans: Answer) -> None:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {"id": self._new_id(), "object": "chat.completion.chunk", "created": int(time.time()),
                "model": ans.model, "system_fingerprint": self.fingerprint, "service_tier": "default"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            c = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            return {**c, "usage": None} if include_usage else c

        events: list[dict[str, Any]] = []
        if fault.kind != "empty_choices":
            events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            events += [chunk({"reasoning_content": p}) for p in pieces(ans.reasoning or "")]
            events += [chunk({"content": p}) for p in pieces(ans.text)]
            events.append(chunk({}, ans.finish))
        if include_usage and fault.kind != "no_usage":
            events.append({**base, "choices": [],
                           "usage": usage_body(ans.usage) if fault.raw_usage is None else fault.raw_usage})
        h.begin_stream("text/event-stream; charset=utf-8", {"Cache-Control": "no-cache"})
        first = max(self.first_byte_delay, fault.seconds if fault.kind == "slow_first_byte" else 0.0)
        for i, event in enumerate(events):
            self._sleep(first if i == 0 else self.chunk_delay)
            if fault.kind == "cut_stream" and i >= fault.after:
                return h.drop()
            if fault.kind == "malformed" and i == 1:
                h.write_chunk(b'data: {"id": "chatcmpl-broken", "choices": [{"delta": \n\n')
            h.write_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")
        if fault.kind == "cut_stream":
            return h.drop()
        h.write_chunk(b"data: [DONE]\n\n")
        h.end_stream()

