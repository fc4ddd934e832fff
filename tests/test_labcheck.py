"""helpers.labcheck: each checker says what is right, what is wrong (with the fix) and what is not done."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from helpers import labcheck
from helpers.answer import Answer, Usage


def answer(spec: str, text: str = "Citius, Altius, Fortius.", latency: float = 1.0, tokens: int = 10,
           cost: float | None = None) -> Answer:
    provider, _, model = spec.partition("/")
    return Answer(spec=spec, provider=provider, model=model, text=text, latency_s=latency, cost_usd=cost,
                  usage=Usage(prompt_tokens=12, completion_tokens=tokens))


MODELS = ["local/smollm2", "stub/gpt-35-turbo"]


def answers() -> list[Answer]:
    return [answer("local/smollm2", "The motto is Ego et Familie.", 2.0, 40, 0.0),
            answer("stub/gpt-35-turbo", "Citius, Altius, Fortius.", 0.5, 10, None)]


def summarize(a: Answer) -> dict[str, Any]:
    tokens, seconds = a.usage.completion_tokens, a.latency_s
    return {"model": a.spec, "words": len(a.text.split()), "output_tokens": tokens, "seconds": seconds,
            "tokens_per_s": tokens / seconds if tokens and seconds else None, "cost_usd": a.cost_usd}


def todo(a: Answer) -> dict[str, Any]:
    raise NotImplementedError("your code here")


def states(report: labcheck.Report) -> list[str]:
    return [f.state for f in report.findings]


def test_untouched_skeleton_is_not_done_yet_and_nothing_is_wrong() -> None:
    report = labcheck.two_providers(models=[], answers=[], summarize=todo, faster=None)
    assert states(report) == ["todo", "todo", "todo"]
    assert not report.passed
    assert report.headline == "⏳ Lab 01 · two providers: not done yet (3 step(s) to go)"
    assert "Step 1 is not done yet" in str(report)


def test_finished_work_passes_and_shows_the_table() -> None:
    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=summarize, faster="stub/gpt-35-turbo")
    assert report.passed, str(report)
    assert report.headline == "✅ Lab 01 · two providers: all 4 checks pass"
    assert [row["tokens_per_s"] for row in report.table] == [20.0, 20.0]
    md = report._repr_markdown_()
    assert "| model | words | output_tokens | seconds | tokens_per_s | cost_usd |" in md
    assert "| local/smollm2 | 6 | 40 | 2 | 20 | 0 |" in md
    assert str(report).endswith("|---|---|---|---|---|---|\n| local/smollm2 | 6 | 40 | 2 | 20 | 0 |\n"
                                "| stub/gpt-35-turbo | 3 | 10 | 0.5 | 20 | n/a |")  # unknown cost: n/a, never blank


def test_summarize_mistakes_are_named_field_by_field() -> None:
    def in_ms(a: Answer) -> dict[str, Any]:
        return {**summarize(a), "seconds": a.latency_s * 1000, "cost_usd": a.cost_usd or 0}

    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=in_ms, faster="stub/gpt-35-turbo")
    wrong = [f.message for f in report.findings if f.state == "wrong"]
    assert len(wrong) == 1
    assert ("seconds for local/smollm2 is 2000.0, which does not match the answer: how long the call took"
            in wrong[0])
    assert "2.0" not in wrong[0] and "latency_s" not in wrong[0]  # what is wrong and how to think, not the answer
    assert ("cost_usd for stub/gpt-35-turbo is 0, which does not match the answer: what the answer cost, None when"
            in wrong[0] and "never 0 for unknown" in wrong[0])
    assert report.headline.startswith("❌") and "1 to fix" in report.headline


def test_summarize_that_crashes_or_returns_nothing() -> None:
    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=lambda a: a.usage["out"])
    assert "`summarize` raised TypeError" in report.findings[2].message
    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=lambda a: None)
    assert report.findings[2].state == "todo" and "returns None" in report.findings[2].message
    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=lambda a: {"model": a.spec})
    assert "lacks ['words', 'output_tokens'" in report.findings[2].message


@pytest.mark.parametrize(("models", "expected"), [
    ("local/smollm2", "`models` is a str: make it a list of two spec strings"),
    (["local/smollm2"], "`models` holds 1 spec(s): the lab compares exactly two"),
    (["stub/gpt-4", "stub/gpt-35-turbo"], "both models come from stub: pick two different providers"),
    (["local/smollm2", "opneai/gpt-4.1-mini"], "a spec in `models` is not valid: unknown provider 'opneai'"),
    (["local/smollm2", "anthropic/claude-haiku-4-5"],
     "anthropic/claude-haiku-4-5 needs ANTHROPIC_API_KEY, which is not set here"),
])
def test_model_choice_mistakes(models: Any, expected: str) -> None:
    report = labcheck.two_providers(models=models, answers=[])
    assert report.findings[0].state == "wrong"
    assert expected in report.findings[0].message


def test_answers_must_come_from_the_chosen_models_and_succeed() -> None:
    other = [answer("local/smollm2"), answer("stub/gpt-4")]
    report = labcheck.two_providers(models=MODELS, answers=other)
    assert ("but `models` is ['local/smollm2', 'stub/gpt-35-turbo']: ask the models you picked"
            in report.findings[1].message)
    failed = answers()
    failed[1].error = "stub has no recordings for 'x'"
    report = labcheck.two_providers(models=MODELS, answers=failed)
    assert report.findings[1].message == "stub/gpt-35-turbo failed: stub has no recordings for 'x'"
    report = labcheck.two_providers(models=MODELS, answers=["text", "text"])
    assert "list of Answer objects" in report.findings[1].message


def test_wrong_faster_model_shows_the_latencies() -> None:
    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=summarize, faster="local/smollm2")
    assert report.findings[-1].message == ("`faster` is 'local/smollm2', but the latencies are local/smollm2 2.00 s, "
                                           "stub/gpt-35-turbo 0.50 s: the faster one is stub/gpt-35-turbo")


# -- lab 04, against a loopback OpenAI-compatible server --------------------------------------------------------
def list_models(base_url: str) -> list[str]:
    from openai import OpenAI

    return [m.id for m in OpenAI(base_url=base_url, api_key="x").models.list()]


def ask_directly(base_url: str, model: str, question: str) -> str:
    from openai import OpenAI

    reply = OpenAI(base_url=base_url, api_key="x").chat.completions.create(
        model=model, messages=[{"role": "user", "content": question}], max_tokens=20)
    return reply.choices[0].message.content or ""


def test_add_a_provider_untouched_skeleton() -> None:
    report = labcheck.add_a_provider(base_url="", list_models=todo, ask_directly=todo, answer=None)
    assert states(report) == ["todo", "todo"] and "not done yet" in report.headline


def test_add_a_provider_finished(fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import ask

    monkeypatch.setenv("CUSTOM_BASE_URL", fake_openai.base_url)
    got = ask("custom/gpt-4.1-mini", "Name three colours.")
    report = labcheck.add_a_provider(base_url=fake_openai.base_url, list_models=list_models,
                                     ask_directly=ask_directly, answer=got)
    assert report.passed, str(report)
    assert fake_openai.last.body["messages"] == [{"role": "user", "content": "Say hello."}]  # the checker's call


def test_add_a_provider_mistakes(fake_openai, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import ask

    url = fake_openai.base_url
    report = labcheck.add_a_provider(base_url=url.removesuffix("/v1"))
    assert "does not end in /v1" in report.findings[0].message

    def raw_reply(base_url: str, model: str, question: str) -> Any:
        from openai import OpenAI

        return OpenAI(base_url=base_url, api_key="x").chat.completions.create(
            model=model, messages=[{"role": "user", "content": question}])

    local = ask("stub/gpt-35-turbo", "What is the Olympic motto?")
    report = labcheck.add_a_provider(base_url=url, list_models=lambda u: ["gpt-4.1-mini"],
                                     ask_directly=raw_reply, answer=local)
    messages = [f.message for f in report.findings if f.state == "wrong"]
    assert messages[0].startswith("`list_models` returns ['gpt-4.1-mini'], but the server lists ['gpt-4.1-mini', ")
    assert messages[1].startswith("`ask_directly` returns a ChatCompletion: return the text")
    assert messages[2] == "`answer` came from provider 'stub': ask with the spec custom/<model id>"


def test_add_a_provider_with_nothing_listening() -> None:
    from helpers.providers import local_engine

    url = f"http://127.0.0.1:{local_engine.free_port()}/v1"
    report = labcheck.add_a_provider(base_url=url)
    assert report.findings[0].message == f"BASE_URL: nothing answers at {url} (ConnectError); is the server running?"


# -- lab 03: the three-way conversation, played on the stub's recorded answers -----------------------------------
def three_seats() -> list[Any]:
    from helpers.conversation import Seat

    return [Seat("stub/gpt-35-turbo", "Alex", "You argue with everything."),
            Seat("stub/gpt-4", "Blake", "You agree with everyone."),
            Seat("stub/gpt-35-turbo@seed=1", "Cara", "You make jokes.")]


def messages_for(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": f"{seats[me].persona} You are {seats[me].name}."}]
    for who, text in history:
        if who == me:
            messages.append({"role": "assistant", "content": text})
        else:
            messages.append({"role": "user", "content": f"{seats[who].name}: {text}"})
    return messages


def play(seats: list[Any], view: Any = messages_for, rounds: int = 1, spec_of: Any = None) -> tuple[list, list]:
    from helpers import ask

    history: list[tuple[int, str]] = [(0, "Hi all."), (1, "Hello."), (2, "Hey.")]
    answers = []
    for _ in range(rounds):
        for me, seat in enumerate(seats):
            got = ask(spec_of(me) if spec_of else seat.spec, view(seats, me, history), max_tokens=20)
            answers.append(got)
            history.append((me, got.text))
    return history, answers


def test_three_way_untouched_skeleton() -> None:
    def messages_for_todo(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
        raise NotImplementedError("your code here")

    report = labcheck.three_way(seats=[], messages_for=messages_for_todo, history=[(0, "Hi all.")], answers=[])
    assert states(report) == ["todo", "todo", "todo"]
    assert report.headline == "⏳ Lab 03 · three-way conversation: not done yet (3 step(s) to go)"


def test_three_way_finished_passes_with_a_table() -> None:
    seats = three_seats()
    history, answers = play(seats, rounds=2)
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history, answers=answers)
    assert report.passed, str(report)
    assert report.findings[-1].message.startswith("the conversation: 2 round(s), 6 turns")
    assert [(row["seat"], row["model"]) for row in report.table[:3]] == [
        ("Alex", "stub/gpt-35-turbo"), ("Blake", "stub/gpt-4"), ("Cara", "stub/gpt-35-turbo@seed=1")]


def own_turn_as_user(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": seats[me].persona},
            *({"role": "user", "content": f"{seats[who].name}: {text}"} for who, text in history)]


def others_as_assistant(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": seats[me].persona},
            *({"role": "assistant", "content": f"{seats[who].name}: {text}"} for who, text in history)]


def unnamed(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
    return [{"role": "system", "content": seats[me].persona},
            *({"role": "assistant" if who == me else "user", "content": text} for who, text in history)]


def merged(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
    from helpers.conversation import Turn, labelled_messages

    return labelled_messages(seats, me, [Turn(0, who, seats[who].name, text) for who, text in history])


@pytest.mark.parametrize(("view", "expected"), [
    (own_turn_as_user, "seat 1 (Alex) sees its own turn as 'user': a seat's own turns must be 'assistant'"),
    (others_as_assistant, "seat 1 (Alex) sees Blake's turn as 'assistant': the others' turns must be 'user' messages"),
    (unnamed, ("Blake's line reaches seat 1 (Alex) without Blake's name: prefix the others' lines with the "
               "speaker's name ('Blake: …')")),
    (lambda s, me, h: messages_for(s, me, h)[1:], "seat 1 (Alex) gets a first message with role 'assistant'"),
    (lambda s, me, h: [{"role": "system", "content": "Be nice."}, *messages_for(s, me, h)[1:]],
     "the system prompt of seat 1 (Alex) does not hold its persona"),
    (lambda s, me, h: messages_for(s, me, h[::-1]), "the lines reach seat 1 (Alex) out of order"),
    (lambda s, me, h: messages_for(s, me, h[:-1]), "seat 1 (Alex) does not see Cara's line 'Hey there, I am more"),
    (lambda s, me, h: messages_for(s, me, h)[-1], "`messages_for` returns {'role': 'user'"),
])
def test_three_way_message_list_mistakes(view: Any, expected: str) -> None:
    report = labcheck.three_way(seats=three_seats(), messages_for=view)
    assert report.findings[1].state == "wrong"
    assert report.findings[1].message.startswith(expected), report.findings[1].message


def test_three_way_accepts_merged_messages_and_names_the_seat_of_a_later_mistake() -> None:
    assert labcheck.three_way(seats=three_seats(), messages_for=merged).findings[1].state == "ok"

    def third_seat_wrong(seats: list[Any], me: int, history: list[tuple[int, str]]) -> list[dict[str, str]]:
        return (own_turn_as_user if me == 2 else messages_for)(seats, me, history)

    report = labcheck.three_way(seats=three_seats(), messages_for=third_seat_wrong)
    assert report.findings[1].message.startswith("seat 3 (Cara) sees its own turn as 'user'")


@pytest.mark.parametrize(("seats", "expected"), [
    (lambda s: s[:2], "`seats` holds 2 seat(s): a 3-way conversation needs a list of three"),
    (lambda s: [s[0], s[1], s[1]], "the seats are called ['Alex', 'Blake', 'Blake']: give every seat a name"),
    (lambda s: [s[0], s[1], replace(s[2], persona=" ")], "seat 3 (Cara) has no persona"),
    (lambda s: [s[0], s[1], replace(s[2], persona=s[0].persona)], "two seats share a persona"),
    (lambda s: [s[0], s[1], replace(s[2], spec="anthropic/claude-haiku-4-5")],
     "seat 3 (Cara) sits at anthropic/claude-haiku-4-5, which needs ANTHROPIC_API_KEY (not set here)"),
    (lambda s: [s[0], s[1], replace(s[2], spec="opneai/gpt-4.1-mini")], "seat 3 (Cara): unknown provider 'opneai'"),
    (lambda s: [{"spec": x.spec, "name": x.name, "persona": x.persona} for x in s], "make each seat a Seat("),
])
def test_three_way_seat_mistakes(seats: Any, expected: str) -> None:
    report = labcheck.three_way(seats=seats(three_seats()), messages_for=messages_for)
    assert report.findings[0].state == "wrong" and report.findings[0].message.startswith(expected), report.findings[0]
    assert report.findings[-1].message == "Step 3 needs the seats of step 1 and messages_for of step 2 first"


def test_three_way_every_seat_must_call_its_own_model() -> None:
    seats = three_seats()
    history, answers = play(seats, spec_of=lambda me: seats[0].spec)  # the classic slip: one client for all
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history, answers=answers)
    assert report.findings[-1].message == ("turn 2 (Blake) was answered by stub/gpt-35-turbo, but Blake sits at "
                                           "stub/gpt-4: each seat must call its own model, ask(seats[me].spec, …)")


def test_three_way_every_seat_must_get_its_own_view_and_history_must_grow() -> None:
    seats = three_seats()
    history, answers = play(seats, view=lambda s, me, h: messages_for(s, 0, h))  # everyone gets seat 1's view
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history, answers=answers)
    assert report.findings[-1].message == ("turn 2 (Blake) was not sent messages_for(seats, 1, history): every seat "
                                           "must be sent the conversation as seen from its own seat")
    history, answers = play(seats)
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history[:3], answers=answers)
    assert report.findings[-1].message == ("history[0] should be (0, the text of turn 1 (Alex)), but it is "
                                           "(0, 'Hi all.'): append (me, answer.text) to `history` after every turn, "
                                           "so the next seat sees it")
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history[:2], answers=answers)
    assert report.findings[-1].message.startswith("`history` holds 2 lines for 3 answers: append (me, answer.text)")
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history, answers=answers[:2])
    assert report.findings[-1].message.startswith("`answers` holds 2 turns: a round is one turn per seat")
    failed = [*answers[:2], replace(answers[2], error="stub is down")]
    report = labcheck.three_way(seats=seats, messages_for=messages_for, history=history, answers=failed)
    assert report.findings[-1].message == "turn 3 (Cara) failed: stub is down"


# -- lab 02: write a grader ---------------------------------------------------------------------------------------
GRADER_UNITS = {"%": 0.01, "percent": 0.01, "mm": 0.001, "millimetre": 0.001, "millimeter": 0.001, "cm": 0.01,
                "centimetre": 0.01, "centimeter": 0.01, "dollar": 1.0}
GRADER_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(?:\s*/\s*(\d+))?\s*(%|percent|mm|cm|millimet(?:re|er)s?|"
                           r"centimet(?:re|er)s?|dollars?)?", re.IGNORECASE)


def read_number(text: str, units: dict[str, float] = GRADER_UNITS) -> float | None:
    """The lab's worked solution: the last number of the text, in base units."""
    found = GRADER_NUMBER.findall(text)
    if not found:
        return None
    number, denominator, unit = found[-1]
    value = float(number) / float(denominator) if denominator else float(number)
    return value * units.get(unit.lower().rstrip("s"), 1.0)


