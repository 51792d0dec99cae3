"""The one policy for files the commands write (glovecoach.output_files), on real files.

Every command that writes a file (record, simulate, export, analyze --html/--pdf) refuses an
existing file without `--overwrite`, a symbolic link and one of its own inputs even with it,
and writes under a temporary name renamed into place, so a failed or killed write leaves the
old file as it was. Before this, `export REC --csv REC` destroyed the recording, `export` and
`analyze --html` overwrote any file silently, and `record --overwrite` wrote through a link.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glovecoach.cli import main
from glovecoach.output_files import OutputFileError, atomic_output, check_output
from glovecoach.recording import open_recording
from glovecoach.simulate import simulate, write_recording

sys.path.insert(0, str(Path(__file__).resolve().parent / "link"))
from fake_glove import FakeGlove  # noqa: E402

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

OLD = b"the old file, which must survive\n"


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    """A short simulated recording (60 s at 50 Hz) to export and analyse."""
    path = tmp_path_factory.mktemp("rec") / "s.gcrec"
    # A minute is enough for every command; the whole session is not needed.
    return write_recording(simulate("good_session", 0, 50).cut(0.0, 60.0), path)


@pytest.fixture(scope="module")
def big_recording(tmp_path_factory) -> Path:
    """A whole session at 200 Hz: its CSV (24 MB) takes about a second to write."""
    return write_recording(simulate("good_session", 0, 200), tmp_path_factory.mktemp("big") / "big.gcrec")


def leftovers(folder: Path) -> list[str]:
    """Temporary files of the policy left in `folder` (hidden `.NAME.TOKEN.tmp.SUFFIX` names)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


def commands_writing(tmp_path: Path, recording: Path, out: Path) -> dict[str, list[str]]:
    """Each command line that writes `out` (given the right suffix), by name."""
    return {
        "simulate": ["simulate", "--scenario", "good_session", "--rate", "20", "-o", str(out)],
        "simulate --signal": ["simulate", "--scenario", "good_session", "--rate", "20", "--signal", "-o", str(out)],
        "simulate --csv": ["simulate", "--scenario", "good_session", "--rate", "20", "--csv", "-o", str(out)],
        "export": ["export", str(recording), "--csv", str(out)],
        "export --raw": ["export", str(recording), "--raw", "--csv", str(out)],
        "analyze --html": ["analyze", str(recording), "--html", str(out)],
        "analyze --pdf": ["analyze", str(recording), "--pdf", str(out)],
        # No glove is needed: the file is checked before anything is connected.
        "record": ["record", "--port", str(tmp_path / "ttyNONE"), "--seconds", "1", "-o", str(out)],
    }


SUFFIX = {"simulate": ".gcrec", "simulate --signal": ".gcsig", "simulate --csv": ".csv", "export": ".csv",
          "export --raw": ".csv", "analyze --html": ".html", "analyze --pdf": ".pdf", "record": ".gcrec"}


# --------------------------------------------------------------------------- every command


