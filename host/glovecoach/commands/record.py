"""`glovecoach record`: record raw samples from a glove (or the virtual glove) to a `.gcrec`."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import time
from contextlib import ExitStack
from typing import TYPE_CHECKING, TextIO

import numpy as np

from glovecoach.commands import CommandError
from glovecoach.output_files import (
    OutputFileError,
    add_overwrite_flag,
    check_output,
    install,
    live_recording_name,
)
from glovecoach.pipeline.listener import Listener

if TYPE_CHECKING:
    from glovecoach.link import LinkStats

PROGRESS_INTERVAL_S = 0.5
# After the planned end, samples still in flight (the last frame, a busy reader) may take this
# long to arrive while the glove is streaming, plus 1 ms per second for a device clock slower
# than the host's (crystals are within 0.05 ms/s); a stalled or absent glove gets no extra time.
TAIL_GRACE_S = 1.0
TAIL_GRACE_PER_S = 0.001
# What a glove can do (docs/protocol.md 3.2: SET_RATE takes 50..1000 Hz).
MIN_RATE_HZ, MAX_RATE_HZ = 50, 1000
MAX_SECONDS = 24 * 3600.0


# --------------------------------------------------------------------------- argument types
# argparse calls these on the text of an option and turns ArgumentTypeError into
# "glovecoach record: error: argument --seconds: ..." with exit status 2, before anything runs.


def seconds_arg(text: str) -> float:
    """A duration: a finite number of seconds > 0 (at most a day)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    if value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_SECONDS:.0f} s (a day), got {text!r}")
    return value


