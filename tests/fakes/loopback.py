"""What the batch fakes share: a threaded stdlib HTTP server on a free loopback port, started and stopped
as a context manager, reading and recording each request (``_received``), sending JSON (or bytes) with a
request-id header, and standing in for a provider (``stand_in``). Subclasses route in ``_dispatch``."""

from __future__ import annotations

import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import pytest


class LoopbackAPI:
    """Subclasses implement ``_dispatch(handler)`` and may set ``prefix`` (the API's path under the host)."""

    request_id_header: ClassVar[str] = "x-request-id"  # the header the provider names its request ids with
    prefix: str = ""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request received
        self.headers: list[dict[str, str]] = []  # the headers of every request (keys lower-cased)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._dispatch(self)

            do_POST = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server
        return f"http://127.0.0.1:{self._server.server_address[1]}{self.prefix}"

    def stand_in(self, monkeypatch: pytest.MonkeyPatch, provider: str, key: str) -> None:
        """Point ``provider``'s calls here: its ``<PROVIDER>_BASE_URL`` and ``<PROVIDER>_API_KEY``."""
        monkeypatch.setenv(f"{provider.upper()}_BASE_URL", self.base_url)
        monkeypatch.setenv(f"{provider.upper()}_API_KEY", key)

    def _received(self, h: BaseHTTPRequestHandler) -> bytes:
        """The request's body, once its method, path (without the query) and headers are recorded."""
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append((h.command, urlsplit(h.path).path))
            self.headers.append({k.lower(): v for k, v in h.headers.items()})
        return raw

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.send_header(self.request_id_header, f"req_{next(self._ids):024x}")
        h.end_headers()
        h.wfile.write(data)
