"""What every benchmark does first: a private run log, home and no `.env`, and (for local ones) an engine.

Importing this module also puts the project root on ``sys.path`` (for ``tests.fakes`` and ``helpers``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def isolate(**extra: str) -> Path:
    """Point the run log and LLM Lab's home at a fresh temp folder, ignore `.env`, set ``extra`` variables."""
    tmp = Path(tempfile.mkdtemp(prefix="llmlab-bench-"))
    os.environ.update(LLMLAB_DB=str(tmp / "bench.db"), LLMLAB_HOME=str(tmp), LLMLAB_ENV_FILE=str(tmp / "none"),
                      **extra)
    return tmp


def local_engine_on_free_port() -> Any:
    """Start the bundled engine on a free port (stopped at exit like any on-demand engine); its state."""
    os.environ.pop("LOCAL_BASE_URL", None)
    from helpers.providers import local_engine

    os.environ["LLMLAB_LOCAL_PORT"] = str(local_engine.free_port())
    return local_engine.ensure()