def rate_arg(text: str) -> int:
    """A sample rate the glove accepts: a whole number of Hz in 50..1000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of samples per second") from None
    if not MIN_RATE_HZ <= value <= MAX_RATE_HZ:
        raise argparse.ArgumentTypeError(
            f"must be {MIN_RATE_HZ}..{MAX_RATE_HZ} samples per second (what the glove can do), got {value}")
    return value


class ChannelSummary(Listener):
    """Per-channel min / mean / max of the raw values, and STATUS flags, accumulated by block."""

    def __init__(self, channels: list[str]) -> None:
        n = len(channels)
        self.channels = channels
        self.count = 0
        self.minimum = np.full(n, np.iinfo(np.uint16).max, dtype=np.int64)
        self.maximum = np.zeros(n, dtype=np.int64)
        self.total = np.zeros(n, dtype=np.float64)
        self.saturated_s = np.zeros(n, dtype=np.int64)  # STATUS seconds with the bit set
        self.open_s = np.zeros(n, dtype=np.int64)
        self.statuses = 0

    def add_block(self, raw: np.ndarray) -> None:
        if raw.size == 0:
            return
        self.count += raw.shape[0]
        np.minimum(self.minimum, raw.min(axis=0), out=self.minimum)
        np.maximum(self.maximum, raw.max(axis=0), out=self.maximum)
        self.total += raw.sum(axis=0, dtype=np.float64)

    def add_status(self, saturated_mask: int, open_mask: int) -> None:
        bits = np.arange(len(self.channels))
        self.saturated_s += (saturated_mask >> bits) & 1
        self.open_s += (open_mask >> bits) & 1
        self.statuses += 1

    def on_samples(self, message) -> None:
        self.add_block(message.raw)

    def on_status(self, message) -> None:
        self.add_status(message.status.saturated_mask, message.status.open_mask)

    def table(self) -> str:
        width = max(len(c) for c in self.channels)
        lines = [f"{'channel':<{width}}  {'min':>5}  {'mean':>7}  {'max':>5}  flags",
                 f"{'-' * width}  {'-' * 5}  {'-' * 7}  {'-' * 5}  -----"]
        mean = self.total / max(self.count, 1)
        for i, channel in enumerate(self.channels):
            flags = []
            if self.saturated_s[i]:
                flags.append(f"saturated {self.saturated_s[i]}/{self.statuses} s")
            if self.open_s[i]:
                flags.append(f"OPEN (broken lead?) {self.open_s[i]}/{self.statuses} s")
            if self.count:
                lo, avg, hi = f"{self.minimum[i]:>5}", f"{mean[i]:>7.1f}", f"{self.maximum[i]:>5}"
            else:
                lo, avg, hi = f"{'-':>5}", f"{'-':>7}", f"{'-':>5}"
            lines.append(f"{channel:<{width}}  {lo}  {avg}  {hi}  {', '.join(flags)}")
        return "\n".join(lines)


class ConsoleReport(Listener):
    """What a person running `record` should read as it happens: stalls, device problems, logs."""

    def __init__(self, progress: Progress, log: TextIO) -> None:
        self.progress = progress
        self.log = log

    def say(self, text: str) -> None:
        self.progress.done()
        print(text, file=self.log)

    def on_link_stalled(self, message) -> None:
        self.say(f"glove stalled: no samples for {message.silent_s:.1f} s ({message.reason})")

    def on_link_resumed(self, message) -> None:
        self.say(f"glove resumed after {message.silent_s:.1f} s without samples")

    def on_device_problem(self, message) -> None:
        self.say(f"device problem: {message}")

    def on_device_log(self, message) -> None:
        if message.level >= 1:
            self.say(f"glove: {message.message}")


@dataclasses.dataclass
class RecordState:
    samples: int = 0
    lost: int = 0
    lost_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    end_index: int = 0      # session index after the last sample or gap written
    target: int = 0         # planned length of the session timeline, in samples
    link_drops: int = 0
    stalls: int = 0
    device_problems: int = 0
    interrupted: bool = False
    unfinished: str | None = None  # why the planned time ended before the timeline was full
    elapsed: float = 0.0
    measured_rate_hz: float | None = None
    link_stats: LinkStats | None = None  # the client's counters at the end

    @property
    def complete(self) -> bool:
        """The planned duration was recorded (samples and link gaps) and not cut short."""
        return not self.interrupted and self.unfinished is None and self.end_index >= self.target


class Progress:
    """One status line, rewritten in place on a terminal, or a plain line every few seconds."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.in_place = stream.isatty()
        self._last = 0.0
        self._width = 0

    def show(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        interval = PROGRESS_INTERVAL_S if self.in_place else 2.0
        if not force and now - self._last < interval:
            return
        self._last = now
        if self.in_place:
            pad = max(0, self._width - len(text))
            self.stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.in_place and self._width:
            self.stream.write("\n")
            self.stream.flush()


def record(client, writer, *, seconds: float, rate_hz: int, progress: Progress,
           summary: ChannelSummary, log: TextIO) -> RecordState:
    """Stream from a connected client into an open writer for ``seconds`` of session time.

    Ends when the session timeline holds ``seconds`` (samples and gaps), or at the planned wall
    time whatever the glove does: if it is stalled or away then (or still short a second
    later), the rest of the timeline is written as a gap and the state says why it is
    unfinished. Returns the counters for the final message; Ctrl-C ends the loop
    (``interrupted``).
    """
    from glovecoach.pipeline import Notifier
    from glovecoach.pipeline.link_monitor import DOWN, STALLED, LinkMonitor
    from glovecoach.pipeline.recorder import RecorderListener

    target = int(round(seconds * rate_hz))
    state = RecordState(target=target)
    recorder = RecorderListener(writer, rate_hz, limit_samples=target)
    monitor = LinkMonitor()
    notifier = Notifier(client, [recorder, monitor, summary, ConsoleReport(progress, log)])
    started = time.monotonic()
    link_words = {DOWN: "DOWN, reconnecting", STALLED: "STALLED"}

    try:
        while recorder.end_index < target:
            got = notifier.pump()
            elapsed = time.monotonic() - started
            trouble = {STALLED: "stalled", DOWN: "link_lost"}.get(monitor.state)
            # A wall-clock deadline: the session timeline only advances while the glove
            # delivers, so a hung or absent glove would otherwise keep `record` running forever.
            if recorder.end_index < target and (
                    (elapsed >= seconds and trouble is not None)
                    or elapsed >= seconds * (1 + TAIL_GRACE_PER_S) + TAIL_GRACE_S):
                state.unfinished = trouble or "no_samples"
                break
            # The measured rate comes from the device-vs-host clock fit, which needs 2 s of
            # stream; samples/elapsed would include the start-up and read low.
            rate = client.measured_rate_hz()
            rate_text = f"{rate:7.2f} Hz" if rate else "   -- Hz"
            progress.show(
                f"{elapsed:6.1f} s  {recorder.samples:>8} samples  {rate_text}  "
                f"lost {recorder.lost:>5}  link {link_words.get(monitor.state, monitor.state)}")
            if not got:
                time.sleep(0.01)
    except KeyboardInterrupt:
        state.interrupted = True
    if state.unfinished is not None:
        # What never came is a gap to the planned end, sized by the plan rather than by the
        # glove (hence not exact), so the file's timeline is as long as the session was meant to be.
        missing = target - recorder.end_index
        recorder.write_gap(recorder.end_index, missing, state.unfinished, exact=False)
        progress.done()
        print(f"planned time over with the glove {'stalled' if state.unfinished == 'stalled' else 'not delivering'}: "
              f"{missing} samples ({missing / rate_hz:.1f} s) at the end are missing", file=log)
    state.samples, state.lost, state.end_index = recorder.samples, recorder.lost, recorder.end_index
    state.lost_by_reason = dict(recorder.lost_by_reason)
    state.link_drops, state.stalls = monitor.drops, monitor.stalls
    state.device_problems = monitor.device_problems
    state.elapsed = time.monotonic() - started
    state.measured_rate_hz = client.measured_rate_hz()
    state.link_stats = client.stats
    recorder.note("record_end", {"complete": state.complete, "planned_samples": target,
                                 "recorded_samples": state.samples, "missing_samples": state.lost,
                                 "unfinished": state.unfinished, "interrupted": state.interrupted,
                                 "link": dataclasses.asdict(client.stats)})
    return state


def _scenario_signal(scenario: str, seed: int):
    """A function writing the simulator's ``scenario`` as a ``.gcsig`` into the virtual
    glove's own directory (so it is removed with the glove)."""
    from glovecoach.simulate import SCENARIOS, simulate, write_signal_file

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(sorted(SCENARIOS))}")

    def write(directory):
        return write_signal_file(simulate(scenario, seed), directory / f"{scenario}-{seed}.gcsig")
    return write


