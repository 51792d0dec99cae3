"""Before a session: screening answers gate the start, and are stored with the session."""

from __future__ import annotations

import os

from glovecoach.app.main_window import MainWindow
from glovecoach.protocols import default_protocol
from glovecoach.recording import open_recording


def test_contraindication_blocks_the_session(qtbot, sessions_dir):
    window = MainWindow("virtual://?signal=/nonexistent.gcsig", sessions=sessions_dir,
                        trainee="Ann")
    qtbot.addWidget(window)
    screening = window.screening_page
    protocol = default_protocol()
    assert len(screening.answers) == len(protocol.screening) > 0

    screening.tick_all()
    screening.answer_all_no()
    fever = next(q for q in protocol.screening if q.id == "fever")
    screening.answer("fever", True)
    assert screening.start_button.isEnabled()
    with qtbot.waitSignal(screening.refused) as refused:
        assert screening.try_start() is False
    assert fever.question in refused.args[0]
    assert fever.question in screening.reason.text()
    assert window.controller is None
    assert window.pages.currentWidget() is screening
    assert list(sessions_dir.iterdir()) == []


def test_every_question_and_checklist_item_must_be_answered(qtbot):
    window = MainWindow("virtual://?signal=/nonexistent.gcsig", trainee="Ann")
    qtbot.addWidget(window)
    screening = window.screening_page
    screening.tick_all()
    first = next(iter(screening.answers))
    for qid in list(screening.answers)[1:]:
        screening.answer(qid, False)
    assert not screening.start_button.isEnabled()      # one question unanswered
    assert screening.try_start() is False
    screening.answer(first, False)
    assert screening.start_button.isEnabled()
    next(iter(screening.checks.values())).setChecked(False)
    assert not screening.start_button.isEnabled()      # checklist item unticked
    screening.tick_all()
    screening.trainee.setText("  ")
    assert not screening.start_button.isEnabled()      # no trainee name


def test_answers_are_stored_in_the_recording(start_live, signal_cut, sessions_dir):
    signal = signal_cut("good_session", 20.0, 10.0)
    window = start_live(f"virtual://?signal={signal}", trainee="Bea")
    path = window.controller.recording_path
    assert path.parent == sessions_dir
    window.stop_session()
    rec = open_recording(path)
    [note] = rec.notes_of("session_start")
    assert note.payload["trainee"] == "Bea"
    answers = note.payload["screening"]
    assert set(answers) == {q.id for q in default_protocol().screening}
    assert all(a["answer"] == "no" for a in answers.values())
    assert all(item["done"] for item in note.payload["checklist"].values())
    assert rec.metadata["trainee"] == "Bea"
    assert rec.notes_of("report")[0].payload["duration_s"] > 0


def test_connect_page_lists_a_glove_when_it_is_plugged_in(qtbot, signal_cut):
    """The connect screen's scanner probes ports with the real client and firmware."""
    from glovecoach.app.connect import ConnectPage, PortScanner
    from glovecoach.link.virtual_glove import VirtualGlove

    glove = VirtualGlove(signal_path=signal_cut("good_session", 10, 5))
    not_a_glove = "/dev/null"
    try:
        scanner = PortScanner(list_ports=lambda: [p for p in (glove.port, not_a_glove)
                                                  if os.path.exists(p)])
        page = ConnectPage(discover=scanner)
        qtbot.addWidget(page)
        page.show()
        qtbot.waitUntil(lambda: "No glove" in page.status.text(), timeout=10000)
        assert page.port_urls() == []
        glove.plug()
        qtbot.waitUntil(lambda: page.port_urls() == [glove.port], timeout=15000)
        assert "GC-SIM" in page.ports.item(0).text()
        page.ports.setCurrentRow(0)
        with qtbot.waitSignal(page.chosen) as chosen:
            page.use_port_button.click()
        assert chosen.args == [glove.port]
        glove.unplug()
        qtbot.waitUntil(lambda: page.port_urls() == [], timeout=10000)
    finally:
        glove.close()


