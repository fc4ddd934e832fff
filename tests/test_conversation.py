"""Conversations: message lists per seat (both styles), seat routing to each provider's own server, the
run log, failed turns, stop conditions and the `chat` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli
from helpers.conversation import (
    Conversation,
    Seat,
    Turn,
    check_seats,
    make_seats,
    own_line,
    seat_messages,
    seat_system,
    stop_when,
)
from helpers.errors import ConfigError
from helpers.runlog import store
from tests.fakes.openai_server import FakeOpenAI, Fault

ROOT = Path(__file__).resolve().parent.parent
SEATS = [Seat("openai/gpt-4.1-mini", "Alex", "You argue."), Seat("groq/openai/gpt-oss-20b", "Blake", "You agree."),
         Seat("gemini/gemini-2.5-flash-lite", "Cara", "You joke.")]
A0, B0, C0 = (Turn(0, 0, "Alex", "Hi all"), Turn(0, 1, "Blake", "Hello"), Turn(0, 2, "Cara", "Hey"))
A1 = Turn(1, 0, "Alex", "Cats are better.")
B1_FAILED = Turn(1, 1, "Blake", "")  # a failed turn: nothing to show the others


def sys_(i: int, style: str = "labelled") -> dict:
    return {"role": "system", "content": seat_system(check_seats(SEATS), i, style)}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def bot(text: str) -> dict:
    return {"role": "assistant", "content": text}


KICK_0 = "(The conversation begins. Say hello to Blake and Cara.)"
LABELLED = [
    ("first speaker, nothing said yet", 0, [], [sys_(0), user(KICK_0)]),
    ("others' lines labelled and merged", 0, [A0, B0, C0],
     [sys_(0), user(KICK_0), bot("Hi all"), user("Blake: Hello\n\nCara: Hey")]),
    ("second seat sees the first as a user line", 1, [A0, B0, C0, A1],
     [sys_(1), user("Alex: Hi all"), bot("Hello"), user("Cara: Hey\n\nAlex: Cats are better.")]),
    ("a failed turn is left out", 2, [A0, B0, C0, A1, B1_FAILED],
     [sys_(2), user("Alex: Hi all\n\nBlake: Hello"), bot("Hey"), user("Alex: Cats are better.")]),
    ("own line last gets a nudge", 0, [A0],
     [sys_(0), user(KICK_0), bot("Hi all"), user("(The others are quiet. Go on, Alex.)")]),
]
TRANSCRIPT = [
    ("nothing said yet", 1, [], [sys_(1, "transcript"),
                                 user("The conversation has not started yet. Open it as Blake with one short line.")]),
    ("the whole transcript in one prompt", 2, [A0, B0, C0, A1, B1_FAILED],
     [sys_(2, "transcript"), user("The conversation so far:\n\nAlex: Hi all\n\nBlake: Hello\n\nCara: Hey\n\n"
                                  "Alex: Cats are better.\n\nNow reply as Cara with your next line only, "
                                  "without a name prefix.")]),
]


@pytest.mark.parametrize("case,index,turns,expected", LABELLED, ids=[c[0] for c in LABELLED])
def test_labelled_messages(case: str, index: int, turns: list[Turn], expected: list[dict]) -> None:
    assert seat_messages(check_seats(SEATS), index, turns, "labelled") == expected


@pytest.mark.parametrize("case,index,turns,expected", TRANSCRIPT, ids=[c[0] for c in TRANSCRIPT])
def test_transcript_messages(case: str, index: int, turns: list[Turn], expected: list[dict]) -> None:
    assert seat_messages(check_seats(SEATS), index, turns, "transcript") == expected


def test_system_prompt_puts_the_persona_first() -> None:
    seats = check_seats(SEATS)
    assert seat_system(seats, 0).startswith("You argue.\n\nYou are Alex, in a conversation with Blake and Cara.")
    two = check_seats([Seat("openai/gpt-4.1-mini"), Seat("openai/gpt-4.1-mini")])
    assert [s.name for s in two] == ["gpt-4.1-mini", "gpt-4.1-mini-2"]
    assert seat_system(two, 1).startswith("You are gpt-4.1-mini-2, a friendly chatbot.")


@pytest.mark.parametrize("reply,kept", [("Alex: Hi.", "Hi."), ("  alex:Hi", "Hi"), ("Blake: Hi", "Blake: Hi"),
                                        ("Alexander: Hi", "Alexander: Hi"), ("I, Alex: hi", "I, Alex: hi")])
def test_own_name_prefix_is_dropped(reply: str, kept: str) -> None:
    assert own_line(reply, "Alex") == kept


@pytest.mark.parametrize("bad,fix", [
    (lambda: check_seats([Seat("openai/gpt-4.1-mini")]), "one model per seat"),
    (lambda: check_seats([Seat("openai/x", "Al"), Seat("groq/y", "al")]), "its own --name"),
    (lambda: check_seats([Seat("nope/x"), Seat("openai/y")]), "Known providers"),
    (lambda: check_seats([Seat("openai/x", params={"temperature": 9}), Seat("openai/y")]), "from 0 to 2"),
    (lambda: make_seats(["openai/x", "groq/y"], personas=["a", "b", "c"]), "at most one --persona"),
    (lambda: Conversation(SEATS, style="chatty"), "labelled, transcript"),
    (lambda: Conversation(SEATS).run(rounds=0), "from 1 to 100"),
    (lambda: Conversation(SEATS).run(opening=["a", "b", "c", "d"]), "one opening line per seat"),
    (lambda: stop_when(42), "a phrase or a function"),  # type: ignore[arg-type]
])
def test_bad_input_names_the_fix(bad, fix: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as err:
        bad()
    assert fix in str(err.value)


# -- routing against three loopback servers --------------------------------------------------------
MODELS = {"openai": "gpt-4.1-mini", "groq": "openai/gpt-oss-20b", "gemini": "gemini-2.5-flash-lite"}
KEYS = {"openai": ("OPENAI_API_KEY", "sk-test-openai-0001"), "groq": ("GROQ_API_KEY", "gsk_test_groq_0002"),
        "gemini": ("GOOGLE_API_KEY", "AIzaTestGemini0003")}


@pytest.fixture
def three(fake_openai_factory, monkeypatch) -> dict[str, FakeOpenAI]:  # type: ignore[no-untyped-def]
    """One server per provider; each accepts only its provider's key and model, and names itself."""
    servers = {}
    for name, model in MODELS.items():
        var, key = KEYS[name]
        servers[name] = fake_openai_factory([model], strict_models=True, api_key=key,
                                            reply=lambda body, name=name: f"{name} speaking, call "
                                            f"{sum(m['role'] == 'assistant' for m in body['messages']) + 1}.")
        monkeypatch.setenv(var, key)
        monkeypatch.setenv(f"{name.upper()}_BASE_URL", servers[name].base_url)
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    return servers


