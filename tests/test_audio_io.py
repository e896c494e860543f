"""Decoding: formats, windows, downmix, resampling, and a clear error for every kind of bad file."""

from __future__ import annotations

import os

import numpy as np
import pytest

from audio_synth import BAD_REASONS, SR, bad_input_corpus, sine, write
from trackscope.audio.io import Audio, decode_array, iter_windows, load_audio
from trackscope.errors import AudioError


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return bad_input_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.mark.parametrize("name", ["mp3", "ogg", "flac", "short_ok", "unicode", "hires_6ch"])
def test_valid_files_decode(corpus, name):
    a = load_audio(corpus[name])
    assert isinstance(a, Audio)
    assert a.samples.dtype == np.float32 and a.samples.ndim == 1
    assert a.sr == SR and not a.silent
    assert a.duration == pytest.approx(a.samples.size / SR)
    assert a.total_duration == pytest.approx(a.duration, abs=0.01)
    assert np.isfinite(a.samples).all()


@pytest.mark.parametrize(("suffix", "kw"), [(".opus", {"format": "OGG", "subtype": "OPUS"}), (".aiff", {})])
def test_opus_and_aiff(tmp_path, suffix, kw):
    p = write(tmp_path / f"t{suffix}", sine(440, 2.0, sr=48_000, amp=0.5), 48_000, **kw)
    a = load_audio(p)
    assert a.source_sr == 48_000 and a.duration == pytest.approx(2.0, abs=0.01)
    assert 0.4 < np.abs(a.samples).max() < 0.65  # opus is lossy


def test_six_channel_hires_is_downmixed_and_resampled(corpus):
    a = load_audio(corpus["hires_6ch"])
    assert (a.source_sr, a.channels) == (96_000, 6)
    assert a.samples.size == pytest.approx(SR, abs=2)


@pytest.mark.parametrize("name", sorted(BAD_REASONS))
def test_bad_files_raise_one_clear_line(corpus, name):
    with pytest.raises(AudioError) as exc:
        load_audio(corpus[name])
    msg = str(exc.value)
    assert "\n" not in msg
    assert BAD_REASONS[name].lower() in msg.lower()
    assert exc.value.path == str(corpus[name])


def test_silence_is_valid_and_flagged(corpus):
    a = load_audio(corpus["silence"])
    assert a.silent and a.duration == pytest.approx(3.0)


def test_min_duration_is_adjustable(corpus):
    assert load_audio(corpus["too_short"], min_duration=0.1).duration == pytest.approx(0.2, abs=1e-3)


def test_stereo_downmix_is_channel_mean_and_matches_soundfile(tmp_path):
    left, right = sine(440, 1.0, amp=0.4), sine(660, 1.0, amp=0.2)
    p = write(tmp_path / "st.wav", np.stack([left, right], 1), subtype="FLOAT")
    a = load_audio(p)
    # the mean of two float32 samples rounds once (≤ 0.5 ulp); |samples| < 0.5, so 1e-7 is ≥ 3 float32 ulps
    np.testing.assert_allclose(a.samples, (left + right) / 2, atol=1e-7)


def test_resampling_matches_librosa_load(tmp_path):
    librosa = pytest.importorskip("librosa")
    y = np.stack([sine(440, 2.0, sr=44_100), sine(550, 2.0, sr=44_100, amp=0.3)], 1)
    p = write(tmp_path / "hi.flac", y, 44_100)
    ref, _ = librosa.load(p, sr=SR)
    # the same soxr resampler; float32 vs float64 decoding and downmix before it: 1e-6 ≈ 8 float32 ulps at 1
    np.testing.assert_allclose(load_audio(p).samples, ref, atol=1e-6)


