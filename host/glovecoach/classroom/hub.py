"""The instructor's side of a classroom: every station of the room, live, from one broker.

For each station of the `Room` that has devices, a `ClassStation` opens one `GloveClient` per
device through the room's broker (an `mqtt://` transport logged in as the instructor), and runs
the same `StationPipeline` as a station screen: aligner, lossless station recording in the
instructor's folder, the station coach, and its tile. So the decisions on the instructor's
tile are the ones the trainee's own screen makes from the same frames.

A device already streaming (a trainee's station screen started it) is joined, not restarted:
a START from the instructor would restart the stream under the trainee's screen.

`Classroom.pump()` is called by whoever owns the thread (the grid's timer in the app, a loop
headless); it never blocks.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glovecoach.classroom.room import Room, StationSeat
from glovecoach.classroom.running_class import RunningClass
from glovecoach.classroom.tile import TileModel
from glovecoach.engine.technique import HOP_S
from glovecoach.link.broker import BrokerAddress
from glovecoach.link.client import GloveClient, LinkLost
from glovecoach.link.mqtt_shared import SharedMqttConnection
from glovecoach.pipeline.analysis import station_messages
from glovecoach.pipeline.guarded_recorder import GuardedRecorder
from glovecoach.pipeline.listener import Listener
from glovecoach.pipeline.station_coaching import ALERT_DUE, STRETCH_DUE, StationUpdate
from glovecoach.pipeline.station_session import ResumedSession, StationPipeline
from glovecoach.recording import INSTRUCTOR_MESSAGE_NOTE, MARK_NOTE, RecordingError, StationRecordingWriter
from glovecoach.recording.parts import CONTINUES_KEY, NOT_RECORDED, PartsError, open_station_session
from glovecoach.station.replay import align_station_recording
from glovecoach.vocabulary.station import DeviceMessage, StationGap, StationLayout

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 10.0
# A device that did not answer when the class started (switched on late, its battery flat, out
# of range) is asked again this often until it answers, then started like the others.
LATE_RETRY_S = 2.0
MAX_PARALLEL_CONNECTS = 16
STOP_WAIT_S = 0.5            # how long the end of a class waits for a device to answer STOP
# Each station's coach takes quiet stretches in blocks of up to this (StationCoachingListener's
# hold_s: a block that could raise a safety alert goes at once): coaching costs about 1 ms a
# call whatever the block's length, and twelve stations pumped every 50 ms made 240 calls a second.
# 0.4 s rather than 0.2 s: the instructor's process at 6 stations, two interleaved 60 s runs
# each, 74 % of a core against 81 % (a tile's phase and cues may be told 0.4 s late; alerts
# are not held).
COACH_HOLD_S = 0.4
# Station k's held stretches end at its own phase, k x this (mod 1) of COACH_HOLD_S: phases
# spread evenly however many stations a room opens, and whenever they are opened.
GOLDEN_STEP = 0.6180339887
# Station k's slot 0 comes k x GOLDEN_STEP (mod 1) of the technique hop after its first
# sample. Opened together, every station's recognition and sensor-health windows closed in the
# same instant once a second (5-12 ms of coaching each), and an alert raised then by every
# station waited for all of them: p99 460 ms with twelve. The samples before slot 0 are in
# the recording, on their devices' own index; the coaching starts under a second later.
ORIGIN_SPREAD_S = HOP_S
# A picked-up station's session so far is coached again in blocks of this (results do not
# depend on block size), a few blocks in each pump after the live stations' coaching, so the
# window shows and paints while it goes on: a 15-minute session is 183 slices of 14 ms, 2.5 s of
# coaching (1.7 s in 60 s blocks, but each of those held the window 110 ms), and reading and
# aligning its files 0.8 s more at start (docs/classroom.md, the restart fault).
RESUME_BLOCK_S = 5.0
# The least time a budgeted pump gives picked-up sessions after the live coaching has used its
# budget, so they always get on (at least one block each pump; a pump with no budget, headless,
# finishes them at once).
RESUME_MIN_SLICE_S = 0.002
RESUME_MARGIN_S = 1.0        # a picked-up station's live slots begin this long before the restart


def settle_garbage_collector() -> None:
    """Call once the room is open. Everything made until then (modules, Qt, the stations'
    pipelines) lives as long as the class: frozen out of the collector's scans, a full
    collection no longer walks it. One took 66-77 ms in a 12-station room (three in 40 s), a
    pause that lands on the alerts of whatever stations are waiting for their turn."""
    gc.collect()
    gc.freeze()


class TileListener(Listener):
    """Feeds a station's tile from its pipeline: coaching updates and each device's link."""

    def __init__(self, tile: TileModel) -> None:
        self.tile = tile

    def on_other(self, message: Any) -> None:
        if isinstance(message, StationUpdate):
            self.tile.on_station_update(message)
        elif isinstance(message, DeviceMessage):
            self.tile.on_device_message(message.role, message.message)


def recording_name(station: str, trainee: str, started: _dt.datetime) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "-", f"{station} {trainee}".strip()).strip("-") or "station"
    return f"{started:%Y%m%d-%H%M%S}-{words}.gcrec"


@dataclass
class ClassStation:
    seat: StationSeat
    layout: StationLayout
    clients: dict[str, GloveClient]
    pipeline: StationPipeline
    tile: TileModel
    recording: Path
    problems: list[str] = field(default_factory=list)
    report: Any = None
    recording_stopped: str | None = None    # why the recording could not go on (a full disk)
    earlier_parts: list[Path] = field(default_factory=list)   # this session's files before a restart
    report_problem: str | None = None       # why the session began again at a restart

    @property
    def parts(self) -> list[Path]:
        """Every file of this station's session, oldest first (one, unless the app restarted)."""
        return [*self.earlier_parts, self.recording]

    def show_pick_up(self) -> None:
        """Its tile while its session's earlier part is coached again: how far that is, and its
        devices' links as their clients have them (their link news waits with their frames)."""
        resuming = self.pipeline.resuming
        self.tile.picking_up(self.pipeline.resumed_fraction if resuming else None)
        if resuming:
            self.tile.show_links({role: client.link_state for role, client in self.clients.items()})


