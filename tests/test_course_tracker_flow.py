"""The course's own emissions flow (api-emissions-tracker + stub-ai), and our calls after the tracker's
process-wide patching. Each runs in a subprocess (cwd=tmp_path) so the patching and emissions.json stay
out of the test process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parent.parent

# The course notebook's cells, as a user writes them. The only addition (test-side, in the child process):
# stub-ai's 1-3 s simulated delay is skipped by giving its module a `time` without sleep.
COURSE_FLOW = """
import types, stub_ai.stub_azure_openai as _stub
_stub.time = types.SimpleNamespace(sleep=lambda s: None)

from api_emissions_tracker import APIEmissionsTracker, StubAzureOpenAI

emission_factors = {
    "gpt-35-turbo": {"per_prompt_token": 0.00246, "per_completion_token": 0.00246,
                     "reference_url": "https://borisruf.github.io/carbon-footprint-modeling-tool/"},
}
tracker = APIEmissionsTracker(write_log_file=True, emission_factors=emission_factors)
tracker.start()
client = StubAzureOpenAI(azure_endpoint="https://example.openai.azure.com", api_key="not-a-key")
response = client.chat.completions.create(
    model="gpt-35-turbo", messages=[{"role": "user", "content": "What is the origin of the Olympic Games?"}])
print(response.choices[0].message.content[:60])
print("USAGE", response.usage.prompt_tokens, response.usage.completion_tokens)
tracker.stop()
"""


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120, check=False)


def test_course_flow_prints_its_total(tmp_path: Path) -> None:
    out = run_python(COURSE_FLOW, tmp_path)
    assert out.returncode == 0, out.stderr
    usage = re.search(r"USAGE (\d+) (\d+)", out.stdout)
    total = re.search(r"Total emissions: ([0-9.eE-]+) g CO2e", out.stdout)
    assert usage and total, out.stdout
    prompt, completion = int(usage.group(1)), int(usage.group(2))
    assert float(total.group(1)) == pytest.approx((prompt + completion) * 0.00246)
    assert "Olympic" in out.stdout
    log = json.loads((tmp_path / "emissions.json").read_text())  # write_log_file writes into the cwd
    (record,) = log.values()
    assert record == {"model": "gpt-35-turbo", "prompt_tokens": prompt, "completion_tokens": completion,
                      "co2e_in_g": pytest.approx(float(total.group(1)))}


def test_course_flow_and_our_stub_provider_in_one_kernel(tmp_path: Path) -> None:
    """A notebook that runs the course's flow and then uses LLM Lab: both work, totals stay apart."""
    code = COURSE_FLOW + """
from helpers.llm import ask
a = ask("stub/gpt-35-turbo", "What is the Olympic motto?", system="Answer briefly.")
print("OURS", a.ok, a.usage.prompt_tokens, a.usage.completion_tokens, repr(a.emissions.tracker_g))
from api_emissions_tracker.logger import logger
print("TRACKER_RECORDS", len(logger.records))
"""
    out = run_python(code, tmp_path, LLMLAB_HOME=str(tmp_path), LLMLAB_DB=str(tmp_path / "lab.db"),
                     LLMLAB_ENV_FILE=str(tmp_path / "none.env"), LLMLAB_MEASURE_LOCAL="0")
    assert out.returncode == 0, out.stderr
    ours = re.search(r"OURS True (\d+) (\d+) ([0-9.eE-]+)", out.stdout)
    assert ours, out.stdout
    assert float(ours.group(3)) == pytest.approx((int(ours.group(1)) + int(ours.group(2))) * 0.00246)
    assert "TRACKER_RECORDS 1" in out.stdout  # our call did not go through the tracker's wrapper


@pytest.fixture
def served(fake_openai: FakeOpenAI) -> FakeOpenAI:
    return fake_openai


def test_our_openai_calls_survive_the_tracker_patching(tmp_path: Path, served: FakeOpenAI) -> None:
    """After `import api_emissions_tracker` (which wraps Completions.create process-wide), streamed calls and
    responses without usage still work through ask(), while the SDK's own create() breaks as documented."""
    served.script(["ok", "ok", "no_usage", "ok", "no_usage"])
    code = """
import api_emissions_tracker, openai, json
from helpers.llm import ask
out = {}
a = ask("openai/gpt-4o-mini", "first plain call", use_cache=False)
out["plain"] = [a.ok, a.text, a.usage.prompt_tokens, a.emissions.tracker_g]
pieces = []
s = ask("openai/gpt-4o-mini", "stream this please", on_text=pieces.append, use_cache=False)
out["stream"] = [s.ok, s.text, "".join(pieces), s.usage.completion_tokens]
n = ask("openai/gpt-4o-mini", "no usage here", use_cache=False)
out["no_usage"] = [n.ok, n.text, n.usage.prompt_tokens, n.emissions.tracker_g, n.emissions.notes]
raw = openai.OpenAI(max_retries=0)
try:
    raw.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}], stream=True)
    out["sdk_stream"] = "worked"
except Exception as exc:
    out["sdk_stream"] = type(exc).__name__
try:
    raw.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "y"}])
    out["sdk_no_usage"] = "worked"
except Exception as exc:
    out["sdk_no_usage"] = type(exc).__name__
print(json.dumps(out))
"""
    out = run_python(code, tmp_path, OPENAI_API_KEY="sk-test-" + "t" * 20, OPENAI_BASE_URL=served.base_url,
                     LLMLAB_HOME=str(tmp_path), LLMLAB_DB=str(tmp_path / "lab.db"),
                     LLMLAB_ENV_FILE=str(tmp_path / "none.env"), LLMLAB_MEASURE_LOCAL="0")
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["plain"][:3] == [True, "Echo: first plain call", 3] and got["plain"][3] is not None
    assert got["stream"][0] is True and got["stream"][1] == got["stream"][2] == "Echo: stream this please"
    assert got["stream"][3] is not None
    assert got["no_usage"][:4] == [True, "Echo: no usage here", None, None]
    assert "no token usage reported: nothing to estimate from" in got["no_usage"][4]
    # the defect itself, through the SDK's create(): it is still there, we just do not go through it
    assert got["sdk_stream"] == "AttributeError" and got["sdk_no_usage"] == "AttributeError"
    bodies = [r.body for r in served.requests if r.path == "/v1/chat/completions"]
    assert bodies[1]["stream"] is True and len(bodies) == 5