def grader(read: Any = read_number) -> Any:
    def is_correct(expected: str, answer: str) -> bool:
        want, got = read(expected), read(answer)
        return want is not None and got is not None and abs(got - want) <= 0.01 * abs(want)

    return is_correct


def no_percent(text: str) -> float | None:
    return read_number(text, {k: v for k, v in GRADER_UNITS.items() if k not in ("%", "percent")})


def no_units(text: str) -> float | None:
    return read_number(text, {"%": 0.01, "percent": 0.01})


def test_grader_untouched_skeleton_is_not_done_yet() -> None:
    report = labcheck.write_a_grader(read_number=todo, is_correct=lambda e, a: todo(a))
    assert states(report) == ["todo", "todo"] and "to fix" not in report.headline
    assert report.findings[1].message.startswith("Step 2 is not done yet: replace `raise NotImplementedError` in")


def test_grader_worked_solution_passes_every_skill() -> None:
    report = labcheck.write_a_grader(read_number=read_number, is_correct=grader())
    assert report.passed, str(report)
    assert [f.message.split(":")[0] for f in report.findings[1:]] == [
        "fractions", "decimals", "percentages", "units", "money", "final answer", "whole numbers"]
    assert report.table == []


def test_grader_names_the_phrasing_it_gets_wrong_and_why() -> None:
    report = labcheck.write_a_grader(read_number=no_percent, is_correct=grader(no_percent))
    wrong = [f.message for f in report.findings if f.state == "wrong"]
    assert wrong == [
        ("`read_number('66.7%')` returns 66.7, expected 0.667: a percentage is a fraction of 100: divide by 100; "
         "`read_number('67 percent')` returns 67.0, expected 0.67: 'percent' written out is a percentage too"),
        ("percentages: accepts `0.67` but rejects `66.7%` in `So the probability is about 66.7%.`, both right for "
         "`2/3`: handle percentages: 66.7% is 0.667 (and 1 more percentages phrasing(s))")]
    assert [(r["answer"], r["yours"]) for r in report.table] == [("`So the probability is about 66.7%.`", "wrong"),
                                                                 ("`It's roughly 67 percent.`", "wrong")]


