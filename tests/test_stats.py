"""helpers.compare.stats against values computed by hand (the arithmetic is written beside each case).

Constants used below: z = 1.959964 (95 %, two-sided), z² = 3.841459; z(80 % power) = 0.841621;
t(3 df, 95 %) = 3.182446.
"""

from __future__ import annotations

import math

import pytest

from helpers.compare import stats

TOL = 2e-5

# Wilson score interval: denom = 1 + z²/n, centre = (p + z²/2n)/denom, half = z·√(p(1−p)/n + z²/4n²)/denom
WILSON = [
    # x, n, low, high, arithmetic
    (7, 10, 0.396778, 0.892209,
     ("p=.7; denom=1.3841459; centre=(.7+.1920730)/1.3841459=.644493; half=1.959964·√(.021+.0096036)/1.3841459"
     "=.247716")),
    (0, 12, 0.0, 0.242494, ("p=0; denom=1.3201216; centre=.1600608/1.3201216=.121247; half=1.959964·√(.0066692)"
                           "/1.3201216=.121247")),
    (2, 2, 0.342380, 1.0, ("p=1; denom=2.9207295; centre=1.9603648/2.9207295=.671190; half=1.959964·√.2400912"
                          "/2.9207295=.328810")),
    (1, 2, 0.094531, 0.905469, "p=.5; denom=2.9207295; centre=.5; half=1.959964·√(.125+.2400912)/2.9207295=.405469"),
    (3, 6, 0.187616, 0.812384, ("p=.5; denom=1.640243; centre=.5; half=1.959964·√(.0416667+.0266758)/1.640243"
                               "=.312384")),
    (10, 10, 0.722467, 1.0, ("p=1; denom=1.3841459; centre=1.1920730/1.3841459=.861233; half=1.959964·√.0096036"
                            "/1.3841459=.138767")),
]


@pytest.mark.parametrize("x, n, low, high, arithmetic", WILSON)
def test_wilson_by_hand(x: int, n: int, low: float, high: float, arithmetic: str) -> None:
    got = stats.wilson(x, n)
    assert got == pytest.approx((low, high), abs=TOL), arithmetic


def test_wilson_formula_for_effective_counts_agrees_with_scipy() -> None:
    # the fractional branch (effective n) is the same formula scipy applies to whole counts
    for x, n in [(7, 10), (0, 12), (3, 6)]:
        assert stats.wilson(x + 1e-12, n + 1e-12) == pytest.approx(stats.wilson(x, n), abs=1e-9)
    assert all(math.isnan(v) for v in stats.wilson(0, 0))


ACCURACY = [
    # correct, clusters, value, se, low, high, arithmetic
    ([1, 1, 0, 0, 1, 0], None, 0.5, 0.204124, 0.187616, 0.812384,
     "no repeats: SE=√(p(1−p)/n)=√(.25/6)=.204124; Wilson(3, 6)"),
    ([1, 1, 0, 0, 1, 0], ["a", "a", "b", "b", "c", "c"], 0.5, 0.235702, 0.160690, 0.839310,
     ("residuals summed per puzzle: a=+1, b=−1, c=0; SE=√(1+1+0)/6=.235702; n_eff=.25/.0555556=4.5; "
     "Wilson(2.25, 4.5): denom=1.853658, half=1.959964·√(.0555556+.0474254)/1.853658=.339310")),
    ([1, 1, 0, 0], ["a", "a", "b", "b"], 0.5, 0.353553, 0.094531, 0.905469,
     "each puzzle all right or all wrong: SE=√(1+1)/4=.353553; n_eff=.25/.125=2 puzzles; Wilson(1, 2)"),
    ([1, 1], None, 1.0, 0.0, 0.342380, 1.0, "two lucky answers: SE 0, yet Wilson(2, 2) reaches down to 34 %"),
]


@pytest.mark.parametrize("correct, clusters, value, se, low, high, arithmetic", ACCURACY)
def test_accuracy_by_hand(correct: list[int], clusters: list[str] | None, value: float, se: float, low: float,
                          high: float, arithmetic: str) -> None:
    e = stats.accuracy([bool(c) for c in correct], clusters)
    assert (e.value, e.se, e.low, e.high) == pytest.approx((value, se, low, high), abs=TOL), arithmetic
    assert 0 <= e.low <= e.value <= e.high <= 1
    assert e.n == len(correct) and e.clusters == len(set(clusters or range(len(correct))))


def test_accuracy_of_nothing_is_unknown_not_zero() -> None:
    e = stats.accuracy([])
    assert math.isnan(e.value) and e.interval() == "n/a" and not e.excludes_zero


