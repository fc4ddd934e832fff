"""`llmlab chat`: a conversation between two or more models, each seat with its own persona."""

from __future__ import annotations

import argparse

from helpers import conversation, display
from helpers.conversation import Conversation, Turn, turn_text


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="let two or more models talk to each other",
                       description="A conversation between models: each -m is a seat that speaks once per round. "
                                   "Each seat calls its own provider; every turn goes to the run log with its "
                                   "cost and emissions. A failed turn is shown and the conversation goes on.")
    p.add_argument("-m", "--model", action="append", dest="models", metavar="SPEC", required=True,
                   help="a seat's provider/model-id[@param=value]; repeat for each seat (2 or more)")
    p.add_argument("--persona", action="append", default=[], metavar="TEXT",
                   help="a seat's persona (system prompt); repeat, in seat order")
    p.add_argument("--name", action="append", default=[], metavar="NAME",
                   help="a seat's name; repeat, in seat order (default: the model's name)")
    p.add_argument("--opening", action="append", default=[], metavar="TEXT",
                   help="a scripted opening line; repeat, in seat order")
    p.add_argument("-r", "--rounds", type=int, default=3, help="rounds (each seat speaks once per round)")
    p.add_argument("--style", choices=conversation.STYLES, default="labelled",
                   help="labelled: others' turns as named user messages; transcript: one prompt holding "
                        "the whole transcript (the course's 3-way style)")
    p.add_argument("--stop", metavar="PHRASE", help="end the conversation when a turn contains this phrase")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument("--timeout", type=float, help="seconds per request")
    p.add_argument("--cache", action="store_true",
                   help="reuse answers from the run log for identical requests (default: ask afresh)")
    p.add_argument("--markdown", action="store_true", help="print the transcript as Markdown at the end")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    params = {k: v for k, v in {"temperature": args.temperature, "max_tokens": args.max_tokens,
                                "timeout": args.timeout}.items() if v is not None}
    seats = conversation.make_seats(args.models, args.persona, args.name, params)
    chat = Conversation(seats, style=args.style, use_cache=args.cache)

    def show(turn: Turn) -> None:
        if not args.markdown:
            print(display.terminal(turn_text(turn, chat.seats[turn.seat].spec)) + "\n", flush=True)

    chat.run(args.rounds, opening=args.opening, stop=args.stop, on_turn=show)
    if args.markdown:
        print(display.terminal(chat.to_markdown()))
    else:
        print(display.terminal("── " + chat.summary()))
    return 1 if chat.totals()["failed"] else 0