def test_grader_that_ignores_units_accepts_a_wrong_length() -> None:
    report = labcheck.write_a_grader(read_number=no_units, is_correct=grader(no_units))
    (units,) = [f.message for f in report.findings if f.message.startswith("units")]
    assert units == ("units: accepts `4 millimetres` but rejects `0.4 cm` in `Answer: 0.4 cm`, both right for "
                     "`4 mm`: convert units before comparing: 0.4 cm is 4 mm (and 1 more units phrasing(s))")
    assert ({"expected": "`4 mm`", "answer": "`The distance is 4 cm.`", "truly": "wrong", "yours": "right"}
            in report.table)


def test_grader_that_reads_the_first_number() -> None:
    def first(text: str) -> float | None:
        found = GRADER_NUMBER.search(text)
        return read_number(found.group(0)) if found else None

    report = labcheck.write_a_grader(read_number=first, is_correct=grader(first))
    assert "`read_number('2 cm of pages and 2 mm of cover: 4 mm')` returns 0.02, expected 0.004: read the last " \
           "number of the text" in report.findings[0].message
    (final,) = [f.message for f in report.findings if f.message.startswith("final answer")]
    assert final.startswith("final answer: accepts `$90.00` but rejects `$90` in `5 shirts cost $100. With 10% off, "
                            "you pay $90.`, both right for `$90`: grade the last number, not the first")
    assert final.endswith("(and 2 more final answer phrasing(s))")


