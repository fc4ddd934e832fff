"""Conformance through the CLI: ``python -m helpers ask … --json`` (a fresh process, as a student runs it)
against the same real recordings, and what the plain output shows of them."""

from __future__ import annotations

import csv
import json

import pytest

from tests.fakes.conformance import cli, genai_price, replaying

PROMPT = "Please answer."

# (recording, spec, extra CLI args, text, model reported, usage, price (provider id, model ref) or None, kind)
JSON_CASES = [
    ("openai/plain_gpt4o", "openai/gpt-4o", [], "The capital of France is Paris.", "gpt-4o-2024-08-06",
     (14, 7, 0, 0, None), ("openai", "gpt-4o"), None),
    ("openai/cache_write", "openai/gpt-5.6-sol", [], "OK", "gpt-5.6-sol", (4020, 4, 0, 0, 4012),
     ("openai", "gpt-5.6-sol"), None),
    ("anthropic/cache_read_write", "anthropic/claude-sonnet-4-5", [],
     "Python is an easy, versatile language for many kinds of programs.", "claude-sonnet-4-5-20250929",
     (1532, 33, 1111, None, 418), ("anthropic", "claude-sonnet-4-5"), None),
    ("google/cached_content", "google/gemini-2.5-flash", [],
     "The video shows an assistant inside a code editor explaining and editing code.", "gemini-2.5-flash",
     (17713, 889, 17379, 821, None), ("google", "gemini-2.5-flash"), None),
    ("gemini_compat/total_above_parts", "gemini/gemini-2.5-pro-preview-05-06", [], "The current time is Noon.",
     "gemini-2.5-pro-preview-05-06", (66, 34, None, 28, None), ("google", "gemini-2.5-pro-preview-05-06"), None),
    ("deepseek/cache_hit", "deepseek/deepseek-reasoner", [], "Anne wins: the die shows 4, the number she guessed.",
     "deepseek-v4-flash", (976, 61, 896, 25, None), ("deepseek", "deepseek-v4-flash"), None),
    ("groq/stream_x_groq_usage", "groq/deepseek-r1-distill-llama-70b", ["--stream"],
     "Alfajores: two butter cookies joined with dulce de leche.", "deepseek-r1-distill-llama-70b",
     (21, 988, None, None, None), ("groq", "deepseek-r1-distill-llama-70b"), None),
    ("openrouter/usage_cost", "openrouter/openai/gpt-5-mini", [],
     "Mars is the fourth planet: cold, dusty, with a thin CO2 atmosphere and two small moons.",
     "openai/gpt-5-mini", (17, 2177, 0, 960, None), ("openrouter", "openai/gpt-5-mini"), None),
    ("google/max_tokens_no_text", "google/gemini-2.5-pro", ["--max-tokens", "5"], "", "gemini-2.5-pro",
     (15, 2, None, 2, None), ("google", "gemini-2.5-pro"), "empty"),
    ("xai/error_400_key_string", "grok/grok-4", [], "", None, (None, None, None, None, None), None, "auth"),
    ("openai/error_429_no_quota", "openai/gpt-4o-mini", [], "", None, (None, None, None, None, None), None,
     "quota"),
]


@pytest.mark.parametrize("case", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_cli_json(case: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    recording, spec, args, text, model, usage, price, kind = case
    provider = spec.split("/", 1)[0]
    with replaying(monkeypatch, provider, recording) as server:
        done = cli("ask", "-m", spec, PROMPT, "--json", "--no-cache", *args)
    assert done.code == (0 if kind is None else 1), done.err
    assert server.count() == 1
    answer = json.loads(done.out)[0]
    assert answer["error_kind"] == kind
    assert answer["text"].strip() == text and answer["model_reported"] == model
    u = answer["usage"]
    assert (u["prompt_tokens"], u["completion_tokens"], u["cached_tokens"], u["reasoning_tokens"],
            u["cache_write_tokens"]) == usage
    if price is not None:
        prompt, completion, cached, _, written = usage
        assert answer["cost_usd"] == pytest.approx(genai_price(*price, prompt, completion, cached, written), rel=1e-9)
    else:
        assert answer["cost_usd"] is None and answer["cost_note"]
    assert "tpot_s" in answer
    if "--stream" in args:
        assert answer["ttft_s"] is not None and answer["tpot_s"] is not None


def test_cli_plain_names_the_model_that_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "openai", "openai/plain_dated_model"):
        done = cli("ask", "-m", "openai/gpt-4o-mini", PROMPT, "--no-cache")
    assert done.code == 0, done.err
    assert "Hello! How can I assist you today?" in done.out
    assert "gpt-4o-mini-2024-07-18" in done.out


def test_cli_plain_marks_an_answer_cut_at_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "google", "google/max_tokens_with_text"):
        done = cli("ask", "-m", "google/gemini-2.5-flash", PROMPT, "--max-tokens", "5", "--no-cache")
    assert done.code == 0, done.err
    assert "The capital of France is" in done.out and "cut at max_tokens" in done.out


def test_cli_plain_gives_the_reason_for_cost_na(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "openrouter", "openrouter/stream_fallback_model"):
        done = cli("ask", "-m", "openrouter/google/gemini-2.0-flash-exp:free", PROMPT, "--stream", "--no-cache")
    assert done.code == 0, done.err
    assert "x-ai/grok-4" in done.out  # the fallback model answered
    assert "n/a (no price known" in done.out and "OpenRouter billed $0.003338" in done.out


def test_cli_stream_shows_ttft_and_tpot(monkeypatch: pytest.MonkeyPatch) -> None:
    with replaying(monkeypatch, "deepseek", "deepseek/stream_reasoner"):
        done = cli("ask", "-m", "deepseek/deepseek-reasoner", PROMPT, "--stream", "--no-cache")
    assert done.code == 0, done.err
    assert "Hello! How can I help you today?" in done.out
    assert "first token" in done.out and "per token" in done.out


def test_cli_streamed_compare_shows_ttft_and_tpot(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    puzzles = tmp_path / "p.yaml"
    puzzles.write_text("- id: greet\n  prompt: Say hello.\n  answer: hello\n  grader: regex\n"
                       "- id: again\n  prompt: Say hello again.\n  answer: hello\n  grader: regex\n")
    with replaying(monkeypatch, "deepseek", "deepseek/stream_reasoner") as server:
        done = cli("compare", "--puzzles", str(puzzles), "-m", "deepseek/deepseek-reasoner", "--stream",
                   "--no-cache", "--no-progress", "--report", str(tmp_path / "out"))
    assert done.code == 0, done.err + done.out
    assert server.count() == 2 and all(r.json["stream"] is True for r in server.requests)
    assert "TTFT p50" in done.out and "TPOT p50" in done.out
    with (tmp_path / "out" / "cells.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and "ttft_s" in rows[0] and "tpot_s" in rows[0]
    for values in rows:
        ttft, tpot, latency = float(values["ttft_s"]), float(values["tpot_s"]), float(values["latency_s"])
        assert 0 < ttft <= latency and tpot == pytest.approx((latency - ttft) / 211, rel=1e-6)
