"""One song answered at once (issue 14): what `predict`/`explain` with `builtin:mood` load, and the K-weighting that
replaced scipy.signal's recursive filter (its reference values and its agreement with a recursive filter)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from audio_synth import music_like, write
from trackscope.audio.loudness import _segment_energies, integrated_loudness, k_weighting_fir, k_weighting_sos

# Never needed to answer one song with the builtin model: scipy.signal (its K-weighting is numpy's FFT now), pandas
# (the CLI prints rows), matplotlib (pictures are for reports), scikit-learn and skops (the head ships as arrays).
NOT_ON_THE_PATH = ("scipy.signal", "pandas", "matplotlib", "sklearn", "skops")

RUN_CLI = """
import json, runpy, sys
sys.argv = ["trackscope", *sys.argv[1:]]
try:
    runpy.run_module("trackscope", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in {NAMES} if m in sys.modules)
sys.stderr.write("\\nLOADED " + json.dumps(loaded) + " EXIT " + str(code) + "\\n")
"""


def _cli_modules(*args: str) -> tuple[str, list[str]]:
    """stdout of ``trackscope ARGS`` in a fresh interpreter, and which of :data:`NOT_ON_THE_PATH` it imported."""
    code = RUN_CLI.replace("{NAMES}", repr(NOT_ON_THE_PATH))
    env = dict(os.environ, COLUMNS="120")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=600)
    tail = proc.stderr.rsplit("LOADED ", 1)
    assert len(tail) == 2, proc.stderr[-2000:]
    loaded, exit_code = tail[1].split(" EXIT ")
    assert exit_code.strip() in ("0", "None"), proc.stderr[-2000:]
    return proc.stdout, json.loads(loaded)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    y = music_like(12.0)
    stereo = np.stack([y, np.roll(y, 30)], axis=1)  # two channels: the side signal's loudness runs too
    return write(tmp_path_factory.mktemp("one-song") / "song.wav", stereo)


def test_predict_loads_nothing_it_does_not_need(song):
    out, loaded = _cli_modules("predict", "builtin:mood", str(song))
    assert loaded == []
    assert "Predictions" in out and "song.wav" in out
    out, loaded = _cli_modules("predict", "builtin:mood", str(song), "--json")
    assert loaded == []
    data = json.loads(out)
    assert data["n"] == 1 and data["predictions"][0]["mood"] in ("Q1", "Q2", "Q3", "Q4")


def test_explain_loads_nothing_it_does_not_need(song):
    out, loaded = _cli_modules("explain", "builtin:mood", str(song))
    assert loaded == []
    assert "Mood" in out and "pull on the mood" in out


def test_predict_rows_match_the_api_frame(song, tmp_path):
    """The CLI's pandas-free rows are the API's DataFrame, column for column (an unreadable file included)."""
    from trackscope import api
    from trackscope.cli.models import _audio_mood_rows, _row_columns

    bad = tmp_path / "bad.mp3"
    bad.write_text("not audio")
    songs = [song, bad]
    rows = _audio_mood_rows("builtin:mood", songs)
    frame = api.predict("builtin:mood", songs=songs)
    assert _row_columns(rows) == list(frame.columns)
    for row, record in zip(rows, frame.to_dict(orient="records"), strict=True):
        for column, value in record.items():
            got = row.get(column)
            if isinstance(value, float) and value != value:  # NaN in the frame: missing in the row
                assert got is None
            else:
                assert got == value


def _recursive(y: np.ndarray, sr: int) -> np.ndarray:
    """The K-weighting as BS.1770 writes it: two direct-form biquads, float64, sample by sample (reference)."""
    out = np.asarray(y, dtype=np.float64)
    for b0, b1, b2, _, a1, a2 in k_weighting_sos(sr):
        x, z = out.tolist(), []
        x1 = x2 = y1 = y2 = 0.0
        for v in x:
            w = b0 * v + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            z.append(w)
            x2, x1, y2, y1 = x1, v, y1, w
        out = np.array(z)
    return out


@pytest.mark.parametrize("sr", [8000, 22050, 48000, 192000])
def test_k_weighting_fir_is_the_filters_impulse_response(sr):
    h = k_weighting_fir(sr)
    impulse = np.zeros(h.size)
    impulse[0] = 1.0
    ref = _recursive(impulse, sr)
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-12)
    assert np.abs(h[-200:]).max() < 1e-12  # decayed: what is cut off is far below float32 rounding


@pytest.mark.parametrize("sr", [8000, 22050])
def test_overlap_add_matches_the_recursive_filter(sr):
    # longer than one FFT block (65,536 samples), so the overlap between chunks is exercised
    y = music_like(9.0, sr=sr) + 0.05 * np.random.default_rng(0).standard_normal(9 * sr).astype(np.float32)
    seg = int(round(0.1 * sr))
    z = _recursive(y, sr)
    m = z.size // seg
    ref = (z[: m * seg].reshape(m, seg) ** 2).sum(axis=1)
    got = _segment_energies(y.astype(np.float32), sr, seg)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6 * ref.max())


def _tone(dbfs: float, seconds: float, sr: int = 48_000, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([(-23.0, 20.0)], -23.0),  # EBU Tech 3341, test 1: stereo 1 kHz sine at −23 dBFS
        ([(-33.0, 20.0)], -33.0),  # test 2
        ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),  # test 3: the relative gate
        ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),  # test 4
        ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),  # test 5
    ],
)
@pytest.mark.parametrize("sr", [44_100, 48_000])
def test_ebu_tech_3341_minimum_requirements(levels, expected, sr):
    y = np.concatenate([_tone(db, s, sr) for db, s in levels])
    lufs, _ = integrated_loudness(y, sr, mono_as="dual")  # the same signal in both channels
    assert lufs == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([(-20.0, 20.0), (-30.0, 20.0)], 10.0),  # EBU Tech 3342, test 1
        ([(-20.0, 20.0), (-15.0, 20.0)], 5.0),  # test 2
        ([(-40.0, 20.0), (-20.0, 20.0)], 20.0),  # test 3
        ([(-50.0, 20.0), (-35.0, 20.0), (-20.0, 20.0), (-35.0, 20.0), (-50.0, 20.0)], 15.0),  # test 4
    ],
)
def test_ebu_tech_3342_loudness_range(levels, expected):
    y = np.concatenate([_tone(db, s) for db, s in levels])
    _, lra = integrated_loudness(y, 48_000, mono_as="dual")
    assert lra == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize("sr", [22_050, 44_100])
def test_loudness_matches_scipys_recursive_filter_on_music(sr, monkeypatch):
    """The model's loudness inputs: within 1e-3 LU of a float64 recursive filter (scipy's sosfilt), stereo too."""
    scipy_signal = pytest.importorskip("scipy.signal")
    mid = music_like(40.0, sr=sr, seed=3)
    side = 0.3 * np.roll(mid, 200)
    seg = int(round(0.1 * sr))

    def energies(x: np.ndarray, _sr: int, _seg: int) -> np.ndarray:
        z = scipy_signal.sosfilt(k_weighting_sos(sr), np.asarray(x, dtype=np.float64))
        m = z.size // seg
        return (z[: m * seg].reshape(m, seg) ** 2).sum(axis=1)

    got = integrated_loudness(mid, sr, side=side)
    monkeypatch.setattr("trackscope.audio.loudness._segment_energies", energies)
    ref = integrated_loudness(mid, sr, side=side)
    assert got[0] == pytest.approx(ref[0], abs=1e-3)
    assert got[1] == pytest.approx(ref[1], abs=1e-3)
