"""Seeded generators of known-answer puzzles, any size: the answers are computed (exact fractions, the
calendar), never typed, so a class can ask 100 questions and watch the error bars shrink.

Spelling (``--puzzles`` or ``compare(models, "gen:…")``)::

    gen:arithmetic?n=100&seed=7          100 order-of-operations sums, seed 7
    gen:percent+fractions?n=40           families joined with '+', taken in turn
    gen:mixed?n=60&seed=1&style=steps    every family; a step-by-step system prompt on each puzzle

Families: arithmetic (order of operations), units (unit conversions), percent (percentages and
discounts), fractions, dates (weekdays), logic (orderings), and ``mixed`` (all of them). Options:
``n`` (1–10000, default 20), ``seed`` (default 0), ``style`` = ``direct`` (answer only) or ``steps``
(think step by step first); without ``style`` no system prompt is sent. The same spelling always gives
the same puzzles; the seed is part of every id (``arithmetic-s7-001``), so two runs line up cell by
cell only when they asked the same questions.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qsl

from helpers.errors import ConfigError

PREFIX = "gen:"
MAX_N = 10_000
STYLES = {
    "direct": "Reply with the final answer only, on one line: 'Answer: <answer>'. Do not explain.",
    "steps": "Think step by step, briefly, then give the final answer on a last line: 'Answer: <answer>'.",
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NAMES = ("Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena")
_LAST = " Give the result on a last line 'Answer: <number>'."


def _number(x: Fraction) -> str:
    """An exact value as text: 12, -3, 2.5, or 7/12 when it has no short decimal form."""
    if x.denominator == 1:
        return str(x.numerator)
    for places in range(1, 5):
        scaled = x * 10**places
        if scaled.denominator == 1:
            return f"{float(x):.{places}f}"
    return f"{x.numerator}/{x.denominator}"


def _fraction(f: Fraction) -> str:
    return f"{f.numerator}/{f.denominator}" if f.denominator != 1 else str(f.numerator)


def arithmetic(rng: random.Random) -> tuple[str, str, str]:
    """Three or four whole numbers with +, − and ×, evaluated with × first."""
    count = rng.choice((3, 4))
    nums = [rng.randint(2, 20) for _ in range(count)]
    ops = [rng.choice("+-×") for _ in range(count - 1)]
    if "×" not in ops:
        ops[rng.randrange(len(ops))] = "×"
    terms: list[list[int]] = [[nums[0]]]
    signs = [1]
    for op, x in zip(ops, nums[1:]):
        if op == "×":
            terms[-1].append(x)
        else:
            terms.append([x])
            signs.append(1 if op == "+" else -1)
    value = 0
    for sign, factors in zip(signs, terms):
        product = 1
        for f in factors:
            product *= f
        value += sign * product
    expr = " ".join([str(nums[0]), *(f"{op.replace('-', '−')} {x}" for op, x in zip(ops, nums[1:]))])
    return f"Compute {expr} (usual order of operations)." + _LAST, str(value), "numeric"


_UNITS = [  # (from, to, factor, answer carries the unit (the grader converts lengths))
    ("km", "m", Fraction(1000), True), ("m", "cm", Fraction(100), True), ("cm", "mm", Fraction(10), True),
    ("m", "km", Fraction(1, 1000), True), ("mm", "cm", Fraction(1, 10), True),
    ("kilograms", "grams", Fraction(1000), False), ("grams", "kilograms", Fraction(1, 1000), False),
    ("hours", "minutes", Fraction(60), False), ("minutes", "seconds", Fraction(60), False),
    ("litres", "millilitres", Fraction(1000), False), ("days", "hours", Fraction(24), False),
]


def units(rng: random.Random) -> tuple[str, str, str]:
    """Convert a quantity between units of length, mass, time or volume."""
    src, dst, factor, with_unit = rng.choice(_UNITS)
    amount = Fraction(rng.randint(1, 400), rng.choice((1, 1, 2, 4, 10)))
    value = amount * factor
    prompt = (f"Convert {_number(amount)} {src} to {dst}. Give the number of {dst} on a last line "
              f"'Answer: <number>'.")
    return prompt, _number(value) + (f" {dst}" if with_unit else ""), "numeric"


def percent(rng: random.Random) -> tuple[str, str, str]:
    """A percentage of a number, or a price after a discount."""
    rate = rng.choice((5, 10, 15, 20, 25, 30, 40, 50, 75))
    if rng.random() < 0.5:
        base = rng.randint(2, 60) * 20
        return f"What is {rate}% of {base}?" + _LAST, _number(Fraction(rate * base, 100)), "numeric"
    price, count = rng.randint(2, 40) * 5, rng.randint(1, 6)
    things = rng.choice(("shirts", "books", "mugs", "lamps", "tickets"))
    total = Fraction(price * count * (100 - rate), 100)
    prompt = (f"A shop sells {things} at {price} dollars each. You buy {count} and get {rate}% off the whole "
              f"purchase. How much do you pay? Give the amount on a last line 'Answer: <amount>'.")
    return prompt, "$" + _number(total), "numeric"


def fractions(rng: random.Random) -> tuple[str, str, str]:
    """Add, subtract or multiply two fractions; the answer in lowest terms."""
    a = Fraction(rng.randint(1, 9), rng.randint(2, 12))
    b = Fraction(rng.randint(1, 9), rng.randint(2, 12))
    op = rng.choice("+−×")
    value = a + b if op == "+" else a - b if op == "−" else a * b
    prompt = (f"Compute {_fraction(a)} {op} {_fraction(b)} as a fraction in lowest terms. Give it on a last line "
              f"'Answer: <fraction>'.")
    return prompt, _fraction(value), "numeric"


def dates(rng: random.Random) -> tuple[str, str, str]:
    """The weekday some days after a date whose weekday is given."""
    start = dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 3650))
    days = rng.randint(2, 120)
    end = start + dt.timedelta(days=days)
    prompt = (f"{start.day} {start:%B} {start.year} was a {WEEKDAYS[start.weekday()]}. What day of the week is "
              f"{days} days later, on {end.day} {end:%B} {end.year}? Give the day on a last line 'Answer: <day>'.")
    return prompt, WEEKDAYS[end.weekday()], "choice"


def logic(rng: random.Random) -> tuple[str, str, str]:
    """An ordering from pairwise comparisons, given shuffled: who is first or last?"""
    people = rng.sample(NAMES, rng.choice((3, 4)))  # tallest first
    facts = [f"{people[i]} is taller than {people[i + 1]}." for i in range(len(people) - 1)]
    rng.shuffle(facts)
    ask_tallest = rng.random() < 0.5
    question = "Who is the tallest?" if ask_tallest else "Who is the shortest?"
    prompt = " ".join(facts) + f" {question} Give the name on a last line 'Answer: <name>'."
    return prompt, people[0] if ask_tallest else people[-1], "choice:" + ",".join(sorted(people))


FAMILIES: dict[str, Callable[[random.Random], tuple[str, str, str]]] = {
    "arithmetic": arithmetic, "units": units, "percent": percent, "fractions": fractions, "dates": dates,
    "logic": logic}


def is_generated(name: object) -> bool:
    return isinstance(name, str) and name.strip().startswith(PREFIX)


def _fail(spelling: str, message: str) -> ConfigError:
    return ConfigError(f"puzzle generator '{spelling}': {message}",
                       hint=f"Write gen:FAMILY[+FAMILY…]?n=100&seed=7[&style=direct|steps]; families: "
                            f"{', '.join(FAMILIES)}, mixed.")


def parse(spelling: str) -> tuple[list[str], int, int, str | None]:
    """(families, n, seed, style) from a ``gen:`` spelling; ConfigError naming the fix."""
    body = spelling.strip()[len(PREFIX):]
    names, _, query = body.partition("?")
    families = [f.strip().lower() for f in names.split("+") if f.strip()]
    if families == ["mixed"]:
        families = list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if not families or unknown:
        raise _fail(spelling, f"unknown family {', '.join(unknown) or '(none given)'}")
    options = dict(parse_qsl(query, keep_blank_values=True))
    extra = sorted(set(options) - {"n", "seed", "style"})
    if extra:
        raise _fail(spelling, f"unknown option(s) {', '.join(extra)}")
    try:
        n, seed = int(options.get("n", "20")), int(options.get("seed", "0"))
    except ValueError:
        raise _fail(spelling, "n and seed must be whole numbers") from None
    if not 1 <= n <= MAX_N:
        raise _fail(spelling, f"n={n} is outside 1–{MAX_N}")
    style = options.get("style") or None
    if style is not None and style not in STYLES:
        raise _fail(spelling, f"style={style!r} is not one of {', '.join(STYLES)}")
    return families, n, seed, style


def generate(spelling: str) -> list[dict[str, Any]]:
    """The puzzles a ``gen:`` spelling names, as puzzle mappings (``puzzles.load`` validates them into
    Puzzles); the same spelling always gives the same puzzles."""
    families, n, seed, style = parse(spelling)
    rng = random.Random(f"{seed}:{'+'.join(families)}")
    system = STYLES[style] if style else None
    out = []
    for i in range(n):
        family = families[i % len(families)]
        prompt, answer, grader = FAMILIES[family](rng)
        item: dict[str, Any] = {"id": f"{family}-s{seed}-{i + 1:03d}", "prompt": prompt, "answer": answer,
                                 "grader": grader, "tags": [family, "generated"]}
        if grader == "choice":
            item["choices"] = list(WEEKDAYS)
        elif grader.startswith("choice:"):
            item.update(grader="choice", choices=grader.split(":", 1)[1].split(","))
        if system:
            item["system"] = system
        out.append(item)
    return out
