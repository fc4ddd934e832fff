"""The process's background event loop: every provider call runs on it, sync or async.

Adapters implement one async exchange; a blocking ``ask`` (plain code, a notebook cell, a thread of
``ask_many``) hands that coroutine to this loop and waits. One loop for every call also keeps the async
SDK clients (bound to their loop) and their open connections from one call and one run to the next.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: tuple[int, asyncio.AbstractEventLoop, threading.Thread] | None = None  # a forked child makes its own
_loop_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process's loop, running in a daemon thread (made on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None or _loop[0] != os.getpid() or _loop[1].is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="llmlab-loop", daemon=True)
            thread.start()
            _loop = (os.getpid(), loop, thread)
        return _loop[1]


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on the background loop and wait for it (from plain code, a thread or a notebook).

    Ctrl-C cancels it. Called from the loop's own thread it would wait for itself forever: that is a bug
    of the caller (use the async API there), reported at once.
    """
    loop = background_loop()
    if _loop is not None and threading.current_thread() is _loop[2]:
        coro.close()
        raise RuntimeError("a blocking call was made on LLM Lab's event loop; await the async API instead")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        raise
