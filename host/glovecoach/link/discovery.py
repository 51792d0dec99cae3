"""Which serial ports have a glove on them.

Used by `glovecoach devices` and by the app's connect screen. Probing a port means opening it
and asking for INFO; a port that answers with a HELLO is a glove.

Only USB serial ports are probed unless asked: a glove is always on USB (its own CDC port or
its board's USB-UART bridge), while writing a command frame to a built-in UART such as
/dev/ttyS0 sends bytes to whatever is wired to it (a modem, a console, another device).
pyserial gives every USB port its vendor id; ports without one are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


def is_usb(port) -> bool:
    """Whether a ``serial.tools.list_ports`` entry is a USB serial port (it has a USB vendor id)."""
    return getattr(port, "vid", None) is not None


def candidate_ports(all_ports: bool = False) -> list[str]:
    """Serial ports a glove may be on, sorted: USB serial ports, or every port with ``all_ports``."""
    from serial.tools import list_ports  # type: ignore[import-untyped]

    return sorted(p.device for p in list_ports.comports() if all_ports or is_usb(p))


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
    probed: bool = True         # False: listed but not asked (not a USB port, and no --all)

    def summary(self) -> str:
        """One line for a list of ports: the path, and the glove on it if one answered."""
        if self.is_glove:
            return f"{self.path}  \u2014  glove {self.glove_id}, firmware {self.firmware}"
        return f"{self.path}  \u2014  {self.problem or 'no glove'}"


def probe_port(path: str, timeout: float = 0.6, *, description: str = "", hwid: str = "") -> PortReport:
    """Ask the device on ``path`` for INFO: a :class:`PortReport` saying whether a glove
    answered within ``timeout`` (with its id, firmware and board) or why not (the port could
    not be opened, nothing answered, or what it sent was invalid). Never raises for a port
    that is busy, vanished or not a serial device: that is the report's ``problem``.

    The one probe behind ``glovecoach devices`` and the app's connect screen.
    """
    from glovecoach.link import GloveClient, LinkLost

    report = PortReport(path, description, hwid, False)
    try:
        client = GloveClient(path, reconnect=False, hello_retry_s=min(0.3, timeout))
    except ValueError as exc:  # not a path or URL a transport can be made from
        report.problem = str(exc)
        return report
    try:
        info = client.connect(timeout=timeout).info
    except TimeoutError:
        invalid = client.last_problem
        report.problem = (f"answered with an invalid message: {invalid.field}: {invalid.message}"
                          if invalid is not None else f"no answer to INFO within {timeout:.1f} s")
        return report
    except (LinkLost, OSError) as exc:
        report.problem = str(exc)
        return report
    finally:
        client.close()
    report.is_glove = True
    report.glove_id = info.get("glove_id")
    report.firmware = info.get("firmware")
    report.board = info.get("board")
    return report


def list_devices(extra_paths: Iterable[str] | dict[str, str] = (),
                 timeout: float = 0.6, all_ports: bool = False, ports=None) -> list[PortReport]:
    """Serial ports found by pyserial plus ``extra_paths``; USB ports (every port with
    ``all_ports``) and the extra paths are probed in parallel, the others are listed with
    ``probed=False``.

    ``extra_paths`` may be a dict of path → description (e.g. a virtual glove's pty): they are
    asked for by name, so always probed. ``ports`` replaces pyserial's list (for tests).
    """
    from serial.tools import list_ports  # type: ignore[import-untyped]

    reports: dict[str, PortReport] = {}
    found = list_ports.comports() if ports is None else ports
    for port in sorted(found, key=lambda p: p.device):
        report = PortReport(port.device, port.description or "", port.hwid or "", False)
        if not (all_ports or is_usb(port)):
            report.probed = False
            report.problem = "not probed: not a USB serial port (--all probes it)"
        reports[port.device] = report
    described = extra_paths if isinstance(extra_paths, dict) else dict.fromkeys(extra_paths, "")
    for path, description in described.items():
        report = reports.setdefault(path, PortReport(path, description or "extra candidate", "", False))
        report.probed, report.problem = True, None

    def probe(report: PortReport) -> PortReport:
        if not report.probed:
            return report
        return probe_port(report.path, timeout, description=report.description, hwid=report.hwid)

    if not reports:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(reports))) as pool:
        return list(pool.map(probe, reports.values()))