def _cells(a: str, b: str, repeats: int = 1) -> tuple[dict, dict]:
    """Two models' outcomes from strings of 1/0, puzzle by puzzle (repeats consecutive)."""
    out = []
    for marks in (a, b):
        out.append({(f"p{i // repeats}", i % repeats): m == "1" for i, m in enumerate(marks)})
    return out[0], out[1]


# One answer per puzzle: π·(2θ − 1) over Wilson intervals at 97.5 % each: z = 2.241403, z² = 5.023886.
# For x = n, Wilson's lower bound is n/(n + z²); for x = 0 its upper bound is z²/(n + z²).
PAIRED = [
    # A, B, repeats, diff, se, low, high, a_only, b_only, verdict, arithmetic
    ("1101", "0100", 1, 0.5, 0.25, -0.375870, 0.873072, 2, 0, "cannot tell apart",
     ("m=2 discordant of n=4, both won by A. π: Wilson(2, 4): denom=1+5.023886/4=2.255972, centre=.5, "
     "half=2.241403·√(.0625+.0784982)/2.255972=.373072 → (.126928, .873072). θ: Wilson(2, 2) lower=2/7.023886"
     "=.284743, upper 1. low=(2·.284743−1)·.873072=−.375870; high=(2·1−1)·.873072. SE=√(4·.25)/4=.25")),
    ("1" * 10 + "0" * 10, "0" * 20, 1, 0.5, 0.111803, 0.091404, 0.724033, 10, 0, "A is better",
     ("m=10 of n=20, all won by A. π: Wilson(10, 20): denom=1.251194, half=2.241403·√(.0125+.0031400)/1.251194"
     "=.224033 → (.275967, .724033). θ lower=10/15.023886=.665607. low=(2·.665607−1)·.275967=.091404 "
     "(π's lower bound: the factor is positive); high=1·.724033. SE=√(20·.25)/20=.111803")),
    ("0" * 12, "0" * 12, 1, 0.0, 0.0, -0.295108, 0.295108, 0, 0, "cannot tell apart",
     "no discordant cell in 12: θ unknown (0 to 1), π ≤ 5.023886/17.023886=.295108 → ±.295108"),
    ("11" + "0" * 10, "0" * 12, 1, 2 / 12, 0.107583, -0.211004, 0.490121, 2, 0, "cannot tell apart",
     ("two lucky puzzles of 12. π: Wilson(2, 12): p=.166667, denom=1.418657, centre=(.166667+.209329)/1.418657"
     "=.265036, half=2.241403·√(.0115741+.0087220)/1.418657=.225085 → upper .490121. θ lower=.284743. "
     "low=(2·.284743−1)·.490121=−.211004; high=1·.490121. SE=√(2·(5/6)²+10·(1/6)²)/12=.107583")),
    ("11100011", "00000110", 2, 0.375, 0.314576, -0.626123, 1.0, 4, 1, "cannot tell apart",
     ("per-puzzle differences d = 1, .5, −.5, .5; mean .375; Σ(d−mean)²=1.1875; sd=√(1.1875/3)=.629153; "
     "SE=.629153/√4=.314576; half=3.182446·.314576=1.001125; high 1.376 clipped to 1")),
]


@pytest.mark.parametrize("a, b, repeats, diff, se, low, high, a_only, b_only, verdict, arithmetic", PAIRED)
def test_paired_difference_by_hand(a: str, b: str, repeats: int, diff: float, se: float, low: float, high: float,
                                   a_only: int, b_only: int, verdict: str, arithmetic: str) -> None:
    p = stats.paired_difference(*_cells(a, b, repeats))
    e = p.estimate
    assert (e.value, e.se, e.low, e.high) == pytest.approx((diff, se, low, high), abs=TOL), arithmetic
    assert (p.a_only, p.b_only, p.verdict) == (a_only, b_only, verdict)
    assert e.excludes_zero == (verdict != "cannot tell apart")


def test_paired_is_antisymmetric_and_uses_shared_cells_only() -> None:
    a, b = _cells("1101", "0100")
    b[("extra", 0)] = True  # answered by B only: not a shared cell
    ab, ba = stats.paired_difference(a, b), stats.paired_difference(b, a)
    assert ab.estimate.n == 4
    assert (ba.estimate.value, ba.estimate.low, ba.estimate.high) == pytest.approx(
        (-ab.estimate.value, -ab.estimate.high, -ab.estimate.low))
    assert math.isnan(stats.paired_difference({}, b).estimate.value)


