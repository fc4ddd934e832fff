"""Record once, replay in class: `compare --replay`, `runs list|export|import`, and the compare CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.cli import main
from helpers.compare import results
from helpers.errors import ConfigError
from helpers.runlog import store as run_log
from helpers.runlog import transfer
from tests.fakes.openai_server import FakeOpenAI

PUZZLES = "- id: coins\n  prompt: Two coins, one is heads. P(other is tails)?\n  answer: 2/3\n  grader: numeric\n" \
          "- id: root\n  prompt: Square root of 81?\n  answer: 9\n  grader: numeric\n"


@pytest.fixture
def recorded(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys) -> str:  # type: ignore[no-untyped-def]
    """A comparison run made through the CLI against a loopback server; returns its run id."""
    fake_openai.reply = lambda body: "Answer: 2/3" if "coins" in body["messages"][-1]["content"] else "It is 9."
    fake_openai.on_model("gpt-5-nano", "status:401")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "fake-openai-secret-0123456789")
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    f = tmp_path / "p.yaml"
    f.write_text(PUZZLES)
    code = main(["compare", "--puzzles", str(f), "-m", "openai/gpt-4.1-mini", "-m", "openai/gpt-5-nano",
                 "--report", str(tmp_path / "live"), "--max-tokens", "50"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("run id: ")
    assert f"report: {tmp_path / 'live' / 'report.md'}" in out
    return out.split()[2]


def test_cli_prints_the_table(recorded: str, tmp_path: Path) -> None:
    md = (tmp_path / "live" / "report.md").read_text()
    assert "| coins | openai/gpt-4.1-mini | 2/3 | ✓ |" in md and "| root | openai/gpt-4.1-mini | 9 | ✓ |" in md
    assert "| coins | openai/gpt-5-nano | ⚠ auth |" in md


def test_replay_makes_no_call(recorded: str, fake_openai: FakeOpenAI, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    sent = fake_openai.count()
    fake_openai.stop()
    code = main(["compare", "--replay", recorded, "--report", str(tmp_path / "again")])
    out = capsys.readouterr().out
    assert code == 0 and fake_openai.count() == sent
    assert out.startswith(f"run id: {recorded} (replayed from the run log, no call made)")
    assert (tmp_path / "again" / "cells.csv").read_text() == (tmp_path / "live" / "cells.csv").read_text()


def test_export_import_round_trip(recorded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:  # type: ignore[no-untyped-def]
    live = results.load(recorded)
    path = tmp_path / "run.jsonl"
    assert main(["runs", "export", recorded, str(path)]) == 0
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["type"] == "run" and lines[0]["run"]["id"] == recorded and lines[0]["calls"] == 4
    assert [x["type"] for x in lines[1:]] == ["call"] * 4 and "fake-openai-secret" not in path.read_text()
    assert lines[0]["run"]["config"]["puzzles"]["puzzles"][0]["id"] == "coins"

    monkeypatch.setenv("LLMLAB_DB", str(tmp_path / "classroom.db"))  # another machine, no key
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["runs", "import", str(path)]) == 0
    assert f"compare --replay {recorded}" in capsys.readouterr().out
    replayed = results.load(recorded, run_log.Store(tmp_path / "classroom.db"))
    columns = ["model", "puzzle", "status", "correct", "extracted", "total_tokens", "cost_usd", "error_kind"]
    assert replayed.cells[columns].equals(live.cells[columns])
    assert replayed.table() == live.table()
    with pytest.raises(ConfigError, match="already in the run log"):
        transfer.import_run(path)
    assert main(["runs", "list", "--kind", "compare"]) == 0
    listing = capsys.readouterr().out
    assert recorded in listing and "compare" in listing


def test_import_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    for text, message in [('{"type": "call"}\n', "not a run exported"), ("not json\n", "line 1 is not JSON"),
                          (('{"type": "run", "format": "llmlab-run/1", "run": {"id": "x"}, "calls": 2}\n'
                           '{"type": "call"}\n'), "holds 1 calls but its header says 2"),
                          (('{"type": "run", "format": "llmlab-run/1", "run": {"id": "x"}}\n'
                           '{"type": "call", "secret_field": 1}\n'), "unknown fields")]:
        bad.write_text(text)
        with pytest.raises(ConfigError, match=message):
            transfer.import_run(bad)
    assert run_log.default().run("x") is None  # nothing half-imported


def test_replay_and_resume_need_a_compare_run(capsys) -> None:  # type: ignore[no-untyped-def]
    chat = run_log.default().new_run("chat")
    assert main(["compare", "--replay", chat]) == 2
    assert "is a chat run, not a comparison" in capsys.readouterr().err
    assert main(["compare", "--replay", "nope"]) == 2
    assert "runs list" in capsys.readouterr().err
    assert main(["compare", "--resume", chat, "--replay", chat]) == 2
    assert main(["compare", "--resume", chat, "--repeat", "3"]) == 2
    assert "--repeat cannot change a stored run" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="not JSON|no run"):
        transfer.export_run("nope", "x.jsonl")