@pytest.mark.parametrize("command", list(SUFFIX))
def test_every_command_refuses_an_existing_file_without_overwrite(tmp_path, capsys, recording, command):
    out = tmp_path / f"out{SUFFIX[command]}"
    out.write_bytes(OLD)
    assert main(commands_writing(tmp_path, recording, out)[command]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{out} already exists (use --overwrite to replace it)" in err
    assert out.read_bytes() == OLD
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("command", list(SUFFIX))
def test_no_command_writes_through_a_symbolic_link_even_with_overwrite(tmp_path, capsys, recording, command):
    victim = tmp_path / "victim.dat"
    victim.write_bytes(OLD)
    for link, target in ((tmp_path / f"link{SUFFIX[command]}", victim),
                         (tmp_path / f"dangling{SUFFIX[command]}", tmp_path / "would-be-created")):
        link.symlink_to(target)
        assert main(commands_writing(tmp_path, recording, link)[command] + ["--overwrite"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"{link} is a symbolic link (to {target}); a command never writes through a link" in err
        assert link.is_symlink() and os.readlink(link) == str(target)
    assert victim.read_bytes() == OLD
    assert not (tmp_path / "would-be-created").exists()


@pytest.mark.parametrize("command", ["simulate", "simulate --signal", "simulate --csv", "export", "analyze --html"])
def test_overwrite_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path, capsys, recording, command):
    out = tmp_path / f"out{SUFFIX[command]}"
    out.write_bytes(OLD)
    out.chmod(0o640)
    assert main(commands_writing(tmp_path, recording, out)[command] + ["--overwrite"]) == 0, capsys.readouterr().err
    data = out.read_bytes()
    assert data != OLD and len(data) > 1000
    assert stat.S_IMODE(out.stat().st_mode) == 0o640       # the replaced file's permissions are kept
    assert leftovers(tmp_path) == []
    if command == "simulate":
        assert open_recording(out).closed_cleanly


def test_a_new_file_gets_the_usual_permissions_not_a_temporary_files(tmp_path, capsys, recording):
    out = tmp_path / "new.csv"
    assert main(["export", str(recording), "--raw", "--csv", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_simulate_csv_checks_the_truth_file_too(tmp_path, capsys):
    out = tmp_path / "k.csv"
    truth = tmp_path / "k.csv.truth.json"
    truth.write_bytes(OLD)
    assert main(["simulate", "--scenario", "good_session", "--rate", "20", "--csv", "-o", str(out)]) == 2
    assert f"{truth} already exists" in capsys.readouterr().err
    assert not out.exists() and truth.read_bytes() == OLD


def test_simulate_force_is_a_hidden_alias_of_overwrite(tmp_path, capsys):
    out = tmp_path / "s.gcsig"
    out.write_bytes(OLD)
    assert main(["simulate", "--scenario", "good_session", "--rate", "20", "--signal", "-o", str(out), "--force"]) == 0
    err = capsys.readouterr().err
    assert "--force is deprecated, use --overwrite" in err
    assert out.read_bytes()[:8] == b"GCSIG1\n\0"
    with pytest.raises(SystemExit):
        main(["simulate", "--help"])
    assert "--force" not in capsys.readouterr().out
    # The same flag, spelt the same, on every command that writes a file.
    for command in ("record", "simulate", "export", "analyze"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "--overwrite" in capsys.readouterr().out, command


# --------------------------------------------------------------------------- inputs


def test_export_never_writes_over_its_recording(tmp_path, capsys, recording):
    rec = tmp_path / "r.gcrec"
    shutil.copy(recording, rec)
    before = rec.read_bytes()
    hard = tmp_path / "hard.csv"
    os.link(rec, hard)
    (tmp_path / "sub").mkdir()
    for spelling, message in ((rec, "is this command's input"),
                              (tmp_path / "sub" / ".." / "r.gcrec", f"is the same file as this command's input {rec}"),
                              (hard, f"is the same file as this command's input {rec}")):
        for extra in ([], ["--overwrite"]):
            assert main(["export", str(rec), "--csv", str(spelling), *extra]) == 2
            err = capsys.readouterr().err
            assert err == (f"glovecoach export: {spelling} {message}; writing it would destroy what is being read "
                           f"(refused even with --overwrite): choose another name\n")
    assert rec.read_bytes() == before
    assert open_recording(rec).closed_cleanly


def test_export_never_writes_over_its_calibration(tmp_path, capsys, recording):
    calibration = tmp_path / "cal.json"
    calibration.write_bytes(OLD)
    assert main(["export", str(recording), "--calibration", str(calibration), "--csv", str(calibration),
                 "--overwrite"]) == 2
    assert "is this command's input" in capsys.readouterr().err
    assert calibration.read_bytes() == OLD


def test_analyze_never_writes_a_report_over_its_input(tmp_path, capsys, recording):
    csv = tmp_path / "x.csv"
    assert main(["export", str(recording), "--csv", str(csv)]) == 0
    before = csv.read_bytes()
    assert main(["analyze", str(csv), "--html", str(csv), "--overwrite"]) == 2
    assert "x.csv is this command's input" in capsys.readouterr().err
    report = tmp_path / "x.html"
    os.link(csv, report)                    # a report name that is the input under another name
    assert main(["analyze", str(csv), "--html", str(report), "--overwrite"]) == 2
    assert f"{report} is the same file as this command's input {csv}" in capsys.readouterr().err
    assert csv.read_bytes() == before


def test_record_never_writes_over_the_signal_it_plays(tmp_path, capsys):
    signal_file = tmp_path / "s.gcsig"
    signal_file.write_bytes(OLD)
    assert main(["record", "--virtual", "--signal", str(signal_file), "--seconds", "1",
                 "-o", str(signal_file), "--overwrite"]) == 2
    assert "is this command's input" in capsys.readouterr().err
    assert signal_file.read_bytes() == OLD


# --------------------------------------------------------------------------- record, live


@pytest.mark.timeout(30)
def test_record_overwrite_refuses_a_link_and_replaces_a_file_once_complete(tmp_path, capsys):
    victim = tmp_path / "someone-elses.gcrec"
    victim.write_bytes(OLD)
    link = tmp_path / "link.gcrec"
    link.symlink_to(victim)
    out = tmp_path / "s.gcrec"
    out.write_bytes(OLD)
    with FakeGlove() as fake:
        # Before, this recorded a second into the link's target.
        assert main(["record", "--port", fake.port, "--seconds", "1", "-o", str(link), "--overwrite"]) == 2
        assert "is a symbolic link" in capsys.readouterr().err
        assert main(["record", "--port", fake.port, "--seconds", "1", "-o", str(out), "--overwrite"]) == 0
    captured = capsys.readouterr()
    assert victim.read_bytes() == OLD and link.is_symlink()
    assert f"which replaces {out} once complete" in captured.err
    rec = open_recording(out)
    assert rec.closed_cleanly and rec.samples == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.gcrec", "s.gcrec", "someone-elses.gcrec"]


@pytest.mark.timeout(60)
def test_record_killed_while_replacing_keeps_the_old_file_and_the_new_part(tmp_path):
    """kill -9 during `record --overwrite`: the old file is untouched, and what was recorded is
    readable under the visible name the recording was going to (the live .gcrec design)."""
    out = tmp_path / "s.gcrec"
    out.write_bytes(OLD)
    with FakeGlove() as fake:
        child = subprocess.Popen([sys.executable, "-m", "glovecoach", "record", "--port", fake.port,
                                  "--seconds", "30", "-o", str(out), "--overwrite"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            live: list[Path] = []
            while time.monotonic() < deadline:
                live = list(tmp_path.glob("s.recording-*.gcrec"))
                if live and open_recording(live[0]).samples >= 200:   # a second is on disk
                    break
                time.sleep(0.1)
            assert live, child.stderr.read1().decode() if child.poll() is not None else "no live file"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
    assert out.read_bytes() == OLD
    rec = open_recording(live[0])
    assert rec.samples >= 200 and not rec.closed_cleanly and not rec.problems


def test_record_to_a_new_name_writes_that_name_from_the_start(tmp_path, capsys):
    """No file to replace: the recording goes straight to its name (a kill -9 keeps it there)."""
    out = tmp_path / "new.gcrec"
    with FakeGlove() as fake:
        assert main(["record", "--port", fake.port, "--seconds", "1", "-o", str(out)]) == 0
    assert "which replaces" not in capsys.readouterr().err
    assert open_recording(out).samples == 200
    assert [p.name for p in tmp_path.iterdir()] == ["new.gcrec"]


# --------------------------------------------------------------------------- a write that fails


@pytest.mark.timeout(60)
def test_export_killed_mid_write_leaves_the_old_csv_whole(tmp_path, big_recording):
    out = tmp_path / "big.csv"
    out.write_bytes(OLD)
    child = subprocess.Popen([sys.executable, "-m", "glovecoach", "export", str(big_recording), "--csv", str(out),
                              "--overwrite"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and child.poll() is None:
            partial = leftovers(tmp_path)
            if partial and (tmp_path / partial[0]).stat().st_size > 1_000_000:
                break
            time.sleep(0.005)
        assert child.poll() is None, "the export ended before it could be killed mid-write"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert out.read_bytes() == OLD          # not half a CSV: the old file, whole
    # Only the hidden temporary name holds the half file (kill -9 leaves no chance to remove it).
    assert len(leftovers(tmp_path)) == 1


def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=10)
    return probe.returncode == 0


@pytest.mark.timeout(60)
@pytest.mark.skipif(not _unshare_works(), reason="needs unprivileged user namespaces (unshare -Urm)")
def test_a_full_disk_leaves_the_old_file_and_one_message(tmp_path, recording):
    """The CSV does not fit on a real 64 KiB tmpfs: one line naming the file, exit 2, the old
    CSV unchanged and no temporary file left."""
    small, result = tmp_path / "small", tmp_path / "result"
    small.mkdir()
    result.mkdir()
    script = (f"mount -t tmpfs -o size=64k tmpfs {small} && printf 'the old csv' > {small}/out.csv && "
              f"{sys.executable} -m glovecoach export {recording} --raw --csv {small}/out.csv --overwrite; "
              f"echo $? > {result}/rc; ls -A {small} > {result}/ls; cp {small}/out.csv {result}/out.csv")
    done = subprocess.run(["unshare", "-Urm", "sh", "-c", script], capture_output=True, text=True, timeout=50)
    assert (result / "rc").read_text().strip() == "2", done.stderr
    assert done.stderr == (f"glovecoach export: cannot write {small}/out.csv: No space left on device; "
                           "the existing file is unchanged\n")
    assert (result / "out.csv").read_text() == "the old csv"
    assert (result / "ls").read_text().split() == ["out.csv"]


def test_simulate_in_a_subprocess_refuses_and_replaces(tmp_path):
    out = tmp_path / "s.gcrec"
    out.write_bytes(OLD)
    base = [sys.executable, "-m", "glovecoach", "simulate", "--scenario", "good_session", "--rate", "20",
            "-o", str(out)]
    refused = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert refused.stderr == f"glovecoach simulate: {out} already exists (use --overwrite to replace it)\n"
    assert out.read_bytes() == OLD
    done = subprocess.run(base + ["--overwrite"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert open_recording(out).closed_cleanly and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- the library


def test_atomic_output_never_replaces_a_name_that_appeared_while_writing(tmp_path):
    out = tmp_path / "a.txt"
    with pytest.raises(OutputFileError, match="appeared while it was being written"):
        with atomic_output(out, overwrite=False) as temporary:
            temporary.write_text("new")
            out.write_text("someone else's")
    assert out.read_text() == "someone else's" and leftovers(tmp_path) == []


def test_atomic_output_refuses_a_link_that_appeared_while_writing(tmp_path):
    victim, out = tmp_path / "victim", tmp_path / "a.txt"
    victim.write_bytes(OLD)
    out.write_text("old")
    with pytest.raises(OutputFileError, match="became a symbolic link"):
        with atomic_output(out, overwrite=True) as temporary:
            temporary.write_text("new")
            out.unlink()
            out.symlink_to(victim)
    assert victim.read_bytes() == OLD and leftovers(tmp_path) == []


def test_an_error_in_the_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "a.txt"
    out.write_bytes(OLD)
    with pytest.raises(ZeroDivisionError):
        with atomic_output(out, overwrite=True) as temporary:
            temporary.write_text("half")
            raise ZeroDivisionError("the writer fails halfway")
    assert out.read_bytes() == OLD and leftovers(tmp_path) == []


def test_check_output_refuses_folders_devices_and_missing_folders(tmp_path):
    with pytest.raises(OutputFileError, match="it is a folder"):
        check_output(tmp_path, overwrite=True)
    with pytest.raises(OutputFileError, match="not a regular file"):
        check_output("/dev/null", overwrite=True)
    with pytest.raises(OutputFileError, match="no folder"):
        check_output(tmp_path / "nowhere" / "x.csv", overwrite=True)
    assert check_output(tmp_path / "x.csv", overwrite=False) == tmp_path / "x.csv"
