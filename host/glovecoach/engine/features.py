"""Window features of the glove's forces, computed for many windows at once.

Input: windows (n_windows, window_len, n_channels) of glove forces in newtons over each
sensor's resting baseline (glovecoach.engine.conditioning), and optionally the conditioned
hand-contact mask of the same samples; output: one `WindowFeatures` of per-window arrays.
Each feature is a physical quantity a person could read off a force plot
(docs/technique-recognition.md):

- level: how hard the hand presses while in contact (mean whole-hand force over the samples
  in contact, so a brief lift does not dilute it);
- contact: fraction of the window in contact;
- rhythm: the strongest slow rhythm (0.2-4.5 Hz) and the strongest fast one (4-15 Hz) of the
  summed spectra of all sensors, each with its *prominence* over the spectrum's own noise
  floor (a peak, not broadband energy: white sensor noise has no peak) and its amplitude with
  the noise floor's share taken out;
- region shares: which parts of the hand carry the load;
- opposition: correlation of the thumb tip with the index, middle and ring tips at the pace of
  a grasp (0.2 s averages, which cancel a 5-15 Hz vibration shared by all digits);
- impulsiveness: the share of the window released between hits, hits counted, judged against
  the whole-hand force's own noise.

Rhythm and shares are computed on the forces averaged down to about `SPECTRAL_RATE_HZ` (every
rhythm the techniques have is under 15 Hz), which makes the spectra of 50-1000 Hz sessions
alike and cheap; level, peak and hits use every sample (percussion's hits last 20-80 ms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from glovecoach.vocabulary.sensors import GLOVE_CHANNELS

CONTACT_N = 1.0             # whole-hand force above which the hand is on the back (no contact mask given)
HF_BAND_HZ = (4.0, 15.0)    # vibration band (the other techniques' rhythms sit below it)
RHYTHM_BAND_HZ = (0.2, 4.5)
PEAK_HALF_WIDTH_HZ = 0.35   # a rhythm's power is read within this of its peak
SPECTRAL_RATE_HZ = 40.0     # rhythm is read on forces averaged down to at least this rate
IMPULSE_RATE_HZ = 100.0     # level, peak and hits on forces averaged down to at least this rate (a
                            # 20 ms hit still spans two samples)
OPPOSITION_SMOOTH_S = 0.2
LIFT_GUARD_S = 0.1          # a lift's ramps: samples this close to a lift are left out of rhythm
IMPACT_MAX_S = 0.2          # percussion contacts last 20-80 ms; longer ones are not hits
HIT_NOISE_SIGMAS = 5.0      # a hit rises this many noise RMS over rest
SQUEEZE_SHARE_MIN = 0.3     # one sensor with this share of the load may be squeezing: the fast
                            # rhythm is read without it too
REST_LINE_PROMINENCE = 8.0  # a spectral line this far over the floor while the hand is off is the
                            # sensors' own (mains hum aliased by the sampling), not the hand's
REST_LINE_MARGIN = 4.0      # ... and this many times its resting power is discounted in contact
                            # (a sensor clipped at zero at rest shows a hum at half its amplitude)
NOISE_STEP_Q25 = 0.4506    # 25th percentile of |step| of white noise, in noise RMS (sqrt(2) x 0.3186)
# A resting floor under the hits is read as rest (a baseline's residue, a sensor stuck at a load)
# if it is at most this share of the peak, the hits rise from it this many times their RMS over
# it (a held load's swing over its troughs does not: a sine's crest is 1.4) and this many noise
# RMS (a light load's noise over its troughs is no hit).
RESIDUE_OF_PEAK_MAX = 0.5
FLOOR_CREST_MIN = 2.2
FLOOR_SWING_SIGMAS = 15.0
RELEASED_NOISE_SIGMAS = 3.0  # released: within this many noise RMS of rest (or under 10 % of the peak)

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
    dominant_hz: np.ndarray     # strongest slow rhythm (0.2-4.5 Hz) over all sensors
    periodicity: np.ndarray     # share of the slow band's power within the peak
    rhythm_prominence: np.ndarray   # slow peak's power / the spectrum's noise floor
    modulation: np.ndarray      # RMS of the whole-hand force's variation / level
    shares: dict[str, np.ndarray]   # region -> share of the window's mean force
    opposition: np.ndarray      # corr(thumb, index+middle+ring) at grasp pace, nan without those sensors
    crest: np.ndarray           # peak / RMS of the whole-hand force
    released: np.ndarray        # fraction of samples at rest (noise) or below 10 % of the peak
    impacts: np.ndarray         # short contacts (hits) lasting on average at most IMPACT_MAX_S; 0 if long
    impact_span: np.ndarray     # share of the window between the first and the last hit
    hf_ratio: np.ndarray        # RMS of the fast peak's whole-hand swing (noise removed) / level
    hf_hz: np.ndarray           # frequency of the strongest fast (4-15 Hz) peak
    hf_prominence: np.ndarray   # fast peak's power / the spectrum's noise floor
    hf_dominance: np.ndarray    # fast peak's power / slow peak's power
    noise_n: np.ndarray         # RMS noise of the whole-hand force (from sample-to-sample steps)
    hf_coherence: np.ndarray    # how much of the sensors' swing at the fast peak rides on their load
    # The same fast-rhythm features for the hand without its most loaded sensor: one finger
    # squeezing hard (an over-force) stops its own sensor shaking and swamps the whole-hand
    # spectrum with its slow rise and fall, while the rest of the hand still vibrates.
    rest_hf_hz: np.ndarray
    rest_hf_ratio: np.ndarray
    rest_hf_prominence: np.ndarray
    rest_hf_dominance: np.ndarray
    rest_hf_coherence: np.ndarray
    # The largest share of the slow rhythm's power (0.2-4.5 Hz, all sensors' spectra summed)
    # that any one sensor holds: several digits rising and falling together (a grasp) spread
    # it, one finger squeezing holds nearly all of it. 0 where nothing swings.
    slow_top_share: np.ndarray
    # Each sensor's share of the window's load while on the back (n_w, ch), rows summing to 1
    # (0 where nothing is loaded): what the hand's level would lose without that sensor.
    channel_share: np.ndarray
    # The same fast-rhythm features for the sensors' sum weighted by their load (see span_features).
    load_hf_hz: np.ndarray
    load_hf_ratio: np.ndarray
    load_hf_prominence: np.ndarray
    load_hf_dominance: np.ndarray
    load_hf_coherence: np.ndarray
    # Power spectrum of the whole-hand force in the latest window spent wholly off the back (or
    # the one given in), to carry into the next windows' features; None while none was seen.
    rest_spectrum: np.ndarray | None = None

    def row(self, k: int) -> dict[str, float]:
        """One window's features as plain numbers (for docs, debugging and tests)."""
        out = {name: float(getattr(self, name)[k]) for name in (
            "level_n", "peak_n", "contact", "dominant_hz", "periodicity", "rhythm_prominence", "modulation",
            "opposition", "crest", "released", "impacts", "impact_span", "hf_ratio", "hf_hz",
            "hf_prominence", "hf_dominance", "noise_n", "hf_coherence", "rest_hf_hz", "rest_hf_ratio",
            "rest_hf_prominence", "rest_hf_dominance", "rest_hf_coherence", "slow_top_share",
            "load_hf_hz", "load_hf_ratio", "load_hf_prominence", "load_hf_dominance", "load_hf_coherence")}
        out.update({f"share_{r}": float(v[k]) for r, v in self.shares.items()})
        return out


