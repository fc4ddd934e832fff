"""Issue 13, part one: what a hostile or broken provider, input file or disk can no longer do.

Table-driven, against loopback servers (tests/fakes): for every case the request the server really got and the
row the run log really holds are checked, not only the message.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import llm
from helpers.cli import main
from helpers.compare import runner
from helpers.errors import ConfigError
from helpers.providers import base
from helpers.runlog import store as run_log
from tests.fakes.openai_server import FakeOpenAI, Fault

PUZZLES = "- id: sum\n  prompt: Sum of 1 to 10?\n  answer: 55\n  grader: numeric\n" \
          "- id: root\n  prompt: Square root of 81?\n  answer: 9\n  grader: numeric\n"


@pytest.fixture
def groq(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:  # type: ignore[no-untyped-def]
    """A loopback server standing in for groq (the key is set)."""
    server = fake_openai_factory()
    monkeypatch.setenv("GROQ_BASE_URL", server.base_url)
    monkeypatch.setenv("GROQ_API_KEY", "fake-groq-key-0123456789")
    return server


@pytest.fixture
def puzzles(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(PUZZLES)
    return path


def rows(run_id: str | None = None) -> list[dict[str, Any]]:
    return run_log.default().calls(run_id)


# -- odd usage: never raises, the answer is kept, cost and emissions n/a with a reason -------------------------
ODD_USAGE = [
    ("negative", {"prompt_tokens": -5, "completion_tokens": -1, "total_tokens": -6}, (None, None)),
    ("strings", {"prompt_tokens": "12", "completion_tokens": "7", "total_tokens": "19"}, (12, 7)),
    ("words", {"prompt_tokens": "twelve", "completion_tokens": "7x"}, (None, None)),
    ("floats", {"prompt_tokens": 12.0, "completion_tokens": 7.5}, (12, None)),
    ("huge", {"prompt_tokens": 10**30, "completion_tokens": 3}, (None, 3)),
    ("bools", {"prompt_tokens": True, "completion_tokens": False}, (None, None)),
    ("nested", {"prompt_tokens": {"a": 1}, "completion_tokens": [1], "prompt_tokens_details": "x",
                "completion_tokens_details": 5}, (None, None)),
    ("nan-inf", {"prompt_tokens": "nan", "completion_tokens": "inf"}, (None, None)),
]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("name", "usage", "counts"), ODD_USAGE, ids=[c[0] for c in ODD_USAGE])
def test_odd_usage_keeps_the_answer(groq: FakeOpenAI, name: str, usage: dict, counts: tuple, stream: bool) -> None:
    groq.script([Fault.odd_usage(usage, text="Fifty-five.")])
    answer = llm.ask("groq/m", "Sum?", use_cache=False, stream=stream, max_retries=0)
    assert groq.count("/v1/chat/completions") == 1 and groq.last.body["messages"][-1]["content"] == "Sum?"
    assert answer.ok and answer.text == "Fifty-five."
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == counts
    if counts == (None, None):
        assert answer.cost_usd is None and answer.cost_note and answer.g_co2e is None
    row = rows(answer.run_id)[-1]
    assert row["text"] == "Fifty-five." and (row["prompt_tokens"], row["completion_tokens"]) == counts


@pytest.mark.parametrize(("value", "expected"), [(3, 3), ("3", 3), (" 3 ", 3), (3.0, 3), ("3.0", 3), (-1, None),
                                                 (3.5, None), (True, None), (None, None), ("", None), ([3], None),
                                                 (float("nan"), None), (float("inf"), None), (10**13, None)])
def test_count_is_the_one_place_counts_become_numbers(value: Any, expected: int | None) -> None:
    assert base.count(value) == expected


def test_compare_and_resume_with_odd_usage(groq: FakeOpenAI, puzzles: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    groq.default = Fault.odd_usage({"prompt_tokens": "-3", "completion_tokens": "abc"}, text="55")
    result = runner.compare(["groq/m"], str(puzzles), progress=False, repeat=2)
    assert groq.count("/v1/chat/completions") == 4 and len(rows(result.run_id)) == 4
    assert all(r["error"] is None and r["text"] == "55" and r["cost_usd"] is None for r in rows(result.run_id))
    again = runner.resume(result.run_id, progress=False)
    assert again.run_id == result.run_id and groq.count("/v1/chat/completions") == 4  # nothing left to ask


# -- text SQLite cannot encode: stored (replaced), original kept, nothing lost ------------------------------------
def test_lone_surrogates_are_stored_and_the_original_kept(groq: FakeOpenAI, puzzles: Path) -> None:
    groq.default = Fault.ok(text="55 \ud800 end")
    answer = llm.ask("groq/m", "Sum?", use_cache=False)
    assert answer.ok and answer.call_id is not None
    row = rows(answer.run_id)[-1]
    assert row["text"] == "55 \ufffd end"
    assert json.loads(json.loads(row["extra"])["unencodable_originals"]["text"]) == "55 \ud800 end"
    result = runner.compare(["groq/m"], str(puzzles), progress=False, use_cache=False)
    assert len(rows(result.run_id)) == 2 and all(r["text"] == "55 \ufffd end" for r in rows(result.run_id))


def test_chat_survives_surrogates(groq: FakeOpenAI) -> None:
    from helpers.conversation import Conversation, Seat

    groq.default = Fault.ok(text="hello \udfff")
    chat = Conversation([Seat("groq/a", name="A"), Seat("groq/b", name="B")], use_cache=False)
    chat.run(1, opening=["Hi"])
    assert chat.totals()["failed"] == 0 and len(rows(chat.run_id)) >= 1


# -- a bad <PROVIDER>_BASE_URL: a ConfigError naming the variable, per cell, nothing sent ------------------------
BAD_URLS = [("port", "http://127.0.0.1:99999/v1", "not a valid URL"),
            ("newline", "http://127.0.0.1:8/v1\n", "line break"),
            ("bracket", "http://[::1/v1", "not a valid URL"),
            ("no-scheme", "api.groq.com/openai/v1", "http:// or https://"),
            ("bad-port", "http://localhost:abc/v1", "not a valid URL"),
            ("no-host", "http:///v1", "names no host")]


@pytest.mark.parametrize(("name", "url", "says"), BAD_URLS, ids=[c[0] for c in BAD_URLS])
def test_bad_base_url_is_a_config_error_naming_the_variable(fake_openai_factory, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                           puzzles: Path, name: str, url: str, says: str) -> None:
    good = fake_openai_factory()
    monkeypatch.setenv("OPENAI_BASE_URL", good.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "fake-openai-key-0123456789")
    monkeypatch.setenv("GROQ_API_KEY", "fake-groq-key-0123456789")
    monkeypatch.setenv("GROQ_BASE_URL", url)
    answer = llm.ask("groq/m", "hi", use_cache=False)
    assert answer.error_kind == "config" and "GROQ_BASE_URL" in answer.error and says in answer.error
    assert rows(answer.run_id)[-1]["error_kind"] == "config"
    result = runner.compare(["groq/m", "openai/gpt-4.1-mini"], str(puzzles), progress=False, use_cache=False)
    by_spec = {}
    for r in rows(result.run_id):
        by_spec.setdefault(r["spec"], []).append(r)
    assert [r["error_kind"] for r in by_spec["groq/m"]] == ["config", "config"]
    assert all(r["error"] is None for r in by_spec["openai/gpt-4.1-mini"]) and good.count("/v1/chat/completions") == 2
    runner.resume(result.run_id, progress=False)  # the bad cells are recorded again, the run goes on
    assert len([r for r in rows(result.run_id) if r["spec"] == "groq/m"]) == 4


# -- the run log: write probe, spool, damaged file -----------------------------------------------------------------
class FullStore(run_log.Store):
    """A run log that cannot grow (SQLITE_FULL once its pages are used): a disk that filled up."""

    limit: int | None = None  # pages, fixed when the first connection opens (every thread's connection obeys it)

    def _open(self) -> sqlite3.Connection:
        conn = super()._open()
        if self.limit is None:
            self.limit = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count={self.limit}")
        return conn


def test_a_read_only_run_log_fails_before_the_request(groq: FakeOpenAI, tmp_path: Path) -> None:
    store = run_log.Store(tmp_path / "ro.db")
    store.connect().execute("PRAGMA query_only=ON")  # writes refused, as for a read-only file
    with pytest.raises(ConfigError, match="read-only"):
        llm.ask("groq/m", "hi", store=store, use_cache=False)
    assert groq.count() == 0  # nothing sent, nothing paid


def test_a_full_disk_spools_paid_answers_and_compare_goes_on(groq: FakeOpenAI, puzzles: Path, tmp_path: Path,
                                                             capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "full.db"
    setup = run_log.Store(path)
    from helpers.compare.config import make_config, start

    config = make_config(["groq/m"], str(puzzles), repeat=2, use_cache=False)
    run_id = start(config, setup)
    setup.close()
    groq.default = Fault.ok(text="55 " + "x" * 400_000)  # a row bigger than any free room
    store = FullStore(path)
    result = runner.run_blocking(runner.run_async(config, run_id=run_id, store=store, progress=False))
    assert groq.count("/v1/chat/completions") == 4 and result.run_id == run_id
    err = capsys.readouterr().err
    assert "kept in" in err and "spool" in err
    spool = store.spool_path
    lines = spool.read_text().splitlines()
    assert lines and all(json.loads(line)["row"]["text"].startswith("55 ") for line in lines)
    again = run_log.Store(path)  # the next open (room again) takes them back
    assert len(again.calls(run_id)) == 4 and not spool.exists()
    assert sorted(r["cell"] for r in again.calls(run_id)) == sorted(c.key for c in config.cells())


def test_ask_keeps_the_answer_when_the_write_fails(groq: FakeOpenAI, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    store = FullStore(tmp_path / "full.db")
    store.connect()
    groq.default = Fault.ok(text="kept " + "y" * 20_000)
    answer = llm.ask("groq/m", "hi", store=store, use_cache=False)
    assert answer.ok and answer.text.startswith("kept ") and "kept in" in answer.extra["not_logged"]
    assert json.loads(store.spool_path.read_text().splitlines()[0])["row"]["text"].startswith("kept ")


def damage(path: Path) -> None:
    """Write garbage over the pages after the first (the header stays good)."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(4096)
        f.write(b"\xde\xad\xbe\xef" * ((size - 4096) // 4))


def test_a_damaged_run_log_is_named_by_every_command(groq: FakeOpenAI, puzzles: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    result = runner.compare(["groq/m"], str(puzzles), progress=False)
    path = run_log.default().path
    run_log.default().close()
    run_log._stores.clear()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    damage(path)
    sent = groq.count()
    for argv in (["runs", "list"], ["compare", "--replay", result.run_id], ["compare", "--resume", result.run_id],
                 ["ask", "-m", "groq/m", "hi"], ["compare", "-m", "groq/m", "--puzzles", str(puzzles)]):
        run_log._stores.clear()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "is damaged" in err and "Move it aside" in err and "Traceback" not in err, (argv, err)
    assert groq.count() == sent  # nothing sent to a run log that cannot record it


# -- runs import: every shape of bad input is a clear message ------------------------------------------------------
HEADER = {"type": "run", "format": "llmlab-run/1", "run": {"id": "r1", "kind": "compare", "config": {}}}
CALL = {"type": "call", "spec": "groq/m", "provider": "groq", "model": "m", "cell": "groq/m|sum|0",
        "request": json.dumps({"messages": [{"role": "user", "content": "hi"}], "params": {}}), "text": "55"}
BAD_IMPORTS = [
    ("text-a-list", [HEADER, {**CALL, "text": ["55"]}], "text is a JSON list"),
    ("tokens-a-string", [HEADER, {**CALL, "prompt_tokens": "12"}], "prompt_tokens is a JSON str"),
    ("latency-a-bool", [HEADER, {**CALL, "latency_s": True}], "latency_s is a JSON bool"),
    ("duplicate-cell", [HEADER, CALL, CALL], "holds two answers"),
    ("missing-spec", [HEADER, {k: v for k, v in CALL.items() if k != "spec"}], "has no spec"),
    ("call-a-list", [HEADER, [CALL]], "not a call record"),
    ("run-a-list", [{**HEADER, "run": ["r1"]}, CALL], "'run' is a JSON list"),
    ("request-nested-wrong", [HEADER, {**CALL, "request": json.dumps([{"messages": 1}])}], "request is not"),
    ("config-a-string", [{**HEADER, "run": {"id": "r1", "config": "repeat: 3"}}, CALL], "config is a JSON str"),
    ("deep-nesting", None, "nested too deeply"),
]


@pytest.mark.parametrize(("name", "records", "says"), BAD_IMPORTS, ids=[c[0] for c in BAD_IMPORTS])
def test_runs_import_validates_its_input(tmp_path: Path, capsys, name: str, records: list | None,  # type: ignore[no-untyped-def]
                                         says: str) -> None:
    path = tmp_path / "run.jsonl"
    if records is None:
        path.write_text(json.dumps(HEADER) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["runs", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err
    assert run_log.default().run("r1") is None  # nothing half-imported


@pytest.mark.parametrize("repeat", ["3", 1e9, 10**9, -1, None, True],
                         ids=["string", "float", "huge", "neg", "null", "bool"])
def test_a_stored_config_with_a_bad_repeat_is_refused(tmp_path: Path, capsys, repeat: Any) -> None:  # type: ignore[no-untyped-def]
    config = {"models": ["groq/m"], "puzzles": {"source": "x", "puzzles": [{"id": "sum", "prompt": "Sum?",
                                                                            "answer": "55", "grader": "numeric"}]},
              "repeat": repeat}
    path = tmp_path / "run.jsonl"
    path.write_text(json.dumps({**HEADER, "run": {"id": "r1", "kind": "compare", "config": config}}) + "\n")
    assert main(["runs", "import", str(path)]) == 0
    started = time.perf_counter()
    assert main(["compare", "--replay", "r1"]) == 2
    assert time.perf_counter() - started < 30  # refused, not built (a 1e9-cell grid would never finish)
    assert "repeat=" in capsys.readouterr().err


# -- .env saved oddly; deeply nested puzzles ------------------------------------------------------------------
ENV_FILES = [("utf16", "OPENAI_API_KEY=fake-openai-key-0123456789\n# café\n".encode("utf-16"), "UTF-16"),
             ("cp1252", "# café\nOPENAI_API_KEY=fake-openai-key-0123456789\n".encode("cp1252"), "Windows-1252"),
             ("nul", b"OPENAI_API_KEY=fake-openai-key-0123456789\n\x00\n# x\n", "NUL bytes")]


@pytest.mark.parametrize(("name", "data", "says"), ENV_FILES, ids=[c[0] for c in ENV_FILES])
def test_an_oddly_saved_env_file_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys,  # type: ignore[no-untyped-def]
                                             name: str, data: bytes, says: str) -> None:
    env = tmp_path / "odd.env"
    env.write_bytes(data)
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    assert main(["ask", "-m", "stub/gpt-35-turbo", "Where were the 2012 Olympics?"]) == 0
    assert os.environ.get("OPENAI_API_KEY") == "fake-openai-key-0123456789"
    main(["keys"])
    out = capsys.readouterr().out
    assert says in out and "UTF-8" in out


def test_deeply_nested_puzzles_are_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "deep.yaml"
    path.write_text("- id: " + "[" * 20_000 + "\n")
    assert main(["compare", "-m", "stub/gpt-35-turbo", "--puzzles", str(path)]) == 2
    err = capsys.readouterr().err
    assert "nested too deeply" in err and "Traceback" not in err


# -- ollama: a 200 that is not Ollama -------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "argv"), [("/api/tags", ["ollama", "list"]), ("/api/chat", ["ollama", "speed", "hi"]),
                                            ("/api/pull", ["ollama", "pull", "llama3.2"])])
@pytest.mark.parametrize("body", ["<html><body>Welcome to nginx!</body></html>", '{"models": "none"}', "[1, 2]"],
                         ids=["html", "other-json", "a-list"])
def test_ollama_on_a_200_that_is_not_ollama(fake_ollama, monkeypatch, capsys, path: str, argv: list, body: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.root_url)
    fake_ollama.on_path(path, Fault.raw(body, {"Content-Type": "application/json"}))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "OLLAMA_BASE_URL" in err and "Traceback" not in err
    assert fake_ollama.count(path) == 1


def test_spooling_while_another_connection_imports_loses_no_row(tmp_path: Path) -> None:
    """Rows spooled by threads while other connections keep importing the spool: every row ends in the log
    (an import once renamed the file after a thread had appended to it, and that row was never added back)."""
    store = run_log.Store(tmp_path / "log.db")
    run_id = store.new_run("compare")
    rows_to_spool = [{"run_id": run_id, "cell": f"m|p|{i}", "created_at": run_log.now_iso(), "spec": "groq/m",
                      "provider": "groq", "model": "m", "request": "{}", "request_hash": f"h{i}", "text": "x" * 5000}
                     for i in range(60)]

    def spool(part: list[dict[str, Any]]) -> None:
        for row in part:
            store._spool(row, RuntimeError("disk full"))

    def importer() -> None:
        for _ in range(30):
            other = run_log.Store(tmp_path / "log.db")  # each open imports what is spooled so far
            other.connect()
            other.close()

    threads = [threading.Thread(target=spool, args=(rows_to_spool[i::3],)) for i in range(3)]
    threads.append(threading.Thread(target=importer))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = run_log.Store(tmp_path / "log.db")
    assert sorted(r["cell"] for r in final.calls(run_id)) == sorted(r["cell"] for r in rows_to_spool)
