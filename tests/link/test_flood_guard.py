"""A device sending far more than any glove cannot take the instructor's process: its excess is
dropped unread, counted and reported, while a glove's own stream, bursts included, passes whole.
The budget alone, then on a real Mosquitto with the real firmware streaming beside a flooder."""

from __future__ import annotations

import time

import numpy as np
import paho.mqtt.client as paho
import pytest

from glovecoach.link.client import GloveClient
from glovecoach.link.flood_guard import GLOVE_MESSAGES_PER_S, FloodLimits, MessageBudget
from glovecoach.link.mqtt_shared import SharedMqttConnection
from glovecoach.vocabulary.stream import DeviceProblem, GapDetected, SamplesReceived
from mqtt_helpers import MOSQUITTO, Mosquitto, MqttGlove

WIDEST_FRAME = 830     # bytes: a 20 ms SAMPLES frame at 1000 Hz and 20 channels


def feed(budget: MessageBudget, times: np.ndarray, size: int) -> int:
    return sum(budget.admit(size, float(t)) for t in times)


def test_a_gloves_stream_passes_whole_bursts_included():
    budget = MessageBudget()
    # Ten minutes of the widest glove's messages as they come...
    steady = np.arange(0, 600, 1 / GLOVE_MESSAGES_PER_S)
    assert feed(budget, steady, WIDEST_FRAME) == len(steady)
    # ...then this host does not read for four minutes, and the broker hands over all of it in
    # one read (one arrival time), then the stream goes on.
    backlog = np.full(int(240 * GLOVE_MESSAGES_PER_S), 840.0)
    assert feed(budget, backlog, WIDEST_FRAME) == len(backlog)
    after = np.arange(840, 1200, 1 / GLOVE_MESSAGES_PER_S)
    assert feed(budget, after, WIDEST_FRAME) == len(after)
    assert budget.refused == 0


@pytest.mark.parametrize("times_a_glove", [10, 100])
def test_a_flood_is_cut_back_to_the_sustained_rate_after_its_burst(times_a_glove):
    limits = FloodLimits()
    budget = MessageBudget(limits)
    seconds = 300
    flood = np.arange(0, seconds, 1 / (times_a_glove * GLOVE_MESSAGES_PER_S))
    admitted = feed(budget, flood, 60)
    allowed = limits.messages_per_s * (limits.burst_s + seconds)
    assert allowed - 2 <= admitted <= allowed + 1
    assert budget.refused == len(flood) - admitted
    # Once it stops, what it was refused took nothing: a glove's pace passes again.
    budget2_t = np.arange(seconds + limits.burst_s, seconds + limits.burst_s + 60, 1 / GLOVE_MESSAGES_PER_S)
    before = budget.refused
    assert feed(budget, budget2_t, 200) == len(budget2_t)
    assert budget.refused == before


def test_bytes_are_budgeted_too_few_huge_messages_are_a_flood():
    limits = FloodLimits()
    budget = MessageBudget(limits)
    size = 64_000     # within the message budget (10 a second), 4 times the byte budget
    times = np.arange(0, 300, 0.1)
    admitted = feed(budget, times, size)
    allowed_bytes = limits.bytes_per_s * (limits.burst_s + 300)
    assert admitted * size <= allowed_bytes + size
    assert admitted * size >= allowed_bytes - 2 * size
    assert budget.refused_bytes == (len(times) - admitted) * size


def test_the_client_reports_what_its_transport_refused_as_a_device_problem():
    conn = SharedMqttConnection("127.0.0.1", 1, "r")
    client = GloveClient(conn.transport("GC-X"))
    client.transport.on_problem("flood", "sends more than any glove")
    problems = [e for e in client.poll() if isinstance(e, DeviceProblem)]
    assert [(p.field, p.message) for p in problems] == [("flood", "sends more than any glove")]
    assert client.stats.device_errors == 1


@pytest.mark.mosquitto
@pytest.mark.skipif(not MOSQUITTO.exists(), reason="mosquitto is not installed")
def test_a_flooding_login_beside_a_real_glove_costs_the_glove_nothing():
    with Mosquitto() as broker:
        glove = MqttGlove(broker.port, glove_id="GC-HONEST", room="r")
        glove.start()
        conn = SharedMqttConnection("127.0.0.1", broker.port, "r")
        honest = GloveClient(conn.transport("GC-HONEST"))
        try:
            honest.connect(timeout=10)
            honest.start(200)
            bad = conn.transport("GC-FLOOD")
            bad.open()
            problems: list[tuple[str, str]] = []
            bad.on_problem = lambda field, message: problems.append((field, message))
            delivered = [0]
            bad.set_receiver(lambda data, received: delivered.__setitem__(0, delivered[0] + data.count(b"\x00")))
            # The flooder: as fast as one paho client goes, on its own device's topic.
            flood = paho.Client(paho.CallbackAPIVersion.VERSION2)
            flood.connect("127.0.0.1", broker.port)
            flood.loop_start()
            sent = 0
            t0 = time.monotonic()
            while time.monotonic() - t0 < 4:
                for _ in range(500):
                    flood.publish("glovecoach/r/GC-FLOOD/frames", b"\x05junk\x00", qos=0)
                sent += 500
                time.sleep(0.001)
            elapsed = time.monotonic() - t0
            time.sleep(1.0)
            flood.loop_stop()
            events = honest.poll()
            gaps = [e for e in events if isinstance(e, GapDetected)]
            samples = sum(len(e.raw) for e in events if isinstance(e, SamplesReceived))
            budget = bad.budget
            limits = budget.limits
            # the flood was far beyond a glove's pace, and its excess was dropped unread
            assert sent / elapsed > 20 * GLOVE_MESSAGES_PER_S
            arrived = delivered[0] + budget.refused
            assert budget.refused > 0 and arrived > limits.messages_per_s * limits.burst_s
            assert delivered[0] <= limits.messages_per_s * (limits.burst_s + elapsed + 1.5) + 1
            assert problems and problems[0][0] == "flood" and "dropped unread" in problems[0][1]
            # the glove beside it: nothing refused, no gap, every sample of the ~5 s
            assert honest.transport.budget.refused == 0
            assert gaps == []
            assert samples >= 200 * 4.5
        finally:
            honest.close()
            conn.close()
            glove.stop()


def test_each_device_has_its_own_budget():
    conn = SharedMqttConnection("127.0.0.1", 1, "r")
    a, b = conn.transport("A"), conn.transport("B")
    assert a.budget is not b.budget
    for _ in range(int(a.budget.limits.messages_per_s * a.budget.limits.burst_s) + 5):
        a.budget.admit(10, 0.0)
    assert a.budget.refused == 5 and b.budget.refused == 0
    assert b.budget.admit(10, 0.0)


def test_a_flood_with_no_client_to_tell_is_logged_seldom_not_on_every_read(caplog):
    conn = SharedMqttConnection("127.0.0.1", 1, "r")
    device = conn.transport("GC-X")
    for _ in range(500):           # a flood calls this on every read of the connection
        device.budget.admit(10, 0.0)
        device._report_flood()
    warnings = [r for r in caplog.records if "sends more than any glove" in r.getMessage()]
    assert len(warnings) == 1
