"""Latency measured at the transport: from the request handed to the HTTP client to the last byte read.

The SDK clients are built with httpx event hooks (``hooks()`` / ``async_hooks()``): the request hook marks
the moment the request goes out, the response hook wraps the response body so every chunk read stamps its
arrival. An adapter opens ``exchange()`` around one call; its stream parser calls ``content()`` when the
first text or reasoning arrives, which takes the arrival time of the bytes that carried it. So nothing our
process does before the request (SDK import, client set-up) or after the last byte (parsing, estimates,
logging) counts, and a retried request is timed from its last attempt.

The response hook also applies one retry rule the SDKs cannot know: a 429 whose body says the account has
no quota left is marked ``x-should-retry: false`` (both the openai and anthropic SDKs honour it), since
waiting never helps there.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

_current: contextvars.ContextVar[Exchange | None] = contextvars.ContextVar("llmlab_exchange", default=None)


@dataclass
class Exchange:
    """Transport times of one call (``time.perf_counter`` seconds); None until seen."""

    sent: float | None = None  # the (last) request handed to the HTTP client
    last_byte: float | None = None  # the latest response bytes read (headers, then each body chunk)
    first_content: float | None = None  # arrival of the bytes that carried the first text or reasoning
    attempts: int = 0

    def request(self) -> None:
        self.sent, self.last_byte, self.first_content = time.perf_counter(), None, None
        self.attempts += 1

    def arrived(self) -> None:
        self.last_byte = time.perf_counter()

    def content(self) -> None:
        if self.first_content is None:
            self.first_content = self.last_byte if self.last_byte is not None else time.perf_counter()

    @property
    def latency_s(self) -> float | None:
        """Request sent → last byte read."""
        if self.sent is None or self.last_byte is None:
            return None
        return self.last_byte - self.sent

    @property
    def ttft_s(self) -> float | None:
        """Request sent → first content byte (streamed calls)."""
        if self.sent is None or self.first_content is None:
            return None
        return self.first_content - self.sent


@contextmanager
def exchange() -> Iterator[Exchange]:
    """Time the HTTP exchanges made inside this block (this thread or asyncio task)."""
    timer = Exchange()
    token = _current.set(timer)
    try:
        yield timer
    finally:
        _current.reset(token)


def per_token(latency_s: float | None, ttft_s: float | None, output_tokens: int | None) -> float | None:
    """Time per output token after the first: (latency - TTFT) / (output tokens - 1); None if unknowable."""
    if latency_s is None or ttft_s is None or not output_tokens or output_tokens < 2 or latency_s < ttft_s:
        return None
    return (latency_s - ttft_s) / (output_tokens - 1)


def content() -> None:
    """Mark the first content seen in the current exchange (called by stream parsers)."""
    timer = _current.get()
    if timer is not None:
        timer.content()


@functools.cache
def _stream_classes() -> tuple[type, type]:
    import httpx2

    class Timed(httpx2.SyncByteStream):
        def __init__(self, inner: Any, timer: Exchange) -> None:
            self.inner, self.timer = inner, timer

        def __iter__(self) -> Iterator[bytes]:
            for chunk in self.inner:
                self.timer.arrived()
                yield chunk

        def close(self) -> None:
            self.inner.close()

    class AsyncTimed(httpx2.AsyncByteStream):
        def __init__(self, inner: Any, timer: Exchange) -> None:
            self.inner, self.timer = inner, timer

        async def __aiter__(self) -> AsyncIterator[bytes]:
            async for chunk in self.inner:
                self.timer.arrived()
                yield chunk

        async def aclose(self) -> None:
            await self.inner.aclose()

    return Timed, AsyncTimed


def _on_request(request: Any) -> None:
    timer = _current.get()
    if timer is not None:
        timer.request()


def _no_quota(response: Any) -> bool:
    from helpers.providers import wire

    try:
        body = response.json()
    except ValueError:
        return False
    return wire.no_quota(response.status_code, body)


def _on_response(response: Any) -> None:
    timer = _current.get()
    if timer is not None:
        timer.arrived()
    if response.status_code == 429:
        response.read()
        if _no_quota(response):
            response.headers["x-should-retry"] = "false"
    if timer is not None:
        response.stream = _stream_classes()[0](response.stream, timer)


async def _on_request_async(request: Any) -> None:
    _on_request(request)


async def _on_response_async(response: Any) -> None:
    timer = _current.get()
    if timer is not None:
        timer.arrived()
    if response.status_code == 429:
        await response.aread()
        if _no_quota(response):
            response.headers["x-should-retry"] = "false"
    if timer is not None:
        response.stream = _stream_classes()[1](response.stream, timer)


def hooks() -> dict[str, list]:
    """Event hooks for a synchronous httpx2 client."""
    return {"request": [_on_request], "response": [_on_response]}


def async_hooks() -> dict[str, list]:
    """Event hooks for an asynchronous httpx2 client."""
    return {"request": [_on_request_async], "response": [_on_response_async]}


def current() -> Exchange | None:
    """The exchange being timed in this thread or task (None outside ``exchange()``)."""
    return _current.get()
