"""Run-log totals (helpers.runlog.totals): sums per group, cache hits counted but not summed, unknown is None."""

from __future__ import annotations

import pytest

from helpers.answer import Answer, Emissions, Usage
from helpers.errors import ConfigError
from helpers.runlog import store as run_log
from helpers.runlog import totals


def _answer(provider: str, model: str, cost: float | None, grams: float | None, **kw: object) -> Answer:
    return Answer(spec=f"{provider}/{model}", provider=provider, model=model, text="ok",
                  usage=Usage(prompt_tokens=10, completion_tokens=5), cost_usd=cost,
                  emissions=Emissions(tracker_g=grams), **kw)  # type: ignore[arg-type]


@pytest.fixture
def log(tmp_path):  # type: ignore[no-untyped-def]
    s = run_log.Store(tmp_path / "log.db")
    run = s.new_run("compare")
    s.log(_answer("openai", "a", 0.002, 0.5), request_hash="1", run_id=run)
    s.log(_answer("openai", "a", 0.003, 0.25), request_hash="2", run_id=run)
    s.log(_answer("openai", "a", 0.002, 0.5), request_hash="1", run_id=run, cache_hit=True)  # served again: free
    s.log(_answer("openai", "b", None, None), request_hash="3", run_id=run)  # unpriced model
    s.log(_answer("groq", "c", 0.001, 0.1, error="refused", error_kind="auth"), request_hash="4")
    s.run_id = run  # type: ignore[attr-defined]
    return s


def test_sums_per_provider_and_model(log) -> None:  # type: ignore[no-untyped-def]
    rows = {(r["provider"], r["model"]): r for r in totals.summary(log, by=["provider", "model"])}
    a = rows["openai", "a"]
    assert (a["calls"], a["cached"], a["errors"], a["cost_unknown"]) == (3, 1, 0, 0)
    assert a["cost_usd"] == pytest.approx(0.005) and a["tracker_g"] == pytest.approx(0.75)
    assert a["prompt_tokens"] == 20 and a["completion_tokens"] == 10  # the cache hit's tokens not summed
    b = rows["openai", "b"]
    assert b["cost_usd"] is None and b["tracker_g"] is None and b["cost_unknown"] == 1  # n/a, never 0
    assert rows["groq", "c"]["errors"] == 1


def test_one_run_and_since(log) -> None:  # type: ignore[no-untyped-def]
    assert [r["calls"] for r in totals.summary(log, run_id=log.run_id, by=["provider"])] == [4]
    today = log.calls()[0]["created_at"][:10]
    assert sum(r["calls"] for r in totals.summary(log, since=today, by=["day"])) == 5
    assert totals.summary(log, since="2999-01-01") == []


def test_unknown_group_is_refused(log) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match="cannot group"):
        totals.summary(log, by=["provider; DROP TABLE calls"])
