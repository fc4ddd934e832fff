"""helpers.labcheck: each checker says what is right, what is wrong (with the fix) and what is not done."""

from __future__ import annotations

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
