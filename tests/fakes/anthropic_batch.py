"""A loopback Anthropic Message Batches API for tests (stdlib only).

Shapes as documented in Anthropic's API reference (the MessageBatch object, the results JSONL; as mirrored in
voxmenthe/prompts, SPECIALIZED_CONTEXT_AND_DOCS/ANTHROPIC_API_DOCS_MIRROR/en/api/retrieving-message-batches.md
and retrieving-message-batch-results.md): create (POST /v1/messages/batches with ``requests`` of
``{custom_id, params}``), retrieve (GET /v1/messages/batches/{id}: ``processing_status`` in_progress with
``request_counts`` moving one step per retrieve, then ended with a ``results_url``), cancel (POST
…/{id}/cancel: canceling, then ended with the rest ``canceled``), expiry (ended with the rest ``expired``),
and results (GET the ``results_url``: one JSON line per request, ``result.type`` succeeded / errored /
canceled / expired). ``POST /v1/messages`` answers cells asked live. ``ended_with`` serves a batch that has
already ended with given result lines (real recorded ones: tests/data/recorded/anthropic/batch_*.json).

    with FakeBatchAnthropic(reply=lambda params: "55", fail={"c1"}) as srv:
        client = anthropic.Anthropic(base_url=srv.base_url, api_key="sk-ant-test")
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackAPI


def _now(delta: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta)).isoformat().replace("+00:00", "Z")


class FakeBatchAnthropic(LoopbackAPI):
    """The server; each retrieve finishes ``per_step`` more requests; ``expire_at_step`` ends a batch early."""

    request_id_header = "request-id"  # Anthropic's name for it

    def __init__(self, *, reply: Callable[[dict[str, Any]], str] | None = None, fail: Collection[str] = (),
                 per_step: int = 1, expire_at_step: int | None = None) -> None:
        super().__init__()
        self.reply = reply or (lambda params: "Echo: " + str(params["messages"][-1]["content"])[:40])
        self.fail = set(fail)  # custom_ids whose result is ``errored`` (an invalid_request_error)
        self.per_step = per_step
        self.expire_at_step = expire_at_step
        self.batches: dict[str, dict[str, Any]] = {}
        self.created: list[dict[str, Any]] = []  # the bodies of batch creations, as sent

    # -- HTTP ------------------------------------------------------------------------------------------
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        raw = self._received(h)
        path = h.path.split("?")[0]
        with self._lock:
            parts = path.strip("/").split("/")  # v1, messages, batches, id, results|cancel
            known = len(parts) >= 4 and parts[:3] == ["v1", "messages", "batches"] and parts[3] in self.batches
            if h.command == "POST" and path == "/v1/messages":
                return self._send(h, 200, self._message(json.loads(raw), f"live{next(self._ids)}"))
            if h.command == "POST" and path == "/v1/messages/batches":
                return self._send(h, 200, self._create(json.loads(raw)))
            if h.command == "GET" and known and len(parts) == 4:
                return self._send(h, 200, self._advance(self.batches[parts[3]]))
            if h.command == "POST" and known and parts[4:] == ["cancel"]:
                return self._send(h, 200, self._cancel(self.batches[parts[3]]))
            if h.command == "GET" and known and parts[4:] == ["results"] and self.batches[parts[3]]["_results"]:
                return self._send(h, 200, self.batches[parts[3]]["_results"], "application/binary")
        self._send(h, 404, {"type": "error", "error": {"type": "not_found_error",
                                                       "message": f"Not found: {h.command} {path}"}})

    # -- batches -------------------------------------------------------------------------------------
    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.created.append(body)
        requests = body["requests"]
        batch = {"id": f"msgbatch_{next(self._ids):024x}", "type": "message_batch",
                 "processing_status": "in_progress",
                 "request_counts": {"processing": len(requests), "succeeded": 0, "errored": 0, "canceled": 0,
                                    "expired": 0},
                 "ended_at": None, "created_at": _now(), "expires_at": _now(86400), "archived_at": None,
                 "cancel_initiated_at": None, "results_url": None}
        self.batches[batch["id"]] = batch
        batch["_requests"], batch["_step"], batch["_results"] = requests, 0, b""
        return self._public(batch)

    @staticmethod
    def _public(batch: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in batch.items() if not k.startswith("_")}

    def _advance(self, batch: dict[str, Any]) -> dict[str, Any]:
        """One retrieve = one step: ``per_step`` more requests done; ended once all are (or at expiry)."""
        if batch["processing_status"] == "ended":
            return self._public(batch)
        if batch["processing_status"] == "canceling":
            self._end(batch, "canceled")
            return self._public(batch)
        batch["_step"] += 1
        done = min(len(batch["_requests"]), batch["_step"] * self.per_step)
        if self.expire_at_step is not None and batch["_step"] >= self.expire_at_step:
            self._end(batch, "expired", done)
        elif done == len(batch["_requests"]) and batch["_step"] > 1:
            self._end(batch, "expired", done)  # every request done: nothing is left to expire
        else:
            self._count(batch, done)
        return self._public(batch)

    def _count(self, batch: dict[str, Any], done: int) -> None:
        counts = batch["request_counts"]
        ran = batch["_requests"][:done]
        counts["errored"] = sum(r["custom_id"] in self.fail for r in ran)
        counts["succeeded"] = done - counts["errored"]
        counts["processing"] = len(batch["_requests"]) - done

    def _cancel(self, batch: dict[str, Any]) -> dict[str, Any]:
        if batch["processing_status"] == "in_progress":
            batch["processing_status"], batch["cancel_initiated_at"] = "canceling", _now()
        return self._public(batch)

    def _end(self, batch: dict[str, Any], rest: str, done: int | None = None) -> None:
        """End the batch: the first ``done`` requests ran (default: as counted so far), the rest are ``rest``."""
        counts = batch["request_counts"]
        ran = counts["succeeded"] + counts["errored"] if done is None else done
        lines = []
        for n, request in enumerate(batch["_requests"]):
            if n >= ran:
                result: dict[str, Any] = {"type": rest}
            elif request["custom_id"] in self.fail:
                result = {"type": "errored", "error": {"type": "error", "error": {
                    "type": "invalid_request_error", "message": "max_tokens: Field required"}}}
            else:
                result = {"type": "succeeded", "message": self._message(request["params"], f"b{next(self._ids)}")}
            lines.append({"custom_id": request["custom_id"], "result": result})
        self._count(batch, ran)
        counts["processing"] = 0
        counts[rest] = len(batch["_requests"]) - ran
        batch["processing_status"], batch["ended_at"] = "ended", _now()
        batch["results_url"] = f"{self.base_url}/v1/messages/batches/{batch['id']}/results"
        batch["_results"] = "".join(json.dumps(line) + "\n" for line in reversed(lines)).encode()  # any order

    def ended_with(self, result_lines: Sequence[dict[str, Any]], batch: dict[str, Any] | None = None) -> str:
        """A batch that has already ended whose results stream is exactly these lines (e.g. real recorded ones);
        its id. ``batch``: a recorded MessageBatch served as the retrieve body as it is, but with its
        ``results_url`` pointed at this fake."""
        with self._lock:
            if batch is None:
                kinds = [str(line["result"]["type"]) for line in result_lines]
                counts = {k: kinds.count(k) for k in ("succeeded", "errored", "canceled", "expired")}
                batch = {"id": f"msgbatch_{next(self._ids):024x}", "type": "message_batch",
                         "processing_status": "ended", "request_counts": {"processing": 0, **counts},
                         "ended_at": _now(), "created_at": _now(-60), "expires_at": _now(86400), "archived_at": None,
                         "cancel_initiated_at": None, "results_url": None}
            ident = str(batch["id"])
            self.batches[ident] = {**batch, "results_url": f"{self.base_url}/v1/messages/batches/{ident}/results",
                                   "_requests": [], "_step": 0,
                                   "_results": "".join(json.dumps(line) + "\n" for line in result_lines).encode()}
        return ident

    def _message(self, params: dict[str, Any], ident: str) -> dict[str, Any]:
        text = self.reply(params)
        words = sum(len(str(m["content"]).split()) for m in params["messages"])
        words += len(str(params.get("system", "")).split())
        return {"id": f"msg_{ident}", "type": "message", "role": "assistant", "model": params["model"],
                "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
                "usage": {"input_tokens": words, "output_tokens": len(text.split()),
                          "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
