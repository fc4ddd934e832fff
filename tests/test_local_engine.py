"""The bundled engine: model files, ports, health, shared state, stop cleanliness and real answers.

Tests marked ``engine`` start the real llama.cpp server with the bundled SmolLM2 model."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from helpers.cli import main
from helpers.errors import ConfigError, ConnectionFailed, TimeoutFailed
from helpers.llm import ask, ask_async
from helpers.providers import engine_watch, local_engine
from helpers.providers import local as local_adapter
from helpers.runlog import store as run_log

ROOT = Path(__file__).resolve().parent.parent


def gone(pid: int) -> bool:
    """The process no longer runs (a zombie waiting for init counts as gone) and its group is empty."""
    if local_engine.alive(pid):
        return False
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return not local_engine.alive(pid)


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def dead_pid() -> int:
    """The pid of a process that has exited."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    return int(done.stdout)


def fake_server(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Replace the engine's command line with a Python snippet (for faults the real engine cannot show)."""
    monkeypatch.setattr(local_engine, "command", lambda model, port, alias: [sys.executable, "-c", code])


# -- model files and settings (no engine) ----------------------------------------------------------------------
def test_model_file_bundled_setting_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundled = local_engine.model_file("smollm2")
    assert bundled.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and bundled.stat().st_size > 90_000_000
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    assert local_engine.model_file(str(other)) == other.resolve()
    monkeypatch.setenv("LLMLAB_LOCAL_MODEL", str(other))
    assert local_engine.model_file("smollm2") == other.resolve()
    monkeypatch.setenv("LLMLAB_LOCAL_MODEL", str(tmp_path / "gone.gguf"))
    with pytest.raises(ConfigError) as err:
        local_engine.model_file("smollm2")
    assert "gone.gguf" in err.value.message and "LLMLAB_LOCAL_MODEL" in err.value.message
    with pytest.raises(ConfigError) as err:
        local_engine.model_file("llama3.2")
    assert "local/smollm2" in err.value.hint


def test_missing_model_file_is_a_clear_answer_error(tmp_path: Path) -> None:
    a = ask(f"local/{tmp_path}/nope.gguf", "hi")
    assert not a.ok and a.error_kind == "config" and "nope.gguf" in a.error and "does not exist" in a.error
    assert not (tmp_path / "engine.json").exists()


def test_configured_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMLAB_LOCAL_PORT")
    assert local_engine.configured_port() is None  # unset: a free port is chosen at start
    monkeypatch.setenv("LLMLAB_LOCAL_PORT", "8766")
    assert local_engine.configured_port() == 8766
    monkeypatch.setenv("LLMLAB_LOCAL_PORT", "99999")
    with pytest.raises(ConfigError) as err:
        local_engine.configured_port()
    assert "LLMLAB_LOCAL_PORT" in err.value.message


def test_port_in_use_names_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = set(local_engine._children)  # the session's shared engine may be one of them
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("LLMLAB_LOCAL_PORT", str(port))
        with pytest.raises(ConfigError) as err:
            local_engine.ensure()
        assert f"port {port}" in err.value.message and "LLMLAB_LOCAL_PORT" in err.value.hint
        assert main(["local", "serve", "--port", str(port)]) == 2
    out = capsys.readouterr().err
    assert "already in use" in out and "--port" in out and "Traceback" not in out
    assert not (tmp_path / "engine.json").exists() and set(local_engine._children) == before


def test_stale_or_recycled_pid_is_forgotten_not_killed(tmp_path: Path) -> None:
    for pid in (dead_pid(), os.getpid()):  # a finished process; a live one that is not an engine
        local_engine.write_state(local_engine.EngineState(pid=pid, port=1, model="m", alias="smollm2"))
        assert local_engine.status() is None and not (tmp_path / "engine.json").exists()
        local_engine.write_state(local_engine.EngineState(pid=pid, port=1, model="m", alias="smollm2"))
        assert local_engine.stop().pid == pid  # forgotten without a signal: we are still here
        assert not (tmp_path / "engine.json").exists()


def test_health_timeout_stops_the_process_and_shows_its_log(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file, before = tmp_path / "pid", set(local_engine._children)
    fake_server(monkeypatch, f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
                             "print('still loading the weights', flush=True); time.sleep(60)")
    with pytest.raises(TimeoutFailed) as err:
        local_engine.launch(Path("m.gguf"), local_engine.free_port(), "smollm2", tmp_path / "e.log", timeout=1.5)
    assert "within 1.5 s" in err.value.message and "still loading the weights" in err.value.message
    assert gone(int(pid_file.read_text())) and set(local_engine._children) == before


def test_engine_that_dies_while_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_server(monkeypatch, "import sys; print('gguf_init: invalid magic characters', file=sys.stderr); "
                             "sys.exit(3)")
    a = ask("local/smollm2", "hi")
    assert a.error_kind == "connection" and "exited (code 3)" in a.error
    assert "invalid magic characters" in a.error and not (tmp_path / "engine.json").exists()


def test_engine_that_died_after_starting_is_explained(tmp_path: Path) -> None:
    log = tmp_path / "engine.log"
    log.write_text("llama_model_load: out of memory\n")
    state = local_engine.EngineState(pid=dead_pid(), port=1, model="m", alias="smollm2", log=str(log))
    local_engine.write_state(state)
    refused = ConnectionFailed("cannot reach local at http://127.0.0.1:1/v1")
    explained = local_adapter._explain(refused, state)
    assert "stopped unexpectedly" in explained.message and "out of memory" in explained.message
    assert "next call starts it again" in explained.hint and not (tmp_path / "engine.json").exists()
    assert local_adapter._explain(refused, None) is refused  # LOCAL_BASE_URL: nothing of ours to blame



def wait_until(check, timeout: float) -> float:  # type: ignore[no-untyped-def]
    """Poll ``check`` until it is true; returns the seconds it took (fails the test after ``timeout``)."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout, f"still not true after {timeout:g} s"
        time.sleep(0.05)
    return time.monotonic() - start


def _watched(tmp_path: Path, owner: int) -> tuple[subprocess.Popen, int]:
    """The watchdog over a stand-in engine (a sleeping Python) for ``owner``; returns it and the engine's pid."""
    pid_file = tmp_path / "engine.pid"
    engine = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    argv = local_engine.watch_command(owner, tmp_path / "engine.json") + [sys.executable, "-c", engine]
    watch = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
    wait_until(lambda: pid_file.exists() and pid_file.read_text(), 20)
    local_engine.write_state(local_engine.EngineState(pid=watch.pid, port=1, model="m", alias="smollm2",
                                                      started_by=owner))
    return watch, int(pid_file.read_text())


def _sleeper() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def test_watchdog_stops_the_engine_when_its_owner_is_killed(tmp_path: Path) -> None:
    owner = _sleeper()
    watch, engine = _watched(tmp_path, owner.pid)
    try:
        assert watch.poll() is None and local_engine.alive(engine)
        owner.kill()  # no exit hook runs; left a zombie (not reaped yet): gone all the same
        took = wait_until(lambda: watch.poll() is not None and gone(engine), 10)
        assert took < 2 * engine_watch.POLL_S + engine_watch.GRACE_S + 1
        assert watch.returncode == 0 and not (tmp_path / "engine.json").exists()  # its state is cleared too
    finally:
        owner.wait()
        if watch.poll() is None:
            local_engine.terminate(watch.pid)


def test_watchdog_follows_the_recorded_owner(tmp_path: Path) -> None:
    """An engine adopted by another process lives while that one runs; one made persistent (`local serve`)
    outlives every owner."""
    first, second = _sleeper(), _sleeper()
    watch, engine = _watched(tmp_path, first.pid)
    try:
        state = local_engine.read_state()
        state.started_by = second.pid  # adopted
        local_engine.write_state(state)
        first.kill()
        first.wait()
        time.sleep(4 * engine_watch.POLL_S)  # several checks: none may stop it
        assert watch.poll() is None and local_engine.alive(engine)
        state.started_by = None  # `local serve` made it persistent
        local_engine.write_state(state)
        second.kill()
        second.wait()
        time.sleep(4 * engine_watch.POLL_S)
        assert watch.poll() is None and local_engine.alive(engine) and local_engine.read_state() == state
        state.started_by = second.pid  # a dead owner recorded: stopped
        local_engine.write_state(state)
        wait_until(lambda: watch.poll() is not None and gone(engine), 10)
    finally:
        for p in (first, second):
            p.kill()
            p.wait()
        if watch.poll() is None:
            local_engine.terminate(watch.pid)


# -- the real engine ---------------------------------------------------------------------------------------------
@pytest.mark.engine
def test_answer_through_the_engine(local_engine: local_engine.EngineState) -> None:
    a = ask("local/smollm2", "Name a colour of the sky.", max_tokens=16, temperature=0, use_cache=False)
    assert a.ok and a.text.strip() and a.offline and a.model_reported == "smollm2"
    assert a.usage.prompt_tokens > 5 and 0 < a.usage.completion_tokens <= 16 and a.latency_s > 0
    row = run_log.default().calls()[-1]
    assert row["text"] == a.text and row["completion_tokens"] == a.usage.completion_tokens
    pieces: list[str] = []
    streamed = ask("local/smollm2", "Name a colour of the sky.", max_tokens=16, temperature=0, use_cache=False,
                   on_text=pieces.append)
    assert streamed.ok and "".join(pieces).strip() == streamed.text.strip() and streamed.ttft_s is not None
    assert streamed.text == a.text  # greedy: same tokens streamed or not
    # llama.cpp sends no usage when streaming: counted with its tokenizer, the same as when not streamed
    assert streamed.usage.completion_tokens == a.usage.completion_tokens
    assert streamed.extra["usage_note"] == local_adapter.COUNT_NOTE and "usage_note" not in a.extra
    later = ask("local/smollm2", "Name a colour of the sky.", max_tokens=16, temperature=0)
    assert later.cached and later.text == a.text


@pytest.mark.engine
def test_a_second_request_does_not_cut_a_stream(local_engine: local_engine.EngineState) -> None:
    first_piece, done = threading.Event(), {}

    def stream() -> None:
        done["long"] = ask("local/smollm2", "Tell a story about a dragon.", max_tokens=60, temperature=0,
                           use_cache=False, on_text=lambda piece: first_piece.set())

    t = threading.Thread(target=stream)
    t.start()
    assert first_piece.wait(60)
    short = ask("local/smollm2", "Say hi.", max_tokens=4, use_cache=False)  # queued behind the stream
    t.join(120)
    long = done["long"]
    assert short.ok and long.ok and not long.incomplete and long.finish_reason in ("stop", "length")
    assert long.usage.completion_tokens > 4


def test_streamed_answer_from_another_server_keeps_unknown_usage(fake_openai, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LOCAL_BASE_URL", fake_openai.base_url)
    fake_openai.script(["no_usage"])
    a = ask("local/smollm2", "hi there", stream=True)
    assert a.ok and a.text == "Echo: hi there" and a.usage.completion_tokens is None
    assert fake_openai.count("/extras/tokenize/count") == 1 and "usage_note" not in a.extra
    assert not (local_engine.state_file()).exists()  # nothing was started


@pytest.mark.engine
async def test_async_answer_through_the_engine(local_engine: local_engine.EngineState) -> None:
    a = await ask_async("local/smollm2", "Say hello.", max_tokens=8, use_cache=False)
    assert a.ok and a.text.strip() and a.usage.completion_tokens


@pytest.mark.engine
def test_engine_that_cannot_load_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(os.urandom(4096))
    assert main(["local", "serve", "--model", str(bogus)]) == 2
    err = capsys.readouterr().err
    assert "exited (code 1) while loading" in err and "Failed to load model" in err
    assert err.startswith("error: ") and not (tmp_path / "engine.json").exists()


def _child_asks(home: Path, port: int) -> dict:
    """Ask local/smollm2 in a separate Python process; returns what it saw."""
    code = ("import json, os; from helpers.llm import ask; from helpers.providers import local_engine as e; "
            "a = ask('local/smollm2', 'Say hi.', max_tokens=8, use_cache=False); s = e.read_state(); "
            "print(json.dumps({'ok': a.ok, 'error': a.error, 'pid': s.pid, 'by': s.started_by, 'me': os.getpid()}))")
    env = {**os.environ, "LLMLAB_HOME": str(home), "LLMLAB_DB": str(home / "child.db"),
           "LLMLAB_LOCAL_PORT": str(port)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.engine
@pytest.mark.slow
def test_on_demand_engine_stops_when_its_process_exits(tmp_path: Path) -> None:
    port = local_engine.free_port()
    seen = _child_asks(tmp_path, port)
    assert seen["ok"] and seen["by"] == seen["me"]
    assert gone(seen["pid"]) and not listening(port) and not (tmp_path / "engine.json").exists()


@pytest.mark.engine
@pytest.mark.slow
def test_serve_is_shared_then_stop_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    port = local_engine.free_port()
    monkeypatch.setenv("LLMLAB_LOCAL_PORT", str(port))
    assert main(["local", "serve"]) == 0
    state = local_engine.read_state()
    assert state.persistent and state.port == port and f"pid    {state.pid}" in capsys.readouterr().out
    assert main(["local", "serve"]) == 0 and "already running" in capsys.readouterr().out
    seen = _child_asks(tmp_path, port)  # another process: reuses the engine, leaves it running at exit
    assert seen["ok"] and seen["pid"] == state.pid and seen["by"] is None
    assert local_engine.answers(state.base_url)
    assert main(["local", "status"]) == 0
    out = capsys.readouterr().out
    assert f"http://127.0.0.1:{port}/v1" in out and "until `local stop`" in out
    assert main(["local", "stop"]) == 0 and f"pid {state.pid}" in capsys.readouterr().out
    assert gone(state.pid) and not listening(port) and not (tmp_path / "engine.json").exists()
    assert main(["local", "status"]) == 1 and "not running" in capsys.readouterr().out


@pytest.mark.engine
@pytest.mark.slow
def test_threads_share_one_on_demand_engine(tmp_path: Path) -> None:
    states: list[local_engine.EngineState] = []
    threads = [threading.Thread(target=lambda: states.append(local_engine.ensure())) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({s.pid for s in states}) == 1 and states[0].started_by == os.getpid()
    assert local_engine._owned.get(states[0].pid) == tmp_path / "engine.json"
    os.kill(states[0].pid, signal.SIGKILL)  # an engine that dies is replaced on the next call
    local_engine._children[states[0].pid].wait(10)
    replaced = local_engine.ensure()
    assert replaced.pid != states[0].pid and local_engine.answers(replaced.base_url)
    local_engine._stop_owned()  # what atexit runs
    assert gone(replaced.pid) and not (tmp_path / "engine.json").exists()


@pytest.mark.engine
@pytest.mark.slow
def test_two_processes_share_an_engine_on_a_free_port_when_8765_is_taken(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """No LLMLAB_LOCAL_PORT, 8765 held by another program: both processes get answers from one engine, which
    one of them started on a free port and the other found in the shared state file."""
    monkeypatch.delenv("LLMLAB_LOCAL_PORT")
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        squatter.bind(("127.0.0.1", 8765))
        squatter.listen()
    except OSError:
        pass  # something else holds 8765 already: the case under test either way
    assert not local_engine.port_free(8765)
    code = ("import json, os, sys; from helpers.llm import ask; from helpers.providers import local_engine as e; "
            "a = ask('local/smollm2', 'Say hi.', max_tokens=8, use_cache=False); s = e.read_state(); "
            "print(json.dumps({'ok': a.ok, 'error': a.error, 'text': a.text, 'port': s and s.port, "
            "'by': s and s.started_by, 'me': os.getpid()}))")
    env = {k: v for k, v in os.environ.items() if k != "LLMLAB_LOCAL_PORT"}
    env.update({"LLMLAB_HOME": str(tmp_path), "LLMLAB_DB": str(tmp_path / "both.db")})
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, cwd=ROOT) for _ in range(2)]
        results = [p.communicate(timeout=180) for p in procs]
    finally:
        squatter.close()
    seen = []
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err[-2000:]
        seen.append(json.loads(out.strip().splitlines()[-1]))
    assert all(s["ok"] and s["text"].strip() for s in seen), seen
    ports = {s["port"] for s in seen if s["port"]}
    assert ports and 8765 not in ports  # a free port, recorded in engine.json
    starters = {s["by"] for s in seen if s["by"]}
    assert starters <= {s["me"] for s in seen}  # one of the two started it; nobody else
    assert not (tmp_path / "engine.json").exists()  # the starter stopped it at exit


def _owner_asks(home: Path, port: int) -> tuple[subprocess.Popen, dict]:
    """A separate Python process that asks local/smollm2 (starting the engine) and then waits, forever."""
    code = ("import json, os, time; from helpers.llm import ask; from helpers.providers import local_engine as e; "
            "a = ask('local/smollm2', 'Say hi.', max_tokens=4, use_cache=False); s = e.read_state(); "
            "print(json.dumps({'ok': a.ok, 'error': a.error, 'pid': s.pid, 'by': s.started_by, 'me': os.getpid()}), "
            "flush=True); time.sleep(600)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LLMLAB_HOME": str(home), "LLMLAB_DB": str(home / "owner.db"),
           "LLMLAB_LOCAL_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line, f"the owner exited ({proc.wait()}) before answering"
    return proc, json.loads(line)


@pytest.mark.engine
@pytest.mark.slow
def test_on_demand_engine_ends_when_its_owner_is_killed(tmp_path: Path) -> None:
    """SIGKILL (as JupyterHub may end a kernel) runs no exit hook: the engine's watchdog stops it."""
    port = local_engine.free_port()
    owner, seen = _owner_asks(tmp_path, port)
    try:
        assert seen["ok"] and seen["by"] == seen["me"] == owner.pid and listening(port)
        owner.kill()
        owner.wait()  # reaped, as the kernel's parent would
        took = wait_until(lambda: gone(seen["pid"]), 15)
        print(f"orphaned engine gone {took:.2f} s after its owner was killed")
        assert not listening(port) and not (tmp_path / "engine.json").exists()
    finally:
        owner.kill()
        owner.wait()
        if local_engine.alive(seen["pid"]):
            local_engine.terminate(seen["pid"])


@pytest.mark.engine
@pytest.mark.slow
def test_persistent_engine_outlives_its_launchers(tmp_path: Path) -> None:
    """An engine made persistent by `local serve` (another process, which then exits) survives the process
    that first started it on demand being killed, and runs until `local stop`."""
    port = local_engine.free_port()
    owner, seen = _owner_asks(tmp_path, port)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LLMLAB_HOME": str(tmp_path), "LLMLAB_LOCAL_PORT": str(port)}
        served = subprocess.run([sys.executable, "-m", "helpers", "local", "serve"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120, check=False)
        assert served.returncode == 0 and "already running" in served.stdout, served.stderr[-2000:]
        owner.kill()
        owner.wait()
        time.sleep(4 * engine_watch.POLL_S)  # several of the watchdog's checks
        state = local_engine.read_state()
        assert state is not None and state.pid == seen["pid"] and state.persistent and local_engine.running(state)
        assert local_engine.answers(state.base_url, timeout=10)
        assert main(["local", "stop"]) == 0
        assert gone(seen["pid"]) and not listening(port) and not (tmp_path / "engine.json").exists()
    finally:
        owner.kill()
        owner.wait()
        if local_engine.alive(seen["pid"]):
            local_engine.terminate(seen["pid"])
