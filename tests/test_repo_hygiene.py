"""Promises about what is committed: clean notebooks, no keys, Python 3.11 syntax, names, generated files."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The shapes of real provider keys (the same patterns as the before-stop hook): a prefix and 16+ characters.
KEY_SHAPE = re.compile(r"(sk-proj-|sk-ant-|sk-or-|gsk_|xai-|AIza)[A-Za-z0-9_\-]{16,}")
NOTEBOOK_NAME = re.compile(r"^\d\d_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
KEY_LOADING = re.compile(r"load_dotenv|os\.(?:environ|getenv)\b.*_API_KEY|getpass")


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [ROOT / name for name in out.split("\0") if name and (ROOT / name).is_file()]


def tracked_notebooks() -> list[Path]:
    return [p for p in tracked_files() if p.suffix == ".ipynb"]


def code_cells(path: Path) -> list[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [(i, "".join(c.get("source", ""))) for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "code"]


def without_magics(source: str) -> str:
    """IPython magics and shell escapes are not Python: parse them as `pass`."""
    return "\n".join("pass" if line.lstrip().startswith(("!", "%")) else line for line in source.splitlines())


def test_committed_notebooks_have_no_outputs_or_execution_counts() -> None:
    dirty = []
    for path in tracked_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell.get("outputs") or cell.get("execution_count") is not None:
                dirty.append(f"{path.relative_to(ROOT)} cell {i}")
    assert not dirty, f"notebooks committed with outputs (clear them; `make labs` does it for labs): {dirty}"


def test_no_key_shaped_string_in_tracked_files() -> None:
    found = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{path.relative_to(ROOT)}: {m.group(0)[:10]}…" for m in KEY_SHAPE.finditer(text)]
    assert not found, f"strings shaped like API keys are committed: {found}"


def test_key_shape_pattern_catches_keys() -> None:
    # A fake key built at run time, so this file holds no key-shaped string itself.
    fake = "sk-" + "proj-" + "A1b2C3d4E5f6G7h8I9j0"
    assert KEY_SHAPE.search(f"OPENAI_API_KEY={fake}")
    assert not KEY_SHAPE.search("OPENAI_API_KEY=sk-test")


def test_every_notebook_cell_parses_as_python_311() -> None:
    broken = []
    for path in tracked_notebooks():
        for i, source in code_cells(path):
            try:
                ast.parse(without_magics(source), feature_version=(3, 11))
            except SyntaxError as exc:
                broken.append(f"{path.relative_to(ROOT)} cell {i} line {exc.lineno}: {exc.msg}")
    assert not broken, broken


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the real 3.11 grammar needs a 3.11 interpreter")
def test_nested_same_quote_fstring_is_caught_on_311() -> None:
    with pytest.raises(SyntaxError):
        ast.parse('f"{", ".join(x)}"')


def test_notebook_names_are_numbered_snake_case() -> None:
    bad = [str(p.relative_to(ROOT)) for p in tracked_notebooks() if not NOTEBOOK_NAME.match(p.name)]
    assert not bad, f"name notebooks NN_snake_case.ipynb: {bad}"


def test_lessons_and_labs_start_with_a_title_and_use_the_setup_cell() -> None:
    problems = []
    for path in tracked_notebooks():
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = nb["cells"][0] if nb["cells"] else {}
        if first.get("cell_type") != "markdown" or not "".join(first.get("source", "")).startswith("# "):
            problems.append(f"{path.relative_to(ROOT)}: the first cell is not a Markdown title (# …)")
        code = "\n".join(src for _, src in code_cells(path))
        if "from helpers.notebook import setup" not in code:
            problems.append(f"{path.relative_to(ROOT)}: no `from helpers.notebook import setup` cell")
        if KEY_LOADING.search(code):
            problems.append(f"{path.relative_to(ROOT)}: loads keys itself; setup() does that")
    assert not problems, problems


def run_script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def test_student_copies_are_in_step_with_the_solutions() -> None:
    result = run_script("make_labs.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_command_reference_is_current() -> None:
    result = run_script("readme_cli.py", "--check")
    assert result.returncode == 0, result.stdout + result.stderr
