"""Graders: read a model's *final* answer and compare it with the puzzle's expected answer.

The final answer is, in order of preference: the last ``\\boxed{…}``, the last "Answer: …" line, else the
last paragraph (pleasantries dropped). Within it, numbers come from the last clause that holds one, the
number after a cue ("is", "=", "equals") first, skipping negated ones ("not 4.4 cm", "rather than 1/2").
Every grader is a pure function of (puzzle, text) except ``judge``, whose verdict comes from another
model (see ``judge_prompt`` and ``parse_verdict``; the runner makes the call and counts its cost).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from helpers.compare import quantities
from helpers.compare.puzzles import Puzzle


@dataclass(frozen=True)
class Grade:
    """A grading result: correct (None when ungraded or unreadable), what was read, and why."""

    correct: bool | None
    extracted: str | None = None
    note: str = ""

    @property
    def mark(self) -> str:
        return {True: "✓", False: "✗", None: "–"}[self.correct]


_LATEX = [(re.compile(r"\$\$?([^$]*\\[^$]*?)\$\$?"), r" \1 "),  # $\frac{2}{3}$: math, not dollars
          (re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}"), r"\1/\2"),
          (re.compile(r"\\(?:text|mathrm|textbf|mathbf)\{([^{}]*)\}"), r" \1"),
          (re.compile(r"\\[,;!: ]|~"), " "), (re.compile(r"\\%"), "%"), (re.compile(r"\\\$"), "$"),
          (re.compile(r"\\(?:times|cdot)"), "×"), (re.compile(r"\\(?:approx|sim)"), "≈"),
          (re.compile(r"\\[()\[\]]"), " ")]
_BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
_MARKED = re.compile(r"^[ \t>#*_-]*(?:the\s+)?(?:final\s+answer|answer|result|my\s+(?:final\s+)?(?:answer|choice)|"
                     r"choice|decision)[ \t*_]*[:：][ \t*_]*(.*)$", re.IGNORECASE | re.MULTILINE)
_FILLER = re.compile(r"^\s*(?:i hope|hope this|let me know|feel free|if you (?:have|need|want)|good luck|"
                     r"happy to help|would you like)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*$])|\n+")
_CONCLUSION = re.compile(r"[,;:]?\s+\b(?:so|therefore|thus|hence|which means|meaning|giving|making|that is)\b|"
                         r"\s*[;→⇒]\s*", re.IGNORECASE)
_JUSTIFICATION = re.compile(r"\b(?:because|since|given that|due to)\b", re.IGNORECASE)
_CUE = re.compile(r"(?:\bis|\bare|\bequals?|\bbe|\bcomes?\s+to|\bgives?|\bget|\bpay|=|≈|:)\s*"
                  r"(?:about\s+|approximately\s+|exactly\s+|roughly\s+|only\s+|just\s+|x\s*=\s*)?$",
                  re.IGNORECASE)
_NEGATED = re.compile(r"(?:\bnot|n't|\bnor|\binstead\s+of|\brather\s+than|\bthan|\bnever|\bno)"
                      r"\s*(?:\S+\s+){0,1}\S*\s*$",
                      re.IGNORECASE)
_ACK = re.compile(
    r"\b(?:no(?:ne)?\s+(?:one\s+)?(?:is|are|has been|have been)?\s*(?:currently\s+)?(?:known|found|discovered|exists?)"
    r"|not\s+(?:yet\s+)?(?:been\s+)?(?:known|found|discovered|proven|proved|solved|settled|resolved)"
    r"|(?:has|have|had)n't\s+(?:yet\s+)?been\s+(?:found|discovered|proven|proved|solved)"
    r"|(?:remains?|still|is)\s+(?:an?\s+)?(?:unproven|unproved|unsolved|unresolved|open|unknown|conjectur)"
    r"|unsolved|unproven|unknown|open\s+(?:problem|question)|no(?:body| one)\s+(?:knows|has)"
    r"|(?:there\s+is|there's|exists?)\s+no\s+(?:known\s+)?(?:proof|odd perfect|such)"
    r"|no\s+(?:known|such|complete|accepted|valid|rigorous|general)\s+(?:proof|number|example)"
    r"|(?:cannot|can't|can\s+not)\s+(?:give|provide|offer|write)"
    r"|(?:is|are)\s+not\s+known|whether\s+(?:any|one|an odd)\s+\w+\s+exists?)",
    re.IGNORECASE)
_PROOF_END = re.compile(r"∎|\bQ\.?E\.?D\b|this completes the proof|which proves"
                        r"|we have (?:now )?(?:proven|proved|shown)",
                        re.IGNORECASE)


def clean(text: str) -> str:
    """Text with LaTeX and Markdown noise reduced to plain words and numbers."""
    text = unicodedata.normalize("NFKC", text or "").replace("\u2212", "-")
    for pattern, repl in _LATEX:
        text = pattern.sub(repl, text)
    return re.sub(r"\*\*|__|`", "", text)


def _paragraphs(text: str) -> list[str]:
    out = []
    for para in re.split(r"\n\s*\n", text):
        kept = [s for s in _SENTENCE.split(para.strip()) if s.strip() and not _FILLER.match(s)]
        if any(re.search(r"\w", s) for s in kept):
            out.append(" ".join(s.strip() for s in kept))
    return out


@functools.lru_cache(maxsize=256)  # grading and the majority vote read the same answer one after the other
def final_answer(text: str) -> str:
    """The part of an answer that states the conclusion: boxed value, 'Answer:' line, or last paragraph."""
    text = clean(text)
    boxed = _BOXED.findall(text)
    if boxed and boxed[-1].strip():
        return boxed[-1].strip()
    marked = list(_MARKED.finditer(text))
    if marked:
        last = marked[-1]
        rest = last.group(1).strip()
        if rest:
            return rest
        after = [line.strip() for line in text[last.end():].splitlines() if line.strip()]
        if after:
            return after[0]
    paragraphs = _paragraphs(text)
    return paragraphs[-1] if paragraphs else text.strip()


def _regions(text: str) -> list[str]:
    """The final answer, then the two paragraphs before it (used when the final one says nothing usable)."""
    final = final_answer(text)
    earlier = [p for p in _paragraphs(clean(text)) if p != final][-2:]
    return [final, *reversed(earlier)]


def _clauses(region: str) -> list[str]:
    """Clauses of a region, last first, with justification tails ('because …') cut off."""
    out: list[str] = []
    for sentence in reversed([s for s in _SENTENCE.split(region) if s.strip()]):
        m = _JUSTIFICATION.search(sentence)
        if m and m.start() > 0:
            sentence = sentence[:m.start()]
        elif m:  # "Since 9 × 9 = 81, the root is 9": keep what follows the comma
            sentence = sentence.split(",", 1)[1] if "," in sentence else sentence
        out.extend(reversed([c for c in _CONCLUSION.split(sentence) if c and c.strip()]))
    return out


def pick_number(clause: str) -> quantities.Quantity | None:
    """The number a clause asserts: the one after the last cue, else the last one not negated."""
    clause = quantities.words_to_digits(clause)
    found = [q for q in quantities.find(clause) if not _NEGATED.search(clause[:q.start])]
    if not found:
        return None
    cued = [q for q in found if _CUE.search(clause[:q.start])]
    return (cued or found)[-1]


@functools.lru_cache(maxsize=256)
def final_number(text: str) -> quantities.Quantity | None:
    """The number the answer concludes with (see the module docstring)."""
    for region in _regions(text):
        for clause in _clauses(region):
            q = pick_number(clause)
            if q is not None:
                return q
    return None


def normalize(text: str) -> str:
    """Case-folded words without punctuation or accents, for exact comparison."""
    text = unicodedata.normalize("NFKD", clean(text)).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^\w/.%$-]+", " ", text.casefold()).replace(" .", " ").strip(" .").split())


def _phrase_at(haystack: str, needle: str) -> list[int]:
    return [m.start() for m in re.finditer(rf"(?<![\w]){re.escape(needle)}(?![\w])", haystack)]


def grade_exact(puzzle: Puzzle, text: str) -> Grade:
    final = final_answer(text)
    got, want = normalize(final), normalize(puzzle.answer or "")
    if got == want:
        return Grade(True, final)
    hits = [i for i in _phrase_at(got, want) if not _NEGATED.search(got[:i])]
    return Grade(bool(hits), final, "" if hits else f"expected '{puzzle.answer}'")


def grade_numeric(puzzle: Puzzle, text: str) -> Grade:
    expected = quantities.parse_expected(puzzle.answer or "")
    if expected is None:
        return Grade(None, None, f"the expected answer {puzzle.answer!r} is not a number")
    got = final_number(text)
    if got is None:
        return Grade(False, None, "no number in the final answer")
    ok = quantities.matches(expected, got, puzzle.tolerance)
    return Grade(ok, got.text, "" if ok else f"expected {puzzle.answer}")


_CHOOSE = re.compile(r"\b(?:choose|chose|pick|picked|go(?:ing)? with|select|opt for|answer|choice|decision|"
                     r"i(?:'ll| will| would)|is)\b\W*$", re.IGNORECASE)


def _choice_in(sentence: str, choices: tuple[str, ...]) -> str | None:
    found = []
    for choice in choices:
        for i in _phrase_at(sentence.casefold(), choice.casefold()):
            if not _NEGATED.search(sentence[:i]):
                found.append((i, choice))
    names = {c for _, c in found}
    if len(names) == 1:
        return found[0][1]
    cued = [c for i, c in sorted(found) if _CHOOSE.search(sentence[:i])]
    return cued[-1] if cued else None


def grade_choice(puzzle: Puzzle, text: str) -> Grade:
    for region in _regions(text):
        for sentence in reversed([s for s in _SENTENCE.split(region) if s.strip()]):
            picked = _choice_in(sentence, puzzle.choices)
            if picked is not None:
                if puzzle.answer is None:
                    return Grade(None, picked, "ungraded: the choice is recorded")
                ok = picked.casefold() == puzzle.answer.casefold()
                return Grade(ok, picked, "" if ok else f"expected {puzzle.answer}")
    return Grade(None if puzzle.answer is None else False, None,
                 f"no single choice among {', '.join(puzzle.choices)} in the final answer")


def grade_regex(puzzle: Puzzle, text: str) -> Grade:
    final = final_answer(text)
    m = re.search(puzzle.answer or "", final, re.IGNORECASE)
    return Grade(m is not None, m.group(0) if m else final[:80], "" if m else f"no match for /{puzzle.answer}/")


def grade_unknown(puzzle: Puzzle, text: str) -> Grade:
    """Correct when the answer says nothing is known / the problem is open (and does not 'prove' it)."""
    final = final_answer(text)
    paragraphs = _paragraphs(clean(text))
    for region in [final, *paragraphs[:1]]:
        m = _ACK.search(region)
        if m and not (region is not final and _PROOF_END.search(text)):
            return Grade(True, m.group(0))
    return Grade(False, final[:80], "does not say that the answer is unknown or the problem open")


def grade_none(puzzle: Puzzle, text: str) -> Grade:
    final = final_answer(text)
    return Grade(None, final[:80], "ungraded")


GRADERS = {"exact": grade_exact, "numeric": grade_numeric, "choice": grade_choice, "regex": grade_regex,
           "unknown": grade_unknown, "none": grade_none}


def grade(puzzle: Puzzle, text: str) -> Grade:
    """Grade one answer text. For 'judge' puzzles this reads the final answer only; use the verdict."""
    if not (text or "").strip():
        return Grade(None, None, "no answer")
    if puzzle.grader == "judge":
        return Grade(None, final_answer(text)[:80], "waiting for the judge")
    return GRADERS[puzzle.grader](puzzle, text)


JUDGE_SYSTEM = ("You grade answers to puzzles. Compare the candidate's final answer with the reference or "
                "rubric; ignore style and length. Reply with one short sentence of reason, then a last line "
                "that is exactly 'VERDICT: CORRECT' or 'VERDICT: INCORRECT'.")


def judge_prompt(puzzle: Puzzle, text: str, limit: int = 6000) -> str:
    """What the judge model is asked (the system prompt is JUDGE_SYSTEM)."""
    rubric = puzzle.rubric or f"The answer is correct if it concludes: {puzzle.answer}"
    reference = f"\nReference answer: {puzzle.answer}" if puzzle.answer and puzzle.rubric else ""
    body = text if len(text) <= limit else "…" + text[-limit:]
    return (f"Puzzle:\n{puzzle.prompt.strip()}\n\nRubric: {rubric}{reference}\n\n"
            f"Candidate answer:\n<<<\n{body.strip()}\n>>>")


_VERDICT = re.compile(r"verdict\s*[:：]?\s*\**\s*(correct|incorrect|wrong|right)\b", re.IGNORECASE)


def parse_verdict(text: str) -> bool | None:
    """True/False from a judge's reply ('VERDICT: CORRECT'), None when it gave no verdict."""
    found = _VERDICT.findall(clean(text))
    if found:
        return found[-1].lower() in ("correct", "right")
    last = normalize(final_answer(text))
    if last in ("correct", "incorrect"):
        return last == "correct"
    return None


def judged(grade_: Grade, verdict_text: str | None, judge_error: str | None = None) -> Grade:
    """A judge puzzle's grade once the judge has answered (or failed)."""
    if judge_error:
        return Grade(None, grade_.extracted, f"judge failed: {judge_error[:120]}")
    verdict = parse_verdict(verdict_text or "")
    if verdict is None:
        return Grade(None, grade_.extracted, "the judge gave no verdict")
    return Grade(verdict, grade_.extracted, "judged")


def answer_key(puzzle: Puzzle, text: str, extracted: str | None) -> str:
    """A key under which equal answers meet for a majority vote: 2/3, 0.667 and 66.7% share one."""
    if puzzle.grader == "numeric":
        q, expected = final_number(text), quantities.parse_expected(puzzle.answer or "")
        if q is not None and expected is not None and quantities.matches(expected, q, puzzle.tolerance):
            return normalize(puzzle.answer or "")
        if q is not None:
            return f"{q.value:.6g} {q.dimension or ''}".strip()
    return normalize(extracted if extracted is not None else final_answer(text))
