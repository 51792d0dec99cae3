"""A classroom end to end: virtual stations (the real firmware, each device logged in with its
own account) publishing to a real Mosquitto with the room's ACL, the instructor's Classroom
coaching and recording every station, a trainee's own screen on the same broker, marks and
messages, and the faults a room sees."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import time

import numpy as np
import paho.mqtt.client as paho
import pytest

from glovecoach.classroom.hub import Classroom, topic_level
from glovecoach.classroom.room import Room
from glovecoach.classroom.running_class import RunningClass
from glovecoach.classroom.virtual import VirtualStations, virtual_room
from glovecoach.link.broker import BrokerAddress
from glovecoach.link.room_broker import RoomAccounts, RoomBroker
from glovecoach.pipeline.analysis import analyze_station_recording
from glovecoach.protocols import default_protocol
from glovecoach.recording import StationRecordingWriter, open_station_recording
from glovecoach.recording.parts import NOT_RECORDED, continued_parts, open_station_session
from glovecoach.station.replay import align_station_recording

pytestmark = pytest.mark.mosquitto
RATE = 200
FRAME_SAMPLES = RATE // 50   # a SAMPLES frame holds 20 ms


def run_for(classroom: Classroom, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not classroom.pump():
            time.sleep(0.01)


@pytest.fixture
def room_and_broker():
    room = virtual_room(Room("lab7"), 2)
    accounts = RoomAccounts.create(room.name, [d for s in room.stations for d in s.devices.values()],
                                   screens=["table-1-screen"])
    with RoomBroker(accounts, host="127.0.0.1") as broker:
        yield room, accounts, broker


def test_every_station_is_coached_and_recorded_losslessly(room_and_broker, tmp_path):
    room, accounts, broker = room_and_broker
    with VirtualStations(room, accounts, broker.port, RATE):
        classroom = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=tmp_path,
                              protocol=default_protocol(), rate_hz=RATE, username="instructor",
                              password=accounts.screens["instructor"]).start()
        assert all(not s.problems for s in classroom.stations.values())
        watcher = _Subscriber(broker.port, "table-1-screen", accounts.screens["table-1-screen"],
                              f"glovecoach/lab7/{topic_level('table 1')}/#")
        run_for(classroom, 9.0)
        mark = classroom.mark("table 1", "good rhythm here")
        assert classroom.message("table 1", "slow down a little") is None     # the broker has it
        run_for(classroom, 2.0)
        tiles = {name: s.tile.state for name, s in classroom.stations.items()}
        reports = classroom.finish()
    assert set(tiles) == {"table 1", "table 2"}
    for name, state in tiles.items():
        assert all(b.link == "up" for b in state.devices)
        assert classroom.stations[name].tile.trace.end_column is not None, f"{name}: no trace on the tile"
    assert any(state.technique is not None for state in tiles.values()), tiles
    for name, s in classroom.stations.items():
        assert reports[name] is not None
        rec = open_station_recording(s.recording)
        assert rec.closed_cleanly and set(rec.devices) == {"left_glove", "right_glove", "spine_strip"}
        for role, dev in rec.devices.items():
            assert dev.lost_samples == 0, f"{name} {role} lost samples"
            assert dev.samples > 10 * RATE
        assert align_station_recording(rec).n_total == rec.station_samples
    table1 = open_station_recording(classroom.stations["table 1"].recording)
    assert [n.payload["text"] for n in table1.notes_of("mark")] == ["good rhythm here"]
    assert table1.notes_of("mark")[0].payload["at_s"] == pytest.approx(mark["at_s"])
    got = watcher.take()
    assert {t.rsplit("/", 1)[1] for t, _ in got} == {"marks", "messages"}
    assert json.loads(dict(got)[f"glovecoach/lab7/{topic_level('table 1')}/messages"])["text"] == "slow down a little"


def test_a_trainee_screen_and_the_instructor_see_the_same_station(room_and_broker, tmp_path):
    """The broker fans out: a station screen (its own login) and the instructor run the same
    pipeline on the same frames; neither restarts the other's stream."""
    room, accounts, broker = room_and_broker
    address = BrokerAddress("127.0.0.1", broker.port)
    with VirtualStations(room, accounts, broker.port, RATE):
        trainee = Classroom(room, address, record_dir=tmp_path / "trainee", protocol=default_protocol(),
                            rate_hz=RATE, username="table-1-screen",
                            password=accounts.screens["table-1-screen"]).start(["table 1"])
        run_for(trainee, 1.0)
        instructor = Classroom(room, address, record_dir=tmp_path / "instructor", protocol=default_protocol(),
                               rate_hz=RATE, username="instructor",
                               password=accounts.screens["instructor"]).start(["table 1"])
        # at least 12 s, and on until both tiles name a technique (recognition needs a few
        # seconds of massage; a loaded machine takes longer to coach them)
        start = time.monotonic()
        while time.monotonic() - start < 40.0:
            trainee.pump()
            instructor.pump()
            time.sleep(0.01)
            techniques = [c.stations["table 1"].tile.state.technique for c in (trainee, instructor)]
            if time.monotonic() - start >= 12.0 and all(techniques):
                break
        trainee.pump()
        instructor.pump()
        seen = [c.stations["table 1"].tile.state.technique for c in (trainee, instructor)]
        trainee.finish()
        instructor.finish()
    recs = [open_station_recording(c.stations["table 1"].recording) for c in (trainee, instructor)]
    for role, dev in recs[0].devices.items():
        assert dev.lost_samples == 0 and not dev.gaps, (recs[0].path, role, dev.gaps)
    # The trainee's screen, closed first, stops the devices as it leaves; if the instructor's
    # session sees that before it closes too, it starts them again and counts the samples
    # missed as one gap (by design). Only such a gap, after the last frame the trainee's
    # screen recorded, may be in the instructor's recording: none while both screens ran.
    for role, dev in recs[1].devices.items():
        ended = recs[0].devices[role].frames["t_us"][-1]
        at = np.flatnonzero(dev.frames["t_us"] == ended)
        assert len(at), f"{role}: the instructor never got the trainee's last frame"
        trainee_end = int(dev.frames["sample_index"][at[0]]) + 1
        while_both = [g for g in dev.gaps if g.reason != "stopped_elsewhere" or g.first_index < trainee_end]
        assert not while_both and dev.lost_samples == sum(g.n_samples for g in dev.gaps), \
            (recs[1].path, role, dev.gaps, trainee_end)
    # the same frames on both screens: each frame, known by the device's own time stamp, holds
    # the same readings in both recordings (each screen numbers its session from its own start) ...
    for role in recs[0].devices:
        x, y = recs[0].devices[role], recs[1].devices[role]
        common, fx, fy = np.intersect1d(x.frames["t_us"], y.frames["t_us"], return_indices=True)
        assert len(common) > 8 * RATE / 4
        row_x = np.searchsorted(x.sample_index, x.frames["sample_index"][fx])
        row_y = np.searchsorted(y.sample_index, y.frames["sample_index"][fy])
        np.testing.assert_array_equal(x.raw[row_x], y.raw[row_y])
    # ... and the same decision on both tiles
    assert seen[0] is not None and seen[0] == seen[1]


