"""A real JupyterHub on this machine: two students log in and run a lesson at the same time.

The hub (pip `jupyterhub`) runs with its proxy (npm `configurable-http-proxy`, installed in
deploy/hub/node_modules by `make classroom-env`), the test authenticator (DummyAuthenticator, one shared
password) and SimpleLocalProcessSpawner, which gives each user a home of their own. Each user's server is
told where LLM Lab keeps that user's files (LLMLAB_HOME, LLMLAB_ENV_FILE under their home, as the
classroom image does). Each student logs in through the login form, starts their server, and runs
notebooks/03_local_models.ipynb cell by cell over the Jupyter server's REST and kernel websocket API; the
test then checks that each got their own run log with their own answers and their own bundled engine.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from helpers.providers.local_engine import EngineState, free_port, read_state, running, terminate
from tests.started import wait_until_up

ROOT = Path(__file__).resolve().parent.parent
CHP = ROOT / "deploy" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
NOTEBOOK = ROOT / "notebooks" / "03_local_models.ipynb"
USERS = ("ada", "grace")
KILLED = "grace"  # her server is stopped through the Hub's API, escalating to SIGKILL at once
PASSWORD = "class-password"
CELL_TIMEOUT = 240.0

pytestmark = [pytest.mark.skipif(not CHP.exists(), reason=f"no {CHP}: run `make classroom-env`"),
              pytest.mark.skipif(sys.platform == "win32", reason="JupyterHub's local spawner needs POSIX")]

HUB_CONFIG = """
import sys
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{folder}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{folder}/{{username}}"
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
# root may run the test (CI does); kernels talk over IPC sockets in each user's own runtime folder
c.Spawner.args = ["--allow-root", "--KernelManager.transport=ipc"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {{
    "PYTHONPATH": {root!r},
    "LLMLAB_HOME": lambda spawner: spawner.home_dir + "/llmlab/runs",
    "LLMLAB_ENV_FILE": lambda spawner: spawner.home_dir + "/llmlab/.env",
    "LLMLAB_MEASURE_LOCAL": "0",
}}


def stop_at_once(spawner):
    # {killed}'s server is stopped as the spawner does when a server does not end in time: SIGKILL at once
    # (its kernels then exit without running their exit hooks)
    if spawner.user.name == {killed!r}:
        spawner.interrupt_timeout = spawner.term_timeout = 0


c.Spawner.pre_spawn_hook = stop_at_once
"""


@dataclass
class Hub:
    url: str
    folder: Path
    log: Path

    def home(self, user: str) -> Path:
        return self.folder / user


@pytest.fixture(scope="module")
def hub() -> Iterator[Hub]:
    # a short folder: kernels' IPC socket paths under each home must stay within 107 characters
    folder = Path(tempfile.mkdtemp(prefix="llh", dir="/tmp"))
    port, hub_port, api_port = free_port(), free_port(), free_port()
    config = folder / "jupyterhub_config.py"
    config.write_text(HUB_CONFIG.format(port=port, hub_port=hub_port, api_port=api_port, chp=str(CHP),
                                        folder=folder, password=PASSWORD, root=str(ROOT),
                                        killed=KILLED))
    # a clean environment: nothing of the test process's run log or keys reaches the users
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", "HOME": str(folder),
           "PYTHONPATH": str(ROOT), "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(16), "LANG": "C.UTF-8"}
    log = folder / "hub.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=folder, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/hub/api/", proc, log, 90, "JupyterHub")
        yield Hub(url, folder, log)
    finally:
        proc.terminate()  # the hub stops the users' servers and its proxy on the way out
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Student:
    name: str
    client: httpx.AsyncClient
    token: str = ""
    kernel: str = ""
    outputs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def log_in(hub: Hub, name: str) -> Student:
    """Log in through the hub's form (as a browser does), then make an API token as that user."""
    client = httpx.AsyncClient(base_url=hub.url, timeout=30, follow_redirects=False)
    page = await client.get("/hub/login")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
    assert xsrf, page.text[:500]
    done = await client.post("/hub/login", data={"username": name, "password": PASSWORD, "_xsrf": xsrf.group(1)})
    assert done.status_code == 302, done.text[:500]
    wrong = await httpx.AsyncClient(base_url=hub.url).post("/hub/login", data={
        "username": name, "password": "not-it", "_xsrf": xsrf.group(1)})
    assert wrong.status_code != 302  # the authenticator checks the password
    home = await client.get("/hub/home")  # the page's own XSRF token authorises the API call, as in a browser
    token = re.search(r'xsrf_token: "([^"]+)"', home.text) or re.search(r'name="_xsrf" value="([^"]+)"', home.text)
    assert token, home.text[:1000]
    made = await client.post(f"/hub/api/users/{name}/tokens", json={"note": "classroom test"},
                             headers={"X-XSRFToken": token.group(1)})
    assert made.status_code in (200, 201), made.text[:500]
    student = Student(name, client, made.json()["token"])
    client.headers["Authorization"] = f"token {student.token}"
    return student


async def start_server(hub: Hub, s: Student) -> None:
    started = await s.client.post(f"/hub/api/users/{s.name}/server")
    assert started.status_code in (201, 202), started.text[:500]
    deadline = time.monotonic() + 150
    while True:
        model = (await s.client.get(f"/hub/api/users/{s.name}")).json()
        if (model.get("servers") or {}).get("", {}).get("ready"):
            return
        assert time.monotonic() < deadline, f"{s.name}'s server did not start:\n{hub.log.read_text()[-4000:]}"
        await asyncio.sleep(0.5)


async def run_notebook(hub: Hub, s: Student, path: Path) -> None:
    """Run every code cell of ``path`` in a new kernel on the student's server; record output and errors."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    made = await s.client.post(f"/user/{s.name}/api/kernels", json={"name": "python3"})
    assert made.status_code == 201, made.text[:500]
    kernel = s.kernel = made.json()["id"]
    ws_url = hub.url.replace("http", "ws", 1) + f"/user/{s.name}/api/kernels/{kernel}/channels"
    ws = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {s.token}"}))
    session = uuid.uuid4().hex
    try:
        cells = [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
        for n, cell in enumerate(cells):
            msg_id = uuid.uuid4().hex
            ws.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                           "username": s.name, "version": "5.3", "date": ""},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": "".join(cell["source"]), "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
            replied = idle = False
            while not (replied and idle):
                raw = await asyncio.wait_for(ws.read_message(), CELL_TIMEOUT)
                assert raw is not None, f"{s.name}: the kernel's websocket closed during cell {n}"
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    s.outputs.append(content["text"])
                elif kind == "error":
                    s.errors.append(f"cell {n}: {content['ename']}: {content['evalue']}")
                elif kind == "execute_reply":
                    replied = True
                elif kind == "status" and content["execution_state"] == "idle":
                    idle = True
    finally:
        ws.close()


def engine_of(home: Path) -> EngineState | None:
    return read_state(home / "llmlab" / "runs" / "engine.json")


def local_calls(home: Path) -> list[tuple[str, str | None]]:
    db = home / "llmlab" / "runs" / "llmlab.db"
    with sqlite3.connect(db) as conn:
        return conn.execute("select spec, error from calls where spec like 'local/%'").fetchall()


def test_two_students_run_a_lesson_at_once_each_with_their_own_run_log_and_engine(hub: Hub) -> None:
    async def lesson(name: str) -> Student:
        s = await log_in(hub, name)
        await start_server(hub, s)
        await run_notebook(hub, s, NOTEBOOK)
        return s

    async def both() -> list[Student]:
        students = await asyncio.gather(*(lesson(u) for u in USERS))
        # while the kernels still run, each student's engine (started by their kernel) is up
        states = {s.name: engine_of(hub.home(s.name)) for s in students}
        try:
            for name, state in states.items():
                said = next(s for s in students if s.name == name)
                assert state is not None, (f"{name} has no engine.json in their own LLMLAB_HOME (each user's engine "
                                           f"needs a port of its own); the lesson said: {''.join(said.outputs)[-600:]}")
                assert running(state), f"{name}'s engine (pid {state.pid}) is not running"
                assert Path(state.log).is_relative_to(hub.home(name)), state.log
            a, b = (states[u] for u in USERS)
            assert a.pid != b.pid and a.port != b.port  # two engines, not one shared by accident
            # a student's kernel shut down (the notebook closed) stops the engine it started; so does a server
            # the Hub stops (SIGKILL for KILLED's: her kernel dies without its exit hooks, the engine's
            # watchdog stops the engine)
            for s in students:
                if s.name == KILLED:
                    stopped = await s.client.delete(f"/hub/api/users/{s.name}/server")
                    assert stopped.status_code in (202, 204), stopped.text[:300]
                else:
                    stopped = await s.client.delete(f"/user/{s.name}/api/kernels/{s.kernel}")
                    assert stopped.status_code == 204, stopped.text[:300]
            deadline = time.monotonic() + 30
            while any(running(st) for st in states.values() if st) and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
            assert not [n for n, st in states.items() if st and running(st)], "an engine outlived its kernel"
            assert engine_of(hub.home(KILLED)) is None  # its state is cleared too
        finally:
            for s in students:
                await s.client.delete(f"/hub/api/users/{s.name}/server")
                await s.client.aclose()
            for state in states.values():  # never leave an engine behind, even when a check failed
                if state and running(state):
                    terminate(state.pid)
        return students

    students = asyncio.run(both())
    for s in students:
        home = hub.home(s.name)
        assert not s.errors, f"{s.name}: {s.errors}"
        text = "".join(s.outputs)
        assert "tokens/s" in text or "generation speed" in text, text[-2000:]
        calls = local_calls(home)
        assert len(calls) >= 2 and all(error is None for _, error in calls), calls  # the lesson's two local calls
        others = [hub.home(u) for u in USERS if u != s.name]
        assert all(not (o / "llmlab" / "runs" / "engine.log").samefile(home / "llmlab" / "runs" / "engine.log")
                   for o in others)
    assert not (hub.folder / "runs").exists() and not (hub.folder / ".llmlab").exists()  # nothing in the hub's folder
