"""The watchdog an engine started on demand runs under: the engine ends when the process that owns it dies.

``python -m helpers.providers.engine_watch --owner PID --state FILE -- COMMAND…`` runs COMMAND (the
``llama_cpp.server`` command line) as its child, waits for it and exits with its status. Every ``POLL_S``
seconds it checks that the engine's owner still runs: the ``started_by`` pid recorded in FILE while FILE
describes this engine (another process may adopt it; ``local serve`` makes it persistent, ``started_by``
None, and then nothing is watched), else the launching PID. When the owner is gone, however it ended
(SIGKILL included, which runs no exit hook), it stops the engine, clears FILE and exits; both under the
engine's lock, so a process adopting the engine at that moment either keeps it or starts a new one.

The child is also given ``PR_SET_PDEATHSIG`` (Linux): it never outlives this watchdog. That signal is not
used on the engine itself from the owner: it fires when the *thread* that started the process ends (our
calls start it from a background event-loop thread), and it cannot follow the engine to a new owner.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from helpers.providers import local_engine

POLL_S = 0.5  # how often the owner is checked
GRACE_S = 2.0  # SIGTERM, then SIGKILL after this long
PR_SET_PDEATHSIG = 1


def started_at(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (``/proc``), or None where it cannot be read."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Owner:
    """Tells whether the engine's owner still runs, a pid recycled by another process counting as gone."""

    def __init__(self, launcher: int, state: Path) -> None:
        self.launcher, self.state = launcher, state
        self.seen: dict[int, str | None] = {}

    def current(self) -> int | None:
        """The owner's pid now (None: the engine is persistent)."""
        recorded = local_engine.read_state(self.state)
        if recorded is not None and recorded.pid == os.getpid():
            return recorded.started_by
        return self.launcher

    def gone(self) -> bool:
        pid = self.current()
        if pid is None:
            return False
        if not local_engine.alive(pid):
            return True
        start = self.seen.setdefault(pid, started_at(pid))
        return start is not None and started_at(pid) != start


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def stop(child: subprocess.Popen) -> None:
    """SIGTERM the engine, SIGKILL it if it is still there after ``GRACE_S``."""
    child.terminate()
    try:
        child.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def watch(child: subprocess.Popen, owner: Owner) -> int:
    """Wait for the engine; stop it when its owner is gone. Returns the exit status to leave with."""
    while True:
        try:
            code = child.wait(POLL_S)
            return code if code >= 0 else 128 - code
        except subprocess.TimeoutExpired:
            pass
        if owner.gone():
            with local_engine.exclusive(owner.state):
                if owner.gone():  # still: nobody adopted the engine meanwhile
                    stop(child)
                    local_engine.clear_state(owner.state, pid=os.getpid())
                    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="engine_watch", description=__doc__.splitlines()[0])
    parser.add_argument("--owner", type=int, required=True, help="the pid of the process that started the engine")
    parser.add_argument("--state", type=Path, required=True, help="the engine's state file (engine.json)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the engine's command line, after --")
    args = parser.parse_args(argv)
    engine = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not engine:
        parser.error("no engine command after --")
    linux = sys.platform.startswith("linux")
    child = subprocess.Popen(engine, preexec_fn=_die_with_parent if linux else None)  # noqa: PLW1509 - one thread
    return watch(child, Owner(args.owner, args.state))


if __name__ == "__main__":
    sys.exit(main())
