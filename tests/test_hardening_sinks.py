"""Issue 13, part two: sinks (terminal, CSV, Markdown, the cache), secrets, limits and messages.

A hostile provider (tests/fakes) sends escape codes, formulas, HTML, its caller's key, huge and dripping
bodies; every output the user sees or opens is checked for what must not be there, and the run log for
what must be.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import display, llm
from helpers.cli import main
from helpers.compare import runner
from helpers.compare.config import make_config, start
from helpers.keys import mask
from helpers.providers import local_engine
from helpers.runlog import store as run_log
from helpers.runlog import transfer
from tests.fakes.openai_server import FakeOpenAI, Fault

ROOT = Path(__file__).resolve().parent.parent
KEY = "fake-groq-secret-0123456789"
HOSTILE = ("\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\ \u202egnp.exe "
           "\x9b31m \x1bP+q544e\x1b\\ done")
ACTIVE = ("\x1b", "\x9b", "\x9d", "\u202e", "\x07")
PUZZLES = "- id: sum\n  prompt: Sum of 1 to 10?\n  answer: 55\n  grader: numeric\n"


@pytest.fixture
def groq(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:  # type: ignore[no-untyped-def]
    server = fake_openai_factory()
    monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
    monkeypatch.setenv("GROQ_API_KEY", KEY)
    return server


@pytest.fixture
def puzzles(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(PUZZLES)
    return path


def inert(text: str) -> bool:
    return not any(c in text for c in ACTIVE)


# -- terminal --------------------------------------------------------------------------------------------------
TERMINAL_CASES = [
    ("ask-plain", ["ask", "-m", "groq/m", "hi"]),
    ("ask-stream", ["ask", "--stream", "-m", "groq/m", "hi"]),
    ("ask-side-by-side", ["ask", "-m", "groq/a", "-m", "groq/b", "hi"]),
    ("chat", ["chat", "-m", "groq/a", "-m", "groq/b", "-r", "1"]),
]


@pytest.mark.parametrize("where", ["answer", "error"])
@pytest.mark.parametrize(("name", "argv"), TERMINAL_CASES, ids=[c[0] for c in TERMINAL_CASES])
def test_terminal_prints_no_active_sequence(groq: FakeOpenAI, capsys, name: str, argv: list, where: str) -> None:  # type: ignore[no-untyped-def]
    groq.default = Fault.ok(text=HOSTILE) if where == "answer" else Fault.status(400, message=HOSTILE)
    main([*argv, "--timeout", "10"])
    out, err = capsys.readouterr()
    assert groq.count("/v1/chat/completions") >= 1
    assert inert(out) and inert(err), (out, err)
    assert "␛]0;pwned" in out + err  # shown, as visible symbols, not acted on
    if where == "answer":
        assert any(r["text"] and "\x1b]0;pwned" in r["text"] for r in run_log.default().calls())  # kept as sent


def test_ollama_speed_prints_no_active_sequence(fake_ollama, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.root_url)
    fake_ollama.reply = lambda body: HOSTILE
    assert main(["ollama", "speed", "-m", "llama3.2", "hi"]) == 0
    out = capsys.readouterr().out
    assert inert(out) and "␛]0;pwned" in out


def test_terminal_sanitiser_table() -> None:
    for raw, shown in [("a\x1b[2Jb", "a␛[2Jb"), ("x\r\ny", "x\ny"), ("x\ry", "x␍y"), ("\u202eabc", "\ufffdabc"),
                       ("\x9b31m", "\ufffd31m"), ("tab\tok\n", "tab\tok\n"), ("\ud800", "\ufffd"), ("\x7f", "␡")]:
        assert display.terminal(raw) == shown


# -- CSV and Markdown ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("formula", ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)",
                                     "\t=1", "\r=1"])
def test_cells_csv_holds_no_formula(groq: FakeOpenAI, puzzles: Path, tmp_path: Path, formula: str) -> None:
    groq.default = Fault.ok(text=formula)
    result = runner.compare(["groq/m"], str(puzzles), progress=False, use_cache=False)
    from helpers.compare import report

    report.write(result, tmp_path / "rep")
    cells = report.csv_rows(tmp_path / "rep" / "cells.csv")
    assert cells[0]["answer"].startswith("'")
    with open(tmp_path / "rep" / "cells.csv", newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            assert not any(cell.startswith(display.FORMULA_START) for cell in row), row
    assert run_log.default().calls(result.run_id)[0]["text"] == formula  # the log keeps the answer as sent


def test_report_markdown_escapes_errors_names_and_sources(groq: FakeOpenAI, puzzles: Path, tmp_path: Path) -> None:
    groq.default = Fault.status(400, message="<script>alert(1)</script> [x](http://evil.example)")
    result = runner.compare(["groq/m"], str(puzzles), progress=False, use_cache=False)
    path = tmp_path / "export.jsonl"
    transfer.export_run(result.run_id, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    evil = "groq/<img src=x onerror=alert(1)>"
    lines[0]["run"]["id"] = "crafted"
    lines[0]["run"]["config"]["models"] = [evil]
    lines[0]["run"]["config"]["puzzles"]["source"] = "<b>source</b>"
    for call in lines[1:]:
        call["spec"], call["cell"] = evil, call["cell"].replace("groq/m", evil)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    transfer.import_run(path)
    from helpers.compare import report, results

    for run_id in (result.run_id, "crafted"):
        md = report.write(results.load(run_id), tmp_path / run_id).read_text()
        assert "<script" not in md and "<img" not in md and "<b>" not in md and "[x](http" not in md
    assert "&lt;script&gt;" in md and "&lt;img src=x onerror=alert(1)&gt;" in md and "&lt;b&gt;source" in md


# -- the cache: imported answers serve live requests only when asked -------------------------------------------
def test_imported_answers_never_answer_live_requests_unasked(groq: FakeOpenAI, tmp_path: Path) -> None:
    first = llm.ask("groq/m", "What is 2+2?")
    path = tmp_path / "run.jsonl"
    transfer.export_run(first.run_id, path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    lines[0]["run"]["id"] = "imported-1"
    crafted = dict(lines[1])
    crafted["text"] = "crafted answer"
    crafted["request_hash"] = run_log.request_hash("groq", "m", [{"role": "user", "content": "Never asked?"}], {})
    path.write_text("".join(json.dumps(r) + "\n" for r in [lines[0], crafted]))
    opted, live = run_log.Store(tmp_path / "opted.db"), run_log.Store(tmp_path / "live.db")  # only the import
    for store in (opted, live):
        transfer.import_run(path, store)
        assert store.run("imported-1")["imported"] == 1
    asked = llm.ask("groq/m", "What is 2+2?", store=opted, use_imported=True)  # the user asks for it
    assert asked.cached and asked.text == "crafted answer" and groq.count("/v1/chat/completions") == 1
    never = llm.ask("groq/m", "Never asked?", store=opted, use_imported=True)  # its claimed key is not trusted
    assert not never.cached and never.text == "Echo: Never asked?" and groq.count("/v1/chat/completions") == 2
    again = llm.ask("groq/m", "What is 2+2?", store=live)  # not asked for: a live request goes out
    assert not again.cached and again.text == "Echo: What is 2+2?" and groq.count("/v1/chat/completions") == 3


# -- secrets -----------------------------------------------------------------------------------------------------
def test_the_engine_environment_holds_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {"OPENAI_API_KEY": "sk-a", "ANTHROPIC_API_KEY": "sk-ant-b", "GOOGLE_API_KEY": "AIzac",
            "DEEPSEEK_API_KEY": "sk-d", "GROQ_API_KEY": "gsk_e", "GROK_API_KEY": "xai-f",
            "OPENROUTER_API_KEY": "sk-or-g", "HF_TOKEN": "hf_h", "MY_SERVICE_SECRET": "s"}
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    env = local_engine.engine_env()
    assert not set(keys) & set(env) and env.get("PATH") == os.environ["PATH"]


def test_a_key_echoed_in_a_successful_answer_is_redacted(groq: FakeOpenAI, capsys) -> None:  # type: ignore[no-untyped-def]
    groq.default = Fault.ok(text=f"Your key is {KEY}, thanks.")
    assert main(["ask", "-m", "groq/m", "--no-cache", "hi"]) == 0
    out = capsys.readouterr().out
    assert groq.last.api_key == KEY and KEY not in out and mask(KEY) in out
    assert not any(KEY in json.dumps(r) for r in run_log.default().calls())


# -- limits ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_timeout_is_a_deadline_for_the_whole_exchange(groq: FakeOpenAI, stream: bool) -> None:
    groq.default = Fault.drip(0.05) if not stream else Fault.ok(text="word " * 200)
    groq.chunk_delay = 0.05 if stream else 0.0
    started = time.perf_counter()
    answer = llm.ask("groq/m", "hi", use_cache=False, timeout=1.5, max_retries=0, stream=stream)
    elapsed = time.perf_counter() - started
    assert answer.error_kind == "timeout" and "whole exchange" in answer.error
    assert elapsed < 1.5 + 1.5 and groq.count("/v1/chat/completions") == 1
    assert run_log.default().calls(answer.run_id)[-1]["error_kind"] == "timeout"


def test_a_stream_cut_by_the_deadline_keeps_what_arrived(groq: FakeOpenAI) -> None:
    groq.default = Fault.ok(text=" ".join(f"w{n}" for n in range(200)))
    groq.chunk_delay = 0.05  # 200 pieces take 10 s: the 1.5 s deadline cuts the stream after some of them
    answer = llm.ask("groq/m", "hi", use_cache=False, timeout=1.5, max_retries=0, stream=True)
    assert answer.error_kind == "timeout" and answer.reply.incomplete
    words = answer.text.split()
    assert 3 <= len(words) < 200 and words == [f"w{n}" for n in range(len(words))]  # the delivered prefix
    assert answer.ttft_s is not None and answer.latency_s is not None and answer.latency_s >= answer.ttft_s
    row = run_log.default().calls(answer.run_id)[-1]
    assert row["error_kind"] == "timeout" and row["text"] == answer.text


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_an_answer_is_capped_and_marked(groq: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    monkeypatch.setenv("LLMLAB_MAX_ANSWER_BYTES", "10000")
    groq.default = Fault.ok(text="word " * 20_000)
    answer = llm.ask("groq/m", "hi", use_cache=False, stream=stream)
    assert len(answer.text) <= 10_000 and "size cap" in answer.extra["truncated"]
    row = run_log.default().calls(answer.run_id)[-1]
    assert len(row["text"]) <= 10_000 and "truncated" in json.loads(row["extra"])


def test_a_huge_answer_prints_a_bounded_amount() -> None:
    from helpers.answer import Answer

    huge = Answer("groq/m", "groq", "m", text="x" * 1_000_000)
    for text in (display.answer_text(huge), display.side_by_side([huge, huge], width=120)):
        assert len(text) < 3 * display.SHOWN_CHARS and "more characters" in text


def test_a_second_resume_of_a_run_is_refused(groq: FakeOpenAI, puzzles: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    store = run_log.default()
    run_id = start(make_config(["groq/m"], str(puzzles)), store)
    store.connect().execute("INSERT INTO leases VALUES (?, ?, ?)",
                            (run_id, f"{socket.gethostname()}:{os.getppid()}", time.time() + 600))
    assert main(["compare", "--resume", run_id]) == 2
    assert "being resumed elsewhere" in capsys.readouterr().err and groq.count() == 0
    store.connect().execute("UPDATE leases SET owner=?", (f"{socket.gethostname()}:{dead_pid()}",))
    assert main(["compare", "--resume", run_id]) == 0 and groq.count("/v1/chat/completions") == 1


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


@pytest.mark.slow
def test_two_resumes_at_once_ask_each_cell_once(groq: FakeOpenAI, tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("".join(f"- id: q{i}\n  prompt: Question {i}?\n  answer: 1\n  grader: numeric\n" for i in range(4)))
    run_id = start(make_config(["groq/m"], str(path)), run_log.default())
    groq.latency = 0.3
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-m", "helpers", "compare", "--resume", run_id, "--no-progress"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert groq.count("/v1/chat/completions") == 4  # every cell asked once, never twice
    assert len(run_log.default().calls(run_id)) == 4
    assert all(p.returncode in (0, 2) for p in procs)
    refused = [err for (_, err), p in zip(results, procs) if p.returncode == 2]
    assert all("being resumed elsewhere" in err for err in refused)


# -- messages that say what happened ----------------------------------------------------------------------------
MESSAGES = [
    ("cut-body", Fault.cut_body(), "connection", ("closed the connection in the middle",)),
    ("bad-gzip", Fault.bad_gzip(), "connection", ("could not be decoded", "gzip")),
    ("redirect-loop", Fault.redirect_loop(), "connection", ("redirected the request in a loop", "base URL")),
    ("retry-after-hour", Fault.status(429, headers={"Retry-After": "3600"}), "rate_limit",
     ("asks to wait 60 min", "Wait 60 min")),
]


@pytest.mark.parametrize(("name", "fault", "kind", "says"), MESSAGES, ids=[c[0] for c in MESSAGES])
def test_messages_name_what_happened(groq: FakeOpenAI, name: str, fault: Fault, kind: str, says: tuple) -> None:
    groq.on_model("m", fault)
    started = time.perf_counter()
    answer = llm.ask("groq/m", "hi", use_cache=False, max_retries=1)
    assert time.perf_counter() - started < 10  # the hour of Retry-After is not waited
    assert answer.error_kind == kind and "check your network" not in answer.error.lower()
    assert all(s in answer.error for s in says), answer.error
    assert run_log.default().calls(answer.run_id)[-1]["error_kind"] == kind
    if name == "retry-after-hour":
        assert groq.count("/v1/chat/completions") == 1  # not retried


# -- the import race and SIGTERM (fresh processes) ----------------------------------------------------------------
@pytest.mark.slow
def test_eight_providers_at_once_import_their_sdks_without_a_race(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import import_race
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    done = import_race.one_run(str(tmp_path))
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    answers: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(answers) == 8 and {a["error_kind"] for a in answers if not a["ok"]} <= {"connection"}


@pytest.mark.engine
@pytest.mark.slow
def test_sigterm_stops_an_engine_started_on_demand(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LLMLAB_LOCAL_PORT": str(local_engine.free_port())}
    proc = subprocess.Popen([sys.executable, "-m", "helpers", "ask", "-m", "local/smollm2", "--no-cache",
                             "--max-tokens", "2000", "Tell a very long story about a lighthouse."],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state_file = tmp_path / "engine.json"
    deadline = time.time() + 90
    while time.time() < deadline and not state_file.exists():
        time.sleep(0.2)
    assert state_file.exists(), "the engine never started"
    pid = json.loads(state_file.read_text())["pid"]
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.time() + 20
    while time.time() < deadline and local_engine.alive(pid):
        time.sleep(0.2)
    assert not local_engine.alive(pid) and not state_file.exists()
