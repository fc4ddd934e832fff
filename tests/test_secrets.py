"""Secrets: with canary keys set (some in the environment, some in a `.env`) and every provider pointed at a
loopback server that refuses them with 401 *and echoes the key it got in full* (worse than OpenAI, which
echoes a masked key), no key may appear anywhere: CLI output, exception messages and tracebacks, answers,
the run log's bytes (WAL included), the response cache, report folders, exported runs, emissions.json,
notebook outputs. Only the masked form (first characters and the length) may show.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import subprocess
import sys
import traceback
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from helpers import catalog, display, keys, llm
from helpers.compare import report, runner
from helpers.errors import LabError
from helpers.runlog import store as run_log
from tests import test_notebooks as nbt
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent
IN_DOTENV = ("OPENAI_API_KEY", "GROQ_API_KEY", "GOOGLE_API_KEY")  # the others come from the environment


class EchoingServer(FakeOpenAI):
    """Refuses every request with 401 and puts the key it received, in full, into the error message."""

    def _refuse(self, h: Any, *_: Any) -> None:
        auth = h.headers.get("Authorization", "")
        query = parse_qs(urlsplit(h.path).query).get("key", [""])[0]
        key = auth.removeprefix("Bearer ") or h.headers.get("x-api-key") or h.headers.get("x-goog-api-key") or query
        h.send_json(401, {"error": {"message": f"Incorrect API key provided: {key}. Check it.", "code": 401,
                                    "type": "invalid_request_error", "status": "UNAUTHENTICATED"}})

    _chat = _models = _unknown_path = _refuse


@dataclass
class Canaries:
    """The canary keys, where they were put, and the scanners."""

    keys: dict[str, str]
    home: Path
    server: EchoingServer

    @property
    def hidden(self) -> list[str]:
        """The part of each key that its masked form never shows (all but the first 8 and last 4 characters)."""
        return [k[keys.SHOWN_CHARS:-4] for k in self.keys.values()]

    def leaks(self, text: str | bytes, where: str = "") -> list[str]:
        data = text.encode("utf-8", "replace") if isinstance(text, str) else text
        return [f"{where}: …{h[:6]}…" for h in self.hidden if h.encode() in data]

    def leaks_in_tree(self, folder: Path) -> list[str]:
        return [leak for p in sorted(folder.rglob("*")) if p.is_file() for leak in self.leaks(p.read_bytes(), str(p))]


@pytest.fixture
def canaries(monkeypatch: pytest.MonkeyPatch, isolated_env: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaries]:
    """Canary keys for every key variable, every keyed provider pointed at the echoing server; the `.env`
    lives outside the scanned folder (LLMLAB_HOME, which holds the run log)."""
    server = EchoingServer().start()
    dotenv = tmp_path_factory.mktemp("dotenv") / ".env"
    made = {}
    for p in catalog.key_providers():
        prefix = p.key_prefixes[0] if p.key_prefixes else "sk-"
        made[p.key_var] = prefix + "CANARY" + secrets.token_hex(12) + "tail"
    dotenv.write_text("".join(f"{v}={made[v]}\n" for v in IN_DOTENV), encoding="utf-8")
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(dotenv))
    for var, key in made.items():
        if var not in IN_DOTENV:
            monkeypatch.setenv(var, key)
    for p in catalog.providers().values():
        if p.needs_key:
            native = p.api in ("anthropic", "google")
            monkeypatch.setenv(p.base_url_var, server.root_url if native else server.base_url)
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    found = Canaries(made, isolated_env, server)
    try:
        yield found
    finally:
        server.stop()


def keyed_specs() -> list[str]:
    return [f"{p.name}/{p.default_model}" for p in catalog.providers().values() if p.needs_key]


def test_canaries_reach_the_server_and_come_back(canaries: Canaries) -> None:
    """The test's premise: each key is really sent, and the server really echoes it in full."""
    answers = llm.ask_many(keyed_specs(), "Hello", use_cache=False)
    assert all(a.error_kind == "auth" for a in answers), [(a.spec, a.error) for a in answers]
    sent = {r.api_key or r.headers.get("x-api-key") or r.headers.get("x-goog-api-key")
            for r in canaries.server.requests}
    assert set(canaries.keys.values()) <= sent
    for a in answers:
        assert keys.mask(canaries.keys[catalog.provider(a.provider).key_var or ""]) in a.error  # masked, not gone


