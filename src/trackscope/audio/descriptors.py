"""Audio descriptors — what trackscope gives users instead of Spotify's audio features.

:func:`describe` turns mono audio into one flat ``dict[str, float]`` (no NaN, ever); :data:`DESCRIPTORS` names each
value's unit and meaning (the docs and reports are generated from it).

Speed: one centred STFT (n_fft 2048, hop 512, Hann) is computed in blocks and shared by every spectral descriptor,
the mel spectrogram (→ MFCC, onset envelope → tempo and onset rate, harmonic/percussive split) and the chroma (→ key).
Loudness works on the waveform (K-weighting IIR, chunked). Only numpy/scipy: librosa is the reference in the tests,
never imported here. Memory stays bounded for long songs: per-frame series are small, spectra live one block at a time.

Definitions follow librosa's where librosa has one (spectral centroid/bandwidth/roll-off/flatness/contrast, MFCC,
zero-crossing rate), ITU-R BS.1770-4 for integrated loudness and EBU Tech 3342 for loudness range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trackscope._threads import one_blas_thread
from trackscope.audio import rhythm
from trackscope.audio.loudness import integrated_loudness
from trackscope.audio.mel import n_frames, power_to_db, sparse_mel_filterbank
from trackscope.audio.spectral import (
    CONTRAST_BANDS,
    ROLLOFF,
    chroma_filterbank,
    contrast,
    contrast_bands,
    frame_blocks,
    hpss_ratio,
    rms_zcr,
    rolloff_bins,
)
from trackscope.constants import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE
from trackscope.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["DESCRIPTORS", "describe", "describe_with_mel", "describe_file", "key_name", "PITCH_CLASSES", "KEY_PROFILES"]

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
N_MFCC = 20

# Key profiles (major, minor), tonic first. Krumhansl & Kessler (1982) probe-tone ratings; Temperley (1999).
KEY_PROFILES = {
    "krumhansl": (
        (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88),
        (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17),
    ),
    "temperley": (
        (5.0, 2.0, 3.5, 2.0, 4.5, 4.0, 2.0, 4.5, 2.0, 3.5, 1.5, 4.0),
        (5.0, 2.0, 3.5, 4.5, 2.0, 4.0, 2.0, 4.5, 3.5, 2.0, 1.5, 4.0),
    ),
}


def _table() -> dict[str, tuple[str, str]]:
    t: dict[str, tuple[str, str]] = {
        "duration": ("s", "length of the analysed audio"),
        "tempo": ("BPM", "beats per minute: strongest periodicity of the onset envelope (autocorrelation, 40–240)"),
        "tempo_confidence": ("0–1", "how periodic the onset envelope is at that tempo (normalised autocorrelation)"),
        "loudness_lufs": ("LUFS", "integrated loudness, ITU-R BS.1770-4 (K-weighted, gated); −70 for silence"),
        "loudness_range": ("LU", "loudness range, EBU Tech 3342 (spread of 3-s short-term loudness, P10–P95)"),
        "peak_dbfs": ("dBFS", "sample peak (−120 for silence)"),
        "rms_mean": ("linear", "mean of frame RMS (2048-sample frames, hop 512); 0.707 for a full-scale sine"),
        "rms_std": ("linear", "standard deviation of frame RMS"),
        "rms_max": ("linear", "largest frame RMS"),
        "rms_db_mean": ("dBFS", "mean of frame RMS in dB (floor −100)"),
        "dynamic_range_db": ("dB", "95th minus 10th percentile of frame RMS in dB (frames above −70 dBFS)"),
        "spectral_centroid_mean": ("Hz", "magnitude-weighted mean frequency (brightness), averaged over frames"),
        "spectral_centroid_std": ("Hz", "its standard deviation over frames"),
        "spectral_bandwidth_mean": ("Hz", "magnitude-weighted standard deviation of frequency around the centroid"),
        "spectral_bandwidth_std": ("Hz", "its standard deviation over frames"),
        "spectral_rolloff_mean": ("Hz", "frequency below which 85 % of the magnitude lies, averaged over frames"),
        "spectral_rolloff_std": ("Hz", "its standard deviation over frames"),
        "spectral_flatness_mean": ("0–1", "geometric / arithmetic mean of the power spectrum (1 = noise-like)"),
        "spectral_flatness_std": ("0–1", "its standard deviation over frames"),
        "zcr_mean": ("per sample", "share of consecutive samples changing sign, per 2048-sample frame"),
        "zcr_std": ("per sample", "its standard deviation over frames"),
        "onset_rate": ("1/s", "detected note/percussion onsets per second (peaks of the onset envelope)"),
        "key": ("pitch class", "tonic 0–11 (C = 0 … B = 11), −1 when no key (silence)"),
        "mode": ("0/1", "1 = major, 0 = minor"),
        "key_confidence": ("−1–1", "correlation of the mean chroma with the best key profile"),
        "harmonic_ratio": ("0–1", "share of energy in the harmonic part of a median-filter HPSS of the mel power"),
        "hp_ratio_db": ("dB", "harmonic / percussive energy in dB (±60 at the extremes)"),
    }
    for b in range(CONTRAST_BANDS + 1):
        lo = 0 if b == 0 else 200 * 2 ** (b - 1)
        hi = "Nyquist" if b == CONTRAST_BANDS else f"{200 * 2**b} Hz"
        t[f"spectral_contrast_{b}_mean"] = ("dB", f"peak-minus-valley level in band {lo} Hz–{hi}, mean over frames")
    t["spectral_contrast_mean"] = ("dB", "spectral contrast averaged over bands and frames")
    for i in range(N_MFCC):
        t[f"mfcc_{i}_mean"] = ("dB-cepstrum", f"MFCC {i} (DCT-II of the 128-band log-mel spectrum), mean over frames")
        t[f"mfcc_{i}_std"] = ("dB-cepstrum", f"MFCC {i}, standard deviation over frames")
    for pc in PITCH_CLASSES:
        t[f"chroma_{pc}_mean"] = ("0–1", f"energy of pitch class {pc} relative to the frame's strongest, mean")
        t[f"chroma_{pc}_std"] = ("0–1", f"pitch class {pc} chroma, standard deviation over frames")
    return t


#: name → (unit, one-line definition), in the order :func:`describe` returns them.
DESCRIPTORS: dict[str, tuple[str, str]] = _table()


def key_name(key: float, mode: float) -> str:
    """``key_name(0, 1)`` → ``"C major"``; ``"none"`` for key −1."""
    k = int(key)
    if k < 0:
        return "none"
    return f"{PITCH_CLASSES[k % 12]} {'major' if int(mode) == 1 else 'minor'}"


def _stats(name: str, x: np.ndarray, out: dict[str, float]) -> None:
    out[f"{name}_mean"] = float(x.mean()) if x.size else 0.0
    out[f"{name}_std"] = float(x.std()) if x.size else 0.0


def _key(chroma_mean: np.ndarray, profile: str) -> tuple[int, int, float]:
    import numpy as np

    if chroma_mean.max() <= 0 or np.allclose(chroma_mean, chroma_mean[0]):
        return -1, 0, 0.0
    major, minor = (np.asarray(p) for p in KEY_PROFILES[profile])
    c = (chroma_mean - chroma_mean.mean()) / (chroma_mean.std() + 1e-12)
    best = (-2.0, 0, 0)
    for mode, prof in ((1, major), (0, minor)):
        z = (prof - prof.mean()) / prof.std()
        for tonic in range(12):
            r = float(np.dot(c, np.roll(z, tonic)) / 12.0)
            if r > best[0]:
                best = (r, tonic, mode)
    return best[1], best[2], best[0]


def describe(y: np.ndarray, sr: int = SAMPLE_RATE, **kwargs: Any) -> dict[str, float]:
    """All descriptors of mono audio ``y`` at ``sr`` (see :data:`DESCRIPTORS` for names, units and definitions).

    Keywords: ``key_profile`` ("krumhansl" or "temperley"); ``mono_as`` ("dual": loudness as if ``y`` played on
    both channels of a stereo file, what a stereo song downmixed to mono reads; "single": BS.1770's one channel,
    3.01 dB lower); ``side``: the side signal (L−R)/2 of a stereo source (``load_audio(..., side=True).side``), for
    exact two-channel BS.1770 loudness; ``n_fft``, ``hop_length``, ``n_mels`` of the shared STFT. Silence gives
    finite values (key −1, tempo 0, loudness −70 LUFS) and no warnings.

    Examples
    --------
    >>> import numpy as np
    >>> d = describe(np.zeros(22050, dtype=np.float32))
    >>> d["key"], d["tempo"], d["loudness_lufs"]
    (-1.0, 0.0, -70.0)
    """
    return describe_with_mel(y, sr, **kwargs)[0]


@one_blas_thread  # small products: a second BLAS thread only spins and steals torch's core (trackscope._threads)
def describe_with_mel(
    y: np.ndarray,
    sr: int = SAMPLE_RATE,
    *,
    n_fft: int = N_FFT,
    hop_length: int = HOP_LENGTH,
    n_mels: int = N_MELS,
    key_profile: str = "krumhansl",
    mono_as: str = "dual",
    side: np.ndarray | None = None,
) -> tuple[dict[str, float], np.ndarray]:
    """:func:`describe` plus the mel power spectrogram (n_mels, frames) float32 it computed on the way — equal to
    :func:`trackscope.audio.mel.melspectrogram` of ``y`` — so a caller that needs both pays for one STFT."""
    import numpy as np
    import scipy.fft

    if key_profile not in KEY_PROFILES:
        raise ValueError(f"key_profile must be one of {sorted(KEY_PROFILES)}")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise AudioError(f"expected non-empty mono audio, got shape {y.shape}")
    if not np.isfinite(y.sum(dtype=np.float64)) and not np.isfinite(y).all():
        raise AudioError("audio holds NaN or infinite sample values")

    nf = n_frames(y.size, hop_length)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)
    freqs2 = freqs * freqs
    melfb = sparse_mel_filterbank(sr, n_fft, n_mels)
    chromafb = chroma_filterbank(sr, n_fft)
    bands = contrast_bands(sr, n_fft)

    mel = np.empty((n_mels, nf), dtype=np.float32)
    chroma = np.empty((12, nf), dtype=np.float32)
    centroid = np.empty(nf, np.float32)
    bandwidth = np.empty(nf, np.float32)
    rolloff = np.empty(nf, np.float32)
    flatness = np.empty(nf, np.float32)
    rms = np.empty(nf, np.float32)
    zcr = np.empty(nf, np.float32)
    contrast_frames = np.empty((nf, len(bands)), np.float32)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for s, raw, P in frame_blocks(y, n_fft, hop_length):
            e = s + P.shape[0]
            mel[:, s:e] = melfb @ P.T
            chroma[:, s:e] = chromafb @ P.T
            S = np.sqrt(P)
            tot = S.sum(axis=1)
            ok = tot > 0
            safe = np.where(ok, tot, 1.0)
            c = (S @ freqs) / safe
            centroid[s:e] = np.where(ok, c, 0.0)
            var = (S @ freqs2) / safe - c * c
            bandwidth[s:e] = np.where(ok, np.sqrt(np.maximum(var, 0.0)), 0.0)
            rolloff[s:e] = np.where(ok, freqs[rolloff_bins(S, tot, ROLLOFF)], 0.0)
            Pc = np.maximum(P, np.float32(1e-10))
            gmean = np.exp(np.log(Pc).mean(axis=1))
            flatness[s:e] = gmean / Pc.mean(axis=1)
            contrast_frames[s:e] = contrast(S, bands)
            rms_zcr(raw, rms[s:e], zcr[s:e])

        out: dict[str, float] = {"duration": y.size / sr}
        mel_db = power_to_db(mel)
        env = rhythm.onset_envelope(mel_db)
        fps = sr / hop_length
        tempo, conf = rhythm.tempo(env, fps)
        out["tempo"], out["tempo_confidence"] = tempo, conf
        lufs, lra = integrated_loudness(y, sr, mono_as=mono_as, side=side)
        out["loudness_lufs"], out["loudness_range"] = lufs, lra
        peak = max(float(y.max()), -float(y.min()))
        out["peak_dbfs"] = float(20 * np.log10(peak)) if peak > 1e-6 else -120.0
        out["rms_mean"], out["rms_std"], out["rms_max"] = float(rms.mean()), float(rms.std()), float(rms.max())
        rms_db = 20 * np.log10(np.maximum(rms.astype(np.float64), 1e-5))
        out["rms_db_mean"] = float(rms_db.mean())
        loud = rms_db[rms_db > -70]
        out["dynamic_range_db"] = float(np.percentile(loud, 95) - np.percentile(loud, 10)) if loud.size > 1 else 0.0
        for name, x in (
            ("spectral_centroid", centroid),
            ("spectral_bandwidth", bandwidth),
            ("spectral_rolloff", rolloff),
            ("spectral_flatness", flatness),
            ("zcr", zcr),
        ):
            _stats(name, x, out)
        out["onset_rate"] = rhythm.onset_rate(env, fps)
        cmax = chroma.max(axis=0)
        chroma_n = np.where(cmax > 0, chroma / np.where(cmax > 0, cmax, 1.0), 0.0)
        key, mode, kconf = _key(chroma_n.mean(axis=1), key_profile)
        out["key"], out["mode"], out["key_confidence"] = float(key), float(mode), kconf
        h_share, hp_db = hpss_ratio(mel)
        out["harmonic_ratio"], out["hp_ratio_db"] = h_share, hp_db
        cmean = contrast_frames.mean(axis=0)
        for b in range(len(bands)):
            out[f"spectral_contrast_{b}_mean"] = float(cmean[b])
        present = [b for b, (lo, hi, _) in enumerate(bands) if hi > lo]  # bands below Nyquist
        out["spectral_contrast_mean"] = float(cmean[present].mean())
        mfcc = scipy.fft.dct(mel_db, type=2, norm="ortho", axis=0)[:N_MFCC]
        mm, ms = mfcc.mean(axis=1), mfcc.std(axis=1)
        for i in range(N_MFCC):
            out[f"mfcc_{i}_mean"], out[f"mfcc_{i}_std"] = float(mm[i]), float(ms[i])
        chm, chs = chroma_n.mean(axis=1), chroma_n.std(axis=1)
        for i, pc in enumerate(PITCH_CLASSES):
            out[f"chroma_{pc}_mean"], out[f"chroma_{pc}_std"] = float(chm[i]), float(chs[i])
    ordered = {k: float(out[k]) if np.isfinite(out[k]) else 0.0 for k in DESCRIPTORS}
    return ordered, mel


def describe_file(path: Any, *, sr: int = SAMPLE_RATE, **kwargs: Any) -> dict[str, float]:
    """:func:`describe` of a whole file (decoded with :func:`trackscope.audio.io.load_audio`)."""
    from trackscope.audio.io import load_audio

    audio = load_audio(path, sr=sr, side=True)
    return describe(audio.samples, sr, side=audio.side, **kwargs)