def specs() -> list[str]:
    return [f"{p}/{m}" for p, m in MODELS.items()]


def m_args() -> list[str]:
    return [arg for spec in specs() for arg in ("-m", spec)]


def test_each_seat_calls_only_its_own_provider(three: dict[str, FakeOpenAI]) -> None:
    chat = Conversation(make_seats(specs(), personas=["You argue.", "You agree.", "You joke."]))
    chat.run(rounds=3)
    assert [t.text for t in chat.turns] == [f"{p} speaking, call {n}." for n in (1, 2, 3) for p in MODELS]
    for name, server in three.items():
        bodies = server.bodies()
        assert len(bodies) == 3 and server.count() == 3 and not server.errors
        assert {b["model"] for b in bodies} == {MODELS[name]}
        assert {r.api_key for r in server.requests} == {KEYS[name][1]}
    gemini_last = three["gemini"].bodies()[-1]["messages"]
    assert gemini_last[0]["role"] == "system" and gemini_last[0]["content"].startswith("You joke.")
    assert gemini_last[-1] == user("gpt-4.1-mini: openai speaking, call 3.\n\ngpt-oss-20b: groq speaking, call 3.")
    assert sum(m["role"] == "assistant" for m in gemini_last) == 2


def test_every_turn_is_in_the_run_log(three: dict[str, FakeOpenAI]) -> None:
    chat = Conversation(make_seats(specs()), style="transcript")
    chat.run(rounds=2, opening=["Hello there."])
    log = store.default()
    assert log.run(chat.run_id)["kind"] == "chat"
    assert [s["name"] for s in log.run(chat.run_id)["config"]["seats"]] == ["gpt-4.1-mini", "gpt-oss-20b",
                                                                           "gemini-2.5-flash-lite"]
    rows = log.calls(chat.run_id)
    # seat 1 opened, so seat 2 answers first and seat 1 never speaks twice in a row
    assert [r["provider"] for r in rows] == ["groq", "gemini", "openai"] * 2
    assert [r["cell"] for r in rows][:3] == ["round1/gpt-oss-20b", "round1/gemini-2.5-flash-lite",
                                             "round1/gpt-4.1-mini"]
    speakers = [t.seat for t in chat.turns]
    assert speakers == [0, 1, 2, 0, 1, 2, 0]
    assert all(r["error"] is None and r["prompt_tokens"] > 0 for r in rows)
    openai_row = next(r for r in rows if r["provider"] == "openai")
    # the fake counts words: gpt-4.1-mini at $0.40/M in, $1.60/M out
    assert openai_row["cost_usd"] == pytest.approx((openai_row["prompt_tokens"] * 0.4
                                                    + openai_row["completion_tokens"] * 1.6) / 1e6)
    assert "Hello there." in three["openai"].bodies()[0]["messages"][1]["content"]
    assert chat.totals()["calls"] == 6 and chat.totals()["cost_usd"] > 0


