"""From a comparison run to the decision matrix: per-answer energy in the results, candidates from the summary,
and the shipped `olympics` set that lets the stub's recorded answers take part offline."""

from __future__ import annotations

import math
from typing import Any

import pytest

from helpers.answer import Answer, Emissions, Range
from helpers.compare import compare, decision, graders, puzzles
from helpers.compare.results import energy_kwh


def test_energy_is_measured_first_then_the_ecologits_midpoint_then_unknown() -> None:
    def answer(**figures: Any) -> Answer:
        return Answer(spec="local/smollm2", provider="local", model="smollm2", emissions=Emissions(**figures))

    assert energy_kwh(answer(measured_kwh=3e-6, ecologits_kwh=Range(1e-6, 2e-6))) == 3e-6
    assert energy_kwh(answer(ecologits_kwh=Range(1e-6, 2e-6))) == pytest.approx(1.5e-6)
    assert energy_kwh(answer(tracker_g=0.1)) is None  # the tracker's factors give grams, not energy


def test_the_stub_answers_the_olympics_set_right() -> None:
    quiz = puzzles.load("olympics")
    assert [p.id for p in quiz] == ["motto", "how-often", "most-hosted"]
    from helpers import ask

    for p in quiz:
        for model in ("stub/gpt-35-turbo", "stub/gpt-4"):
            for seed in range(3):  # each question has three recorded answers
                got = ask(f"{model}@seed={seed}", p.prompt)
                assert graders.grade(p, got.text).correct, (p.id, model, got.text)
    assert not graders.grade(quiz[0], "The motto is Ego et Familie.").correct
    assert graders.grade(quiz[2], "Paris, since 2024, ties London with three Summer Games.").correct


def test_candidates_of_a_run_are_its_per_answer_figures(fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_BASE_URL", fake_openai.base_url)  # local/smollm2 answered by the loopback fake
    result = compare(["local/smollm2", "stub/gpt-4"], "olympics", progress=False, max_tokens=20)
    cells = result.cells
    assert (cells.status == "ok").all()
    assert cells.kwh.notna().all() and (cells.kwh > 0).all()  # EcoLogits for both (measurement is off in tests)

    local, stub = decision.candidates(result)
    assert (local.name, stub.name) == ("local/smollm2", "stub/gpt-4")
    mine = cells[cells.model == "local/smollm2"]
    assert local.accuracy == 0.0  # the fake echoes the question back
    assert local.cost_usd == 0.0 and stub.cost_usd is None  # $0 on this machine; a recording has no price
    assert local.kwh == pytest.approx(mine.kwh.mean()) and local.g_co2e == pytest.approx(mine.g_co2e.mean())
    assert local.latency_s == pytest.approx(mine.latency_s.median())
    assert stub.accuracy == 1.0 and stub.kwh == pytest.approx(cells[cells.model == "stub/gpt-4"].kwh.mean())
    assert decision.candidates(result.summary()) == [local, stub]  # the summary alone will do

    ranked = decision.rank([local, stub], {"accuracy": 1, "cost": 1})
    assert ranked.best.name == "local/smollm2"  # 0.5·0 + 0.5·1 against 0.5·1 + 0.5·0 (unknown cost): a tie
    assert ranked.ranking[0].score == ranked.ranking[1].score == pytest.approx(0.5)


def test_unknown_figures_become_none() -> None:
    row = {"model": "stub/gpt-4", "accuracy": math.nan, "usd_per_answer": math.nan, "latency_median_s": 0.5,
           "kwh_per_answer": None, "g_per_answer": 0.2}
    (c,) = decision.candidates([row])
    assert (c.accuracy, c.cost_usd, c.latency_s, c.kwh, c.g_co2e) == (None, None, 0.5, None, 0.2)
    ranked = {r.name: r for r in decision.rank([c, decision.Candidate("x", accuracy=0.5)]).ranking}
    assert ("accuracy unknown (scored 0)" in ranked["stub/gpt-4"].reasons
            and ranked["stub/gpt-4"].scores["accuracy"] == 0)
