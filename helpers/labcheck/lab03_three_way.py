"""Lab 03 checker: build the 3-way conversation (seats, personas, each seat's message list, the run).

The student's work: ``seats`` (three ``Seat(spec, name, persona)``), ``messages_for(seats, me, history)``
(the message list seat ``me`` is sent, where ``history`` is a list of ``(seat index, text)`` lines), and the
run itself: ``history`` after the rounds and the ``answers`` of every turn, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from helpers.answer import Answer
from helpers.conversation import Seat
from helpers.errors import LabError
from helpers.labcheck.core import NOT_DONE, Report, _todo, attempt

SEATS = 3
APPEND = "append (me, answer.text) to `history` after every turn, so the next seat sees it"
# Used to try `messages_for` when the student's seats are not usable yet.
EXAMPLE_SEATS = [Seat("local/smollm2", "Alex", "You disagree with everything, in a snarky way."),
                 Seat("stub/gpt-35-turbo", "Blake", "You are polite and look for common ground."),
                 Seat("stub/gpt-4", "Cara", "You turn everything into a joke.")]
# A scripted conversation: the opening lines, then round 1 as far as seat 2 (Cara) would see it.
EXAMPLE_HISTORY = [(0, "Hi everyone, shall we talk about cats?"), (1, "Hello! Cats are lovely company."),
                   (2, "Hey there, I am more of a dog person."), (0, "Dogs? Cats win, obviously."),
                   (1, "Surely both make fine friends.")]


def _seat_label(seats: Sequence[Any], me: int) -> str:
    return f"seat {me + 1} ({seats[me].name})"


def _check_seats(report: Report, seats: Any) -> list[Any] | None:
    from helpers import catalog
    from helpers import spec as specs

    if _todo(seats):
        report.todo(f"Step 1 is {NOT_DONE}: set `seats` to three Seat(spec, name, persona)")
        return None
    if not isinstance(seats, (list, tuple)) or len(seats) != SEATS:
        size = f"holds {len(seats)} seat(s)" if isinstance(seats, (list, tuple)) else f"is a {type(seats).__name__}"
        report.wrong(f"`seats` {size}: a 3-way conversation needs a list of three Seat(spec, name, persona)")
        return None
    if not all(isinstance(getattr(s, a, None), str) for s in seats for a in ("spec", "name", "persona")):
        report.wrong("make each seat a Seat(spec, name, persona) from helpers.conversation, all three strings")
        return None
    names = [s.name.strip() for s in seats]
    if not all(names) or len({n.lower() for n in names}) < SEATS:
        report.wrong(f"the seats are called {names}: give every seat a name of its own, so the others can "
                     "tell who said what")
        return None
    personas = [s.persona.strip() for s in seats]
    if not all(personas):
        report.wrong(f"{_seat_label(seats, personas.index(''))} has no persona: write one (its system prompt)")
        return None
    if len(set(personas)) < SEATS:
        report.wrong("two seats share a persona: give each its own character, or the conversation goes flat")
        return None
    for i, s in enumerate(seats):
        try:
            provider = catalog.provider(specs.parse(s.spec).provider)
        except LabError as exc:
            report.wrong(f"{_seat_label(seats, i)}: {exc}")
            return None
        if not provider.has_key():
            report.wrong(f"{_seat_label(seats, i)} sits at {s.spec}, which needs {provider.key_var} (not set here): "
                         "pick a model from lab.models(3)")
            return None
    report.ok("`seats`: " + ", ".join(f"{s.name} ({s.spec})" for s in seats) + ", each with a persona")
    return list(seats)


def _as_messages(view: Any) -> str | None:
    """Why ``view`` is not a message list (None when it is one)."""
    if not isinstance(view, list) or not view:
        return f"`messages_for` returns {view!r:.60}: return a non-empty list of {{'role': …, 'content': …}} dicts"
    for m in view:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            return f"`messages_for` returns an item {m!r:.60}: each message is a dict {{'role': …, 'content': 'text'}}"
    return None


def view_problem(seats: list[Any], me: int, history: list[tuple[int, str]], view: Any) -> str | None:
    """What is wrong with the message list ``view`` sent to seat ``me`` after ``history`` (None: nothing)."""
    shape = _as_messages(view)
    if shape:
        return shape
    who_am_i = _seat_label(seats, me)
    if view[0]["role"] != "system":
        return (f"{who_am_i} gets a first message with role {view[0]['role']!r}: start with "
                "{'role': 'system', 'content': …} holding the seat's persona")
    if seats[me].persona.strip() not in view[0]["content"]:
        return f"the system prompt of {who_am_i} does not hold its persona: put seats[me].persona in it"
    at, start = 1, 0  # where the previous line was found: message index, offset in its content
    for who, text in history:
        found = _find(view, text, at, start)
        speaker = seats[who].name
        if found is None:
            if _find(view, text, 1, 0) is not None:
                return f"the lines reach {who_am_i} out of order: keep the order of `history`"
            return (f"{who_am_i} does not see {speaker}'s line {text!r}: every earlier line of the conversation "
                    "belongs in its list")
        index, offset = found
        role = view[index]["role"]
        if who == me and role != "assistant":
            return f"{who_am_i} sees its own turn as {role!r}: a seat's own turns must be 'assistant'"
        if who != me and role != "user":
            return (f"{who_am_i} sees {speaker}'s turn as {role!r}: the others' turns must be 'user' messages "
                    "(as 'assistant' the model takes them for its own words)")
        before = view[index]["content"][(start if index == at else 0):offset]
        if who != me and speaker not in before:
            return (f"{speaker}'s line reaches {who_am_i} without {speaker}'s name: prefix the others' lines with "
                    f"the speaker's name ('{speaker}: …'), or the seat cannot tell who said what")
        at, start = index, offset + len(text)
    return None


def _find(view: list[dict[str, Any]], text: str, at: int, start: int) -> tuple[int, int] | None:
    """The first place at or after (message ``at``, offset ``start``) where ``text`` occurs."""
    for index in range(at, len(view)):
        offset = view[index]["content"].find(text, start if index == at else 0)
        if offset >= 0:
            return index, offset
    return None


def _check_messages_for(report: Report, messages_for: Any, seats: list[Any] | None) -> bool:
    usable = seats or EXAMPLE_SEATS
    for me in range(SEATS):
        history = EXAMPLE_HISTORY[:SEATS + me]  # what seat `me` has seen when its first real turn comes
        finished, view = attempt(report, "messages_for", messages_for, usable, me, list(history))
        if not finished:
            return False
        if view is None:
            report.todo(f"Step 2 is {NOT_DONE}: `messages_for` returns None")
            return False
        problem = view_problem(usable, me, history, view)
        if problem:
            report.wrong(problem)
            return False
    report.ok("`messages_for`: each seat gets its persona first, its own lines as 'assistant' and the others' as "
              "'user' with the speaker's name, in order")
    return True


def _check_run(report: Report, seats: list[Any], messages_for: Any, history: Any, answers: Any) -> None:
    from helpers import spec as specs

    if _todo(answers):
        report.todo(f"Step 3 is {NOT_DONE}: play the rounds, one ask(...) per seat per round, keeping `answers`")
        return
    if not isinstance(answers, (list, tuple)) or not all(isinstance(a, Answer) for a in answers):
        report.wrong("`answers` should be the list of Answer objects that ask(...) returned, one per turn")
        return
    if len(answers) % SEATS:
        report.wrong(f"`answers` holds {len(answers)} turns: a round is one turn per seat, so a multiple of {SEATS}")
        return
    if not isinstance(history, list) or not all(isinstance(h, tuple) and len(h) == 2 for h in history):
        report.wrong("`history` should be a list of (seat index, text) pairs")
        return
    opening = len(history) - len(answers)
    if opening < 0:
        report.wrong(f"`history` holds {len(history)} lines for {len(answers)} answers: {APPEND}")
        return
    for k, a in enumerate(answers):
        me = k % SEATS
        turn = f"turn {k + 1} ({seats[me].name})"
        if a.spec != specs.parse(seats[me].spec).label:
            report.wrong(f"{turn} was answered by {a.spec}, but {seats[me].name} sits at {seats[me].spec}: each seat "
                         "must call its own model, ask(seats[me].spec, …)")
            return
        if not a.ok:
            report.wrong(f"{turn} failed: {a.error}")
            return
        said = history[opening + k]
        if said[0] != me or not isinstance(said[1], str) or said[1].strip() != a.text.strip():
            report.wrong(f"history[{opening + k}] should be ({me}, the text of {turn}), but it is {said!r:.60}: "
                         f"{APPEND}")
            return
        finished, view = attempt(report, "messages_for", messages_for, seats, me, history[:opening + k])
        if not finished:
            return
        if a.messages != view:
            report.wrong(f"{turn} was not sent messages_for(seats, {me}, history): every seat must be sent the "
                         "conversation as seen from its own seat")
            return
    report.table = [{"turn": k + 1, "seat": seats[k % SEATS].name, "model": a.spec,
                     "said": " ".join(a.text.split())[:70]} for k, a in enumerate(answers)]
    report.ok(f"the conversation: {len(answers) // SEATS} round(s), {len(answers)} turns, each answered by its "
              "seat's own model and sent that seat's view")


def three_way(seats: Any = None, messages_for: Any = None, history: Any = None, answers: Any = None) -> Report:
    """Lab 03: three seats with personas, each seat's message list, and a conversation played offline."""
    report = Report("Lab 03 · three-way conversation")
    chosen = _check_seats(report, seats)
    views_ok = _check_messages_for(report, messages_for, chosen)
    if chosen is None or not views_ok:
        report.todo("Step 3 needs the seats of step 1 and messages_for of step 2 first")
        return report
    _check_run(report, chosen, messages_for, history, answers)
    return report