# n = (z_level + z_power)² · σ² / gap²; (1.959964 + 0.841621)² = 2.801585² = 7.848879
POWER = [
    # accuracy, gap, measured difference variance, puzzles, arithmetic
    (0.5, 0.10, None, 389, "independent: p1=.45, p2=.55: σ²=.2475+.2475=.495; n=7.848879·.495/.01=388.52 → 389"),
    (0.95, 0.10, None, 71, "p2 capped at 1, p1=.9: σ²=.09+0=.09; n=7.848879·9=70.64 → 71"),
    (0.0, 0.10, None, 71, "p1=0, p2=.1: σ²=0+.09 → 71"),
    (0.5, 0.10, 0.10, 79, "paired, measured σ²=.1: n=7.848879·.1/.01=78.49 → 79"),
    (0.5, 0.10, 0.02, 71, "paired σ²=.02 is below the floor gap·(1−gap)=.09 → 71"),
    (0.5, 0.20, None, 95, "p1=.4, p2=.6: σ²=.24+.24=.48; n=7.848879·.48/.04=94.19 → 95"),
]


@pytest.mark.parametrize("accuracy, gap, variance, puzzles, arithmetic", POWER)
def test_puzzles_needed_by_hand(accuracy: float, gap: float, variance: float | None, puzzles: int,
                                arithmetic: str) -> None:
    assert stats.puzzles_needed(accuracy, gap, diff_variance=variance) == puzzles, arithmetic


def test_power_line_says_need_and_have() -> None:
    assert stats.power_line(0.5, 30) == ("To tell a 10-point gap at about 50 % accuracy you need about 389 puzzles "
                                         "(80 % power, 5 % level; models taken as independent); this run has 30 "
                                         "(too few to tell such a gap).")
    assert "(enough)" in stats.power_line(0.5, 400) and "disagreed here" in stats.power_line(0.5, 9, diff_variance=.1)
    assert "n/a" in stats.power_line(math.nan, 0)


def test_difference_variance_of_a_run() -> None:
    import pandas as pd

    # A right on p0, p1; B right on p1, p2; p3 both wrong: d = 1, 0, −1, 0; mean 0; variance (1+0+1+0)/3
    cells = pd.DataFrame({"model": ["A"] * 4 + ["B"] * 4, "puzzle": ["p0", "p1", "p2", "p3"] * 2, "repeat": [0] * 8,
                          "status": ["ok"] * 8, "correct": [True, True, False, False, False, True, True, False]})
    items = stats.pairs(cells, ["A", "B"])
    assert stats.difference_variance(items, cells) == pytest.approx(2 / 3)
    assert math.isnan(stats.difference_variance([], cells))


def test_interval_text() -> None:
    e = stats.paired_difference(*_cells("1101", "0100")).estimate
    assert e.interval(signed=True) == "−38 to +87 pts"
    assert stats.accuracy([True] * 7 + [False] * 3).interval() == "40–89%"


def test_closed_forms_agree_with_scipy_stats() -> None:
    # the module no longer imports scipy.stats (0.45 s, 64 MB); its closed forms must give scipy's numbers
    from scipy.stats import binomtest, norm, t

    for level in (0.9, 0.95, 0.975, 0.99):
        assert stats.z_value(level) == pytest.approx(float(norm.ppf(0.5 + level / 2)), abs=1e-12)
        for df in (1, 3, 9, 199):
            assert stats.t_value(df, level) == pytest.approx(float(t.ppf(0.5 + level / 2, df)), abs=1e-9)
        for n in (1, 2, 7, 40, 600):
            for x in sorted({0, 1, n // 3, n // 2, n - 1, n}):
                ci = binomtest(x, n).proportion_ci(level, method="wilson")
                assert stats.wilson(x, n, level) == pytest.approx((ci.low, ci.high), abs=1e-12), (x, n, level)


def test_outcomes_by_model_is_outcomes_of_each_model() -> None:
    import pandas as pd

    cells = pd.DataFrame({"model": ["a", "a", "b", "b", "b", "c"], "puzzle": ["p1", "p1", "p1", "p2", "p2", "p1"],
                          "repeat": [0, 1, 0, 0, 1, 0], "status": ["ok", "ok", "ok", "ok", "error", "ok"],
                          "correct": [True, False, True, None, None, None]})
    by_model = stats.outcomes_by_model(cells)
    assert by_model == {"a": {("p1", 0): True, ("p1", 1): False}, "b": {("p1", 0): True}}
    assert all(by_model.get(m, {}) == stats.outcomes(cells, m) for m in "abc")
