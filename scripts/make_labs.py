"""Generate each lab's two notebooks from its source `labs/source/NN_*.ipynb` (the worked solution, marked up):

- the worked solution `labs/solutions/NN_*.ipynb`: the source without its markup and outputs, so students
  who open a solution never see `### BEGIN SOLUTION` or `#> models = []`;
- the student copy `labs/NN_*.ipynb`: the source with every solution block replaced by its skeleton.

    python scripts/make_labs.py           # write both for every lab (and strip the sources' outputs)
    python scripts/make_labs.py --check   # exit 1 when a generated notebook is missing, stale or orphaned

A cell tagged `solution` (cell metadata tags) carries its own skeleton:

- code: every block from a `### BEGIN SOLUTION` line to a `### END SOLUTION` line is replaced by the
  block's student lines — lines written `#> code` inside the block, shown without the `#> ` — or, when it
  has none, by `raise NotImplementedError("your code here")` at the block's indentation. A block at the top
  level of a cell needs student lines (e.g. `#> answers = []`), so the student copy still runs top to
  bottom; the lab's `check` cell then reports that step as not done yet.
- markdown: every block from `<!-- BEGIN SOLUTION -->` to `<!-- END SOLUTION -->` becomes "_Your answer
  here._".

In the worked solution the same blocks keep their solution lines and lose the marker lines and the `#>`
lines. Every other cell is copied as it is. Outputs and execution counts are dropped and the `solution`
tag removed. Each lab must have at least one `solution` cell and one cell tagged `check`.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END, STUDENT = "### BEGIN SOLUTION", "### END SOLUTION", "#>"
MD_BEGIN, MD_END = "<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->"
MD_PLACEHOLDER = "_Your answer here._"
NAME = re.compile(r"^\d\d_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")


class LabSourceError(ValueError):
    """A solution notebook the generator cannot turn into a student copy; the message names the fix."""


def _student_block(block: list[str], indent: str, where: str) -> list[str]:
    student = []
    for line in block:
        stripped = line.lstrip()
        if stripped.startswith(STUDENT):
            code = stripped.removeprefix(STUDENT)
            student.append(line[: len(line) - len(stripped)] + code.removeprefix(" "))
    if student:
        return student
    if not indent:
        raise LabSourceError(f"{where}: a top-level solution block has no `{STUDENT} …` student line; add one "
                             f"(e.g. `{STUDENT} answers = []`) so the student copy still runs")
    return [f'{indent}raise NotImplementedError("your code here")']


def student_code(source: str, where: str = "cell") -> str:
    """A solution cell's code with each solution block replaced by its skeleton."""
    out: list[str] = []
    block: list[str] | None = None
    indent = ""
    blocks = 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == BEGIN:
            if block is not None:
                raise LabSourceError(f"{where}: `{BEGIN}` inside another solution block; close the first one")
            block, indent, blocks = [], line[: len(line) - len(line.lstrip())], blocks + 1
        elif stripped == END:
            if block is None:
                raise LabSourceError(f"{where}: `{END}` without a `{BEGIN}` before it")
            out.extend(_student_block(block, indent, where))
            block = None
        elif block is not None:
            block.append(line)
        else:
            out.append(line)
    if block is not None:
        raise LabSourceError(f"{where}: `{BEGIN}` is never closed; add a `{END}` line")
    if not blocks:
        raise LabSourceError(f"{where}: tagged `solution` but has no `{BEGIN}` block; add one or drop the tag")
    return "\n".join(out)


def solution_code(source: str) -> str:
    """A solution cell's code as students see it in the worked solution: no markers, no `#>` lines."""
    out, inside = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in (BEGIN, END):
            inside = stripped == BEGIN
        elif not (inside and stripped.startswith(STUDENT)):
            out.append(line)
    return "\n".join(out)


def solution_markdown(source: str) -> str:
    """A solution markdown cell without its (invisible, but there when edited) markers."""
    return source.replace(MD_BEGIN, "").replace(MD_END, "")


