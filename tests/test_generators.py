"""Seeded puzzle generators: every answer checked by an independent computation from the prompt's own
words; the same spelling gives the same puzzles; each expected answer passes its own grader; bad
spellings name the fix. Puzzle files in CSV and JSON Lines load like YAML and fail with the same messages."""

from __future__ import annotations

import ast
import datetime as dt
import json
import operator
import re
from fractions import Fraction
from pathlib import Path

import pytest

from helpers.compare import generators, graders, puzzles
from helpers.errors import ConfigError

N = 60  # per family: enough to reach every branch of every generator


def _eval(expr: str) -> int:
    """An arithmetic expression (+, −, ×) evaluated by Python's own parser and precedence."""
    tree = ast.parse(expr.replace("×", "*").replace("−", "-"), mode="eval")
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}

    def walk(node: ast.AST) -> int:
        if isinstance(node, ast.BinOp):
            return ops[type(node.op)](walk(node.left), walk(node.right))
        assert isinstance(node, ast.Constant) and isinstance(node.value, int)
        return node.value
    return walk(tree.body)


FACTORS = {("km", "m"): 1000, ("m", "cm"): 100, ("cm", "mm"): 10, ("m", "km"): Fraction(1, 1000),
           ("mm", "cm"): Fraction(1, 10), ("kilograms", "grams"): 1000, ("grams", "kilograms"): Fraction(1, 1000),
           ("hours", "minutes"): 60, ("minutes", "seconds"): 60, ("litres", "millilitres"): 1000,
           ("days", "hours"): 24}


def _value(text: str) -> Fraction:
    return Fraction(text.replace("$", "").split()[0])


def check(p: puzzles.Puzzle) -> None:
    """Recompute p's answer from its prompt alone."""
    family = p.id.split("-")[0]
    text = p.prompt
    if family == "arithmetic":
        expr = re.match(r"Compute (.+) \(usual order of operations\)", text).group(1)  # type: ignore[union-attr]
        assert int(p.answer) == _eval(expr)
    elif family == "units":
        amount, src, dst = re.match(r"Convert ([\d.]+) (\w+) to (\w+)\.", text).groups()  # type: ignore[union-attr]
        assert _value(p.answer) == Fraction(amount) * FACTORS[(src, dst)]
        assert p.answer.endswith(f" {dst}") == (dst in ("m", "cm", "mm", "km"))
    elif family == "percent":
        if m := re.match(r"What is (\d+)% of (\d+)\?", text):
            assert _value(p.answer) == Fraction(int(m[1]) * int(m[2]), 100)
        else:
            price, count, rate = map(int, re.search(r"at (\d+) dollars each\. You buy (\d+) and get (\d+)% off",
                                                    text).groups())  # type: ignore[union-attr]
            assert p.answer.startswith("$") and _value(p.answer) == Fraction(price * count) * (100 - rate) / 100
    elif family == "fractions":
        a, op, b = re.match(r"Compute (\S+) (\S) (\S+) as a fraction", text).groups()  # type: ignore[union-attr]
        want = {"+": operator.add, "−": operator.sub, "×": operator.mul}[op](Fraction(a), Fraction(b))
        assert Fraction(p.answer) == want and p.answer == str(want)  # lowest terms, as Fraction writes it
    elif family == "dates":
        m = re.match(r"(\d+) (\w+) (\d{4}) was a (\w+)\. What day of the week is (\d+) days later", text)
        start = dt.datetime.strptime(f"{m[1]} {m[2]} {m[3]}", "%d %B %Y").date()  # type: ignore[index]
        assert start.strftime("%A") == m[4]  # type: ignore[index]  (the prompt tells the truth)
        assert p.answer == (start + dt.timedelta(days=int(m[5]))).strftime("%A")  # type: ignore[index]
    elif family == "logic":
        taller = re.findall(r"(\w+) is taller than (\w+)\.", text)
        names = {x for pair in taller for x in pair}
        top = names - {b for _, b in taller}
        bottom = names - {a for a, _ in taller}
        assert p.answer == (top.pop() if "tallest" in text else bottom.pop())
        assert set(p.choices) == names
    else:
        raise AssertionError(f"unknown family {family}")


@pytest.mark.parametrize("family", list(generators.FAMILIES))
def test_every_answer_is_what_the_prompt_computes(family: str) -> None:
    generated = puzzles.load(f"gen:{family}?n={N}&seed=3")
    assert len(generated) == N and len({p.id for p in generated}) == N
    for p in generated:
        check(p)
        assert p.id.startswith(f"{family}-s3-") and p.tags == (family, "generated")


def test_each_expected_answer_passes_its_own_grader_and_a_wrong_one_fails() -> None:
    for p in puzzles.load("gen:mixed?n=120&seed=11"):
        assert graders.grade(p, f"Working...\nAnswer: {p.answer}").correct is True, p
        wrong = "Tuesday" if p.answer != "Tuesday" else "Friday"
        if p.grader == "numeric":
            wrong = str(_value(p.answer) + 1)
        elif p.id.startswith("logic"):
            wrong = next(c for c in p.choices if c != p.answer)
        assert graders.grade(p, f"Answer: {wrong}").correct is False, p


