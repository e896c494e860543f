"""Stereo loudness: BS.1770 sums the channels; the side signal (L−R)/2 lets trackscope measure it from a downmix."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from trackscope.audio.descriptors import describe_file
from trackscope.audio.io import iter_windows, load_audio
from trackscope.audio.loudness import _segment_energies, integrated_loudness

SR = 22050


def _per_channel_reference(left, right, sr):
    """Two-channel BS.1770 of steady signals (every block passes both gates): -0.691 + 10 log10 of the summed mean
    squares of the K-weighted channels."""
    seg = int(round(0.1 * sr))
    e = _segment_energies(left.astype(np.float32), sr, seg) + _segment_energies(right.astype(np.float32), sr, seg)
    c = np.concatenate([[0.0], np.cumsum(e)])
    return -0.691 + 10 * np.log10(((c[4:] - c[:-4]) / (4 * seg)).mean())


def test_wide_stereo_is_measured_on_both_channels(tmp_path):
    rng = np.random.default_rng(0)
    left, right = 0.1 * rng.normal(size=SR * 8), 0.05 * rng.normal(size=SR * 8)  # uncorrelated: the widest mix
    sf.write(tmp_path / "wide.wav", np.stack([left, right], axis=1).astype(np.float32), SR)
    audio = load_audio(tmp_path / "wide.wav", sr=SR, side=True)
    assert audio.side is not None and audio.side.shape == audio.samples.shape
    exact, _ = integrated_loudness(audio.samples, SR, side=audio.side)
    downmix_only, _ = integrated_loudness(audio.samples, SR)
    assert abs(exact - _per_channel_reference(left, right, SR)) < 0.01
    assert exact - downmix_only > 2.0  # the downmix alone loses the uncorrelated half of the power
    assert abs(describe_file(tmp_path / "wide.wav")["loudness_lufs"] - exact) < 0.01


def test_side_is_silent_for_mono_content_and_absent_for_mono_files(tmp_path):
    tone = 0.1 * np.sin(2 * np.pi * 997 * np.arange(SR * 5) / SR)
    sf.write(tmp_path / "dual.wav", np.stack([tone, tone], axis=1).astype(np.float32), SR)
    sf.write(tmp_path / "mono.wav", tone.astype(np.float32), SR)
    dual = load_audio(tmp_path / "dual.wav", side=True)
    assert np.abs(dual.side).max() == 0.0  # (L − R) / 2 of identical channels: exactly 0
    # a zero side adds exactly 0 to every block's power: the same float result
    assert integrated_loudness(dual.samples, SR, side=dual.side)[0] == integrated_loudness(dual.samples, SR)[0]
    assert load_audio(tmp_path / "mono.wav", side=True).side is None
    assert load_audio(tmp_path / "dual.wav").side is None  # only when asked for


def test_windows_carry_their_side_signal(tmp_path):
    rng = np.random.default_rng(1)
    x = (0.1 * rng.normal(size=(44100 * 7, 2))).astype(np.float32)
    sf.write(tmp_path / "long.wav", x, 44100)
    windows = list(iter_windows(tmp_path / "long.wav", sr=SR, window=3.0, side=True))
    assert len(windows) == 3 and all(w.side.shape == w.samples.shape for w in windows)
    whole = load_audio(tmp_path / "long.wav", sr=SR, side=True)
    # resampled window by window vs whole: the resampler's filter sees other samples near the window's edge (its
    # transient, ~1e-4 of |x| ≤ 0.5 here), not a rounding question
    np.testing.assert_allclose(windows[0].side[: SR * 2], whole.side[: SR * 2], atol=1e-3)
