"""`glovecoach devices` probes USB serial ports only, unless asked: writing an INFO frame to a
built-in UART (/dev/ttyS0) sends bytes to whatever is wired to it."""

from __future__ import annotations

import json
import os
import select

from serial.tools.list_ports_common import ListPortInfo

from fake_glove import FakeGlove
from glovecoach.cli import main as cli_main
from glovecoach.link.discovery import is_usb, list_devices


def port_info(path: str, vid: int | None) -> ListPortInfo:
    """What pyserial's list_ports reports for a port (the operating system's list is the
    physical edge here: the ports themselves are real ptys)."""
    info = ListPortInfo(path, skip_link_detection=True)
    info.vid, info.pid = vid, (0x1001 if vid is not None else None)
    info.description = "USB JTAG/serial debug unit" if vid is not None else "ttyS0"
    info.hwid = f"USB VID:PID={vid:04X}:1001" if vid is not None else "n/a"
    return info


def bytes_written_to(master: int) -> bytes:
    data = b""
    while select.select([master], [], [], 0.05)[0]:
        data += os.read(master, 4096)
    return data


def uart_pty():
    master, slave = os.openpty()
    import tty
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


def test_only_usb_ports_are_probed_and_the_others_get_no_byte():
    master, slave, uart = uart_pty()
    try:
        with FakeGlove(glove_id="GC-USB-0007") as glove:
            ports = [port_info(uart, None), port_info(glove.port, 0x303A)]
            reports = {r.path: r for r in list_devices(timeout=1.5, ports=ports)}
            assert bytes_written_to(master) == b""  # nothing was sent to the UART
            assert reports[glove.port].is_glove and reports[glove.port].glove_id == "GC-USB-0007"
            assert not reports[uart].probed and "not a USB serial port" in reports[uart].problem

            # Asked for: --all probes it (and it does not answer).
            reports = {r.path: r for r in list_devices(timeout=0.5, ports=ports, all_ports=True)}
            assert reports[uart].probed and not reports[uart].is_glove
            assert b"\x00" in bytes_written_to(master)  # the host's opening delimiter and INFO
    finally:
        os.close(master)
        os.close(slave)


def test_a_named_extra_path_is_always_probed():
    """The virtual glove (a pty, no USB ids) is probed because it is asked for by name."""
    with FakeGlove() as glove:
        reports = list_devices({glove.port: "virtual glove"}, timeout=1.5, ports=[port_info(glove.port, None)])
    assert len(reports) == 1 and reports[0].probed and reports[0].is_glove


def test_is_usb_reads_the_vendor_id():
    assert is_usb(port_info("/dev/ttyACM0", 0x303A)) and not is_usb(port_info("/dev/ttyS0", None))


def test_devices_json_says_which_ports_were_probed(capsys):
    assert cli_main(["devices", "--json", "--virtual", "--timeout", "2"]) == 0
    reports = json.loads(capsys.readouterr().out)
    virtual = [r for r in reports if "vglove" in r["path"]]
    assert len(virtual) == 1 and virtual[0]["probed"] and virtual[0]["is_glove"]
    # Whatever this machine has besides: a port left alone says how to include it.
    assert all("--all" in r["problem"] for r in reports if not r["probed"])


def test_a_device_with_an_invalid_hello_is_listed_with_the_reason():
    with FakeGlove(glove_id="G" * 300) as glove:
        [report] = list_devices(timeout=1.0, ports=[port_info(glove.port, 0x303A)])
    assert not report.is_glove
    assert report.problem.startswith("answered with an invalid message: glove_id: ")
    assert "300" in report.problem
