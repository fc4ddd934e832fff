"""Every lesson and lab solution as a student sees it: JupyterLab in headless Chromium, Run All, then the page.

One JupyterLab server (this venv) and one Chromium session for the module; the notebooks run from a copy
of the course in a tmp folder (JupyterLab may write to what it opens). The environment is the isolated
test one: no key, no .env, run log and engine state in tmp, measurement of local calls on. The bundled
engine is started once with ``local serve`` in that LLMLAB_HOME, and every kernel finds it through the
shared state file, as students' notebooks do. Screenshots land in ``screenshots/`` (git-ignored).

What is asserted on the rendered page, per notebook: no error output; no math element (MathJax/KaTeX)
inside any output (JupyterLab reads two `$` in Markdown as math); every widget rendered as a widget (no
"Loading widget…", no widget shown as text); charts are images (no "<Figure size …>" text); no output
shows "nan", "None" or a 16-digit float.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import harness
from tests.conftest import PROVIDER_ENV_VARS

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "labs" / "solutions").glob("*.ipynb"))
SHOTS = Path(os.environ.get("LLMLAB_SCREENSHOTS") or ROOT / "screenshots")
RUN_TIMEOUT_S = 240.0

# What must not be seen in an output where a figure is meant.
NOT_A_FIGURE = [
    (re.compile(r"(?<![\w.-])nan(?![\w-])", re.IGNORECASE), "nan"),
    (re.compile(r"(?<![\w.-])None(?![\w-])"), "None"),
    (re.compile(r"\d+\.\d{12,}"), "a 16-digit float"),
    (re.compile(r"<Figure size \d+(\.\d+)?x\d+(\.\d+)? with \d+ Axes>"), "a chart shown as text"),
    (re.compile(r"<matplotlib\.[\w.]+ object at 0x"), "a matplotlib object shown as text"),
    (re.compile(r"Loading widget", re.IGNORECASE), "a widget that did not render"),
    (re.compile(r"(?:HBox|VBox|Button|Dropdown)\((?:children|description|layout)="), "a widget shown as text"),
]
ERROR_MIMES = ("application/vnd.jupyter.stderr", "application/vnd.jupyter.error")
# Notebooks another issue is rewriting: math in an output still fails them; their other findings are
# reported as an expected failure until that rewrite lands.


def clean_env(work: Path) -> dict[str, str]:
    """The isolated test environment, for JupyterLab and its kernels."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV_VARS and not k.startswith("PYTEST_")}
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env.update({"LLMLAB_HOME": str(home), "LLMLAB_DB": str(home / "llmlab.db"),
                "LLMLAB_ENV_FILE": str(work / "no-such.env"), "LLMLAB_MEASURE_LOCAL": "1",
                "PYTHONPATH": str(ROOT), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "HOME": str(work / "user"), "PYTHONUNBUFFERED": "1"})
    env.pop("LLMLAB_LOCAL_PORT", None)  # the engine picks a free port and kernels find it in the state file
    env.pop("MPLBACKEND", None)
    return env


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[harness.LabServer, harness.Browser]]:
    work = tmp_path_factory.mktemp("browser")
    try:
        chromium, driver = harness.browser_tools(work / "apt.log")
    except harness.ToolsMissing as exc:
        pytest.skip(str(exc))
    course = work / "course"
    for folder in ("notebooks", "labs/solutions"):
        shutil.copytree(ROOT / folder, course / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    env = clean_env(work)
    (work / "user").mkdir(exist_ok=True)
    served = subprocess.run([sys.executable, "-m", "helpers", "local", "serve"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=180, check=False)
    assert served.returncode == 0, served.stdout + served.stderr
    server = harness.LabServer(root=course, work=work, env=env).start()
    browser = harness.Browser(chromium, driver, work / "chromium-profile", work / "chromedriver.log")
    try:
        yield server, browser
    finally:
        browser.quit()
        server.stop()
        subprocess.run([sys.executable, "-m", "helpers", "local", "stop"], env=env, cwd=ROOT,
                       capture_output=True, timeout=60, check=False)


def problems(report: list[dict[str, Any]]) -> list[str]:
    """What is wrong on the rendered page, one line each (cell numbers as JupyterLab counts, from 1)."""
    found = []
    for cell in report:
        where = f"cell {cell['index'] + 1}"
        if cell["kind"] == "code" and cell["prompt"] in ("[ ]:", "[*]:"):
            found.append(f"{where}: did not run ({cell['prompt']})")
        for out in cell["outputs"]:
            text = out["text"]
            if out["mime"] in ERROR_MIMES or "Traceback" in text:
                found.append(f"{where}: error output: {text.strip()[-600:]}")
            if out["math"]:
                found.append(f"{where}: {out['math']} math element(s) in an output: {text.strip()[:300]}")
            if out["mime"] == "application/vnd.jupyter.widget-view+json" and not out["widgets"]:
                found.append(f"{where}: a widget output holds no rendered widget: {text.strip()[:200]}")
            for pattern, what in NOT_A_FIGURE:
                m = pattern.search(text)
                if m:
                    found.append(f"{where}: shows {what}: …{text[max(m.start() - 80, 0):m.end() + 80]}…")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_notebook_in_jupyterlab(path: Path, lab: tuple[harness.LabServer, harness.Browser]) -> None:
    server, browser = lab
    rel = str(path.relative_to(ROOT))
    shot = SHOTS / (rel.replace("/", "__").removesuffix(".ipynb") + ".png")
    try:
        browser.open(server, rel)
        browser.run_all()
        browser.wait_idle(server, RUN_TIMEOUT_S)
        report = browser.report()
        browser.screenshot(shot)
    finally:
        server.shutdown_kernels()
    assert report, "JupyterLab showed no cells"
    code = [c for c in report if c["kind"] == "code"]
    assert code and all(re.fullmatch(r"\[\d+\]:", c["prompt"]) or c["prompt"] == "" for c in code[:1])
    found = problems(report)
    assert not found, f"{rel} (screenshot {shot}):\n" + "\n".join(found)


HOSTILE = ["cost $0.10 instead of $0.40, not $5", "$$E = mc^2$$ and \\(x^2\\) and \\[y\\]",
           "**bold** _it_ `code` [link](http://x.org/a_b) ~~s~~ www.example.com/_x_",
           "<script>alert(1)</script> & <b>b</b>",
           "# heading\n1. list\n- item\n> quote\n===", "a | b | c", "\\begin{equation}x\\end{equation}",
           "back\\slash \\$ and \\\\ twice", "US$ 1,000 and 5 $ left; 50% off {braces}"]


def test_escape_shows_text_literally_in_jupyterlab(lab: tuple[harness.LabServer, harness.Browser]) -> None:
    """display.escape: what a model wrote (dollars, LaTeX, Markdown, HTML) is shown as written, never as math."""
    import nbformat

    server, browser = lab
    source = ("from IPython.display import Markdown, display\nfrom helpers.display import escape\n"
              f"HOSTILE = {HOSTILE!r}\n"
              "for h in HOSTILE:\n    display(Markdown(escape(h)))\n"
              "display(Markdown(escape('our **own** words: $0.10 instead of $0.40, \\\\(x\\\\)', 'prose')))\n"
              "display(Markdown('| a | b |\\n|---|---|\\n| ' + escape(HOSTILE[0] + '\\nnext', 'table') + ' | '"
              " + escape('$2 | $3', 'table') + ' |'))\n")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (server.root / "probe").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "probe" / "escape.ipynb")
    try:
        browser.open(server, "probe/escape.ipynb")
        browser.run_all()
        browser.wait_idle(server, 60)
        outputs = browser.report()[0]["outputs"]
        browser.screenshot(SHOTS / "probe__escape.png")
    finally:
        server.shutdown_kernels()
    shown = [" ".join(o["text"].replace("\u2060", "").split()) for o in outputs]
    assert [o["math"] for o in outputs] == [0] * (len(HOSTILE) + 2)
    assert shown[:-2] == [" ".join(h.split()) for h in HOSTILE]
    assert shown[-2] == "our own words: $0.10 instead of $0.40, \\(x\\)"
    assert shown[-1] == "a b " + HOSTILE[0] + " next $2 | $3"


def _write_probe(server: harness.LabServer, name: str, sources: list[str]) -> str:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (server.root / "probe").mkdir(exist_ok=True)
    nbformat.write(nb, server.root / "probe" / name)
    return f"probe/{name}"


def button(driver: Any, label: str) -> Any:
    from selenium.webdriver.common.by import By

    return next(b for b in driver.find_elements(By.CSS_SELECTOR, "button.jupyter-button") if b.text.strip() == label)


def test_widgets_clicked_in_jupyterlab(lab: tuple[harness.LabServer, harness.Browser]) -> None:
    """The playground and the conversation widget used with the mouse, on the bundled engine (streamed)."""
    from selenium.webdriver.common.by import By

    server, browser = lab
    playground = ("from helpers import widgets\nfrom helpers.conversation import Seat\n"
                  "pg = widgets.playground(['local/smollm2'])\npg.max_tokens.value = 24\npg")
    conversation = ("talk = widgets.conversation([Seat('local/smollm2', 'Alex', 'You argue.'), "
                    "Seat('local/smollm2', 'Blake', 'You agree.')], rounds=1)\ntalk.max_tokens.value = 16\ntalk")
    rel = _write_probe(server, "widgets.ipynb", [playground, conversation])
    d = browser.driver
    try:
        browser.open(server, rel)
        browser.run_all()
        browser.wait_idle(server, 90)
        d.find_element(By.CSS_SELECTOR, "textarea[placeholder='Your prompt']").send_keys("Name a colour.")
        button(d, "Run").click()
        browser.wait_for(lambda: "Done:" in d.find_element(By.TAG_NAME, "body").text, 120, "the playground's answer")
        d.find_element(By.CSS_SELECTOR, "input[placeholder='Optional opening line for the first seat']").send_keys(
            "Cats or dogs?")
        button(d, "Start").click()
        browser.wait_for(lambda: "call(s)" in d.find_element(By.TAG_NAME, "body").text, 180, "the conversation")
        report = browser.report()
        browser.screenshot(SHOTS / "probe__widgets.png")
        speakers = [b.text for b in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output .widget-html b")
                    if b.text in ("Alex", "Blake")]
    finally:
        server.shutdown_kernels()
    assert not problems(report)
    page = "\n".join(o["text"] for c in report for o in c["outputs"])
    assert "[offline]" in page and "CO2e, measured" in page  # the playground pane names its method
    assert "tokens 0 in" not in page and "\t0 in" not in page  # a streamed answer's unknown prompt tokens: n/a
    assert speakers[:3] == ["Alex", "Blake", "Alex"][:len(speakers[:3])] and len(speakers) >= 2
    assert all(a != b for a, b in itertools.pairwise(speakers)), speakers  # nobody speaks twice in a row
