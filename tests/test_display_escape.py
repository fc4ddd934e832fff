"""display.escape (one function for every sink), emission figures named by method, unknown shown as n/a.

How JupyterLab shows escaped text is checked in a real browser (tests/browser); here: the exact strings, and
that matplotlib takes any label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import display
from helpers.answer import Answer, Emissions, Range, Usage
from helpers.cli import main
from helpers.estimates import measure, methods


@pytest.mark.parametrize(("text", "sink", "expected"), [
    ("cost $0.10 instead of $0.40", "notebook", r"cost \\$0.10 instead of \\$0.40"),
    ("cost $0.10 instead of $0.40", "markdown", r"cost \$0.10 instead of \$0.40"),
    ("a | b\nc", "table", r"a \| b<br>c"),
    ("$2", "file-table", r"\$2"),
    ("**bold** [x](y) <b>", "notebook", r"\*\*bold\*\* \[x\](y) &lt;b&gt;"),
    (r"\(x\) and \[y\]", "notebook", r"\\\(x\\\) and \\\[y\\\]"),
    ("# title\n1. one\n- two", "notebook", "\\# title\n1\\. one\n\\- two"),
    ("GROK_API_KEY and _emphasis_", "notebook", r"GROK_API_KEY and \_emphasis\_"),
    ("see http://x.org", "notebook", r"see http\://x.org"),
    ("our **own** $5", "prose", r"our **own** \\$5"),
    ("a$b$c", "chart", r"a\$b\$c"),
    (None, "notebook", ""),
])
def test_escape(text: str | None, sink: display.Sink, expected: str) -> None:
    assert display.escape(text, sink) == expected


def test_escape_keeps_latex_environments_from_being_read_as_math() -> None:
    out = display.escape(r"\begin{equation}x\end{equation}")
    assert "\\begin{" not in out.replace("\\\\", "") and display.WORD_JOINER in out


def test_charts_take_model_names_with_dollars(tmp_path: Path) -> None:
    """Two `$` in a model name were mathtext (garbled, or a crash after a paid run): now plain text."""
    rows = [{"spec": "custom/a$b$c", "prompt_tokens": 10, "completion_tokens": 20, "tracker_g": 0.01},
            {"spec": "custom/odd$one", "prompt_tokens": 10, "completion_tokens": 20, "tracker_g": 0.02}]
    fig = methods.chart(rows)
    fig.savefig(tmp_path / "chart.png")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == [r"custom/a\$b\$c", r"custom/odd\$one"] and (tmp_path / "chart.png").stat().st_size > 1000


def _answer(provider: str = "openai", model: str = "gpt-4o-mini", **emissions: Any) -> Answer:
    return Answer(spec=f"{provider}/{model}", provider=provider, model=model, text="hi",
                  usage=Usage(prompt_tokens=None, completion_tokens=12), emissions=Emissions(**emissions))


def test_unknown_token_counts_are_na_not_zero() -> None:
    assert display.fmt_tokens(_answer()) == "n/a in / 12 out"


def test_every_emission_figure_names_its_method() -> None:
    a = _answer(tracker_g=0.369, ecologits_g=Range(0.0127, 0.0153))
    assert display.co2e_text(a) == "tracker 0.369 g, EcoLogits 12.7–15.3 mg"
    assert "CO2e tracker 0.369 g, EcoLogits 12.7–15.3 mg" in display.stats_line(a)
    assert display.co2e_text(_answer()) == "n/a"


def test_a_measured_figure_says_where_its_power_came_from() -> None:
    a = _answer("local", "smollm2", measured_g=0.00005)
    a.extra["measured"] = {"sensor": False}
    assert display.co2e_text(a) == "measured 0.05 mg (CodeCarbon, no power sensor: estimated power)"
    a.extra["measured"] = {"sensor": True}
    assert display.co2e_text(a) == "measured 0.05 mg (CodeCarbon, sensor)"


def test_a_recorded_answer_carries_the_estimate_of_the_model_it_imitates() -> None:
    a = _answer("stub", "gpt-35-turbo", tracker_g=0.1)
    assert display.co2e_text(a).endswith("(estimates for gpt-35-turbo, which this recorded answer imitates)")


class CPU:  # the shape of codecarbon.external.hardware.CPU that power_source reads
    def __init__(self, mode: str) -> None:
        self._mode = mode


class Tracker:
    def __init__(self, *hardware: object) -> None:
        self._hardware = list(hardware)


@pytest.mark.parametrize(("mode", "sensor", "words"), [
    ("intel_rapl", True, "read by Intel RAPL (sensor)"),
    ("cpu_load", False, "no power sensor: CPU power estimated from its load × a constant wattage"),
    ("constant", False, "no power sensor: CPU power a constant share of its rated power"),
])
def test_power_source(mode: str, sensor: bool, words: str) -> None:
    text, has_sensor = measure.power_source(Tracker(CPU(mode)))
    assert has_sensor is sensor and words in text


def test_cli_ask_on_the_stub_shows_the_tracker_figure_and_the_ecologits_range(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "-m", "stub/gpt-35-turbo", "What is the Olympic motto?"]) == 0
    out = capsys.readouterr().out
    lines = [line.strip() for line in out.splitlines()]
    assert any(line.startswith(("CO2e     tracker ", "CO2e tracker ")) for line in out.splitlines())
    assert any(line.startswith("EcoLogits ") and line.endswith(" mg") for line in lines), out
    assert "estimates for gpt-35-turbo" in out and "[offline]" in out


def test_the_methods_table_says_where_codecarbons_power_came_from() -> None:
    a = _answer("local", "smollm2", measured_g=0.00005, measured_kwh=1e-7)
    a.extra["measured"] = {"sensor": False, "power_source": "no power sensor: CPU power estimated from its load"}
    text = methods.markdown([a])
    assert "CodeCarbon's power here: no power sensor: CPU power estimated from its load." in text
    assert "| 1. local/smollm2 | n/a / 12 |" in text  # the unknown prompt count is n/a, not 0


def test_a_conversation_total_names_the_methods_it_sums() -> None:
    from helpers.conversation import Conversation, make_seats

    chat = Conversation(make_seats(["stub/gpt-35-turbo", "stub/gpt-4"])).run(rounds=1)
    methods_used = {a.emissions.headline_method for a in chat.answers if a.g_co2e is not None}
    assert methods_used, [a.emissions for a in chat.answers]
    named = [display.HEADLINE_METHODS[m] for m in methods_used]
    assert all(name in chat.summary() for name in named), chat.summary()
