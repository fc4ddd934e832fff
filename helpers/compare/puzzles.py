"""Puzzle files: YAML, CSV or JSON Lines, validated with errors that name the file, the puzzle and the field.

A YAML file is a list of puzzles:

    - id: two-coins            # required, unique, no '|'
      prompt: "..."            # required
      system: "..."            # optional system prompt
      answer: 2/3              # optional expected answer (a number, "4 mm", "$90", a choice, a pattern)
      grader: numeric          # exact (default), numeric, choice, regex, unknown, judge, none
      choices: [Steal, Share]  # for the choice grader
      tags: [probability]
      tolerance: 0.01          # numeric: absolute (in the answer's unit) or relative as "1%"
      rubric: "..."            # judge: what a correct answer must contain

The same fields work as CSV columns (a header row: id,prompt,answer,grader,…; lists such as choices
and tags separated by ``|``, e.g. ``Steal|Share``; empty cells mean "not given") and as JSON Lines (one
JSON object per line, ``.jsonl``). The shipped sets are `assets/puzzles/<name>.yaml`; ``load("course")``
finds them by name. ``gen:…`` names a seeded generator of known-answer puzzles (``helpers.compare.generators``),
e.g. ``load("gen:arithmetic?n=100&seed=7")``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from helpers import settings
from helpers.errors import ConfigError

PUZZLE_DIR = settings.ASSETS / "puzzles"
GRADERS = ("exact", "numeric", "choice", "regex", "unknown", "judge", "none")
FIELDS = ("id", "prompt", "system", "answer", "grader", "choices", "tags", "tolerance", "rubric")
NEEDS_ANSWER = ("exact", "numeric", "regex")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


@dataclass(frozen=True)
class Puzzle:
    """One puzzle: the prompt to send and how to grade the answer."""

    id: str
    prompt: str
    system: str | None = None
    answer: str | None = None
    grader: str = "exact"
    choices: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    tolerance: float | str | None = None
    rubric: str | None = None

    @property
    def graded(self) -> bool:
        """False when the puzzle only records the answer (no expected answer to compare with)."""
        if self.grader == "none":
            return False
        if self.grader == "choice":
            return self.answer is not None
        return True

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["choices"], data["tags"] = list(self.choices), list(self.tags)
        return {k: v for k, v in data.items() if v not in (None, [], ())}


def _fail(source: str, where: str, message: str, hint: str = "") -> ConfigError:
    return ConfigError(f"{source}: {where}: {message}", hint=hint)


def _text(value: Any, source: str, where: str, name: str, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise _fail(source, where, f"field '{name}' is missing", hint=f"Add '{name}: ...' to the puzzle.")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(source, where, f"field '{name}' must be text, got {type(value).__name__}")
    text = str(value).strip()
    if required and not text:
        raise _fail(source, where, f"field '{name}' is empty", hint=f"Write the {name} as text.")
    return text or None


def _strings(value: Any, source: str, where: str, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) and str(v).strip() for v in value):
        raise _fail(source, where, f"field '{name}' must be a list of non-empty strings",
                    hint=f"Write {name}: [first, second].")
    return tuple(str(v).strip() for v in value)


def _tolerance(value: Any, source: str, where: str) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*%\s*", value):
        return value.strip()
    raise _fail(source, where, f"field 'tolerance' is {value!r}",
                hint="Write an absolute tolerance in the answer's unit (0.01) or a relative one ('1%').")


def parse_puzzle(raw: Any, source: str = "<puzzles>", index: int = 0) -> Puzzle:
    """One validated puzzle from a mapping; ConfigError names the source, the puzzle and the field."""
    where = f"puzzle #{index + 1}"
    if not isinstance(raw, dict):
        raise _fail(source, where, f"is a {type(raw).__name__}, not a mapping",
                    hint="Each puzzle is a mapping with at least 'id' and 'prompt'.")
    pid = _text(raw.get("id"), source, where, "id", required=True) or ""
    where = f"puzzle '{pid}'"
    if not _ID.match(pid):
        raise _fail(source, where, "field 'id' may hold only letters, digits and . _ : -",
                    hint="Use a short slug such as two-coins.")
    unknown = sorted(set(map(str, raw)) - set(FIELDS))
    if unknown:
        raise _fail(source, where, f"unknown field(s) {', '.join(unknown)}", hint=f"Known fields: {', '.join(FIELDS)}.")
    grader = (_text(raw.get("grader"), source, where, "grader") or "exact").lower()
    if grader not in GRADERS:
        raise _fail(source, where, f"field 'grader' is '{grader}'", hint=f"Use one of {', '.join(GRADERS)}.")
    answer = _text(raw.get("answer"), source, where, "answer")
    choices = _strings(raw.get("choices"), source, where, "choices")
    puzzle = Puzzle(id=pid, prompt=_text(raw.get("prompt"), source, where, "prompt", required=True) or "",
                    system=_text(raw.get("system"), source, where, "system"), answer=answer, grader=grader,
                    choices=choices, tags=_strings(raw.get("tags"), source, where, "tags"),
                    tolerance=_tolerance(raw.get("tolerance"), source, where),
                    rubric=_text(raw.get("rubric"), source, where, "rubric"))
    _check_grader(puzzle, source, where)
    return puzzle


def _check_grader(p: Puzzle, source: str, where: str) -> None:
    if p.grader in NEEDS_ANSWER and p.answer is None:
        raise _fail(source, where, f"field 'answer' is missing (grader '{p.grader}' compares with it)",
                    hint="Add 'answer: ...', or use grader: none to record answers ungraded.")
    if p.grader == "numeric":
        from helpers.compare.quantities import parse_expected

        if parse_expected(p.answer or "") is None:
            raise _fail(source, where, f"field 'answer' ({p.answer!r}) is not a number",
                        hint="Write a number with an optional unit: 55, 2/3, 66.7%, 4 mm, $90.")
    if p.grader == "regex":
        try:
            re.compile(p.answer or "")
        except re.error as exc:
            raise _fail(source, where, f"field 'answer' is not a valid regular expression: {exc}",
                        hint="Write a Python regular expression, e.g. '^(55|fifty-five)$', quoted in the YAML; "
                             "or use grader: exact.") from exc
    if p.grader == "choice":
        if len(p.choices) < 2:
            raise _fail(source, where, "field 'choices' needs at least two options for grader 'choice'",
                        hint="Write choices: [Steal, Share].")
        if p.answer is not None and p.answer.casefold() not in {c.casefold() for c in p.choices}:
            raise _fail(source, where, f"field 'answer' ({p.answer!r}) is not one of the choices",
                        hint=f"Use one of {', '.join(p.choices)}.")
    if p.grader == "judge" and p.answer is None and p.rubric is None:
        raise _fail(source, where, "grader 'judge' needs an 'answer' or a 'rubric' to judge against")
    if p.tolerance is not None and p.grader != "numeric":
        raise _fail(source, where, f"field 'tolerance' applies to grader 'numeric', not '{p.grader}'")


def parse_puzzles(raw: Any, source: str = "<puzzles>") -> list[Puzzle]:
    """Validated puzzles from a parsed YAML document (a list of mappings); ids must be unique."""
    if isinstance(raw, dict) and "puzzles" in raw:
        raw = raw["puzzles"]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source}: expected a non-empty list of puzzles",
                          hint="Write the file as a YAML list: '- id: ...' then '  prompt: ...'.")
    puzzles = [parse_puzzle(item, source, i) for i, item in enumerate(raw)]
    seen: set[str] = set()
    for p in puzzles:
        if p.id in seen:
            raise ConfigError(f"{source}: puzzle '{p.id}': field 'id' is used twice",
                              hint="Give each puzzle its own id.")
        seen.add(p.id)
    return puzzles


FORMATS = (".yaml", ".yml", ".csv", ".jsonl")


def source(name: str | Path) -> str:
    """Where puzzles come from, as stored in a run's config: a ``gen:`` spelling, else the file's path."""
    from helpers.compare import generators

    return str(name).strip() if generators.is_generated(name) else str(resolve(name))


def resolve(name: str | Path) -> Path:
    """A puzzle file path from a path or the name of a shipped set ('course', 'known_answers')."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = PUZZLE_DIR / f"{name}.yaml"
    if not path.suffix and shipped.is_file():
        return shipped
    raise ConfigError(f"no puzzle file {name}",
                      hint=f"Give a puzzle file path (YAML, CSV or JSON Lines), a shipped set: "
                           f"{', '.join(shipped_sets())}, or a generator such as gen:arithmetic?n=100&seed=7.")


