"""`glovecoach calibrate`: a guided per-sensor calibration with reference weights."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

from glovecoach.commands import CommandError
from glovecoach.commands.record import rate_arg, seconds_arg

DEFAULT_WEIGHTS_KG = (0.5, 1.0, 2.0, 5.0)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="calibrate the glove's sensors with reference weights (guided)",
        description="Guides you through conditioning each sensor, a tare with the hand off, and "
                    "reference weights on each sensor; fits each sensor's curve and stores it under "
                    "the glove's id (default ~/.config/glovecoach/calibrations/<glove_id>.json). "
                    "A sensor that reads open, reads saturated unloaded, or does not rise with "
                    "weight is rejected by name and nothing is written.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--port", help="serial port of the glove")
    source.add_argument("--virtual", action="store_true", help="calibrate the virtual glove")
    source.add_argument("--replay", type=Path, metavar="GCREC",
                        help="take the readings, in order, from a recorded calibration session")
    p.add_argument("--signal", type=Path, help="with --virtual: a .gcsig file for the firmware to play")
    p.add_argument("--weights-kg", default=",".join(f"{w:g}" for w in DEFAULT_WEIGHTS_KG),
                   help="reference masses in kg, comma-separated (default %(default)s)")
    p.add_argument("--sensors", help="comma-separated sensor ids (default: every channel of the glove)")
    p.add_argument("-o", "--output", type=Path, help="calibration file to write (default: by glove id)")
    p.add_argument("--read-seconds", type=seconds_arg, default=1.0, help="averaging time per reading (default 1 s)")
    p.add_argument("--rate", type=rate_arg, default=200, help="sampling rate while calibrating (default 200 Hz)")
    p.set_defaults(func=run)


def _weights(text: str) -> tuple[float, ...]:
    try:
        weights = tuple(float(w) for w in text.split(",") if w.strip())
    except ValueError:
        raise CommandError(f"--weights-kg: not a list of numbers: {text!r}") from None
    if len(weights) < 2:
        raise CommandError("--weights-kg: need at least two reference weights")
    if any(w <= 0 for w in weights) or len(set(weights)) != len(weights):
        raise CommandError(f"--weights-kg: weights must be positive and different: {text!r}")
    return tuple(sorted(weights))


def run(args: argparse.Namespace) -> int:
    from glovecoach.calibration import Calibration, CalibrationError, calibration_path
    from glovecoach.pipeline.guided_calibration import RecordingReadingSource, run_guided_calibration

    weights = _weights(args.weights_kg)
    if args.signal and not args.virtual:
        raise CommandError("--signal only applies to --virtual")

    def ask(prompt: str) -> str:
        print(prompt, end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            raise CommandError("input ended before the calibration was finished; nothing was written")
        return line.strip()

    def say(text: str) -> None:
        print(text, flush=True)

    with ExitStack() as stack:
        if args.replay:
            from glovecoach.recording import RecordingError, open_recording
            try:
                source = RecordingReadingSource(open_recording(args.replay))
            except RecordingError as exc:
                raise CommandError(str(exc)) from None
        else:
            source = _glove_source(args, stack)
        sensors = tuple(s.strip() for s in args.sensors.split(",")) if args.sensors else source.channels
        unknown = [s for s in sensors if s not in source.channels]
        if unknown:
            raise CommandError(f"--sensors: {', '.join(unknown)} not on this glove "
                               f"(its channels: {', '.join(source.channels)})")
        try:
            fits = run_guided_calibration(source, sensors, weights, ask=ask, say=say, read_s=args.read_seconds)
        except CalibrationError as exc:
            raise CommandError(f"calibration rejected: {exc}; nothing was written") from None

    glove_id = source.glove_id
    out = args.output or (calibration_path(glove_id) if glove_id else None)
    if out is None:
        raise CommandError("the glove announced no id: give -o FILE")
    # Sensors calibrated before and not redone now keep their stored curve.
    previous = []
    if out.exists():
        try:
            old = Calibration.load(out, source.channels)
            previous = [f for c, f in old.fits.items() if c not in sensors]
        except CalibrationError as exc:
            print(f"note: not keeping the old {out}: {exc}", file=sys.stderr)
    cal = Calibration.from_fits(previous + fits, source.channels, glove_id)
    try:
        cal.save(out)
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc}") from None
    kept = f" (kept {len(previous)} earlier sensor curve(s))" if previous else ""
    print(f"wrote {out}: {len(fits)} sensor(s) calibrated{kept}")
    return 0


def _glove_source(args: argparse.Namespace, stack: ExitStack):
    from glovecoach.link import DeviceCommandError, GloveClient, LinkLost
    from glovecoach.pipeline.guided_calibration import GloveReadingSource

    if args.virtual:
        from glovecoach.link.virtual_glove import VirtualGlove
        try:
            glove = stack.enter_context(VirtualGlove(signal_path=args.signal))
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot start the virtual glove: {exc}") from None
        port = glove.port
    else:
        port = args.port
    client = stack.enter_context(GloveClient(port))
    try:
        hello = client.connect()
        client.start(rate_hz=args.rate)
    except DeviceCommandError as exc:
        raise CommandError(f"the glove refused to stream: {exc.message}") from None
    except (TimeoutError, LinkLost) as exc:
        raise CommandError(f"no glove on {port}: {exc}") from None
    stack.callback(_stop, client)
    return GloveReadingSource(client, hello.channels, hello.glove_id, args.rate)


def _stop(client) -> None:
    from glovecoach.link import DeviceCommandError, LinkLost
    try:
        client.stop(timeout=0.5)
    except (TimeoutError, LinkLost, DeviceCommandError):
        pass
