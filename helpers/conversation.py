"""Conversations between N chatbots ("seats"), each with its own model, name, persona and parameters.

Two ways to show a seat the conversation so far (pure functions, table-tested):

- ``labelled``: the seat's own earlier turns are ``assistant`` messages, everyone else's are ``user``
  messages prefixed with the speaker's name ("Blake: …"); consecutive messages of one role are merged so
  every API (Anthropic included) accepts the list.
- ``transcript``: the course's 3-way style: one system prompt (the persona) and one user prompt holding
  the whole transcript, asking for the seat's next line.

``Conversation.run`` calls ``helpers.llm.ask`` once per turn under one run id (``store.new_run("chat")``),
so every turn lands in the run log with its cost and emissions. A failed turn is kept and shown, left out
of what the others see, and the conversation goes on.
"""

from __future__ import annotations

import shutil
import textwrap
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from helpers import display
from helpers import spec as specs
from helpers.answer import Answer
from helpers.errors import ConfigError
from helpers.runlog import store as run_log

STYLES = ("labelled", "transcript")
MAX_SEATS = 8
Message = dict[str, Any]


@dataclass
class Seat:
    """One participant: which model speaks, under what name, with which persona and parameters."""

    spec: str
    name: str = ""
    persona: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Turn:
    """One line of the conversation. Opening lines (round 0) are scripted: they have no answer."""

    round: int
    seat: int
    name: str
    text: str
    answer: Answer | None = None

    @property
    def opening(self) -> bool:
        return self.answer is None

    @property
    def spoken(self) -> bool:
        """True when the turn produced text the others get to see (a failed turn did not)."""
        return bool(self.text.strip())

    @property
    def error(self) -> str | None:
        return self.answer.error if self.answer is not None else None


# -- seats --------------------------------------------------------------------------------------------
def _default_name(spec: str, taken: set[str]) -> str:
    model = specs.parse(spec).model.rsplit("/", 1)[-1]
    name, n = model, 2
    while name.lower() in taken:
        name, n = f"{model}-{n}", n + 1
    return name


def make_seats(models: Sequence[str], personas: Sequence[str] = (), names: Sequence[str] = (),
               params: dict[str, Any] | None = None) -> list[Seat]:
    """Seats from parallel lists (personas and names in seat order; missing ones get defaults).

    Raises ConfigError for fewer than two models, more personas/names than models, or a bad spec.
    """
    if len(personas) > len(models) or len(names) > len(models):
        raise ConfigError(f"{len(models)} model(s) but {len(personas)} persona(s) and {len(names)} name(s)",
                          hint="Give at most one --persona and one --name per -m, in the same order.")
    seats = [Seat(spec=m, name=names[i] if i < len(names) else "",
                  persona=personas[i] if i < len(personas) else "", params=dict(params or {}))
             for i, m in enumerate(models)]
    return check_seats(seats)


def check_seats(seats: Sequence[Seat]) -> list[Seat]:
    """Validated copies of the seats: specs parsed, parameters checked, names filled in and unique."""
    from helpers.llm import validate_params

    if not 2 <= len(seats) <= MAX_SEATS:
        raise ConfigError(f"a conversation needs 2 to {MAX_SEATS} seats, got {len(seats)}",
                          hint="Name one model per seat, e.g. -m openai/gpt-4.1-mini -m groq/openai/gpt-oss-20b.")
    out: list[Seat] = []
    taken: set[str] = set()
    for seat in seats:
        label = specs.parse(seat.spec).label
        name = " ".join(seat.name.split()) or _default_name(label, taken)
        if name.lower() in taken:
            raise ConfigError(f"two seats are both called '{name}'", hint="Give every seat its own --name.")
        taken.add(name.lower())
        out.append(Seat(spec=label, name=name, persona=seat.persona.strip(), params=validate_params(seat.params)))
    return out


