"""Onset envelope, tempo and onset rate from a log-mel spectrogram (numpy only; librosa is the test reference).

Tempo: the autocorrelation ``r`` of the onset envelope is scored for every tempo on a 0.1-BPM grid between 40 and
240 BPM as the harmonic sum ``Σ_k r(k·L) / k`` (k = 1…4, L the beat period in frames, ``r`` linearly interpolated,
so the answer is not tied to librosa's frame-lag grid: 120 BPM reads 120.2, not 117.5 or 123.0), times a log-normal
prior on tempo (centre 127 BPM, σ one octave; librosa centres on 120, which tips 180 → 90).

Measured while choosing this (bench notes in docs/audio.md): a variant that also punished periodicity at half the
period fixed half-tempo errors on click tracks but made 3:2 errors on real music with strong eighth notes, which
are worse than octave errors; this harmonic sum agreed with librosa's tempo on 16/20 real clips and avoids the 3:2
errors. Octave ambiguity remains, as for any autocorrelation method: a fast kick/snare backbeat (175–190 BPM) can
read at half tempo, a slow one with straight eighth-note hi-hats at double.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

__all__ = ["onset_envelope", "tempo", "onset_rate"]

MIN_BPM, MAX_BPM = 40.0, 240.0
PRIOR_CENTRE_BPM, PRIOR_OCTAVES = 127.0, 1.0
N_HARMONICS = 4
UPSAMPLE = 4


def onset_envelope(mel_db: np.ndarray) -> np.ndarray:
    """Spectral flux of the log-mel spectrogram: mean over bands of the positive frame-to-frame increase (as
    ``librosa.onset.onset_strength``); same length as the spectrogram, first frame 0."""
    import numpy as np

    env = np.zeros(mel_db.shape[1], dtype=np.float32)
    if mel_db.shape[1] > 1:
        d = np.diff(mel_db, axis=1)
        np.maximum(d, 0.0, out=d)
        env[1:] = d.mean(axis=0)
    return env


def _interp(r: np.ndarray, lags: np.ndarray, step: float = 1.0) -> np.ndarray:
    """``r`` (sampled every ``step`` frames) at fractional lags, linearly interpolated; 0 past its end."""
    import numpy as np

    return np.interp(lags, np.arange(r.size) * step, r, right=0.0)


def tempo(env: np.ndarray, fps: float) -> tuple[float, float]:
    """(tempo in BPM, confidence 0–1) of an onset envelope sampled at ``fps`` frames per second; (0, 0) when there is
    no periodicity to find (silence, a single hit, too short)."""
    import numpy as np

    x = np.asarray(env, dtype=np.float64)
    x = x - x.mean()
    n = x.size
    if n < 8 or not np.any(x):
        return 0.0, 0.0
    spec = np.fft.rfft(x, 2 * n)
    # The autocorrelation sampled UPSAMPLE× finer than the frame grid (zero-padding the power spectrum is
    # band-limited interpolation), so the period is located to a fraction of a frame even at low frame rates.
    r = np.fft.irfft(spec.real**2 + spec.imag**2, 2 * n * UPSAMPLE)[: n * UPSAMPLE]
    if r[0] <= 0:
        return 0.0, 0.0
    r /= r[0]
    bpm = np.arange(MIN_BPM, MAX_BPM + 1e-9, 0.1)
    period = 60.0 * fps / bpm  # frames per beat
    k = np.arange(1, N_HARMONICS + 1)[:, None]
    step = 1.0 / UPSAMPLE
    harmonic = (_interp(r, k * period, step) / k).sum(axis=0) / (1.0 / k).sum()
    prior = np.exp(-0.5 * (np.log2(bpm / PRIOR_CENTRE_BPM) / PRIOR_OCTAVES) ** 2)
    score = harmonic * prior
    best = int(np.argmax(score))
    if score[best] <= 0:
        return 0.0, 0.0
    conf = float(np.clip(_interp(r, np.array([period[best]]), step)[0], 0.0, 1.0))
    return float(np.round(bpm[best], 1)), conf


def onset_rate(env: np.ndarray, fps: float) -> float:
    """Onsets per second: peaks of the normalised envelope that are the local maximum within ±30 ms, exceed the
    mean of the surrounding ±100 ms by 0.07 and are 30 ms apart (librosa.onset.onset_detect's defaults)."""
    import numpy as np
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    x = np.asarray(env, dtype=np.float64)
    if x.size < 3:
        return 0.0
    x = x - x.min()
    top = x.max()
    if top <= 1e-9:
        return 0.0
    x /= top
    w_max = max(1, int(round(0.03 * fps)))
    w_avg = max(1, int(round(0.10 * fps)))
    is_max = x >= maximum_filter1d(x, 2 * w_max + 1, mode="constant")
    above = x >= uniform_filter1d(x, 2 * w_avg + 1, mode="nearest") + 0.07
    cand = np.flatnonzero(is_max & above)
    count, last = 0, -(10**9)
    for i in cand:
        if i - last > w_max:
            count += 1
            last = i
    return count / (x.size / fps)
