"""Refusals of an OpenAI-compatible gateway (the LiteLLM proxy a class puts in front of the providers).

In a classroom each student holds a virtual key of the gateway, with a budget and a list of models, in
place of the provider's key. The gateway refuses in the OpenAI error shape with a ``type`` of its own:
``budget_exceeded`` (HTTP 429 in LiteLLM 1.8x, 400 in older releases; a model's own budget: 429 "No deployments
available - crossed budget") and ``key_model_access_denied`` (401; ``team_…``, ``user_…``, ``org_…``,
``project_…`` for the other owners of a model list). Read as a plain
status, the first looks like a rate limit worth waiting for and the second like a wrong key; this module
names them and the fix. Older releases sent no ``type``: their message text is recognised instead.
"""

from __future__ import annotations

from typing import Any

from helpers import errors
from helpers.keys import redact
from helpers.providers.failures import scrub

BUDGET_TYPES = frozenset({"budget_exceeded"})
MODEL_ACCESS_TYPES = frozenset({"key_model_access_denied", "team_model_access_denied", "user_model_access_denied",
                                "org_model_access_denied", "project_model_access_denied"})
# a key other than the master key, on a gateway without its database
NO_KEY_STORE_TYPES = frozenset({"no_db_connection"})
_BUDGET_WORDS = ("budget has been exceeded", "exceededbudget", "exceeded budget", "over budget", "crossed budget")
_MODEL_WORDS = ("not allowed to access model", "is not available for this api key")


def error_fields(body: Any) -> tuple[str, str]:
    """``(type, message)`` of an OpenAI-shaped error body (``{"error": {...}}`` or the inner dict); '' if absent."""
    inner = body.get("error", body) if isinstance(body, dict) else None
    if not isinstance(inner, dict):
        return "", str(inner or "")
    return str(inner.get("type") or ""), str(inner.get("message") or "")


def classify(body: Any, message: str = "") -> str | None:
    """'budget', 'model', 'unchecked' or None: what kind of gateway refusal the body (or the message text) is."""
    kind, text = error_fields(body)
    lowered = f"{text} {message}".lower()
    if kind in BUDGET_TYPES or any(w in lowered for w in _BUDGET_WORDS):
        return "budget"
    if kind in MODEL_ACCESS_TYPES or any(w in lowered for w in _MODEL_WORDS):
        return "model"
    if kind in NO_KEY_STORE_TYPES:
        return "unchecked"
    return None


def describe(spec: str, model: str, key_var: str | None, status: int | None, body: Any, message: str = "",
             exc: BaseException | None = None) -> errors.LabError | None:
    """The LabError for a gateway refusal, or None when the response is not one (the caller maps it as usual).

    ``exc`` (the SDK's exception, chained to ours) has any key in its text masked, as for other errors.
    """
    what = classify(body, message)
    if what is None:
        return None
    scrub(exc)
    text = redact((error_fields(body)[1] or message).strip())[:400]
    code = f" ({status})" if status else ""
    key = key_var or "the API key"
    if what == "budget":
        return errors.BudgetExceeded(
            f"{spec}: the gateway refused the call, a budget is used up "
            f"(the key in {key}, or this model's){code}: {text}",
            hint="Ask your instructor to raise the budget (or wait for it to reset); meanwhile "
                 "local/smollm2 answers offline for free. `compare --resume RUN_ID` finishes a stopped run later.")
    if what == "unchecked":
        return errors.AuthError(
            f"{spec}: the gateway cannot check the key in {key}{code}: {text}",
            hint="Check that the key is the one your instructor gave you. Instructor: this gateway has no key "
                 "database (DATABASE_URL), so it accepts only its master key.")
    return errors.AuthError(
        f"{spec}: the key in {key} may not use the model '{model}' on this gateway{code}: {text}",
        hint="Choose one of the models your key allows (the message lists them), or ask your instructor to add "
             "this one to your key.")
