"""Numbers with units as people write them: 55, 2/3, 0.67, 66.7%, 4 mm, 0.4 cm, $90, "two thirds".

Pure functions. A Quantity keeps its value in a base unit (metres, US dollars; percentages as fractions)
and the precision it was written with, so "0.67" matches 2/3 while "1" does not.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace

# unit spelling -> (dimension, factor to the base unit); dimension None means a pure number.
_UNIT_GROUPS: list[tuple[str, str | None, float]] = [
    (r"%|percent|per\s?cent", None, 0.01),
    (r"mm|millimet(?:er|re)s?", "length", 0.001),
    (r"cm|centimet(?:er|re)s?", "length", 0.01),
    (r"km|kilomet(?:er|re)s?", "length", 1000.0),
    (r"m|met(?:er|re)s?", "length", 1.0),
    (r"inch(?:es)?", "length", 0.0254),
    (r"ft|feet|foot", "length", 0.3048),
    (r"usd|dollars?|bucks", "money", 1.0),
    (r"cents?", "money", 0.01),
]
_UNIT_RE = "|".join(f"(?:{pattern})" for pattern, _, _ in _UNIT_GROUPS)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<cur>US\$|\$|USD\s?)?\s?(?P<sign>[-\u2212])?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+|\.\d+)"
    r"(?:\s*/\s*(?P<den>\d+(?:\.\d+)?))?"
    rf"(?:\s?(?P<unit>{_UNIT_RE})(?![\w]))?",
    re.IGNORECASE,
)
_CARDINALS = {w: i for i, w in enumerate((
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"))}
_CARDINALS.update({w: 10 * (i + 3) for i, w in
                   enumerate(("thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"))})
_ORDINALS = {"half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fourth": 4,
             "fourths": 4, "fifth": 5, "fifths": 5, "sixth": 6, "sixths": 6, "eighth": 8, "eighths": 8,
             "tenth": 10, "tenths": 10}
_WORD_FRACTION = re.compile(r"\b(one|a|two|three|four|five|seven|nine)[\s-]+(" + "|".join(_ORDINALS) + r")\b",
                            re.IGNORECASE)
_TENS = "|".join(w for w, v in _CARDINALS.items() if v >= 20)
_WORD_NUMBER = re.compile(
    rf"\b(?:(?P<tens>{_TENS})(?:[\s-](?P<ones>one|two|three|four|five|six|seven|eight|nine))?"
    rf"|(?P<small>{'|'.join(w for w, v in _CARDINALS.items() if v < 20)}))\b", re.IGNORECASE)


@dataclass(frozen=True)
class Quantity:
    """A number as written: value in the base unit, its dimension, unit factor and written precision."""

    value: float
    dimension: str | None = None
    factor: float = 1.0
    half_unit: float = 0.0  # half of the last written digit, in base units (0: read as exact)
    text: str = ""
    start: int = 0
    end: int = 0
    has_unit: bool = False


def _unit(spelling: str | None) -> tuple[str | None, float]:
    if not spelling:
        return None, 1.0
    for pattern, dimension, factor in _UNIT_GROUPS:
        if re.fullmatch(pattern, spelling, re.IGNORECASE):
            return dimension, factor
    return None, 1.0


def _half_unit(digits: str) -> float:
    """Half of the last written digit when at least two significant digits are written, else 0."""
    whole, _, decimals = digits.replace(",", "").partition(".")
    significant = (whole + decimals).lstrip("0")
    if not decimals:
        significant = significant.rstrip("0")  # 60 or 100: trailing zeros say nothing
    if len(significant) < 2:
        return 0.0
    return 0.5 * 10 ** -len(decimals)


def words_to_digits(text: str) -> str:
    """'two thirds' -> '2/3', 'fifty-five' -> '55', 'nine' -> '9' (whole words only)."""

    def fraction(m: re.Match[str]) -> str:
        top = m.group(1).lower()
        num = 1 if top in ("a", "one") else _CARDINALS[top]
        return f"{num}/{_ORDINALS[m.group(2).lower()]}"

    def number(m: re.Match[str]) -> str:
        if m.group("small"):
            return str(_CARDINALS[m.group("small").lower()])
        return str(_CARDINALS[m.group("tens").lower()]
                   + (_CARDINALS[m.group("ones").lower()] if m.group("ones") else 0))

    return _WORD_NUMBER.sub(number, _WORD_FRACTION.sub(fraction, text))


def find(text: str) -> list[Quantity]:
    """Every number in a text, in order, with its unit when one follows (or a currency sign precedes)."""
    out = []
    for m in _NUMBER.finditer(text):
        num = float(m.group("num").replace(",", ""))
        unit = m.group("unit")
        if m.group("cur"):
            unit = unit if unit and _unit(unit)[0] == "money" else "usd"
        dimension, factor = _unit(unit)
        if m.group("den"):
            den = float(m.group("den"))
            if den == 0:
                continue
            value, half = num / den, 0.0
        else:
            value, half = num, _half_unit(m.group("num"))
        if m.group("sign"):
            value = -value
        out.append(Quantity(value=value * factor, dimension=dimension, factor=factor, half_unit=half * factor,
                            text=m.group(0).strip(), start=m.start(), end=m.end(), has_unit=unit is not None))
    return out


@functools.lru_cache(maxsize=1024)  # a puzzle's expected answer, read for every answer graded
def parse_expected(text: str | float) -> Quantity | None:
    """The expected answer of a numeric puzzle ('2/3', '4 mm', '$90', 55); None if it is not one number."""
    found = find(words_to_digits(str(text).strip()))
    if len(found) != 1:
        return None
    q = found[0]
    return q if "." in q.text else replace(q, half_unit=0.0)  # 55 is exact; 0.667 is rounded


def tolerance_of(expected: Quantity, tolerance: float | str | None) -> float:
    """An explicit tolerance in base units: absolute in the expected unit (0.1) or relative ('1%')."""
    if tolerance is None:
        return 0.0
    if isinstance(tolerance, str):
        return float(tolerance.strip().rstrip("%")) / 100 * abs(expected.value)
    return float(tolerance) * expected.factor


def matches(expected: Quantity, got: Quantity, tolerance: float | str | None = None) -> bool:
    """True when `got` equals `expected` within the explicit tolerance or the precision either was written with.

    Units convert within a dimension (4 mm = 0.4 cm); different dimensions never match; a bare number is
    read in the expected unit (and, for pure numbers, also as written: 0.1 for 10%).
    """
    if got.has_unit and got.dimension is not None and expected.dimension is not None \
            and got.dimension != expected.dimension:
        return False
    if got.has_unit and got.dimension is not None and expected.dimension is None:
        return False
    candidates = [(got.value, got.half_unit)]
    if not got.has_unit:
        candidates = [(got.value * expected.factor, got.half_unit * expected.factor)]
        if expected.dimension is None and expected.factor != 1.0:
            candidates.append((got.value, got.half_unit))
    explicit = tolerance_of(expected, tolerance)
    for value, half in candidates:
        allowed = max(explicit, half, expected.half_unit, 1e-9 * max(abs(expected.value), 1e-12))
        if math.isclose(value, expected.value, rel_tol=1e-9) or abs(value - expected.value) <= allowed:
            return True
    return False
