"""The glove's sending path over TLS allocates nothing: the sampling loop with the MQTT link
on a TLS connection (mbedTLS in MicroPython's unix port) to a real Mosquitto with TLS runs under
micropython.heap_lock(), and every frame arrives at a subscriber in order.

On this port mbedTLS allocates from the MicroPython heap (so heap_lock would catch a
per-record allocation); the test also prints how much of that heap one connection holds.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from fwharness import FIRMWARE, MICROPYTHON, decode_chunk, run_micropython
from glovecoach.link.room_broker import RoomBroker, find_mosquitto

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "link"))   # tls_certs (shared)
from tls_certs import make_room_tls  # noqa: E402

MP = os.path.join(os.path.dirname(__file__), "mp")


def _have_mosquitto() -> bool:
    try:
        find_mosquitto()
    except RuntimeError:
        return False
    return True


@pytest.mark.skipif(not _have_mosquitto(), reason="mosquitto is not installed")
@pytest.mark.parametrize("rate_hz,slots,batch", [(200, 400, 1), (1000, 1500, 4)])
def test_sampling_loop_over_tls_allocates_nothing(tmp_path, rate_hz, slots, batch):
    tls = make_room_tls(tmp_path / "certs")
    assert tls.cafile is not None
    # A loopback broker without accounts: this test is about the glove's TLS send path.
    with RoomBroker(None, host="127.0.0.1", tls=tls) as broker:
        got: queue.Queue = queue.Queue()
        sub = paho.Client(paho.CallbackAPIVersion.VERSION2)
        sub.tls_set(ca_certs=str(tls.cafile))
        sub.on_message = lambda c, u, m: got.put(m.payload)
        sub.connect("127.0.0.1", broker.port)
        sub.subscribe("glovecoach/lab/GC-TLS-NOALLOC/frames")
        sub.loop_start()
        time.sleep(0.3)
        config = tmp_path / "net.json"
        config.write_text(json.dumps({"mqtt": {"host": "127.0.0.1", "port": broker.port, "room": "lab",
                                               "batch_frames": batch, "ca": tls.cafile.read_text()}}))
        try:
            proc = run_micropython(os.path.join(MP, "mp_tls_no_alloc.py"), str(rate_hz), str(slots),
                                   env={"GLOVECOACH_NET_CONFIG": str(config),
                                        "GLOVECOACH_GLOVE_ID": "GC-TLS-NOALLOC"}, timeout=60)
            time.sleep(0.5)
        finally:
            sub.loop_stop()
            sub.disconnect()
    out = proc.stdout.decode(errors="replace")
    errors, frames, published, dropped, messages, tls_heap, _ = map(int, out.rsplit("\nRESULT ", 1)[1].split())
    assert "(TLS)" in out
    assert errors == 0, "an allocation (MemoryError) happened in the sampling loop with the TLS link"
    assert dropped == 0
    assert frames >= slots // (rate_hz // 50)
    assert frames < published <= frames + slots // rate_hz + 1
    payloads = []
    while not got.empty():
        payloads.append(got.get())
    decoded = [decode_chunk(c) for m in payloads for c in m.split(b"\x00") if c]
    seqs = [d["seq"] for d in decoded if d["type"] == "SAMPLES"]
    # every SAMPLES frame of the session reached the subscriber through TLS, in order
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert len(seqs) >= frames
    print(f"TLS {rate_hz} Hz batch {batch}: {frames} frames under heap_lock, {messages} messages; "
          f"one TLS connection holds {tls_heap} bytes of the MicroPython heap (unix port)")


GDB = shutil.which("gdb")
# Counts malloc/calloc/realloc calls (the C library's: mbedTLS's allocator on this port) from
# the first mbedtls_ssl_write to the end of the process.
GDB_SCRIPT = """set pagination off
set breakpoint pending on
set $n = 0
break mbedtls_ssl_write
commands 1
silent
disable 1
enable 2 3 4
continue
end
break malloc
commands 2
silent
set $n = $n + 1
continue
end
break calloc
commands 3
silent
set $n = $n + 1
continue
end
break realloc
commands 4
silent
set $n = $n + 1
continue
end
disable 2 3 4
run
printf "C_ALLOCS %d\\n", $n
quit
"""


@pytest.mark.skipif(GDB is None or not _have_mosquitto(), reason="needs gdb and mosquitto")
def test_mbedtls_allocates_nothing_per_record(tmp_path):
    """heap_lock sees only the MicroPython heap; mbedTLS here allocates with the C library.
    So count those allocations under gdb for 20 and for 1,000 TLS publishes: the same count
    (the disconnect's), i.e. none per record."""
    tls = make_room_tls(tmp_path / "certs")
    assert tls.cafile is not None
    config = tmp_path / "net.json"
    script = tmp_path / "count.gdb"
    script.write_text(GDB_SCRIPT)
    counts = {}
    with RoomBroker(None, host="127.0.0.1", tls=tls) as broker:
        mqtt = {"host": "127.0.0.1", "port": broker.port, "ca": tls.cafile.read_text()}
        config.write_text(json.dumps({"mqtt": mqtt}))
        env = dict(os.environ, GLOVECOACH_NET_CONFIG=str(config), MICROPYPATH=f"{FIRMWARE}:.frozen")
        for n in (20, 1000):
            proc = subprocess.run([GDB, "-q", "-batch", "-x", str(script), "--args", sys.executable,
                                   str(MICROPYTHON), os.path.join(MP, "mp_tls_publish.py"), str(n)],
                                  capture_output=True, text=True, env=env, timeout=120)
            out = proc.stdout + proc.stderr
            if "C_ALLOCS" not in out or f"RESULT {n}" not in out:
                pytest.skip(f"gdb could not run the firmware here:\n{out[-1500:]}")
            counts[n] = int(out.split("C_ALLOCS", 1)[1].split()[0])
    print(f"C allocations from the first TLS write to exit: {counts}")
    assert counts[1000] == counts[20], f"mbedTLS allocates per record: {counts}"