def test_offset_duration_and_centre(tmp_path):
    ramp = (np.arange(10 * 1000) / 10_000).astype(np.float32)  # value = time / 10 s at 1 kHz
    p = write(tmp_path / "ramp.wav", ramp, 1000, subtype="FLOAT")
    a = load_audio(p, sr=1000, offset=2.0, duration=3.0)
    assert a.offset == 2.0 and a.samples.size == 3000
    assert a.samples[0] == pytest.approx(0.2, abs=1e-6)
    c = load_audio(p, sr=1000, duration=4.0, centre=True)
    assert c.offset == pytest.approx(3.0) and c.samples[0] == pytest.approx(0.3, abs=1e-6)
    whole = load_audio(p, sr=1000, duration=30.0, centre=True)  # shorter than the window: all of it
    assert whole.samples.size == 10_000 and whole.total_duration == pytest.approx(10.0)
    with pytest.raises(AudioError, match="past the end"):
        load_audio(p, offset=11.0)


def test_long_file_window_and_iter_windows(corpus):
    p = corpus["long_20min"]
    a = load_audio(p, duration=30.0, centre=True)
    assert a.total_duration == pytest.approx(1200.0)
    assert a.offset == pytest.approx(585.0) and a.duration == pytest.approx(30.0, abs=1e-3)
    wins = list(iter_windows(p, sr=4000, window=60.0))
    assert len(wins) == 20
    assert [w.offset for w in wins[:3]] == [0.0, 60.0, 120.0]
    assert wins[0].silent and not wins[-1].silent
    assert all(w.samples.size == 240_000 for w in wins)


def test_iter_windows_with_hop_and_tail(tmp_path):
    p = write(tmp_path / "t.wav", sine(300, 10.0, sr=8000), 8000)
    wins = list(iter_windows(p, sr=8000, window=4.0, hop=3.0))
    assert [w.offset for w in wins] == [0.0, 3.0, 6.0, 9.0]
    assert wins[-1].duration == pytest.approx(1.0)


def test_m4a_without_ffmpeg_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    p = tmp_path / "song.m4a"
    p.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 100)
    with pytest.raises(AudioError, match="ffmpeg"):
        load_audio(p)


def test_decode_array_shapes_and_errors():
    y = sine(440, 1.0, sr=44_100)
    out = decode_array(np.stack([y, y]), 44_100)  # (channels, samples)
    assert out.dtype == np.float32 and out.size == SR
    # the same samples in another layout, the same arithmetic (a mean of two): exact by construction
    np.testing.assert_allclose(out, decode_array(np.stack([y, y], 1), 44_100), atol=0)
    ints = (y * 32767).astype(np.int16)
    assert np.abs(decode_array(ints, 44_100, sr=44_100) - y).max() < 1e-3
    with pytest.raises(AudioError, match="NaN"):
        decode_array(np.array([0.0, np.nan, 0.1] * 100), SR)
    with pytest.raises(AudioError, match="non-empty"):
        decode_array(np.array([]), SR)