def test_a_failed_turn_is_shown_and_the_conversation_goes_on(three: dict[str, FakeOpenAI]) -> None:
    three["groq"].script([Fault.status(400, message="This model's maximum context length is exceeded.")])
    chat = Conversation(make_seats(specs(), names=["Alex", "Blake", "Cara"])).run(rounds=2)
    failed = chat.turns[1]
    assert failed.name == "Blake" and not failed.spoken and failed.answer.error_kind == "bad_request"
    assert len(chat.turns) == 6 and chat.turns[4].spoken and chat.totals()["failed"] == 1
    cara_first = three["gemini"].bodies()[0]["messages"]
    assert cara_first[-1] == user("Alex: openai speaking, call 1.")  # Blake's failure not shown to Cara
    text, md = chat.to_text(width=80), chat.to_markdown()
    assert "Blake (groq/openai/gpt-oss-20b)\n  ⚠ groq rejected the request (400)" in text
    assert "**Blake** · `groq/openai/gpt-oss-20b`\n\n> ⚠ groq rejected" in md
    assert "1 failed" in text and store.default().calls(chat.run_id, ok=False)[0]["provider"] == "groq"


def test_stop_phrase_cancel_and_streaming(three: dict[str, FakeOpenAI]) -> None:
    chat = Conversation(make_seats(specs()))
    chat.run(rounds=3, stop="GROQ SPEAKING, call 2")
    assert len(chat.turns) == 5 and "stop condition met by gpt-oss-20b in round 2" in chat.summary()

    gemini_calls = three["gemini"].count()
    chat2 = Conversation(make_seats(specs()))
    pieces: list[tuple[int, str]] = []
    chat2.run(rounds=3, on_turn=lambda t: chat2.cancel() if len(chat2.turns) == 2 else None,
              on_text=lambda seat, piece: pieces.append((seat, piece)))
    assert len(chat2.turns) == 2 and chat2.ended_by == "stopped by the user"
    assert "".join(p for s, p in pieces if s == 1) == "groq speaking, call 1."
    assert three["gemini"].count() == gemini_calls  # cancelled before Cara's turn
    chat2.run(rounds=1)  # continues in the same run, in the next round
    assert [t.round for t in chat2.turns] == [1, 1, 2, 2, 2]
    assert len(store.default().calls(chat2.run_id)) == 5


def test_chat_command_in_process(three: dict[str, FakeOpenAI], capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["chat", *m_args(), "--rounds", "3", "--persona", "You argue.",
            "--name", "Alex", "--opening", "Shall we talk about cats?"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.index("Alex (openai/gpt-4.1-mini) — opening line") < out.index("openai speaking, call 2.")
    assert "9 call(s) · 0 failed" in out
    assert {name: s.count("/v1/chat/completions") for name, s in three.items()} == dict.fromkeys(MODELS, 3)
    assert three["openai"].bodies()[0]["messages"][0]["content"].startswith("You argue.")


def test_chat_command_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["chat", "-m", "openai/gpt-4.1-mini"]) == 2
    assert "fix: Name one model per seat" in capsys.readouterr().err


def test_python_dash_m_chat_against_three_servers(three: dict[str, FakeOpenAI], isolated_env: Path) -> None:
    """The issue's check: `python -m helpers chat -m openai/… -m groq/… -m gemini/… --rounds 3`."""
    args = [sys.executable, "-m", "helpers", "chat", *m_args(), "--rounds", "3"]
    done = subprocess.run(args, check=False, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for name, server in three.items():
        assert server.count("/v1/chat/completions") == 3 and {b["model"] for b in server.bodies()} == {MODELS[name]}
    assert "9 call(s) · 0 failed" in done.stdout
    assert len(store.Store(isolated_env / "llmlab.db").calls()) == 9
