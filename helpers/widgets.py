"""Notebook widgets (ipywidgets): a model playground and a conversation widget.

Both are plain objects holding their widgets as attributes, so tests (and curious students) can drive them:
set ``.prompt.value``, call ``.run_button.click()``, ``.wait()``, read ``.panes[spec].value``. Calls run in
background threads, so the notebook stays responsive and Stop works. What the widgets show comes from
pure functions (``model_options``, ``answer_html``, ``transcript_html``).

Where widgets cannot render (no ipywidgets, a plain terminal, a frontend without the widget manager), the
objects show a text message saying so and what to use instead.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Sequence
from typing import Any

from helpers import catalog, display
from helpers.answer import Answer
from helpers.conversation import STYLES, Conversation, Seat, Turn
from helpers.errors import ConfigError, LabError

FALLBACK = ("This is an LLM Lab widget, but widgets cannot render here. In JupyterLab 4 or Notebook 7 they work "
            "once ipywidgets is installed (`pip install -r requirements.txt`, then reload the page); in classic "
            "Notebook 6 also run `jupyter nbextension enable --py widgetsnbextension`. Without widgets, use "
            "helpers.ask_many([...], prompt) or helpers.conversation.chat([...]) in code, or "
            "`python -m helpers ask` / `python -m helpers chat` in a terminal.")
UNAVAILABLE = "unavailable: set "


def _ipywidgets() -> Any:
    try:
        import ipywidgets
    except ImportError as exc:
        raise ConfigError("ipywidgets is not installed, so the widgets cannot be built", hint=FALLBACK) from exc
    return ipywidgets


# -- pure parts ---------------------------------------------------------------------------------------
def unavailable_reason(provider: catalog.Provider, ollama_up: bool) -> str:
    """Why a provider's models cannot answer right now ("" when they can)."""
    if not provider.has_key():
        return f"{UNAVAILABLE}{provider.key_var}"
    if provider.name == "ollama" and not ollama_up:
        return "unavailable: Ollama is not running (start it with `ollama serve`)"
    return ""


def model_options() -> list[tuple[str, str]]:
    """(label, spec) for every suggested catalog model; models that cannot answer now (no key, Ollama not
    running) are marked unavailable and listed after the available ones."""
    from helpers.providers import ollama

    ollama_up = ollama.status(timeout=0.5).running
    ready, missing = [], []
    for p in catalog.providers().values():
        reason = unavailable_reason(p, ollama_up)
        for model in p.suggested():
            spec = f"{p.name}/{model}"
            if reason:
                missing.append((f"{spec} — {reason}", spec))
            else:
                ready.append((spec, spec))
    return ready + missing


def is_available(spec: str) -> bool:
    return catalog.has_key(spec.split("/", 1)[0])


def _text_block(text: str) -> str:
    return f"<div style='white-space:pre-wrap'>{html.escape(text)}</div>"


def pending_html(spec: str, text: str = "") -> str:
    """A pane while the answer is on its way (text streamed so far)."""
    body = _text_block(text) if text else "<i>waiting for the answer…</i>"
    return f"<b>{html.escape(spec)}</b><br>{body}"


def answer_html(answer: Answer) -> str:
    """A finished pane: the answer (or the error and its fix) with tokens, latency, cost and g CO2e."""
    head = f"<b>{html.escape(answer.spec)}</b>{html.escape(display.tags(answer))}"
    parts = [head]
    if answer.text:
        parts.append(_text_block(answer.text.strip()))
    if not answer.ok:
        parts.append(f"<div style='color:#b00'>⚠ {html.escape(answer.error or '')}</div>")
    rows = [("tokens", display.fmt_tokens(answer)), ("latency", display.fmt_s(answer.latency_s))]
    if answer.ttft_s is not None:
        rows.append(("first token", display.fmt_s(answer.ttft_s)))
    rows.append(("cost", display.fmt_cost(answer.cost_usd)))
    rows += [(f"CO2e, {method}", figure) for method, figure in display.co2e_parts(answer)] or [("CO2e", "n/a")]
    model = display.imitated(answer)
    if model:
        rows.append(("", f"estimates for {model}, which this recorded answer imitates"))
    table = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    parts.append(f"<table style='font-size:smaller'>{table}</table>")
    return "".join(parts)