def _output_names(args: argparse.Namespace, inputs: list) -> tuple[str, str, bool]:
    """(the file asked for, the file to write now, whether it replaces one).

    A live recording must stay readable after a kill -9, so it is written where it will be
    found, not to a hidden temporary file: straight to the output when that is a new name, and
    when replacing a file, to a visible name beside it that replaces the output only once the
    recording is complete (glovecoach.output_files.live_recording_name)."""
    try:
        out = check_output(args.output, overwrite=args.overwrite, inputs=inputs)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None
    replacing = os.path.lexists(out)
    return out, (live_recording_name(out) if replacing else out), replacing


def _put_in_place(writing, out) -> None:
    """The complete recording written beside `out` replaces it."""
    try:
        install(writing, out, overwrite=True)
    except OSError as exc:
        raise CommandError(f"the recording is complete in {writing} but could not replace {out}: "
                           f"{exc.strerror or exc}") from None


def _parse_devices(items: list[str]) -> dict[str, str]:
    """``ROLE=PORT_OR_URL`` options -> {role: url}, refusing unknown and repeated roles."""
    from glovecoach.vocabulary.station import STATION_ROLES

    out: dict[str, str] = {}
    for item in items:
        role, sep, url = item.partition("=")
        role = role.strip().replace("-", "_")
        if not sep or not url.strip():
            raise CommandError(f"--device {item!r}: expected ROLE=PORT (e.g. left_glove=/dev/ttyUSB0 or "
                               "right_glove=mqtt://host/room/GC-0102)")
        if role not in (*STATION_ROLES, "kit"):
            raise CommandError(f"--device {item!r}: {role!r} is not a role ({', '.join(STATION_ROLES)}, kit)")
        if role in out:
            raise CommandError(f"--device: {role} given twice")
        out[role] = url.strip()
    return out