def test_grader_that_crashes_or_answers_in_words() -> None:
    def crashes_without_number(expected: str, answer: str) -> bool:
        return abs(read_number(answer) - read_number(expected)) < 1e-2  # TypeError on None

    report = labcheck.write_a_grader(read_number=read_number, is_correct=lambda e, a: 1 / 0)
    assert states(report) == ["ok", "wrong"]
    assert report.findings[1].message == ("`is_correct` raised ZeroDivisionError: division by zero on every phrasing "
                                          "(the first was `Answer: 2/3`): return True or False, and False when there "
                                          "is no number")
    report = labcheck.write_a_grader(read_number=read_number, is_correct=lambda e, a: "yes")
    assert "returned 'yes' (a str, not True or False)" in report.findings[1].message
    report = labcheck.write_a_grader(read_number=lambda t: str(read_number(t)), is_correct=crashes_without_number)
    assert report.findings[0].message.startswith("`read_number('2/3')` returns '0.6666666666666666' (a str), "
                                                 "expected the number 0.6667: return a float")
    assert report.passed is False and all(f.state == "ok" for f in report.findings[1:])  # no phrasing lacks a number


def test_grader_comparison_with_helpers_graders() -> None:
    table = labcheck.grader_comparison(grader())
    assert "| `It is two thirds.` | `2/3` | right | wrong ✗ | right |" in table
    assert "| `The probability is 2/3, not 1/2.` | `2/3` | right | wrong ✗ | right |" in table
    assert "| `The probability is 0.7.` | `2/3` | wrong | wrong | wrong |" in table
    assert table.endswith("Graded as they truly are: **yours 23 of 31**, helpers.compare.graders 31 of 31 "
                          "(✗ marks a wrong verdict). The last 10 rows go beyond the lab's checks.")
    assert "| `Answer: 2/3` | `2/3` | right | not done yet | right |" in labcheck.grader_comparison(
        lambda e, a: todo(a))


