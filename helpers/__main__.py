"""`python -m helpers …` runs the LLM Lab command line."""

from helpers.cli import main

raise SystemExit(main())
