"""Benchmarks: each script measures a ratio within one run and prints a Markdown block for BENCHMARKS.md."""