def record_station(pipeline, *, seconds: float, rate_hz: int, progress: Progress) -> dict:
    """Pump a station pipeline until its station index holds ``seconds`` (or the planned wall
    time is over: a device that never delivers must not keep `record` running). Returns what
    the final message needs."""
    target = int(round(seconds * rate_hz))
    started = time.monotonic()
    interrupted = False
    try:
        while pipeline.station_end_index < target:
            got = pipeline.pump()
            elapsed = time.monotonic() - started
            if elapsed >= seconds * (1 + TAIL_GRACE_PER_S) + TAIL_GRACE_S:
                break
            recorder = pipeline.recorder
            per_device = "  ".join(
                f"{role.split('_')[0]} {r.samples}" + (f" (lost {r.lost})" if r.lost else "")
                for role, r in recorder.devices.items())
            progress.show(f"{elapsed:6.1f} s  station {pipeline.station_end_index:>7} slots  {per_device}")
            if not got:
                time.sleep(0.01)
    except KeyboardInterrupt:
        interrupted = True
    progress.done()
    return {"interrupted": interrupted, "elapsed": time.monotonic() - started, "target": target}


def _run_station(args: argparse.Namespace) -> int:
    from glovecoach.link import DeviceCommandError, GloveClient, LinkLost
    from glovecoach.pipeline.station_session import StationPipeline
    from glovecoach.recording import RecordingError, StationRecordingWriter
    from glovecoach.vocabulary.station import STATION_ROLES, StationLayout

    if args.signal or args.glove_id:
        raise CommandError("--signal and --glove-id are for one virtual glove; a virtual station plays "
                           "--scenario/--seed on all its devices")
    if args.virtual and args.device:
        raise CommandError("give --virtual or --device ROLE=PORT, not both")
    devices = _parse_devices(args.device or [])
    if not args.virtual and not devices:
        raise CommandError("--station needs --virtual or one --device ROLE=PORT per device")
    out, writing, replacing = _output_names(args, [])
    log = sys.stderr
    with ExitStack() as stack:
        if args.virtual:
            from glovecoach.simulate.station import virtual_station

            try:
                station = stack.enter_context(virtual_station(
                    args.seed, rate_hz=args.rate, scenario=args.scenario or "good_session",
                    transport="mqtt" if args.wifi else "serial"))
            except (OSError, ValueError, RuntimeError, TimeoutError) as exc:
                raise CommandError(f"cannot start the virtual station: {exc}") from exc
            clients = {role: stack.enter_context(station.client(role)) for role in STATION_ROLES}
            source = "virtual station over " + ("WiFi (MQTT)" if args.wifi else "USB")
        else:
            clients = {role: stack.enter_context(GloveClient(url)) for role, url in devices.items()}
            source = ", ".join(f"{role}={url}" for role, url in devices.items())
        hellos = {}
        for role, client in clients.items():
            try:
                hello = client.connect(timeout=args.connect_timeout)
            except (TimeoutError, LinkLost) as exc:
                raise CommandError(f"no {role.replace('_', ' ')} on {client.transport.name}: {exc}") from exc
            if hello.announces_role and hello.role != role:
                raise CommandError(f"{client.transport.name} is a {hello.role.replace('_', ' ')} "
                                   f"({hello.glove_id}), not a {role.replace('_', ' ')}: set its role with "
                                   f"`glovecoach deploy --role {role}` or give it as --device {hello.role}=...")
            hellos[role] = hello
        layout = StationLayout.for_roles(list(clients))
        for role, client in clients.items():
            try:
                client.start(rate_hz=args.rate)
            except DeviceCommandError as exc:
                raise CommandError(f"{role} {hellos[role].glove_id} refused {args.rate} Hz: {exc.message}") from exc
            except (TimeoutError, LinkLost) as exc:
                raise CommandError(f"{role} {hellos[role].glove_id} did not start streaming: {exc}") from exc
        try:
            writer = stack.enter_context(StationRecordingWriter(
                writing, layout, args.rate,
                {"source": source, "command": "glovecoach record --station",
                 "transports": {role: c.transport.name for role, c in clients.items()}}))
        except FileExistsError:
            raise CommandError(f"{writing} appeared after it was checked; nothing was recorded") from None
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot create {writing}: {exc}") from None
        where = f"{writing}, which replaces {out} once complete" if replacing else f"{out}"
        print(f"recording a station of {len(clients)} devices ("
              + ", ".join(f"{r} {h.glove_id}" for r, h in hellos.items())
              + f") from {source} at {args.rate} Hz to {where}; Ctrl-C stops", file=log)
        pipeline = StationPipeline(clients, layout, args.rate, writer=writer,
                                   limit_samples=None)
        progress = Progress(log)
        try:
            state = record_station(pipeline, seconds=args.seconds, rate_hz=args.rate, progress=progress)
            for client in clients.values():
                try:
                    client.stop(timeout=0.5)
                except (TimeoutError, LinkLost, DeviceCommandError):
                    pass
            writer.note("record_end", {"planned_slots": state["target"], "interrupted": state["interrupted"]})
            pipeline.finish()
        except RecordingError as exc:
            kept = f"; {out} is unchanged" if replacing else ""
            raise CommandError(f"{exc}{kept}") from None
        alignment = pipeline.alignment()
        recorder = pipeline.recorder
        slots = pipeline.station_end_index
    if replacing:
        _put_in_place(writing, out)
    for role, device in recorder.devices.items():
        fit = alignment.get(role, {})
        ppm = fit.get("clock_ppm")
        print(f"{role:<12} {hellos[role].glove_id:<14} {device.samples:>8} samples, {device.lost:>5} lost"
              + (f", clock {ppm:+.0f} ppm" if ppm is not None else "")
              + (f", absent for {fit.get('absent_slots', 0)} slots" if fit.get("absent_slots") else ""))
    short = slots < state["target"]
    prefix = "interrupted: " if state["interrupted"] else ("INCOMPLETE: " if short else "")
    print(f"{prefix}{slots} station slots ({slots / args.rate:.1f} s) from {len(recorder.devices)} devices; "
          f"wrote {out}")
    return 1 if short and not state["interrupted"] else 0


