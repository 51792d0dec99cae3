"""A whole room of devices in one light process: recorded frames on every device's topics.

Thirty-six real firmware processes would take this 2-core machine by themselves (about 5 % of
a core each), so the classroom scale benchmark feeds the broker from here instead: one
`RecordingPlayer` per device (glovecoach.link.recording_transport, the in-process device that
replays a recording with the wire encoders: HELLO, STATUS, SAMPLES with sequence numbers and
device clock stamps, and answers START/STOP/INFO/PING), all published by one paho client on
the device topics a glove on WiFi uses (docs/wifi-mqtt.md). The host cannot tell it from a
room of gloves, so the instructor's side of the benchmark runs its real code.

Each device plays the same recorded signal (one shared array: memory does not grow with the
room) under its own id, and its own clock offset.

    python benchmarks/room_publisher.py --port 1883 --room bench --devices 36 --seconds 60
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import threading
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho

from glovecoach.link.mqtt_transport import device_topics
from glovecoach.link.recording_transport import RecordingPlayer
from glovecoach.vocabulary.sensors import ALL_CHANNELS

TICK_S = 0.005   # how often every player is asked for its due frames (a frame is 20 ms)


@dataclasses.dataclass
class ReplayedSignal:
    """What a RecordingPlayer reads from a recording: raw rows on a session index."""

    raw: np.ndarray
    sample_index: np.ndarray
    rate_hz: int
    channels: tuple[str, ...]
    device_info: dict
    path: Path = Path("<room publisher>")


# Channels 0 and 2 of every row count the slots: slot % COUNTER_DIGIT and (slot // COUNTER_DIGIT) %
# COUNTER_DIGIT, so COUNTER_MODULUS slots (13 minutes at 200 Hz) before it repeats. Each digit
# stays under 400 counts, below every alert's floor: a counter ramping to the ADC's top would
# itself read as a standing over-force of hundreds of newtons on every device, a load no room
# has (it did, in this benchmark before 2026-12-03).
COUNTER_DIGIT = 400
COUNTER_MODULUS = COUNTER_DIGIT * COUNTER_DIGIT


def slot_counter(raw: np.ndarray) -> np.ndarray:
    """The slot count (modulo COUNTER_MODULUS) that `make_signal` wrote into rows of ``raw``."""
    return raw[:, 0].astype(np.int64) + COUNTER_DIGIT * raw[:, 2].astype(np.int64)


def make_signal(seconds: float, rate_hz: int, channels: int = len(ALL_CHANNELS), seed: int = 0,
                press_every_s: float | None = None, press_channel: int = 1) -> np.ndarray:
    """A slow pressure wave per channel; channels 0 and 2 count the slots (`slot_counter`),
    so a receiver can prove no sample was shifted, repeated or lost outside a counted gap.
    ``press_every_s``: a 0.6 s press near the ADC's top on ``press_channel`` that often."""
    n = int(seconds * rate_hz)
    t = np.arange(n)[:, None] / rate_hz
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, channels)[None, :]
    raw = np.clip(600 + 300 * np.sin(2 * np.pi * 0.7 * t + phase), 0, 4095).astype(np.uint16)
    slots = np.arange(n) % COUNTER_MODULUS
    raw[:, 0] = slots % COUNTER_DIGIT
    raw[:, 2] = slots // COUNTER_DIGIT
    if press_every_s:
        every, hold = int(press_every_s * rate_hz), int(0.6 * rate_hz)
        for start in range(3 * rate_hz, n - hold, every):
            raw[start:start + hold, press_channel] = 3600
    return raw