class Classroom:
    """``with Classroom(room, broker, ...) as c: c.pump()...``; `finish()` gives the reports."""

    def __init__(self, room: Room, broker: BrokerAddress, *, record_dir: str | Path, protocol: Any,
                 rate_hz: int = 200, username: str | None = None, password: str | None = None,
                 tls_ca: str | None = None, tile_width_px: int = 300,
                 listeners_for: Any = None, running_class_file: str | Path | None = None,
                 picked_up: RunningClass | None = None) -> None:
        self.room = room
        self.broker = broker
        # A class picked up after the instructor's app stopped mid-class records on where it
        # recorded, and keeps its start (glovecoach.classroom.running_class).
        self.picked_up = picked_up
        self.record_dir = Path(picked_up.record_dir if picked_up else record_dir)
        self.running_class_file = Path(running_class_file) if running_class_file else None
        self.protocol = protocol
        self.rate_hz = int(rate_hz)
        self.tls_ca = tls_ca
        self.tile_width_px = tile_width_px
        self.listeners_for = listeners_for   # station name -> extra listeners (a full view)
        self.stations: dict[str, ClassStation] = {}
        self._next_to_pump = 0                # where a pump cut short by its budget goes on
        self._ending = threading.Event()      # set by finish(): late devices are no longer asked
        self.opened = _dt.datetime.now()      # this app's start: its files' names
        self.started = picked_up.started if picked_up else self.opened
        # One MQTT connection for the whole room (glovecoach.link.mqtt_shared): a connection per
        # device would cost the instructor's machine a network thread per device.
        self.connection = SharedMqttConnection(broker.host, broker.port, room.name, username=username,
                                               password=password, tls=tls_ca is not None, tls_ca=tls_ca)

    # ------------------------------------------------------------------ starting
    def _client(self, device_id: str) -> GloveClient:
        return GloveClient(self.connection.transport(device_id))

    def start(self, stations: Sequence[str] | None = None, *, wait_s: float = CONNECT_TIMEOUT_S) -> Classroom:
        """Open every station that has devices (or those named), each as far as it can:
        a station whose device does not answer within ``wait_s`` is started with the others
        and says so, and the device is asked again until it answers (a screen adding a
        station mid-class waits less: its window must not freeze for a glove not yet on)."""
        self.record_dir.mkdir(parents=True, exist_ok=True)
        seats = [seat for seat in self.room.stations
                 if seat.devices and (stations is None or seat.name in stations)]
        clients = {seat.name: {role: self._client(device) for role, device in seat.devices.items()}
                   for seat in seats}
        # Before any device is joined: a picked-up session's live slots begin near here, and no
        # frame taken in can be older. (Taken per station after the stations before it had read
        # their earlier files, it put the first seconds of the later stations' live frames
        # before their first live slot: recorded, but never coached.)
        joining_from = time.time()
        # Every device is asked at once: one by one, each waiting for its INFO answer through
        # the broker, a room of 36 devices took 8 s to open while the first streams piled up.
        jobs = [(seat, role, client) for seat in seats for role, client in clients[seat.name].items()]
        answers = _all_at_once(lambda job: self._connect(*job, timeout=wait_s), jobs)
        late: list[threading.Thread] = []   # the devices that did not answer, asked again
        for seat in seats:
            hellos, problems = {}, []
            for (job_seat, role, client), (hello, problem) in zip(jobs, answers):
                if job_seat is seat:
                    if hello is not None:
                        hellos[role] = hello
                    problems += problem
                    if problem:
                        late.append(threading.Thread(target=self._join_late, args=(seat, role, client),
                                                     name=f"classroom late {seat.devices[role]}", daemon=True))
            self._open_station(seat, clients[seat.name], hellos, problems, joining_from)
        self._remember_class()
        for thread in late:
            thread.start()
        return self

    def _remember_class(self) -> None:
        """Say in the rooms folder that this class runs, where, and with which files."""
        if self.running_class_file is None:
            return
        parts = dict(self.picked_up.parts) if self.picked_up else {}
        parts.update({name: [p.name for p in s.parts] for name, s in self.stations.items()})
        try:
            RunningClass(self.room.name, self.record_dir, self.started, parts).save(self.running_class_file)
        except OSError as exc:   # the class goes on; only a restart could not pick it up
            log.error("cannot remember the running class in %s: %s", self.running_class_file, exc)

    def _join_late(self, seat: StationSeat, role: str, client: GloveClient) -> None:
        """Ask a device that did not answer at the start again every LATE_RETRY_S, until it
        answers and streams: its station then records and coaches it from that moment (its
        tile said "waiting" until then). Before, a glove switched on after the class started
        showed "up" on its tile and recorded nothing all class."""
        while not self._ending.wait(LATE_RETRY_S):
            try:
                hello, problem = self._connect(seat, role, client)
            except Exception as exc:  # noqa: BLE001 - ended under us (finish closed the client)
                log.debug("%s %s: %s", seat.name, role, exc)
                continue
            if hello is not None and not problem:
                log.info("%s: %s %s joined the class late", seat.name, role, seat.devices[role])
                return

    def _connect(self, seat: StationSeat, role: str, client: GloveClient,
                 timeout: float = CONNECT_TIMEOUT_S) -> tuple[Any, list[str]]:
        """Connect one device and start its stream unless it already runs at the room's rate
        (a trainee's screen started it: it is joined, not restarted)."""
        try:
            hello = client.connect(timeout=timeout)
        except (TimeoutError, LinkLost) as exc:
            return None, [f"{role.replace('_', ' ')} {seat.devices[role]}: {exc}"]
        streaming = bool(hello.info.get("streaming")) and int(hello.info.get("rate_hz") or 0) == self.rate_hz
        if streaming:
            # Joined, yet the class wants it streaming: after a reboot, with the trainee's
            # screen gone, the instructor restarts it.
            client.join_stream()
        else:
            try:
                client.start(rate_hz=self.rate_hz)
            except Exception as exc:  # noqa: BLE001 - one device must not stop the class
                return hello, [f"{role.replace('_', ' ')} did not start: {exc}"]
        return hello, []

    def _open_station(self, seat: StationSeat, clients: dict[str, GloveClient], hellos: dict[str, Any],
                      problems: list[str], joining_from: float) -> None:
        layout = StationLayout.for_roles(list(seat.devices))
        path = self.record_dir / recording_name(seat.name, seat.trainee, self.opened)
        earlier = self.picked_up.earlier_parts(seat.name) if self.picked_up else []
        resume, report_problem = self._session_so_far(seat.name, earlier, joining_from)
        if resume is None:
            earlier = []          # begun again: this file continues nothing
        metadata = {"source": "glovecoach classroom", "room": self.room.name, "station": seat.name,
                    "trainee": seat.trainee, "devices": dict(seat.devices),
                    "transports": {role: c.transport.name for role, c in clients.items()}}
        if earlier:
            metadata[CONTINUES_KEY] = [p.name for p in earlier]
        # Guarded: a station whose file cannot go on (a full disk) stops recording, says so on
        # its tile, and goes on being coached; the other stations and the class go on.
        writer = GuardedRecorder(StationRecordingWriter(path, layout, self.rate_hz, metadata),
                                 lambda reason, name=seat.name: self._recording_stopped(name, reason))
        writer.note("session_start", {"trainee": seat.trainee, "station": seat.name, "room": self.room.name})
        tile = TileModel(seat.name, seat.trainee, layout, self.rate_hz, width_px=self.tile_width_px)
        extra = list(self.listeners_for(seat.name)) if self.listeners_for else []
        phase = (len(self.stations) * GOLDEN_STEP) % 1.0     # this station's own, 0-1
        # A device not heard from yet (it may join late) is known by its id, which is its
        # glove id: its stored calibration is found by it all the same.
        info = {role: {"glove_id": device} for role, device in seat.devices.items()}
        info.update({r: h.info for r, h in hellos.items()})
        pipeline = StationPipeline(clients, layout, self.rate_hz, writer=writer, protocol=self.protocol,
                                   device_info=info,
                                   listeners=[TileListener(tile), *extra], with_state=True,
                                   coach_hold_s=COACH_HOLD_S,
                                   coach_hold_phase=phase, defer_coaching=True,
                                   origin_delay_s=phase * ORIGIN_SPREAD_S, resume=resume)
        station = ClassStation(seat, layout, clients, pipeline, tile, path, problems,
                               earlier_parts=earlier, report_problem=report_problem)
        if pipeline.resuming:
            station.show_pick_up()
        self.stations[seat.name] = station

    def _session_so_far(self, station: str, earlier: list[Path],
                        now_host_s: float | None = None) -> tuple[ResumedSession | None, str | None]:
        """A picked-up station's session so far, from the files of the runs before this one:
        the live session goes on from it (same origin), coached as one session. (None, why) if
        they cannot be read as one: the session then begins again here.

        With ``now_host_s``, the slots up to RESUME_MARGIN_S before it are a gap the coaching
        takes at once (no app recorded them): the aligner then starts near the live stream,
        not at the end of the earlier files, and never holds rows for the slots between."""
        if not earlier:
            return None, None
        try:
            aligned = align_station_recording(open_station_session(earlier))
        except (PartsError, RecordingError, ValueError) as exc:
            problem = (f"its session begins again at the restart ({exc}); the earlier files are kept: "
                       + ", ".join(p.name for p in earlier))
            log.error("%s: %s", station, problem)
            return None, problem
        blocks = station_messages(aligned.raw, aligned.present, block_rows=int(RESUME_BLOCK_S * self.rate_hz))
        start = aligned.n_total
        if now_host_s is not None:
            start = max(start, int((now_host_s - RESUME_MARGIN_S - aligned.origin_host_s) * self.rate_hz))
        if start > aligned.n_total:
            blocks.append(StationGap(aligned.n_total, start - aligned.n_total, NOT_RECORDED))
        return ResumedSession(aligned.origin_host_s, start, blocks), None

    def _recording_stopped(self, station: str, reason: str) -> None:
        s = self.stations.get(station)
        if s is not None:
            s.recording_stopped = reason
            s.tile.recording_stopped()
        log.error("%s: %s", station, reason)

    # ------------------------------------------------------------------ running
    def pump(self, budget_s: float | None = None) -> int:
        """Pump every station; returns how many messages and coaching updates went through.

        Every station's frames are taken in first (decoded, aligned, recorded: cheap), which is
        also how each station's coaching learns what fell due. Then the coaching: first every
        station with an alert due, then the quiet stretches due, taking turns. A station's
        coaching costs 1-2 ms a stretch but 5-12 ms when its technique and sensor-health
        windows close (once a second, ORIGIN_SPREAD_S): pumped station by station, an alert
        waited behind whichever of those came before it in the room's order.

        With ``budget_s``, the coaching stops at the first station after that long and the
        next call goes on from the station after it: a screen paints between the slices, so an
        alert is drawn without waiting for every other station's coaching."""
        live = [s for s in self.stations.values() if not s.pipeline.finished]
        if not live:
            return 0
        start = time.monotonic()
        n = sum(s.pipeline.pump() for s in live)
        first = self._next_to_pump % len(live)
        pipelines = [s.pipeline for s in live]
        coached, stopped = coach_in_turn(pipelines[first:] + pipelines[:first], budget_s, start)
        if stopped is not None:
            self._next_to_pump = pipelines.index(stopped) + 1
        return n + coached + self._pick_up_some(live, budget_s, start)

    def _pick_up_some(self, live: list[ClassStation], budget_s: float | None, start: float) -> int:
        """Coach picked-up sessions' earlier slots, one station after another, with what is left
        of the pump's budget (at least RESUME_MIN_SLICE_S); without a budget, all of them.
        Returns how many stations moved on."""
        moved = 0
        for s in live:
            if not s.pipeline.resuming:
                continue
            if budget_s is None:
                s.pipeline.resume_some(None)
            else:
                left = max(RESUME_MIN_SLICE_S, budget_s - (time.monotonic() - start))
                s.pipeline.resume_some(left)
            s.show_pick_up()
            moved += 1
            if budget_s is not None and time.monotonic() - start >= budget_s:
                break
        return moved

    def mark(self, station: str, text: str = "") -> dict:
        """The instructor marks a moment of a station: stored in its recording (shown in its
        debrief) and published for the station's own screen."""
        s = self.stations[station]
        at_index = s.pipeline.station_end_index
        mark = {"at_s": at_index / self.rate_hz, "station_index": at_index, "text": text,
                "host_time": time.time()}
        s.pipeline.writer.note(MARK_NOTE, mark)
        self._publish(station, "marks", mark)   # the recording has it whatever the broker does
        return mark

    def message(self, station: str, text: str) -> str | None:
        """A message to a station's screen (and stored in its recording). Returns None once
        the broker has it, else why the station's screen will not get it (the broker down or
        restarting); it is stored in the recording all the same."""
        s = self.stations[station]
        payload = {"text": text, "host_time": time.time()}
        s.pipeline.writer.note(INSTRUCTOR_MESSAGE_NOTE, payload)
        return self._publish(station, "messages", payload)

    def listen(self, station: str, listener: Listener) -> None:
        """Add a listener to a running station's pipeline, after its coaching (the full view
        the instructor opens mid-class: fed by this pipeline, not a second one)."""
        self.stations[station].pipeline.notifier.listeners.append(listener)

    def unlisten(self, station: str, listener: Listener) -> None:
        listeners = self.stations[station].pipeline.notifier.listeners
        if listener in listeners:
            listeners.remove(listener)

    def _publish(self, station: str, what: str, payload: dict) -> str | None:
        """None once handed to the broker, else why not. A broker that is down (restarting)
        must not turn the instructor's click into an error: what was clicked is recorded.

        On the station's topic (its name made a topic level) and on each of its devices' own:
        a trainee's station screen knows its devices, not the name the room gives it, and
        shows what comes on theirs (`MqttTransport`, `InstructorNote`)."""
        data = json.dumps(payload).encode()
        levels = [topic_level(station), *self.stations[station].seat.devices.values()]
        try:
            for level in levels:
                self.connection.publish_to(f"glovecoach/{self.room.name}/{level}/{what}", data)
        except (LinkLost, OSError) as exc:
            log.warning("%s: %s not sent to its screen: %s", station, what, exc)
            return str(exc)
        return None

    # ------------------------------------------------------------------ ending
    def finish(self) -> dict[str, Any]:
        """Stop every station: recordings closed, reports made. Returns station -> report."""
        self._ending.set()
        # Every device is told to stop at once. One by one, gloves switched off just before
        # the end (the broker hears of it only after their keepalive, 45 s) cost STOP_WAIT_S
        # each: 18 s of a frozen window for twelve stations.
        _all_at_once(_stop_quietly, [client for s in self.stations.values() for client in s.clients.values()])
        reports = {}
        for name, s in self.stations.items():
            try:
                s.report = s.pipeline.finish()
            finally:
                for client in s.clients.values():
                    client.close()
            reports[name] = s.report
        self.connection.close()
        if self.running_class_file is not None:
            self.running_class_file.unlink(missing_ok=True)    # ended: nothing to pick up
        return reports

    def __enter__(self) -> Classroom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if any(not s.pipeline.finished for s in self.stations.values()):
            self.finish()