def _fake_ffmpeg(folder, body: str):
    """An `ffmpeg` on PATH that decodes with soundfile (the real one is not installed on every machine)."""
    import stat
    import sys

    exe = folder / "ffmpeg"
    exe.write_text(f"#!{sys.executable}\nimport sys\nimport soundfile as sf\nargs = sys.argv[1:]\n{body}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def test_m4a_goes_through_ffmpeg_and_is_downmixed_like_soundfile(tmp_path, monkeypatch):
    left, right = sine(440, 1.0, amp=0.4), sine(660, 1.0, amp=0.2)
    src = write(tmp_path / "song.wav", np.stack([left, right], 1), subtype="FLOAT")
    m4a = tmp_path / "song.m4a"
    m4a.write_bytes(src.read_bytes())  # our fake ffmpeg "decodes" by reading the bytes as WAV
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _fake_ffmpeg(
        bindir,
        "x, sr = sf.read(args[args.index('-i') + 1], dtype='float32')\nsf.write(args[-1], x, sr, subtype='FLOAT')",
    )
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    a = load_audio(m4a)
    assert a.channels == 2 and a.source_sr == SR
    np.testing.assert_allclose(a.samples, (left + right) / 2, atol=1e-7)  # one rounding of the mean: ≥ 3 ulps
    _fake_ffmpeg(bindir, "sys.stderr.write('moov atom not found\\n')\nsys.exit(1)")
    with pytest.raises(AudioError, match="moov atom not found"):
        load_audio(m4a)


def _no_ffmpeg(tmp_path, monkeypatch):
    empty = tmp_path / "no-bin"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("PATH", str(empty))


def test_text_named_mp3_is_not_audio_and_never_blames_ffmpeg(tmp_path, monkeypatch):
    p = tmp_path / "x.mp3"
    p.write_text("Dear diary, today I renamed a text file to .mp3\n" * 20)
    _no_ffmpeg(tmp_path, monkeypatch)
    with pytest.raises(AudioError) as exc:
        load_audio(p)
    msg = str(exc.value)
    assert msg.startswith(f"{p}: not an audio file") and "text" in msg and "soundfile" in msg
    assert "ffmpeg" not in msg and "\n" not in msg
    # with an ffmpeg on PATH, a text file is still not handed to it
    bindir = tmp_path / "bin"
    bindir.mkdir()
    _fake_ffmpeg(bindir, f"open({str(tmp_path / 'ffmpeg-ran')!r}, 'w').close()\nsys.exit(1)")
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(AudioError, match="not an audio file"):
        load_audio(p)
    assert not (tmp_path / "ffmpeg-ran").exists()


def test_unknown_bytes_and_containers_that_need_ffmpeg(tmp_path, monkeypatch):
    _no_ffmpeg(tmp_path, monkeypatch)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)).replace(b"\xff", b"\0"))
    with pytest.raises(AudioError, match="not an audio file: no known audio format") as exc:
        load_audio(junk)
    assert "ffmpeg" not in str(exc.value)
    # an MP4 container under a name that does not say so: it is audio, and ffmpeg is what it needs
    mp4 = tmp_path / "voice-memo.dat"
    mp4.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 500)
    with pytest.raises(AudioError, match="MP4/M4A audio needs ffmpeg"):
        load_audio(mp4)


def _garbled_mp3(tmp_path):
    import soundfile as sf

    path = tmp_path / "garbled.mp3"
    sf.write(path, sine(440, 4.0, amp=0.3), SR, format="MP3")
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 3000] = np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def test_decoder_chatter_never_reaches_fd2(tmp_path, capfd):
    import contextlib

    import soundfile as sf

    path = _garbled_mp3(tmp_path)
    with contextlib.suppress(sf.LibsndfileError):  # libmpg123 complains on fd 2 (else this test proves nothing)
        sf.read(path)
    assert "MPEG" in capfd.readouterr().err
    for decode in (lambda: [load_audio(path)], lambda: list(iter_windows(path, window=1.0))):
        try:
            assert all(a.duration > 0 for a in decode())
        except AudioError as err:  # failing is fine, printing is not; what the decoder said is in the message
            msg = str(err)
            assert msg.startswith(str(path)) and "\n" not in msg and "decoder:" in msg
    assert capfd.readouterr().err == ""
    os.write(2, b"still ours\n")  # fd 2 is back where it was
    assert capfd.readouterr().err == "still ours\n"


def test_capture_stderr_is_scoped_nested_and_thread_safe(capfd):
    import threading

    from trackscope._stderr import capture_stderr, last_line

    with capture_stderr() as outer:
        os.write(2, b"Note: outer\n")
        with capture_stderr() as inner:
            os.write(2, b"[parse.c:wetwork():1349] error: inner\n")
    assert outer.text == "Note: outer\n[parse.c:wetwork():1349] error: inner\n"
    assert inner.text == "[parse.c:wetwork():1349] error: inner\n" and last_line(inner.text) == "error: inner"
    assert capfd.readouterr().err == ""
    # Overlapping captures in two threads that end in the other order than they began: a per-caller
    # save/dup2/restore would leave fd 2 pointing at the first caller's sink.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    texts = {}

    def a():
        with capture_stderr() as cap:
            a_in.set()
            b_in.wait(5)
            os.write(2, b"from a\n")
        texts["a"] = cap.text
        a_out.set()

    def b():
        a_in.wait(5)
        with capture_stderr() as cap:
            b_in.set()
            a_out.wait(5)
            os.write(2, b"from b\n")
        texts["b"] = cap.text

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert texts["a"] == "from a\n"
    assert texts["b"].endswith("from b\n")  # a concurrent stretch may also hold the other thread's chatter
    os.write(2, b"visible\n")
    assert capfd.readouterr().err == "visible\n"
