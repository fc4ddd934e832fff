"""The batch APIs that ``helpers.compare.batch`` speaks, through the official SDKs, one pair of calls each.

``send`` submits one model's requests (custom id → our request) and returns the batch id and its status;
``poll`` retrieves a batch and, once it has ended, reads every result line into a ``Poll``: for each custom
id answered, a function that gives its ``Reply`` (or raises the LabError of a failed line).

- ``openai`` (OpenAI; Groq's batch API is the same under ``…/openai/v1``): JSONL uploaded as a file with
  purpose ``batch``, a batch created for ``/v1/chat/completions``; results in the output and error files.
- ``anthropic``: Message Batches (``messages.batches.create(requests=[{custom_id, params}])``, ``retrieve``
  with ``processing_status`` in_progress / canceling / ended, ``results`` streaming one JSONL line per
  request with ``result.type`` succeeded / errored / canceled / expired).
- ``google`` (Gemini API batch mode through google-genai): a JSONL input file of ``{key, request}`` lines
  (``request`` a GenerateContentRequest in the REST API's JSON) uploaded with ``files.upload``, a job
  created with ``batches.create(model, src=file name)``; ``batches.get`` gives its ``JOB_STATE_*``; an
  ended job's ``dest.file_name`` is downloaded with ``files.download``: one line per request, ``{key,
  response}`` or ``{key, error}`` where the error is a google.rpc.Status (a gRPC code).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpers import llm
from helpers.answer import Reply
from helpers.errors import LabError, MalformedResponse
from helpers.providers.base import Request

ENDPOINT = "/v1/chat/completions"
WINDOW = "24h"
TERMINAL = ("completed", "failed", "expired", "cancelled")
# Anthropic's error types (its API's "Errors" page) → the HTTP status they come with
ANTHROPIC_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                    "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                    "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529}

# Gemini job states (lower-cased, without JOB_STATE_) after which nothing more will run
GOOGLE_ENDED = ("succeeded", "partially_succeeded", "failed", "cancelled", "expired")
# google.rpc.Code numbers → names → the HTTP status Google's REST API gives them (google/rpc/code.proto)
GRPC_NAMES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
              6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
              10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
              15: "DATA_LOSS", 16: "UNAUTHENTICATED"}
GRPC_HTTP = {"CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400, "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404,
             "ALREADY_EXISTS": 409, "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
             "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503,
             "DATA_LOSS": 500, "UNAUTHENTICATED": 401}

Reader = Callable[[Request], Reply]
Sent = tuple[str, str, dict[str, Any]]  # a submitted batch: its id, its status, anything more to record


@dataclass
class Poll:
    """A batch as retrieved: its status, whether it has ended, how far it got, and its result lines."""

    status: str
    ended: bool
    progress: str
    results: dict[str, Reader] = field(default_factory=dict)  # custom id → its reply (raises on a failed line)
    complete: bool = True  # every request was run (not expired or cancelled)


def send(prepared: list[llm.Prepared], custom_ids: list[str], run_id: str) -> Sent:
    """Submit one batch; returns its id, status and anything more to record. SDK errors propagate."""
    api = prepared[0].request.provider.batch
    submit = {"anthropic": _send_anthropic, "google": _send_google}.get(api or "", _send_openai)
    return submit(prepared, custom_ids, run_id)


def poll(prepared: llm.Prepared, batch_id: str, expected: int) -> Poll:
    """Retrieve a batch; once it has ended, its results. SDK errors propagate."""
    api = prepared.request.provider.batch
    retrieve = {"anthropic": _poll_anthropic, "google": _poll_google}.get(api or "", _poll_openai)
    return retrieve(prepared, batch_id, expected)


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def _lines(text: str) -> list[dict[str, Any]]:
    """The JSON objects of a results file, one per line; a line that is not one is skipped (its cell then
    has no answer and is asked live), so one damaged line never loses the others."""
    found = []
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            found.append(line)
    return found


def _body(request: Request) -> dict[str, Any]:
    from helpers.providers import adapter

    return adapter(request.provider.api).request_body(request)


# -- OpenAI (and Groq) ---------------------------------------------------------------------------------
def _openai(prepared: llm.Prepared) -> Any:
    import openai

    if prepared.key_error:
        raise prepared.key_error
    r = prepared.request
    return openai.OpenAI(api_key=r.api_key, base_url=r.base_url, timeout=r.timeout, max_retries=r.max_retries)


def _send_openai(prepared: list[llm.Prepared], custom_ids: list[str], run_id: str) -> Sent:
    lines = [{"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": _body(p.request)}
             for cid, p in zip(custom_ids, prepared, strict=True)]
    data = _jsonl(lines)
    client = _openai(prepared[0])
    uploaded = client.files.create(file=(f"llmlab-{run_id}.jsonl", data), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT, completion_window=WINDOW,
                                  metadata={"llmlab_run": run_id})
    return batch.id, batch.status, {"input_file_id": uploaded.id}


def _poll_openai(prepared: llm.Prepared, batch_id: str, expected: int) -> Poll:
    client = _openai(prepared)
    batch = client.batches.retrieve(batch_id)
    counts = batch.request_counts
    progress = f"{counts.completed if counts else 0} of {counts.total if counts else expected} done"
    if batch.status not in TERMINAL:
        return Poll(batch.status, False, progress)
    found = Poll(batch.status, True, progress, complete=batch.status == "completed")
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        for line in _lines(client.files.content(file_id).text):
            if isinstance(line.get("response"), dict):  # None: not run (batch_expired / cancelled)
                found.results[str(line.get("custom_id"))] = _openai_reader(line["response"])
    return found


def _openai_reader(response: dict[str, Any]) -> Reader:
    def read(request: Request) -> Reply:
        from openai.types.chat import ChatCompletion

        from helpers.providers.failures import describe
        from helpers.providers.openai_compat import OpenAICompatible

        status, body = response.get("status_code"), response.get("body")
        if status != 200:
            inner = body.get("error", body) if isinstance(body, dict) else body
            message = inner.get("message") if isinstance(inner, dict) else str(inner or "")
            raise describe(request, status, str(message or f"HTTP {status}"))
        try:
            completion = ChatCompletion.model_validate(body)
        except ValueError as exc:
            raise MalformedResponse(f"{request.spec}: a batch result line is not a chat completion ({exc})"[:300],
                                    hint="Check the batch's output file.") from None
        return OpenAICompatible().reply(request, completion, 0.0)  # the batch API answers in chat completions

    return read


# -- Anthropic Message Batches -------------------------------------------------------------------------
def _anthropic(prepared: llm.Prepared) -> Any:
    import anthropic

    if prepared.key_error:
        raise prepared.key_error
    r = prepared.request
    return anthropic.Anthropic(api_key=r.api_key, base_url=r.base_url, timeout=r.timeout,
                               max_retries=r.max_retries)


def _send_anthropic(prepared: list[llm.Prepared], custom_ids: list[str], run_id: str) -> Sent:
    requests = []
    for cid, p in zip(custom_ids, prepared, strict=True):
        params = _body(p.request)
        params.update(params.pop("extra_body", None) or {})  # a batch request's params are the JSON body itself
        requests.append({"custom_id": cid, "params": params})
    batch = _anthropic(prepared[0]).messages.batches.create(requests=requests)
    return batch.id, batch.processing_status, {}


def _poll_anthropic(prepared: llm.Prepared, batch_id: str, expected: int) -> Poll:
    client = _anthropic(prepared)
    batch = client.messages.batches.retrieve(batch_id)
    c = batch.request_counts
    finished = c.succeeded + c.errored + c.canceled + c.expired
    progress = f"{finished} of {finished + c.processing or expected} done"
    if batch.processing_status != "ended":
        return Poll(batch.processing_status, False, progress)
    found = Poll("ended", True, progress)
    for line in client.messages.batches.results(batch_id):
        kind = line.result.type
        if kind in ("succeeded", "errored"):
            found.results[line.custom_id] = _anthropic_reader(line.result)
        else:  # canceled / expired: not run, asked live
            found.complete = False
            found.status = "expired" if kind == "expired" else "cancelled"
    return found


def _anthropic_reader(result: Any) -> Reader:
    def read(request: Request) -> Reply:
        from helpers.providers.anthropic_native import Anthropic
        from helpers.providers.failures import describe

        if result.type == "errored":
            error = getattr(result.error, "error", None)
            kind = str(getattr(error, "type", "") or "api_error")
            message = str(getattr(error, "message", "") or kind)
            raise describe(request, ANTHROPIC_STATUS.get(kind, 500), message)
        return Anthropic().reply(request, result.message, 0.0, {})

    return read


# -- Gemini API batch mode (google-genai) ---------------------------------------------------------------
def _google(prepared: llm.Prepared) -> Any:
    from google import genai
    from google.genai import types

    if prepared.key_error:
        raise prepared.key_error
    r = prepared.request
    options = types.HttpOptions(base_url=r.base_url, timeout=int(r.timeout * 1000),
                                retry_options=types.HttpRetryOptions(attempts=r.max_retries + 1))
    return genai.Client(api_key=r.api_key, vertexai=False, http_options=options)


def _send_google(prepared: list[llm.Prepared], custom_ids: list[str], run_id: str) -> Sent:
    import io

    from helpers.providers.google_native import rest_request

    lines = [{"key": cid, "request": rest_request(p.request)} for cid, p in zip(custom_ids, prepared, strict=True)]
    client = _google(prepared[0])
    uploaded = client.files.upload(file=io.BytesIO(_jsonl(lines)),
                                   config={"display_name": f"llmlab-{run_id}", "mime_type": "jsonl"})
    job = client.batches.create(model=prepared[0].request.model, src=uploaded.name,
                                config={"display_name": f"llmlab-{run_id}"})
    return str(job.name), _google_status(job), {"input_file": uploaded.name}


def _google_status(job: Any) -> str:
    """``JOB_STATE_RUNNING`` → ``running``."""
    state = getattr(job.state, "name", None) or str(job.state or "JOB_STATE_UNSPECIFIED")
    return state.removeprefix("JOB_STATE_").lower()


def _poll_google(prepared: llm.Prepared, batch_id: str, expected: int) -> Poll:
    client = _google(prepared)
    job = client.batches.get(name=batch_id)
    status = _google_status(job)
    progress = f"{expected} requests; progress n/a: google-genai does not read the job's batchStats"
    if status not in GOOGLE_ENDED:
        return Poll(status, False, progress)
    found = Poll(status, True, progress, complete=status == "succeeded")
    result_file = job.dest.file_name if job.dest else None
    if result_file:  # a failed, cancelled or expired job may have none
        for line in _lines(client.files.download(file=result_file).decode(errors="replace")):
            if line.get("key") is not None:
                found.results[str(line["key"])] = _google_reader(line)
    return found


def _field(value: Any, name: str) -> Any:
    return value.get(name) if isinstance(value, dict) else None


def _google_http_status(error: Any) -> int:
    """The HTTP status of a result line's google.rpc.Status (its gRPC code, or its status name)."""
    code, name = _field(error, "code"), _field(error, "status")
    if isinstance(code, int) and code >= 100:  # already an HTTP status
        return code
    if not isinstance(name, str):
        name = GRPC_NAMES.get(code, "UNKNOWN") if isinstance(code, int) else "UNKNOWN"
    return GRPC_HTTP.get(name, 500)


