"""Descriptors: known answers on generated signals, librosa agreement, silence, long input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import parity
from audio_synth import (
    SR,
    a_minor_progression,
    c_major_progression,
    click_track,
    drum_pattern,
    music_like,
    noise,
    sine,
)
from trackscope.audio.descriptors import DESCRIPTORS, describe, describe_with_mel, key_name
from trackscope.audio.loudness import integrated_loudness, k_weighting_sos
from trackscope.audio.mel import melspectrogram


@pytest.fixture(scope="module")
def music():
    y = music_like(12.0)
    return y, describe(y)


def test_every_descriptor_is_documented_finite_and_ordered(music):
    _, d = music
    assert list(d) == list(DESCRIPTORS)
    assert all(isinstance(v, float) and np.isfinite(v) for v in d.values())
    assert all(unit and len(text) > 10 and "\n" not in text for unit, text in DESCRIPTORS.values())


@pytest.mark.parametrize("bpm", [90, 120, 170])
def test_click_track_tempo(bpm):
    d = describe(click_track(bpm, 20.0))
    assert d["tempo"] == pytest.approx(bpm, abs=2.0)
    assert d["tempo_confidence"] > 0.3
    assert d["onset_rate"] == pytest.approx(bpm / 60, rel=0.1)


@pytest.mark.parametrize(("bpm", "swing"), [(100, False), (120, False), (140, True), (160, False)])
def test_backbeat_tempo_without_3_2_errors(bpm, swing):
    assert describe(drum_pattern(bpm, 15.0, swing=swing))["tempo"] == pytest.approx(bpm, rel=0.02)


@pytest.mark.parametrize(("mono_as", "expected"), [("single", -23.01), ("dual", -20.0)])
def test_calibrated_tone_loudness(mono_as, expected):
    # BS.1770: a 0 dBFS 997-Hz sine in one channel reads -3.01 LUFS; -20 dBFS in both channels reads -20.0.
    y = sine(997.0, 10.0, amp=0.1)
    lufs, lra = integrated_loudness(y, SR, mono_as=mono_as)
    assert lufs == pytest.approx(expected, abs=0.5)
    assert lufs == pytest.approx(expected, abs=0.05)  # in fact much closer (BS.1770's filter is not flat at 997 Hz)
    assert lra == pytest.approx(0.0, abs=0.1)
    assert describe(y, mono_as=mono_as)["loudness_lufs"] == pytest.approx(lufs)  # same computation: rel 1e-6


def test_k_weighting_reproduces_bs1770_coefficients_at_48k():
    sos = k_weighting_sos(48_000)
    # the standard prints 14 decimals of a float64 design; 1e-8 leaves room for another float64 bilinear transform
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285], atol=1e-8)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-8)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-8)


def test_loudness_gating_and_range():
    loud = sine(997.0, 10.0, amp=0.1)  # -20 LUFS (dual mono)
    lufs, lra = integrated_loudness(np.concatenate([sine(997.0, 10.0, amp=0.001), loud]), SR)
    assert lufs == pytest.approx(-20.0, abs=0.2)  # the -60 half falls under the -10 LU relative gate
    assert lra < 5.0  # ... and under LRA's -20 LU gate (only 3-s windows straddling the change remain)
    lufs2, lra2 = integrated_loudness(np.concatenate([sine(997.0, 10.0, amp=0.01), loud]), SR)
    assert lufs2 == pytest.approx(-20.0, abs=0.2)  # -40 is gated out of the integrated loudness ...
    assert lra2 == pytest.approx(20.0, abs=0.5)  # ... but within LRA's -20 LU gate: P95 - P10 spans both


def test_c_major_progression_is_c_major():
    d = describe(c_major_progression())
    assert key_name(d["key"], d["mode"]) == "C major"
    assert d["key_confidence"] > 0.6
    d2 = describe(c_major_progression(), key_profile="temperley")
    assert key_name(d2["key"], d2["mode"]) == "C major"


def test_a_minor_progression_is_a_minor():
    d = describe(a_minor_progression())
    assert key_name(d["key"], d["mode"]) == "A minor"


def test_silence_no_warnings_no_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = describe(np.zeros(3 * SR, dtype=np.float32))
    assert all(np.isfinite(v) for v in d.values())
    # documented constants for silence, and sums of zeros: exact
    assert d["key"] == -1.0 and d["tempo"] == 0.0 and d["loudness_lufs"] == -70.0 and d["rms_mean"] == 0.0
    assert key_name(d["key"], d["mode"]) == "none"


@pytest.mark.parametrize("sr", [8000, 16000, 44100])
def test_other_sample_rates(sr):
    d = describe(click_track(120, 10.0, sr=sr), sr)
    assert all(np.isfinite(v) for v in d.values())
    assert d["tempo"] == pytest.approx(120, abs=2)
    if sr < 12_800:  # no 6.4-12.8 kHz octave below Nyquist: that band's contrast is 0, not an error
        assert d["spectral_contrast_6_mean"] == 0.0  # an empty band is 0 in every frame: exact


def test_tiny_input_is_finite():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = describe(sine(440, 0.05))
    assert all(np.isfinite(v) for v in d.values())


def test_harmonic_vs_percussive():
    assert describe(c_major_progression())["harmonic_ratio"] > 0.8
    assert describe(click_track(120, 10.0))["harmonic_ratio"] < 0.5


def test_noise_is_flat_and_tone_is_not():
    assert describe(noise(3.0))["spectral_flatness_mean"] > 0.3
    assert describe(sine(440, 3.0))["spectral_flatness_mean"] < 0.01


def test_tone_centroid_and_rms():
    d = describe(sine(1000.0, 3.0, amp=0.5))
    assert d["spectral_centroid_mean"] == pytest.approx(1000.0, rel=0.05)
    assert d["rms_mean"] == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    assert d["peak_dbfs"] == pytest.approx(20 * np.log10(0.5), abs=0.01)
    assert d["duration"] == pytest.approx(3.0)


def test_matches_librosa_definitions(music):
    pytest.importorskip("librosa")
    y, d = music
    # float32 spectra: a few EPS32 relative (mfcc: of |mfcc_0|; zcr: a count), see parity.descriptor_tolerance
    parity.check_descriptors(d, parity.librosa_descriptors(y, SR), y.size)


def test_describe_with_mel_returns_the_mel(music):
    y, d = music
    d2, mel = describe_with_mel(y)
    assert d2 == d  # the same code on the same input in this process: equal by construction
    np.testing.assert_array_equal(mel, melspectrogram(y))


def test_long_input_in_blocks_matches_tone_answers():
    y = np.tile(sine(440.0, 1.0, amp=0.3), 200)  # 200 s: several STFT blocks and loudness chunks
    d = describe(y)
    assert d["duration"] == pytest.approx(200.0)
    assert d["loudness_lufs"] == pytest.approx(describe(y[: 10 * SR])["loudness_lufs"], abs=0.05)
    assert d["rms_std"] < 1e-3