def region_columns(channels: Sequence[str]) -> dict[str, list[int]]:
    """Column indices of each recogniser region among `channels` (absent sensors left out)."""
    pos = {c: k for k, c in enumerate(channels)}
    return {region: [pos[c] for c in ids if c in pos] for region, ids in REGIONS.items()}


def glove_columns(channels: Sequence[str]) -> list[int]:
    return [k for k, c in enumerate(channels) if c in GLOVE_CHANNELS]


def _averaging(rate_hz: float, hop: int, min_rate_hz: float) -> int:
    """The largest divisor of the hop that keeps the averaged rate at or above `min_rate_hz`
    (so every window starts on a whole averaged sample)."""
    return max(d for d in range(1, hop + 1) if hop % d == 0 and (rate_hz / d >= min_rate_hz or d == 1))


def decimation(rate_hz: float, hop: int) -> int:
    """Samples averaged into one for the rhythm features (at least SPECTRAL_RATE_HZ)."""
    return _averaging(rate_hz, hop, SPECTRAL_RATE_HZ)


def _dilate(mask: np.ndarray, d: int) -> np.ndarray:
    """Widen True runs of each row by d samples on both sides."""
    n = mask.shape[1]
    c = np.zeros((mask.shape[0], n + 1), dtype=np.int64)
    np.cumsum(mask, axis=1, out=c[:, 1:])
    i = np.arange(n)
    return (c[:, np.minimum(i + d + 1, n)] - c[:, np.maximum(i - d, 0)]) > 0


def _row_median(a: np.ndarray) -> np.ndarray:
    """Median of each row of a 2-D array without NaNs: the same numbers as np.median(a, axis=1)
    by one partial sort, without np.median's NaN checks (which also import numpy.ma, a
    noticeable share of `glovecoach analyze`'s start-up)."""
    n = a.shape[1]
    k = n // 2
    if n % 2:
        return np.partition(a, k, axis=1)[:, k]
    part = np.partition(a, (k - 1, k), axis=1)
    return (part[:, k - 1] + part[:, k]) / 2.0