def test_answers_exceptions_and_tracebacks(canaries: Canaries) -> None:
    leaks = []
    for spec in keyed_specs():
        answer = llm.ask(spec, "Hello", use_cache=False)
        shown = [answer.error or "", json.dumps(answer.to_dict(), default=str), repr(answer),
                 display.answer_text(answer), display.answer_markdown(answer)]
        leaks += [leak for text in shown for leak in canaries.leaks(text, spec)]
        with pytest.raises(LabError) as info:
            llm.ask(spec, "Hello again", use_cache=False, raise_errors=True)
        exc = info.value
        for text in (str(exc), repr(exc), exc.message, exc.hint, "".join(traceback.format_exception(exc))):
            leaks += canaries.leaks(text, f"{spec} exception")
    from helpers.commands.models import available

    for p in catalog.providers().values():  # the model listing raises from the SDK's own error
        if p.needs_key and p.api == "openai":
            with pytest.raises(LabError) as info:
                available(p)
            leaks += canaries.leaks("".join(traceback.format_exception(info.value)), f"models {p.name}")
    assert not leaks, leaks


def test_compare_report_and_run_log_bytes(canaries: Canaries) -> None:
    result = runner.compare(keyed_specs(), "course", progress=False, out=io.StringIO(), use_cache=False)
    assert set(result.cells.error_kind) == {"auth"}
    folder = report.write(result, canaries.home / "report").parent
    text = result.table() + result.summary().to_csv() + result.cells.to_csv()
    from helpers.runlog import transfer

    transfer.export_run(result.run_id, canaries.home / "export.jsonl")
    run_log.default().close()
    assert not canaries.leaks(text, "tables") + canaries.leaks_in_tree(canaries.home)
    assert (folder / "report.md").is_file() and any(canaries.home.glob("llmlab.db*"))


@pytest.mark.slow
def test_cli_commands(canaries: Canaries) -> None:
    home, env = canaries.home, dict(os.environ)
    two = ["-m", "openai/gpt-4.1-mini", "-m", "groq/openai/gpt-oss-20b"]  # every provider: in-process tests above
    commands = [["keys"], ["ask", *two, "--stream", "Hello"], ["compare", *two, "--report", str(home / "cli-report")],
                ["chat", *two, "-r", "1"], ["models", "openai", "--check"], ["report"]]
    leaks, outputs = [], {}
    for argv in commands:
        out = subprocess.run([sys.executable, "-m", "helpers", *argv], cwd=home, env=env, capture_output=True,
                             text=True, timeout=180, check=False)
        outputs[argv[0]] = out
        leaks += canaries.leaks(out.stdout + out.stderr, " ".join(argv[:2]))
        assert "Traceback" not in out.stderr, out.stderr[-2000:]
    run_id = next(r["id"] for r in run_log.default().runs(kind="compare"))
    export = subprocess.run([sys.executable, "-m", "helpers", "runs", "export", run_id, str(home / "run.jsonl")],
                            cwd=home, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert export.returncode == 0, export.stderr
    assert "refused the key" in outputs["ask"].stderr and "set      " in outputs["keys"].stdout  # it did run
    run_log.default().close()
    assert not leaks + canaries.leaks_in_tree(home), leaks


# -- every notebook ------------------------------------------------------------------------------------------
kernel_dir = nbt.kernel_dir  # the notebook runner of test_notebooks.py, reused


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", nbt.ALL, ids=[str(p.relative_to(ROOT)) for p in nbt.ALL])
def test_notebook(path: Path, canaries: Canaries, kernel_dir: Path, fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    """A healthy loopback server stands in for the bundled engine (what it generates does not matter here)."""
    import nbformat
    from nbclient.exceptions import CellExecutionError

    before = set(path.parent.iterdir())
    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, LOCAL_BASE_URL=fake_openai_factory(["smollm2"]).base_url)
    try:
        nbt.execute(nb, path, kernel_dir, env)
        raised = ""
    except CellExecutionError as exc:  # a cell that breaks on refused keys still must not show them
        raised = str(exc)
    leaks = canaries.leaks(nbformat.writes(nb) + raised, "outputs")
    for new in set(path.parent.iterdir()) - before:  # e.g. emissions.json written into the notebook's folder
        leaks += canaries.leaks(new.read_bytes(), str(new)) if new.is_file() else []
    run_log.default().close()
    leaks += canaries.leaks_in_tree(canaries.home)
    assert not leaks, leaks
    if raised:  # not this test's concern (keys did not leak), but worth seeing in the summary
        last = re.sub(r"\x1b\[[0-9;]*m", "", [line for line in raised.splitlines() if line.strip()][-1])
        warnings.warn(f"{path.relative_to(ROOT)}: a cell raised with the keys refused: {last[:300]}", stacklevel=1)
