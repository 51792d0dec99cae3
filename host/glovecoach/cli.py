"""Command-line entry point: `glovecoach <command> ...`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# numpy's OpenBLAS starts a pool of worker threads when numpy is imported, and they spin on a
# core while the pool is idle. glovecoach's matrix products are tiny (20 x 20 channel maps), so
# the pool never helps; on a two-core machine its spinning took a whole core during start-up
# and slowed `glovecoach analyze` by ~60 ms (issue 9). Set before any command imports numpy;
# a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from glovecoach import __version__  # noqa: E402
from glovecoach.commands import COMMANDS, CommandError  # noqa: E402


def build_parser(command: str | None = None, *, load_all: bool = False) -> argparse.ArgumentParser:
    """The parser, with the full sub-parser of `command` (or of every command with `load_all`).

    Every other command gets a placeholder carrying only its one-line help, so `glovecoach
    --help` still lists them all and a misspelt command is still refused by name, while only
    the chosen command's module is imported."""
    parser = argparse.ArgumentParser(
        prog="glovecoach",
        description="Pressure-sensing glove that coaches therapeutic back massage.",
    )
    parser.add_argument("--version", action="version", version=f"glovecoach {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if load_all or name == command:
            module = importlib.import_module(f"glovecoach.commands.{module_name}")
            module.register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def _command_in(argv: list[str]) -> str | None:
    # The top level has only flag options (-h, --version), so the first word that is not an
    # option is the command name.
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_in(argv))
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
