"""Loopback HTTP stand-ins for LLM providers (stdlib only), used by the test suite."""
