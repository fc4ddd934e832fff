"""Puzzle files: the shipped sets, and validation errors that name the file, the puzzle and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.compare import puzzles
from helpers.errors import ConfigError


def test_course_set() -> None:
    course = {p.id: p for p in puzzles.course()}
    assert list(course) == ["two-coins", "bookworm", "steal-or-share"]
    assert (course["two-coins"].answer, course["two-coins"].grader) == ("2/3", "numeric")
    assert (course["bookworm"].answer, course["bookworm"].grader) == ("4 mm", "numeric")
    steal = course["steal-or-share"]
    assert steal.grader == "choice" and steal.choices == ("Steal", "Share") and steal.answer is None
    assert not steal.graded and steal.system and "game show" in steal.system


def test_known_answers_set() -> None:
    known = {p.id: (p.answer, p.grader) for p in puzzles.known_answers()}
    assert known == {"sum-1-to-10": ("55", "numeric"), "sqrt-81": ("9", "numeric"),
                     "shirts-discount": ("$90", "numeric"), "quadratic": ("2", "numeric"),
                     "odd-perfect": (None, "unknown"), "goldbach-proof": (None, "unknown")}


def test_load_by_name_or_path(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("- id: a\n  prompt: What is 1+1?\n  answer: 2\n  grader: numeric\n  tags: maths\n")
    [p] = puzzles.load(f)
    assert (p.id, p.answer, p.tags) == ("a", "2", ("maths",))
    assert puzzles.load("course") == puzzles.course()
    with pytest.raises(ConfigError) as err:
        puzzles.load("no-such-set")
    assert "course" in err.value.hint and "known_answers" in err.value.hint


def test_puzzle_set_round_trips_through_a_run_config() -> None:
    pset = puzzles.PuzzleSet("course", puzzles.course())
    again = puzzles.PuzzleSet.from_config(pset.to_config())
    assert again.puzzles == pset.puzzles and again.source == "course"


BAD = [
    ("- prompt: hi\n", "puzzle #1", "'id' is missing"),
    ("- id: a\n", "puzzle 'a'", "'prompt' is missing"),
    ("- id: a\n  prompt: '  '\n", "puzzle 'a'", "'prompt' is empty"),
    ("- id: a b\n  prompt: hi\n", "puzzle 'a b'", "'id' may hold only"),
    ("- id: a|b\n  prompt: hi\n", "puzzle 'a|b'", "'id' may hold only"),
    ("- id: a\n  prompt: hi\n  anwser: 3\n", "puzzle 'a'", "unknown field(s) anwser"),
    ("- id: a\n  prompt: hi\n  grader: fuzzy\n  answer: x\n", "puzzle 'a'", "'grader' is 'fuzzy'"),
    ("- id: a\n  prompt: hi\n  grader: numeric\n", "puzzle 'a'", "'answer' is missing"),
    ("- id: a\n  prompt: hi\n  grader: numeric\n  answer: lots\n", "puzzle 'a'", "'answer' ('lots') is not a number"),
    ("- id: a\n  prompt: hi\n  grader: regex\n  answer: '(('\n", "puzzle 'a'", "not a valid regular expression"),
    ("- id: a\n  prompt: hi\n  grader: choice\n  choices: [x]\n", "puzzle 'a'", "'choices' needs at least two"),
    ("- id: a\n  prompt: hi\n  grader: choice\n  choices: [x, y]\n  answer: z\n", "puzzle 'a'",
     "'answer' ('z') is not one of the choices"),
    ("- id: a\n  prompt: hi\n  grader: numeric\n  answer: 3\n  tolerance: lots\n", "puzzle 'a'", "'tolerance'"),
    ("- id: a\n  prompt: hi\n  answer: x\n  tolerance: 0.1\n", "puzzle 'a'", "'tolerance' applies to grader"),
    ("- id: a\n  prompt: hi\n  grader: judge\n", "puzzle 'a'", "needs an 'answer' or a 'rubric'"),
    ("- id: a\n  prompt: [1, 2]\n", "puzzle 'a'", "'prompt' must be text"),
    ("- id: a\n  prompt: hi\n  tags: {x: 1}\n  answer: x\n", "puzzle 'a'", "'tags' must be a list"),
    ("- id: a\n  prompt: hi\n  answer: x\n- id: a\n  prompt: ho\n  answer: y\n", "puzzle 'a'", "used twice"),
    ("- just a string\n", "puzzle #1", "not a mapping"),
    ("id: a\nprompt: hi\n", "", "expected a non-empty list of puzzles"),
    ("- id: a\n  prompt: 'unclosed\n", "", "not valid YAML"),
]


@pytest.mark.parametrize(("text", "where", "message"), BAD)
def test_errors_name_file_puzzle_and_field(tmp_path: Path, text: str, where: str, message: str) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        puzzles.load(f)
    assert str(f) in err.value.message and where in err.value.message and message in err.value.message


def test_every_error_says_how_to_fix_when_it_can(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("- id: a\n  prompt: hi\n  grader: numeric\n")
    with pytest.raises(ConfigError) as err:
        puzzles.load(f)
    assert "grader: none" in err.value.hint