def shipped_sets() -> list[str]:
    return sorted(p.stem for p in PUZZLE_DIR.glob("*.yaml"))


def load(name: str | Path = "course") -> list[Puzzle]:
    """Puzzles from a YAML, CSV or JSON Lines file, a shipped set or a ``gen:`` generator, validated."""
    import yaml

    from helpers.compare import generators

    if generators.is_generated(name):
        return parse_puzzles(generators.generate(str(name)), str(name).strip())
    path = resolve(name)
    try:
        text = path.read_text(encoding="utf-8")
        suffix = path.suffix.lower()
        raw = _csv(text) if suffix == ".csv" else _jsonl(text, path) if suffix == ".jsonl" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the puzzle file {path}: {exc}",
                          hint="Check the path, and save the file as UTF-8 text.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}", hint="Check the indentation and quoting.") from exc
    except RecursionError as exc:  # lists or mappings nested thousands deep: no puzzle file looks like that
        raise ConfigError(f"{path}: nested too deeply to be a puzzle file",
                          hint="A puzzle file is a list of mappings (id, prompt, answer, grader).") from exc
    return parse_puzzles(raw, str(path))


LIST_FIELDS = ("choices", "tags")


def _csv(text: str) -> list[dict[str, Any]]:
    """CSV rows as puzzle mappings: empty cells left out, lists split on '|', a numeric tolerance as a number."""
    import csv
    import io

    rows = []
    for row in csv.DictReader(io.StringIO(text)):
        item: dict[str, Any] = {}
        for key, value in row.items():
            if key is None:  # more cells than header names
                item["(extra cells)"] = value
                continue
            key, value = key.strip(), (value or "").strip()
            if not value:
                continue
            if key in LIST_FIELDS:
                item[key] = [v.strip() for v in value.split("|") if v.strip()]
            elif key == "tolerance" and re.fullmatch(r"\d+(\.\d+)?", value):
                item[key] = float(value)
            else:
                item[key] = value
        rows.append(item)
    return rows


def _jsonl(text: str, path: Path) -> list[Any]:
    """JSON Lines: one JSON object per non-blank line."""
    import json

    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: line {number}: not valid JSON: {exc.msg}",
                              hint="Write one JSON object per line, e.g. "
                                   '{"id": "sum", "prompt": "1+1?", "answer": "2", "grader": "numeric"}.') from exc
    return out


def course() -> list[Puzzle]:
    return load("course")


def known_answers() -> list[Puzzle]:
    return load("known_answers")


@dataclass
class PuzzleSet:
    """Puzzles plus where they came from (kept in a run's config so resume and replay need no file)."""

    source: str
    puzzles: list[Puzzle] = field(default_factory=list)

    def to_config(self) -> dict[str, Any]:
        return {"source": self.source, "puzzles": [p.to_dict() for p in self.puzzles]}

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> PuzzleSet:
        source = str(data.get("source") or "<run config>")
        return cls(source=source, puzzles=parse_puzzles(data.get("puzzles"), source))
