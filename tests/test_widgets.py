"""The widgets, driven as a student would: set values, click, read what they show."""

from __future__ import annotations

import threading

import pytest

from helpers import widgets
from helpers.answer import Answer, Usage
from helpers.conversation import Seat
from helpers.runlog import store
from tests.fakes.openai_server import FakeOpenAI

MINI = "openai/gpt-4.1-mini"


@pytest.fixture
def openai_fake(fake_openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-widgets-0001")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    return fake_openai


def test_model_options_mark_keyless_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "gsk_" + "test_widgets_0002")
    options = widgets.model_options()
    labels = {spec: label for label, spec in options}
    assert labels["groq/openai/gpt-oss-20b"] == "groq/openai/gpt-oss-20b"
    assert labels[MINI] == f"{MINI} — unavailable: set OPENAI_API_KEY"
    assert labels["local/smollm2"] == "local/smollm2"  # needs no key
    specs = [spec for _, spec in options]
    assert specs.index("local/smollm2") < specs.index(MINI)  # available ones first
    assert "openai/gpt-3.5-turbo" not in specs  # retired


def test_answer_html_shows_text_stats_and_errors() -> None:
    good = Answer(spec=MINI, provider="openai", model="gpt-4.1-mini", text="a < b", usage=Usage(10, 5),
                  latency_s=1.25, cost_usd=0.000012)
    page = widgets.answer_html(good)
    assert "a &lt; b" in page and "10 in / 5 out" in page and "1.25 s" in page and "$0.000012" in page
    bad = Answer(spec=MINI, provider="openai", model="gpt-4.1-mini", error="no key <set it>", error_kind="missing_key")
    assert "⚠ no key &lt;set it&gt;" in widgets.answer_html(bad)


def test_playground_runs_models_side_by_side(openai_fake: FakeOpenAI) -> None:
    pg = widgets.Playground(refresh_s=0)
    pg.models.value = (MINI, "anthropic/claude-haiku-4-5")
    pg.prompt.value = "hello widget"
    pg.system.value = "Be brief."
    pg.temperature.value = 0.3
    pg.max_tokens.value = 50
    pg.run_button.click()
    pg.wait()
    mini = pg.panes[MINI].value
    assert "Echo: hello widget" in mini and "tokens" in mini and "cost" in mini and "CO2e" in mini
    assert "ANTHROPIC_API_KEY" in pg.panes["anthropic/claude-haiku-4-5"].value  # keyless: the fix is shown
    assert [c.value for c in pg.results.children] == [pg.panes[MINI].value,
                                                      pg.panes["anthropic/claude-haiku-4-5"].value]
    assert pg.status.value == "Done: 2 answer(s), 1 failed."
    body = openai_fake.bodies()[0]
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["temperature"] == 0.3 and body["max_completion_tokens"] == 50 and body["stream"] is True
    rows = store.default().calls()
    assert sorted(r["provider"] for r in rows) == ["anthropic", "openai"]


def test_playground_streams_text_into_the_pane(openai_fake: FakeOpenAI) -> None:
    pg = widgets.Playground([MINI], refresh_s=0)
    pg.prompt.value = "one two three"
    seen: list[str] = []
    gate = threading.Event()
    openai_fake.reply = lambda body: (gate.wait(5), "Echo: one two three")[1]
    pg.run_button.click()
    pg.panes[MINI].observe(lambda change: seen.append(change["new"]), names="value")
    gate.set()
    pg.wait()
    partial = [v for v in seen if "waiting" not in v and "tokens" not in v]
    assert partial and "Echo:" in partial[0] and "three" not in partial[0]  # text shown before it was complete
    assert "three" in seen[-1] and "tokens" in seen[-1]


def test_playground_without_streaming_and_input_checks(openai_fake: FakeOpenAI) -> None:
    pg = widgets.Playground([MINI])
    pg.stream.value = False
    pg.run_button.click()
    assert pg.status.value.startswith("⚠ Write a prompt first") and openai_fake.count() == 0
    pg.models.value = ()
    pg.prompt.value = "hi"
    pg.run_button.click()
    assert pg.status.value.startswith("⚠ Choose at least one model")
    pg.models.value = (MINI,)
    pg.max_tokens.value = 0  # 0 means the provider's default
    pg.run_button.click()
    pg.wait()
    assert "stream" not in openai_fake.bodies()[0] and "max_completion_tokens" not in openai_fake.bodies()[0]


