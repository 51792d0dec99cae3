"""The command line imports only the command being run, and still knows every command."""

from __future__ import annotations

import argparse
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from glovecoach import commands
from glovecoach.cli import build_parser, main
from glovecoach.commands import COMMANDS

HEAVY = ("PySide6", "pyqtgraph", "serial", "glovecoach.simulate", "glovecoach.link", "glovecoach.app",
         "glovecoach.deploy", "glovecoach.wire")
# A station's code, which one glove's recording never needs.
STATION = ("glovecoach.station", "glovecoach.vocabulary.station", "glovecoach.engine.station",
           "glovecoach.pipeline.station_coaching", "glovecoach.recording.force_csv")


def loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Modules of `heavy` (or under them) present in sys.modules after running `code` in a
    fresh interpreter."""
    probe = code + (
        "\nimport sys\n"
        f"heavy = {heavy!r}\n"
        "print(sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_parsing_analyze_imports_nothing_heavy() -> None:
    code = ("from glovecoach.cli import build_parser, _command_in\n"
            "argv = ['analyze', 'x.csv']\n"
            "args = build_parser(_command_in(argv)).parse_args(argv)\n"
            "assert args.command == 'analyze' and [str(f) for f in args.file] == ['x.csv']\n")
    assert loaded_after(code) == []


def test_analyzing_a_csv_imports_nothing_heavy(tmp_path: Path) -> None:
    csv = tmp_path / "tiny.csv"
    csv.write_text("time_s,thumb_tip\n0,1\n0.005,2\n")
    code = ("import contextlib, io\nfrom glovecoach.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['analyze', {str(csv)!r}, '--json']) == 0\n")
    assert loaded_after(code) == []


def test_analyzing_a_recording_imports_nothing_heavy(tmp_path: Path) -> None:
    """A recording goes through the pipeline like a live session, yet analysing one loads
    neither the device link nor the wire decoder, nor a station's code, nor the CSV reader
    (start-up time, issue 9)."""
    from glovecoach.simulate import simulate
    from glovecoach.simulate.files import write_recording

    path = write_recording(simulate("good_session", 1).cut(0, 20), tmp_path / "s.gcrec")
    code = ("import contextlib, io\nfrom glovecoach.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['analyze', {str(path)!r}, '--json']) == 0\n")
    assert loaded_after(code, HEAVY + STATION) == []


def test_every_command_module_is_in_the_table() -> None:
    modules = {m.name for m in pkgutil.iter_modules(commands.__path__)}
    assert {module for module, _ in COMMANDS.values()} == modules
    assert list(COMMANDS) == sorted(COMMANDS)


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def test_the_table_help_is_the_modules_own_help() -> None:
    # The full parser (every module registered) and the lazy one list the same commands
    # with the same one-line help.
    full = {a.dest: a.help for a in _subparsers(build_parser(load_all=True))._choices_actions}
    lazy = {a.dest: a.help for a in _subparsers(build_parser())._choices_actions}
    assert full == lazy == {name: help_text for name, (_, help_text) in COMMANDS.items()}


def test_top_level_help_lists_every_command(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())   # argparse wraps long help lines
    for name, (_, help_text) in COMMANDS.items():
        assert f"{name} {help_text}" in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_help_is_its_full_parser(name: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([name, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: glovecoach {name} ")
    assert "-h, --help" in out


def test_options_before_the_command_and_misspelt_commands(capsys) -> None:
    assert main([]) == 1
    assert "COMMAND" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:
        main(["anlyze", "x.csv"])
    assert exit_.value.code == 2
    assert "invalid choice: 'anlyze'" in capsys.readouterr().err


def test_real_process_help_and_version() -> None:
    result = subprocess.run([sys.executable, "-m", "glovecoach", "--help"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and all(name in result.stdout for name in COMMANDS)
    result = subprocess.run([sys.executable, "-m", "glovecoach", "export", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "--newtons" in result.stdout and "--raw" in result.stdout
