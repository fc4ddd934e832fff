"""The fault matrix: every provider failure × {ask, ask_async, compare, chat, the CLI} and one notebook.

Each fault is served by a loopback server (tests/fakes) to a "faulty" model while a healthy model answers
beside it. For every cell of the matrix: no crash (and no traceback from the CLI), a message that says what
went wrong and how to fix it, a row in the run log carrying the error kind, and the rest of the run (the
healthy model's answers) completes.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import llm
from helpers import spec as specs
from helpers.compare import runner
from helpers.compare.report import csv_rows
from helpers.conversation import Conversation, Seat
from helpers.runlog import store as run_log
from tests import test_notebooks as nbt
from tests.conftest import PROVIDER_ENV_VARS
from tests.fakes.openai_server import FakeOpenAI, Fault

ROOT = Path(__file__).resolve().parent.parent
FAST_RETRY = {"retry-after-ms": "1"}  # with Retry-After: 0 the openai SDK backs off ~0.5 s instead
GOOD = "openai/gpt-4.1-mini"
PUZZLES = "- id: sum\n  prompt: Sum of 1 to 10?\n  answer: 55\n  grader: numeric\n" \
          "- id: root\n  prompt: Square root of 81?\n  answer: 9\n  grader: numeric\n"


@dataclass(frozen=True)
class Case:
    """One fault: what the server does, and what the user must be told."""

    id: str
    fault: Fault | None  # None: nobody listens on the provider's port (connection refused)
    kind: str | None  # the answer's error_kind; None when the call still succeeds
    says: tuple[str, ...]  # fragments of the message: what went wrong, then the fix
    params: dict[str, Any] = field(default_factory=dict)
    requests: int = 1  # requests the server must see for one call (retries included)
    provider: str = "groq"

    @property
    def spec(self) -> str:
        """The faulty model's spec, its per-case parameters in the variant (so one CLI run holds them all)."""
        params = ",".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in self.params.items())
        return specs.parse(f"{self.provider}/fault-{self.id}" + (f"@{params}" if params else "")).label

    @property
    def model(self) -> str:
        return f"fault-{self.id}"