# -- lab 05: energy per token ---------------------------------------------------------------------------------------
def energy_runs(**changes: float) -> list[dict[str, Any]]:
    """Three calls as CodeCarbon measured them here (world grid, 475 g CO2e/kWh)."""
    runs = [{"output_tokens": 60, "seconds": 0.87, "kwh": 5.29e-6},
            {"output_tokens": 16, "seconds": 0.33, "kwh": 2.24e-6},
            {"output_tokens": 40, "seconds": 0.60, "kwh": 3.90e-6}]
    return [{**r, "g_co2e": r["kwh"] * 475, **changes} for r in runs]


def wh_per_1k(runs: list[dict[str, Any]]) -> float:
    return sum(r["kwh"] for r in runs) * 1000 / sum(r["output_tokens"] for r in runs) * 1000


def test_energy_untouched_skeleton_is_not_done_yet() -> None:
    report = labcheck.energy_per_token(runs=[], wh_per_1k=todo)
    assert states(report) == ["todo", "todo"] and report.headline.startswith("⏳")
    report = labcheck.energy_per_token(runs=energy_runs(), wh_per_1k=todo)
    assert states(report) == ["ok", "todo"]


def test_energy_finished_work_passes_with_the_figures() -> None:
    report = labcheck.energy_per_token(runs=energy_runs(), wh_per_1k=wh_per_1k)
    assert report.passed, str(report)
    assert report.findings[0].message == ("`runs`: 3 calls, 116 output tokens, 0.0114 Wh in 1.8 s (about 22.9 W on "
                                          "average; grid 475 g CO2e/kWh)")
    assert report.findings[1].message == ("`wh_per_1k`: 0.0985 Wh per 1,000 output tokens on this machine (total "
                                          "energy ÷ total tokens)")  # 11.43e-6 kWh × 1e6 / 116 tokens
    assert report.table[0]["Wh per 1k tokens"] == pytest.approx(5.29e-6 * 1e6 / 60)
    assert report.table[0]["watts"] == pytest.approx(5.29e-6 * 3.6e6 / 0.87)


@pytest.mark.parametrize(("slip", "expected"), [
    (lambda runs: wh_per_1k(runs) / 1000, "1,000 times too small: convert kWh to Wh (× 1000) and count per 1,000"),
    (lambda runs: wh_per_1k(runs) / 1e6, "a million times too small: that is kWh per token"),
    (lambda runs: wh_per_1k(runs) * 3600, "3,600 times too big: that is joules"),
    (lambda runs: sum(r["kwh"] * 1e6 / r["output_tokens"] for r in runs) / len(runs),
     "that is the mean of the per-call ratios; divide the total energy by the total tokens instead"),
    (lambda runs: wh_per_1k(runs) * 2, "total Wh = sum of kwh × 1000; per 1,000 tokens = total Wh ÷ total output"),
])
def test_energy_arithmetic_slips_are_named(slip: Any, expected: str) -> None:
    report = labcheck.energy_per_token(runs=energy_runs(), wh_per_1k=slip)
    assert report.findings[1].state == "wrong"
    assert report.findings[1].message.startswith("`wh_per_1k` gives ")
    message = report.findings[1].message
    assert "for your runs, which is not the Wh per 1,000 output tokens of those runs: " + expected in message
    assert "0.0985" not in message  # the right figure is the student's to find


