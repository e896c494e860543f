"""Mel spectrograms: the same numbers as librosa (≤ 1e-3 dB), for the study's and other front ends."""

from __future__ import annotations

import numpy as np
import pytest

import parity
from audio_synth import SR, music_like, noise, sine
from trackscope.audio.mel import (
    mel_db,
    mel_db_batch,
    mel_filterbank,
    melspectrogram,
    melspectrogram_batch,
    power_to_db,
)

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def signal():
    return music_like(6.0)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"sr": 16_000, "n_fft": 512, "hop_length": 256, "n_mels": 96},  # musicnn's front end
        {"n_mels": 64, "fmin": 50.0, "fmax": 8000.0, "htk": True},
        {"norm": None},
    ],
)
def test_matches_librosa_within_1e3_db(signal, kw):
    ours = melspectrogram(signal, **kw)
    ref = librosa.feature.melspectrogram(y=signal, **kw)
    assert ours.dtype == np.float32 and ours.shape == ref.shape
    # the documented promise (module docstring); 1e-3 dB is 2.3e-4 relative, far above float32 rounding
    assert np.abs(power_to_db(ours) - librosa.power_to_db(ref)).max() <= 1e-3
    parity.check_mel(ours, ref, n_fft=kw.get("n_fft", 2048))  # float32 FFT rounding relative to each frame's peak


def test_mel_db_default_is_the_study_representation(signal):
    ref = librosa.power_to_db(librosa.feature.melspectrogram(y=signal, sr=SR, n_fft=2048, hop_length=512, n_mels=128))
    ours = mel_db(signal)
    assert ours.shape == (128, 1 + signal.size // 512)
    assert np.abs(ours - ref).max() <= 1e-3  # the documented promise: 1e-3 dB (2.3e-4 relative in power)


@pytest.mark.parametrize("n", [100, 2047, 2048, 5000])
def test_short_signals_frame_like_librosa(n):
    y = noise(n / SR, amp=0.3, seed=n)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = librosa.feature.melspectrogram(y=y)
    ours = melspectrogram(y)
    assert ours.shape == ref.shape
    assert np.abs(power_to_db(ours) - librosa.power_to_db(ref)).max() <= 1e-3  # the documented promise


def test_filterbank_matches_librosa():
    for kw in ({"sr": 22050, "n_fft": 2048, "n_mels": 128}, {"sr": 16000, "n_fft": 512, "n_mels": 96}):
        # float64 formulas (ours vectorised, librosa's per filter) cast to float32: ≤ 1 float32 ulp apart
        assert parity.ulps(mel_filterbank(**kw), librosa.filters.mel(**kw)).max() <= 1
    assert mel_filterbank() is mel_filterbank()  # cached
    assert not mel_filterbank().flags.writeable


def test_power_to_db_options_match_librosa():
    S = np.abs(np.random.default_rng(0).standard_normal((20, 30))).astype(np.float32) ** 2
    S[0, 0] = 0.0
    for kw in ({}, {"ref": np.max}, {"top_db": None}, {"ref": 2.0, "amin": 1e-5, "top_db": 40.0}):
        ours, ref = power_to_db(S, **kw), librosa.power_to_db(S, **kw)
        # float32 10·log10(x) − 10·log10(ref): a few ulps of the terms (|dB| ≤ 100), 8 ulps of 128 ≈ 1e-4 dB
        np.testing.assert_allclose(ours, ref, rtol=0, atol=8 * np.spacing(np.float32(128)))


def test_silence_gives_floor_not_nan():
    out = mel_db(np.zeros(SR, dtype=np.float32))
    assert np.isfinite(out).all() and out.max() == pytest.approx(-100.0)  # 10·log10(amin = 1e-10), to 1e-6


def test_batch_equals_loop():
    Y = np.stack([sine(440, 1.0), sine(880, 1.0, amp=0.1), noise(1.0)])
    batch = melspectrogram_batch(Y)
    assert batch.shape == (3, 128, 44)
    for i in range(3):  # the batch runs the same code on each row in this process: equal by construction
        np.testing.assert_array_equal(batch[i], melspectrogram(Y[i]))
    db = mel_db_batch(Y)
    np.testing.assert_array_equal(db[1], mel_db(Y[1]))


def test_tone_lands_in_its_band():
    m = melspectrogram(sine(1000.0, 1.0))
    centre = librosa.mel_frequencies(130, fmax=SR / 2)[1:-1]
    assert abs(centre[int(m.mean(axis=1).argmax())] - 1000.0) < 60.0
