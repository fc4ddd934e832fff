"""A loopback OpenAI Files + Batches API for tests (stdlib only).

Shapes as documented in the OpenAI API reference (the batch object; the per-line request output object
of the output and error files, as copied in tourze/open-ai-api-bundle,
openai-docs-api-reference/batch/request-output.md): upload (POST /v1/files, multipart, purpose=batch),
create (POST /v1/batches), retrieve (GET /v1/batches/{id}: the status moves one step per retrieve,
validating → in_progress → finalizing → completed), cancel (POST /v1/batches/{id}/cancel: cancelling, then
cancelled with what was done), expiry (expired, with the rest in the error file as ``batch_expired``),
and file content (GET /v1/files/{id}/content). Failed requests land in the error file with their HTTP
status and an OpenAI error body. ``ended_with`` serves a batch that has already ended with given result lines
(real recorded ones: tests/data/recorded/openai/batch_*.json).

    with FakeBatchOpenAI(reply=lambda body: "55", fail={"c1"}) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test")

Groq's batch API is the same API under ``/openai/v1`` (console.groq.com/docs/batch); it echoes the model id
as asked: ``FakeBatchOpenAI(prefix="/openai/v1", model_suffix="")``.
"""

from __future__ import annotations

import email.parser
import json
import time
from collections.abc import Callable, Collection, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackAPI

STEPS = ("validating", "in_progress", "finalizing", "completed")
EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


