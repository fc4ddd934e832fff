"""One pre-call step: a comparison prepares each cell's request once and hands it to the one call path.

Before this, a 6-cell run made 18 ``prepare`` calls (make_config, then the runner, then ``ask_async`` again).
"""

from __future__ import annotations

import io
from typing import Any

import pytest

from helpers import llm
from helpers.compare import runner
from helpers.compare.puzzles import Puzzle

PUZZLES = [Puzzle("sum", "Sum of the first 10 positive integers?", answer="55", grader="numeric"),
           Puzzle("root", "Square root of 81?", answer="9", grader="numeric"),
           Puzzle("shirts", "5 shirts at $20 with 10% off: total in dollars?", answer="90", grader="numeric")]
MODELS = ["openai/gpt-4.1-mini", "openai/gpt-4o-mini"]


@pytest.fixture
def counted(fake_openai, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + "c" * 20)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("LLMLAB_MAX_RETRIES", "0")
    seen: dict[str, list[Any]] = {"prepared": [], "sent": []}
    prepare, send = llm.prepare, llm.ask_prepared_async

    def counting_prepare(*args: Any, **kwargs: Any) -> llm.Prepared:
        seen["prepared"].append(prepare(*args, **kwargs))
        return seen["prepared"][-1]

    async def counting_send(prepared: llm.Prepared, **kwargs: Any) -> Any:
        seen["sent"].append(prepared)
        return await send(prepared, **kwargs)

    monkeypatch.setattr(llm, "prepare", counting_prepare)
    monkeypatch.setattr(llm, "ask_prepared_async", counting_send)
    seen["server"] = [fake_openai]
    return seen


def test_each_cell_is_prepared_once_and_sent_as_prepared(counted: dict[str, list[Any]]) -> None:
    result = runner.compare(MODELS, PUZZLES, max_usd=1.0, progress=False, out=io.StringIO())
    assert (result.cells.status == "ok").all() and len(result.cells) == 6
    assert len(counted["prepared"]) == 6 + len(MODELS)  # one per cell, plus one per model to check its params
    assert len(counted["sent"]) == 6 and all(any(p is s for p in counted["prepared"]) for s in counted["sent"])
    assert counted["server"][0].count() == 6


def test_a_cached_rerun_prepares_each_cell_once_and_sends_nothing(counted: dict[str, list[Any]]) -> None:
    runner.compare(MODELS, PUZZLES, progress=False, out=io.StringIO())
    counted["prepared"].clear()
    again = runner.compare(MODELS, PUZZLES, progress=False, out=io.StringIO())
    assert again.cells.cached.all() and counted["server"][0].count() == 6
    assert len(counted["prepared"]) == 6 + len(MODELS) and len(counted["sent"]) == 6  # the first run's only
