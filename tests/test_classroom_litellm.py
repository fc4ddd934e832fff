"""A real LiteLLM proxy (the class gateway of deploy/litellm/config.yaml) in front of a loopback provider.

The proxy runs from its own venv (`make gateway-env`: litellm pins openai/httpx versions other than ours).
It keeps per-student virtual keys and their budgets in PostgreSQL through Prisma, whose engines download
from a host outside the package registries, so they cannot be installed here: this test runs the proxy
without its database and checks what it enforces then — its master key (any other key is refused), its
model list, and a budget on the model — and that the provider's key stays inside the proxy.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from helpers import ask, settings
from helpers.providers.local_engine import free_port
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAI
from tests.started import wait_until_up

ROOT = Path(__file__).resolve().parent.parent
GATEWAY_VENV = Path(os.environ.get("LLMLAB_GATEWAY_VENV") or ROOT / ".venv-litellm")
LITELLM = GATEWAY_VENV / "bin" / "litellm"
MASTER = "sk-class-master-7f3a9c2e51"  # the gateway key the student holds (no virtual keys without a database)
PROVIDER_KEYS = {var: f"sk-provider-{var.split('_')[0].lower()}-SECRET-4b1d8e" for var in
                 ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GOOGLE_API_KEY", "GROQ_API_KEY", "DEEPSEEK_API_KEY")}
COST_PER_TOKEN = 0.001  # USD, on the test's model only, so that a call costs a few tenths of a cent
MODEL_BUDGET = 0.005  # USD: one or two calls pass, then the model's budget is crossed

pytestmark = pytest.mark.skipif(not LITELLM.exists(), reason=f"no LiteLLM proxy at {LITELLM}: run `make gateway-env`")


def gateway_config(provider_url: str) -> dict:
    """deploy/litellm/config.yaml with every model pointed at the loopback provider and no database."""
    config = yaml.safe_load((ROOT / "deploy" / "litellm" / "config.yaml").read_text())
    for entry in config["model_list"]:
        entry["litellm_params"]["api_base"] = provider_url
        if entry["model_name"] == "gpt-4.1-mini":
            entry["litellm_params"].update(max_budget=MODEL_BUDGET, budget_duration="30d")
            entry["model_info"] = {"input_cost_per_token": COST_PER_TOKEN, "output_cost_per_token": COST_PER_TOKEN}
    del config["general_settings"]["database_url"]
    return config


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(models=(*DEFAULT_MODELS, "openai/gpt-oss-20b")) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(provider: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The started proxy's base URL (…/v1). Its environment alone holds the provider keys."""
    folder = tmp_path_factory.mktemp("gateway")
    config = folder / "config.yaml"
    config.write_text(yaml.safe_dump(gateway_config(provider.base_url)))
    port = free_port()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder), "LITELLM_MASTER_KEY": MASTER,
           "LITELLM_LOG": "ERROR", "NO_PROXY": "*", **PROVIDER_KEYS}
    log = folder / "proxy.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/health/liveliness", proc, log, 120, "the proxy")
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def student(monkeypatch: pytest.MonkeyPatch, gateway: str, tmp_path: Path) -> Path:
    """A student's `.env` as the instructor hands it out: the gateway's URL and key for each provider."""
    env = tmp_path / ".env"
    env.write_text(f"OPENAI_BASE_URL={gateway}\nOPENAI_API_KEY={MASTER}\n"
                   f"GROQ_BASE_URL={gateway}\nGROQ_API_KEY={MASTER}\n", encoding="utf-8")
    monkeypatch.setenv("LLMLAB_ENV_FILE", str(env))
    monkeypatch.setattr(settings, "_loaded_from", None)
    return env


def assert_no_provider_key(*texts: str) -> None:
    for text in texts:
        for secret in PROVIDER_KEYS.values():
            assert secret not in text and secret[:20] not in text


def test_student_key_works_then_the_budget_stops_it(student: Path, provider: FakeOpenAI, tmp_path: Path) -> None:
    first = ask("openai/gpt-4.1-mini", "Name a colour.", use_cache=False)
    assert first.ok, first.error
    assert first.text.startswith("Echo")  # the loopback provider's reply came back through the proxy
    streamed: list[str] = []
    second = ask("groq/openai/gpt-oss-20b", "Name a colour.", use_cache=False, on_text=streamed.append)
    assert second.ok, second.error  # another provider's spec, unchanged, through the same gateway
    assert "".join(streamed) == second.text
    chat = [r for r in provider.requests if r.path.endswith("/chat/completions")]
    assert {r.body["model"] for r in chat} == {"gpt-4.1-mini", "openai/gpt-oss-20b"}
    # the proxy put the provider's key on the wire; the student's key never went past it
    assert {r.api_key for r in chat} == {PROVIDER_KEYS["OPENAI_API_KEY"], PROVIDER_KEYS["GROQ_API_KEY"]}

    answers = [first]
    for _ in range(6):  # the model's budget is charged after each answer: it stops the calls within a few
        answers.append(ask("openai/gpt-4.1-mini", "Name a colour.", use_cache=False, max_retries=0))
        if not answers[-1].ok:
            break
    refused = answers[-1]
    assert refused.error_kind == "budget", refused.error
    assert 2 <= len(answers) <= 4
    assert "crossed budget" in refused.error and "Ask your instructor to raise the budget" in refused.error
    sent = len([r for r in provider.requests if r.path.endswith("/chat/completions")])
    again = ask("openai/gpt-4.1-mini", "Name a colour.", use_cache=False, max_retries=0)
    assert again.error_kind == "budget"
    assert len([r for r in provider.requests if r.path.endswith("/chat/completions")]) == sent  # nothing reached it

    # what the student sees at the command line
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    shown = subprocess.run([sys.executable, "-m", "helpers", "ask", "-m", "openai/gpt-4.1-mini", "--no-cache",
                            "Name a colour."], check=False, env=env, capture_output=True, text=True, timeout=120,
                           cwd=ROOT)
    out = shown.stdout + shown.stderr
    assert "a budget is used up" in out and "Ask your instructor" in out, out
    assert "Traceback" not in out

    db = Path(os.environ["LLMLAB_DB"])
    assert_no_provider_key(out, student.read_text(), db.read_bytes().decode("utf-8", "replace"),
                           *(a.error or a.text for a in answers), "\n".join(f"{k}={v}" for k, v in os.environ.items()))


def test_gateway_refuses_other_keys_and_unknown_models(student: Path, provider: FakeOpenAI,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = ask("openai/gpt-4o", "hi", use_cache=False, max_retries=0)
    assert unknown.error_kind == "unknown_model" and "gpt-4o" in unknown.error
    student.write_text(student.read_text().replace(MASTER, "sk-not-a-class-key-000000"), encoding="utf-8")
    monkeypatch.setattr(settings, "_loaded_from", None)
    other = ask("openai/gpt-4.1-mini", "hi", use_cache=False, max_retries=0)
    assert other.error_kind == "auth" and "cannot check the key in OPENAI_API_KEY" in other.error
    assert "sk-not-a-class-key-000000" not in other.error
    assert_no_provider_key(unknown.error, other.error)
