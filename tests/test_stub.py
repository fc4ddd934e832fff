"""The stub provider: stub-ai's recorded answers, matched on the last user message, without its sleep."""

from __future__ import annotations

import pickle
import time
from pathlib import Path

import pytest
import stub_ai.stub_azure_openai as stub_module

from helpers.errors import UnknownModelError
from helpers.llm import ask
from helpers.providers import stub
from helpers.runlog import store as run_log

QUESTION = "What is the origin of the Olympic Games?"


def recordings(model: str) -> dict:
    import openai.types.chat  # noqa: F401

    with (Path(stub_module.__file__).parent / "cache.pickle").open("rb") as f:
        return pickle.load(f)[model]


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Fail loudly if anything calls time.sleep during a stub call."""
    calls: list[float] = []

    def forbidden(seconds: float) -> None:
        calls.append(seconds)
        raise AssertionError(f"time.sleep({seconds}) was called")

    monkeypatch.setattr(time, "sleep", forbidden)
    return calls


def test_answers_a_recorded_question_with_recorded_usage() -> None:
    a = ask("stub/gpt-35-turbo", QUESTION)
    assert a.ok and "Olympi" in a.text and "Greece" in a.text
    recorded = [r for r in recordings("gpt-35-turbo")[QUESTION] if r.choices[0].message.content.strip() == a.text]
    assert len(recorded) == 1
    r = recorded[0]
    assert (a.usage.prompt_tokens, a.usage.completion_tokens) == (r.usage.prompt_tokens, r.usage.completion_tokens)
    assert a.model_reported == "gpt-35-turbo" and a.finish_reason == "stop" and a.offline
    assert a.cost_usd is None and "recorded" in a.cost_note
    assert a.emissions.tracker_g == pytest.approx((r.usage.prompt_tokens + r.usage.completion_tokens) * 0.00246)
    assert a.emissions.ecologits_g_min is not None and a.g_co2e is not None
    assert run_log.default().calls()[-1]["tracker_g"] == pytest.approx(a.emissions.tracker_g)


def test_system_message_first_still_matches_the_question() -> None:
    a = ask("stub/gpt-4", QUESTION, system="You are a helpful sports historian.", use_cache=False)
    assert "Greece" in a.text and "do not have the answer" not in a.text and "don't have the answer" not in a.text
    # stub-ai itself (matching messages[0]) would have given its default answer for this conversation
    default = {r.choices[0].message.content for r in recordings("gpt-4")["default"]}
    assert a.text not in default


def test_last_user_message_of_a_conversation_is_matched() -> None:
    messages = [{"role": "user", "content": QUESTION}, {"role": "assistant", "content": "Ancient Greece."},
                {"role": "user", "content": "What is the Olympic motto?"}]
    a = ask("stub/gpt-35-turbo", messages)
    motto = {r.choices[0].message.content.strip() for r in recordings("gpt-35-turbo")["What is the Olympic motto?"]}
    assert a.text in motto


def test_unmatched_question_gives_the_recorded_default() -> None:
    a = ask("stub/gpt-35-turbo", "How do I bake sourdough bread?")
    assert a.ok and "answer" in a.text.lower() and "sorry" in a.text.lower()


def test_seed_makes_the_pick_repeatable() -> None:
    first = {ask("stub/gpt-4", QUESTION, seed=7, use_cache=False).text for _ in range(3)}
    assert len(first) == 1
    texts = {ask("stub/gpt-4", QUESTION, seed=s, use_cache=False).text for s in range(12)}
    assert len(texts) > 1  # different seeds pick among the three recordings


def test_unknown_model_is_a_clear_error() -> None:
    a = ask("stub/gpt-4o", QUESTION)
    assert a.error_kind == "unknown_model" and "stub/gpt-35-turbo" in a.error and "stub/gpt-4" in a.error
    with pytest.raises(UnknownModelError):
        ask("stub/gpt-4o", QUESTION, raise_errors=True)


def test_no_global_patching(no_sleeping: list[float]) -> None:
    before_time, before_create = stub_module.time, stub_module.StubAzureOpenAI.chat.completions.create
    ask("stub/gpt-35-turbo", QUESTION, use_cache=False)
    assert stub_module.time is before_time and stub_module.time.sleep is time.sleep
    assert stub_module.StubAzureOpenAI.chat.completions.create is before_create
    assert no_sleeping == []


def test_uses_the_original_lookup_when_the_tracker_wrapped_it(monkeypatch: pytest.MonkeyPatch) -> None:
    chat = stub_module.StubAzureOpenAI.chat
    original = chat.completions.create

    def tracker_wrapper(*args, **kwargs):  # what api_emissions_tracker installs
        raise AssertionError("our call went through the tracker's wrapper")

    monkeypatch.setattr(chat, "_original_create", original, raising=False)
    monkeypatch.setattr(chat.completions, "create", tracker_wrapper)
    assert "Greece" in ask("stub/gpt-35-turbo", QUESTION, use_cache=False).text


def test_streaming_callback_gets_the_text() -> None:
    pieces: list[str] = []
    a = ask("stub/gpt-35-turbo", QUESTION, on_text=pieces.append, use_cache=False)
    assert "".join(pieces) == a.text and a.ttft_s is not None


async def test_async_path() -> None:
    from helpers.llm import ask_async

    a = await ask_async("stub/gpt-4", "What are the Paralympic Games?")
    assert a.ok and "Paralympic" in a.text


def test_models_listed_from_the_recordings() -> None:
    assert stub.models() == ("gpt-35-turbo", "gpt-4")
    assert stub.last_user_text([{"role": "user", "content": [{"type": "text", "text": "a"},
                                                             {"type": "text", "text": "b"}]}]) == "a b"