def _others(seats: Sequence[Seat], index: int) -> str:
    names = [s.name for i, s in enumerate(seats) if i != index]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def seat_system(seats: Sequence[Seat], index: int, style: str = "labelled") -> str:
    """The seat's system prompt: its persona (static, first, so providers can cache it), then the setting."""
    seat = seats[index]
    persona = seat.persona or f"You are {seat.name}, a friendly chatbot."
    setting = f"You are {seat.name}, in a conversation with {_others(seats, index)}."
    if style == "labelled":
        setting += (" The others' lines reach you prefixed with their names. Reply with your own next line "
                    "only, without a name prefix.")
    return f"{persona}\n\n{setting}"


def _merge(messages: list[Message]) -> list[Message]:
    out: list[Message] = []
    for m in messages:
        if out and out[-1]["role"] == m["role"]:
            out[-1] = {"role": m["role"], "content": out[-1]["content"] + "\n\n" + m["content"]}
        else:
            out.append(dict(m))
    return out


def labelled_messages(seats: Sequence[Seat], index: int, turns: Sequence[Turn]) -> list[Message]:
    """Seat ``index``'s view: own turns as ``assistant``, the others' as ``user`` labelled with names."""
    body: list[Message] = []
    for t in turns:
        if not t.spoken:
            continue
        if t.seat == index:
            body.append({"role": "assistant", "content": t.text.strip()})
        else:
            body.append({"role": "user", "content": f"{t.name}: {t.text.strip()}"})
    name = seats[index].name
    if not body or body[0]["role"] != "user":
        body.insert(0, {"role": "user", "content": f"(The conversation begins. Say hello to {_others(seats, index)}.)"})
    if body[-1]["role"] != "user":
        body.append({"role": "user", "content": f"(The others are quiet. Go on, {name}.)"})
    return [{"role": "system", "content": seat_system(seats, index, "labelled")}, *_merge(body)]


def transcript_text(turns: Sequence[Turn]) -> str:
    """The turns that were spoken, one ``Name: text`` paragraph each."""
    return "\n\n".join(f"{t.name}: {t.text.strip()}" for t in turns if t.spoken)


def transcript_messages(seats: Sequence[Seat], index: int, turns: Sequence[Turn]) -> list[Message]:
    """Seat ``index``'s view in the transcript style: one system prompt, one user prompt."""
    name, so_far = seats[index].name, transcript_text(turns)
    if so_far:
        user = (f"The conversation so far:\n\n{so_far}\n\n"
                f"Now reply as {name} with your next line only, without a name prefix.")
    else:
        user = f"The conversation has not started yet. Open it as {name} with one short line."
    return [{"role": "system", "content": seat_system(seats, index, "transcript")},
            {"role": "user", "content": user}]


def seat_messages(seats: Sequence[Seat], index: int, turns: Sequence[Turn], style: str = "labelled") -> list[Message]:
    """The message list seat ``index`` is sent next, in the given style."""
    if style not in STYLES:
        raise ConfigError(f"unknown conversation style '{style}'", hint=f"Use one of {', '.join(STYLES)}.")
    build = labelled_messages if style == "labelled" else transcript_messages
    return build(seats, index, turns)


def own_line(text: str, name: str) -> str:
    """A reply without the speaker's own name echoed in front ("Alex: …"), which models often copy from the
    labelled lines. The run log keeps the reply as the model wrote it."""
    text = text.strip()
    prefix = f"{name}:"
    return text[len(prefix):].strip() if text.lower().startswith(prefix.lower()) else text


def stop_when(stop: str | Callable[[Turn, list[Turn]], bool] | None) -> Callable[[Turn, list[Turn]], bool]:
    """A stop test: a phrase (case-insensitive, in a spoken turn), a callable (turn, turns) → bool, or never."""
    if stop is None:
        return lambda turn, turns: False
    if callable(stop):
        return stop
    if isinstance(stop, str) and stop.strip():
        phrase = stop.strip().lower()
        return lambda turn, turns: phrase in turn.text.lower()
    raise ConfigError(f"stop={stop!r} is not a stop condition",
                      hint="Pass a phrase or a function (turn, turns) -> bool.")


