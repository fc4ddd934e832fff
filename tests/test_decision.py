"""The carbon-aware decision matrix: scoring by hand, edge cases (one candidate, ties, unknowns, $0), weights."""

from __future__ import annotations

import pytest

from helpers.compare.decision import Candidate, criterion_scores, rank, validate_weights
from helpers.errors import ConfigError

ROWS = [
    {"name": "big", "accuracy": 0.9, "cost_usd": 0.004, "latency_s": 4.0, "kwh": 4e-5, "g_co2e": 0.02},
    {"name": "small", "accuracy": 0.6, "cost_usd": 0.001, "latency_s": 1.0, "kwh": 1e-5, "g_co2e": 0.005},
    {"name": "local", "accuracy": 0.3, "cost_usd": 0.0, "latency_s": 2.0, "kwh": 2e-5, "g_co2e": 0.01},
]


def test_scores_by_hand() -> None:
    w = {"accuracy": 0.5, "cost": 0.1, "latency": 0.1, "energy": 0.1, "emissions": 0.2}
    r = rank(ROWS, w)
    by = {x.name: x for x in r.ranking}
    # big: acc .9; cost 0 (best is $0); latency 1/4; energy 1/4; emissions .005/.02
    assert by["big"].score == pytest.approx(0.5 * 0.9 + 0 + 0.1 * 0.25 + 0.1 * 0.25 + 0.2 * 0.25)
    assert by["small"].score == pytest.approx(0.5 * 0.6 + 0 + 0.1 + 0.1 + 0.2)
    assert by["local"].score == pytest.approx(0.5 * 0.3 + 0.1 + 0.1 * 0.5 + 0.1 * 0.5 + 0.2 * 0.5)
    assert [x.name for x in r.ranking] == ["small", "big", "local"] and [x.rank for x in r.ranking] == [1, 2, 3]
    assert r.best.name == "small"
    assert "lowest emissions (0.005 g CO2e)" in r.best.reasons and "lowest latency (1 s)" in r.best.reasons
    assert "most accurate (90%)" in by["big"].reasons and "lowest cost ($0)" in by["local"].reasons


def test_weights_change_the_winner() -> None:
    assert rank(ROWS, {"accuracy": 1}).best.name == "big"
    assert rank(ROWS, {"emissions": 1}).best.name == "small"
    assert rank(ROWS, {"cost": 1}).best.name == "local"


def test_single_candidate_scores_meaningfully() -> None:
    r = rank([ROWS[0]])
    # relative criteria: it is the best there is (1.0); accuracy keeps its absolute 0.9 — not all zeros
    assert r.best.scores == {"accuracy": 0.9, "cost": 1.0, "latency": 1.0, "energy": 1.0, "emissions": 1.0}
    assert r.best.score == pytest.approx(0.4 * 0.9 + 0.6) and r.best.rank == 1
    assert "Recommended: big" in r.explain()


def test_ties_share_rank_and_score() -> None:
    twins = [dict(ROWS[1], name="a"), dict(ROWS[1], name="b"), dict(ROWS[0], name="c")]
    r = rank(twins)
    a, b = (x for x in r.ranking if x.name in "ab")
    assert a.score == b.score and a.rank == b.rank == 1 and r.ranking[2].rank == 3
    assert "tied with b" in r.explain()
    assert criterion_scores([2.0, 2.0, 2.0], "latency") == [1.0, 1.0, 1.0]  # min–max would give 0/0


def test_unknown_values_score_zero_and_say_so() -> None:
    r = rank([{"name": "known", "accuracy": 0.5, "g_co2e": 0.01},
              {"name": "unknown", "accuracy": 0.5, "g_co2e": None}], {"accuracy": 1, "emissions": 1})
    assert r.best.name == "known"
    assert "emissions unknown (scored 0)" in r.ranking[1].reasons
    assert criterion_scores([None, None], "cost") == [0.0, 0.0]


def test_zero_cost_is_best_and_only_zero_scores_one() -> None:
    assert criterion_scores([0.0, 0.002, 0.0], "cost") == [1.0, 0.0, 1.0]
    assert criterion_scores([1.0, 2.0, 4.0], "energy") == [1.0, 0.5, 0.25]
    assert criterion_scores([0.2, None, 1.0], "accuracy") == [0.2, 0.0, 1.0]


def test_weights_are_validated_and_normalised() -> None:
    assert validate_weights({"accuracy": 3, "emissions": 1}) == {
        "accuracy": 0.75, "cost": 0.0, "latency": 0.0, "energy": 0.0, "emissions": 0.25}
    assert sum(validate_weights(None).values()) == pytest.approx(1)
    for bad, says in [({"speed": 1}, "unknown criteria"), ({"accuracy": -1}, "non-negative"),
                      ({"accuracy": "high"}, "non-negative"), ({"accuracy": 0}, "all weights are 0"),
                      ({"accuracy": float("inf")}, "non-negative"), ([1, 2], "dict")]:
        with pytest.raises(ConfigError, match=says):
            validate_weights(bad)  # type: ignore[arg-type]


def test_bad_candidates() -> None:
    for bad, says in [([], "nothing to rank"), ([{"accuracy": 0.5}], "no name"),
                      ([{"name": "x", "accuracy": 1.5}], "above 1"), ([{"name": "x", "g_co2e": -1}], "non-negative"),
                      ([{"name": "x"}, {"name": "x"}], "repeat"), ([42], "cannot rank")]:
        with pytest.raises(ConfigError, match=says):
            rank(bad)  # type: ignore[arg-type]


def test_candidates_and_dataframes() -> None:
    import pandas as pd

    r1 = rank([Candidate(**row) for row in ROWS])
    r2 = rank(pd.DataFrame(ROWS))
    assert [(x.name, x.score) for x in r1.ranking] == [(x.name, x.score) for x in r2.ranking]
    md = r1._repr_markdown_()
    assert md.startswith("| rank | model | score |") and "Recommended:" in md