def test_the_broker_restarting_mid_class_is_a_counted_gap_and_nothing_else(room_and_broker, tmp_path):
    room, accounts, broker = room_and_broker
    with VirtualStations(room, accounts, broker.port, RATE):
        classroom = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=tmp_path,
                              protocol=default_protocol(), rate_hz=RATE, username="instructor",
                              password=accounts.screens["instructor"]).start()
        run_for(classroom, 3.0)
        broker.kill()
        time.sleep(1.0)
        broker.start()
        run_for(classroom, 8.0)
        classroom.finish()
    for name, s in classroom.stations.items():
        rec = open_station_recording(s.recording)
        for role, dev in rec.devices.items():
            assert dev.samples > 6 * RATE, f"{name} {role}: samples did not resume after the restart"
            lost = sum(g.n_samples for g in dev.gaps)
            assert dev.lost_samples == lost and 0 < lost < 4 * RATE, (name, role, dev.gaps)


@pytest.mark.parametrize("pump_budget_s, slow_join_s", [(None, 0.0), (0.0005, 1.5)])
def test_the_instructor_restarting_picks_up_the_running_sessions(room_and_broker, tmp_path, monkeypatch,
                                                                 pump_budget_s, slow_join_s):
    """The instructor's app ends (its process killed) and starts again: the devices never stop,
    the new app joins their streams (no restart), records on in a new file in the class's
    folder that names the file it continues, and the class's end reports the whole session.
    A witness (the trainee's screen, recording the same station the whole time) shows the two
    files joined are its own samples at their own places, with one exact gap between them.
    Pumped with a budget (as the window pumps), the earlier part is coached a slice per pump,
    the tile saying how far, while the live frames are recorded as they come. A join that takes
    long (a slow broker, or the stations before it reading their files) loses no live frame
    from the coaching: the live slots begin before the first device was joined."""
    room, accounts, broker = room_and_broker
    address = BrokerAddress("127.0.0.1", broker.port)
    running = tmp_path / "rooms" / "lab7.class.json"
    with VirtualStations(room, accounts, broker.port, RATE):
        witness = Classroom(room, address, record_dir=tmp_path / "witness", protocol=default_protocol(),
                            rate_hz=RATE, username="table-1-screen",
                            password=accounts.screens["table-1-screen"]).start(["table 1"])
        first = Classroom(room, address, record_dir=tmp_path / "class", protocol=default_protocol(), rate_hz=RATE,
                          username="instructor", password=accounts.screens["instructor"],
                          running_class_file=running).start(["table 1"])
        run_all([witness, first], 4.0)
        for client in first.stations["table 1"].clients.values():
            client.close()           # gone without STOP, as a killed app
        first.stations["table 1"].pipeline.writer.close()
        run_all([witness], 2.0)      # nobody records for the instructor meanwhile
        remembered = RunningClass.load(running)
        assert remembered.parts == {"table 1": [first.stations["table 1"].recording.name]}
        connect = Classroom._connect

        def slow_connect(self, *args, **kwargs):
            answer = connect(self, *args, **kwargs)    # joined: its frames come in from now
            time.sleep(slow_join_s)
            return answer

        monkeypatch.setattr(Classroom, "_connect", slow_connect)
        second = Classroom(room, address, record_dir=tmp_path / "elsewhere", protocol=default_protocol(),
                           rate_hz=RATE, username="instructor", password=accounts.screens["instructor"],
                           running_class_file=running, picked_up=remembered).start(["table 1"])
        assert RunningClass.load(running).parts["table 1"] == [p.name for p in second.stations["table 1"].parts]
        tile = second.stations["table 1"].tile
        picking_up = [tile.state.picking_up]
        badges = [{b.link for b in tile.state.devices}]
        while second.stations["table 1"].pipeline.resuming:
            second.pump(pump_budget_s)
            picking_up.append(tile.state.picking_up)
            badges.append({b.link for b in tile.state.devices})
        if pump_budget_s is not None:
            assert picking_up[0] == 0.0 and any(0 < f < 1 for f in picking_up[1:-1]), picking_up
        assert picking_up[-1] is None
        # while it catches up, its devices' badges say what their links are, not "waiting"
        assert all(b == {"up"} for b in badges), badges
        run_all([witness, second], 4.0, pump_budget_s)
        reports = second.finish()
        late = {role: stats["late_samples"] for role, stats in second.stations["table 1"].pipeline.alignment().items()}
        # A device's first frame keeps what is under rejoin_s old, as after any gap (a sample
        # or two on a busy machine); slow joining lost the first half second before.
        assert max(late.values()) <= FRAME_SAMPLES, f"live frames fell before the first live slot: {late}"
        witness.finish()
    assert not running.exists()      # the class ended: nothing to pick up
    before, after = first.stations["table 1"].recording, second.stations["table 1"].recording
    assert after.parent == before.parent and after != before
    assert open_station_recording(after).metadata["continues"] == [before.name]
    # joined, not restarted: the device's stream carried on (its sequence kept counting)
    assert all(dev.device_info.get("streaming") for dev in open_station_recording(after).devices.values())
    joined = open_station_session(continued_parts(after))
    seen = open_station_recording(witness.stations["table 1"].recording)
    for role, dev in joined.devices.items():
        truth = seen.devices[role]
        shift = _offset_in(truth, dev)
        at = np.searchsorted(truth.sample_index, dev.sample_index + shift)
        assert np.array_equal(truth.sample_index[at], dev.sample_index + shift), f"{role}: a sample shifted"
        assert np.array_equal(truth.raw[at], dev.raw), f"{role}: a sample differs"
        (between,) = [g for g in dev.gaps if g.reason == NOT_RECORDED]
        assert between.exact and between.n_samples > RATE    # the 2 s no app recorded, counted
        missing = set(range(between.first_index, between.end_index))
        assert missing.isdisjoint(dev.sample_index.tolist())
        # nothing lost outside that gap: every sample the witness has between the parts' ends is in one
        first, last = dev.sample_index[0] + shift, dev.sample_index[-1] + shift
        inside = (truth.sample_index >= first) & (truth.sample_index <= last)
        assert int(inside.sum()) == dev.samples + between.n_samples, role
    # The picked-up session went on from the first run's slots on the same origin: the live
    # report is the whole session's, as the analysis of the joined files gives it.
    live = reports["table 1"].to_dict()
    again = analyze_station_recording(joined, default_protocol()).to_dict()
    assert live["duration_s"] == pytest.approx(joined.station_samples / RATE, abs=0.01)
    assert open_station_recording(after).station_origin == open_station_recording(before).station_origin
    assert live["duration_s"] > 9.0 and again["duration_s"] == pytest.approx(live["duration_s"], abs=0.01)
    assert json.dumps(live["station"], sort_keys=True) == json.dumps(again["station"], sort_keys=True)
    assert second.stations["table 1"].pipeline.coaching.samples_seen > 6 * RATE    # both runs' slots, not 4 s


