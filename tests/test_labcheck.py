"""helpers.labcheck: each checker says what is right, what is wrong (with the fix) and what is not done."""

from __future__ import annotations

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
                                "| stub/gpt-35-turbo | 3 | 10 | 0.5 | 20 |  |")


def test_summarize_mistakes_are_named_field_by_field() -> None:
    def in_ms(a: Answer) -> dict[str, Any]:
        return {**summarize(a), "seconds": a.latency_s * 1000, "cost_usd": a.cost_usd or 0}

    report = labcheck.two_providers(models=MODELS, answers=answers(), summarize=in_ms, faster="stub/gpt-35-turbo")
    wrong = [f.message for f in report.findings if f.state == "wrong"]
    assert len(wrong) == 1
    assert "seconds for local/smollm2 is 2000.0, expected 2.0: use answer.latency_s" in wrong[0]
    assert "cost_usd for stub/gpt-35-turbo is 0, expected None" in wrong[0] and "never 0 for unknown" in wrong[0]
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
    assert "but `models` is ['local/smollm2', 'stub/gpt-35-turbo']: ask the models you picked" in report.findings[1].message
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
    from helpers import local_engine

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
