"""CodeCarbon around local calls: a short real measurement offline, and ask() against a local stand-in."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from helpers.answer import Answer
from helpers.errors import ConfigError
from helpers.estimates import measure
from helpers.llm import ask
from helpers.runlog import store as run_log

FRA_G_PER_KWH = 56.039  # CodeCarbon's offline grid intensity for France


@pytest.fixture(scope="module")
def meter() -> Iterator[measure.Meter]:
    """One real tracker for the module (its first task probes the hardware, ~1.7 s)."""
    yield measure.Meter("FRA")


def busy(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def test_real_measurement_offline(meter: measure.Meter, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(self: socket.socket, address: object) -> None:
        raise AssertionError(f"CodeCarbon tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    result, m = meter.measure(lambda: busy(0.3))
    assert result > 0 and m is not None
    assert m.kwh > 0 and m.g_co2e > 0 and m.duration_s >= 0.3
    assert m.g_co2e / m.kwh == pytest.approx(FRA_G_PER_KWH, rel=1e-6) and m.country == "FRA"
    assert m.cpu_kwh > 0 and m.kwh == pytest.approx(m.cpu_kwh + m.gpu_kwh + m.ram_kwh, rel=1e-6)
    assert m.wh_per_1k_tokens(100) == pytest.approx(m.kwh * 1e6 / 100) and m.wh_per_1k_tokens(0) is None
    _, again = meter.measure(lambda: busy(0.05))  # the same long-lived tracker measures again
    assert again is not None and again.kwh < m.kwh and meter.tasks >= 2


def test_one_task_at_a_time(meter: measure.Meter) -> None:
    assert meter.begin()
    try:
        inner, measured = meter.measure(lambda: "inner")
        assert (inner, measured) == ("inner", None)  # not measured: another task was running
    finally:
        assert meter.end() is not None
    a = measure.apply(Answer(spec="local/x", provider="local", model="x"), None)
    assert a.emissions.measured_g is None and "not measured" in a.emissions.notes[0]


def test_failed_call_releases_the_task(meter: measure.Meter) -> None:
    def boom() -> None:
        raise RuntimeError("engine died")

    with pytest.raises(RuntimeError):
        meter.measure(boom)
    assert meter.measure(lambda: 1)[1] is not None


def test_ask_local_provider_is_measured(meter, fake_ollama, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.base_url)
    monkeypatch.setenv("LLMLAB_MEASURE_LOCAL", "1")
    monkeypatch.setenv("LLMLAB_COUNTRY", "FRA")
    monkeypatch.setitem(measure._meters, ("FRA", "machine"), meter)
    a = ask("ollama/llama3.2", "measure this call")
    assert a.ok and a.text == "Echo: measure this call"
    e = a.emissions
    assert e.measured_g and e.measured_kwh and e.measured_g / e.measured_kwh == pytest.approx(FRA_G_PER_KWH)
    assert a.g_co2e == e.measured_g  # the headline figure of a local call is the measurement
    assert e.ecologits_g_min is not None  # the datacentre estimate is still there, for comparison
    assert a.extra["measured"]["wh_per_1k_tokens"] == pytest.approx(e.measured_kwh * 1e6 / a.usage.completion_tokens)
    row = run_log.default().calls()[-1]
    assert row["measured_g"] == pytest.approx(e.measured_g) and row["measured_kwh"] == pytest.approx(e.measured_kwh)


def test_remote_and_disabled_calls_are_not_measured(meter, fake_ollama, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.base_url)
    monkeypatch.setitem(measure._meters, ("WOR", "machine"), meter)
    before = meter.tasks
    assert ask("ollama/llama3.2", "not measured").emissions.measured_g is None  # LLMLAB_MEASURE_LOCAL=0 in tests
    monkeypatch.setenv("LLMLAB_MEASURE_LOCAL", "1")
    assert ask("stub/gpt-4", "What is the Olympic motto?").emissions.measured_g is None  # stub is not local
    assert meter.tasks == before


async def test_async_local_call_is_measured(meter, fake_ollama, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from helpers.llm import ask_async

    monkeypatch.setenv("OLLAMA_BASE_URL", fake_ollama.base_url)
    monkeypatch.setenv("LLMLAB_MEASURE_LOCAL", "on")
    monkeypatch.setitem(measure._meters, ("WOR", "machine"), meter)
    a = await ask_async("ollama/llama3.2", "async measure")
    assert a.ok and a.emissions.measured_kwh and a.extra["measured"]["country"] == "FRA"


def test_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMLAB_MEASURE_LOCAL", "maybe")
    with pytest.raises(ConfigError, match="LLMLAB_MEASURE_LOCAL"):
        measure.enabled()
    monkeypatch.setenv("LLMLAB_MEASURE_LOCAL", "off")
    assert not measure.enabled()
    monkeypatch.delenv("LLMLAB_MEASURE_LOCAL")
    assert measure.enabled()  # default on outside tests
    monkeypatch.setenv("LLMLAB_COUNTRY", "France")
    with pytest.raises(ConfigError, match="3-letter"):
        measure.country()
    monkeypatch.setenv("LLMLAB_COUNTRY", "deu")
    assert measure.country() == "DEU"
