"""Both hands on the hand map: a left glove is drawn as the right one flipped left to right
(the sensor map's "mirror"), and a map whose device is gone is greyed under a note."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui

from glovecoach.app import theme
from glovecoach.app.widgets.maps import HAND_POSITIONS, HandMap, SpineMap
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS, SPINE_CHANNELS

BRIGHT = np.array([0xff, 0xf3, 0xb0])       # the top of the force colour scale


def _shown(qtbot, widget, size=(420, 460)) -> np.ndarray:
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h = image.width(), image.height()
    return np.frombuffer(image.constBits(), np.uint8).reshape(h, image.bytesPerLine())[:, :w * 3] \
        .reshape(h, w, 3).copy()


def _bright_centre(pixels: np.ndarray) -> tuple[float, float]:
    near = np.abs(pixels.astype(int) - BRIGHT).sum(axis=2) < 30
    ys, xs = np.nonzero(near)
    assert len(xs) > 50, "the pressed sensor was not drawn"
    return float(xs.mean()), float(ys.mean())


def test_the_left_hand_is_the_right_one_mirrored(qtbot):
    left = HandMap(GLOVE_CHANNELS, hand="left")
    right = HandMap(GLOVE_CHANNELS)
    for ch, (x, y) in HAND_POSITIONS.items():
        assert left.position(ch) == pytest.approx((1.0 - x, y))
        assert right.position(ch) == (x, y)
    assert right.title == "Hand (palm side, right)"      # the live view's map is unchanged
    assert left.title == "Hand (palm side, left)"

    # only the thumb pressed, hard: where is it drawn?
    thumb = {"thumb_tip": 40.0}
    left.set_values(thumb)
    right.set_values(thumb)
    lx, ly = _bright_centre(_shown(qtbot, left))
    rx, ry = _bright_centre(_shown(qtbot, right))
    width = 420
    assert rx > width * 0.75 and lx < width * 0.25      # thumb on the viewer's right / left
    assert lx == pytest.approx(width - rx, abs=2) and ly == pytest.approx(ry, abs=1)


def test_the_outline_is_mirrored_too(qtbot):
    left, right = HandMap(GLOVE_CHANNELS, hand="left"), HandMap(GLOVE_CHANNELS)
    for m in (left, right):
        _shown(qtbot, m)
    side, ox, oy = 300.0, 60.0, 40.0

    def pt(x, y):
        from PySide6 import QtCore
        return QtCore.QPointF(ox + x * side, oy + y * side)

    r = right._outline(side, ox, oy, pt).boundingRect()
    m = left._outline(side, ox, oy, pt).boundingRect()
    # x -> (2 ox + side) - x: the mirror line is the middle of the drawing's square
    assert m.left() == pytest.approx(2 * ox + side - r.right(), abs=0.01)
    assert m.width() == pytest.approx(r.width(), abs=0.01)
    assert (m.top(), m.height()) == pytest.approx((r.top(), r.height()), abs=0.01)


def test_a_hand_must_be_left_or_right():
    with pytest.raises(ValueError, match="hand must be one of left, right, got 'both'"):
        HandMap(GLOVE_CHANNELS, hand="both")


def test_a_map_whose_device_is_gone_is_greyed_under_a_note(qtbot):
    hand = HandMap(GLOVE_CHANNELS, hand="left")
    hand.set_values({"thumb_tip": 40.0})
    live = _shown(qtbot, hand)
    hand.set_link_note("left glove: link lost 12 s")
    gone = _shown(qtbot, hand)
    assert hand.link_note == "left glove: link lost 12 s"
    # the bright thumb is veiled: nothing at the top of the scale is left on the map
    assert (np.abs(live.astype(int) - BRIGHT).sum(axis=2) < 30).sum() > 50
    assert (np.abs(gone.astype(int) - BRIGHT).sum(axis=2) < 30).sum() == 0
    # and the note's box is drawn in the alert colour
    red = np.array(theme.qcolor(theme.ALERT_RED).getRgb()[:3])
    assert (np.abs(gone.astype(int) - red).sum(axis=2) < 20).sum() > 100
    hand.set_link_note(None)
    assert (np.abs(_shown(qtbot, hand).astype(int) - BRIGHT).sum(axis=2) < 30).sum() > 50

    strip = SpineMap(SPINE_CHANNELS)
    strip.set_link_note("spine strip: link lost 3 s")
    pixels = _shown(qtbot, strip, (220, 460))
    assert (np.abs(pixels.astype(int) - red).sum(axis=2) < 20).sum() > 100