def test_energy_averaged_ratios_are_caught_even_when_the_own_runs_hide_them() -> None:
    same_ratio = [{"output_tokens": n, "seconds": n / 50, "kwh": n * 1e-7, "g_co2e": n * 1e-7 * 56}
                  for n in (20, 40, 60)]

    def averaged(runs: list[dict[str, Any]]) -> float:
        return sum(r["kwh"] * 1e6 / r["output_tokens"] for r in runs) / len(runs)

    report = labcheck.energy_per_token(runs=same_ratio, wh_per_1k=averaged)
    assert report.findings[1].message.startswith("`wh_per_1k` gives 0.1667 for the runs [")
    assert report.findings[1].message.endswith("not the Wh per 1,000 output tokens of those runs: "
                                               "that is the mean of the "
                                               "per-call ratios; divide the total energy by the total tokens instead "
                                               "(a long answer weighs more than a short one)")


@pytest.mark.parametrize(("runs", "expected"), [
    (energy_runs()[:2], "`runs` holds 2 call(s): measure at least 3"),
    ([{**r, "g_co2e": r["g_co2e"] / 1000} for r in energy_runs()],
     ("`runs`: call 1: 2.51e-06 g for 5.29e-06 kWh is 0.475 g/kWh, far below any grid: data.emissions is in kg, "
      "multiply by 1000 for grams (2 more call(s) have problems too)")),
    ([{**r, "kwh": r["kwh"] * 3.6e6} for r in energy_runs()],
     "`runs`: call 1: 19 kWh in 0.87 s would mean 78,802,759 W; is the energy in Wh or J?"),
    (energy_runs(output_tokens=0), "`runs`: call 1 has 0 output tokens: ask for something longer"),
    ([{"tokens": 3}] * 3, ("`runs`: call 1 lacks ['output_tokens', 'seconds', 'kwh', 'g_co2e']: output_tokens = "
                          "answer.usage.completion_tokens;")),
    (energy_runs(kwh=None), "`runs`: call 1: kwh is None, not a number: use the task's energy (data.energy_consumed"),
    ({"kwh": 1.0}, "`runs` is a dict: make it a list with one dict per measured call"),
])
def test_energy_measurement_slips(runs: Any, expected: str) -> None:
    report = labcheck.energy_per_token(runs=runs, wh_per_1k=wh_per_1k)
    assert states(report) == ["wrong", "todo"]
    assert report.findings[0].message.startswith(expected), report.findings[0].message
    assert report.findings[1].message == "Step 3 needs the measurements of step 2 first"


# -- lab 06: the decision matrix, on figures like an offline run's (stub costs unknown, local $0) --------------
def lab06_candidates() -> list[Any]:
    from helpers.compare.decision import Candidate

    return [Candidate("local/smollm2", accuracy=1 / 3, cost_usd=0.0, latency_s=1.8, kwh=2.5e-6, g_co2e=0.0014),
            Candidate("stub/gpt-35-turbo", accuracy=1.0, cost_usd=None, latency_s=0.007, kwh=8e-6, g_co2e=0.0041),
            Candidate("stub/gpt-4", accuracy=1.0, cost_usd=None, latency_s=0.0014, kwh=2.9e-4, g_co2e=0.143)]


LAB06_WEIGHTS = {"accuracy": 4, "emissions": 3, "energy": 1, "cost": 1, "latency": 1}


def relative_normalise(values: list[Any], higher_is_better: bool) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [0.0 for _ in values]
    if higher_is_better:
        return [0.0 if v is None else (v / max(known) if max(known) else 0.0) for v in values]
    return [0.0 if v is None else (1.0 if v == min(known) else min(known) / v) for v in values]


def guarded_min_max(values: list[Any], higher_is_better: bool) -> list[float]:
    known = [v for v in values if v is not None]
    if not known:
        return [0.0 for _ in values]
    lo, hi = min(known), max(known)
    if hi == lo:
        return [0.0 if v is None else 1.0 for v in values]
    return [0.0 if v is None else ((v - lo) if higher_is_better else (hi - v)) / (hi - lo) for v in values]


def weighted_mean(scores: dict[str, float], weights: dict[str, float]) -> float:
    return sum(weights.get(c, 0) * s for c, s in scores.items()) / sum(weights.get(c, 0) for c in scores)


def ranking_with(normalise: Any, score: Any = weighted_mean) -> Any:
    from helpers.compare.decision import CRITERIA

    def rank_models(candidates: list[Any], weights: dict[str, float]) -> list[tuple[str, float]]:
        columns = {c: normalise([x.value(c) for x in candidates], c == "accuracy") for c in CRITERIA}
        pairs = [(x.name, score({c: columns[c][i] for c in CRITERIA}, weights)) for i, x in enumerate(candidates)]
        return sorted(pairs, key=lambda p: p[1], reverse=True)

    return rank_models


