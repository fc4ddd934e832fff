"""scripts/make_labs.py: student copies from solutions, skeleton rules, and --check."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def make_labs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_labs", ROOT / "scripts" / "make_labs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FUNCTION = '''def grade(text):
    """True when text means 2/3."""
    # TODO: accept 2/3, 0.67 and 66.7%
    ### BEGIN SOLUTION
    value = parse(text)
    return abs(value - 2 / 3) < 0.01
    ### END SOLUTION
'''


def test_a_block_inside_a_function_becomes_not_implemented(make_labs: ModuleType) -> None:
    assert make_labs.student_code(FUNCTION) == ('def grade(text):\n    """True when text means 2/3."""\n'
                                                 "    # TODO: accept 2/3, 0.67 and 66.7%\n"
                                                 '    raise NotImplementedError("your code here")')


def test_student_lines_replace_the_block(make_labs: ModuleType) -> None:
    source = ("# TODO: ask both\n### BEGIN SOLUTION\n#> answers = []\nanswers = ask_many(models, Q)\n"
              "### END SOLUTION\nlab.show(answers)")
    assert make_labs.student_code(source) == "# TODO: ask both\nanswers = []\nlab.show(answers)"
    nested = "if True:\n    ### BEGIN SOLUTION\n    #>x = 1\n    x = 2\n    ### END SOLUTION"
    assert make_labs.student_code(nested) == "if True:\n    x = 1"


@pytest.mark.parametrize(("source", "message"), [
    ("### BEGIN SOLUTION\nanswers = f()\n### END SOLUTION", "top-level solution block has no `#> …` student line"),
    ("x = 1\n### BEGIN SOLUTION\n#> x = 2", "is never closed"),
    ("x = 1\n### END SOLUTION", "without a `### BEGIN SOLUTION` before it"),
    ("### BEGIN SOLUTION\n#> a = 1\n### BEGIN SOLUTION", "inside another solution block"),
    ("x = 1", "has no `### BEGIN SOLUTION` block"),
])
def test_malformed_solution_cells_name_the_fix(make_labs: ModuleType, source: str, message: str) -> None:
    with pytest.raises(make_labs.LabSourceError, match="lab cell 3") as caught:
        make_labs.student_code(source, "lab cell 3")
    assert message in str(caught.value)


def test_markdown_answers_become_a_placeholder(make_labs: ModuleType) -> None:
    source = "Which was right?\n\n<!-- BEGIN SOLUTION -->\nThe stub.\n<!-- END SOLUTION -->\n\nWhy?"
    assert make_labs.student_markdown(source) == "Which was right?\n\n_Your answer here._\n\nWhy?"
    with pytest.raises(make_labs.LabSourceError):
        make_labs.student_markdown("no block")


def solution_notebook(answer_line: str = "answers = ask(Q)") -> nbformat.NotebookNode:
    ask = new_code_cell(f"### BEGIN SOLUTION\n#> answers = []\n{answer_line}\n### END SOLUTION",
                        metadata={"tags": ["solution", "slow"]}, execution_count=3,
                        outputs=[new_output("stream", name="stdout", text="done\n")])
    ask.metadata["execution"] = {"iopub.status.busy": "2025-01-01T00:00:00Z"}
    cells = [new_markdown_cell("# Lab 99 · test"), ask,
             new_markdown_cell("<!-- BEGIN SOLUTION -->It was fast.<!-- END SOLUTION -->",
                               metadata={"tags": ["solution"]}),
             new_code_cell("labcheck.x(answers)", metadata={"tags": ["check"]})]
    for i, cell in enumerate(cells):
        cell.id = f"cell-{i}"  # stable ids, so a rewritten solution differs only where its text does
    return new_notebook(cells=cells)


def test_student_notebook_strips_outputs_and_the_solution_tag(make_labs: ModuleType) -> None:
    copy = make_labs.student_notebook(solution_notebook())
    ask, reflection, check = copy.cells[1], copy.cells[2], copy.cells[3]
    assert ask.source == "answers = []" and ask.outputs == [] and ask.execution_count is None
    assert ask.metadata == {"tags": ["slow"]}
    assert reflection.source == "_Your answer here._" and "tags" not in reflection.metadata
    assert check.metadata["tags"] == ["check"] and check.source == "labcheck.x(answers)"


def test_a_lab_needs_solution_and_check_cells(make_labs: ModuleType) -> None:
    nb = solution_notebook()
    nb.cells[3].metadata["tags"] = []
    with pytest.raises(make_labs.LabSourceError, match="no cell is tagged `check`"):
        make_labs.student_notebook(nb)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    with pytest.raises(make_labs.LabSourceError, match="no cell is tagged `solution`"):
        make_labs.student_notebook(nb)


def test_the_worked_solution_shows_no_markup(make_labs: ModuleType) -> None:
    """Students open solutions too: no `### BEGIN SOLUTION`, no `#> answers = []`, no HTML comment markers."""
    solved = make_labs.solution_notebook(solution_notebook())
    ask, reflection = solved.cells[1], solved.cells[2]
    assert ask.source == "answers = ask(Q)" and ask.outputs == [] and ask.metadata == {"tags": ["slow"]}
    assert reflection.source == "It was fast." and "tags" not in reflection.metadata
    nested = "def f():\n    ### BEGIN SOLUTION\n    #> return None\n    return 1\n    ### END SOLUTION\n#> kept outside"
    assert make_labs.solution_code(nested) == "def f():\n    return 1\n#> kept outside"


def test_write_then_check_in_a_project_folder(make_labs: ModuleType, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    sources = tmp_path / "labs" / "source"
    sources.mkdir(parents=True)
    solution = sources / "99_test_lab.ipynb"
    nbformat.write(solution_notebook(), solution)
    assert make_labs.main(["--check", "--root", str(tmp_path)]) == 1
    assert "labs/99_test_lab.ipynb is missing" in capsys.readouterr().out

    assert make_labs.main(["--root", str(tmp_path)]) == 0
    student = tmp_path / "labs" / "99_test_lab.ipynb"
    assert json.loads(student.read_text())["cells"][1]["source"] == ["answers = []"]
    solved = tmp_path / "labs" / "solutions" / "99_test_lab.ipynb"
    assert json.loads(solved.read_text())["cells"][1]["source"] == ["answers = ask(Q)"]
    assert json.loads(solution.read_text())["cells"][1]["outputs"] == []  # the source was cleaned too
    assert make_labs.main(["--check", "--root", str(tmp_path)]) == 0

    nbformat.write(solution_notebook("answers = ask(Q, max_tokens=9)"), solution)
    assert make_labs.main(["--check", "--root", str(tmp_path)]) == 1  # the worked solution shows the answer
    assert "labs/solutions/99_test_lab.ipynb is stale" in capsys.readouterr().out
    assert make_labs.main(["--root", str(tmp_path)]) == 0
    capsys.readouterr()
    nb = solution_notebook()
    nb.cells[0].source = "# Lab 99 · renamed"
    nbformat.write(nb, solution)
    assert make_labs.main(["--check", "--root", str(tmp_path)]) == 1
    assert "labs/99_test_lab.ipynb is stale" in capsys.readouterr().out

    (tmp_path / "labs" / "98_orphan.ipynb").write_text(student.read_text())
    assert make_labs.main(["--check", "--root", str(tmp_path)]) == 1
    assert "labs/98_orphan.ipynb has no source" in capsys.readouterr().out


def test_bad_lab_names_and_sources_exit_2(make_labs: ModuleType, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    sources = tmp_path / "labs" / "source"
    sources.mkdir(parents=True)
    nbformat.write(solution_notebook(), sources / "Lab 1.ipynb")
    assert make_labs.main(["--root", str(tmp_path)]) == 2
    assert "NN_snake_case.ipynb" in capsys.readouterr().err


def test_committed_solutions_and_copies_show_no_markup(make_labs: ModuleType) -> None:
    assert make_labs.check(ROOT) == []  # generated from labs/source/ and up to date
    for path in [*(ROOT / "labs" / "solutions").glob("*.ipynb"), *(ROOT / "labs").glob("*.ipynb")]:
        for cell in nbformat.read(path, as_version=4).cells:
            for marker in (make_labs.BEGIN, make_labs.END, make_labs.MD_BEGIN, make_labs.MD_END):
                assert marker not in cell.source, f"{path.name}: {marker}"
            assert not any(line.lstrip().startswith("#> ") for line in cell.source.splitlines()), path.name