# -- running ------------------------------------------------------------------------------------------
class Conversation:
    """N seats taking turns. ``run`` may be called again to continue; ``cancel`` stops after the current turn."""

    def __init__(self, seats: Sequence[Seat], *, style: str = "labelled", store: run_log.Store | None = None,
                 use_cache: bool = False) -> None:
        if style not in STYLES:
            raise ConfigError(f"unknown conversation style '{style}'", hint=f"Use one of {', '.join(STYLES)}.")
        self.seats = check_seats(seats)
        self.style, self.use_cache = style, use_cache
        self._store = store
        self.turns: list[Turn] = []
        self.run_id: str | None = None
        self.ended_by = ""
        self._cancel = threading.Event()

    @property
    def store(self) -> run_log.Store:
        return self._store or run_log.default()

    def cancel(self) -> None:
        """Ask a running conversation to stop after the turn in progress."""
        self._cancel.set()

    def messages_for(self, index: int) -> list[Message]:
        return seat_messages(self.seats, index, self.turns, self.style)

    def _open(self, opening: str | Sequence[str] | None) -> list[Turn]:
        lines = [opening] if isinstance(opening, str) else list(opening or [])
        if len(lines) > len(self.seats):
            raise ConfigError(f"{len(lines)} opening lines for {len(self.seats)} seats",
                              hint="Give at most one opening line per seat, in seat order.")
        new = [Turn(round=0, seat=i, name=self.seats[i].name, text=line.strip())
               for i, line in enumerate(lines) if line and line.strip()]
        self.turns.extend(new)
        return new

    def run(self, rounds: int = 3, opening: str | Sequence[str] | None = None,
            stop: str | Callable[[Turn, list[Turn]], bool] | None = None,
            on_turn: Callable[[Turn], None] | None = None,
            on_text: Callable[[int, str], None] | None = None) -> Conversation:
        """Play ``rounds`` rounds (every seat speaks once per round, in turn). Returns self.

        A round starts with the seat after the one that spoke last: after an opening line for seat 1 only,
        seat 2 answers it (seat 1 never speaks twice in a row), and a second ``run`` carries on in turn.
        ``opening`` holds scripted first lines (one per seat, in order); ``stop`` ends the conversation
        after a turn that matches; ``on_turn`` sees each finished turn; ``on_text(seat, piece)`` streams.
        """
        from helpers.llm import ask

        if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= 100:
            raise ConfigError(f"rounds={rounds!r} is out of range", hint="rounds is a whole number from 1 to 100.")
        should_stop = stop_when(stop)
        self._cancel.clear()
        if self.run_id is None:
            config = {"style": self.style, "rounds": rounds,
                      "seats": [{"spec": s.spec, "name": s.name, "persona": s.persona, "params": s.params}
                                for s in self.seats]}
            self.run_id = self.store.new_run("chat", label=" · ".join(s.name for s in self.seats), config=config)
        for turn in self._open(opening):
            if on_turn is not None:
                on_turn(turn)
        first = max((t.round for t in self.turns), default=0) + 1
        start = (self.turns[-1].seat + 1) % len(self.seats) if self.turns else 0
        order = [(start + j) % len(self.seats) for j in range(len(self.seats))]  # whoever spoke last waits
        self.ended_by = f"{rounds} round(s) done"
        for rnd in range(first, first + rounds):
            for i in order:
                seat = self.seats[i]
                if self._cancel.is_set():
                    self.ended_by = "stopped by the user"
                    return self
                stream = (lambda piece, i=i: on_text(i, piece)) if on_text else None
                answer = ask(seat.spec, self.messages_for(i), run_id=self.run_id, cell=f"round{rnd}/{seat.name}",
                             store=self.store, use_cache=self.use_cache, on_text=stream, **seat.params)
                turn = Turn(round=rnd, seat=i, name=seat.name, text=own_line(answer.text, seat.name), answer=answer)
                self.turns.append(turn)
                if on_turn is not None:
                    on_turn(turn)
                if turn.spoken and should_stop(turn, self.turns):
                    self.ended_by = f"stop condition met by {seat.name} in round {rnd}"
                    return self
        return self

    # -- results ------------------------------------------------------------------------------------
    @property
    def answers(self) -> list[Answer]:
        return [t.answer for t in self.turns if t.answer is not None]

    def totals(self) -> dict[str, Any]:
        """Calls, failures, dollars and grams CO2e over the turns (unknown figures counted apart)."""
        answers = self.answers
        costs = [a.cost_usd for a in answers if a.cost_usd is not None]
        grams = [a.g_co2e for a in answers if a.g_co2e is not None]
        return {"calls": len(answers), "failed": sum(1 for a in answers if not a.ok),
                "cost_usd": sum(costs), "cost_unknown": len(answers) - len(costs),
                "g_co2e": sum(grams), "g_unknown": len(answers) - len(grams)}

    def summary(self) -> str:
        t = self.totals()
        cost = display.fmt_cost(t["cost_usd"]) if t["calls"] > t["cost_unknown"] else "n/a"
        grams = display.fmt_g(t["g_co2e"]) if t["calls"] > t["g_unknown"] else "n/a"
        methods = list(dict.fromkeys(a.emissions.headline_method for a in self.answers if a.g_co2e is not None))
        if methods:  # one figure per turn, summed: say which method each came from
            grams += f" ({' + '.join(display.HEADLINE_METHODS.get(m, m) for m in methods if m)})"
        parts = [f"{t['calls']} call(s)", f"{t['failed']} failed", f"cost {cost}"
                 + (f" (+{t['cost_unknown']} unpriced)" if t["cost_unknown"] and cost != "n/a" else ""),
                 f"CO2e {grams}", f"run {self.run_id}"]
        return " · ".join(parts) + (f" · {self.ended_by}" if self.ended_by else "")

    def to_text(self, width: int | None = None) -> str:
        """The transcript for a terminal."""
        width = width or min(shutil.get_terminal_size((100, 40)).columns, 100)
        return "\n\n".join([*(turn_text(t, self.seats[t.seat].spec, width) for t in self.turns),
                            "── " + self.summary()])

    def to_markdown(self) -> str:
        """The transcript for a notebook."""
        return "\n\n".join([*(turn_markdown(t, self.seats[t.seat].spec) for t in self.turns),
                            f"<small>{display.escape(self.summary())}</small>"])

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_text()


