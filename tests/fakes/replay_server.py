"""A loopback HTTP server that replays real recorded provider responses (tests/data/recorded/).

    with ReplayServer(load("openai/plain_gpt4o")) as srv:
        ...point the SDK at srv.base_url + "/v1"...
        srv.requests[0].json["model"]        # what the SDK actually sent

Each request gets the next recording of the script (the last one answers every later request, so an SDK
that retries meets the same reply again). A recording is served as JSON, as Server-Sent Events (its lines
as recorded) or as NDJSON, with its recorded status and headers. ``latency`` delays the first byte of every
response; ``chunk_delay`` spaces out the events of a streamed one (sent chunked, as providers do).
"""

from __future__ import annotations

import json
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

RECORDED = Path(__file__).resolve().parent.parent / "data" / "recorded"
HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "content-encoding"}


def load(name: str) -> dict[str, Any]:
    """A recording by ``family/case`` (the file tests/data/recorded/<family>/<case>.json)."""
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def all_recordings() -> list[str]:
    """Every recording's ``family/case`` name, sorted."""
    return sorted(str(p.relative_to(RECORDED).with_suffix("")) for p in RECORDED.glob("*/*.json"))


@dataclass
class Received:
    """One request as the server received it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.perf_counter)
    served_s: float | None = None  # request read -> last byte written, as this server saw it

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def _events(lines: list[str]) -> list[bytes]:
    """Recorded SSE lines grouped into events (each ends with its blank line), as bytes to send."""
    out, current = [], []
    for line in lines:
        current.append(line)
        if line == "":
            out.append(("\n".join(current) + "\n").encode())
            current = []
    if current:
        out.append(("\n".join(current) + "\n\n").encode())
    return out


def body_chunks(recording: Mapping[str, Any]) -> list[bytes]:
    """The response body of a recording as the pieces a server would write."""
    response = recording["response"]
    fmt, body = response.get("format", "json"), response.get("body")
    if fmt == "json":
        return [json.dumps(body).encode()]
    if fmt == "sse":
        return _events(list(body))
    if fmt == "ndjson":
        return [(line + "\n").encode() for line in body]
    return [str(body).encode()]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    replay: ReplayServer

    def server_bind(self) -> None:  # skip the slow reverse DNS lookup of HTTPServer.server_bind
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:  # a client that hung up: stay quiet
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        self.server.replay._serve(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any


class ReplayServer:
    """Serve recordings in order on 127.0.0.1 (a free port); remember every request received."""

    def __init__(self, *recordings: Mapping[str, Any], latency: float = 0.0, chunk_delay: float = 0.0) -> None:
        if not recordings:
            raise ValueError("give at least one recording")
        self.script = list(recordings)
        self.latency, self.chunk_delay = latency, chunk_delay
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.replay = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no path: add the provider's own prefix, e.g. ``/v1``)."""
        assert self._server is not None, "the server is not started"
        return f"http://127.0.0.1:{self._server.server_port}"

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    # -- serving -----------------------------------------------------------------------------------------------
    def _serve(self, handler: _Handler) -> None:
        begun = time.perf_counter()
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        received = Received(method=handler.command, path=parts.path, query=parts.query,
                            headers={k.lower(): v for k, v in handler.headers.items()}, body=body)
        with self._lock:
            self.requests.append(received)
            recording = self.script[min(len(self.requests), len(self.script)) - 1]
        if self.latency:
            time.sleep(self.latency)
        response = recording["response"]
        chunks = body_chunks(recording)
        streamed = response.get("format") in ("sse", "ndjson")
        handler.send_response(int(response["status"]))
        for name, value in (response.get("headers") or {}).items():
            if name.lower() not in HOP_BY_HOP:
                handler.send_header(name, str(value))
        if streamed:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Content-Length", str(sum(len(c) for c in chunks)))
        handler.end_headers()
        try:
            for i, chunk in enumerate(chunks):
                if streamed:
                    if i and self.chunk_delay:
                        time.sleep(self.chunk_delay)
                    handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    handler.wfile.flush()
                else:
                    handler.wfile.write(chunk)
            if streamed:
                handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        received.served_s = time.perf_counter() - begun