CASES = [
    Case("401", Fault.status(401), "auth", ("groq refused the key in GROQ_API_KEY", "python -m helpers keys"),
         {"max_retries": 0}),
    Case("403", Fault.status(403), "auth", ("403 Forbidden", "permissions"), {"max_retries": 0}),
    Case("404", Fault.status(404), "unknown_model", ("does not know the model 'fault-404'",
                                                     "python -m helpers models groq"), {"max_retries": 0}),
    Case("429", Fault.status(429, headers=FAST_RETRY), "rate_limit", ("rate-limited the request (429)",
                                                                      "lower --concurrency"),
         {"max_retries": 1}, requests=2),
    Case("500", Fault.status(500, headers=FAST_RETRY), "provider", ("HTTP 500 after retries", "try again later"),
         {"max_retries": 1}, requests=2),
    Case("503", Fault.status(503, headers=FAST_RETRY), "provider", ("HTTP 503 after retries", "overloaded",
                                                                    "try again later"),
         {"max_retries": 1}, requests=2),
    Case("context", Fault.status(400), "bad_request", ("maximum context length", "Shorten the prompt"),
         {"max_retries": 0}),
    Case("timeout", Fault.timeout(5), "timeout", ("did not answer within 0.3 s", "Raise the timeout"),
         {"timeout": 0.3, "max_retries": 0}),
    Case("refused", None, "connection", ("cannot reach deepseek", "DEEPSEEK_BASE_URL"), {"max_retries": 0},
         requests=0, provider="deepseek"),
    Case("malformed", Fault.malformed(), "malformed", ("could not be read", "OpenAI-compatible API"),
         {"max_retries": 0}),
    Case("malformed-stream", Fault.malformed(), "malformed", ("stream ended before any text", "Try again"),
         {"stream": True, "max_retries": 0}),
    Case("empty-choices", Fault.empty_choices(), "malformed", ("returned no choices", "check the base URL"),
         {"max_retries": 0}),
    Case("empty-content", Fault.empty_content(), "empty", ("returned an empty answer", "Try again"),
         {"max_retries": 0}),
    Case("empty-stream", Fault.empty_content(), "empty", ("returned an empty answer", "Try again"),
         {"stream": True, "max_retries": 0}),
    Case("no-usage", Fault.no_usage(), None, ("reported no token usage",), {"max_retries": 0}),
    Case("cut-stream", Fault.cut_stream(3), "incomplete", ("cut off before the model finished",
                                                           "partial answer is kept"),
         {"stream": True, "max_retries": 0}),
    Case("slow-first-byte", Fault.slow_first_byte(0.3), None, (), {"stream": True, "max_retries": 0}),
]
IDS = [c.id for c in CASES]


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def servers(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> tuple[FakeOpenAI, FakeOpenAI]:  # type: ignore[no-untyped-def]
    """(faulty groq server, healthy openai server); deepseek points at a closed port."""
    faulty, good = fake_openai_factory(), fake_openai_factory()
    for name, url in (("GROQ", faulty.base_url), ("OPENAI", good.base_url),
                      ("DEEPSEEK", f"http://127.0.0.1:{closed_port()}/v1")):
        monkeypatch.setenv(f"{name}_BASE_URL", url)
        monkeypatch.setenv(f"{name}_API_KEY", f"fake-{name.lower()}-key-0123456789")
    return faulty, good


def arm(faulty: FakeOpenAI, case: Case) -> None:
    if case.fault is not None:
        faulty.on_model(case.model, case.fault)


def check_answer(case: Case, answer: Any) -> None:
    """The faulty model's answer: the right error kind and a message naming the fix (or a flagged success)."""
    assert answer.error_kind == case.kind, answer.error
    text = answer.error if case.kind else answer.cost_note
    for words in case.says:
        assert words in (text or ""), text
    if case.kind == "incomplete":
        assert answer.incomplete and answer.text  # the partial answer is kept
    if case.id == "no-usage":
        assert answer.ok and answer.cost_usd is None and answer.text
    if case.id == "slow-first-byte":
        assert answer.ok and answer.ttft_s is not None and answer.ttft_s >= 0.3


def check_row(case: Case, row: dict[str, Any]) -> None:
    assert row["spec"] == case.spec and row["error_kind"] == case.kind
    assert (row["error"] is None) == (case.kind is None) and row["incomplete"] == (case.kind == "incomplete")


# -- ask and ask_async ----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["ask", "ask_async"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_ask(case: Case, mode: str, servers: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    faulty, good = servers
    arm(faulty, case)

    def call(spec: str) -> Any:
        if mode == "ask":
            return llm.ask(spec, "What is 2+2?", use_cache=False)
        return asyncio.run(llm.ask_async(spec, "What is 2+2?", use_cache=False))

    answer = call(case.spec)
    check_answer(case, answer)
    assert faulty.count("/v1/chat/completions") == case.requests
    after = call(GOOD)  # the next call of the session is unaffected
    assert after.ok and after.text == "Echo: What is 2+2?" and good.count() == 1
    rows = run_log.default().calls()
    assert len(rows) == 2 and rows[0]["id"] == answer.call_id
    check_row(case, rows[0])
    assert rows[1]["error"] is None and rows[1]["text"] == after.text


def test_retry_after_is_honoured_then_the_call_succeeds(servers: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    faulty, _ = servers
    faulty.script([Fault.status(429, retry_after=0.4), Fault.status(503, retry_after=0.2), "ok"])
    answer = llm.ask("groq/openai/gpt-oss-20b", "Patience?", max_retries=2, use_cache=False)
    assert answer.ok and answer.text == "Echo: Patience?"
    first, second, third = (r.time for r in faulty.requests)
    assert second - first >= 0.4 and third - second >= 0.2  # waited as the server asked, not less
    (row,) = run_log.default().calls()
    assert row["error"] is None  # the retried call is one call in the run log


# -- compare --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_compare(case: Case, servers: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path) -> None:
    faulty, good = servers
    arm(faulty, case)
    puzzles = tmp_path / "puzzles.yaml"
    puzzles.write_text(PUZZLES)
    result = runner.compare([case.spec, GOOD], str(puzzles), progress=False, out=io.StringIO(), use_cache=False)
    cells = result.cells.set_index("model")
    mine, healthy = cells.loc[[case.spec]], cells.loc[[GOOD]]
    assert list(healthy.status) == ["ok", "ok"] and good.count() == 2
    assert list(mine.status) == ["ok" if case.kind is None else "error"] * 2
    assert list(mine.error_kind.fillna("")) == [case.kind or ""] * 2
    for error in mine.error.dropna():
        assert all(words in error for words in case.says), error
    assert result.outcome.sent == 4 and result.outcome.errors == (0 if case.kind is None else 2)
    rows = run_log.default().calls(result.run_id)
    assert sorted(r["cell"] for r in rows) == sorted(f"{m}|{p}|0" for m in (case.spec, GOOD) for p in ("sum", "root"))
    for row in rows:
        if row["spec"] == case.spec:
            check_row(case, row)


# -- chat -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_chat(case: Case, servers: tuple[FakeOpenAI, FakeOpenAI]) -> None:
    faulty, good = servers
    arm(faulty, case)
    chat = Conversation([Seat(case.spec, name="Faulty"), Seat(GOOD, name="Healthy")]).run(2)
    assert [(t.round, t.name) for t in chat.turns] == [(1, "Faulty"), (1, "Healthy"), (2, "Faulty"), (2, "Healthy")]
    for turn in chat.turns:
        if turn.name == "Faulty":
            check_answer(case, turn.answer)
        else:
            assert turn.answer is not None and turn.answer.ok and turn.text.startswith("Echo: ")
    assert chat.totals()["failed"] == (0 if case.kind is None else 2) and good.count() == 2
    rows = run_log.default().calls(chat.run_id)
    assert [r["cell"] for r in rows] == ["round1/Faulty", "round1/Healthy", "round2/Faulty", "round2/Healthy"]
    check_row(case, rows[0])
    assert f"{0 if case.kind is None else 2} failed" in chat.summary()


# -- the CLI (subprocesses): one run of each command holds every fault ---------------------------------------
@dataclass
class CliRuns:
    db: Path
    report: Path
    out: dict[str, subprocess.CompletedProcess[str]]


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpers", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliRuns]:
    """`ask`, `compare --report` and `chat` once each, every faulty model beside the healthy one."""
    home = tmp_path_factory.mktemp("cli-faults")
    faulty, good = FakeOpenAI().start(), FakeOpenAI().start()
    try:
        for case in CASES:
            arm(faulty, case)
        env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV_VARS}
        env.update(LLMLAB_DB=str(home / "llmlab.db"), LLMLAB_HOME=str(home), LLMLAB_ENV_FILE=str(home / "none.env"),
                   LLMLAB_MEASURE_LOCAL="0", GROQ_BASE_URL=faulty.base_url, OPENAI_BASE_URL=good.base_url,
                   DEEPSEEK_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1")
        for name in ("GROQ", "OPENAI", "DEEPSEEK"):
            env[f"{name}_API_KEY"] = f"fake-{name.lower()}-key-0123456789"
        (home / "puzzles.yaml").write_text(PUZZLES)
        models = [x for c in [*CASES, None] for x in ("-m", c.spec if c else GOOD)]
        out = {"ask": _cli(env, home, "ask", *models, "What is 2+2?"),
               "compare": _cli(env, home, "compare", *models, "--puzzles", str(home / "puzzles.yaml"), "--no-cache",
                               "--report", str(home / "report"))}
        for i in range(0, len(CASES), 7):  # a conversation holds at most 8 seats
            seats = [x for c in CASES[i:i + 7] for x in ("-m", c.spec)]
            out[f"chat{i // 7}"] = _cli(env, home, "chat", *seats, "-m", GOOD, "-r", "1")
        yield CliRuns(home / "llmlab.db", home / "report", out)
    finally:
        faulty.stop()
        good.stop()


def _rows(db: Path, kind: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(
            "SELECT calls.* FROM calls JOIN runs ON runs.id = calls.run_id WHERE runs.kind = ? ORDER BY calls.id",
            (kind,))]
    finally:
        conn.close()


@pytest.mark.slow  # the shared subprocess runs take ~8 s
def test_cli_runs_end_cleanly(cli: CliRuns) -> None:
    for name, out in cli.out.items():
        assert "Traceback" not in out.stderr + out.stdout, (name, out.stderr[-3000:])
    assert cli.out["ask"].returncode == 1  # some models failed: said so by the exit code
    assert cli.out["compare"].returncode == 0, cli.out["compare"].stderr
    assert all(out.returncode == 1 for name, out in cli.out.items() if name.startswith("chat"))
    assert "Echo: What is 2+2?" in cli.out["ask"].stdout  # the healthy model answered
    rows = _rows(cli.db, "compare")
    assert [r["error"] for r in rows if r["spec"] == GOOD] == [None, None]
    chats = _rows(cli.db, "chat")
    assert len([r for r in chats if r["spec"] == GOOD and r["error"] is None]) == len(cli.out) - 2
    integrity = sqlite3.connect(cli.db).execute("PRAGMA integrity_check").fetchone()[0]
    assert integrity == "ok"


@pytest.mark.slow  # the shared subprocess runs take ~8 s
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_ask(case: Case, cli: CliRuns) -> None:
    stderr = cli.out["ask"].stderr
    lines = [line for line in stderr.splitlines() if line.startswith(f"error: {case.spec}: ")]
    if case.kind is None:
        assert not lines
    else:
        assert len(lines) == 1 and all(words in lines[0] for words in case.says), stderr
    (row,) = [r for r in _rows(cli.db, "session") if r["spec"] == case.spec]
    check_row(case, row)


@pytest.mark.slow  # the shared subprocess runs take ~8 s
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_compare(case: Case, cli: CliRuns) -> None:
    rows = [r for r in _rows(cli.db, "compare") if r["spec"] == case.spec]
    assert sorted(r["cell"] for r in rows) == [f"{case.spec}|root|0", f"{case.spec}|sum|0"]
    for row in rows:
        check_row(case, row)
    cells = [r for r in csv_rows(cli.report / "cells.csv") if r["model"] == case.spec]
    assert len(cells) == 2
    for cell in cells:
        assert cell["status"] == ("ok" if case.kind is None else "error")
        assert cell["error_kind"] == (case.kind or "") and all(w in cell["error"] for w in case.says if case.kind)
    report = (cli.report / "report.md").read_text()
    if case.kind is not None:
        assert report.count(f"| {case.spec} | ") >= 3  # per model, and its two rows under "Errors"


@pytest.mark.slow  # the shared subprocess runs take ~8 s
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cli_chat(case: Case, cli: CliRuns) -> None:
    out = cli.out[f"chat{IDS.index(case.id) // 7}"].stdout
    block = out.split(f"fault-{case.id} ({case.spec})", 1)[1].split("\n\n", 1)[0]
    if case.kind is None:
        assert "⚠" not in block
    else:
        assert "⚠" in block and all(words in block.replace("\n  ", " ") for words in case.says), block
    (row,) = [r for r in _rows(cli.db, "chat") if r["spec"] == case.spec]
    check_row(case, row)


# -- a notebook -----------------------------------------------------------------------------------------
kernel_dir = nbt.kernel_dir  # the notebook runner of test_notebooks.py, reused


@pytest.mark.slow
@pytest.mark.notebooks
def test_notebook_against_faulty_servers(kernel_dir: Path, fake_openai_factory) -> None:  # type: ignore[no-untyped-def]
    """notebooks/01_frontier_apis with keys set and every provider failing differently, from its environment;
    a healthy loopback server stands in for the bundled engine (LOCAL_BASE_URL)."""
    import nbformat

    path = ROOT / "notebooks" / "01_frontier_apis.ipynb"
    faults = {"OPENAI": Fault.status(503, headers=FAST_RETRY), "GROQ": Fault.status(401),
              "GROK": Fault.status(429, headers=FAST_RETRY), "OPENROUTER": Fault.malformed()}
    env = dict(os.environ, LLMLAB_MAX_RETRIES="0", LOCAL_BASE_URL=fake_openai_factory(["smollm2"]).base_url,
               DEEPSEEK_BASE_URL=f"http://127.0.0.1:{closed_port()}/v1", DEEPSEEK_API_KEY="fake-deepseek-key-0123")
    for name, fault in faults.items():
        env[f"{name}_BASE_URL"] = fake_openai_factory(default=fault).base_url
        env[f"{name}_API_KEY"] = f"fake-{name.lower()}-key-0123456789"
    nb = nbformat.read(path, as_version=4)
    nbt.execute(nb, path, kernel_dir, env)  # raises CellExecutionError if a cell raised
    shown = "\n".join(nbt.outputs_text(c) for c in nb.cells)
    assert "Traceback" not in shown
    for words in ("HTTP 503 after retries", "refused the key in GROQ_API_KEY", "cannot reach deepseek",
                  "rate-limited the request (429)", "could not be read"):
        assert words in shown, words
    conn = sqlite3.connect(env["LLMLAB_DB"])
    kinds = dict(conn.execute("SELECT provider, error_kind FROM calls WHERE error IS NOT NULL GROUP BY provider"))
    assert kinds == {"openai": "provider", "groq": "auth", "deepseek": "connection", "grok": "rate_limit",
                     "openrouter": "malformed"}, kinds
    assert conn.execute("SELECT count(*) FROM calls WHERE provider='local' AND error IS NULL").fetchone()[0] >= 1


# -- a failed run finished from the CLI (kill -9 then resume: tests/test_compare.py) -------------------------
@pytest.mark.slow
def test_cli_resume_asks_only_what_failed(servers: tuple[FakeOpenAI, FakeOpenAI], tmp_path: Path) -> None:
    faulty, good = servers
    faulty.default = Fault.status(503, headers=FAST_RETRY)
    puzzles = tmp_path / "puzzles.yaml"
    puzzles.write_text(PUZZLES)
    spec = "groq/openai/gpt-oss-20b"
    first = runner.compare([spec, GOOD], str(puzzles), progress=False, out=io.StringIO(), max_retries=0)
    assert list(first.cells.status) == ["error", "ok", "error", "ok"]
    store = run_log.default()
    kept = {r["cell"]: r["id"] for r in store.calls(first.run_id, ok=True)}
    faulty.default = Fault.ok()  # the provider is back
    out = subprocess.run([sys.executable, "-m", "helpers", "compare", "--resume", first.run_id, "--no-progress"],
                         cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stdout.splitlines()[0] == f"run id: {first.run_id}"
    assert (faulty.count(), good.count()) == (4, 2)  # two failed tries, then only the two failed cells again
    answered = store.calls(first.run_id, ok=True)
    assert sorted(r["cell"] for r in answered) == sorted(f"{m}|{p}|0" for m in (spec, GOOD) for p in ("sum", "root"))
    assert {r["cell"]: r["id"] for r in answered if r["cell"] in kept} == kept  # earlier answers untouched
    assert len(store.calls(first.run_id, ok=False)) == 2  # the failures stay on record