def _block_mean(x: np.ndarray, d: int) -> np.ndarray:
    """Means of consecutive groups of d rows of x (the last incomplete group dropped): the same
    numbers as x[:m * d].reshape(m, d, ...).mean(axis=1), from d strided slices added in
    order (numpy adds a short axis in order too) instead of a reduction over short rows,
    which is several times slower. Where numpy would sum a group pairwise instead (d >= 8
    with one column: the group is then its innermost axis) the work is left to numpy."""
    m = x.shape[0] // d
    if d == 1:
        return x[:m]
    if d >= 8 and (x.ndim == 1 or x.shape[1] == 1):
        return x[:m * d].reshape(m, d, *x.shape[1:]).mean(axis=1)
    total = x[0:m * d:d].copy()
    for j in range(1, d):
        total += x[j:m * d:d]
    total /= d
    return total


# Lags at which mains hum, aliased by the sampling and the averaging to IMPULSE_RATE_HZ, comes
# back to its own value: 50 Hz hum averaged over 10 ms alternates sample by sample (lag 2),
# 60 Hz hum at 100 or 50 samples a second repeats every 5 samples.
_HUM_FREE_LAGS = (1, 2, 5)


def _noise_rms(total: np.ndarray) -> np.ndarray:
    """White-noise RMS of each row from its steps: their quietest quarter (the 25th percentile
    of |step|, which is 0.45 noise RMS for white noise). Fast percussion sampled at 50 Hz is a
    hit every six or seven samples, each two or three samples long: more than half of the steps
    are hits, but under a quarter of them when released. The steps are taken at a few lags and
    the quietest kept: mains hum makes every step of one lag large (white noise makes them
    alike at any lag), and a hum is no noise against which a hit must stand out."""
    n = total.shape[1]
    best = None
    t32 = total.astype(np.float32)     # (a noise level needs no more digits; twice as fast)
    for lag in _HUM_FREE_LAGS:
        if n <= lag:
            break
        steps = np.abs(t32[:, lag:] - t32[:, :-lag])
        k = (steps.shape[1] - 1) // 4
        q = np.partition(steps, k, axis=1)[:, k]
        best = q if best is None else np.minimum(best, q)
    if best is None:
        return np.zeros(len(total))
    return best.astype(np.float64) / NOISE_STEP_Q25


