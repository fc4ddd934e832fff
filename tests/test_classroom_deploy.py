"""What can be checked of deploy/ without a container engine or a cluster: the image copies files that
exist and installs the way `make install` does, its first-start script works, the Helm values and the
gateway configuration agree with the suite's settings, and per-user paths never collide."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from helpers import settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCKERFILE = (DEPLOY / "image" / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The Dockerfile's instructions of one kind, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in text.splitlines() if line.startswith(name + " ")]


def test_every_path_the_image_copies_exists() -> None:
    copies = instructions("COPY")
    assert copies
    for copy in copies:
        *sources, _ = shlex.split(copy)
        for source in sources:
            assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is not in the repository"


def test_the_image_installs_like_make_install() -> None:
    runs = " ".join(instructions("RUN"))
    make = (ROOT / "Makefile").read_text()
    assert "$(PIP) install -r requirements.txt" in make and "$(PYTHON) -m venv $(VENV)" in make
    assert ("python -m venv .venv" in runs
            and ".venv/bin/python -m pip install --no-cache-dir -r requirements.txt" in runs)
    assert "python:3.11" in instructions("FROM")[0]  # the Python the pins are tested on
    image_pins = (DEPLOY / "image" / "requirements.txt").read_text().split()
    dev_pins = (ROOT / "requirements-dev.txt").read_text().split()
    hub_pin = next(p for p in image_pins if p.startswith("jupyterhub=="))
    assert hub_pin in dev_pins  # the classroom test runs the JupyterHub the image ships


def test_image_env_and_helm_values_put_every_per_user_file_in_the_home() -> None:
    env = dict(re.findall(r"(LLMLAB_\w+|XDG_CACHE_HOME|TMPDIR|MPLCONFIGDIR)=(\S+)", " ".join(instructions("ENV"))))
    values = yaml.safe_load((DEPLOY / "jupyterhub" / "values.yaml").read_text())
    single = values["singleuser"]
    home = single["storage"]["homeMountPath"]
    for name in ("LLMLAB_HOME", "LLMLAB_ENV_FILE", "XDG_CACHE_HOME", "TMPDIR", "MPLCONFIGDIR"):
        assert env[name].startswith(home + "/"), (name, env[name])
    assert single["extraEnv"]["LLMLAB_HOME"] == env["LLMLAB_HOME"]
    assert single["extraEnv"]["LLMLAB_ENV_FILE"] == env["LLMLAB_ENV_FILE"]
    assert "LLMLAB_LOCAL_PORT" not in single["extraEnv"]  # each engine finds a free port
    assert single["cpu"]["limit"] and single["memory"]["limit"]
    gateway = {v for k, v in single["extraEnv"].items() if k.endswith("_BASE_URL")}
    assert len(gateway) == 1 and next(iter(gateway)).endswith(":4000/v1")


def test_gateway_config_names_models_as_the_course_specs_do() -> None:
    from helpers import catalog

    config = yaml.safe_load((DEPLOY / "litellm" / "config.yaml").read_text())
    assert config["general_settings"]["master_key"] == "os.environ/LITELLM_MASTER_KEY"
    assert config["general_settings"]["database_url"] == "os.environ/DATABASE_URL"
    for entry in config["model_list"]:
        params = entry["litellm_params"]
        assert params["api_key"].startswith("os.environ/")  # no key in the file
        provider = params["model"].split("/", 1)[0]
        assert params["model"] == f"{provider}/{entry['model_name']}"  # gateway name == the course's model id
        assert catalog.provider(provider).key_var == params["api_key"].removeprefix("os.environ/")


def test_first_start_copies_the_course_once_and_keeps_the_students_work(tmp_path: Path) -> None:
    home = tmp_path / "jovyan"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LLMLAB_SOURCE": str(ROOT),
           "XDG_CACHE_HOME": str(home / ".cache"), "TMPDIR": str(home / ".cache" / "tmp")}
    script = str(DEPLOY / "image" / "start-llmlab.sh")
    done = subprocess.run(["sh", script, "echo", "started"], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "started"
    course = home / "llmlab"
    assert (course / "notebooks" / "03_local_models.ipynb").is_file() and (course / "labs").is_dir()
    assert (course / ".env").read_text() == (ROOT / ".env.example").read_text()
    assert (course / ".env").stat().st_mode & 0o777 == 0o600
    assert (course / "runs").is_dir() and (home / ".cache" / "tmp").is_dir()
    (course / ".env").write_text("OPENAI_API_KEY=sk-student-own\n")
    (course / "notebooks" / "03_local_models.ipynb").write_text("{}")
    subprocess.run(["sh", script, "true"], env=env, check=True)
    assert (course / ".env").read_text() == "OPENAI_API_KEY=sk-student-own\n"
    assert (course / "notebooks" / "03_local_models.ipynb").read_text() == "{}"


@pytest.mark.skipif(os.geteuid() != 0 or sys.platform != "linux", reason="switching users needs root on Linux")
def test_two_users_of_a_shared_install_get_their_own_files() -> None:
    """Two unix users run LLM Lab from an installation neither can write to: each gets ~/.llmlab of their own."""
    if not os.access(ROOT, os.R_OK | os.X_OK) or os.stat(ROOT).st_mode & 0o002:
        pytest.skip("the checkout is writable by everyone")
    base = Path(tempfile.mkdtemp(prefix="llmlab-users-"))
    base.chmod(0o755)
    code = ("from helpers import settings; from helpers.runlog.store import Store; s = Store(); s.new_run('ask'); "
            "print(settings.shared_install(), settings.home(), settings.env_file(), settings.db_path())")
    seen = []
    try:
        for uid in (54321, 54322):
            home = base / str(uid)
            home.mkdir()
            os.chown(home, uid, uid)
            env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(ROOT)}
            out = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", sys.executable,
                                  "-c", code],
                                 check=False, env=env, capture_output=True, text=True, timeout=120, cwd=home)
            assert out.returncode == 0, out.stderr[-2000:]
            shared, runs, env_file, db = out.stdout.split()
            assert shared == "True"
            assert runs == f"{home}/.llmlab/runs" and env_file == f"{home}/.llmlab/.env"
            assert Path(db).is_file() and Path(db).stat().st_uid == uid
            seen.append(db)
        assert seen[0] != seen[1]
    finally:
        subprocess.run(["rm", "-rf", str(base)], check=False)
    assert settings.shared_install() is False  # this (root) process may write to the checkout


def test_explicit_settings_win_and_expand_the_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("LLMLAB_HOME", "~/course/runs")
    monkeypatch.setenv("LLMLAB_ENV_FILE", "~/course/.env")
    monkeypatch.delenv("LLMLAB_DB")
    monkeypatch.setattr(settings, "_loaded_from", None)
    assert settings.home() == tmp_path / "course" / "runs"
    assert settings.env_file() == tmp_path / "course" / ".env"
    assert settings.db_path() == tmp_path / "course" / "runs" / "llmlab.db"
    monkeypatch.delenv("LLMLAB_HOME")
    monkeypatch.setattr(settings, "shared_install", lambda root=settings.PROJECT_ROOT: True)
    assert settings.home() == tmp_path / ".llmlab" / "runs"
