"""Session budgets in g CO2e and $: refusal before a call, spending after it, throttling."""

from __future__ import annotations

import pytest

from helpers.errors import BudgetExceeded, ConfigError
from helpers.estimates import budget
from helpers.llm import ask, ask_many, prepare

QUESTION = "What is the origin of the Olympic Games?"


@pytest.fixture(autouse=True)
def _no_budget_left():
    budget.clear_budget()
    yield
    budget.clear_budget()


@pytest.fixture(autouse=True)
def _no_stub_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(time, "sleep", lambda s: pytest.fail("slept"))


def test_refuses_once_spent_with_a_clear_message() -> None:
    messages = prepare("stub/gpt-35-turbo", QUESTION).request.messages
    worst_usd, worst_g = budget.worst_case("stub", "gpt-35-turbo", messages, 200)
    assert worst_usd == 0 and worst_g == pytest.approx((budget.rough_prompt_tokens(messages) + 200) * 0.00246)
    b = budget.set_budget(gco2e=worst_g)  # room for exactly one worst case
    first = ask("stub/gpt-35-turbo", QUESTION, max_tokens=200)
    assert first.ok and b.calls == 1 and b.spent_g == pytest.approx(first.g_co2e) and b.spent_g > 0
    assert not b.reserved
    second = ask("stub/gpt-35-turbo", QUESTION, max_tokens=200, use_cache=False)
    assert second.error_kind == "budget" and not second.text
    assert "session budget" in second.error and "g CO2e" in second.error and "max_tokens=200" in second.error
    assert "set_budget" in second.error and b.refused == 1 and b.calls == 1
    with pytest.raises(BudgetExceeded, match="would be exceeded"):
        ask("stub/gpt-35-turbo", QUESTION, max_tokens=200, use_cache=False, raise_errors=True)
    budget.clear_budget()
    assert ask("stub/gpt-35-turbo", QUESTION, max_tokens=200, use_cache=False).ok


def test_refused_calls_are_logged_and_send_nothing(fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.runlog import store as run_log

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "b" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    budget.set_budget(usd=0.000001)
    a = ask("openai/gpt-4.1-mini", "hello there", max_tokens=100)
    assert a.error_kind == "budget" and "$1e-06" in a.error and fake_openai.count() == 0
    assert run_log.default().calls()[-1]["error_kind"] == "budget"


def test_dollar_budget_counts_real_cost(fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "b" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    fake_openai.usage = {"prompt_tokens": 1000, "completion_tokens": 1000}
    b = budget.set_budget(usd=0.01)
    a = ask("openai/gpt-4.1-mini", "count me", max_tokens=1000)
    assert a.ok and b.spent_usd == pytest.approx(1000 * 0.4e-6 + 1000 * 1.6e-6) and b.spent_g > 0
    assert "0.002" in b.summary()


def test_cache_hits_are_free_and_never_refused() -> None:
    first = ask("stub/gpt-4", QUESTION)
    budget.set_budget(gco2e=0.0, usd=0.0)
    again = ask("stub/gpt-4", QUESTION)
    assert again.ok and again.cached and again.text == first.text
    assert ask("stub/gpt-4", QUESTION, use_cache=False).error_kind == "budget"


def test_reservations_hold_for_concurrent_calls() -> None:
    req = prepare("stub/gpt-4", QUESTION, max_tokens=100).request
    other = prepare("stub/gpt-4", QUESTION, max_tokens=100).request
    _, g = budget.worst_case("stub", "gpt-4", req.messages, 100)
    b = budget.set_budget(gco2e=g * 1.5)
    budget.admit(req)  # reserved, not yet settled
    assert b.reserved_g == pytest.approx(g)
    with pytest.raises(BudgetExceeded):
        budget.admit(other)
    from helpers.answer import Answer, Emissions

    budget.settle(req, Answer(spec="stub/gpt-4", provider="stub", model="gpt-4", emissions=Emissions(tracker_g=g / 10)))
    assert not b.reserved and b.spent_g == pytest.approx(g / 10)
    budget.admit(other)  # fits now


def test_ask_many_is_refused_as_a_whole_when_spent() -> None:
    budget.set_budget(gco2e=0.0)
    answers = ask_many(["stub/gpt-35-turbo", "stub/gpt-4"] * 2, QUESTION, use_cache=False)
    assert [a.error_kind for a in answers] == ["budget"] * 4 and budget.current().refused == 4  # type: ignore[union-attr]


def test_unset_max_tokens_assumes_a_default() -> None:
    messages = [{"role": "user", "content": "x" * 400}]
    assert budget.rough_prompt_tokens(messages) == 104
    assert budget.worst_case("openai", "gpt-4o-mini", messages, None)[1] == pytest.approx(
        (104 + budget.ASSUMED_MAX_TOKENS) * 0.00021)  # tracker factor beats EcoLogits' max here


def test_throttling_spaces_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    waits: list[float] = []
    monkeypatch.setattr(budget, "_clock", lambda: now[0])
    monkeypatch.setattr(budget, "_sleep", waits.append)
    budget.set_budget(min_interval_s=2)
    for _ in range(3):
        budget.admit(prepare("stub/gpt-4", QUESTION).request)
        now[0] += 0.5
    assert waits == [pytest.approx(1.5), pytest.approx(3.0)]


@pytest.mark.parametrize("kwargs", [{"gco2e": -1}, {"usd": "1"}, {"usd": True}, {"min_interval_s": float("nan")}])
def test_bad_limits(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match="non-negative number") as err:
        budget.set_budget(**kwargs)
    assert "set_budget" in err.value.hint


def test_no_budget_means_no_checks() -> None:
    assert budget.current() is None
    assert ask("stub/gpt-4", QUESTION).ok
