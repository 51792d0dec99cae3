"""Window features of the glove's forces, computed for many windows at once.

Input: an array of windows (n_windows, window_len, n_channels) of glove forces in newtons;
output: one `WindowFeatures` of per-window arrays. Each feature is a physical quantity a
person could read off a force plot (docs/technique-recognition.md):

- level: how hard the hand presses while in contact (mean whole-hand force over the samples
  in contact, so a brief lift does not dilute it);
- contact: fraction of the window in contact;
- dominant frequency and periodicity of the force changes (summed spectra of all sensors);
- region shares: which parts of the hand carry the load;
- opposition: correlation of the thumb tip with the index, middle and ring tips (grasping);
- impulsiveness: crest factor, fraction of the window released between hits, impacts counted;
- oscillation: high-frequency (4-15 Hz) force swing relative to the level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from glovecoach.vocabulary.sensors import GLOVE_CHANNELS

CONTACT_N = 1.0             # whole-hand force above which the hand is on the back
HF_BAND_HZ = (4.0, 15.0)    # vibration band (the other techniques' rhythms sit below 4 Hz)
RHYTHM_BAND_HZ = (0.2, 4.0)
LIFT_GUARD_S = 0.1          # a lift's ramps: samples this close to a lift are left out of rhythm
IMPACT_MAX_S = 0.2          # percussion contacts last 20-80 ms; longer ones are not hits

# Regions as the recogniser groups them (finer than the sensor map's: the thumb and the
# palm heel each matter on their own).
REGIONS: dict[str, tuple[str, ...]] = {
    "thumb": ("thumb_tip",),
    "grasp_fingers": ("index_tip", "middle_tip", "ring_tip"),
    "little": ("little_tip",),
    "palm": ("thenar", "hypothenar", "palm_center"),
    "palm_heel": ("palm_heel",),
    "hand_edge": ("hand_edge",),
    "knuckles": ("knuckles_index_middle", "knuckles_ring_little"),
}


@dataclass
class WindowFeatures:
    level_n: np.ndarray         # mean whole-hand force while in contact (0 if never)
    peak_n: np.ndarray          # largest whole-hand force
    contact: np.ndarray         # fraction of samples in contact
    dominant_hz: np.ndarray     # strongest rhythm (0.2-15 Hz) over all sensors
    periodicity: np.ndarray     # share of the varying power within +/-0.3 Hz of dominant_hz
    modulation: np.ndarray      # RMS of the whole-hand force's variation / level
    shares: dict[str, np.ndarray]   # region -> share of the window's mean force
    opposition: np.ndarray      # corr(thumb, index+middle+ring), nan without those sensors
    crest: np.ndarray           # peak / RMS of the whole-hand force
    released: np.ndarray        # fraction of samples below 10 % of the peak
    impacts: np.ndarray         # short contacts (hits): onsets above 20 % of the peak lasting
                                #   on average at most IMPACT_MAX_S; 0 if the contacts are long
    impact_span: np.ndarray     # share of the window between the first and the last hit
    hf_ratio: np.ndarray        # RMS of the 4-15 Hz whole-hand swing / level
    hf_hz: np.ndarray           # strongest frequency inside the 4-15 Hz band

    def row(self, k: int) -> dict[str, float]:
        """One window's features as plain numbers (for docs, debugging and tests)."""
        out = {name: float(getattr(self, name)[k]) for name in (
            "level_n", "peak_n", "contact", "dominant_hz", "periodicity", "modulation",
            "opposition", "crest", "released", "impacts", "impact_span", "hf_ratio", "hf_hz")}
        out.update({f"share_{r}": float(v[k]) for r, v in self.shares.items()})
        return out


def region_columns(channels: Sequence[str]) -> dict[str, list[int]]:
    """Column indices of each recogniser region among `channels` (absent sensors left out)."""
    pos = {c: k for k, c in enumerate(channels)}
    return {region: [pos[c] for c in ids if c in pos] for region, ids in REGIONS.items()}


def glove_columns(channels: Sequence[str]) -> list[int]:
    return [k for k, c in enumerate(channels) if c in GLOVE_CHANNELS]


def _dilate(mask: np.ndarray, d: int) -> np.ndarray:
    """Widen True runs of each row by d samples on both sides."""
    n = mask.shape[1]
    c = np.zeros((mask.shape[0], n + 1), dtype=np.int64)
    np.cumsum(mask, axis=1, out=c[:, 1:])
    i = np.arange(n)
    return (c[:, np.minimum(i + d + 1, n)] - c[:, np.maximum(i - d, 0)]) > 0