class RoomPublisher:
    """``devices`` players on one paho connection; ``start()`` runs them in a thread."""

    def __init__(self, host: str, port: int, room: str, devices: dict[str, str] | list[str],
                 raw: np.ndarray | dict[str, np.ndarray], rate_hz: int, *, username: str | None = None,
                 password: str | None = None, start_rows: dict[str, int] | None = None) -> None:
        """``devices``: device id -> role (or a list of ids: kits); ``raw``: one signal for all,
        or role -> signal (each with that role's channels); ``start_rows``: device id -> the
        row of the signal it starts at (a view, not a copy: memory does not grow)."""
        from glovecoach.vocabulary.sensors import device_map, load_roles

        self.room = room
        if not isinstance(devices, dict):
            devices = {d: "kit" for d in devices}
        roles = load_roles()
        self.players: dict[str, RecordingPlayer] = {}
        self.topics: dict[str, dict[str, str]] = {}
        self.start_rows: dict[str, int] = {}
        for device_id, role in devices.items():
            signal_raw = raw[role] if isinstance(raw, dict) else raw
            self.start_rows[device_id] = skip = int((start_rows or {}).get(device_id, 0))
            signal_raw = signal_raw[skip:]
            channels = device_map(role).ids
            if signal_raw.shape[1] != len(channels):
                raise ValueError(f"{role}: signal has {signal_raw.shape[1]} channels, the role has {len(channels)}")
            index = np.arange(signal_raw.shape[0], dtype=np.int64)
            signal = ReplayedSignal(signal_raw, index, rate_hz, tuple(channels),
                                    {"glove_id": device_id, "firmware": "room-publisher", "role": role,
                                     "hand": roles[role].hand})
            # On the wall clock, so that another process can tell when a sample was taken
            # (`clocks()`): the classroom benchmark measures latency from that instant.
            self.players[device_id] = RecordingPlayer(signal, clock=time.time)   # type: ignore[arg-type]
            self.topics[device_id] = device_topics(room, device_id)
        self._by_cmd = {t["cmd"]: d for d, t in self.topics.items()}
        self.rate_hz = rate_hz
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"room-publisher-{room}",
                                  protocol=paho.MQTTv311)
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._on_command
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="room-publisher", daemon=True)
        self.published = 0
        self.lags: collections.deque = collections.deque(maxlen=200_000)   # seconds late, per publish
        self.host, self.port = host, port

    def _on_command(self, client, userdata, message) -> None:
        device = self._by_cmd.get(message.topic)
        if device is not None:
            with self._lock:
                self.players[device].receive(message.payload)

    def start(self) -> RoomPublisher:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        for t in self.topics.values():
            self.client.subscribe(t["cmd"], qos=0)
            self.client.publish(t["online"], b"1", retain=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        due: list[float] = []
        while not self._stop.is_set():
            with self._lock:
                out = []
                for device, player in self.players.items():
                    first = player._next_frame
                    player.produce()
                    if player.pending_bytes:
                        out.append((self.topics[device]["frames"], player.take(player.pending_bytes)))
                    if player._next_frame > first:     # its oldest frame was due when its last sample was taken
                        due.append(player._t0 + (player._stream_t0_us + player._frame_due_us[first]) / 1e6)
            for topic, payload in out:   # whole frames: produce() only appends whole frames
                self.client.publish(topic, payload, qos=0)
                self.published += 1
            now = time.time()
            self.lags.extend(now - t for t in due)
            due.clear()
            self._stop.wait(TICK_S)

    def lag_ms(self) -> tuple[float, float, float]:
        """p50, p99 and max of how late frames were handed to the broker (from when their last
        sample was taken; the benchmark's own publisher, not a device: a loaded machine shows
        here)."""
        lags = np.asarray(self.lags) * 1000
        return tuple(np.percentile(lags, [50, 99, 100])) if len(lags) else (float("nan"),) * 3

    def clocks(self) -> dict[str, float | None]:
        """Per device, the wall-clock time (time.time()) the signal's row 0 was (or would have
        been, for a device started further on) taken, or None before it was started: row k
        was taken at that + k / rate, `slot_counter` counting the rows."""
        with self._lock:
            return {d: (p._t0 + p._stream_t0_us / 1e6 - self.start_rows[d] / self.rate_hz
                        if p._streaming or p.finished else None)
                    for d, p in self.players.items()}

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        self.client.loop_stop()
        self.client.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room", default="bench")
    parser.add_argument("--devices", type=int, default=36)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--signal-seconds", type=float, default=None,
                        help="length of the played signal (default: --seconds + 30)")
    args = parser.parse_args()
    raw = make_signal(args.signal_seconds or args.seconds + 30, args.rate, len(ALL_CHANNELS))
    ids = [f"GC-B{i:03d}" for i in range(args.devices)]
    pub = RoomPublisher(args.host, args.port, args.room, ids, raw, args.rate).start()
    try:
        time.sleep(args.seconds)
    finally:
        pub.stop()
    print(f"published {pub.published} messages for {args.devices} devices")


if __name__ == "__main__":
    main()