def turn_text(turn: Turn, spec: str, width: int = 100) -> str:
    """One turn for a terminal: name and model, wrapped text (or the error), stats."""
    head = f"{turn.name} ({spec})" + (" — opening line" if turn.opening else "")
    if turn.answer is not None:
        head += display.tags(turn.answer)
    lines = [head]
    for para in turn.text.splitlines() or ([] if turn.error else [""]):
        lines.extend(textwrap.wrap(para, width - 2, initial_indent="  ", subsequent_indent="  ") or [""])
    if turn.error:
        lines.append(f"  ⚠ {turn.error}")
    if turn.answer is not None:
        lines.append(f"  [{display.stats_line(turn.answer)}]")
    return "\n".join(lines)


def turn_markdown(turn: Turn, spec: str) -> str:
    """One turn for a notebook."""
    head = f"**{display.escape(turn.name)}** · `{spec}`" + (" · opening line" if turn.opening else "")
    if turn.answer is not None:
        head += display.escape(display.tags(turn.answer))
    body = "\n".join(f"> {display.escape(line)}" if line else ">" for line in turn.text.splitlines())
    parts = [head] + ([body] if body else [])
    if turn.error:
        parts.append(f"> ⚠ {display.md_text(turn.error)}")
    if turn.answer is not None:
        parts.append(f"<small>{display.escape(display.stats_line(turn.answer))}</small>")
    return "\n\n".join(parts)


def chat(models: Sequence[str], rounds: int = 3, personas: Sequence[str] = (), names: Sequence[str] = (),
         opening: str | Sequence[str] | None = None, style: str = "labelled", **params: Any) -> Conversation:
    """One-call conversation for notebooks: ``chat(["openai/gpt-4.1-mini", "groq/…"], rounds=3)``."""
    return Conversation(make_seats(models, personas, names, params), style=style).run(rounds, opening)
