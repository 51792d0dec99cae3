"""A classroom's faults that are a station's own: its WiFi dropping for 30 s, one of its devices
rebooting. Virtual stations (the real firmware on the room's Mosquitto with its ACL) and the
instructor's Classroom; each fault must cost the counted gap and nothing else.

(The broker restarting and the instructor's app restarting are in test_classroom_live.py.)"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import paho.mqtt.client as paho
import pytest

from glovecoach.classroom.hub import STOP_WAIT_S, Classroom
from glovecoach.classroom.room import Room
from glovecoach.classroom.virtual import VirtualStations, virtual_room
from glovecoach.link.broker import BrokerAddress
from glovecoach.link.mqtt_transport import device_topics
from glovecoach.link.room_broker import RoomAccounts, RoomBroker
from glovecoach.pipeline.analysis import analyze_station
from glovecoach.protocols import default_protocol
from glovecoach.recording import open_station_recording
from glovecoach.station.replay import align_station_recording

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "recording"))
from mqtt_helpers import TcpRelay  # noqa: E402
from recording_helpers import FillingDisk  # noqa: E402

pytestmark = pytest.mark.mosquitto
RATE = 200
WIFI_DOWN_S = 30.0   # the figure: a trainee walks the glove out of range and back


def run_for(*classrooms: Classroom, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not sum(c.pump() for c in classrooms):
            time.sleep(0.01)


def run_until(classroom: Classroom, condition, timeout: float) -> float:
    """Pump until ``condition()``; returns how long it took (fails after ``timeout``)."""
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, "condition not met in time"
        if not classroom.pump():
            time.sleep(0.01)
    return time.monotonic() - t0


def links(classroom: Classroom, station: str) -> dict[str, str]:
    return {b.role: b.link for b in classroom.stations[station].tile.state.devices}


@pytest.fixture
def room_and_broker():
    room = virtual_room(Room("lab7"), 2)
    accounts = RoomAccounts.create(room.name, [d for s in room.stations for d in s.devices.values()],
                                   screens=["table-1-screen"])
    with RoomBroker(accounts, host="127.0.0.1") as broker:
        yield room, accounts, broker


def instructor(room: Room, accounts: RoomAccounts, port: int, folder: Path) -> Classroom:
    return Classroom(room, BrokerAddress("127.0.0.1", port), record_dir=folder, protocol=default_protocol(),
                     rate_hz=RATE, username="instructor", password=accounts.screens["instructor"])


def samples_after(dev, index: int) -> int:
    return int(np.count_nonzero(np.asarray(dev.sample_index) >= index))


def test_a_station_losing_its_wifi_for_30_s_is_a_counted_gap_there_and_nothing_elsewhere(room_and_broker, tmp_path):
    """Table 2's three devices reach the broker through a relay standing in for their WiFi;
    it is cut for 30 s (connections reset, reconnecting refused), then comes back."""
    room, accounts, broker = room_and_broker
    relay = TcpRelay(broker.port)
    try:
        with VirtualStations(room, accounts, broker.port, RATE, station_ports={"table 2": relay.port}):
            classroom = instructor(room, accounts, broker.port, tmp_path).start()
            assert all(not s.problems for s in classroom.stations.values())
            run_for(classroom, seconds=3.0)
            assert set(links(classroom, "table 2").values()) == {"up"}
            relay.cut(WIFI_DOWN_S)
            cut_at = time.monotonic()
            # The tile says so within a couple of seconds (a stall: the instructor's own
            # connection to the broker stays up) and keeps saying so while the WiFi is gone.
            seen_s = run_until(classroom, lambda: set(links(classroom, "table 2").values()) <= {"stalled", "down"},
                               timeout=5.0)
            run_for(classroom, seconds=WIFI_DOWN_S - 2.0 - (time.monotonic() - cut_at))
            during = links(classroom, "table 2"), links(classroom, "table 1")
            # Back: the devices reconnect by themselves (within their 2 s retry) and stream on.
            run_until(classroom, lambda: set(links(classroom, "table 2").values()) == {"up"},
                      timeout=WIFI_DOWN_S + 10.0 - (time.monotonic() - cut_at))
            back_s = time.monotonic() - cut_at
            run_for(classroom, seconds=3.0)
            after = links(classroom, "table 2")
            reports = classroom.finish()
    finally:
        relay.close()
    assert set(during[0].values()) <= {"stalled", "down"}, during
    assert set(during[1].values()) == {"up"} and set(after.values()) == {"up"}, (during, after)
    assert seen_s < 2.5

    untouched = open_station_recording(classroom.stations["table 1"].recording)
    for role, dev in untouched.devices.items():
        assert dev.lost_samples == 0 and not dev.gaps, f"table 1 {role}: {dev.gaps}"
        assert np.array_equal(dev.sample_index, np.arange(dev.samples)), f"table 1 {role}: not continuous"
        assert dev.samples > (WIFI_DOWN_S + 6) * RATE

    dropped = open_station_recording(classroom.stations["table 2"].recording)
    assert dropped.closed_cleanly
    measured = {}
    for role, dev in dropped.devices.items():
        assert dev.gaps, f"table 2 {role}: no gap recorded for a 30 s drop"
        lost = sum(g.n_samples for g in dev.gaps)
        assert dev.lost_samples == lost, (role, dev.gaps)
        # The whole drop is in the gap (the firmware drops what it cannot send), and not much more.
        assert (WIFI_DOWN_S - 1) * RATE < lost < (WIFI_DOWN_S + 4) * RATE, (role, dev.gaps)
        # What came before the drop is kept, and the stream resumed after it by itself.
        first = dev.gaps[0].first_index
        last_end = max(g.first_index + g.n_samples for g in dev.gaps)
        assert samples_after(dev, last_end) > 2 * RATE, f"table 2 {role}: did not resume"
        assert dev.samples - samples_after(dev, first) > 2 * RATE
        # Rows kept + rows counted lost = the session's length: nothing lost outside the gap.
        assert dev.samples + lost == int(dev.sample_index[-1]) + 1, role
        measured[role] = (lost / RATE, [g.reason for g in dev.gaps])
    # One recording, one session: analysed whole, the drop a gap in it.
    aligned = align_station_recording(dropped)
    report = analyze_station(aligned.raw, aligned.present, aligned.layout, aligned.rate_hz, default_protocol(),
                             device_info={r: d.device_info for r, d in dropped.devices.items()})
    assert report.duration_s == pytest.approx(aligned.n_total / RATE)
    assert report.duration_s > WIFI_DOWN_S + 5
    # The whole station was gone: the report's station gap, plus each device's own edges
    # (the three reconnect a moment apart).
    station_gap_s = sum(b - a for a, b in report.gaps)
    for role in dropped.devices:
        own_s = sum(b - a for a, b in report.device_gaps.get(role, ()))
        assert station_gap_s + own_s == pytest.approx(WIFI_DOWN_S, abs=4.0), (role, report.gaps, report.device_gaps)
    assert reports["table 2"] is not None
    print(f"WiFi down {WIFI_DOWN_S:.0f} s: tile showed it after {seen_s:.2f} s, up again "
          f"{back_s:.1f} s after the cut; lost per device {measured}")


def _reboot(stations: VirtualStations, station: str, role: str) -> None:
    glove = stations.stations[station].glove(role)
    glove.unplug()        # power cut: the firmware process dies
    time.sleep(0.3)
    glove.plug()          # boots again: a new boot id, not streaming


def _check_reboot(rec, rebooted: str) -> tuple[int, float]:
    """The rebooted device: one `device_reset` gap, counted, and streaming after it; the others
    untouched. Returns the gap's samples and the seconds streamed after it."""
    for role, dev in rec.devices.items():
        if role != rebooted:
            assert dev.lost_samples == 0 and not dev.gaps, (role, dev.gaps)
            continue
        assert [g.reason for g in dev.gaps] == ["device_reset"], dev.gaps
        gap = dev.gaps[0]
        assert dev.lost_samples == gap.n_samples
        after = samples_after(dev, gap.first_index + gap.n_samples)
        assert after > 2 * RATE, f"{role}: streaming did not resume after the reboot"
        assert dev.samples - after > 2 * RATE   # what came before is kept
    return rec.devices[rebooted].gaps[0].n_samples, samples_after(
        rec.devices[rebooted], rec.devices[rebooted].gaps[0].end_index) / RATE