class FakeBatchOpenAI(LoopbackAPI):
    """The server; ``expire_at_step`` / ``cancel`` end a batch early with part of its requests done."""

    def __init__(self, *, reply: Callable[[dict[str, Any]], str] | None = None, fail: Collection[str] = (),
                 expire_at_step: int | None = None, done_before_end: int = 1, prefix: str = "/v1",
                 model_suffix: str = "-2025-04-14") -> None:
        super().__init__()
        self.reply = reply or (lambda body: "Echo: " + str(body["messages"][-1]["content"])[:40])
        self.fail = set(fail)  # custom_ids answered with an HTTP 400 in the error file
        self.expire_at_step = expire_at_step
        self.done_before_end = done_before_end  # requests finished when a batch expires or is cancelled
        self.prefix = prefix  # the API's path under the host: /v1 (OpenAI), /openai/v1 (Groq)
        self.model_suffix = model_suffix  # OpenAI answers with a dated snapshot id; Groq with the id asked
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    # -- HTTP ------------------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        raw = self._received(h)
        path = h.path.split("?")[0]
        with self._lock:
            # the routes below are written for /v1; another API prefix maps onto them, a wrong one is a 404
            path = "/v1" + path[len(self.prefix):] if path.startswith(self.prefix + "/") else "/unrouted" + path
            parts = path.strip("/").split("/")  # v1, batches, id, cancel
            if h.command == "POST" and path == "/v1/files":
                return self._send(h, 200, self._upload(h.headers.get("Content-Type", ""), raw))
            if h.command == "POST" and path == "/v1/chat/completions":  # the live path, for cells asked live
                return self._send(h, 200, self._completion(json.loads(raw), f"live{next(self._ids)}"))
            if h.command == "POST" and path == "/v1/batches":
                return self._send(h, 200, self._create(json.loads(raw)))
            if h.command == "GET" and len(parts) == 3 and parts[1] == "batches" and parts[2] in self.batches:
                return self._send(h, 200, self._advance(self.batches[parts[2]]))
            if h.command == "POST" and len(parts) == 4 and parts[1] == "batches" and parts[3] == "cancel":
                return self._send(h, 200, self._cancel(self.batches[parts[2]]))
            if h.command == "GET" and len(parts) == 4 and parts[1] == "files" and parts[3] == "content":
                return self._send(h, 200, self.files[parts[2]]["data"], "application/octet-stream")
        self._send(h, 404, {"error": {"message": f"Unknown request URL: {h.command} {path}.",
                                      "type": "invalid_request_error", "param": None, "code": "unknown_url"}})

    # -- files ---------------------------------------------------------------------------------------
    def _upload(self, ctype: str, raw: bytes) -> dict[str, Any]:
        message = email.parser.BytesParser().parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + raw)
        fields = {part.get_param("name", header="content-disposition"): part for part in message.get_payload()}
        file_part = fields["file"]
        purpose = fields["purpose"].get_payload(decode=True).decode()
        return self._new_file(file_part.get_payload(decode=True), file_part.get_filename() or "upload", purpose)

    def _new_file(self, data: bytes, filename: str, purpose: str) -> dict[str, Any]:
        file_id = f"file-{next(self._ids):020x}"
        obj = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed", "status_details": None}
        self.files[file_id] = {**obj, "data": data}
        return obj

    # -- batches -------------------------------------------------------------------------------------
    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        lines = [json.loads(line) for line in self.files[body["input_file_id"]]["data"].splitlines() if line.strip()]
        now = int(time.time())
        batch = {"id": f"batch_{next(self._ids):020x}", "object": "batch", "endpoint": body["endpoint"],
                 "errors": None, "input_file_id": body["input_file_id"],
                 "completion_window": body["completion_window"], "status": "validating", "output_file_id": None,
                 "error_file_id": None, "created_at": now, "in_progress_at": None, "expires_at": now + 86400,
                 "finalizing_at": None, "completed_at": None, "failed_at": None, "expired_at": None,
                 "cancelling_at": None, "cancelled_at": None,
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
                 "metadata": body.get("metadata")}
        self.batches[batch["id"]] = batch
        batch["_lines"], batch["_step"] = lines, 0
        return self._public(batch)

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _advance(self, batch: dict[str, Any]) -> dict[str, Any]:
        """One retrieve = one step of the batch's life."""
        now = int(time.time())
        if batch["status"] == "cancelling":
            self._finish(batch, "cancelled", batch["_lines"][: self.done_before_end])
            batch["cancelled_at"] = now
        elif batch["status"] in STEPS[:-1]:
            batch["_step"] += 1
            if self.expire_at_step is not None and batch["_step"] >= self.expire_at_step:
                self._finish(batch, "expired", batch["_lines"][: self.done_before_end])
                batch["expired_at"] = now
            else:
                batch["status"] = STEPS[batch["_step"]]
                batch[f"{batch['status']}_at"] = now
                if batch["status"] == "completed":
                    self._finish(batch, "completed", batch["_lines"])
        return self._public(batch)

    def ended_with(self, output: Sequence[dict[str, Any]] = (), errors: Sequence[dict[str, Any]] = (),
                   batch: dict[str, Any] | None = None) -> str:
        """A batch that has already ended whose output and error files are exactly these lines (e.g. real recorded
        ones); its id. ``batch``: a recorded Batch object served as the retrieve body as it is, but with its
        output / error file ids pointed at this fake's files (None where no lines are given)."""
        with self._lock:
            out_id, err_id = (self._new_file(_jsonl(list(rows)), name, "batch_output")["id"] if rows else None
                              for rows, name in ((output, "batch_output.jsonl"), (errors, "batch_errors.jsonl")))
            if batch is None:
                now = int(time.time())
                batch = {"id": f"batch_{next(self._ids):020x}", "object": "batch", "endpoint": "/v1/chat/completions",
                         "errors": None, "input_file_id": None, "completion_window": "24h", "status": "completed",
                         "created_at": now, "completed_at": now, "metadata": None,
                         "request_counts": {"total": len(output) + len(errors), "completed": len(output),
                                            "failed": len(errors)}}
            record = {**batch, "output_file_id": out_id, "error_file_id": err_id, "_lines": [], "_step": 0}
            self.batches[record["id"]] = record
        return str(record["id"])

    def _completion(self, body: dict[str, Any], ident: str) -> dict[str, Any]:
        text = self.reply(body)
        prompt_tokens = sum(len(str(m["content"]).split()) for m in body["messages"])
        return {"id": f"chatcmpl-{ident}", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"] + self.model_suffix,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                             "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()),
                          "total_tokens": prompt_tokens + len(text.split())},
                "system_fingerprint": None}

    def _cancel(self, batch: dict[str, Any]) -> dict[str, Any]:
        if batch["status"] in STEPS[:-1]:
            batch["status"], batch["cancelling_at"] = "cancelling", int(time.time())
        return self._public(batch)

    def _finish(self, batch: dict[str, Any], status: str, done: list[dict[str, Any]]) -> None:
        outputs, errors = [], []
        done_ids = {line["custom_id"] for line in done}
        for line in batch["_lines"]:
            rid = f"batch_req_{next(self._ids):020x}"
            if line["custom_id"] not in done_ids:
                if status == "expired":
                    errors.append({"id": rid, "custom_id": line["custom_id"], "response": None,
                                   "error": {"code": "batch_expired", "message": EXPIRED_MESSAGE}})
                continue
            if line["custom_id"] in self.fail:
                body = {"error": {"message": "Invalid value for 'max_tokens': must be a positive integer.",
                                  "type": "invalid_request_error", "param": "max_tokens", "code": None}}
                errors.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                               "response": {"status_code": 400, "request_id": f"req_{rid[-12:]}", "body": body}})
                continue
            completion = self._completion(line["body"], rid[-12:])
            outputs.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": 200, "request_id": f"req_{rid[-12:]}", "body": completion}})
        batch["status"] = status
        counts = batch["request_counts"]
        counts["completed"] = len(outputs)
        counts["failed"] = len(errors)
        if outputs:
            batch["output_file_id"] = self._new_file(_jsonl(outputs), "batch_output.jsonl", "batch_output")["id"]
        if errors:
            batch["error_file_id"] = self._new_file(_jsonl(errors), "batch_errors.jsonl", "batch_output")["id"]


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()
