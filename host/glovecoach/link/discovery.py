"""Which serial ports have a glove on them.

Used by `glovecoach devices` and by the app's connect screen. Probing a port means opening it
and asking for INFO; a port that answers with a HELLO is a glove.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable


def candidate_ports() -> list[str]:
    """Serial ports the operating system lists (USB gloves among them), sorted."""
    from serial.tools import list_ports  # type: ignore[import-untyped]

    return sorted(p.device for p in list_ports.comports())


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