def test_a_device_rebooting_mid_class_the_instructor_restarts_its_stream(room_and_broker, tmp_path):
    room, accounts, broker = room_and_broker
    with VirtualStations(room, accounts, broker.port, RATE) as stations:
        classroom = instructor(room, accounts, broker.port, tmp_path).start(["table 1"])
        run_for(classroom, seconds=3.0)
        _reboot(stations, "table 1", "right_glove")
        run_for(classroom, seconds=5.0)
        badges = links(classroom, "table 1")
        classroom.finish()
    assert set(badges.values()) == {"up"}, badges
    lost, resumed_s = _check_reboot(open_station_recording(classroom.stations["table 1"].recording), "right_glove")
    print(f"reboot (instructor's stream): gap of {lost} samples, {resumed_s:.1f} s streamed after it")


def test_a_device_rebooting_after_the_trainee_screen_that_started_it_has_gone(room_and_broker, tmp_path):
    """The trainee's screen started the stream, the instructor joined it (no START), then the
    screen went away (closed without a word). The device reboots: the instructor's class wants
    its stations streaming all class long, so the instructor restarts the stream."""
    room, accounts, broker = room_and_broker
    address = BrokerAddress("127.0.0.1", broker.port)
    with VirtualStations(room, accounts, broker.port, RATE) as stations:
        trainee = Classroom(room, address, record_dir=tmp_path / "trainee", protocol=default_protocol(),
                            rate_hz=RATE, username="table-1-screen",
                            password=accounts.screens["table-1-screen"]).start(["table 1"])
        run_for(trainee, seconds=1.0)
        classroom = instructor(room, accounts, broker.port, tmp_path / "instructor").start(["table 1"])
        run_for(trainee, classroom, seconds=2.5)
        for client in trainee.stations["table 1"].clients.values():
            client.close()
        trainee.stations["table 1"].pipeline.writer.close()
        trainee.connection.close()
        run_for(classroom, seconds=0.5)
        _reboot(stations, "table 1", "left_glove")
        run_for(classroom, seconds=5.0)
        badges = links(classroom, "table 1")
        classroom.finish()
    rec = open_station_recording(classroom.stations["table 1"].recording)
    # joined, not restarted, at the start
    assert all(d.device_info.get("streaming") is True for d in rec.devices.values())
    assert set(badges.values()) == {"up"}, badges
    lost, resumed_s = _check_reboot(rec, "left_glove")
    print(f"reboot (joined stream, its screen gone): gap of {lost} samples, {resumed_s:.1f} s streamed after it")


