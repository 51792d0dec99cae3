"""Circular rubbing's harmonics are not vibration.

Circular rubbing with the finger pads moves the load from finger to finger: each sensor swings
at the rubbing's pace, but their sum (and the hand without its heaviest finger) loses much of
that rhythm and keeps its second harmonic, 4-7 Hz, inside vibration's band. With a fingertip
left out (stuck, then faulty) the balance tips and that harmonic stood out like a vibration
(tuning seeds 847 and 977). A fast peak at twice or three times a strong slow rhythm is now
read as that rhythm's harmonic; a vibration, which has no such rhythm under it, is still one.
"""

from __future__ import annotations

import numpy as np
import pytest

from glovecoach.engine.technique import TechniqueRecognizer
from glovecoach.simulate.realism import MessyParams, Realism, messy_technique_forces
from glovecoach.simulate.session import simulate_technique
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS

G = {c: k for k, c in enumerate(GLOVE_CHANNELS)}


def labels(forces: np.ndarray, rate: int) -> list[str]:
    return [w.technique for w in TechniqueRecognizer(GLOVE_CHANNELS, rate).process(forces, 0)]


def share(found: list[str], technique: str) -> float:
    return sum(t == technique for t in found) / max(len(found), 1)


def circular_finger_pad_rubbing(rate: int, seed: int, hz: float, left_out: str | None) -> np.ndarray:
    # An irregular hand (tuning seeds 847 and 977): period and amplitude jitter, a missed beat
    # now and then, a quick rise and slow fall.
    realism = Realism(rate_hz=rate, period_jitter=0.22, amplitude_jitter=0.25, missed_beats=0.05,
                      rise_fraction=0.35)
    params = MessyParams("rubbing", "finger_pads", "circular", level_n=22.0, rate_hz=hz, extra={"depth": 0.6})
    rng = np.random.default_rng(seed)
    forces = messy_technique_forces(params, realism, 0.1, 60 * rate, rate, rng)
    forces = forces + 0.3 * rng.standard_normal(forces.shape)
    if left_out:
        forces[:, G[left_out]] = 0.0
    return np.maximum(forces, 0.0)


@pytest.mark.parametrize("left_out", ["ring_tip", "middle_tip", "index_tip", None])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_circular_finger_pad_rubbing_without_a_fingertip_is_rubbing(left_out: str | None, seed: int) -> None:
    rate = 500
    found = labels(circular_finger_pad_rubbing(rate, seed, 2.5, left_out), rate)
    assert share(found, "vibration") <= 0.05, found
    assert share(found, "rubbing") >= 0.9, found


@pytest.mark.parametrize("variant", ["finger_pads", "palm"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vibration_is_still_vibration(variant: str, seed: int) -> None:
    rate = 200
    forces, _ = simulate_technique("vibration", 40.0, seed, rate_hz=rate, variant=variant)
    found = labels(forces, rate)
    assert share(found, "vibration") >= 0.9, found
