"""A class's gateway (LiteLLM proxy) refusals, as the students see them through ask().

The bodies are the proxy's real ones, pasted from public threads (structure, types and codes kept; the
model lists and figures are theirs):
- budget, LiteLLM 1.8x (HTTP 429): BerriAI/litellm pull request #40002 (a curl transcript of
  /v1/chat/completions with a virtual key over its max_budget); the key hash shortened.
- budget, older releases (HTTP 400, no type): BerriAI/litellm issue #14144 (comment of 2025-09-04).
- model not allowed for the key (HTTP 401): winfunc/opcode issue #358 (the API error it printed); the same
  message is built in litellm/proxy/auth/auth_checks.py (``can_key_call_model``) of litellm 1.84.10.
"""

from __future__ import annotations

import pytest

from helpers import ask, errors
from helpers.providers import gateway
from tests.fakes.openai_server import FakeOpenAI, Fault

BUDGET_429 = {"error": {"message": "Budget has been exceeded! Key=e7fbc61f8b49 Current cost: 0.0, Estimated request "
                                   "cost: 3.6432300000000004, Max budget: 2.5",
                        "type": "budget_exceeded", "param": None, "code": "429"}}
BUDGET_400_OLD = {"error": {"message": "litellm.BadRequestError: OpenAIException - Budget has been exceeded! Current "
                                       "cost: 14.xxx, Max budget: 100. "
                                       "Received Model Group=meta.llama3-8b-instruct-v1:0"
                                       "\nAvailable Model Group Fallbacks=None",
                            "type": None, "param": None, "code": "400"}}
MODEL_401 = {"error": {"message": "key not allowed to access model. This key can only access models=['gpt-5', "
                                  "'eu.anthropic.claude-sonnet-4-20250514-v1:0']. "
                                  "Tried to access claude-sonnet-4-20250514",
                       "type": "key_model_access_denied", "param": "model", "code": "401"}}


@pytest.fixture
def gateway_env(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> FakeOpenAI:
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-student-virtual-key-0001")
    return fake_openai


def test_budget_exceeded_is_a_budget_error_with_the_fix(gateway_env: FakeOpenAI) -> None:
    gateway_env.on_model("gpt-4.1-mini", Fault.status(429, BUDGET_429))
    answer = ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0)
    assert answer.error_kind == "budget"
    assert "a budget is used up (the key in OPENAI_API_KEY, or this model's) (429)" in answer.error
    assert "Max budget: 2.5" in answer.error  # the gateway's own figures are kept
    assert "Ask your instructor to raise the budget" in answer.error and "local/smollm2" in answer.error
    with pytest.raises(errors.BudgetExceeded):
        ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0, raise_errors=True)


def test_older_gateway_budget_message_without_a_type(gateway_env: FakeOpenAI) -> None:
    gateway_env.on_model("gpt-4.1-mini", Fault.status(400, BUDGET_400_OLD))
    answer = ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0)
    assert answer.error_kind == "budget"
    assert "(400)" in answer.error


def test_model_not_allowed_for_the_key_names_the_model_and_the_fix(gateway_env: FakeOpenAI) -> None:
    gateway_env.on_model("gpt-4.1-mini", Fault.status(401, MODEL_401))
    answer = ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0)
    assert answer.error_kind == "auth"
    assert "may not use the model 'gpt-4.1-mini' on this gateway (401)" in answer.error
    assert "This key can only access models=['gpt-5'" in answer.error
    assert "Choose one of the models your key allows" in answer.error
    assert "make a new one" not in answer.error  # not the wrong-key hint


def test_plain_provider_errors_are_left_to_the_usual_mapping(gateway_env: FakeOpenAI) -> None:
    gateway_env.on_model("gpt-4.1-mini", Fault.quota())
    answer = ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0)
    assert answer.error_kind == "quota"  # the usual mapping of insufficient_quota (issue 12): no quota, not retried
    gateway_env.on_model("gpt-4.1-mini", Fault.status(401))
    answer = ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0)
    assert answer.error_kind == "auth" and "refused the key" in answer.error


@pytest.mark.parametrize(("body", "expected"), [
    (BUDGET_429, "budget"), (BUDGET_400_OLD, "budget"), (MODEL_401, "model"),
    ({"error": {"message": "The requested model 'denied-model' is not available for this API key",
                "type": "key_model_access_denied", "code": "403"}}, "model"),
    ({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}, None),
    ({"error": {"message": "No connected db.", "type": "no_db_connection", "param": None, "code": "400"}}, "unchecked"),
    ({"error": "plain text"}, None), (None, None), ("<html>", None),
])
def test_classify(body: object, expected: str | None) -> None:
    assert gateway.classify(body) == expected
