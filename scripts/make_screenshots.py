"""Render the app's documentation screenshots into docs/screenshots/.

    .venv/bin/python scripts/make_screenshots.py [--out docs/screenshots]

Each picture is the real app on the real link path: a simulated session is recorded, cut at the
moment worth showing, and played into the main window through `replay://` (the same decoder,
client, engine and widgets as a live glove), fast, so the window shows the session as it
stood at the cut.

- live.png        kneading with the thumb pressing too hard (excessive_force_kneading, 6:48)
- instructor.png  the instructor layout while the hand presses on the spine (spine_contact_stroking)
- debrief.png     the debrief of a whole excessive_force_kneading session
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtWidgets  # noqa: E402

from glovecoach.app.main_window import MainWindow  # noqa: E402
from glovecoach.app.qt import ensure_app, offscreen_screen, save_window  # noqa: E402
from glovecoach.app.sources import simulated_session  # noqa: E402
from glovecoach.simulate import simulate, write_recording  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def run_until(app: QtWidgets.QApplication, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the session did not reach the wanted moment in time")
        app.processEvents()
        time.sleep(0.005)


def played_window(app, work: Path, scenario: str, end_s: float | None, speed: float,
                  size: tuple[int, int], trainee: str) -> MainWindow:
    """The main window after `scenario` (cut at `end_s`) has played through replay://."""
    session = simulated_session(scenario, 1, 0.0, end_s)
    rec = write_recording(session, work / f"{scenario}-{end_s}.gcrec", overwrite=True)
    window = MainWindow(f"replay://{rec}?speed={speed:g}", sessions=work / "sessions",
                        trainee=trainee)
    window.resize(*size)
    window.show()
    window.screening_page.answer_all_no()
    window.screening_page.tick_all()
    window.screening_page.try_start()
    run_until(app, lambda: window.controller is not None or window.error, 30)
    if window.error:
        raise RuntimeError(window.error)
    total = session.n_samples
    controller = window.controller
    assert controller is not None
    run_until(app, lambda: controller.model.end_index >= total, 120)
    for _ in range(5):          # let the last frame render
        app.processEvents()
        time.sleep(0.04)
    return window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="glovecoach-shots-"))
    # a 1920x1080 screen, so the instructor layout is shot truly full screen
    os.environ["QT_QPA_PLATFORM"] = offscreen_screen(1920, 1080, work)
    app = ensure_app(headless=True)

    over = [e for e in simulate("excessive_force_kneading", 1).overforce]
    moment = over[0].start_s + 0.6
    window = played_window(app, work, "excessive_force_kneading", moment, 40, (1600, 1000),
                           "Alex")
    save_window(window, args.out / "live.png")
    window.stop_session()
    window.close()
    print(f"live.png at {moment:.1f} s")

    contact = max(simulate("spine_contact_stroking", 1).spine_contacts, key=lambda e: e.peak_n)
    moment = contact.start_s + 1.5
    window = played_window(app, work, "spine_contact_stroking", moment, 20, (1920, 1080), "Alex")
    window.set_instructor(True)      # full screen on the 1920x1080 offscreen screen
    for _ in range(5):
        assert window.controller is not None
        window.controller.tick()
        app.processEvents()
    assert window.isFullScreen() and window.size().toTuple() == (1920, 1080)
    save_window(window, args.out / "instructor.png")
    window.stop_session()
    window.close()
    print(f"instructor.png at {moment:.1f} s")

    window = played_window(app, work, "excessive_force_kneading", None, 60, (1600, 1100), "Alex")
    window.stop_session()
    app.processEvents()
    save_window(window, args.out / "debrief.png")
    window.close()
    print(f"debrief.png; recordings in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