def student_markdown(source: str, where: str = "cell") -> str:
    """A solution markdown cell with each solution block replaced by a placeholder."""
    pattern = re.compile(re.escape(MD_BEGIN) + r".*?" + re.escape(MD_END), re.DOTALL)
    if not pattern.search(source):
        raise LabSourceError(f"{where}: tagged `solution` but has no `{MD_BEGIN} … {MD_END}` block")
    return pattern.sub(MD_PLACEHOLDER, source)


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip(nb: dict[str, Any]) -> dict[str, Any]:
    """The notebook without outputs, execution counts or execution timings (in place; returned)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("execution", None)
    return nb


def _untag(cell: dict[str, Any]) -> None:
    rest = [t for t in _tags(cell) if t != "solution"]
    if rest:
        cell["metadata"]["tags"] = rest
    else:
        cell["metadata"].pop("tags", None)


def solution_notebook(source: dict[str, Any]) -> dict[str, Any]:
    """The worked solution students open: the source without markup or outputs."""
    nb = strip(copy.deepcopy(source))
    for cell in nb.get("cells", []):
        if "solution" in _tags(cell):
            text = _source(cell)
            cell["source"] = solution_code(text) if cell.get("cell_type") == "code" else solution_markdown(text)
            _untag(cell)
    return nb


def student_notebook(solution: dict[str, Any], name: str = "lab") -> dict[str, Any]:
    """The student copy of a lab's source notebook."""
    nb = strip(copy.deepcopy(solution))
    solutions = checks = 0
    for i, cell in enumerate(nb.get("cells", [])):
        tags = _tags(cell)
        checks += "check" in tags
        if "solution" not in tags:
            continue
        solutions += 1
        where = f"{name} cell {i}"
        text = _source(cell)
        cell["source"] = student_code(text, where) if cell.get("cell_type") == "code" else student_markdown(text, where)
        _untag(cell)
    if not solutions:
        raise LabSourceError(f"{name}: no cell is tagged `solution`, so the student copy would hold the answers")
    if not checks:
        raise LabSourceError(f"{name}: no cell is tagged `check`; add one that calls a checker in helpers.labcheck")
    return nb


def read(path: Path) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def text(nb: Any) -> str:
    """The notebook as Jupyter writes it (so saving it in Jupyter changes nothing)."""
    import nbformat

    out = nbformat.writes(nb)
    return out if out.endswith("\n") else out + "\n"


def plan(root: Path) -> tuple[dict[Path, str], dict[Path, str], list[Path]]:
    """(generated notebooks to write: solutions and student copies, stripped sources, orphans with no source)."""
    labs, solutions, sources = root / "labs", root / "labs" / "solutions", root / "labs" / "source"
    generated, cleaned = {}, {}
    for path in sorted(sources.glob("*.ipynb")):
        if not NAME.match(path.name):
            raise LabSourceError(f"{path}: lab names look like NN_snake_case.ipynb (e.g. 01_two_providers.ipynb)")
        nb = read(path)
        cleaned[path] = text(strip(copy.deepcopy(nb)))
        generated[labs / path.name] = text(student_notebook(nb, path.name))
        generated[solutions / path.name] = text(solution_notebook(nb))
    orphans = [p for folder in (labs, solutions) for p in sorted(folder.glob("*.ipynb")) if p not in generated]
    return generated, cleaned, orphans


def check(root: Path = ROOT) -> list[str]:
    """What is out of step (empty when every generated notebook matches its source)."""
    generated, _, orphans = plan(root)
    problems = [f"{p.relative_to(root)} has no source in labs/source/" for p in orphans]
    for path, fresh in generated.items():
        if not path.exists():
            problems.append(f"{path.relative_to(root)} is missing")
        elif path.read_text(encoding="utf-8") != fresh:
            problems.append(f"{path.relative_to(root)} is stale")
    return problems


def write(root: Path = ROOT) -> list[Path]:
    """Strip the sources' outputs and write every solution and student copy; returns the files changed."""
    generated, cleaned, orphans = plan(root)
    changed = []
    (root / "labs" / "solutions").mkdir(parents=True, exist_ok=True)
    for path, fresh in {**cleaned, **generated}.items():
        if not path.exists() or path.read_text(encoding="utf-8") != fresh:
            path.write_text(fresh, encoding="utf-8")
            changed.append(path)
    for p in orphans:
        print(f"warning: {p.relative_to(root)} has no source in labs/source/ (delete it or add one)")
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated notebook is out of step")
    parser.add_argument("--root", type=Path, default=ROOT, help="project folder (default: this repository)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.root)
            for p in problems:
                print(p)
            if problems:
                print("Regenerate the solutions and student copies: python scripts/make_labs.py (or make labs)")
            return 1 if problems else 0
        for path in write(args.root):
            print(f"wrote {path.relative_to(args.root)}")
        return 0
    except LabSourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
