"""`glovecoach devices`: list serial ports and say which ones are gloves."""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from typing import Iterable

from glovecoach.cli import CommandError


@dataclass
class PortReport:
    path: str
    description: str
    hwid: str
    is_glove: bool
    glove_id: str | None = None
    firmware: str | None = None
    board: str | None = None
    problem: str | None = None  # why it did not answer as a glove


def probe_port(path: str, timeout: float = 0.6) -> dict | None:
    """The HELLO info of a glove on ``path`` if it answers INFO within ``timeout``, else None.

    Raises :class:`glovecoach.link.LinkLost` if the port cannot be opened.
    """
    from glovecoach.link import GloveClient

    client = GloveClient(path, reconnect=False, hello_retry_s=min(0.3, timeout))
    try:
        return client.connect(timeout=timeout).info
    except TimeoutError:
        return None
    finally:
        client.close()


def list_devices(extra_paths: Iterable[str] | dict[str, str] = (),
                 timeout: float = 0.6) -> list[PortReport]:
    """Serial ports found by pyserial plus ``extra_paths``, each probed in parallel.

    ``extra_paths`` may be a dict of path → description (e.g. a virtual glove's pty).
    """
    from serial.tools import list_ports  # type: ignore[import-untyped]

    from glovecoach.link import LinkLost

    reports: dict[str, PortReport] = {}
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        reports[port.device] = PortReport(port.device, port.description or "", port.hwid or "", False)
    described = extra_paths if isinstance(extra_paths, dict) else dict.fromkeys(extra_paths, "")
    for path, description in described.items():
        reports.setdefault(path, PortReport(path, description or "extra candidate", "", False))

    def probe(report: PortReport) -> PortReport:
        try:
            info = probe_port(report.path, timeout)
        except LinkLost as exc:
            report.problem = str(exc)
            return report
        if info is None:
            report.problem = f"no answer to INFO within {timeout:.1f} s"
        else:
            report.is_glove = True
            report.glove_id = info.get("glove_id")
            report.firmware = info.get("firmware")
            report.board = info.get("board")
        return report

    if not reports:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(reports))) as pool:
        return list(pool.map(probe, reports.values()))


def _run(args: argparse.Namespace) -> int:
    from glovecoach.link.virtual_glove import VirtualGlove

    with ExitStack() as stack:
        extra: dict[str, str] = {}
        if args.virtual:
            try:
                glove = stack.enter_context(VirtualGlove())
            except (OSError, ValueError) as exc:
                raise CommandError(f"cannot start the virtual glove: {exc}") from exc
            extra[glove.port] = "virtual glove (firmware in MicroPython)"
        reports = list_devices(extra, timeout=args.timeout)
    if args.json:
        print(json.dumps([asdict(r) for r in reports], indent=2))
        return 0
    if not reports:
        print("no serial ports found (plug in a glove, or try --virtual)")
        return 0
    width = max(len(r.path) for r in reports)
    for r in reports:
        if r.is_glove:
            what = f"glove {r.glove_id}  firmware {r.firmware}  board {r.board}"
        else:
            what = f"-  ({r.problem})"
        print(f"{r.path:<{width}}  {r.description[:40]:<40}  {what}")
    gloves = sum(r.is_glove for r in reports)
    print(f"{gloves} glove(s) on {len(reports)} port(s)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "devices", help="list serial ports and the gloves on them",
        description="List serial ports; ports whose device answers the INFO command are gloves.",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--virtual", action="store_true",
                        help="also start a virtual glove (the firmware in MicroPython) and list it")
    parser.add_argument("--timeout", type=float, default=0.6, metavar="S",
                        help="how long each port has to answer INFO (default 0.6 s)")
    parser.set_defaults(func=_run)