def _google_reader(line: dict[str, Any]) -> Reader:
    def read(request: Request) -> Reply:
        from google.genai import types

        from helpers.providers.failures import describe
        from helpers.providers.google_native import Google

        if not isinstance(line.get("response"), dict):
            raise describe(request, _google_http_status(line.get("error")),
                           str(_field(line.get("error"), "message") or "the batch line has no response"))
        try:
            response = types.GenerateContentResponse.model_validate(line["response"])
        except ValueError as exc:
            raise MalformedResponse(f"{request.spec}: a batch result line is not a GenerateContentResponse "
                                    f"({exc})"[:300], hint="Check the batch's result file.") from None
        return Google().reply(request, response, 0.0)

    return read


def mapped(prepared: llm.Prepared, exc: Exception) -> LabError:
    """An SDK or transport failure as our error naming the fix (a LabError passes through)."""
    from helpers.providers import adapter

    if isinstance(exc, LabError):
        return exc
    family = adapter(prepared.request.provider.api)
    if isinstance(exc, family.sdk_errors()):
        return family.map_error(prepared.request, exc)
    return MalformedResponse(f"{prepared.request.spec}: the batch API's answer could not be read "
                             f"({type(exc).__name__}: {str(exc)[:200]})", hint="Check the provider's base URL.")