def test_same_spelling_same_puzzles_other_seed_other_puzzles() -> None:
    a, b = puzzles.load("gen:mixed?n=30&seed=7"), puzzles.load("gen:mixed?n=30&seed=7")
    assert a == b
    c = puzzles.load("gen:mixed?n=30&seed=8")
    assert {p.id for p in a}.isdisjoint(p.id for p in c)  # the seed is in the id: runs line up only if equal
    assert [p.prompt for p in a] != [p.prompt for p in c]
    assert [p.id.split("-")[0] for p in a[:6]] == list(generators.FAMILIES)  # families taken in turn
    assert puzzles.load("gen:percent+logic?n=4")[1].id == "logic-s0-002"


def test_style_sets_a_system_prompt_and_source_keeps_the_spelling() -> None:
    steps = puzzles.load("gen:arithmetic?n=3&seed=1&style=steps")
    plain = puzzles.load("gen:arithmetic?n=3&seed=1")
    assert [p.prompt for p in steps] == [p.prompt for p in plain] and [p.id for p in steps] == [p.id for p in plain]
    assert {p.system for p in steps} == {generators.STYLES["steps"]} and {p.system for p in plain} == {None}
    assert puzzles.source(" gen:arithmetic?n=3&seed=1 ") == "gen:arithmetic?n=3&seed=1"


@pytest.mark.parametrize("spelling, says", [
    ("gen:", "unknown family (none given)"), ("gen:algebra", "unknown family algebra"),
    ("gen:arithmetic?n=0", "n=0 is outside 1–10000"), ("gen:arithmetic?n=lots", "whole numbers"),
    ("gen:arithmetic?size=3", "unknown option(s) size"), ("gen:dates?style=loud", "style='loud'"),
])
def test_bad_spellings_name_the_fix(spelling: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        puzzles.load(spelling)
    assert says in str(err.value) and "gen:FAMILY" in err.value.hint and "arithmetic" in err.value.hint


# -- files in other formats -------------------------------------------------------------------------

CSV = """id,prompt,answer,grader,choices,tags,tolerance
sum,"Add 1, 2 and 3.",6,numeric,,arithmetic|easy,0.5
dilemma,Steal or Share?,,choice,Steal|Share,,
"""
JSONL = ('{"id": "sum", "prompt": "Add 1, 2 and 3.", "answer": 6, "grader": "numeric", "tags": ["arithmetic", '
         '"easy"], "tolerance": 0.5}\n\n{"id": "dilemma", "prompt": "Steal or Share?", "grader": "choice", '
         '"choices": ["Steal", "Share"]}\n')
YAML = """- {id: sum, prompt: "Add 1, 2 and 3.", answer: 6, grader: numeric, tags: [arithmetic, easy], tolerance: 0.5}
- {id: dilemma, prompt: "Steal or Share?", grader: choice, choices: [Steal, Share]}
"""


def test_csv_jsonl_and_yaml_give_the_same_puzzles(tmp_path: Path) -> None:
    loaded = []
    for name, text in (("p.csv", CSV), ("p.jsonl", JSONL), ("p.yaml", YAML)):
        (tmp_path / name).write_text(text, encoding="utf-8")
        loaded.append(puzzles.load(tmp_path / name))
    assert loaded[0] == loaded[1] == loaded[2]
    assert loaded[0][0] == puzzles.Puzzle(id="sum", prompt="Add 1, 2 and 3.", answer="6", grader="numeric",
                                          tags=("arithmetic", "easy"), tolerance=0.5)
    assert loaded[0][1].choices == ("Steal", "Share") and loaded[0][1].answer is None


@pytest.mark.parametrize("name, text, says", [
    ("bad.csv", "id,prompt,answer,grader\nsum,Add.,lots,numeric\n",
     "puzzle 'sum': field 'answer' ('lots') is not a number"),
    ("bad.csv", "id,prompt,colour\nsum,Add.,red\n", "puzzle 'sum': unknown field(s) colour"),
    ("bad.csv", "id,prompt\nsum,\n", "puzzle 'sum': field 'prompt' is missing"),
    ("dup.jsonl", json.dumps({"id": "a", "prompt": "x", "grader": "none"}) + "\n"
     + json.dumps({"id": "a", "prompt": "y", "grader": "none"}) + "\n",
     "puzzle 'a': field 'id' is used twice"),
    ("bad.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "b", prompt: y}\n', "line 2: not valid JSON"),
    ("list.jsonl", '["not", "a", "mapping"]\n', "puzzle #1: is a list, not a mapping"),
    ("empty.csv", "id,prompt\n", "expected a non-empty list of puzzles"),
])
def test_other_formats_fail_with_the_same_messages(tmp_path: Path, name: str, text: str, says: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        puzzles.load(path)
    assert str(path) in str(err.value) and says in str(err.value)