def _run(args: argparse.Namespace) -> int:
    from glovecoach.link import DeviceCommandError, GloveClient, LinkLost

    if args.station:
        return _run_station(args)
    if args.device or args.wifi:
        raise CommandError("--device and --wifi are for a station: add --station")
    from glovecoach.link.virtual_glove import VirtualGlove
    from glovecoach.recording import RecordingError, RecordingWriter

    if not args.virtual and (args.signal or args.glove_id or args.scenario):
        raise CommandError("--signal, --scenario and --glove-id only apply to --virtual")
    if args.signal and args.scenario:
        raise CommandError("cannot start the virtual glove: give either --signal or --scenario, not both")
    out, writing, replacing = _output_names(args, [args.signal])
    log = sys.stderr
    with ExitStack() as stack:
        if args.virtual:
            try:
                glove = stack.enter_context(VirtualGlove(
                    signal_path=args.signal, glove_id=args.glove_id,
                    make_signal=_scenario_signal(args.scenario, args.seed) if args.scenario else None))
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot start the virtual glove: {exc}") from exc
            port, source = glove.port, "virtual"
        else:
            port, source = args.port, args.port
        client = stack.enter_context(GloveClient(port))
        try:
            hello = client.connect(timeout=args.connect_timeout)
        except (TimeoutError, LinkLost) as exc:
            raise CommandError(f"no glove on {port}: {exc}") from exc
        # Start before creating the file, so a refused rate leaves no empty recording behind;
        # samples wait in the client's queue meanwhile.
        try:
            client.start(rate_hz=args.rate)
        except DeviceCommandError as exc:
            raise CommandError(f"glove {hello.glove_id} refused {args.rate} Hz: {exc.message}") from exc
        except (TimeoutError, LinkLost) as exc:
            raise CommandError(f"glove {hello.glove_id} did not start streaming: {exc}") from exc
        try:
            # Created exclusively (never overwrite=True): a name that appeared meanwhile, or a
            # symbolic link put there since the check, is refused rather than written through.
            writer = stack.enter_context(RecordingWriter(
                writing, device_info=hello.info, rate_hz=args.rate, channels=hello.channels,
                metadata={"source": source, "command": "glovecoach record"}))
        except FileExistsError:
            raise CommandError(f"{writing} appeared after it was checked; nothing was recorded") from None
        except (OSError, ValueError) as exc:
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise CommandError(f"cannot create {writing}: {why}") from None
        board, firmware = hello.info.get("board", "board unknown"), hello.info.get("firmware", "unknown")
        where = f"{writing}, which replaces {out} once complete" if replacing else f"{out}"
        print(f"recording {hello.glove_id} ({board}, firmware {firmware}) on {source} "
              f"at {args.rate} Hz x {len(hello.channels)} channels to {where}; Ctrl-C stops",
              file=log)
        progress = Progress(log)
        summary = ChannelSummary(hello.channels)
        try:
            state = record(client, writer, seconds=args.seconds, rate_hz=args.rate,
                           progress=progress, summary=summary, log=log)
        except RecordingError as exc:   # e.g. the disk filled up: what was written stays readable
            progress.done()
            kept = f"; {out} is unchanged" if replacing else ""
            raise CommandError(f"{exc}{kept}") from None
        progress.done()
        try:
            client.stop(timeout=0.5)
        except (TimeoutError, LinkLost, DeviceCommandError):
            pass  # the recording is complete either way; the glove stops on its own when unplugged
    # Leaving the ExitStack closed the writer (END record, fsync), the client and the glove.
    if replacing:
        _put_in_place(writing, out)
    rate = state.measured_rate_hz
    rate_text = f"{rate:.2f} Hz (device clock vs host clock)" if rate else "n/a"
    print(summary.table())
    why = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in state.lost_by_reason.items())
    link = state.link_stats
    assert link is not None
    prefix = ("interrupted: " if state.interrupted else
              f"INCOMPLETE ({state.unfinished.replace('_', ' ')}): " if state.unfinished else "")
    print(f"{prefix}{state.samples} samples "
          f"({state.samples / args.rate:.1f} s), {state.lost} lost{f' ({why})' if why else ''}, "
          f"{state.link_drops} link drop(s), {state.stalls} stall(s), measured rate {rate_text}; wrote {out}")
    print(f"link: {link.duplicates} duplicate and {link.out_of_order} out-of-order frame(s) dropped, "
          f"{link.corrupt_frames} corrupt, {link.lost_frames} lost, {link.rejected_frames} refused; "
          f"{link.device_errors} device error(s)")
    # A recording cut short by the glove is still a good file, but a script must be able to tell.
    return 1 if state.unfinished else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record", help="record raw samples from a glove to a .gcrec file",
        description="Record raw samples from a glove (or the built-in virtual glove) to a "
                    ".gcrec file, with live progress and a per-channel summary at the end.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--port", help="serial port of the glove, e.g. /dev/ttyUSB0 "
                                       "(see `glovecoach devices`)")
    source.add_argument("--device", action="append", metavar="ROLE=PORT",
                        help="with --station: one device of the station and where it is, e.g. "
                             "left_glove=/dev/ttyUSB0 or spine_strip=mqtt://host/room/GC-0103 (repeat)")
    source.add_argument("--virtual", action="store_true",
                        help="record from a virtual glove (the real firmware in MicroPython)")
    parser.add_argument("--rate", type=rate_arg, default=200, help="samples per second per channel, "
                        f"{MIN_RATE_HZ}..{MAX_RATE_HZ} (default 200)")
    parser.add_argument("--seconds", type=seconds_arg, required=True, help="how long to record")
    parser.add_argument("-o", "--output", required=True, help="the .gcrec file to write")
    add_overwrite_flag(parser, "the .gcrec file (once the new recording is complete)")
    parser.add_argument("--signal", help="with --virtual: a .gcsig file for the firmware to play")
    parser.add_argument("--scenario", help="with --virtual: play a simulated session "
                                           "(see `glovecoach simulate`), e.g. good_session")
    parser.add_argument("--seed", type=int, default=0, help="with --scenario: its random seed")
    parser.add_argument("--glove-id", help="with --virtual: the glove id to announce")
    parser.add_argument("--station", action="store_true",
                        help="record a whole station (left glove, right glove, spine strip, each its own "
                             "device) into one station recording; with --virtual, three virtual devices")
    parser.add_argument("--wifi", action="store_true",
                        help="with --station --virtual: the virtual devices publish over MQTT through "
                             "the embedded broker instead of USB")
    parser.add_argument("--connect-timeout", type=seconds_arg, default=5.0, metavar="S",
                        help="how long to wait for the glove's HELLO (default 5 s)")
    parser.set_defaults(func=_run)