def run_all(classrooms: list[Classroom], seconds: float, budget_s: float | None = None) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not sum(c.pump(budget_s) for c in classrooms):
            time.sleep(0.01)


def _offset_in(truth, part) -> int:
    """The witness's index of the part's index 0: where the part's first rows are the witness's."""
    first = part.raw[:40]
    for start in range(len(truth.raw) - 40):
        if np.array_equal(truth.raw[start:start + 40], first):
            return int(truth.sample_index[start] - part.sample_index[0])
    raise AssertionError("the part's first samples are not in the witness's recording")


def test_classroom_command_headless(tmp_path):
    out = subprocess.run([sys.executable, "-m", "glovecoach", "classroom", "--virtual", "2", "--seconds", "10",
                          "--record", str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr + out.stdout
    recordings = sorted(tmp_path.glob("*.gcrec"))
    assert len(recordings) == 2
    assert (tmp_path / "class-summary.csv").read_text().count("\n") == 3
    assert (tmp_path / "class-summary.pdf").read_bytes().startswith(b"%PDF")
    assert f"{tmp_path / 'class-summary.pdf'}" in out.stdout
    assert "table 1" in out.stdout and "table 2" in out.stdout


@pytest.mark.parametrize("where, words", [("a-file", "that is a file"),
                                          ("/proc/no-such/rec", "cannot record the class there")])
def test_a_record_folder_that_cannot_be_written_is_named_before_anything_starts(tmp_path, where, words):
    (tmp_path / "a-file").write_text("not a folder")
    target = tmp_path / where if not where.startswith("/") else where
    out = subprocess.run([sys.executable, "-m", "glovecoach", "classroom", "--virtual", "1", "--seconds", "2",
                          "--record", str(target)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert words in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "broker on port" not in out.stdout       # nothing was started


class _Subscriber:
    def __init__(self, port: int, user: str, password: str, topic: str) -> None:
        self.q: queue.Queue = queue.Queue()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.c.username_pw_set(user, password)
        self.c.on_message = lambda c, u, m: self.q.put((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.subscribe(topic, qos=1)
        self.c.loop_start()
        time.sleep(0.3)

    def take(self) -> list:
        time.sleep(0.3)
        out = []
        while not self.q.empty():
            out.append(self.q.get())
        self.c.loop_stop()
        self.c.disconnect()
        return out


def test_a_message_from_the_instructor_reaches_the_trainees_station_screen(room_and_broker, tmp_path,
                                                                           monkeypatch):
    """The trainee's station screen as the station app makes it: a GloveClient per device
    over ``mqtt://`` (its own login), one StationPipeline, the station view's model. The
    instructor marks a moment and sends a message: the trainee's banner shows each once (it
    comes on each of the station's three devices), and the other station's screen nothing.
    Before, the message reached only the instructor's recording and a topic nobody read."""
    from glovecoach.app.station_view import StationModel
    from glovecoach.link.client import GloveClient
    from glovecoach.pipeline.station_session import StationPipeline
    from glovecoach.vocabulary.station import StationLayout

    room, accounts, broker = room_and_broker
    monkeypatch.setenv("GLOVECOACH_MQTT_USER", "table-1-screen")
    monkeypatch.setenv("GLOVECOACH_MQTT_PASSWORD", accounts.screens["table-1-screen"])
    layout = StationLayout.full()
    screens = {}
    (tmp_path / "trainee").mkdir()
    with VirtualStations(room, accounts, broker.port, RATE):
        for seat in room.stations:
            clients = {role: GloveClient(f"mqtt://127.0.0.1:{broker.port}/{room.name}/{device}")
                       for role, device in seat.devices.items()}
            for client in clients.values():
                client.connect(timeout=10.0)
            model = StationModel(layout, RATE)
            # the trainee's own recording of the station, as the station app makes it
            writer = StationRecordingWriter(tmp_path / "trainee" / f"{seat.name}.gcrec", layout, RATE)
            screens[seat.name] = (StationPipeline(clients, layout, RATE, writer=writer, listeners=[model]), model)
        instructor = Classroom(room, BrokerAddress("127.0.0.1", broker.port), record_dir=tmp_path,
                               protocol=default_protocol(), rate_hz=RATE, username="instructor",
                               password=accounts.screens["instructor"]).start()
        try:
            run_for(instructor, 2.0)
            instructor.mark("table 1")
            assert instructor.message("table 1", "lighter on the right thumb, please") is None
            def shown_now() -> dict:
                return {name: [a for a in model.current_alerts() if a.kind.startswith("instructor_")]
                        for name, (_, model) in screens.items()}

            # Pumped until table 1's banner shows both (on a loaded machine that takes longer
            # than on a quiet one), then a second more: a copy arriving late would show then.
            end, settle = time.monotonic() + 20.0, None
            while time.monotonic() < (end if settle is None else settle):
                instructor.pump()
                for pipeline, _ in screens.values():
                    pipeline.pump()
                if settle is None and len(shown_now()["table 1"]) >= 2:
                    settle = time.monotonic() + 1.0
                time.sleep(0.01)
            shown = shown_now()
        finally:
            instructor.finish()
            for pipeline, _ in screens.values():
                pipeline.finish()
                for client in pipeline.source.clients.values():
                    client.close()      # its reader thread with it
    table1 = sorted((a.kind, a.message, a.severity) for a in shown["table 1"])
    assert table1 == [("instructor_mark", "The instructor marked this moment", "info"),
                      ("instructor_message", "From the instructor: lighter on the right thumb, please", "info")]
    assert shown["table 2"] == []
    log = [a.kind for a in screens["table 1"][1].station_board.log]
    assert log.count("instructor_message") == 1 and log.count("instructor_mark") == 1
    # The trainee's own recording holds each note once, at its own session time (its debrief's
    # section); the other station's holds none.
    own = open_station_recording(tmp_path / "trainee" / "table 1.gcrec").instructor_notes()
    assert [m["text"] for m in own["instructor_messages"]] == ["lighter on the right thumb, please"]
    assert [m["text"] for m in own["instructor_marks"]] == [""]
    assert 1.0 < own["instructor_marks"][0]["at_s"] <= own["instructor_messages"][0]["at_s"] < 10.0
    assert open_station_recording(tmp_path / "trainee" / "table 2.gcrec").instructor_notes() == {
        "instructor_marks": [], "instructor_messages": []}