def _short_contacts(total: np.ndarray, peak: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Hits per window and the share of the window from first to last hit.

    Hits are contact onsets, counted only if the contacts are brief on average (percussion's
    are; a lift and return during rubbing is not).
    """
    on = total > np.maximum(0.2 * peak, CONTACT_N)[:, None]
    rising = np.zeros_like(on)
    rising[:, 0] = on[:, 0]
    rising[:, 1:] = on[:, 1:] & ~on[:, :-1]
    onsets = rising.sum(axis=1)
    mean_contact_s = on.sum(axis=1) / np.maximum(onsets, 1) / rate_hz
    brief = mean_contact_s <= IMPACT_MAX_S
    n = total.shape[1]
    first = rising.argmax(axis=1)
    last = n - 1 - rising[:, ::-1].argmax(axis=1)
    span = np.where(onsets > 1, (last - first) / n, 0.0)
    return np.where(brief, onsets, 0).astype(np.float64), np.where(brief, span, 0.0)


def _band(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (freqs >= lo) & (freqs <= hi)


def window_features(windows: np.ndarray, channels: Sequence[str], rate_hz: float) -> WindowFeatures:
    """Features of each window. `windows` is (n_windows, window_len, len(channels)) glove forces."""
    x = np.nan_to_num(np.asarray(windows, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    n_w, n, _ = x.shape
    cols = region_columns(channels)
    total = x.sum(axis=2)                                     # (n_w, n)

    in_contact = total > CONTACT_N
    contact = in_contact.mean(axis=1)
    contact_sum = (total * in_contact).sum(axis=1)
    level = np.divide(contact_sum, in_contact.sum(axis=1), out=np.zeros(n_w), where=in_contact.any(axis=1))
    peak = total.max(axis=1)
    rms = np.sqrt((total ** 2).mean(axis=1))
    crest = np.divide(peak, rms, out=np.zeros(n_w), where=rms > 0)
    released = (total < 0.1 * peak[:, None]).mean(axis=1)

    impacts, impact_span = _short_contacts(total, peak, rate_hz)

    # Rhythm is read only while the hand is on the back: lifted samples (widened by the lift's
    # own ramps) are set to each sensor's in-contact mean, so a repositioning lift's step does
    # not pass for a slow stroke or a burst of vibration.
    lifted = _dilate(~in_contact, max(int(LIFT_GUARD_S * rate_hz), 1))
    kept = (~lifted).sum(axis=1)
    mean_kept = np.where(kept[:, None] > 0,
                         (x * ~lifted[:, :, None]).sum(axis=1) / np.maximum(kept, 1)[:, None],
                         x.mean(axis=1))
    x_rhythm = np.where(lifted[:, :, None], mean_kept[:, None, :], x)
    total_rhythm = x_rhythm.sum(axis=2)

    # Spectra: Hann-windowed, zero-padded for a finer frequency grid than 1/window.
    nfft = int(2 ** np.ceil(np.log2(max(2 * n, 256))))
    freqs = np.fft.rfftfreq(nfft, 1.0 / rate_hz)
    hann = np.hanning(n)
    ac = x_rhythm - x_rhythm.mean(axis=1, keepdims=True)
    channel_power = (np.abs(np.fft.rfft(ac * hann[None, :, None], nfft, axis=1)) ** 2).sum(axis=2)
    rhythm = _band(freqs, RHYTHM_BAND_HZ[0], HF_BAND_HZ[1])
    p_r = channel_power[:, rhythm]
    f_r = freqs[rhythm]
    k_dom = p_r.argmax(axis=1)
    dominant = f_r[k_dom]
    near = np.abs(f_r[None, :] - dominant[:, None]) <= 0.3
    periodicity = np.divide((p_r * near).sum(axis=1), p_r.sum(axis=1), out=np.zeros(n_w),
                            where=p_r.sum(axis=1) > 0)

    total_ac = total_rhythm - total_rhythm.mean(axis=1, keepdims=True)
    safe_level = np.maximum(level, CONTACT_N)
    modulation = np.sqrt((total_ac ** 2).mean(axis=1)) / safe_level
    # Parseval with the Hann window's energy: band power -> mean square of that band's swing.
    total_power = np.abs(np.fft.rfft(total_ac * hann[None, :], nfft, axis=1)) ** 2
    hf = _band(freqs, *HF_BAND_HZ)
    scale = 2.0 / (nfft * (hann ** 2).sum())
    hf_ms = total_power[:, hf].sum(axis=1) * scale
    hf_ratio = np.sqrt(hf_ms) / safe_level
    hf_hz = freqs[hf][total_power[:, hf].argmax(axis=1)]

    mean_ch = x.mean(axis=1)                                  # (n_w, ch)
    mean_total = np.maximum(mean_ch.sum(axis=1), 1e-9)
    shares = {r: (mean_ch[:, c].sum(axis=1) / mean_total if c else np.zeros(n_w)) for r, c in cols.items()}

    if cols["thumb"] and cols["grasp_fingers"]:
        thumb = x[:, :, cols["thumb"]].sum(axis=2)
        fingers = x[:, :, cols["grasp_fingers"]].sum(axis=2)
        thumb = thumb - thumb.mean(axis=1, keepdims=True)
        fingers = fingers - fingers.mean(axis=1, keepdims=True)
        denom = np.sqrt((thumb ** 2).sum(axis=1) * (fingers ** 2).sum(axis=1))
        opposition = np.divide((thumb * fingers).sum(axis=1), denom, out=np.zeros(n_w), where=denom > 1e-12)
    else:
        opposition = np.full(n_w, np.nan)

    return WindowFeatures(
        level_n=level, peak_n=peak, contact=contact, dominant_hz=dominant, periodicity=periodicity,
        modulation=modulation, shares=shares, opposition=opposition, crest=crest, released=released,
        impacts=impacts, impact_span=impact_span, hf_ratio=hf_ratio, hf_hz=hf_hz,
    )
