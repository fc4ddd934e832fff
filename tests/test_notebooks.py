"""Execute every lesson notebook, lab solution and student copy top to bottom, offline, with nbclient.

Each notebook runs in a fresh kernel of this venv's Python (a kernel spec written for the session, so no
other `python3` spec on the machine is picked up). Offline behaviour comes from the environment the
kernel inherits — the autouse fixture has removed every key and pointed LLMLAB_DB / LLMLAB_HOME /
LLMLAB_ENV_FILE at the test's tmp folder — not from mocks. The bundled engine is the session's one
(LOCAL_BASE_URL), so the kernels do not each start their own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.notebooks

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = sorted((ROOT / "labs" / "solutions").glob("*.ipynb"))
STUDENT_COPIES = sorted((ROOT / "labs").glob("*.ipynb"))
ALL = LESSONS + SOLUTIONS + STUDENT_COPIES
TIMEOUT_S = 120.0  # per notebook; a notebook may ask for more with metadata {"llmlab": {"timeout": s}}


@pytest.fixture(scope="session")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding one kernel spec, `python3`, that runs this interpreter."""
    spec = tmp_path_factory.mktemp("kernels") / "python3"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "LLM Lab (venv)", "language": "python"}), encoding="utf-8")
    return spec.parent


@pytest.fixture
def offline_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """The isolated test environment, plus the session's engine when llama.cpp is installed."""
    if importlib.util.find_spec("llama_cpp") is not None:
        request.getfixturevalue("local_engine")  # sets LOCAL_BASE_URL for this test
    return dict(os.environ)


def execute(nb: Any, path: Path, kernel_dir: Path, env: dict[str, str], budget_s: float = TIMEOUT_S) -> Any:
    """Run a notebook in place in a fresh kernel, failing when the whole run exceeds ``budget_s``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    specs = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    deadline = time.monotonic() + budget_s
    with tempfile.TemporaryDirectory(prefix="llmlab-kernel-") as sockets:
        # IPC sockets in a private folder, not TCP ports: parallel kernels (pytest -n 2) cannot race for a port
        km = KernelManager(kernel_name="python3", kernel_spec_manager=specs, transport="ipc",
                           ip=str(Path(sockets) / "k"))
        client = NotebookClient(
            nb, km=km, kernel_name="python3", startup_timeout=60,
            timeout_func=lambda cell: max(deadline - time.monotonic(), 0.01),
            resources={"metadata": {"path": str(path.parent)}})
        client.execute(env=env)
    return nb


def outputs_text(cell: Any) -> str:
    """Everything a cell showed: streams, text/plain and Markdown."""
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        data = out.get("data", {})
        parts.append(data.get("text/markdown", ""))
        parts.append(data.get("text/plain", ""))
    return "\n".join(p if isinstance(p, str) else "".join(p) for p in parts)


def _cells_tagged(nb: Any, tag: str) -> list[Any]:
    return [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]


def test_there_is_something_to_run() -> None:
    assert LESSONS and SOLUTIONS and STUDENT_COPIES


def test_kernel_runs_this_venvs_python(kernel_dir: Path, offline_env: dict[str, str]) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os, sys\nprint(sys.executable)\n"
                                                                   "print(os.environ['LLMLAB_DB'])")])
    execute(nb, ROOT / "notebooks" / "probe.ipynb", kernel_dir, offline_env, budget_s=60)
    printed = outputs_text(nb.cells[0]).split()
    assert printed == [sys.executable, os.environ["LLMLAB_DB"]]


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(ROOT)) for p in ALL])
def test_notebook_runs_offline(path: Path, kernel_dir: Path, offline_env: dict[str, str]) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    budget = float(nb.metadata.get("llmlab", {}).get("timeout", TIMEOUT_S))
    execute(nb, path, kernel_dir, offline_env, budget)  # raises CellExecutionError naming the failing cell

    tracebacks = [outputs_text(c) for c in nb.cells if "Traceback" in outputs_text(c)]
    assert not tracebacks, tracebacks[0][-3000:]  # a cell printed one (a caught error, a logged warning)
    checks = [outputs_text(c) for c in _cells_tagged(nb, "check")]
    if path in SOLUTIONS:
        assert checks and all("checks pass" in text for text in checks), checks
    elif path in STUDENT_COPIES:
        assert checks and all("not done yet" in text and "to fix" not in text for text in checks), checks
