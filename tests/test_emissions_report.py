"""The recorded gpt-3.5-turbo-0125 answer (10 + 9 tokens) end to end: tracker 0.0467 g, an EcoLogits range,
the methods side by side, and `python -m helpers report` listing it."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from helpers import cli, display
from helpers.commands import report
from helpers.errors import ConfigError
from helpers.estimates import methods
from helpers.llm import ask
from helpers.runlog import store as run_log
from tests.fakes.openai_server import Fault

RECORDED = Path(__file__).parent / "data" / "gpt-3.5-turbo-0125.json"


@pytest.fixture
def recorded(fake_openai, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "r" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    fake_openai.script([Fault.status(200, body=RECORDED.read_bytes())])
    return ask("openai/gpt-3.5-turbo", "Where did the Olympic Games begin?")


def test_recorded_answer_shows_tracker_and_ecologits(recorded) -> None:  # type: ignore[no-untyped-def]
    a = recorded
    assert (a.ok and a.model_reported == "gpt-3.5-turbo-0125"
            and (a.usage.prompt_tokens, a.usage.completion_tokens) == (10, 9))
    assert a.emissions.tracker_g == pytest.approx(19 * 0.00246) and f"{a.emissions.tracker_g:.4f}" == "0.0467"
    e = a.emissions
    assert 0 < e.ecologits_g_min < e.ecologits_g_max and 0 < e.ecologits_kwh_min < e.ecologits_kwh_max
    assert "registry openai/gpt-3.5-turbo-0125" in " ".join(e.notes)  # the dated name the API reported
    assert a.cost_usd == pytest.approx(10 * 0.5e-6 + 9 * 1.5e-6)
    assert "CO2e" in display.stats_line(a)


def test_methods_side_by_side(recorded) -> None:  # type: ignore[no-untyped-def]
    table = methods.markdown([recorded])
    assert "| 1. openai/gpt-3.5-turbo | 10 / 9 | 46.7 mg |" in table
    assert "EcoLogits counts output tokens only" in table and "tracker counts prompt and completion" in table
    rows = methods.rows([recorded, recorded], per_model=True)
    assert len(rows) == 1 and rows[0].calls == 2 and rows[0].tracker_g == pytest.approx(2 * 19 * 0.00246)
    fig = methods.chart([recorded])
    ax = fig.axes[0]
    assert len(ax.containers) >= 3 and ax.get_yscale() == "log"
    heights = [c.patches[0].get_height() for c in ax.containers if hasattr(c, "patches") and c.patches]
    assert heights[0] == pytest.approx(46.74)  # the tracker bar, in mg
    assert "output tokens only" in methods.EXPLANATION
    text = methods.explanation()
    mg = methods.example()
    assert f"tracker's factor gives {mg['tracker_mg']:.0f} mg" in text and "times less" in text


def test_worked_example_figures() -> None:
    ex = methods.example()
    assert ex["tracker_mg"] == pytest.approx(105)
    assert (round(ex["ecologits_mg_min"], 1), round(ex["ecologits_mg_max"], 1)) == (12.7, 15.3)


def test_report_lists_it(recorded, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    ask("stub/gpt-4", "What is the Olympic motto?")
    ask("openai/gpt-3.5-turbo", "Where did the Olympic Games begin?")  # a cache hit: counted, not summed
    assert cli.main(["report"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("openai"))
    today = run_log.default().calls()[0]["created_at"][:10]  # UTC day
    assert line.split()[:6] == ["openai", "gpt-3.5-turbo", today, "2", "0", "1"]
    assert "46.74 mg" in line and "10" in line.split() and "9" in line.split()
    assert any(x.startswith("stub") and "gpt-4" in x for x in out.splitlines())
    assert "EcoLogits counts output tokens only" in out

    assert cli.main(["report", "--json", "--by", "model"]) == 0
    rows = {r["model"]: r for r in json.loads(capsys.readouterr().out)}
    gpt = rows["gpt-3.5-turbo"]
    assert (gpt["calls"], gpt["cached"], gpt["prompt_tokens"], gpt["completion_tokens"]) == (2, 1, 10, 9)
    assert gpt["tracker_g"] == pytest.approx(0.04674) and gpt["ecologits_g_min"] > 0
    assert gpt["cost_usd"] == pytest.approx(10 * 0.5e-6 + 9 * 1.5e-6) and gpt["cost_unknown"] == 0
    assert rows["gpt-4"]["cost_unknown"] == 1 and rows["gpt-4"]["cost_usd"] is None


def test_report_filters(recorded, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    store = run_log.default()
    other_run = store.new_run("compare")
    ask("stub/gpt-35-turbo", "What is the Olympic Oath?", run_id=other_run)
    assert cli.main(["report", "--run", other_run, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["provider"], r["model"]) for r in rows] == [("stub", "gpt-35-turbo")]
    assert cli.main(["report", "--since", "2999-01-01"]) == 0
    assert "No calls" in capsys.readouterr().out
    assert cli.main(["report", "--since", "1d", "--by", "provider", "--json"]) == 0
    assert {r["provider"] for r in json.loads(capsys.readouterr().out)} == {"openai", "stub"}
    assert cli.main(["report", "--since", "last week"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert cli.main(["report", "--run", "no-such-run"]) == 2
    assert cli.main(["report", "--by", "colour"]) == 2


def test_since_parsing() -> None:
    assert report.since_iso("2026-11-01") == "2026-11-01"
    assert report.since_iso("7d", today=date(2026, 11, 22)) == "2026-11-16"
    assert report.since_iso("1d", today=date(2026, 11, 22)) == "2026-11-22"
    with pytest.raises(ConfigError):
        report.since_iso("yesterday")
