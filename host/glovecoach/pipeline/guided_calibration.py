"""The guided calibration procedure, independent of where readings come from.

`run_guided_calibration` walks a person through conditioning, the tare and one reading per
reference weight per sensor, asking before each reading and averaging about a second of
samples. Readings come from a `ReadingSource`: the glove through the session pipeline
(`GloveReadingSource`) or a recorded calibration session replayed from a `.gcrec`
(`RecordingReadingSource`), so the procedure is the same code in both cases.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from glovecoach.calibration.fit import (
    CalibrationError,
    SensorFit,
    fit_sensor,
    kg_to_newtons,
)
from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.notifier import Notifier
from glovecoach.vocabulary.sensors import SensorMap, load_sensor_map

CONDITIONING_PRESSES = "4-5"
CONDITIONING_FACTOR = 1.1   # load each sensor to ~110 % of the heaviest reference before measuring


class ReadingSource(Protocol):
    channels: tuple[str, ...]
    glove_id: str | None

    def read(self, seconds: float) -> np.ndarray:
        """Raw rows (n, channels) covering about `seconds` from now."""
        ...


class SampleCollector(Listener):
    """Keeps the raw rows that arrive while `collecting` is on."""

    def __init__(self) -> None:
        self.collecting = False
        self.rows: list[np.ndarray] = []
        self.count = 0

    def begin(self) -> None:
        self.rows.clear()
        self.count = 0
        self.collecting = True

    def on_samples(self, message: Any) -> None:
        if self.collecting:
            self.rows.append(np.asarray(message.raw))
            self.count += len(message.raw)


class GloveReadingSource:
    """Readings from a streaming glove (a connected, started `GloveClient`), through the
    session's pipeline like every other consumer of the link."""

    def __init__(self, client, channels: Sequence[str], glove_id: str | None, rate_hz: int) -> None:
        self.client = client
        self.channels = tuple(channels)
        self.glove_id = glove_id
        self.rate_hz = rate_hz
        self.collector = SampleCollector()
        self.notifier = Notifier(client, [self.collector])

    def read(self, seconds: float) -> np.ndarray:
        self.notifier.pump()                     # drop what arrived while the person was busy
        wanted = max(1, int(round(seconds * self.rate_hz)))
        self.collector.begin()
        deadline = time.monotonic() + 3 * seconds + 3.0
        try:
            while self.collector.count < wanted:
                if time.monotonic() > deadline:
                    raise CalibrationError(
                        f"the glove sent {self.collector.count} of {wanted} samples in "
                        f"{3 * seconds + 3:.0f} s; is it still connected?")
                if not self.notifier.pump():
                    time.sleep(0.01)
        finally:
            self.collector.collecting = False
        return np.concatenate(self.collector.rows)[:wanted]


class RecordingReadingSource:
    """Readings taken in turn from a recorded calibration session (one `seconds` slice per read)."""

    def __init__(self, recording) -> None:
        self.recording = recording
        self.channels = tuple(recording.channels)
        self.glove_id = recording.device_info.get("glove_id")
        self.rate_hz = recording.rate_hz
        self._cursor = 0

    def read(self, seconds: float) -> np.ndarray:
        n = max(1, int(round(seconds * self.rate_hz)))
        if self._cursor + n > self.recording.samples:
            raise CalibrationError(f"{self.recording.path}: the recording ends before this reading "
                                   f"(needs samples {self._cursor}-{self._cursor + n - 1}, "
                                   f"has {self.recording.samples})")
        rows = self.recording.raw[self._cursor:self._cursor + n]
        self._cursor += n
        return rows


def run_guided_calibration(
    source: ReadingSource,
    sensors: Sequence[str],
    weights_kg: Sequence[float],
    *,
    ask: Callable[[str], str],
    say: Callable[[str], None],
    read_s: float = 1.0,
    sensor_map: SensorMap | None = None,
) -> list[SensorFit]:
    """Guide a person through calibrating `sensors`; returns their fits.

    Raises CalibrationError naming every rejected sensor (after measuring all of them, so one
    bad sensor does not waste the others' readings: the message lists each problem).
    """
    from glovecoach.vocabulary.sensors import sensor_name

    smap = sensor_map or load_sensor_map()
    columns = {c: source.channels.index(c) for c in sensors}
    heaviest = max(weights_kg)
    say(f"Calibrating {len(sensors)} sensor(s) of glove {source.glove_id or '(unknown id)'} with "
        f"{', '.join(f'{w:g}' for w in weights_kg)} kg.")
    say(f"Step 1: condition each sensor. Press it to about {CONDITIONING_FACTOR * heaviest:.1f} kg "
        f"({CONDITIONING_FACTOR:.0%} of the heaviest weight) and release, {CONDITIONING_PRESSES} times.")
    ask("Press Enter when every sensor is conditioned. ")
    say("Step 2: tare. Take your hand and all weights off the glove.")
    ask("Press Enter to take the unloaded reading. ")
    tare = source.read(read_s).astype(np.float64).mean(axis=0)
    say("  unloaded: " + ", ".join(f"{c} {tare[columns[c]]:.0f}" for c in sensors))
    loaded: dict[str, list[tuple[float, float]]] = {c: [] for c in sensors}
    say("Step 3: reference weights. Centre each weight on the sensor's puck, nothing else touching.")
    for channel in sensors:
        for kg in weights_kg:
            ask(f"Put {kg:g} kg on the {sensor_name(channel)} ({channel}) and press Enter. ")
            rows = source.read(read_s)
            value = float(rows[:, columns[channel]].astype(np.float64).mean())
            loaded[channel].append((kg_to_newtons(kg), value))
            saturated = " (saturated: this weight will not be used)" if value >= smap.saturated_at else ""
            say(f"  {channel} at {kg:g} kg reads {value:.0f}{saturated}")
        ask(f"Take the weight off the {sensor_name(channel)} and press Enter. ")

    fits: list[SensorFit] = []
    problems: list[str] = []
    for channel in sensors:
        c = smap.by_id(channel)
        try:
            fits.append(fit_sensor(channel, float(tare[columns[channel]]), loaded[channel],
                                   divider_ohm=c.divider_ohm, nominal_bias_ohm=c.bias_ohm,
                                   adc_max=smap.adc_max, open_below=smap.open_below,
                                   saturated_at=smap.saturated_at))
        except CalibrationError as exc:
            problems.append(str(exc))
    for f in fits:
        say(f"  {f.channel}: r1 {f.params.r1_ohm:.0f} ohm, alpha {f.params.alpha:.3f}, "
            f"fit error {100 * f.rms_log_error:.1f} %")
    if problems:
        raise CalibrationError("; ".join(problems))
    return fits