def _all_at_once(call: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    """``call`` on every item, up to MAX_PARALLEL_CONNECTS at a time (each mostly waits for a
    device's answer through the broker); the results in the items' order."""
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_CONNECTS, max(1, len(items)))) as pool:
        return list(pool.map(call, items))


def _stop_quietly(client: GloveClient) -> None:
    try:
        client.stop(timeout=STOP_WAIT_S)
    except Exception:  # noqa: BLE001, S110 - the device may be gone; the recording is complete
        pass


def coach_in_turn(pipelines: Sequence[Any], budget_s: float | None = None,
                  start: float | None = None) -> tuple[int, Any]:
    """Coach what is due in ``pipelines`` (deferring `StationPipeline`s, in their turn's order):
    every alert first, then the quiet stretches. With ``budget_s``, stop at the first pipeline
    after that long since ``start`` (monotonic). Returns (updates delivered, the pipeline it
    stopped after, or None when everything due was coached)."""
    start = time.monotonic() if start is None else start
    due = ([p for p in pipelines if p.coaching_due == ALERT_DUE]
           + [p for p in pipelines if p.coaching_due == STRETCH_DUE])
    n = 0
    for k, pipeline in enumerate(due):
        n += pipeline.coach_due()
        if budget_s is not None and k < len(due) - 1 and time.monotonic() - start >= budget_s:
            return n, pipeline
    return n, None


def topic_level(name: str) -> str:
    """A station's name as one MQTT topic level."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "station"
