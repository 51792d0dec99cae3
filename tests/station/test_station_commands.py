"""`info`, `export` and `analyze` on a station recording made live by three virtual devices."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from glovecoach.link.client import GloveClient
from glovecoach.pipeline.station_session import StationPipeline
from glovecoach.recording import StationRecordingWriter, open_station_recording
from glovecoach.station.replay import align_station_recording
from glovecoach.vocabulary.station import DeviceMessage, StationLayout
from glovecoach.vocabulary.stream import InstructorNote

RATE = 200
LAYOUT = StationLayout.full()


@pytest.fixture(scope="module")
def station_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("station") / "station.gcrec"
    clients = {role: GloveClient(f"virtual://?role={role}") for role in LAYOUT.roles}
    try:
        for c in clients.values():
            c.connect()
            c.start(RATE)
        pipeline = StationPipeline(clients, LAYOUT, RATE, writer=StationRecordingWriter(path, LAYOUT, RATE))
        end = time.monotonic() + 3.0
        left_stopped = False
        while time.monotonic() < end:
            pipeline.pump()
            time.sleep(0.02)
            if time.monotonic() > end - 1.5 and not left_stopped:
                clients["left_glove"].stop()       # the left glove stops early: absent rows
                left_stopped = True
                # a classroom instructor's mark, as a broker link hands it on
                pipeline.recorder.on_message(DeviceMessage("right_glove", InstructorNote(
                    "mark", {"text": "hold the stroke here", "host_time": time.time()})))
        pipeline.finish()
    finally:
        for c in clients.values():
            c.close()
    return path


def glovecoach(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glovecoach", *args], capture_output=True, text=True, timeout=120)


def test_info_lists_the_devices(station_file):
    out = glovecoach("info", str(station_file), "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert [d["role"] for d in info["devices"]] == list(LAYOUT.roles)
    assert all(d["samples"] > RATE for d in info["devices"])
    assert "lost_samples" in info["devices"][0] and "id" in info["devices"][0]


@pytest.mark.parametrize("units", ["--raw", "--newtons"])
def test_export_writes_aligned_columns_named_by_device(station_file, tmp_path, units):
    out_csv = tmp_path / "station.csv"
    done = glovecoach("export", str(station_file), "--csv", str(out_csv), units)
    assert done.returncode == 0, done.stderr
    lines = out_csv.read_text().splitlines()
    rows = list(csv.reader(line for line in lines if not line.startswith("#")))
    assert rows[0] == ["time_s", *LAYOUT.columns]
    aligned = align_station_recording(open_station_recording(station_file))
    filled = np.flatnonzero(aligned.present.any(axis=1))
    assert len(rows) - 1 == len(filled)
    left = LAYOUT.columns.index("left.thumb_tip")
    k_left = LAYOUT.roles.index("left_glove")
    empty_left = [r[1 + left] == "" for r in rows[1:]]
    assert sum(empty_left) == int((~aligned.present[filled, k_left]).sum()) > 0
    if units == "--raw":   # the counts themselves, in the slots replay gives
        got = np.array([[float(c) if c else -1 for c in r[1:]] for r in rows[1:]])
        want = np.where(np.repeat(aligned.present[filled], [len(d.channels) for d in LAYOUT.devices], axis=1),
                        aligned.raw[filled].astype(float), -1.0)
        np.testing.assert_array_equal(got, want)


def test_analyze_reports_both_hands_and_writes_the_station_debrief(station_file, tmp_path):
    html = tmp_path / "debrief.html"
    done = glovecoach("analyze", str(station_file), "--json", "--html", str(html))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["hands"]) == {"left", "right"} and "station" in report
    text = html.read_text()
    assert "Left hand" in text and "Right hand" in text
    # the instructor's mark the recording holds is in the debrief analysed afterwards too
    assert "Marked by the instructor" in text and "hold the stroke here" in text


def test_a_calibration_file_for_one_glove_is_refused_for_a_station(station_file, tmp_path):
    cal = tmp_path / "cal.json"
    cal.write_text("{}")
    done = glovecoach("analyze", str(station_file), "--calibration", str(cal))
    assert done.returncode != 0 and "calibrations-dir" in done.stderr


@pytest.mark.parametrize("wifi", [False, True], ids=["usb", "wifi"])
def test_record_a_virtual_station_from_the_command_line(tmp_path, wifi):
    out = tmp_path / "station.gcrec"
    done = glovecoach("record", "--virtual", "--station", *(["--wifi"] if wifi else []),
                      "--seconds", "3", "-o", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    assert "left_glove" in done.stdout and "station slots" in done.stdout
    info = json.loads(glovecoach("info", str(out), "--json").stdout)
    assert [d["role"] for d in info["devices"]] == list(LAYOUT.roles)
    for device in info["devices"]:
        assert device["samples"] >= 2.5 * RATE and device["lost_samples"] == 0
        assert ("mqtt://" in device["transport"]) == wifi
    station = open_station_recording(out)
    aligned = align_station_recording(station)
    assert aligned.n_total == station.station_samples
    # the devices' crystals differ (virtual station defaults), and the fit says so
    ppm = {role: station.alignment[role]["clock_ppm"] for role in LAYOUT.roles}
    assert ppm["left_glove"] > ppm["right_glove"]


def test_record_station_refuses_what_cannot_be_a_station(tmp_path):
    done = glovecoach("record", "--station", "--device", "elbow=/dev/null", "--seconds", "1", "-o",
                      str(tmp_path / "x.gcrec"))
    assert done.returncode != 0 and "not a role" in done.stderr
    done = glovecoach("record", "--virtual", "--wifi", "--seconds", "1", "-o", str(tmp_path / "y.gcrec"))
    assert done.returncode != 0 and "--station" in done.stderr
