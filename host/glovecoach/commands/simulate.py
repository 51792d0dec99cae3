"""`glovecoach simulate`: write a labelled synthetic session (recording, CSV or signal file)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from glovecoach.output_files import add_overwrite_flag
    from glovecoach.simulate.session import SCENARIOS

    p = subparsers.add_parser(
        "simulate",
        help="write a simulated massage session with its ground truth",
        description="Write a simulated massage session with ground truth: a .gcrec recording "
                    "(truth in a 'ground_truth' note), or with --csv a CSV of newtons plus "
                    "FILE.truth.json, or with --signal a .gcsig for the virtual glove.",
        epilog="scenarios:\n" + "\n".join(f"  {name:26s} {text}" for name, text in SCENARIOS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--scenario", required=True, metavar="NAME", help="one of the scenarios listed below")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same session; default 0)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="FILE", help="file to write")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--csv", action="store_true", help="write CSV (time_s + newtons per channel)")
    kind.add_argument("--signal", action="store_true", help="write a .gcsig signal file for the virtual glove")
    p.add_argument("--rate", type=int, default=None, metavar="HZ",
                   help="sample rate (default 200; with --messy, drawn from 50-1000 by the seed)")
    p.add_argument("--messy", action="store_true",
                   help="a session like real hands and sensors give: person, technique variants, irregular "
                        "rhythm, transitions, gel pauses, sensor offsets, noise, gain, drift and faults, all drawn "
                        "from the seed (docs/simulator.md); scenarios: the ones below plus "
                        "vibration_overforce, no_fist_work, gel_pause, no_massage")
    # --force was this command's name for it before every command had --overwrite; kept hidden
    # so old scripts still work.
    add_overwrite_flag(p, "FILE (and FILE.truth.json with --csv)", deprecated=["--force"])
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glovecoach.commands import CommandError
    from glovecoach.output_files import OutputFileError, check_outputs
    from glovecoach.recording import RecordingError
    from glovecoach.simulate import SCENARIOS, simulate, write_csv, write_recording, write_signal_file
    from glovecoach.simulate.files import truth_sidecar_path

    known = SCENARIOS
    if args.messy:
        from glovecoach.simulate.realism import MESSY_SCENARIOS
        known = MESSY_SCENARIOS
    if args.scenario not in known:
        raise CommandError(f"unknown scenario {args.scenario!r}; choose one of: {', '.join(known)}")
    if args.rate is not None and not 10 <= args.rate <= 2000:
        raise CommandError(f"--rate must be between 10 and 2000 Hz, got {args.rate}")
    out: Path = args.output
    # Checked before simulating (a messy session takes seconds), and again at the rename.
    try:
        check_outputs([out, truth_sidecar_path(out)] if args.csv else [out], overwrite=args.overwrite)
    except OutputFileError as exc:
        raise CommandError(str(exc)) from None

    if args.messy:
        from glovecoach.simulate.realism import simulate_messy
        session = simulate_messy(args.seed, scenario=args.scenario, rate_hz=args.rate)
    else:
        session = simulate(args.scenario, args.seed, args.rate or 200)
    try:
        if args.csv:
            write_csv(session, out, overwrite=args.overwrite)
            extra = f" and ground truth {truth_sidecar_path(out)}"
        elif args.signal:
            write_signal_file(session, out, overwrite=args.overwrite)
            extra = ""
        else:
            write_recording(session, out, overwrite=args.overwrite)
            extra = " (ground truth in its 'ground_truth' note)"
    except (OutputFileError, RecordingError) as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {out}: {exc.strerror or exc}") from None
    phases = ", ".join(f"{p.technique} {p.end_s - p.start_s:.0f} s" for p in session.phases)
    print(f"{args.scenario} seed {args.seed}: {session.duration_s:.0f} s at {session.rate_hz} Hz "
          f"-> {out}{extra}")
    print(f"phases: {phases}")
    if session.overforce:
        print(f"over-force events: {len(session.overforce)}")
    if session.spine_contacts:
        print(f"spine contacts: {len(session.spine_contacts)}")
    for fault in getattr(session, "channel_faults", ()):
        print(f"sensor fault: {fault.channel} {fault.kind} {fault.start_s:.0f}-{fault.end_s:.0f} s")
    return 0
