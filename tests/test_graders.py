"""Graders read the final answer, not every number: table-driven cases with tricky phrasings."""

from __future__ import annotations

import pytest

from helpers.compare import graders, quantities
from helpers.compare.puzzles import Puzzle

COINS = Puzzle(id="two-coins", prompt="p", answer="2/3", grader="numeric")
WORM = Puzzle(id="bookworm", prompt="p", answer="4 mm", grader="numeric")
SHIRTS = Puzzle(id="shirts", prompt="p", answer="$90", grader="numeric")
SUM = Puzzle(id="sum", prompt="p", answer="55", grader="numeric")
ROOT = Puzzle(id="root", prompt="p", answer="9", grader="numeric")
QUAD = Puzzle(id="quad", prompt="p", answer="2", grader="numeric")
STEAL = Puzzle(id="steal", prompt="p", choices=("Steal", "Share"), grader="choice")
ABC = Puzzle(id="abc", prompt="p", choices=("A", "B", "C"), answer="B", grader="choice")
ODD = Puzzle(id="odd", prompt="p", grader="unknown")
CAPITAL = Puzzle(id="capital", prompt="p", answer="Paris", grader="exact")
YEAR = Puzzle(id="year", prompt="p", answer=r"\b1896\b", grader="regex")

NUMERIC = [
    # two coins: 2/3 in every spelling; 1/2 wrong even when 2/3 is discussed
    (COINS, "Answer: 2/3", True, "2/3"),
    (COINS, "The outcomes are HH, HT, TH. Two of the three have a tail.\n\nAnswer: 0.67", True, "0.67"),
    (COINS, "So the probability is about 66.7%.", True, "66.7%"),
    (COINS, "It is two thirds.", True, "2/3"),
    (COINS, "The answer is $\\frac{2}{3}$.", True, "2/3"),
    (COINS, "Final answer: \\boxed{\\dfrac{2}{3}}", True, "2/3"),
    (COINS, "Many people say 2/3, but each coin is independent, so the probability is 1/2.", False, "1/2"),
    (COINS, ("Each coin has 2 sides and there are 4 outcomes (HH, HT, TH, TT). Removing TT leaves 3, "
            "and 2 of those contain a tail.\n\nThe probability is 2/3, not 1/2."), True, "2/3"),
    (COINS, "The probability is 0.5.", False, "0.5"),
    (COINS, "The probability is 0.7.", False, "0.7"),  # one significant digit is not 2/3
    (COINS, "**Answer:** 2/3 (≈ 0.667)\n\nI hope this helps!", True, None),
    (COINS, "Answer:\n2/3", True, "2/3"),
    # bookworm: 4 mm = 0.4 cm; 4.4 cm and 4 cm wrong; numbers in the reasoning ignored
    (WORM, "Each volume's pages are 2 cm thick and each cover 2 mm, so the worm eats 4 mm.", True, "4 mm"),
    (WORM, "The worm only goes through two covers.\nAnswer: 4 millimetres", True, "4 millimetres"),
    (WORM, "Answer: 0.4 cm", True, "0.4 cm"),
    (WORM, "It travels 2 mm + 2 cm + 2 mm + 2 mm + 2 cm + 2 mm.\n\nAnswer: 4.4 cm", False, "4.4 cm"),
    (WORM, "The answer is 4 mm rather than 4.4 cm.", True, "4 mm"),
    (WORM, "Not 4.4 cm but 4 mm.", True, "4 mm"),
    (WORM, "The distance is 4 cm.", False, "4 cm"),
    (WORM, "The answer is 4 mm (many people say 4.4 cm).", True, "4 mm"),
    # arithmetic
    (SUM, "1+2+3+4+5+6+7+8+9+10. Pairing gives 5 pairs of 11, so the total is 55.", True, "55"),
    (SUM, "The sum is fifty-five.", True, "55"),
    (SUM, "Answer: 56", False, "56"),
    (ROOT, "The square root of 81 is 9, since 9 × 9 = 81.", True, "9"),
    (ROOT, "Since 9 × 9 = 81, the square root of 81 is 9.", True, "9"),
    (ROOT, "√81 = 9", True, "9"),
    (ROOT, "Answer: nine", True, "9"),
    (SHIRTS, "5 shirts cost $100. With 10% off, you pay $90.", True, "$90"),
    (SHIRTS, "The total is 90 dollars after the 10% discount.", True, "90 dollars"),
    (SHIRTS, "Answer: $90.00", True, "$90.00"),
    (SHIRTS, "Answer: $100", False, "$100"),
    (SHIRTS, "Answer: 90", True, "90"),
    (QUAD, "(x - 2)^2 = 0, so x = 2 (a double root).", True, "2"),
    (QUAD, "Answer: x = 2", True, "2"),
    (QUAD, "The roots are x = -2.", False, "-2"),
    (SUM, "I don't know.", False, None),
    (COINS, "It's roughly 67 percent.", True, "67 percent"),
    (COINS, "The answer: 1/2? No — it is 2/3.", True, "2/3"),
    (COINS, ("The probability that the other coin is tails is 2/3, because among HH, HT and TH two have a "
            "tail (2 out of 3)."), True, "2/3"),
    (WORM, "Total: 2 mm + 2 mm = 4 mm.", True, "4 mm"),
    (WORM, "The worm travels just 4 millimeters!", True, "4 millimeters"),
    (SHIRTS, "5 × $20 = $100, minus 10% ($10) = $90.", True, "$90"),
    (SHIRTS, "You pay USD 90.", True, "USD 90"),
    (QUAD, "The equation factors as (x-2)(x-2)=0. Therefore, x = 2 is the only solution, with multiplicity 2.",
     True, "2"),
]