def _short_contacts(total: np.ndarray, level_on: np.ndarray, rate_hz: float,
                    floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hits per window and the share of the window from first to last hit.

    A hit starts where the whole-hand force rises over `level_on` and ends where it falls
    under half way back to the window's resting `floor` (hysteresis: noise at the threshold
    does not split one hit in two). Hits count only if the contacts are brief on average
    (percussion's are; a lift and return during rubbing is not).
    """
    above = total > level_on[:, None]
    below = total < (0.5 * (level_on + floor))[:, None]
    n = total.shape[1]
    # The state at each sample is the latest crossing's: coded 2 * index + 1 for "over
    # level_on", 2 * index for "under half of it", -1 for neither, the running maximum is
    # the latest crossing and its low bit says which (no gather needed).
    idx2 = 2 * np.arange(n, dtype=np.int32)[None, :]
    last = np.maximum.accumulate(np.where(above, idx2 + 1, np.where(below, idx2, -1)), axis=1)
    on = (last & 1).astype(bool) & (last >= 0)
    rising = np.zeros_like(on)
    rising[:, 0] = on[:, 0]
    rising[:, 1:] = on[:, 1:] & ~on[:, :-1]
    onsets = rising.sum(axis=1)
    mean_contact_s = on.sum(axis=1) / np.maximum(onsets, 1) / rate_hz
    brief = mean_contact_s <= IMPACT_MAX_S
    first = rising.argmax(axis=1)
    last_hit = n - 1 - rising[:, ::-1].argmax(axis=1)
    span = np.where(onsets > 1, (last_hit - first) / n, 0.0)
    return np.where(brief, onsets, 0).astype(np.float64), np.where(brief, span, 0.0)


def _band(freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (freqs >= lo) & (freqs <= hi)


def _peak(power: np.ndarray, freqs: np.ndarray, band: np.ndarray, floor: np.ndarray,
          weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Strongest peak in `band` per row: (frequency, power near it less the noise floor's share,
    prominence = power near it / the floor's share of it, share of the band's power near it).
    `weight` (rows, bins of the band): the peak is where power x weight is largest."""
    p = power[:, band]
    f = freqs[band]
    k = (p * weight).argmax(axis=1) if weight is not None else p.argmax(axis=1)
    hz = f[k]
    near = np.abs(f[None, :] - hz[:, None]) <= PEAK_HALF_WIDTH_HZ
    near_power = (p * near).sum(axis=1)
    noise_power = floor * near.sum(axis=1)
    excess = np.maximum(near_power - noise_power, 0.0)
    prominence = np.divide(near_power, noise_power, out=np.zeros(len(k)), where=noise_power > 0)
    share = np.divide(near_power, p.sum(axis=1), out=np.zeros(len(k)), where=p.sum(axis=1) > 0)
    return hz, excess, prominence, share


def window_features(windows: np.ndarray, channels: Sequence[str], rate_hz: float,
                    contact: np.ndarray | None = None, decimate: int | None = None) -> WindowFeatures:
    """Features of separate windows (n_windows, window_len, len(channels)) of glove forces over
    baseline, with their hand-contact masks (n_windows, window_len) if known."""
    x = np.asarray(windows, dtype=np.float64)
    n_w, n, n_ch = x.shape
    d = decimate or 1
    n = n - n % d
    span = x[:, :n].reshape(n_w * n, n_ch)
    c = None if contact is None else np.asarray(contact, dtype=bool)[:, :n].reshape(n_w * n)
    return span_features(span, c, np.arange(n_w) * n, n, channels, rate_hz, d,
                         impulse_decimation(rate_hz, n))


def impulse_decimation(rate_hz: float, hop: int) -> int:
    """Samples averaged into one for level, peak and hits: keeps at least IMPULSE_RATE_HZ, so a
    20 ms hit still spans two samples."""
    return _averaging(rate_hz, hop, IMPULSE_RATE_HZ)


def _windowed(series: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Rows series[s:s + length] for each start: a strided view when the starts are evenly
    spaced (the recogniser's grid), else a copy."""
    step = int(starts[1] - starts[0]) if len(starts) > 1 else 1
    first = int(starts[0]) if len(starts) else 0
    if (len(starts) and step > 0 and 0 <= first and first + (len(starts) - 1) * step + length <= len(series)
            and np.all(np.diff(starts) == step)):
        # The view sliding_window_view would give, made directly (its checks cost more than
        # the features of a short block).
        return as_strided(series[first:], (len(starts), length) + series.shape[1:],
                          (step * series.strides[0],) + series.strides, writeable=False)
    out = sliding_window_view(series, length, axis=0)[starts]
    return np.moveaxis(out, -1, 1) if series.ndim == 2 else out


def _column_sum(x: np.ndarray, cols: list[int]) -> np.ndarray:
    """x[..., cols].sum(axis=-1) for a few columns: the same numbers (numpy adds fewer than 8
    in order) from the columns themselves, without gathering them into a copy first."""
    if len(cols) >= 8:
        return x[..., cols].sum(axis=-1)
    total = np.array(x[..., cols[0]])
    for c in cols[1:]:
        total += x[..., c]
    return total


def span_features(span: np.ndarray, contact: np.ndarray | None, starts: np.ndarray, window: int,
                  channels: Sequence[str], rate_hz: float, d_spec: int, d_imp: int,
                  rest_spectrum: np.ndarray | None = None) -> WindowFeatures:
    """Features of the windows [s, s + window) of one contiguous span of samples.

    `span` (N, ch) glove forces over baseline; `contact` (N,) the hand-on-the-back mask or
    None; `starts` window starts, multiples of `d_spec` and `d_imp` (the averaging factors of
    the rhythm and of the hit features). Per-sample work is done once for the span, not once
    per overlapping window. `rest_spectrum`: the whole-hand power spectrum of the latest window
    before the span spent wholly off the back (`WindowFeatures.rest_spectrum` of the previous
    span), whose steady lines are the sensors' own and not taken for the hand's fast rhythm.
    """
    x = np.asarray(span, dtype=np.float64)
    if not np.isfinite(x.sum()):
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
    N, n_ch = x.shape
    starts = np.asarray(starts, dtype=np.int64)
    n_w = len(starts)
    cols = region_columns(channels)
    total = x.sum(axis=1)
    in_contact = np.asarray(contact, dtype=bool) if contact is not None else total > CONTACT_N

    # Level and contact share: window sums by cumulative sums over the span.
    cs_c = np.concatenate([[0], np.cumsum(in_contact, dtype=np.int64)])
    cs_tc = np.concatenate([[0.0], np.cumsum(np.where(in_contact, total, 0.0))])
    n_contact = cs_c[starts + window] - cs_c[starts]
    contact_frac = n_contact / window
    level = np.divide(cs_tc[starts + window] - cs_tc[starts], n_contact, out=np.zeros(n_w), where=n_contact > 0)

    # Peak, release and hits at >= IMPULSE_RATE_HZ.
    ti = _block_mean(total, d_imp) if d_imp > 1 else total
    wi = window // d_imp
    tw = _windowed(ti, starts // d_imp, wi)                  # (n_w, wi)
    peak = tw.max(axis=1)
    # Window means and mean squares by cumulative sums (the windows overlap).
    si = starts // d_imp
    cs1 = np.concatenate([[0.0], np.cumsum(ti)])
    cs2 = np.concatenate([[0.0], np.cumsum(ti * ti)])
    mean_i = (cs1[si + wi] - cs1[si]) / wi
    ms = np.maximum((cs2[si + wi] - cs2[si]) / wi, 0.0)
    rms = np.sqrt(ms)
    crest = np.divide(peak, rms, out=np.zeros(n_w), where=rms > 0)
    noise = _noise_rms(tw)
    # Released and hits are read over the window's own resting floor (its 10th percentile, when
    # over zero): a baseline that could not follow the sensors while the hits went on (contact
    # bridges the gaps between fast hits; mains hum aliased to a slowly wandering offset at
    # 50 Hz) leaves the rest between hits a newton or two over zero.
    k10 = (wi - 1) // 10
    floor = np.maximum(np.partition(tw, k10, axis=1)[:, k10], 0.0)
    # ... as long as what rises from it spikes like hits: a held load's troughs (rubbing's, a
    # vibration's) are a floor too, but the load swings smoothly over them.
    over = np.sqrt(np.maximum(ms - 2.0 * floor * mean_i + floor ** 2, 0.0))
    spiky = ((peak - floor) >= FLOOR_CREST_MIN * over) & ((peak - floor) >= FLOOR_SWING_SIGMAS * noise)
    floor = np.where(spiky & (floor <= RESIDUE_OF_PEAK_MAX * peak), floor, 0.0)
    swing = peak - floor
    rest_level = floor + np.maximum(0.1 * swing, RELEASED_NOISE_SIGMAS * noise)
    released = (tw < rest_level[:, None]).mean(axis=1)
    hit_level = floor + np.maximum.reduce([0.2 * swing, np.full(n_w, CONTACT_N), HIT_NOISE_SIGMAS * noise])
    impacts, impact_span = _short_contacts(tw, hit_level, rate_hz / d_imp, floor)

    # Rhythm and shares on forces averaged down to ~40-80 Hz (all rhythms are under 15 Hz).
    d = d_spec
    M = N // d
    xs = _block_mean(x, d) if d > 1 else x
    if d > 1:   # in contact for most of the averaged samples (the count, not a mean of bools)
        cs = in_contact[0:M * d:d].astype(np.int32)
        for j in range(1, d):
            cs += in_contact[j:M * d:d]
        cs = 2 * cs > d
    else:
        cs = in_contact
    fs = rate_hz / d
    m = window // d
    sd = starts // d
    xd = _windowed(xs, sd, m)                                # (n_w, m, ch)
    cd = _windowed(cs, sd, m)                                # (n_w, m)

    # Rhythm is read only while the hand is on the back: lifted samples (widened by the lift's
    # own ramps) are set to each sensor's in-contact mean, so a repositioning lift's step does
    # not pass for a slow stroke or a burst of vibration.
    lifted = _dilate(~cd, max(int(round(LIFT_GUARD_S * fs)), 1))
    kept = (~lifted).sum(axis=1)
    sums = np.einsum("wmc,wm->wc", xd, (~lifted).astype(np.float64))
    mean_ch = xd.mean(axis=1)                                # (n_w, ch)
    mean_kept = np.where(kept[:, None] > 0, sums / np.maximum(kept, 1)[:, None], mean_ch)
    # (Centred already: the kept samples less their own mean sum to zero, the lifted ones are zero.)
    ac = xd - mean_kept[:, None, :]
    np.copyto(ac, 0.0, where=lifted[:, :, None])
    total_ac = ac.sum(axis=2)

    # Spectra: Hann-windowed, zero-padded for a finer frequency grid than 1/window.
    nfft = int(2 ** np.ceil(np.log2(max(1.5 * m, 64))))
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    hann = np.hanning(m)
    # One FFT per window and sensor, over contiguous rows (window, sensor, time): the taper is
    # written straight into that layout, zero-padded to nfft (so the FFT makes no padded copy
    # of its own), in float32 (computed in float64, rounded on the way).
    tapered = np.zeros((n_w, n_ch, nfft), dtype=np.float32)
    np.multiply(ac, hann[None, :, None], out=tapered[:, :, :m].transpose(0, 2, 1), casting="unsafe")
    spectra = np.fft.rfft(tapered, axis=2)                             # (n_w, ch, f)
    channel_power = (spectra.real ** 2 + spectra.imag ** 2).sum(axis=1, dtype=np.float64)
    total_spec = spectra.sum(axis=1)                                   # the FFT is linear
    total_power = total_spec.real ** 2 + total_spec.imag ** 2
    # The noise floor of a spectrum: the median of its bins from 0.5 Hz to 0.9 x Nyquist (a
    # rhythm's peak and its few harmonics are a small minority of those bins).
    floor_band = _band(freqs, 0.5, 0.9 * fs / 2)
    ch_floor = _row_median(channel_power[:, floor_band])
    tot_floor = _row_median(total_power[:, floor_band])

    slow = _band(freqs, *RHYTHM_BAND_HZ)
    dominant, _, rhythm_prom, periodicity = _peak(channel_power, freqs, slow, ch_floor)
    slow_bins = np.flatnonzero(slow)
    slow_spec = spectra[:, :, int(slow_bins[0]):int(slow_bins[-1]) + 1] if len(slow_bins) else spectra[:, :, :0]
    per_sensor = (slow_spec.real ** 2 + slow_spec.imag ** 2).sum(axis=2, dtype=np.float64)    # (n_w, ch)
    slow_all = per_sensor.sum(axis=1)
    slow_top = np.divide(per_sensor.max(axis=1) if n_ch else np.zeros(n_w), slow_all,
                         out=np.zeros(n_w), where=slow_all > 0)
    # The fast rhythm on the whole-hand force: a vibration moves every loaded sensor together,
    # so their swings add up while their noises do not.
    fast = _band(freqs, HF_BAND_HZ[0], min(HF_BAND_HZ[1], 0.95 * fs / 2))
    rest_spectrum, line = _rest_lines(xd, cd, hann, nfft, floor_band, fast, n_w, rest_spectrum)
    # The fast peak is looked for where the power rides on the load (a vibration beside a
    # stronger hum line is still found).
    fast_bins = np.flatnonzero(fast)
    fast_slice = slice(int(fast_bins[0]), int(fast_bins[-1]) + 1) if len(fast_bins) else slice(0, 0)
    coherent = _coherence_spectrum(spectra[:, :, fast_slice], np.maximum(mean_kept, 0.0),
                                   channel_power[:, fast_slice], ch_floor)
    hf_hz, hf_excess, hf_prom, _ = _peak(_discount(total_power, line, tot_floor), freqs, fast, tot_floor, coherent)
    hf_coherence = _load_coherence(spectra, freqs, hf_hz, np.maximum(mean_kept, 0.0), ch_floor)
    _, slow_total_excess, _, _ = _peak(total_power, freqs, slow, tot_floor)
    hf_dominance = np.divide(hf_excess, slow_total_excess, out=np.full(n_w, np.inf), where=slow_total_excess > 0)
    # The fast peak's swing: its power less the floor's share, through Parseval with the Hann
    # window's energy to a mean square.
    scale = 2.0 / (nfft * (hann ** 2).sum())
    safe_level = np.maximum(level, CONTACT_N)
    hf_ratio = np.sqrt(hf_excess * scale) / safe_level
    modulation = np.sqrt((total_ac ** 2).mean(axis=1)) / safe_level

    # Without the most loaded sensor (see WindowFeatures.rest_hf_hz), where one sensor carries
    # a large share of the load (a squeeze does); elsewhere the same as the whole hand's.
    load = np.maximum(mean_kept, 0.0)
    heaviest = load.argmax(axis=1)
    w_idx = np.arange(n_w)
    top = load[w_idx, heaviest]
    r_hz, r_ratio, r_prom, r_dominance, r_coherence = (a.copy() for a in (hf_hz, hf_ratio, hf_prom, hf_dominance,
                                                                           hf_coherence))
    sub = np.flatnonzero(top >= SQUEEZE_SHARE_MIN * np.maximum(load.sum(axis=1), 1e-9))
    if len(sub):
        hs = heaviest[sub]
        rest_spec = total_spec[sub] - spectra[sub, hs, :]
        rest_power = rest_spec.real ** 2 + rest_spec.imag ** 2
        rest_floor = _row_median(rest_power[:, floor_band])
        r_load = load[sub].copy()
        r_load[np.arange(len(sub)), hs] = 0.0
        spec_s = spectra[sub]
        own = spec_s[np.arange(len(sub)), hs, fast_slice]
        ch_fast = channel_power[sub, fast_slice] - (own.real ** 2 + own.imag ** 2)
        hz_s, ex_s, prom_s, _ = _peak(_discount(rest_power, None if line is None else line[sub], rest_floor),
                                      freqs, fast, rest_floor,
                                      _coherence_spectrum(spec_s[:, :, fast_slice], r_load, ch_fast, ch_floor[sub]))
        _, slow_s, _, _ = _peak(rest_power, freqs, slow, rest_floor)
        r_hz[sub], r_prom[sub] = hz_s, prom_s
        r_dominance[sub] = np.divide(ex_s, slow_s, out=np.full(len(sub), np.inf), where=slow_s > 0)
        r_ratio[sub] = np.sqrt(ex_s * scale) / np.maximum(level[sub] - top[sub], CONTACT_N)
        r_coherence[sub] = _load_coherence(spec_s, freqs, hz_s, r_load, ch_floor[sub])

    load_total = load.sum(axis=1)
    channel_share = np.divide(load, load_total[:, None], out=np.zeros_like(load), where=load_total[:, None] > 0)

    # The fast rhythm on the sum of the sensors weighted by their load: a vibration's swing
    # is proportional to each sensor's load, so this sum adds the swings of the loaded sensors
    # and hardly any of the idle ones' noise (a light finger-pad vibration, 3.5 N read with
    # 0.3 N of noise on every sensor at 50 Hz, stood 3-8 times over the whole hand's floor and
    # 8-40 times over this sum's: tuning seed 1306).
    weighted = np.einsum("wcf,wc->wf", spectra, channel_share.astype(np.float32))
    w_power = (weighted.real ** 2 + weighted.imag ** 2).astype(np.float64)
    w_floor = _row_median(w_power[:, floor_band])
    w_hz, w_excess, w_prom, _ = _peak(w_power, freqs, fast, w_floor, coherent)
    _, w_slow, _, _ = _peak(w_power, freqs, slow, w_floor)
    w_dominance = np.divide(w_excess, w_slow, out=np.full(n_w, np.inf), where=w_slow > 0)
    w_swing_level = np.maximum((channel_share * load).sum(axis=1), 1e-9)
    w_ratio = np.sqrt(w_excess * scale) / w_swing_level
    w_coherence = _load_coherence(spectra, freqs, w_hz, load, ch_floor)
    if line is not None:
        # A steady line the sensors showed at rest (mains hum) near this peak: the weighted sum
        # cannot discount it (the line is known as the whole hand's power), so it says nothing.
        near = np.abs(freqs[None, :] - w_hz[:, None]) <= PEAK_HALF_WIDTH_HZ
        w_prom = np.where((line * near > 0).any(axis=1), 0.0, w_prom)
    mean_ch = np.maximum(mean_ch, 0.0)
    mean_total = np.maximum(mean_ch.sum(axis=1), 1e-9)
    shares = {r: (mean_ch[:, c].sum(axis=1) / mean_total if c else np.zeros(n_w)) for r, c in cols.items()}

    if cols["thumb"] and cols["grasp_fingers"]:
        k = max(int(round(OPPOSITION_SMOOTH_S * fs)), 1)
        thumb = _boxcar(_column_sum(xd, cols["thumb"]), k)
        fingers = _boxcar(_column_sum(xd, cols["grasp_fingers"]), k)
        thumb = thumb - thumb.mean(axis=1, keepdims=True)
        fingers = fingers - fingers.mean(axis=1, keepdims=True)
        denom = np.sqrt((thumb ** 2).sum(axis=1) * (fingers ** 2).sum(axis=1))
        opposition = np.divide((thumb * fingers).sum(axis=1), denom, out=np.zeros(n_w), where=denom > 1e-12)
    else:
        opposition = np.full(n_w, np.nan)

    return WindowFeatures(
        level_n=level, peak_n=peak, contact=contact_frac, dominant_hz=dominant, periodicity=periodicity,
        rhythm_prominence=rhythm_prom, modulation=modulation, shares=shares, opposition=opposition, crest=crest,
        released=released, impacts=impacts, impact_span=impact_span, hf_ratio=hf_ratio, hf_hz=hf_hz,
        hf_prominence=hf_prom, hf_dominance=hf_dominance, noise_n=noise, hf_coherence=hf_coherence,
        rest_hf_hz=r_hz, rest_hf_ratio=r_ratio, rest_hf_prominence=r_prom, rest_hf_dominance=r_dominance,
        rest_hf_coherence=r_coherence, slow_top_share=slow_top, channel_share=channel_share,
        load_hf_hz=w_hz, load_hf_ratio=w_ratio, load_hf_prominence=w_prom, load_hf_dominance=w_dominance,
        load_hf_coherence=w_coherence,
        rest_spectrum=rest_spectrum,
    )


def _coherence_spectrum(spectra: np.ndarray, load: np.ndarray, ch_power: np.ndarray, ch_floor: np.ndarray
                        ) -> np.ndarray:
    """Per bin, the share of the sensors' power that a swing proportional to each sensor's load
    explains (see `_load_coherence`, which reads it near one peak): spectra (w, ch, f), load
    (w, ch), ch_power (w, f) the sensors' summed power, ch_floor (w,) its noise floor."""
    along = np.einsum("wc,wcf->wf", load.astype(np.float32), spectra)
    l2 = (load ** 2).sum(axis=1)
    explained = np.divide(along.real ** 2 + along.imag ** 2, l2[:, None], out=np.zeros(along.shape),
                          where=l2[:, None] > 0)
    power = ch_power - ch_floor[:, None]
    return np.clip(np.divide(explained, power, out=np.zeros(along.shape), where=power > 0), 0.0, 1.0)


def _load_coherence(spectra: np.ndarray, freqs: np.ndarray, hz: np.ndarray, load: np.ndarray,
                    ch_floor: np.ndarray) -> np.ndarray:
    """Share of the sensors' power near the fast peak that a swing proportional to each
    sensor's load explains (0..1): |sum_c L_c S_c|^2 / (sum_c L_c^2 sum_c |S_c|^2) over the
    peak's bins, with the noise floor's share taken out of the sensors' power.

    A vibration shakes the hand's load: every loaded sensor swings in step, by the same share
    of its own load, and an idle one does not swing at all (near 1). A line picked up by the
    sensors themselves (mains hum) has its own amplitude and phase on each sensor, idle ones
    included, whatever the load (about one over the number of sensors).
    """
    n_w = spectra.shape[0]
    step = freqs[1] - freqs[0]
    centre = np.rint(hz / step).astype(np.int64)
    half = max(int(PEAK_HALF_WIDTH_HZ / step), 0)
    offsets = np.arange(-half, half + 1)
    bins = np.clip(centre[:, None] + offsets[None, :], 0, len(freqs) - 1)          # (n_w, b)
    rows = np.arange(n_w)[:, None, None]
    s = spectra[rows, np.arange(spectra.shape[1])[None, :, None], bins[:, None, :]]   # (n_w, ch, b)
    s = s.astype(np.complex128)
    power = (s.real ** 2 + s.imag ** 2).sum(axis=(1, 2)) - ch_floor * bins.shape[1]
    l2 = (load ** 2).sum(axis=1)
    along = np.einsum("wc,wcb->wb", load, s)
    explained = np.divide((along.real ** 2 + along.imag ** 2).sum(axis=1), l2, out=np.zeros(n_w), where=l2 > 0)
    return np.clip(np.divide(explained, power, out=np.zeros(n_w), where=power > 0), 0.0, 1.0)


def _discount(power: np.ndarray, line: np.ndarray | None, floor: np.ndarray) -> np.ndarray:
    """`power` less REST_LINE_MARGIN times the sensors' own lines (`_rest_lines`), never below
    the spectrum's noise floor."""
    if line is None:
        return power
    return np.where(line > 0, np.maximum(power - REST_LINE_MARGIN * line, floor[:, None]), power)


def _rest_lines(xd: np.ndarray, cd: np.ndarray, hann: np.ndarray, nfft: int, floor_band: np.ndarray,
                fast: np.ndarray, n_w: int, carry: np.ndarray | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(the latest resting spectrum, the power of the sensors' own lines per window and bin, or
    None where there is nothing to discount).

    Mains hum (50 or 60 Hz) sampled at 50-100 Hz aliases to a steady line, 10 Hz for 60 Hz
    hum at 50 Hz, inside vibration's band; no averaging before the spectrum removes it, and
    on a light stroke it can stand out like a vibration. Such a line is there whatever the hand
    does, so it shows while the hand is off the back, where nothing else moves: each window
    spent wholly off the back gives the whole-hand spectrum there, and every later window
    (until the next such one) has that spectrum's prominent fast-band lines taken off its own
    (`_discount`), times a margin, never below its noise floor. Only the fast band is touched: a slow line
    could not pass for any technique's rhythm that the slow features do not already doubt.
    """
    off = ~cd.any(axis=1)
    if not off.any() and carry is None:
        return None, None
    rows = np.flatnonzero(off)
    if len(rows):
        tot = xd[rows].sum(axis=2)
        tot -= tot.mean(axis=1, keepdims=True)
        spec = np.fft.rfft(tot * hann[None, :], n=nfft, axis=1)
        rest = spec.real ** 2 + spec.imag ** 2                    # (n_off, f)
    else:
        rest = np.zeros((0, nfft // 2 + 1))
    if carry is not None and carry.shape == (nfft // 2 + 1,):
        rest = np.concatenate([carry[None, :], rest])
        rows = np.concatenate([[-1], rows])
    elif carry is not None:
        carry = None
    # The latest resting window at or before each window (-1: the carried one; none: no discount).
    at = np.maximum.accumulate(np.where(off, np.arange(n_w), -1))
    which = np.searchsorted(rows, at)                # index into `rest` of that window
    seen = (at >= 0) | (carry is not None)
    if not seen.any():
        return None, None
    floor = _row_median(rest[:, floor_band])
    lines = (rest > REST_LINE_PROMINENCE * floor[:, None]) & fast[None, :]
    if not lines.any():
        return rest[-1], None
    which = np.where(at >= 0, which, 0)
    return rest[-1], np.where(lines[which] & seen[:, None], rest[which], 0.0)


def _boxcar(x: np.ndarray, k: int) -> np.ndarray:
    """Moving average of each row over k samples (valid part only)."""
    if k <= 1 or x.shape[1] <= k:
        return x
    c = np.cumsum(x, axis=1)
    return (c[:, k:] - c[:, :-k]) / k
