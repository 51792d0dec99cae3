"""The simulated station: two hands and a spine strip on one timeline, with exact truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from glovecoach.calibration.fsr_model import raw_to_force
from glovecoach.protocols import default_protocol
from glovecoach.simulate import simulate, write_signal_file
from glovecoach.simulate.files import read_signal_file
from glovecoach.simulate.sensors import channel_params
from glovecoach.simulate.station import (
    GLOVE_ROLES,
    HANDS,
    TRUTH_FILE,
    simulate_station,
    write_station_signals,
)
from glovecoach.vocabulary.sensors import GLOVE_CHANNELS, device_map
from glovecoach.vocabulary.station import STATION_ROLES, StationLayout
from glovecoach.vocabulary.techniques import TECHNIQUES

NONE = TECHNIQUES.index("none")


@pytest.fixture(scope="module")
def scripted():
    """A short station with both scripted stretches (different techniques, one hand)."""
    return simulate_station(7, 240, different_techniques=True, one_hand=True)


@pytest.fixture(scope="module")
def spine_station():
    return simulate_station(5, scenario="spine_contact_stroking")


@pytest.fixture(scope="module")
def overforce_station():
    return simulate_station(4, scenario="excessive_force_kneading")


def test_every_device_has_its_own_columns_on_one_timeline(scripted):
    assert scripted.roles == STATION_ROLES
    n = int(round(240 * 200))
    for role in STATION_ROLES:
        assert scripted.channels[role] == device_map(role).ids
        assert scripted.raw[role].shape == (n, len(device_map(role).ids))
        assert scripted.raw[role].dtype == np.uint16
        assert scripted.newtons[role].shape == scripted.raw[role].shape
    assert scripted.raw["left_glove"].shape[1] == 12 and scripted.raw["spine_strip"].shape[1] == 8
    for hand in HANDS:
        assert scripted.labels[hand].shape == (n,)
    station = scripted.station_raw()
    assert station.shape == (n, len(StationLayout.full().columns)) == (n, 32)
    layout = StationLayout.full()
    for role in STATION_ROLES:
        np.testing.assert_array_equal(station[:, layout.slice_of(role)], scripted.raw[role])


def test_the_counts_are_the_true_forces_through_each_device_sensors(scripted):
    for role in STATION_ROLES:
        params = channel_params(scripted.channels[role])
        for c, p in enumerate(params):
            read = raw_to_force(scripted.raw[role][:, c], p)
            true = scripted.newtons[role][:, c]
            loaded = true > 2.0
            # Gain spread 6 %, drift 2 %, repeatability 1 %: well within 20 % where loaded.
            if loaded.any():
                assert np.median(np.abs(read[loaded] / true[loaded] - 1)) < 0.12
    # The two gloves' counts come from different sensors: never the same column of counts.
    assert not np.array_equal(scripted.raw["left_glove"], scripted.raw["right_glove"])


def test_hands_do_the_same_technique_most_of_the_time_but_not_in_lockstep():
    for seed in (1, 2, 3):
        station = simulate_station(seed, 300)
        assert station.stretches == []
        assert station.same_technique_fraction() > 0.85, seed
        left, right = station.newtons["left_glove"], station.newtons["right_glove"]
        assert not np.allclose(left, right)
        # The following hand does what the leading one did, lag_s later: the change of their
        # total force matches best at that shift. (Not checked on stroking: a 3 s stroke
        # changes too slowly for its lag to stand out against each hand's own lifts.)
        checked = 0
        for phase, timing in zip(station.phases, station.timing):
            if timing.technique in ("stroking", "deep_stroking"):
                continue
            a, b = int(phase.start_s * 200) + 600, int(phase.end_s * 200) - 600
            lead = np.diff((left if timing.leading == "left" else right)[a:b].sum(axis=1))
            follow = np.diff((right if timing.leading == "left" else left)[a:b].sum(axis=1))
            score = [np.corrcoef(lead[: len(lead) - s], follow[s:])[0, 1] for s in range(250)]
            assert abs(int(np.argmax(score)) - round(timing.lag_s * 200)) <= 2, (seed, phase)
            assert max(score) > 0.7
            checked += 1
        assert checked >= 2


def test_alternating_techniques_put_the_hands_half_a_cycle_apart():
    station = simulate_station(11, 300)
    kneading = [(p, t) for p, t in zip(station.phases, station.timing) if t.technique == "kneading"]
    assert kneading and all(t.alternating for _, t in kneading)
    for phase, timing in kneading:
        assert 0.3 < timing.lag_s < 1.0      # half of a 0.55-1.45 Hz cycle
        a, b = int(phase.start_s * 200) + 600, int(phase.end_s * 200) - 600
        left = station.newtons["left_glove"][a:b].sum(axis=1)
        right = station.newtons["right_glove"][a:b].sum(axis=1)
        # Squeezing in turn: at zero shift the hands are out of phase.
        assert np.corrcoef(left, right)[0, 1] < 0.0


def test_the_scripted_stretches_are_in_the_labels_and_the_forces(scripted):
    kinds = {s.kind: s for s in scripted.stretches}
    assert set(kinds) == {"different_techniques", "one_hand"}
    diff = kinds["different_techniques"]
    assert diff.left != diff.right and "none" not in (diff.left, diff.right)
    a, b = int(diff.start_s * 200) + 100, int(diff.end_s * 200) - 100
    for hand in HANDS:
        on = scripted.labels[hand][a:b]
        on = on[on != NONE]
        assert np.mean(on == TECHNIQUES.index(diff.technique(hand))) == 1.0
    one = kinds["one_hand"]
    off = "left" if one.left == "none" else "right"
    working = "right" if off == "left" else "left"
    a, b = int(one.start_s * 200), int(one.end_s * 200)
    assert np.all(scripted.labels[off][a:b] == NONE)
    assert np.all(scripted.newtons[GLOVE_ROLES[off]][a:b] == 0.0)
    assert np.mean(scripted.labels[working][a:b] == TECHNIQUES.index(one.technique(working))) > 0.7
    # Outside the two stretches the hands agree as usual.
    assert scripted.same_technique_fraction() < simulate_station(7, 240).same_technique_fraction()


def test_no_stretch_unless_asked():
    assert simulate_station(7, 240).stretches == []
    only = simulate_station(7, 240, one_hand=True).stretches
    assert [s.kind for s in only] == ["one_hand"]


def test_spine_contacts_are_on_the_strip_and_name_the_hand_that_pressed(spine_station):
    threshold = default_protocol().spine.contact_above_baseline_n
    spine = spine_station.newtons["spine_strip"]
    assert spine_station.spine_contacts
    for contact in spine_station.spine_contacts:
        col = spine_station.channels["spine_strip"].index(contact.segment)
        a, b = int(round(contact.start_s * 200)), int(round(contact.end_s * 200))
        over = spine[a:b, col] - spine_station.spine_baseline_n[contact.segment]
        assert over.min() > threshold * 0.9 and over.max() > threshold
        # The hand that pressed is on the back, and its heel carries more than just before.
        labels = spine_station.labels[contact.hand][a:b]
        assert np.mean(labels != NONE) > 0.95
        heel = spine_station.newtons[GLOVE_ROLES[contact.hand]][:, GLOVE_CHANNELS.index("palm_heel")]
        assert heel[(a + b) // 2] >= heel[a - 200]
    # Away from the contacts the strip carries only the partner's resting load (+-4 % breath).
    busy = np.zeros(len(spine), bool)
    for contact in spine_station.spine_contacts:
        busy[int(contact.start_s * 200) - 200:int(contact.end_s * 200) + 200] = True
    baseline = np.array(list(spine_station.spine_baseline_n.values()))
    assert np.all(np.abs(spine[~busy] / baseline - 1) < 0.05)
    # This scenario breaks one rule: no over-force on either glove.
    assert spine_station.overforce == {"left": [], "right": []}


def test_overforce_truth_matches_the_forces_of_each_hand(overforce_station):
    protocol = default_protocol()
    events = [(h, e) for h in HANDS for e in overforce_station.overforce[h]]
    assert len(events) >= 2
    for hand, event in events:
        c = GLOVE_CHANNELS.index(event.region)
        f = overforce_station.newtons[GLOVE_ROLES[hand]][:, c]
        a, b = int(round(event.start_s * 200)), int(round(event.end_s * 200))
        technique = TECHNIQUES[overforce_station.labels[hand][a]]
        _, limit = protocol.force_limit(technique, event.region, "live")
        assert np.all(f[a:b] > limit) and f[a - 1] <= limit
        assert event.peak_n == pytest.approx(float(f[a:b].max()), rel=1e-5)


def test_reproducible_per_seed_and_different_between_seeds():
    a = simulate_station(3, 150, different_techniques=True)
    b = simulate_station(3, 150, different_techniques=True)
    c = simulate_station(4, 150, different_techniques=True)
    for role in STATION_ROLES:
        np.testing.assert_array_equal(a.raw[role], b.raw[role])
        assert not np.array_equal(a.raw[role], c.raw[role])
    assert a.truth_dict() == b.truth_dict()
    assert a.truth_dict() != c.truth_dict()


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown scenario 'nap'"):
        simulate_station(1, scenario="nap")
    with pytest.raises(ValueError, match="rate_hz"):
        simulate_station(1, rate_hz=0)
    with pytest.raises(ValueError, match="too short for"):
        simulate_station(1, 20)


def test_a_hand_as_todays_session(scripted):
    left = scripted.hand_session("left")
    assert left.raw.shape == (scripted.n_samples, 20)
    np.testing.assert_array_equal(left.raw[:, :12], scripted.raw["left_glove"])
    np.testing.assert_array_equal(left.raw[:, 12:], scripted.raw["spine_strip"])
    assert left.truth_dict()["segments"] == scripted.truth_dict()["hands"]["left"]["segments"]


def test_signal_files_and_truth_on_disk(tmp_path, scripted):
    paths = write_station_signals(scripted, tmp_path / "station")
    assert set(paths) == set(STATION_ROLES)
    for role, path in paths.items():
        assert path.name == f"{role}.gcsig"
        rate, raw = read_signal_file(path)
        assert rate == 200
        np.testing.assert_array_equal(raw, scripted.raw[role])
    truth = json.loads((tmp_path / "station" / TRUTH_FILE).read_text())
    assert truth == json.loads(json.dumps(scripted.truth_dict()))
    assert [d["role"] for d in truth["devices"]] == list(STATION_ROLES)
    assert {s["kind"] for s in truth["stretches"]} == {"different_techniques", "one_hand"}


def test_the_single_glove_signal_file_is_unchanged(tmp_path):
    """write_signal_file now goes through write_signal_rows: same bytes as before."""
    import struct

    session = simulate("technique_tour", 3).cut(0, 5)
    path = write_signal_file(session, tmp_path / "s.gcsig")
    expected = struct.pack("<8sHHI", b"GCSIG1\n\0", 20, 200, session.n_samples) \
        + np.ascontiguousarray(session.raw, dtype="<u2").tobytes()
    assert path.read_bytes() == expected