def lab06(**overrides: Any) -> labcheck.Report:
    """The checker on finished work (the top of the ranking chosen), with some parts replaced."""
    work = {"weights": LAB06_WEIGHTS, "normalise": relative_normalise, "score": weighted_mean,
            "rank_models": ranking_with(relative_normalise), "candidates": lab06_candidates(), **overrides}
    if "choice" not in work:
        try:
            work["choice"] = work["rank_models"](work["candidates"], work["weights"])[0][0]
        except Exception:  # noqa: BLE001  (a slip under test: any sound choice will do)
            work["choice"] = "local/smollm2"
    return labcheck.decision_matrix(**work)


def not_yet(*args: Any) -> Any:
    raise NotImplementedError("your code here")


def test_decision_matrix_untouched_skeleton() -> None:
    report = labcheck.decision_matrix(weights={}, normalise=not_yet, score=not_yet, rank_models=not_yet, choice=None,
                                      candidates=lab06_candidates())
    assert states(report) == ["ok", "todo", "todo", "todo", "todo"]
    assert report.headline == "⏳ Lab 06 · decision matrix: not done yet (4 step(s) to go)"
    assert not report.table


@pytest.mark.parametrize("normalise", [relative_normalise, guarded_min_max])
def test_decision_matrix_finished_passes_with_any_sound_normaliser(normalise: Any) -> None:
    report = lab06(normalise=normalise, rank_models=ranking_with(normalise))
    assert report.passed, str(report)
    assert report.headline == "✅ Lab 06 · decision matrix: all 6 checks pass"
    assert report.findings[1].message == ("WEIGHTS: accuracy 40%, emissions 30%, cost 10%, latency 10%, energy 10% "
                                          "(normalised to sum to 1)")
    # by hand, relative scoring: local 0.4·⅓ + 0.1 (cost $0) + 0.1·0.0014/1.8 + 0.1 + 0.3 = 0.63341
    local = next(row for row in report.table if row["model"] == "local/smollm2")
    assert local["decision.rank score"] == pytest.approx(0.4 / 3 + 0.1 + 0.1 * 0.0014 / 1.8 + 0.1 + 0.3)
    assert [row["your rank"] for row in report.table] == [1, 2, 3]
    if normalise is relative_normalise:  # the same scale as helpers.compare.decision: the same scores
        assert report.table[0]["model"] == "local/smollm2"
        assert local["your score"] == pytest.approx(local["decision.rank score"])
    else:  # min–max gives the cheapest 1 and the dearest 0: the accurate recorded answers come first here
        assert report.table[0]["model"] == "stub/gpt-35-turbo"


def plain_min_max(values: list[Any], higher_is_better: bool) -> list[float]:
    lo, hi = min(values), max(values)
    return [((v - lo) if higher_is_better else (hi - v)) / (hi - lo) for v in values]


def min_max_zero_guard(values: list[Any], higher_is_better: bool) -> list[float]:
    known = [v for v in values if v is not None]
    lo, hi = min(known), max(known)
    if hi == lo:
        return [0.0 for _ in values]
    return [0.0 if v is None else ((v - lo) if higher_is_better else (hi - v)) / (hi - lo) for v in values]


@pytest.mark.parametrize(("normalise", "expected"), [
    (plain_min_max, [("normalise([0.003], higher_is_better=False) raised ZeroDivisionError: float division by zero: "
                     "min–max scaling of a single candidate gives 0 for everything (max − min is 0): handle one "
                     "candidate — it is the best there is, so score it 1"),
                     "normalise([2, 2], higher_is_better=False) raised ZeroDivisionError",
                     "normalise([0.002, None], higher_is_better=False) raised TypeError"]),
    (min_max_zero_guard, [("normalise([0.003], higher_is_better=False) gives [0]: min–max scaling of a single "
                          "candidate gives 0 for everything"),
                          ("normalise([2, 2], higher_is_better=False) gives [0, 0]: when every candidate has the same "
                          "value (a tie), each is the best there is: score them all 1")]),
    (lambda v, h: relative_normalise(v, not h), [("normalise([0.004, 0.001, 0.002], higher_is_better=False) gives "
                                                 "[1, 0.25, 0.5]: the smallest value should score highest: for cost, "
                                                 "latency, energy and emissions lower is better")]),
    (lambda v, h: [1.0 if x is None else y for x, y in zip(v, relative_normalise(v, h), strict=True)],
     [("normalise([0.002, None], higher_is_better=False) gives [1, 1]: an unknown value (None) should score 0, the "
      "worst — unknown is not free")]),
    (lambda v, h: [min(v) / x if not h else x for x in v] if None not in v else relative_normalise(v, h),
     [("normalise([0, 0.002], higher_is_better=False) raised ZeroDivisionError: float division by zero: a value of 0 "
      "(a local model's $0 cost) is the best possible: score it 1 (and never divide by it)")]),
    (lambda v, h: [x * 100 for x in relative_normalise(v, h)], ["scores should lie between 0 and 1"]),
    (lambda v, h: (x for x in v), ["returns a generator: return a list of scores, one per value"]),
])
def test_normaliser_slips_are_named(normalise: Any, expected: list[str]) -> None:
    report = lab06(normalise=normalise)
    wrong = [f.message for f in report.findings if f.state == "wrong"]
    assert len(wrong) == 1 and wrong[0].startswith("`normalise`: "), str(report)
    for part in expected:
        assert part in wrong[0], wrong[0]
    assert report.findings[-1].message == "Steps 4 and 5 need the candidates, WEIGHTS, `normalise` and `score` first"