@pytest.mark.parametrize(("puzzle", "text", "correct", "extracted"), NUMERIC)
def test_numeric(puzzle: Puzzle, text: str, correct: bool, extracted: str | None) -> None:
    g = graders.grade(puzzle, text)
    assert g.correct is correct, (text, g)
    if extracted is not None:
        assert g.extracted == extracted


CHOICES = [
    (STEAL, "I trust the other player.\nAnswer: Share", None, "Share"),
    (STEAL, "Stealing guarantees I never walk away with less than my opponent.\n\nAnswer: Steal", None, "Steal"),
    (STEAL, "I would choose Share rather than Steal, because cooperation pays.", None, "Share"),
    (STEAL, "I will not steal. I pick Share.", None, "Share"),
    (STEAL, "Steal or share, it is a hard call.", None, None),
    (ABC, "Option A looks tempting, but the answer is B.", True, "B"),
    (ABC, "Answer: C", False, "C"),
]


@pytest.mark.parametrize(("puzzle", "text", "correct", "extracted"), CHOICES)
def test_choice(puzzle: Puzzle, text: str, correct: bool | None, extracted: str | None) -> None:
    g = graders.grade(puzzle, text)
    assert (g.correct, g.extracted) == (correct, extracted), g


UNKNOWN = [
    ("No odd perfect number is known; whether one exists is an open problem.", True),
    ("Nobody knows: it is unknown whether odd perfect numbers exist at all.", True),
    (("Goldbach's conjecture has not been proven. It remains one of the oldest unsolved problems.\n\n"
     "It has been checked by computer up to 4 × 10^18."), True),
    ("I can't give a proof: the conjecture is still open.", True),
    ("The smallest odd perfect number is 945.", False),
    ("Proof: every even number n > 2 can be written as p + q by induction on n. ∎", False),
]


@pytest.mark.parametrize(("text", "correct"), UNKNOWN)
def test_unknown(text: str, correct: bool) -> None:
    assert graders.grade(ODD, text).correct is correct


@pytest.mark.parametrize(("text", "correct"), [
    ("The capital of France is Paris.", True),
    ("Answer: **Paris**", True),
    ("paris", True),
    ("It is not Paris, it is Lyon.", False),
    ("Answer: Lyon", False),
])
def test_exact(text: str, correct: bool) -> None:
    assert graders.grade(CAPITAL, text).correct is correct


def test_regex_reads_the_final_answer_only() -> None:
    assert graders.grade(YEAR, "They started in Athens.\n\nAnswer: 1896").correct is True
    assert graders.grade(YEAR, "Some say 1896.\n\nAnswer: 1900").correct is False


def test_empty_answer_is_ungraded() -> None:
    g = graders.grade(COINS, "   ")
    assert g.correct is None and g.note == "no answer"


@pytest.mark.parametrize(("text", "verdict"), [
    ("The candidate says 4 mm.\nVERDICT: CORRECT", True),
    ("It says 4.4 cm, which is wrong.\nVERDICT: INCORRECT", False),
    ("**Verdict:** correct", True),
    ("I am not sure.", None),
])
def test_parse_verdict(text: str, verdict: bool | None) -> None:
    assert graders.parse_verdict(text) is verdict


def test_judge_prompt_holds_rubric_and_answer() -> None:
    p = Puzzle(id="j", prompt="Why is the sky blue?", grader="judge", rubric="Mentions Rayleigh scattering")
    prompt = graders.judge_prompt(p, "Because of Rayleigh scattering.")
    assert "Why is the sky blue?" in prompt and "Rayleigh scattering" in prompt.split("Rubric:")[1]
    assert graders.grade(p, "x").correct is None
    assert graders.judged(graders.grade(p, "x"), "VERDICT: CORRECT").correct is True
    assert graders.judged(graders.grade(p, "x"), None, "auth failed").correct is None


@pytest.mark.parametrize(("expected", "got", "ok"), [
    ("2/3", "0.667", True), ("2/3", "67%", True), ("2/3", "0.6", False), ("66.7%", "2/3", True),
    ("10%", "0.1", True), ("10%", "10", True), ("4 mm", "0.004 m", True), ("4 mm", "4 cm", False),
    ("1 inch", "2.54 cm", True), ("$90", "90%", False), ("55", "55.4", False),
])
def test_quantity_matching(expected: str, got: str, ok: bool) -> None:
    e = quantities.parse_expected(expected)
    assert e is not None
    assert quantities.matches(e, quantities.find(got)[0]) is ok


def test_explicit_tolerance() -> None:
    e = quantities.parse_expected("3.14")
    assert e is not None
    got = quantities.find("3.2")[0]
    assert not quantities.matches(e, got)
    assert quantities.matches(e, got, 0.1) and quantities.matches(e, got, "3%")
    assert not quantities.matches(e, got, "1%")