def turn_html(turn: Turn, spec: str) -> str:
    """One conversation turn."""
    head = f"<b>{html.escape(turn.name)}</b> <small>{html.escape(spec)}</small>"
    if turn.opening:
        head += " <small>(opening line)</small>"
    parts = [head]
    if turn.text:
        parts.append(_text_block(turn.text))
    if turn.error:
        parts.append(f"<div style='color:#b00'>⚠ {html.escape(turn.error)}</div>")
    if turn.answer is not None:
        parts.append(f"<small>{html.escape(display.stats_line(turn.answer))}</small>")
    return "<div style='margin-bottom:0.8em'>" + "".join(parts) + "</div>"


def transcript_html(chat: Conversation, pending: tuple[int, str] | None = None) -> str:
    """The whole conversation so far, with the turn being streamed (seat, text) at the end."""
    parts = [turn_html(t, chat.seats[t.seat].spec) for t in chat.turns]
    if pending is not None:
        seat = chat.seats[pending[0]]
        parts.append(f"<div><b>{html.escape(seat.name)}</b> <small>{html.escape(seat.spec)}</small>"
                     f"{_text_block(pending[1] + ' …')}</div>")
    return "".join(parts)


def _failure(exc: Exception) -> str:
    """A LabError's message (it names the fix); anything else with its type, since it is a bug."""
    return str(exc) if isinstance(exc, LabError) else f"{type(exc).__name__}: {exc}"


class _Shown:
    """Display support shared by both widgets: the widget where it renders, FALLBACK text elsewhere."""

    widget: Any

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        return {**bundle, "text/plain": FALLBACK}

    def __str__(self) -> str:
        return FALLBACK