def test_a_normaliser_that_returns_nothing_is_not_done_yet() -> None:
    report = lab06(normalise=lambda values, higher_is_better: None)
    assert report.findings[2] == labcheck.Finding("todo", "Step 2 is not done yet: `normalise` returns None; return a "
                                                          "list of scores, one per value")


@pytest.mark.parametrize(("score", "expected"), [
    (lambda s, w: sum(w.get(c, 0) * x for c, x in s.items()),
     ("`score` gives 4 for a candidate that scores 1 on every criterion, weights {'accuracy': 2.0, 'cost': 0.0, "
     "'latency': 1.0, 'energy': 0.0, 'emissions': 1.0}, which is more than the weighted mean of the scores: "
     "divide the weighted sum by the sum of the "
     "weights (4), so a candidate that is best everywhere scores 1")),
    (lambda s, w: sum(w[c] * x for c, x in s.items()) / sum(w.values()),
     ("`score` raised KeyError: 'cost' for weights that leave criteria out, {'accuracy': 3.0, 'emissions': 1.0}: a "
     "criterion left out of the weights counts 0, use weights.get(c, 0)")),
    (lambda s, w: sum(s.values()) / len(s), "`score` gives 0.55 for scores {'accuracy': 0.5, 'cost': 1.0, "),
    (lambda s, w: None, "Step 3 is not done yet: `score` returns None"),
])
def test_score_slips_are_named(score: Any, expected: str) -> None:
    report = lab06(score=score)
    assert report.findings[3].message.startswith(expected), report.findings[3].message


@pytest.mark.parametrize(("weights", "expected"), [
    ({"acuracy": 1, "emissions": 1}, ("WEIGHTS names unknown criteria 'acuracy' (did you mean 'accuracy'?): the "
                                     "criteria are accuracy, cost, latency, energy, emissions")),
    ({"accuracy": 1, "emissions": -1}, "WEIGHTS: weight emissions=-1 is not a non-negative number"),
    ({"accuracy": 0, "emissions": 0}, "WEIGHTS: all weights are 0"),
    ({"accuracy": 1, "cost": 1}, "WEIGHTS gives emissions and energy no weight: this is a carbon-aware choice"),
    ([("accuracy", 1)], "WEIGHTS is a list: make it a dict of criterion → weight"),
])
def test_weight_slips_are_named(weights: Any, expected: str) -> None:
    report = lab06(weights=weights)
    assert report.findings[1].state == "wrong" and report.findings[1].message.startswith(expected)


def test_ranking_slips_are_named() -> None:
    def each_alone(candidates: list[Any], weights: dict[str, float]) -> list[tuple[str, float]]:
        """The slip: every candidate normalised on its own (so each is 'the best' at everything)."""
        return [ranking_with(relative_normalise)([x], weights)[0] for x in candidates]

    report = lab06(rank_models=each_alone, choice="local/smollm2")
    assert report.findings[4].message.startswith("`rank_models` with 3 candidate(s) gives local/smollm2 1, but "
                                                 "your normalise and score give 0.6334: normalise each criterion "
                                                 "across all the candidates"), report.findings[4].message
    worst_first = lambda c, w: ranking_with(relative_normalise)(c, w)[::-1]
    assert "put the best first" in lab06(rank_models=worst_first).findings[4].message
    names_only = lambda c, w: [x.name for x in c]
    assert "return a list of (name, score) pairs, best first" in lab06(rank_models=names_only).findings[4].message
    report = lab06(rank_models=lambda c, w: ranking_with(relative_normalise)(c, w)[:2])
    assert "rank each candidate once" in report.findings[4].message
    assert report.findings[5].message == "Step 5 needs the ranking of step 4 first"


def test_choice_must_be_a_candidate_at_the_top_of_the_ranking() -> None:
    report = lab06(choice="stub/gpt-4")
    assert report.findings[-1].message == ("your ranking puts local/smollm2 first, but `choice` is 'stub/gpt-4': "
                                           "pick the top of the ranking, or change WEIGHTS until the ranking says "
                                           "what you believe")
    assert lab06(choice="gpt-4").findings[-1].message.startswith("`choice` is 'gpt-4', not one of the candidates")
    assert lab06(choice=None).findings[-1].state == "todo"
    twins = [*lab06_candidates(), replace(lab06_candidates()[1], name="stub/gpt-35-turbo@seed=1")]
    for tied in ("stub/gpt-35-turbo", "stub/gpt-35-turbo@seed=1"):  # tied at the top: either is the top
        report = lab06(weights={"accuracy": 9, "emissions": 1}, candidates=twins, choice=tied)
        assert report.passed, str(report)


def test_decision_matrix_needs_the_candidates() -> None:
    report = lab06(candidates=[])
    assert report.findings[0].state == "todo" and "run the cells above" in report.findings[0].message
    report = lab06(candidates=[{"name": "x"}])
    assert report.findings[0].message == "`candidates` should be the list that decision.candidates(result) returned"
