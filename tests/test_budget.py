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


# -- one Budget class: the same rules per comparison run -------------------------------------------------------
def _answer(cost: float | None, grams: float | None, ok: bool = True, completion: int | None = 10):  # type: ignore[no-untyped-def]
    from helpers.answer import Answer, Emissions, Usage

    return Answer(spec="openai/gpt-4.1-mini", provider="openai", model="gpt-4.1-mini", text="x" if ok else "",
                  usage=Usage(prompt_tokens=10 if completion else None, completion_tokens=completion),
                  cost_usd=cost, emissions=Emissions(tracker_g=grams), error=None if ok else "boom")


def test_run_budget_refuses_with_the_flag_and_keeps_the_run() -> None:
    req = prepare("openai/gpt-4.1-mini", QUESTION, max_tokens=100).request
    run = budget.Budget(usd=0.0002, scope="run")  # room for one worst case (~$0.000166)
    worst = run.admit("k1", req, label="openai/gpt-4.1-mini on coins, repeat 0")
    assert worst is not None and worst.usd > 0 and worst.max_tokens == 100 and run.reserved_usd == worst.usd
    with pytest.raises(BudgetExceeded) as refused:
        run.admit("k2", req, label="openai/gpt-4.1-mini on worm, repeat 0")
    message = str(refused.value)
    assert (message.startswith(f"--max-usd 0.0002 reached: $0.000000 spent, ${worst.usd:.6f} in flight")
            and "in flight" in message)
    assert "openai/gpt-4.1-mini on worm, repeat 0 could cost up to $" in message and "(max_tokens=100)" in message
    assert refused.value.hint == "What was done is kept; resume with a higher --max-usd." and run.refused == 1


def test_settle_counts_the_worst_case_when_an_answered_call_has_no_figure() -> None:
    req = prepare("openai/gpt-4.1-mini", QUESTION, max_tokens=100).request
    b = budget.Budget(usd=1.0, gco2e=10.0, scope="run")
    worst = b.admit("a", req)
    assert worst is not None
    b.settle("a", _answer(cost=None, grams=None))  # answered, figures unknown: the worst case counts
    assert (b.spent_usd, b.spent_g) == (pytest.approx(worst.usd), pytest.approx(worst.g))
    b.admit("b", req, worst=worst)
    b.settle("b", _answer(cost=None, grams=None, ok=False, completion=None))  # failed before any answer: 0
    b.admit("c", req, worst=worst)
    b.settle("c", _answer(cost=0.001, grams=0.5))  # known figures count as they are
    assert b.spent_usd == pytest.approx(worst.usd + 0.001) and b.spent_g == pytest.approx(worst.g + 0.5)
    assert b.calls == 3 and not b.reserved
    b.settle("never-admitted", _answer(cost=5.0, grams=5.0))
    b.admit("d", req, worst=worst)
    b.settle("d", None)  # the call never ran: the reservation goes, nothing is spent
    assert b.spent_usd == pytest.approx(worst.usd + 0.001) and not b.reserved


def test_resumed_run_counts_what_it_spent() -> None:
    b = budget.Budget(usd=1.0, scope="run")
    b.add_spent([_answer(0.25, 1.0), _answer(None, None), _answer(0.5, 2.0)])
    assert (b.spent_usd, b.spent_g) == (0.75, 3.0)


def test_an_inactive_budget_reserves_nothing_and_computes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(budget, "worst_case_of", lambda r: pytest.fail("worst case computed for no limit"))
    b = budget.Budget(scope="run")
    assert not b.active and b.admit("k", prepare("stub/gpt-4", QUESTION).request) is None and not b.reserved
    b.check_known(["openai/not-a-priced-model"])  # nothing to check without a limit


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), -0.5, True, "0.1", [1]])
@pytest.mark.parametrize(("scope", "name", "fix"),
                         [("session", "usd", "set_budget("), ("run", "--max-usd", "--max-usd 0.05")])
def test_one_limit_validator_for_both_scopes(value: object, scope: str, name: str, fix: str) -> None:
    with pytest.raises(ConfigError) as err:
        budget.Budget(usd=value, scope=scope)  # type: ignore[arg-type]
    assert f"{name}={value!r} is not a non-negative number" in err.value.message
    assert "number ≥ 0" in err.value.hint and fix in err.value.hint


def test_one_worst_case_per_call_with_run_and_session_budgets_on(fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import io

    from helpers.compare import runner
    from helpers.compare.puzzles import Puzzle

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "b" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    fake_openai.usage = {"prompt_tokens": 20, "completion_tokens": 10}
    computed: list[str] = []
    real = budget.worst_case_of
    monkeypatch.setattr(budget, "worst_case_of", lambda r: computed.append(r.spec) or real(r))
    session = budget.set_budget(usd=1.0, gco2e=100.0)
    puzzles = [Puzzle("sum", "Sum of 1 to 10?", answer="55", grader="numeric"),
               Puzzle("root", "Square root of 81?", answer="9", grader="numeric")]
    result = runner.compare(["openai/gpt-4.1-mini", "openai/gpt-4o-mini"], puzzles, max_usd=1.0, max_gco2e=100.0,
                            max_tokens=50, progress=False, out=io.StringIO())
    assert fake_openai.count() == 4 and sorted(computed) == ["openai/gpt-4.1-mini"] * 2 + ["openai/gpt-4o-mini"] * 2
    assert session.calls == 4 and not session.reserved  # the session budget admitted and settled each call too
    assert session.spent_usd == pytest.approx(result.cells.cost_usd.sum()) and session.spent_usd > 0
