"""Regenerate the README's command reference from the CLI's own --help (so the two never drift).

    python scripts/readme_cli.py          # rewrite README.md between the markers
    python scripts/readme_cli.py --check  # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BEGIN, END = "<!-- cli-help:begin -->", "<!-- cli-help:end -->"


def help_text(argv: list[str]) -> str:
    from helpers.cli import main

    out = io.StringIO()
    os.environ["COLUMNS"] = "100"
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return out.getvalue().rstrip()


def section() -> str:
    from helpers.cli import COMMANDS

    parts = ["```\n$ llmlab --help\n" + help_text([]) + "\n```"]
    for name in COMMANDS:
        parts.append(f"<details><summary><code>llmlab {name}</code></summary>\n\n```\n"
                     + help_text([name]) + "\n```\n</details>")
    return "\n\n".join(parts)


def render(readme: str) -> str:
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{section()}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    fresh = render(current)
    if args.check:
        if fresh != current:
            print("README.md's command reference is out of date: run python scripts/readme_cli.py")
            return 1
        return 0
    path.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
