"""CodeCarbon measurement of local calls (``local/…`` and ``ollama/…``): kWh and g CO2e per call.

One long-lived ``OfflineEmissionsTracker`` per process (a fresh tracker's first start probes the hardware
for about 1.7 s), with one CodeCarbon *task* per call (about 1 ms each after the first). Offline (no
network), machine tracking mode (the model runs in another process: a llama.cpp server or Ollama), country
from ``LLMLAB_COUNTRY`` as an ISO-3 code (WOR, the default, makes CodeCarbon use its world average). GPU
power is included when NVIDIA's library is present. On/off with ``LLMLAB_MEASURE_LOCAL`` (default on).

One task runs at a time: a local call that starts while another is measured is not measured (the
machine-wide figure would count both), and says so in its notes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from helpers import settings
from helpers.answer import Answer
from helpers.errors import ConfigError

MEASURE_ENV = "LLMLAB_MEASURE_LOCAL"
COUNTRY_ENV = "LLMLAB_COUNTRY"


@dataclass(frozen=True)
class Measurement:
    """One measured span. Energy in kWh, emissions in grams CO2e, power in W."""

    kwh: float
    g_co2e: float
    duration_s: float
    cpu_kwh: float = 0.0
    gpu_kwh: float = 0.0
    ram_kwh: float = 0.0
    gpu_power_w: float = 0.0
    country: str = ""
    power_source: str = ""  # where CodeCarbon's power came from: a sensor, or an estimate (see power_source())
    sensor: bool = False

    def wh_per_1k_tokens(self, output_tokens: int | None) -> float | None:
        """Watt-hours per 1,000 output tokens (None without tokens)."""
        return self.kwh * 1000 * 1000 / output_tokens if output_tokens else None


SENSOR_MODES = {"intel_rapl": "Intel RAPL", "intel_power_gadget": "Intel Power Gadget",
                "windows_emi": "Windows EMI", "apple_powermetrics": "Apple powermetrics"}


def power_source(tracker: Any) -> tuple[str, bool]:
    """(how CodeCarbon got this machine's power, True when a sensor read it) from the tracker's hardware.

    Without a sensor CodeCarbon multiplies the CPU load by a constant wattage (``cpu_load``) or takes a
    constant share of the CPU's rated power (``constant``); memory is always a constant per GB.
    """
    hardware = list(getattr(tracker, "_hardware", []) or [])
    kinds = {type(h).__name__: h for h in hardware}
    gpu = " + GPU from NVIDIA's sensor" if "GPU" in kinds else ""
    if "AppleSiliconChip" in kinds:
        return "power read by Apple powermetrics (sensor)" + gpu, True
    mode = getattr(kinds.get("CPU"), "_mode", None)
    if mode in SENSOR_MODES:
        return f"CPU power read by {SENSOR_MODES[mode]} (sensor), memory a constant estimate{gpu}", True
    if mode == "cpu_load":
        return (f"no power sensor: CPU power estimated from its load × a constant wattage, memory a constant{gpu}",
                bool(gpu))
    if mode == "constant":
        return f"no power sensor: CPU power a constant share of its rated power, memory a constant{gpu}", bool(gpu)
    return f"power source not reported by CodeCarbon{gpu}", bool(gpu)


def enabled() -> bool:
    """Whether local calls are measured (``LLMLAB_MEASURE_LOCAL``: 1/0, on/off, true/false; default on)."""
    value = (settings.get(MEASURE_ENV) or "1").strip().lower()
    if value not in ("1", "0", "on", "off", "true", "false", "yes", "no"):
        raise ConfigError(f"{MEASURE_ENV}={value!r} is not on or off", hint=f"Set {MEASURE_ENV}=1 or {MEASURE_ENV}=0.")
    return value in ("1", "on", "true", "yes")


def country() -> str:
    """ISO-3 country for CodeCarbon (``LLMLAB_COUNTRY``; WOR = world average)."""
    value = (settings.get(COUNTRY_ENV) or "WOR").strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ConfigError(f"{COUNTRY_ENV}={value!r} is not a 3-letter ISO country code",
                          hint="Use e.g. FRA, DEU, USA, or WOR for the world average.")
    return value


class Meter:
    """A long-lived CodeCarbon tracker measuring one task at a time."""

    def __init__(self, country_iso: str | None = None, tracking_mode: str = "machine") -> None:
        self.country = country_iso or country()
        self.tracking_mode = tracking_mode
        self._tracker: Any = None
        self._busy = threading.Lock()
        self._make = threading.Lock()
        self.tasks = 0

    def tracker(self) -> Any:
        """The CodeCarbon tracker (made on first use; quiet: errors only)."""
        with self._make:
            if self._tracker is None:
                from codecarbon import OfflineEmissionsTracker

                logging.getLogger("codecarbon").setLevel(logging.ERROR)  # its import set INFO
                where = {} if self.country == "WOR" else {"country_iso_code": self.country}  # no code = world
                self._tracker = OfflineEmissionsTracker(
                    **where, measure_power_secs=1, output_methods=[], log_level="error",
                    tracking_mode=self.tracking_mode, allow_multiple_runs=True)
            return self._tracker

    def begin(self) -> bool:
        """Start a task; False when another task is running (this span is then not measured)."""
        if not self._busy.acquire(blocking=False):
            return False
        try:
            self.tracker().start_task(f"call-{self.tasks}")
        except BaseException:
            self._busy.release()
            raise
        self.tasks += 1
        return True

    def end(self) -> Measurement | None:
        """Stop the running task and return its figures."""
        try:
            data = self.tracker().stop_task()
        finally:
            self._busy.release()
        if data is None:
            return None
        source, sensor = power_source(self._tracker)
        return Measurement(power_source=source, sensor=sensor, kwh=float(data.energy_consumed),
                           g_co2e=float(data.emissions) * 1000, duration_s=float(data.duration),
                           cpu_kwh=float(data.cpu_energy or 0),
                           gpu_kwh=float(data.gpu_energy or 0), ram_kwh=float(data.ram_energy or 0),
                           gpu_power_w=float(data.gpu_power or 0), country=str(data.country_iso_code or "WOR"))

    def measure(self, fn: Callable[[], Any]) -> tuple[Any, Measurement | None]:
        """Run ``fn()`` inside a task: (its result, the measurement or None if another task was running)."""
        if not self.begin():
            return fn(), None
        try:
            result = fn()
        finally:
            measured = self.end()
        return result, measured


_meters: dict[tuple[str, str], Meter] = {}
_meters_lock = threading.Lock()


def meter() -> Meter:
    """The process's meter for the configured country."""
    key = (country(), "machine")
    with _meters_lock:
        if key not in _meters:
            _meters[key] = Meter(*key)
        return _meters[key]


def apply(answer: Answer, measured: Measurement | None) -> Answer:
    """Put a measurement on an answer (``measured_*`` and ``extra["measured"]``), or note its absence."""
    if measured is None:
        answer.emissions.notes.append("CodeCarbon: not measured (another local call was being measured)")
        return answer
    answer.emissions.measured_kwh, answer.emissions.measured_g = measured.kwh, measured.g_co2e
    answer.extra["measured"] = {
        "kwh": measured.kwh, "g_co2e": measured.g_co2e, "duration_s": measured.duration_s,
        "cpu_kwh": measured.cpu_kwh, "gpu_kwh": measured.gpu_kwh, "ram_kwh": measured.ram_kwh,
        "gpu_power_w": measured.gpu_power_w, "country": measured.country,
        "power_source": measured.power_source, "sensor": measured.sensor,
        "wh_per_1k_tokens": measured.wh_per_1k_tokens(answer.usage.completion_tokens),
    }
    answer.emissions.notes.append(f"CodeCarbon: measured on this machine (machine mode, {measured.country}; "
                                  f"{measured.power_source})")
    return answer


def call(local: bool, fn: Callable[[], Answer]) -> Answer:
    """``fn()`` measured when the provider is local and measurement is on; otherwise just ``fn()``."""
    if not local or not enabled():
        return fn()
    answer, measured = meter().measure(fn)
    return apply(answer, measured)


async def acall(local: bool, fn: Callable[[], Awaitable[Answer]]) -> Answer:
    """The same as ``call`` for a coroutine function."""
    if not local or not enabled():
        return await fn()
    m = meter()
    if not m.begin():
        return apply(await fn(), None)
    try:
        answer = await fn()
    finally:
        measured = m.end()
    return apply(answer, measured)