def test_conversation_widget_start(openai_fake: FakeOpenAI) -> None:
    cw = widgets.ConversationWidget([Seat(MINI, "Alex", "You argue."), Seat(MINI, "Blake")], rounds=2)
    cw.add_button.click()
    assert len(cw.seat_rows) == 3
    cw.remove_button.click()
    cw.seat_rows[1]["persona"].value = "You agree."
    cw.opening.value = "Cats or dogs?"
    cw.start_button.click()
    cw.wait()
    page = cw.transcript.value
    assert page.count("<b>Alex</b>") == 3 and page.count("<b>Blake</b>") == 2 and "(opening line)" in page
    names = [t.name for t in cw.conversation.turns]
    assert names == ["Alex", "Blake", "Alex", "Blake", "Alex"]  # Blake answers the opening line first
    assert "4 call(s) · 0 failed" in cw.status.value and not cw.start_button.disabled and cw.stop_button.disabled
    assert openai_fake.bodies()[0]["messages"][0]["content"].startswith("You agree.")
    assert {b.get("max_tokens", b.get("max_completion_tokens")) for b in openai_fake.bodies()} == {200}  # per turn
    assert store.default().run(cw.conversation.run_id)["kind"] == "chat"


def test_conversation_widget_stop_and_bad_seats(openai_fake: FakeOpenAI) -> None:
    cw = widgets.ConversationWidget([Seat(MINI, "Alex"), Seat(MINI, "Blake")], rounds=5)
    openai_fake.reply = lambda body: (cw.stop_button.click(), "Let me think.")[1]  # Stop while turn 1 runs
    cw.start_button.click()
    cw.wait()
    assert len(cw.conversation.turns) == 1 and "stopped by the user" in cw.status.value
    cw.seat_rows[1]["name"].value = "alex"
    cw.start_button.click()
    assert "two seats are both called" in cw.status.value


def test_text_fallback_where_widgets_cannot_render(monkeypatch: pytest.MonkeyPatch) -> None:
    pg = widgets.Playground()
    bundle = pg._repr_mimebundle_()
    assert bundle["text/plain"] == widgets.FALLBACK and "application/vnd.jupyter.widget-view+json" in bundle
    assert str(pg) == widgets.FALLBACK and "python -m helpers chat" in widgets.FALLBACK
    import builtins

    real_import = builtins.__import__

    def no_ipywidgets(name: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "ipywidgets":
            raise ImportError("no ipywidgets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ipywidgets)
    with pytest.raises(widgets.ConfigError, match="ipywidgets is not installed") as err:
        widgets.conversation()
    assert "python -m helpers ask" in err.value.hint


def test_a_crash_in_a_call_is_shown_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import llm

    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(llm, "ask", boom)
    pg = widgets.Playground(["local/smollm2"])
    pg.prompt.value = "hi"
    pg.run_button.click()
    pg.wait()
    assert "⚠ RuntimeError: boom" in pg.panes["local/smollm2"].value and "1 failed" in pg.status.value
    cw = widgets.ConversationWidget([Seat("local/smollm2", "A"), Seat("local/smollm2", "B")])
    cw.start_button.click()
    cw.wait()
    assert "⚠ RuntimeError: boom" in cw.status.value and not cw.start_button.disabled


def test_ollama_models_are_unavailable_unless_ollama_runs(fake_ollama, monkeypatch):
    from helpers import widgets

    monkeypatch.setenv("OLLAMA_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    labels = {spec: label for label, spec in widgets.model_options()}
    assert "Ollama is not running" in labels["ollama/llama3.2"]
    assert labels["local/smollm2"] == "local/smollm2"
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.base_url)
    labels = {spec: label for label, spec in widgets.model_options()}
    assert labels["ollama/llama3.2"] == "ollama/llama3.2"