# -- playground ---------------------------------------------------------------------------------------
class Playground(_Shown):
    """Choose models, write a prompt, Run: answers side by side, streamed as they arrive."""

    def __init__(self, models: Sequence[str] = (), refresh_s: float = 0.1) -> None:
        w = _ipywidgets()
        options = model_options()
        known = {spec for _, spec in options}
        chosen = tuple(m for m in models if m in known) or tuple(
            spec for _, spec in options[:1] if is_available(spec))
        self.refresh_s = refresh_s
        self.models = w.SelectMultiple(options=options, value=chosen, rows=8, description="Models",
                                       layout=w.Layout(width="100%"))
        self.prompt = w.Textarea(placeholder="Your prompt", description="Prompt", layout=w.Layout(width="100%"))
        self.system = w.Textarea(placeholder="Optional system prompt", description="System",
                                 layout=w.Layout(width="100%"))
        self.temperature = w.FloatSlider(value=0.7, min=0.0, max=2.0, step=0.1, description="Temperature")
        self.max_tokens = w.IntText(value=512, description="Max tokens")
        self.stream = w.Checkbox(value=True, description="Stream")
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.status = w.HTML()
        self.results = w.HBox(layout=w.Layout(width="100%", align_items="flex-start"))
        self.panes: dict[str, Any] = {}
        self.answers: dict[str, Answer] = {}
        self._threads: list[threading.Thread] = []
        self._done_lock = threading.Lock()
        self.run_button.on_click(lambda _: self.run())
        controls = w.HBox([self.temperature, self.max_tokens, self.stream, self.run_button])
        self.widget = w.VBox([self.models, self.system, self.prompt, controls, self.status, self.results])

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"temperature": float(self.temperature.value)}
        if self.max_tokens.value and self.max_tokens.value > 0:
            out["max_tokens"] = int(self.max_tokens.value)
        return out

    def run(self) -> None:
        """What Run does: one thread per chosen model; panes fill in as text streams and answers finish."""
        w = _ipywidgets()
        if self.busy:
            self.status.value = "<i>Still running: wait for the answers above.</i>"
            return
        specs, prompt = list(self.models.value), self.prompt.value
        if not specs:
            self.status.value = "⚠ Choose at least one model (Ctrl/Cmd-click to choose several)."
            return
        if not prompt.strip():
            self.status.value = "⚠ Write a prompt first."
            return
        width = f"{100 / len(specs):.2f}%"
        self.panes = {s: w.HTML(pending_html(s), layout=w.Layout(width=width, padding="0 6px")) for s in specs}
        self.answers = {}
        self.results.children = tuple(self.panes.values())
        self.status.value = f"<i>Asking {len(specs)} model(s)…</i>"
        system = self.system.value if self.system.value.strip() else None
        self._threads = [threading.Thread(target=self._ask, args=(s, prompt, system, self.params()), daemon=True)
                         for s in specs]
        for t in self._threads:
            t.start()

    def _ask(self, spec: str, prompt: str, system: str | None, params: dict[str, Any]) -> None:
        from helpers.llm import ask

        pane, pieces, last = self.panes[spec], [], [0.0]

        def on_text(piece: str) -> None:
            pieces.append(piece)
            now = time.monotonic()
            if now - last[0] >= self.refresh_s:
                last[0] = now
                pane.value = pending_html(spec, "".join(pieces))

        try:
            answer = ask(spec, prompt, system=system, on_text=on_text if self.stream.value else None, **params)
        except Exception as exc:  # noqa: BLE001 - a background thread: show the failure in the pane, not nowhere
            answer = Answer(spec=spec, provider=spec.split("/", 1)[0], model=spec.split("/", 1)[-1],
                            error=_failure(exc), error_kind=exc.kind if isinstance(exc, LabError) else "unexpected")
            if isinstance(exc, LabError):
                answer.record_error(exc)  # keeps its hint apart too
        pane.value = answer_html(answer)
        with self._done_lock:  # the last thread to finish writes the summary, once
            self.answers[spec] = answer
            if len(self.answers) == len(self.panes):
                failed = sum(1 for a in self.answers.values() if not a.ok)
                self.status.value = f"Done: {len(self.answers)} answer(s)" + (f", {failed} failed." if failed else ".")

    @property
    def busy(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def wait(self, timeout: float = 60) -> Playground:
        """Block until every answer is in (for tests and scripts)."""
        for t in self._threads:
            t.join(timeout)
        return self


# -- conversation -------------------------------------------------------------------------------------
class ConversationWidget(_Shown):
    """Seats (model, name, persona), rounds, style and an opening line; Start and Stop."""

    def __init__(self, seats: int | Sequence[Seat] = 2, rounds: int = 3) -> None:
        w = _ipywidgets()
        self._w = w
        self.options = model_options()
        self.seat_rows: list[dict[str, Any]] = []
        self.rows_box = w.VBox()
        for seat in (seats if not isinstance(seats, int) else [Seat(catalog.default_spec())] * seats):
            self.add_seat(seat)
        self.add_button = w.Button(description="Add seat", icon="plus")
        self.remove_button = w.Button(description="Remove seat", icon="minus")
        self.rounds = w.IntSlider(value=rounds, min=1, max=20, description="Rounds")
        self.max_tokens = w.IntText(value=200, description="Max tokens")  # per turn; 0: the provider's default
        self.style = w.Dropdown(options=list(STYLES), value="labelled", description="Style")
        self.opening = w.Text(placeholder="Optional opening line for the first seat", description="Opening",
                              layout=w.Layout(width="100%"))
        self.start_button = w.Button(description="Start", button_style="primary", icon="play")
        self.stop_button = w.Button(description="Stop", button_style="warning", icon="stop", disabled=True)
        self.status = w.HTML()
        self.transcript = w.HTML()
        self.conversation: Conversation | None = None
        self._thread: threading.Thread | None = None
        self.add_button.on_click(lambda _: self.add_seat())
        self.remove_button.on_click(lambda _: self.remove_seat())
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        buttons = w.HBox([self.add_button, self.remove_button, self.rounds, self.max_tokens, self.style])
        self.widget = w.VBox([self.rows_box, buttons, self.opening, w.HBox([self.start_button, self.stop_button]),
                              self.status, self.transcript])

    def add_seat(self, seat: Seat | None = None) -> None:
        w = self._w
        seat = seat or Seat(catalog.default_spec())
        specs = [spec for _, spec in self.options]
        options = self.options if seat.spec in specs else [(seat.spec, seat.spec), *self.options]
        row = {"model": w.Dropdown(options=options, value=seat.spec, description=f"Seat {len(self.seat_rows) + 1}"),
               "name": w.Text(value=seat.name, placeholder="name"),
               "persona": w.Textarea(value=seat.persona, placeholder="persona (system prompt)",
                                     layout=w.Layout(width="40%"))}
        self.seat_rows.append(row)
        self.rows_box.children = tuple(w.HBox(list(r.values())) for r in self.seat_rows)

    def remove_seat(self) -> None:
        if len(self.seat_rows) > 2:
            self.seat_rows.pop()
            self.rows_box.children = self.rows_box.children[:-1]

    def seats(self) -> list[Seat]:
        """The seats as set in the rows, each with the Max tokens limit (none when 0)."""
        params = ({"max_tokens": int(self.max_tokens.value)}
                  if self.max_tokens.value and self.max_tokens.value > 0 else {})
        return [Seat(spec=r["model"].value, name=r["name"].value, persona=r["persona"].value, params=dict(params))
                for r in self.seat_rows]

    def start(self) -> None:
        """What Start does: build the seats and run the conversation in a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        try:
            chat = Conversation(self.seats(), style=self.style.value)
        except ConfigError as exc:
            self.status.value = f"⚠ {html.escape(str(exc))}"
            return
        self.conversation = chat
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.status.value = "<i>Talking…</i>"
        self.transcript.value = ""
        self._thread = threading.Thread(target=self._run, args=(chat, self.rounds.value, self.opening.value),
                                        daemon=True)
        self._thread.start()

    def _run(self, chat: Conversation, rounds: int, opening: str) -> None:
        pending: dict[int, list[str]] = {}

        def on_text(seat: int, piece: str) -> None:
            pending.setdefault(seat, []).append(piece)
            self.transcript.value = transcript_html(chat, (seat, "".join(pending[seat])))

        def on_turn(turn: Turn) -> None:
            pending.clear()
            self.transcript.value = transcript_html(chat)

        try:
            chat.run(rounds, opening=opening or None, on_turn=on_turn, on_text=on_text)
            self.status.value = html.escape(chat.summary())
        except Exception as exc:  # noqa: BLE001 - a background thread: show the failure, not nowhere
            self.status.value = f"⚠ {html.escape(_failure(exc))}"
        finally:
            self.transcript.value = transcript_html(chat)
            self.start_button.disabled, self.stop_button.disabled = False, True

    def stop(self) -> None:
        """What Stop does: end the conversation after the turn in progress."""
        if self.conversation is not None:
            self.conversation.cancel()
            self.status.value = "<i>Stopping after this turn…</i>"

    def wait(self, timeout: float = 60) -> ConversationWidget:
        if self._thread is not None:
            self._thread.join(timeout)
        return self


def playground(models: Sequence[str] = ()) -> Playground:
    """The model playground (display it as a cell's last expression)."""
    return Playground(models)


def conversation(seats: int | Sequence[Seat] = 2, rounds: int = 3) -> ConversationWidget:
    """The conversation widget."""
    return ConversationWidget(seats, rounds)
