"""The comparison stage: models × puzzles × repeats, graded, costed, reported.

    from helpers.compare import compare
    result = compare(["local/smollm2", "stub/gpt-4"], "course")

- ``config``: the grid (models, puzzles, repeats, parameters) and its cells.
- ``puzzles``, ``graders``, ``quantities``: what is asked and how an answer is judged.
- ``runner``: asks the cells concurrently through ``helpers.llm``, resumable.
- ``results``: a run as a table; ``report`` and ``charts``: a run written to a folder.
- ``decision``: ranking a comparison's models by accuracy, cost, latency and emissions.
"""

from __future__ import annotations

from typing import Any

__all__ = ["compare", "resume", "run_async"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # loaded on first use: importing a sibling module must not import the runner
        from helpers.compare import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'helpers.compare' has no attribute {name!r}")
