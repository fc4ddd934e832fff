"""Comparison.majority and Comparison.summary on hand-built cells: the vote (ties go to the answer given first),
errors, cells not run, unknown costs (n/a, never 0), the judge's share; both computed once per cells frame."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from helpers.compare import config as grid
from helpers.compare import runner
from helpers.compare.puzzles import Puzzle
from helpers.compare.results import COLUMNS, NUMERIC, Comparison, _missing
from tests.fakes.openai_server import FakeOpenAI

PUZZLES = [Puzzle(id="coins", prompt="Two coins?", answer="2/3", grader="numeric"),
           Puzzle(id="pick", prompt="Steal or Share?", choices=("Steal", "Share"), answer="Share", grader="choice"),
           Puzzle(id="essay", prompt="Explain.", grader="judge", rubric="mentions X")]
A, B = "openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b"


def cell(model: str, puzzle: str, repeat: int, status: str = "ok", answer: str | None = None,
         extracted: str | None = None, correct: bool | None = None, **numbers: float) -> dict[str, Any]:
    grader = next(p.grader for p in PUZZLES if p.id == puzzle)
    row: dict[str, Any] = {"run_id": "r", "model": model, "provider": model.split("/")[0], "puzzle": puzzle,
                           "repeat": repeat, "status": status, "grader": grader, "answer": answer,
                           "extracted": extracted, "correct": correct, "cached": False,
                           **{k: math.nan for k in NUMERIC}}
    if status == "error":
        row.update(error="boom", error_kind=numbers.pop("kind", "provider"))  # type: ignore[arg-type]
    row.update(numbers)
    return row


def comparison(rows: list[dict[str, Any]], models: tuple[str, ...] = (A, B)) -> Comparison:
    config = grid.make_config(list(models), PUZZLES, repeat=3, judge="openai/gpt-4.1-mini")
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    frame[NUMERIC] = frame[NUMERIC].astype(float)
    frame["correct"] = frame["correct"].astype("boolean")
    return Comparison("r", config, frame)


ROWS = [
    # A/coins: 2/3 and 66.7% are one answer (2 votes) against 1/2; costs known; latencies 1, 2, 4
    cell(A, "coins", 0, answer="Answer: 1/2", extracted="1/2", correct=False, total_tokens=10, latency_s=1.0,
         cost_usd=0.001, g_co2e=0.1),
    cell(A, "coins", 1, answer="Answer: 2/3", extracted="2/3", correct=True, total_tokens=20, latency_s=2.0,
         cost_usd=0.002, g_co2e=0.2),
    cell(A, "coins", 2, answer="Answer: 66.7%", extracted="66.7%", correct=True, total_tokens=30, latency_s=4.0,
         cost_usd=0.003, g_co2e=0.3),
    # A/pick: a tie (Steal, Share, then an error): the answer given first wins
    cell(A, "pick", 0, answer="I pick Steal.", extracted="Steal", correct=False, total_tokens=5, latency_s=1.0,
         cost_usd=0.001, g_co2e=0.1),
    cell(A, "pick", 1, answer="Answer: Share", extracted="Share", correct=True, total_tokens=7, latency_s=3.0,
         cost_usd=0.001, g_co2e=0.1),
    cell(A, "pick", 2, status="error", kind="timeout"),
    # A/essay: judged; the judge's cost is added, one judge cost unknown -> the cost is n/a, CO2e is known
    cell(A, "essay", 0, answer="X is it.", extracted="X is it.", correct=True, total_tokens=40, latency_s=1.0,
         cost_usd=0.01, g_co2e=1.0, judge_cost_usd=0.005, judge_g_co2e=0.5),
    cell(A, "essay", 1, answer="X is it.", extracted="X is it.", correct=True, total_tokens=40, latency_s=1.0,
         cost_usd=0.01, g_co2e=1.0, judge_g_co2e=0.5),
    cell(A, "essay", 2, status="not run"),
    # B/coins: nothing answered (two kinds of error, one repeated), so no majority and n/a figures
    cell(B, "coins", 0, status="error", kind="rate_limit"),
    cell(B, "coins", 1, status="error", kind="auth"),
    cell(B, "coins", 2, status="error", kind="auth"),
    # B/pick: one answer with an unknown price: cost n/a, CO2e known
    cell(B, "pick", 0, answer="Share.", extracted="Share", correct=True, total_tokens=3, latency_s=0.5,
         g_co2e=0.05),
    cell(B, "pick", 1, status="not run"), cell(B, "pick", 2, status="not run"),
    cell(B, "essay", 0, status="not run"), cell(B, "essay", 1, status="not run"), cell(B, "essay", 2, status="not run"),
]


def test_majority_vote_ties_errors_and_unknowns() -> None:
    m = comparison(ROWS).majority().set_index(["model", "puzzle"])
    coins = m.loc[(A, "coins")]
    assert coins.majority == "2/3" and coins.agreement == pytest.approx(2 / 3) and bool(coins.correct)
    assert (coins.repeats, coins.answered) == (3, 3) and coins.tokens_mean == 20 and coins.latency_median_s == 2.0
    assert coins.cost_usd == pytest.approx(0.002) and coins.g_co2e == pytest.approx(0.2)
    assert _missing(coins.errors)
    pick = m.loc[(A, "pick")]
    assert pick.majority == "Steal" and pick.agreement == 0.5 and not pick.correct and pick.errors == "timeout"
    essay = m.loc[(A, "essay")]
    assert math.isnan(essay.cost_usd) and essay.g_co2e == pytest.approx((1.0 + 1.0 + 0.5 + 0.5) / 2)
    assert essay.answered == 2 and essay.agreement == 1.0
    none = m.loc[(B, "coins")]
    assert none.answered == 0 and _missing(none.majority) and _missing(none.correct)
    assert math.isnan(none.agreement) and math.isnan(none.cost_usd) and math.isnan(none.tokens_mean)
    assert none.errors == "auth; rate_limit"  # each kind once, sorted
    b_pick = m.loc[(B, "pick")]
    assert math.isnan(b_pick.cost_usd) and b_pick.g_co2e == pytest.approx(0.05) and b_pick.agreement == 1.0
    assert list(m.index) == [(A, "coins"), (A, "pick"), (A, "essay"), (B, "coins"), (B, "pick"), (B, "essay")]


def test_summary_counts_totals_and_per_correct() -> None:
    s = comparison(ROWS, (A, B, "deepseek/deepseek-chat")).summary().set_index("model")
    a = s.loc[A]
    assert (a.cells, a.answered, a.errors, a.not_run, a.graded, a.correct) == (9, 7, 1, 1, 7, 5)
    assert a.accuracy == pytest.approx(5 / 7) and a.tokens == 152
    assert math.isnan(a.cost_usd)  # one judge cost is unknown: the total is n/a, never a partial sum
    assert a.g_co2e == pytest.approx(0.6 + 0.2 + 3.0) and a.g_per_answer == pytest.approx(3.8 / 7)
    assert a.tokens_per_correct == pytest.approx(152 / 5) and a.latency_median_s == 1.0
    assert a.latency_p90_s == pytest.approx(pd.Series([1, 2, 4, 1, 3, 1, 1.0]).quantile(0.9))
    b = s.loc[B]
    assert (b.cells, b.answered, b.errors, b.not_run, b.correct) == (9, 1, 3, 5, 1) and b.accuracy == 1.0
    assert math.isnan(b.cost_usd) and b.g_co2e == pytest.approx(0.05)
    absent = s.loc["deepseek/deepseek-chat"]  # a model with no cell at all: zeros for counts, n/a for figures
    assert (absent.cells, absent.answered, absent.correct) == (0, 0, 0)
    assert math.isnan(absent.accuracy) and math.isnan(absent.g_co2e) and math.isnan(absent.latency_median_s)


def test_computed_once_per_cells_frame_and_returned_as_copies() -> None:
    c = comparison(ROWS)
    first = c.majority()
    first.loc[0, "majority"] = "changed by the caller"
    assert c.majority().loc[0, "majority"] == "2/3"
    assert c._memo("majority", lambda: pytest.fail("computed again")) is not None
    c.cells = c.cells[c.cells.model == A].reset_index(drop=True)  # a new frame: computed again from it
    assert set(c.majority().model) == {A} and set(c.summary().model) == {A, B}


def test_run_leaves_the_collector_as_it_found_it(fake_openai_factory, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    server: FakeOpenAI = fake_openai_factory(reply=lambda body: "Answer: 2/3")
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "fake-openai-key-0123456789")
    before = gc.get_freeze_count()
    result = runner.compare([A], PUZZLES[:1], repeat=2, use_cache=False, progress=False, out=io.StringIO())
    assert (result.cells.status == "ok").all() and server.count() == 2
    assert gc.get_freeze_count() == before
