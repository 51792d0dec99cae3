"""Command-line entry point: `glovecoach <command> ...`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from glovecoach import __version__, commands


class CommandError(Exception):
    """A user-facing failure: printed as one line on stderr, exit code 2, no traceback."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glovecoach",
        description="Pressure-sensing glove that coaches therapeutic back massage.",
    )
    parser.add_argument("--version", action="version", version=f"glovecoach {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"glovecoach {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: the reader has what it wanted.
        sys.stderr.close()
        return 0
