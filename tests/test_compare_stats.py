"""The comparison with its uncertainty, end to end against loopback servers: intervals and the paired
difference on the command line, `--baseline` and `runs diff` showing what flipped, the decision matrix
refusing to call a winner the data cannot tell, and report.html escaping hostile model text."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path
from typing import Any

import pytest

from helpers import cli
from helpers.compare import decision, generators, puzzles, report, results, runner, stats
from tests.test_compare import serve  # noqa: F401  (the fixture)

GEN = "gen:arithmetic?n=20&seed=5"
HOSTILE = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned=2\"> & \"quotes\""


def answering(spelling: str, right: set[int], hostile: set[int] = frozenset()) -> dict[str, str]:  # type: ignore[assignment]
    """A reply table for replying(): puzzle i (0-based) answered right when i is in ``right``, else off by one."""
    from fractions import Fraction

    table = {}
    for i, p in enumerate(puzzles.load(spelling)):
        value: Any = p.answer
        if i not in right:
            value = (next(c for c in p.choices if c != p.answer) if p.choices
                     else Fraction(str(p.answer).lstrip("$").split()[0]) + 1)
        table[p.prompt] = (f"{HOSTILE}\nAnswer: {value}" if i in hostile else f"Working it out.\nAnswer: {value}")
    return table


def run_id(out: str) -> str:
    return re.search(r"^run id: (\S+)", out, re.MULTILINE).group(1)  # type: ignore[union-attr]


def line(out: str, start: str) -> str:
    return next(x for x in out.splitlines() if x.startswith(start))


MODELS = ["-m", "openai/gpt-4.1-mini", "-m", "groq/openai/gpt-oss-20b"]


def test_cli_intervals_pair_baseline_diff_and_report(serve, capsys: pytest.CaptureFixture[str],  # noqa: F811
                                                     tmp_path: Path) -> None:
    serve("openai", answering(GEN, set(range(20)), hostile={3}))
    serve("groq", answering(GEN, set(range(10))))
    assert cli.main(["compare", "--puzzles", GEN, *MODELS, "--no-progress", "--report", str(tmp_path / "rep")]) == 0
    out = capsys.readouterr().out
    first = run_id(out)
    # per model: 20/20 → Wilson lower 20/(20+3.841459)=.8389; 10/20 → Wilson (.2993, .7007)
    assert re.search(r"^openai/gpt-4\.1-mini\s+100%\s+84%–100%\s+0\.0 pts\s+20\s+20\s+Wilson$", out, re.MULTILINE)
    assert re.search(r"^groq/openai/gpt-oss-20b\s+50%\s+30%–70%\s+11\.2 pts\s+20\s+20\s+Wilson$", out, re.MULTILINE)
    # the pair: 10 discordant of 20, all won by openai → (.091404, .724033), see tests/test_stats.py
    pair = line(out, "openai/gpt-4.1-mini  groq/openai/gpt-oss-20b")
    assert re.search(r"\s20\s+\+50 pts\s+\+9 to \+72 pts\s+10\s+0\s+openai/gpt-4\.1-mini is better$", pair)
    assert "you need about" in out and "this run has 20" in out

    # the same cells again, the groq model now right everywhere: its ten fixes are shown, with the interval
    serve("groq", answering(GEN, set(range(20))))
    assert cli.main(["compare", "--puzzles", GEN, *MODELS, "--no-progress", "--no-cache", "--baseline", first]) == 0
    out = capsys.readouterr().out
    second = run_id(out)
    assert f"run {second} against baseline {first}" in out
    assert re.search(r"^groq/openai/gpt-oss-20b\s+20\s+0\s+10\s+10\s+0\s+\+50 pts\s+\+9 to \+72 pts\s+new run better$",
                     out, re.MULTILINE)
    assert re.search(r"^openai/gpt-4\.1-mini\s+20\s+0\s+0\s+20\s+0\s+0 pts\s+−20 to \+20 pts\s+cannot tell apart$",
                     out, re.MULTILINE)  # no discordant cell in 20: ± z²/(n+z²) = 5.023886/25.023886 = .200763
    fixes = [x for x in out.splitlines() if x.startswith("✗→✓ groq/openai/gpt-oss-20b")]
    assert len(fixes) == 10 and not any(x.startswith("✓→✗") for x in out.splitlines())
    first_puzzle = puzzles.load(GEN)[10]
    assert f"· {first_puzzle.id}#0: '{int(first_puzzle.answer or 0) + 1}' → '{first_puzzle.answer}'" in fixes[0]

    assert cli.main(["runs", "diff", first, second]) == 0
    diffed = capsys.readouterr().out
    assert line(diffed, "groq/openai/gpt-oss-20b") == line(out, "groq/openai/gpt-oss-20b  20")

    # the report folder: intervals and pairs in CSV and Markdown; hostile text inert in report.html
    folder = tmp_path / "rep"
    summary = report.csv_rows(folder / "summary.csv")
    assert [round(float(r["accuracy_low"]), 4) for r in summary] == [0.8389, 0.2993]
    pairs = report.csv_rows(folder / "pairs.csv")
    assert pairs[0]["excludes_zero"] == "True" and round(float(pairs[0]["low"]), 6) == 0.091404
    md = (folder / "report.md").read_text()
    assert "## How sure?" in md and "| openai/gpt-4.1-mini | groq/openai/gpt-oss-20b | 20 | +50 pts |" in md
    page = (folder / "report.html").read_text()
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.pwned=2&quot;&gt;" in page
    assert "<script>window" not in page and "<img src=x" not in page and page.count("<script>") == 1
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert page.count('src="data:image/png;base64,') == 3 and "script-src 'sha256-" in html.unescape(page)


def test_no_discordant_cell_interval_in_the_diff() -> None:
    # 20 shared cells, none discordant: π ≤ z²/(n+z²) = 5.023886/25.023886 = .200763 → ±20 pts
    e = stats.paired_difference({("p", i): True for i in range(20)}, {("p", i): True for i in range(20)}).estimate
    assert e.interval(signed=True) == "−20 to +20 pts"


def test_decision_matrix_does_not_call_a_winner_the_interval_cannot_tell(serve) -> None:  # noqa: F811
    spelling = "gen:arithmetic?n=6&seed=2"
    serve("openai", answering(spelling, {0, 1, 2, 3}))
    serve("groq", answering(spelling, {0, 1, 2}))
    result = runner.compare(["openai/gpt-4.1-mini", "groq/openai/gpt-oss-20b"], spelling, progress=False,
                            out=open("/dev/null", "w"))  # noqa: SIM115
    rec = decision.rank(decision.candidates(result), {"accuracy": 1})
    assert rec.best.name == "openai/gpt-4.1-mini"  # higher measured accuracy still scores higher …
    assert not any("most accurate" in r for r in rec.best.reasons)  # … but is not called more accurate
    assert any("cannot be told apart from groq/openai/gpt-oss-20b" in r for r in rec.best.reasons)
    summary = result.summary().set_index("model")
    assert summary.loc["openai/gpt-4.1-mini", "accuracy_low"] == pytest.approx(stats.wilson(4, 6)[0])
    assert results.load(result.run_id).pairs()[0].verdict == "cannot tell apart"


def test_repeats_cluster_by_puzzle_and_majority_is_reported(serve) -> None:  # noqa: F811
    spelling = "gen:arithmetic?n=5&seed=4"
    serve("openai", answering(spelling, {0, 1, 2}))
    result: Any = runner.compare(["openai/gpt-4.1-mini"], spelling, repeat=2, progress=False,
                                 out=open("/dev/null", "w"))  # noqa: SIM115
    s = result.summary().iloc[0]
    # 6 of 10 right, each puzzle all right or all wrong: SE = √(3·(2·.4)² + 2·(2·.6)²)/10 = √4.8/10 = .219089,
    # n_eff = .24/.048 = 5 puzzles → Wilson(3, 5)
    assert s.accuracy == 0.6 and s.accuracy_se == pytest.approx(0.219089, abs=1e-6) and s.puzzles == 5
    assert (s.accuracy_low, s.accuracy_high) == pytest.approx(stats.wilson(3, 5))
    assert "clustered by puzzle" in s.accuracy_method and s.majority_accuracy == 0.6
    text = result.table()
    assert "majority of 2" in text and "openai/gpt-4.1-mini (majority of 2)" in text


def _effort_comparison() -> Any:
    """Three effort variants on 10 puzzles: low 4/10 with 100 reasoning tokens, medium 9/10 with 1000,
    high 10/10 with 5000 (each right on its first puzzles)."""
    import pandas as pd

    from helpers.compare.config import CompareConfig
    from helpers.compare.puzzles import PuzzleSet

    base = "openai/gpt-5-nano@reasoning_effort="
    plan = {base + "low": (4, 100.0), base + "medium": (9, 1000.0), base + "high": (10, 5000.0)}
    pset = puzzles.load("gen:arithmetic?n=10&seed=1")
    rows = [{"run_id": "r", "model": m, "provider": "openai", "puzzle": p.id, "repeat": 0, "status": "ok",
             "grader": "numeric", "expected": p.answer, "correct": i < right, "answer": "Answer: 1",
             "extracted": "1", "note": "", "reasoning_tokens": tokens, "completion_tokens": tokens + 20,
             "total_tokens": tokens + 80, "latency_s": 1.0, "cost_usd": tokens * 1e-6, "g_co2e": 0.01, "kwh": 1e-5,
             "judge_cost_usd": math.nan, "judge_g_co2e": math.nan, "prompt_tokens": 60.0, "ttft_s": math.nan}
            for m, (right, tokens) in plan.items() for i, p in enumerate(pset)]
    cells = pd.DataFrame(rows).reindex(columns=results.COLUMNS)
    cells["correct"] = cells["correct"].astype("boolean")
    return results.Comparison("r", CompareConfig(list(plan), PuzzleSet("gen", pset)), cells)


def test_reasoning_budget_knee_is_the_cheapest_effort_the_best_cannot_beat() -> None:
    from helpers.compare import charts

    result = _effort_comparison()
    variants = [(m, a) for m, a in zip(result.summary().model, result.summary().accuracy)]
    # high − low: 6 discordant of 10, all won by high → θ lower 6/(6+5.023886)=.544 > .5: low is worse;
    # high − medium: 1 discordant → θ lower 1/6.023886=.166 < .5: cannot tell → medium is the knee
    assert charts.knee_of(result.cells, variants) == "openai/gpt-5-nano@reasoning_effort=medium"
    fig = charts.reasoning_budget(result)
    ax = fig.axes[0]
    assert "reasoning tokens" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["knee: …enai/gpt-5-nano@reasoning_effort=medium",
                                                                 "openai/gpt-5-nano"]
    assert charts.reasoning_budget(runner_free_single()) is None


def runner_free_single() -> Any:
    """A comparison with no effort variants (two different models)."""
    result = _effort_comparison()
    result.config.models = ["openai/gpt-5-nano@reasoning_effort=low", "openai/gpt-4.1-mini"]
    return result


def test_offline_variants_line_up_three_runs(fake_openai_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.compare import variants
    from tests.test_compare import replying

    table = answering(variants.spelling(6, 7, "direct"), {0, 1, 2})
    seen: list[dict[str, Any]] = []

    def reply(body: dict[str, Any]) -> str:
        seen.append(body)
        return replying(table)(body)
    server = fake_openai_factory(reply=reply)
    monkeypatch.setenv("LOCAL_BASE_URL", server.base_url)
    runs = variants.run(n=6, seed=7, samples=3, out=open("/dev/null", "w"))  # noqa: SIM115
    assert runs.sampling.config.models == [variants.GREEDY, variants.SAMPLED]
    assert runs.steps.config.puzzles.source.endswith("style=steps") and runs.voting.config.repeat == 3
    # the step-by-step run is lined up with the direct one: same cells, its system prompt changed
    assert len(runs.steps_diff.changed_puzzles) == 6 and runs.steps_diff.models[0].paired.estimate.n == 6
    assert runs.steps_diff.only_baseline == [variants.SAMPLED]
    systems = {b["messages"][0]["content"] for b in seen if b["messages"][0]["role"] == "system"}
    assert systems == {generators.STYLES["direct"], generators.STYLES["steps"]}
    assert {b.get("temperature") for b in seen} == {0, 1}
    text = runs.text()
    assert "(majority of 3)" in text and "cannot tell apart" in text
    # 12 (greedy and sampled) + 6 (steps) + 12 (the 2nd and 3rd samples; the 1st is the cached sampled answer)
    assert len(seen) == 30
