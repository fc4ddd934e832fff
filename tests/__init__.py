"""LLM Lab test suite."""
