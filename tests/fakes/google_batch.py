"""A loopback Gemini API batch mode for tests (stdlib only), as google-genai's Files and Batches calls use it.

Shapes as documented in the Gemini API reference (ai.google.dev/api/batch-mode, ai.google.dev/api/files) and
as google-genai 3.4 reads them (google/genai/batches.py ``_BatchJob_from_mldev``, files.py ``upload``):

Paths are under ``/v1beta`` or ``/v1`` (google-genai 3.4 uses ``v1``), both accepted:

- upload: ``POST /upload/v1beta/files`` (``X-Goog-Upload-Command: start``) answers with an
  ``x-goog-upload-url``; ``POST`` of the bytes there (``upload, finalize``) answers ``{"file": File}`` with
  ``x-goog-upload-status: final``;
- create: ``POST /v1beta/models/{model}:batchGenerateContent`` with ``{"batch": {"displayName",
  "inputConfig": {"fileName"}}}`` answers an Operation whose ``metadata`` is the GenerateContentBatch
  (``state`` BATCH_STATE_PENDING, ``batchStats``);
- get: ``GET /v1beta/batches/{id}``: each get runs ``per_step`` more requests (BATCH_STATE_RUNNING), then
  BATCH_STATE_SUCCEEDED with ``metadata.output.responsesFile`` (and the Operation's ``done``/``response``);
  ``expire_at_step`` ends it BATCH_STATE_EXPIRED with no output;
- cancel: ``POST /v1beta/batches/{id}:cancel``: the next get says BATCH_STATE_CANCELLED, no output;
- download: ``GET /v1beta/files/{id}:download?alt=media`` (or under ``/download``) gives the
  results JSONL, one ``{"key", "response"}`` or ``{"key", "error"}`` line per request, in any order. A
  line's shape is that of real result lines (tests/data/recorded/google/batch_results.jsonl);
- ``POST /v1beta/models/{model}:generateContent`` answers cells asked live.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.loopback import LoopbackAPI

BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class FakeBatchGoogle(LoopbackAPI):
    """The server; ``reply(request) -> text``; keys in ``fail`` get an INVALID_ARGUMENT status line."""

    request_id_header = "x-goog-request-id"

    def __init__(self, *, reply: Callable[[dict[str, Any]], str] | None = None, fail: Collection[str] = (),
                 per_step: int = 1, expire_at_step: int | None = None) -> None:
        super().__init__()
        self.reply = reply or (lambda request: "Echo: " + str(request["contents"][-1]["parts"][0]["text"])[:40])
        self.fail = set(fail)
        self.per_step = per_step
        self.expire_at_step = expire_at_step
        self.files: dict[str, bytes] = {}
        self.uploads: dict[str, dict[str, Any]] = {}  # upload id → the File being uploaded
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []  # (model, body) of each batch creation, as sent
        self.live: list[dict[str, Any]] = []  # the bodies of live generateContent calls, as sent

    # -- HTTP ------------------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        raw = self._received(h)
        url = urlsplit(h.path)
        path = re.sub(r"^(/upload|/download)?/v1(beta)?/", r"\1/v/", url.path)  # the SDK picks v1 or v1beta
        with self._lock:
            command = (h.headers.get("X-Goog-Upload-Command") or "").lower()
            if h.command == "POST" and path == "/upload/v/files" and command == "start":
                return self._start_upload(h, json.loads(raw or b"{}"))
            if h.command == "POST" and path == "/upload/v/files" and "finalize" in command:
                return self._finish_upload(h, url.query, raw)
            if h.command == "POST" and path.startswith("/v/models/") and path.endswith(":batchGenerateContent"):
                model = path.removeprefix("/v/").removesuffix(":batchGenerateContent")
                return self._send(h, 200, self._create(model, json.loads(raw)))
            if h.command == "POST" and path.startswith("/v/models/") and path.endswith(":generateContent"):
                model = path.removeprefix("/v/models/").removesuffix(":generateContent")
                self.live.append(json.loads(raw))
                return self._send(h, 200, self._response(self.live[-1], model, f"live{next(self._ids)}"))
            name = path.removeprefix("/v/").removesuffix(":cancel")
            if h.command == "GET" and name in self.batches:
                return self._send(h, 200, self._advance(self.batches[name]))
            if h.command == "POST" and path.endswith(":cancel") and name in self.batches:
                self.batches[name]["_cancel"] = True
                return self._send(h, 200, {})
            file_name = path.removeprefix("/download").removeprefix("/v/").removesuffix(":download")
            if h.command == "GET" and path.endswith(":download") and file_name in self.files:
                return self._send(h, 200, self.files[file_name], "application/octet-stream")
        self._send(h, 404, {"error": {"code": 404, "message": f"Not found: {h.command} {path}", "status": "NOT_FOUND"}})

    def _start_upload(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        upload_id = f"u{next(self._ids)}"
        self.uploads[upload_id] = body.get("file") or {}
        h.send_response(200)
        h.send_header("x-goog-upload-url", f"{self.base_url}/upload/v1/files?upload_id={upload_id}"
                                           "&upload_protocol=resumable")
        h.send_header("x-goog-upload-status", "active")
        h.send_header("Content-Length", "0")
        h.end_headers()

    def _finish_upload(self, h: BaseHTTPRequestHandler, query: str, data: bytes) -> None:
        upload_id = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("upload_id", "")
        meta = self.uploads.pop(upload_id, {})
        name = f"files/{next(self._ids):012x}"
        self.files[name] = data
        stamp = _now()
        file = {"name": name, "displayName": meta.get("displayName"), "mimeType": meta.get("mimeType"),
                "sizeBytes": str(len(data)), "createTime": stamp, "updateTime": stamp, "expirationTime": stamp,
                "sha256Hash": "", "uri": f"{self.base_url}/v1/{name}", "state": "ACTIVE",
                "source": "UPLOADED"}
        body = json.dumps({"file": file}).encode()
        h.send_response(200)
        h.send_header("x-goog-upload-status", "final")
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    # -- batches -------------------------------------------------------------------------------------
    def _create(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append({"model": model, **body})
        batch = body["batch"]
        lines = [json.loads(line) for line in self.files[batch["inputConfig"]["fileName"]].splitlines() if line]
        name = f"batches/{next(self._ids):036x}"
        record = {"name": name, "model": model, "displayName": batch.get("displayName"),
                  "inputConfig": batch["inputConfig"], "createTime": _now(), "updateTime": _now(),
                  "state": "BATCH_STATE_PENDING", "_lines": lines, "_step": 0, "_cancel": False, "_done": 0}
        self.batches[name] = record
        return self._operation(record)

    def _advance(self, batch: dict[str, Any]) -> dict[str, Any]:
        """One get = one step: ``per_step`` more requests run; the job ends once all have."""
        if batch["state"] in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            batch["_step"] += 1
            batch["updateTime"] = _now()
            if batch["_cancel"]:
                batch["state"] = "BATCH_STATE_CANCELLED"
            elif self.expire_at_step is not None and batch["_step"] >= self.expire_at_step:
                batch["state"] = "BATCH_STATE_EXPIRED"
            else:
                batch["_done"] = min(len(batch["_lines"]), batch["_done"] + self.per_step)
                batch["state"] = "BATCH_STATE_RUNNING"
                if batch["_done"] == len(batch["_lines"]) and batch["_step"] > 1:
                    self._succeed(batch)
        return self._operation(batch)

    def _succeed(self, batch: dict[str, Any]) -> None:
        out = []
        for line in batch["_lines"]:
            if line["key"] in self.fail:
                out.append({"error": {"code": 3, "message": "Request contains an invalid argument."},
                            "key": line["key"]})
            else:
                out.append({"response": self._response(line["request"], batch["model"].removeprefix("models/"),
                                                       str(next(self._ids))), "key": line["key"]})
        name = "files/batch-" + batch["name"].removeprefix("batches/")
        self.files[name] = "".join(json.dumps(line) + "\n" for line in reversed(out)).encode()
        batch["state"], batch["endTime"] = "BATCH_STATE_SUCCEEDED", _now()
        batch["output"] = {"responsesFile": name}

    def ended_with(self, model: str, result_lines: list[dict[str, Any] | str]) -> str:
        """A job that has already succeeded with these result lines (e.g. real recorded ones; a string is
        written as it is); its name."""
        with self._lock:
            name = f"batches/{next(self._ids):036x}"
            self.batches[name] = {"name": name, "model": f"models/{model}", "displayName": "recorded",
                                  "createTime": _now(), "updateTime": _now(), "endTime": _now(),
                                  "state": "BATCH_STATE_SUCCEEDED", "_lines": [], "_step": 0, "_cancel": False,
                                  "_done": 0, "output": {"responsesFile": "files/batch-" + name.split("/")[1]}}
            self.files[self.batches[name]["output"]["responsesFile"]] = "".join(
                (line if isinstance(line, str) else json.dumps(line)) + "\n" for line in result_lines).encode()
        return name

    def _operation(self, batch: dict[str, Any]) -> dict[str, Any]:
        total, done = len(batch["_lines"]), batch["_done"]
        failed = sum(line["key"] in self.fail for line in batch["_lines"][:done])
        metadata = {"@type": BATCH_TYPE, **{k: v for k, v in batch.items() if not k.startswith("_")},
                    "batchStats": {"requestCount": str(total), "successfulRequestCount": str(done - failed),
                                   "failedRequestCount": str(failed), "pendingRequestCount": str(total - done)}}
        operation: dict[str, Any] = {"name": batch["name"], "metadata": metadata}
        if batch["state"] not in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING"):
            operation["done"] = True
            if "output" in batch:
                operation["response"] = {"@type": OUTPUT_TYPE, **batch["output"]}
        return operation

    def _response(self, request: dict[str, Any], model: str, ident: str) -> dict[str, Any]:
        """A GenerateContentResponse as real result lines carry it (usage counts the prompt's words)."""
        text = self.reply(request)
        words = sum(len(str(p.get("text", "")).split()) for c in request["contents"] for p in c["parts"])
        words += sum(len(p["text"].split()) for p in (request.get("systemInstruction") or {}).get("parts", []))
        out = len(text.split())
        return {"responseId": f"resp{ident}",
                "usageMetadata": {"totalTokenCount": words + out,
                                  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": words}],
                                  "candidatesTokenCount": out, "promptTokenCount": words},
                "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP",
                                "index": 0}],
                "modelVersion": model}
