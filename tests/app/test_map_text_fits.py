"""Words on the hand and spine maps are shrunk, reworded or elided to their box, never clipped
(at 1366x768 the knuckles' caption was cut at both ends)."""

from __future__ import annotations

from PySide6 import QtCore, QtGui

from glovecoach.app.widgets.maps import MIN_TEXT_PT, fitted_text

CAPTION = ("squares: knuckles, on the back of the hand", "squares: knuckles (back of hand)", "\u25a1 knuckles")


def advance(font: QtGui.QFont, words: str) -> float:
    return QtGui.QFontMetricsF(font).horizontalAdvance(words)


def test_a_wide_box_gets_the_whole_caption_at_the_size_asked(qapp):
    font, words = fitted_text(QtCore.QRectF(0, 0, 600, 30), CAPTION, 9)
    assert words == CAPTION[0] and font.pointSizeF() == 9


def test_a_narrow_box_gets_a_shorter_wording_that_fits(qapp):
    width = advance(fitted_text(QtCore.QRectF(0, 0, 600, 30), CAPTION, 9)[0], CAPTION[0]) * 0.7
    font, words = fitted_text(QtCore.QRectF(0, 0, width, 30), CAPTION, 9)
    assert words in CAPTION[1:] and advance(font, words) <= width
    assert font.pointSizeF() >= MIN_TEXT_PT


def test_a_box_too_small_for_any_wording_gets_it_elided_not_clipped(qapp):
    font, words = fitted_text(QtCore.QRectF(0, 0, 30, 30), CAPTION, 9)
    assert words.endswith("\u2026") and advance(font, words) <= 30
