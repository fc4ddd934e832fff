"""Lab 04 checker: add a provider by base URL."""

from __future__ import annotations

import os
from typing import Any

from helpers.answer import Answer
from helpers.labcheck.core import NOT_DONE, Report, _todo, attempt


# -- lab 04: add a provider by base URL ---------------------------------------------------------------------------
def served_models(base_url: str, timeout: float = 5.0) -> list[str] | str:
    """The ids ``GET {base_url}/models`` lists, or a sentence saying why there are none."""
    import httpx

    try:
        response = httpx.get(base_url.rstrip("/") + "/models", timeout=timeout)
    except httpx.HTTPError as exc:
        return f"nothing answers at {base_url} ({type(exc).__name__})"
    if response.status_code != 200:
        return f"{base_url}/models answered HTTP {response.status_code}"
    try:
        return sorted(m["id"] for m in response.json()["data"])
    except (ValueError, KeyError, TypeError):
        return f"{base_url}/models did not answer with an OpenAI-style model list"


def _check_base_url(report: Report, base_url: Any) -> list[str] | None:
    if _todo(base_url):
        report.todo(f"Step 1 is {NOT_DONE}: set BASE_URL to the server's OpenAI-compatible root")
        return None
    if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
        report.wrong(f"BASE_URL is {base_url!r}: it should be a URL starting with http:// or https://")
        return None
    if not base_url.rstrip("/").endswith("/v1"):
        report.wrong(f"BASE_URL {base_url} does not end in /v1: OpenAI-compatible servers serve the API under /v1")
        return None
    served = served_models(base_url)
    if isinstance(served, str):
        report.wrong(f"BASE_URL: {served}; is the server running?")
        return None
    report.ok(f"BASE_URL {base_url} answers and serves {served}")
    return served


def _check_list_models(report: Report, list_models: Any, base_url: str, served: list[str]) -> None:
    finished, ids = attempt(report, "list_models", list_models, base_url)
    if not finished:
        return
    if _todo(ids):
        report.todo(f"Step 2 is {NOT_DONE}: `list_models` returns {ids!r}")
    elif not isinstance(ids, (list, tuple)) or not all(isinstance(i, str) for i in ids):
        report.wrong("`list_models` should return a list of model id strings: the server's model list holds "
                     "objects, and each has an id")
    elif sorted(ids) != served:
        report.wrong(f"`list_models` returns {sorted(ids)}, but the server lists {served}")
    else:
        report.ok(f"`list_models` returns {served}")


def _check_ask_directly(report: Report, ask_directly: Any, base_url: str, model: str) -> None:
    finished, text = attempt(report, "ask_directly", ask_directly, base_url, model, "Say hello.")
    if not finished:
        return
    if text is None:
        report.todo(f"Step 3 is {NOT_DONE}: `ask_directly` returns None")
    elif not isinstance(text, str):
        report.wrong(f"`ask_directly` returns a {type(text).__name__}: return the text, "
                     "reply.choices[0].message.content")
    elif not text.strip():
        report.wrong("`ask_directly` returns an empty string: a chat completion holds a list of choices, each "
                     "with a message; the text is that message's content")
    else:
        report.ok(f"`ask_directly` returns the server's text ({len(text)} characters)")


def _check_custom_answer(report: Report, answer: Any, base_url: str) -> None:
    if _todo(answer):
        report.todo(f"Step 4 is {NOT_DONE}: set CUSTOM_BASE_URL and ask 'custom/<model id>'")
        return
    if not isinstance(answer, Answer):
        report.wrong(f"`answer` is a {type(answer).__name__}: keep what ask(...) returns")
    elif answer.provider != "custom":
        report.wrong(f"`answer` came from provider {answer.provider!r}: ask with the spec custom/<model id>")
    elif (os.environ.get("CUSTOM_BASE_URL") or "").rstrip("/") != base_url.rstrip("/"):
        report.wrong(f"CUSTOM_BASE_URL is {os.environ.get('CUSTOM_BASE_URL')!r}, not BASE_URL: "
                     "set os.environ['CUSTOM_BASE_URL'] = BASE_URL before asking")
    elif not answer.ok:
        report.wrong(f"`answer` holds an error: {answer.error}")
    else:
        report.ok(f"`answer`: {answer.spec} answered through ask(), like any catalog provider")


def add_a_provider(base_url: Any = None, list_models: Any = None, ask_directly: Any = None,
                   answer: Any = None) -> Report:
    """Lab 04: a base URL that answers, its model list, a direct SDK call and ask() through `custom/…`."""
    report = Report("Lab 04 · add a provider")
    served = _check_base_url(report, base_url)
    if not served:
        report.todo("Steps 2 to 4 need a BASE_URL that answers")
        return report
    _check_list_models(report, list_models, base_url, served)
    _check_ask_directly(report, ask_directly, base_url, served[0])
    _check_custom_answer(report, answer, base_url)
    return report