def test_connect_page_offers_the_virtual_glove(qtbot):
    from glovecoach.app.connect import ConnectPage

    page = ConnectPage(discover=lambda: [])
    qtbot.addWidget(page)
    page.scenario.setCurrentIndex(page.scenario.findData("spine_contact_stroking"))
    with qtbot.waitSignal(page.chosen, timeout=20000) as chosen:
        page.virtual_button.click()
        # the session renders on a worker thread: the window answers meanwhile
        assert not page.virtual_button.isEnabled()
    assert page.virtual_button.isEnabled()
    url = chosen.args[0]
    assert url.startswith("virtual://") and "spine_contact_stroking" in url
    # The offered URL really opens: the firmware boots playing that scenario and says hello.
    from glovecoach.link import GloveClient

    with GloveClient(url, reconnect=False) as client:
        hello = client.connect(timeout=20.0)
    assert hello.board == "unix-sim" and len(hello.channels) == 20


def test_the_hint_beside_start_says_what_keeps_it_disabled(qtbot):
    window = MainWindow("virtual://?signal=/nonexistent.gcsig")
    qtbot.addWidget(window)
    screening = window.screening_page
    window.show()
    hint = screening.start_hint
    assert hint.isVisible() and not screening.start_button.isEnabled()
    assert hint.text().startswith("Enter the trainee's name, answer ")
    screening.answer_all_no()
    screening.tick_all()
    assert hint.text() == "Enter the trainee's name to start."     # the name alone
    assert not screening.start_button.isEnabled()
    screening.trainee.setText("Dana")                               # updated as one types
    assert hint.text() == "" and screening.start_button.isEnabled()
    next(iter(screening.checks.values())).setChecked(False)
    assert hint.text() == "Tick 1 more checklist item to start."
    screening.trainee.setText("")
    first = next(iter(screening.answers))
    group = screening.answers[first]
    group.setExclusive(False)           # an exclusive group cannot be unanswered again
    group.checkedButton().setChecked(False)
    group.setExclusive(True)
    assert hint.text() == ("Enter the trainee's name, answer 1 more screening question and "
                           "tick 1 more checklist item to start.")


def _luminance(c) -> float:
    """WCAG relative luminance of a QColor."""
    def lin(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())


def _indicator_contrast(widget) -> tuple[float, int]:
    """(best contrast ratio against the background, bright pixel count) in the indicator's
    square at the left of the grabbed widget; the background is the grab's corner pixel."""
    from PySide6 import QtWidgets

    image = widget.grab().toImage()
    background = _luminance(image.pixelColor(image.width() - 1, image.height() - 1))
    option = QtWidgets.QStyleOptionButton()
    widget.initStyleOption(option)
    element = (QtWidgets.QStyle.SubElement.SE_RadioButtonIndicator
               if isinstance(widget, QtWidgets.QRadioButton)
               else QtWidgets.QStyle.SubElement.SE_CheckBoxIndicator)
    rect = widget.style().subElementRect(element, option, widget)
    assert rect.width() >= 14 and rect.height() >= 14      # big enough to see and hit
    ratios = []
    for y in range(rect.top(), rect.bottom() + 1):
        for x in range(rect.left(), rect.right() + 1):
            lum = _luminance(image.pixelColor(x, y))
            hi, lo = max(lum, background), min(lum, background)
            ratios.append((hi + 0.05) / (lo + 0.05))
    return max(ratios), sum(1 for r in ratios if r >= 3.0)


def test_unticked_answers_and_checklist_items_are_visible_on_the_dark_theme(qtbot):
    """An unticked radio button or checkbox must stand out from the page: its outline has at
    least 3:1 contrast (WCAG 1.4.11, non-text contrast) over a whole ring of pixels."""
    window = MainWindow("virtual://?signal=/nonexistent.gcsig", trainee="Ann")
    qtbot.addWidget(window)
    window.show()
    screening = window.screening_page
    radio = screening.answers[next(iter(screening.answers))].button(0)
    check = next(iter(screening.checks.values()))
    for widget in (radio, check):
        assert not widget.isChecked()
        ratio, bright = _indicator_contrast(widget)
        assert ratio >= 3.0, (widget.text(), ratio)
        assert bright >= 30, (widget.text(), bright)         # an outline, not a dot
    before = radio.grab().toImage()
    radio.setChecked(True)
    after = radio.grab().toImage()
    assert before != after                                    # ticked looks different