def test_a_device_login_publishing_garbage_costs_nothing_but_its_own_corrupt_bytes(room_and_broker, tmp_path):
    """A login of table 2's left glove (a broken build, a copied password) publishes on that
    glove's topics, mid-class: noise, frames cut in half or with a flipped bit, copies of
    frames already sent, a HELLO that is not one, then a 2 MB message. The noise is counted
    corrupt and the copies duplicate, no real frame is lost, the 2 MB message costs the
    sender its connection, and no station's stream, the victim's included, gets a gap."""
    room, accounts, broker = room_and_broker
    victim = room.stations[1].devices["left_glove"]
    topics = device_topics(room.name, victim)
    sent: list[bytes] = []
    with VirtualStations(room, accounts, broker.port, RATE):
        classroom = instructor(room, accounts, broker.port, tmp_path).start()
        spy = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="spy")
        spy.username_pw_set("instructor", accounts.screens["instructor"])
        spy.on_message = lambda c, u, m: sent.append(m.payload)
        spy.connect("127.0.0.1", broker.port)
        spy.subscribe(topics["frames"])
        spy.loop_start()
        evil = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="not-the-glove")
        evil.username_pw_set(victim, accounts.devices[victim])
        cut_off: list = []
        evil.on_disconnect = lambda c, u, f, rc, p=None: cut_off.append(rc)
        evil.connect("127.0.0.1", broker.port)
        evil.loop_start()
        try:
            run_for(classroom, seconds=3.0)
            frames = [m for m in sent if m[1:2] == b"\x10"][-10:]   # SAMPLES (COBS: byte 1 is the type)
            rng = np.random.default_rng(13)
            flipped = [bytes(f[:len(f) // 2]) + bytes([f[len(f) // 2] ^ 0x55]) + bytes(f[len(f) // 2 + 1:])
                       for f in frames[:5]]
            garbage = ([rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes() for _ in range(10)]
                       + [f[:len(f) // 2] for f in frames[:5]] + flipped)
            for payload in garbage + frames:
                evil.publish(topics["frames"], payload).wait_for_publish(2)
                run_for(classroom, seconds=0.02)
            evil.publish(topics["hello"], b"\x00not a hello").wait_for_publish(2)
            evil.publish(topics["frames"], bytes(2_000_000))
            run_for(classroom, seconds=3.0)
            victim_stats = classroom.stations["table 2"].clients["left_glove"].stats
            badges = {name: links(classroom, name) for name in classroom.stations}
            classroom.finish()
        finally:
            for c in (spy, evil):
                c.loop_stop()
    assert cut_off, "the broker kept the connection that sent 2 MB"
    assert all(set(b.values()) == {"up"} for b in badges.values()), badges
    for name in classroom.stations:
        rec = open_station_recording(classroom.stations[name].recording)
        assert rec.closed_cleanly
        for role, dev in rec.devices.items():
            assert dev.lost_samples == 0 and not dev.gaps, f"{name} {role}: {dev.gaps}"
            assert np.array_equal(dev.sample_index, np.arange(dev.samples)), f"{name} {role}: not continuous"
            assert dev.samples > 5 * RATE
    assert victim_stats.lost_frames == 0
    assert victim_stats.corrupt_frames >= 10, victim_stats
    assert victim_stats.duplicates + victim_stats.out_of_order >= len(frames), victim_stats


def test_a_full_disk_stops_one_stations_recording_not_the_class(room_and_broker, tmp_path):
    """Table 1's file meets a full disk mid-class: its recording stops once, in words, with what
    came before readable; its tile stands out saying so; it is coached to the end and gets its
    report; table 2 records on and closes cleanly, and the class ends as usual."""
    room, accounts, broker = room_and_broker
    with VirtualStations(room, accounts, broker.port, RATE):
        classroom = instructor(room, accounts, broker.port, tmp_path).start()
        run_for(classroom, seconds=2.0)
        full = classroom.stations["table 1"]
        raw_writer = full.pipeline.writer.writer
        raw_writer._file = FillingDisk(raw_writer._file, room=2000)
        run_for(classroom, seconds=3.0)          # pump() raises nothing
        stopped_tile = full.tile.state
        coached_when_stopped = full.pipeline.station_end_index
        run_for(classroom, seconds=2.0)
        coached_after = full.pipeline.station_end_index
        reports = classroom.finish()
    assert full.recording_stopped and "disk is full" in full.recording_stopped
    assert not stopped_tile.recording and stopped_tile.attention
    assert coached_after > coached_when_stopped + RATE        # coaching went on
    assert reports["table 1"] is not None and reports["table 2"] is not None
    kept = open_station_recording(full.recording)
    assert not kept.closed_cleanly
    for role, dev in kept.devices.items():
        assert dev.samples > RATE, role                       # what came before stays readable
        assert np.array_equal(dev.sample_index, np.arange(dev.samples)), role
    other = open_station_recording(classroom.stations["table 2"].recording)
    assert other.closed_cleanly
    for role, dev in other.devices.items():
        assert not dev.gaps and dev.samples > 6 * RATE, role
        assert np.array_equal(dev.sample_index, np.arange(dev.samples)), role


def test_a_glove_switched_on_after_the_class_started_joins_its_station(room_and_broker, tmp_path, monkeypatch):
    """Table 2's right glove is off when the class starts: the station opens without it and
    says so, its badge waits; switched on, it is asked again, started at the room's rate, and
    recorded and coached from then on, on the station's clock."""
    import glovecoach.classroom.hub as hub

    monkeypatch.setattr(hub, "CONNECT_TIMEOUT_S", 3.0)
    room, accounts, broker = room_and_broker
    with VirtualStations(room, accounts, broker.port, RATE) as stations:
        late = stations.stations["table 2"].glove("right_glove")
        late.unplug()
        classroom = instructor(room, accounts, broker.port, tmp_path).start()
        problems = {name: list(s.problems) for name, s in classroom.stations.items()}
        run_for(classroom, seconds=1.0)
        waiting = links(classroom, "table 2")["right_glove"]
        late.plug()
        joined_s = run_until(classroom, lambda: classroom.stations["table 2"].pipeline.recorder
                             .devices["right_glove"].samples > 0, timeout=15.0)
        run_for(classroom, seconds=3.0)
        badges = links(classroom, "table 2")
        calibration = classroom.stations["table 2"].pipeline.coaching.calibrations["right_glove"]
        reports = classroom.finish()
    assert not problems["table 1"] and len(problems["table 2"]) == 1 and "right glove" in problems["table 2"][0]
    # its forces come from its own calibration, looked up by its id (nominal: none is stored here)
    assert calibration.glove_id == room.stations[1].devices["right_glove"]
    assert waiting == "waiting" and set(badges.values()) == {"up"}, (waiting, badges)
    rec = open_station_recording(classroom.stations["table 2"].recording)
    dev = rec.devices["right_glove"]
    assert dev.samples > 2.5 * RATE and not dev.gaps
    assert np.array_equal(dev.sample_index, np.arange(dev.samples))
    # placed on the station's clock: present from when it joined, not from the station's start
    aligned = align_station_recording(rec)
    present = np.asarray(aligned.present)[:, aligned.layout.roles.index("right_glove")]
    first = int(np.flatnonzero(present)[0])
    assert 1.0 * RATE < first < aligned.n_total - 2.5 * RATE, (first, aligned.n_total)
    assert present[first:-RATE // 2].all()      # (the class's last half second: devices stop apart)
    assert reports["table 2"] is not None
    print(f"late glove: recorded {joined_s:.1f} s after it was switched on, from station slot {first}")


def test_joining_a_stream_that_does_not_run_is_refused():
    """Join is for a running stream only: a device that is not streaming must be started,
    or the session would wait for samples nobody asked for."""
    from glovecoach.link.client import GloveClient

    with GloveClient("virtual://") as client:
        client.connect(timeout=10)
        with pytest.raises(ValueError, match="is not streaming"):
            client.join_stream()


def test_ending_a_class_whose_gloves_froze_waits_for_them_once_not_in_turn(room_and_broker, tmp_path):
    """Every device stops answering just before "End class" (switched off: the broker hears
    of it only after the keepalive). Each is told to stop at once, so the class ends in about
    one device's wait, not one per device in turn (six here; 36 in a room of twelve), and
    every recording is closed with what came before."""
    room, accounts, broker = room_and_broker
    with VirtualStations(room, accounts, broker.port, RATE) as stations:
        classroom = instructor(room, accounts, broker.port, tmp_path).start()
        run_for(classroom, seconds=3.0)
        frozen = [stations.stations[seat.name].glove(role).pid for seat in room.stations for role in seat.devices]
        assert len(frozen) == 6 and all(frozen)
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            classroom.finish()
            took = time.monotonic() - t0
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
    print(f"class ended in {took:.2f} s with {len(frozen)} frozen devices")
    assert took < 0.5 * len(frozen) * STOP_WAIT_S, f"{took:.2f} s: the devices were waited for in turn"
    for s in classroom.stations.values():
        rec = open_station_recording(s.recording)
        assert rec.closed_cleanly
        assert all(dev.samples > 2 * RATE for dev in rec.devices.values())
