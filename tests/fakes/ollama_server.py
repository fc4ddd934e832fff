"""An Ollama loopback server for tests: native /api endpoints plus the OpenAI-compatible /v1 ones.

    with FakeOllama(["llama3.2"]) as srv:
        httpx.get(srv.root_url + "/api/tags")                 # native API at the root
        openai.OpenAI(base_url=srv.base_url, api_key="ollama")  # OpenAI-compatible at /v1
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterable
from typing import Any

from .faults import Answer, Fault, pieces
from .openai_server import FakeOpenAI, _Handler

__all__ = ["DEFAULT_LIBRARY", "FakeOllama", "Fault", "normalize", "tag_entry"]

# Models the fake registry can pull (besides those already installed).
DEFAULT_LIBRARY = ("llama3.2", "llama3.2:1b", "llama3.1", "qwen2.5:0.5b", "qwen3:0.6b", "gemma3:1b", "gemma3",
                   "mistral", "phi3", "phi4-mini", "deepseek-r1:1.5b", "smollm2:135m", "nomic-embed-text")
_PARAMS = {"llama3.2:latest": "3.2B", "llama3.2:1b": "1.2B", "llama3.1:latest": "8.0B", "gemma3:latest": "4.3B",
           "mistral:latest": "7.2B", "phi3:latest": "3.8B", "phi4-mini:latest": "3.8B",
           "nomic-embed-text:latest": "137M"}
NS = 1_000_000_000


def normalize(name: str) -> str:
    """'llama3.2' -> 'llama3.2:latest' (Ollama's default tag)."""
    return name if ":" in name.rsplit("/", 1)[-1] else name + ":latest"


def _iso(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def tag_entry(name: str) -> dict[str, Any]:
    """A deterministic /api/tags entry for a model name."""
    name = normalize(name)
    tag = name.rsplit(":", 1)[1]
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([bm])", tag)
    params = f"{m.group(1)}{m.group(2).upper()}" if m else _PARAMS.get(name, "7B")
    value = float(params[:-1]) * (1e9 if params.endswith("B") else 1e6)
    family = (re.match(r"[a-z]+", name) or re.match(r".", name)).group(0)  # type: ignore[union-attr]
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {"name": name, "model": name, "modified_at": _iso(1_735_689_600), "size": int(value * 0.6),
            "digest": digest,
            "details": {"parent_model": "", "format": "gguf", "family": family, "families": [family],
                        "parameter_size": params, "quantization_level": "Q4_K_M"}}


class FakeOllama(FakeOpenAI):
    """Ollama on 127.0.0.1: `/`, /api/tags, /api/pull, /api/chat, /api/generate, /api/show, /api/delete,
    /api/version, and /v1/chat/completions + /v1/models (shared with FakeOpenAI).

    Unknown models get 404 like real Ollama ("try pulling it first"); scripted faults apply to chat and
    generate calls on both APIs.
    """

    fingerprint = "fp_ollama"
    owned_by = "library"
    version = "0.12.3"

    def __init__(self, models: Iterable[str] = ("llama3.2:latest",), *,
                 pullable: Iterable[str] | None = None, pull_delay: float = 0.0,
                 tokens_per_second: float = 50.0, **kwargs: Any) -> None:
        kwargs.setdefault("strict_models", True)
        super().__init__(models=(), **kwargs)
        self._tags: dict[str, dict[str, Any]] = {}
        for name in models:
            self.add_model(name)
        self.pullable = {normalize(n) for n in (DEFAULT_LIBRARY if pullable is None else pullable)}
        self.pull_delay, self.tokens_per_second = pull_delay, tokens_per_second
        self.routes.update({
            ("GET", "/"): lambda h, b: h.send_bytes(200, b"Ollama is running", "text/plain; charset=utf-8"),
            ("GET", "/api/version"): lambda h, b: h.send_json(200, {"version": self.version}),
            ("GET", "/api/tags"): self._tags_route,
            ("POST", "/api/pull"): self._pull,
            ("POST", "/api/show"): self._show,
            ("DELETE", "/api/delete"): self._delete,
            ("POST", "/api/chat"): self._native_chat,
            ("POST", "/api/generate"): self._native_chat,
        })

    # -- installed models ------------------------------------------------------------------------
    def add_model(self, name: str) -> None:
        entry = tag_entry(name)
        with self._lock:
            self._tags[entry["name"]] = entry

    def remove_model(self, name: str) -> bool:
        with self._lock:
            return self._tags.pop(normalize(name), None) is not None

    @property
    def installed(self) -> list[str]:
        with self._lock:
            return list(self._tags)

    def model_ids(self) -> list[str]:
        return self.installed

    def _known(self, model: str) -> bool:
        return not self.strict_models or normalize(model) in self.installed

    def _missing_model(self, h: _Handler, model: str) -> None:
        msg = f'model "{model}" not found, try pulling it first'
        h.send_json(404, {"error": {"message": msg, "type": "api_error", "param": None, "code": None}})

    def _unknown_path(self, h: _Handler, path: str) -> None:
        h.send_bytes(404, b"404 page not found", "text/plain")

    # -- native routes ---------------------------------------------------------------------------
    def _tags_route(self, h: _Handler, body: dict[str, Any]) -> None:
        with self._lock:
            h.send_json(200, {"models": list(self._tags.values())})

    def _show(self, h: _Handler, body: dict[str, Any]) -> None:
        name = normalize(str(body.get("model") or body.get("name") or ""))
        with self._lock:
            entry = self._tags.get(name)
        if entry is None:
            return h.send_json(404, {"error": f"model '{name}' not found"})
        h.send_json(200, {"modelfile": f"FROM {name}\n", "parameters": "", "template": "{{ .Prompt }}",
                          "details": entry["details"], "capabilities": ["completion"],
                          "modified_at": entry["modified_at"]})

    def _delete(self, h: _Handler, body: dict[str, Any]) -> None:
        name = str(body.get("model") or body.get("name") or "")
        if self.remove_model(name):
            return h.send_bytes(200, b"", "text/plain")
        h.send_json(404, {"error": f"model '{normalize(name)}' not found"})

    def _pull(self, h: _Handler, body: dict[str, Any]) -> None:
        """Stream NDJSON progress (or one JSON object with "stream": false) and install the model."""
        name = normalize(str(body.get("model") or body.get("name") or ""))
        known = name in self.pullable or name in self.installed
        if not body.get("stream", True):
            if not known:
                return h.send_json(500, {"error": "pull model manifest: file does not exist"})
            self.add_model(name)
            return h.send_json(200, {"status": "success"})
        h.begin_stream("application/x-ndjson")

        def line(obj: dict[str, Any]) -> None:
            h.write_chunk(json.dumps(obj).encode() + b"\n")
            self._sleep(self.pull_delay)

        line({"status": "pulling manifest"})
        if not known:
            line({"error": "pull model manifest: file does not exist"})
            return h.end_stream()
        size = tag_entry(name)["size"]
        for i, total in enumerate((size, 11_400, 487)):
            digest = "sha256:" + hashlib.sha256(f"{name}:{i}".encode()).hexdigest()
            for done in (0, total // 3, 2 * total // 3, total):
                line({"status": f"pulling {digest[7:19]}", "digest": digest, "total": total, "completed": done})
        line({"status": "verifying sha256 digest"})
        line({"status": "writing manifest"})
        self.add_model(name)
        line({"status": "success"})
        h.end_stream()

    def _stats(self, ans: Answer) -> dict[str, Any]:
        """Ollama's timing fields (nanoseconds), deterministic from the token counts."""
        prompt, completion = ans.usage["prompt_tokens"], ans.usage["completion_tokens"]
        load, p_dur = NS // 20, int(prompt / (self.tokens_per_second * 10) * NS)
        e_dur = int(completion / self.tokens_per_second * NS)
        return {"total_duration": load + p_dur + e_dur, "load_duration": load, "prompt_eval_count": prompt,
                "prompt_eval_duration": p_dur, "eval_count": completion, "eval_duration": e_dur}

    def _native_chat(self, h: _Handler, body: dict[str, Any]) -> None:
        """/api/chat and /api/generate; stream defaults to true as in Ollama."""
        generate = h.path.split("?")[0].rstrip("/").endswith("/generate")
        model = str(body.get("model") or "")
        fault = self._next_fault(model)
        if self._pre_fault(h, fault, model, native=True):
            return
        if not self._known(model):
            return h.send_json(404, {"error": f'model "{model}" not found, try pulling it first'})
        messages = body.get("messages") or []
        if generate:
            messages = ([{"role": "system", "content": body["system"]}] if body.get("system") else []) + [
                {"role": "user", "content": str(body.get("prompt") or "")}]
        options = body.get("options") or {}
        ans = self._answer({"model": model, "messages": messages, "max_tokens": options.get("num_predict")},
                           fault)
        base = {"model": model, "created_at": _iso()}

        def part(text: str, thinking: str | None = None) -> dict[str, Any]:
            if generate:
                return {"response": text, **({"thinking": thinking} if thinking else {})}
            msg = {"role": "assistant", "content": text, **({"thinking": thinking} if thinking else {})}
            return {"message": msg}

        final = {"done": True, "done_reason": ans.finish, **self._stats(ans)}
        if generate:
            final["context"] = list(range(1, ans.usage["prompt_tokens"] + 1))
        if fault.kind == "slow_first_byte":
            self._sleep(fault.seconds)
        if not body.get("stream", True):
            if fault.kind == "malformed":
                return h.send_bytes(200, b'{"model": "' + model.encode() + b'", "message": {')
            return h.send_json(200, {**base, **part(ans.text, ans.reasoning), **final})
        h.begin_stream("application/x-ndjson")
        lines = [{**base, **part("", p), "done": False} for p in pieces(ans.reasoning or "")]
        lines += [{**base, **part(p), "done": False} for p in pieces(ans.text)]
        lines.append({**base, **part(""), **final})
        for i, obj in enumerate(lines):
            self._sleep(self.first_byte_delay if i == 0 else self.chunk_delay)
            if fault.kind == "cut_stream" and i >= fault.after:
                return h.drop()
            h.write_chunk(json.dumps(obj).encode() + b"\n")
        h.end_stream()

