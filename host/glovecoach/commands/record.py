"""`glovecoach record`: record raw samples from a glove (or the virtual glove) to a `.gcrec`."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import numpy as np

from glovecoach.cli import CommandError

PROGRESS_INTERVAL_S = 0.5


class ChannelSummary:
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


@dataclasses.dataclass
class RecordState:
    link: str = "up"
    samples: int = 0
    lost: int = 0
    lost_by_reason: dict[str, int] = dataclasses.field(default_factory=dict)
    end_index: int = 0      # session index after the last sample or gap written
    link_drops: int = 0
    interrupted: bool = False
    elapsed: float = 0.0
    measured_rate_hz: float | None = None


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
    """Stream from a connected client into an open writer until ``seconds`` of session time.

    Returns the counters for the final message; Ctrl-C ends the loop (``interrupted``).
    """
    from glovecoach.link import (
        DeviceLog, GapDetected, LinkDown, LinkUp, SamplesReceived, StatusReceived,
    )

    target = int(round(seconds * rate_hz))
    state = RecordState()
    started = time.monotonic()
    down_since: float | None = None
    try:
        while state.end_index < target:
            events = client.poll()
            for event in events:
                if isinstance(event, SamplesReceived):
                    keep = min(len(event.raw), target - event.first_index)
                    if keep <= 0:
                        continue
                    raw = event.raw[:keep]
                    frames = event.frames[event.frames["sample_index"] < event.first_index + keep]
                    writer.write_samples(event.first_index, raw, frames)
                    summary.add_block(raw)
                    state.samples += keep
                    state.end_index = event.first_index + keep
                elif isinstance(event, GapDetected):
                    n = min(event.n_samples, target - event.first_index)
                    if n > 0:
                        writer.write_gap(event.first_index, n, event.reason, exact=event.exact)
                        state.lost += n
                        state.lost_by_reason[event.reason] = state.lost_by_reason.get(event.reason, 0) + n
                        state.end_index = event.first_index + n
                elif isinstance(event, StatusReceived):
                    writer.write_status(event.host_time, dataclasses.asdict(event.status))
                    summary.add_status(event.status.saturated_mask, event.status.open_mask)
                elif isinstance(event, LinkDown):
                    state.link = "DOWN, reconnecting"
                    state.link_drops += 1
                    down_since = time.monotonic()
                    writer.write_note("link_down", {"reason": event.reason}, host_time=time.time())
                elif isinstance(event, LinkUp):
                    state.link = "up"
                    down_since = None
                    writer.write_note("link_up", {"hello": event.hello.info,
                                                  "reconnected": event.reconnected},
                                      host_time=time.time())
                elif isinstance(event, DeviceLog):
                    writer.write_note("device_log", {"level": event.level, "message": event.message},
                                      host_time=time.time())
                    if event.level >= 1:
                        progress.done()
                        print(f"glove: {event.message}", file=log)
            elapsed = time.monotonic() - started
            if down_since is not None and elapsed > seconds:
                # The session time cannot advance while the glove is away: give up.
                progress.done()
                print(f"glove did not come back within {elapsed - seconds:.0f} s after the planned "
                      "end; stopping", file=log)
                break
            # The measured rate comes from the device-vs-host clock fit, which needs 2 s of
            # stream; samples/elapsed would include the start-up and read low.
            rate = client.measured_rate_hz()
            rate_text = f"{rate:7.2f} Hz" if rate else "   -- Hz"
            progress.show(
                f"{elapsed:6.1f} s  {state.samples:>8} samples  {rate_text}  "
                f"lost {state.lost:>5}  link {state.link}")
            if not events:
                time.sleep(0.01)
    except KeyboardInterrupt:
        state.interrupted = True
    state.elapsed = time.monotonic() - started
    state.measured_rate_hz = client.measured_rate_hz()
    return state


def _run(args: argparse.Namespace) -> int:
    from glovecoach.link import DeviceCommandError, GloveClient, LinkLost
    from glovecoach.link.virtual_glove import VirtualGlove
    from glovecoach.recording import RecordingWriter

    if args.seconds <= 0:
        raise CommandError(f"--seconds must be > 0, got {args.seconds}")
    if not args.virtual and (args.signal or args.glove_id or args.scenario):
        raise CommandError("--signal, --scenario and --glove-id only apply to --virtual")
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise CommandError(f"{out} already exists (use --overwrite to replace it)")
    if not out.parent.is_dir():
        raise CommandError(f"directory {out.parent} does not exist")
    log = sys.stderr
    with ExitStack() as stack:
        if args.virtual:
            try:
                glove = stack.enter_context(VirtualGlove(
                    signal_path=args.signal, glove_id=args.glove_id,
                    scenario=args.scenario, seed=args.seed))
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
            writer = stack.enter_context(RecordingWriter(
                out, device_info=hello.info, rate_hz=args.rate, channels=hello.channels,
                metadata={"source": source, "command": "glovecoach record"},
                overwrite=args.overwrite))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot create {out}: {exc}") from exc
        print(f"recording {hello.glove_id} ({hello.board}, firmware {hello.firmware}) on {source} "
              f"at {args.rate} Hz x {len(hello.channels)} channels to {out}; Ctrl-C stops",
              file=log)
        progress = Progress(log)
        summary = ChannelSummary(hello.channels)
        state = record(client, writer, seconds=args.seconds, rate_hz=args.rate,
                       progress=progress, summary=summary, log=log)
        progress.done()
        try:
            client.stop(timeout=0.5)
        except (TimeoutError, LinkLost, DeviceCommandError):
            pass  # the recording is complete either way; the glove stops on its own when unplugged
    # Leaving the ExitStack closed the writer (END record, fsync), the client and the glove.
    rate = state.measured_rate_hz
    rate_text = f"{rate:.2f} Hz (device clock vs host clock)" if rate else "n/a"
    print(summary.table())
    why = ", ".join(f"{n} {reason.replace('_', ' ')}" for reason, n in state.lost_by_reason.items())
    print(f"{'interrupted: ' if state.interrupted else ''}{state.samples} samples "
          f"({state.samples / args.rate:.1f} s), {state.lost} lost{f' ({why})' if why else ''}, "
          f"{state.link_drops} link drop(s), measured rate {rate_text}; wrote {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "record", help="record raw samples from a glove to a .gcrec file",
        description="Record raw samples from a glove (or the built-in virtual glove) to a "
                    ".gcrec file, with live progress and a per-channel summary at the end.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--port", help="serial port of the glove, e.g. /dev/ttyUSB0 "
                                       "(see `glovecoach devices`)")
    source.add_argument("--virtual", action="store_true",
                        help="record from a virtual glove (the real firmware in MicroPython)")
    parser.add_argument("--rate", type=int, default=200, help="samples per second per channel "
                                                             "(default 200)")
    parser.add_argument("--seconds", type=float, required=True, help="how long to record")
    parser.add_argument("-o", "--output", required=True, help="the .gcrec file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.add_argument("--signal", help="with --virtual: a .gcsig file for the firmware to play")
    parser.add_argument("--scenario", help="with --virtual: play a simulated session "
                                           "(see `glovecoach simulate`), e.g. good_session")
    parser.add_argument("--seed", type=int, default=0, help="with --scenario: its random seed")
    parser.add_argument("--glove-id", help="with --virtual: the glove id to announce")
    parser.add_argument("--connect-timeout", type=float, default=5.0, metavar="S",
                        help="how long to wait for the glove's HELLO (default 5 s)")
    parser.set_defaults(func=_run)
