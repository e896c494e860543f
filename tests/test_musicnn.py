"""musicnn in PyTorch: checkpoint reader, weights fetch, front end and network vs the original (no TensorFlow here).

The reference arrays in ``tests/data/musicnn_ref`` were made once by ``bench/make_musicnn_reference.py`` with the
original musicnn 0.1.0 on TensorFlow 2.16 (CPU). Tests that need the real weights fetch them through
:func:`trackscope.audio.musicnn.weights.ensure_weights` on first use (PyPI, then the user cache) and fail with its
message if that is impossible.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

import parity
from trackscope.errors import ModelError, TrackscopeError

REF = Path(__file__).parent / "data" / "musicnn_ref"
META = json.loads((REF / "meta.json").read_text())
CLIPS = ("chords", "chirp", "loud")
POOLED = ("mean_pool", "max_pool", "penultimate")
ROW_LAYERS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3")


# --- the clips: keep this block identical to bench/make_musicnn_reference.py::synth_clip ------------------------
def synth_clip(kind: str) -> tuple[np.ndarray, int]:
    """Deterministic test audio as int16 (samples, sr)."""
    if kind == "chords":  # 8 s at 16 kHz: a chord progression with a kick drum and a little noise
        sr, n = 16000, 8 * 16000
        t = np.arange(n) / sr
        y = np.zeros(n)
        for i, root in enumerate([220.0, 174.6, 261.6, 196.0]):
            seg = (t >= 2 * i) & (t < 2 * i + 2)
            for ratio in (1.0, 1.26, 1.5, 2.0):
                y[seg] += 0.12 * np.sin(2 * np.pi * root * ratio * t[seg])
        beat = (t % 0.5) < 0.08
        y += beat * 0.5 * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 30)
        y += 0.02 * np.random.default_rng(1).standard_normal(n)
    elif kind == "chirp":  # 7 s at 22.05 kHz (exercises resampling): a rising chirp over pink-ish noise
        sr, n = 22050, 7 * 22050
        t = np.arange(n) / sr
        y = 0.4 * np.sin(2 * np.pi * (100 * t + 400 * t**2))
        noise = np.cumsum(np.random.default_rng(2).standard_normal(n))
        y += 0.002 * (noise - np.convolve(noise, np.ones(64) / 64, mode="same"))
    elif kind == "loud":  # 10 s at 16 kHz: loud bass and clicks (log-mel values near float16's range)
        sr, n = 16000, 10 * 16000
        t = np.arange(n) / sr
        y = 0.9 * np.sin(2 * np.pi * 55 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * t))
        y[:: sr // 4] += 0.5
        y += 0.05 * np.random.default_rng(3).standard_normal(n)
    else:
        raise ValueError(kind)
    return np.clip(np.round(y * 32767 * 0.95), -32768, 32767).astype(np.int16), sr


# --- end of the shared block -------------------------------------------------------------------------------------


def _ref(model: str) -> dict[str, np.ndarray]:
    with np.load(REF / f"{model}.npz") as z:
        return dict(z)


@pytest.fixture(scope="module")
def rounding_scale(ref_patches):
    """Per clip: the float32 rounding scale of MSD_musicnn's outputs on its reference patches
    (:func:`parity.musicnn_rounding_scale`), for tests that compare two ways of evaluating the network."""
    import torch

    from trackscope.audio.musicnn.model import build_model
    from trackscope.audio.musicnn.weights import load_weights

    w = load_weights("MSD_musicnn")
    net = build_model(w, factorize=False, channels_last=False)
    scales = {}
    with torch.inference_mode():
        for kind, x in ref_patches.items():
            out = {k: v.numpy() for k, v in net(torch.from_numpy(x)).items()}
            scales[kind] = parity.musicnn_rounding_scale(w, x, out)
    return scales


def _joined(scales: list[dict]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([s[k] for s in scales]) for k in scales[0]}


# ---------------------------------------------------------------------------------------------- checkpoint reader
def test_bundle_round_trip_of_a_tiny_checkpoint(tmp_path):
    from trackscope.audio.musicnn.bundle import read_bundle, read_index, write_bundle

    rng = np.random.default_rng(0)
    tensors = {
        "conv2d/kernel": rng.standard_normal((7, 3, 1, 4)).astype(np.float32),
        "conv2d/bias": np.arange(4, dtype=np.float32),
        "dense/kernel/Adam": np.ones((2, 2), np.float32),
        "global_step": np.array(1234567890123, dtype=np.int64),
        "counts": np.arange(300, dtype=np.int32),
        "half": np.linspace(0, 1, 5).astype(np.float16),
    }
    write_bundle(tmp_path / "ckpt", tensors)
    index = read_index(tmp_path / "ckpt.index")
    assert sorted(index) == sorted(tensors)
    assert index["conv2d/kernel"]["shape"] == [7, 3, 1, 4] and index["conv2d/kernel"]["dtype"] == 1
    assert index["global_step"]["shape"] == [] and index["global_step"]["dtype"] == 9
    back = read_bundle(tmp_path / "ckpt", skip=lambda n: "Adam" in n)
    assert sorted(back) == sorted(k for k in tensors if "Adam" not in k)
    for k, v in back.items():
        assert v.dtype == tensors[k].dtype and v.shape == tensors[k].shape
        np.testing.assert_array_equal(v, tensors[k])  # bytes written and read back: exact


def test_bundle_index_parses_hand_written_bytes(tmp_path):
    """A BundleEntryProto written byte by byte (not by our writer): dtype float, shape [2, 3], offset 8, size 24."""
    from trackscope.audio.musicnn import bundle

    data = np.arange(8, dtype=np.float32).tobytes()[:8] + np.arange(6, dtype=np.float32).tobytes()
    crc = bundle.mask_crc(bundle.crc32c(data[8:]))
    entry = bytes([0x08, 0x01, 0x12, 0x08, 0x12, 0x02, 0x08, 0x02, 0x12, 0x02, 0x08, 0x03, 0x20, 0x08, 0x28, 0x18])
    entry += b"\x35" + struct.pack("<I", crc)
    key = b"w"
    block = bytes([0, len(key), len(entry)]) + key + entry + struct.pack("<II", 0, 1)
    trailer = b"\x00" + struct.pack("<I", bundle.mask_crc(bundle.crc32c(block + b"\x00")))
    index_block = bytes([0, 2, 2]) + b"w\x00" + bytes([0, len(block)]) + struct.pack("<II", 0, 1)
    index_trailer = b"\x00" + struct.pack("<I", bundle.mask_crc(bundle.crc32c(index_block + b"\x00")))
    off = len(block) + 5
    footer = (bytes([0, 0]) + bytes([off, len(index_block)])).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    (tmp_path / "x.index").write_bytes(block + trailer + index_block + index_trailer + footer)
    (tmp_path / "x.data-00000-of-00001").write_bytes(data)
    out = bundle.read_bundle(tmp_path / "x")
    np.testing.assert_array_equal(out["w"], np.arange(6, dtype=np.float32).reshape(2, 3))  # raw bytes: exact


def test_bundle_rejects_corruption(tmp_path):
    from trackscope.audio.musicnn.bundle import read_bundle, write_bundle

    write_bundle(tmp_path / "c", {"a": np.ones(10, np.float32)})
    data = tmp_path / "c.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[5] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(ModelError, match="checksum mismatch"):
        read_bundle(tmp_path / "c")
    (tmp_path / "d.index").write_bytes(b"not a checkpoint at all" * 3)
    with pytest.raises(ModelError, match="not a TensorFlow checkpoint index") as err:
        read_bundle(tmp_path / "d")
    assert "d.index" in str(err.value)


# ---------------------------------------------------------------------------------------------- weights
def test_real_weights_are_fetched_converted_and_licensed():
    from trackscope.audio.musicnn.weights import ensure_weights, load_weights

    path = ensure_weights("MSD_musicnn")
    licence = (path.parent / "LICENSE-musicnn.md").read_text()
    assert "ISC" in licence and "Permission to use, copy, modify" in licence
    for model in ("MSD_musicnn", "MTT_musicnn"):
        w = load_weights(model)
        assert w["conv2d/kernel"].shape == (7, 38, 1, 204)
        assert w["conv2d_1/kernel"].shape == (7, 67, 1, 204)
        assert w["conv2d_2/kernel"].shape == (128, 1, 1, 51)
        assert w["conv2d_5/kernel"].shape == (7, 561, 1, 64)
        assert w["dense/kernel"].shape == (1506, 200) and w["dense_1/kernel"].shape == (200, 50)
        assert not any("Adam" in k for k in w)
    assert load_weights("MSD_vgg")["dense/kernel"].shape == (256, 50)


def test_unobtainable_sdist_gives_a_clear_error(tmp_path, monkeypatch):
    from trackscope.audio.musicnn.weights import ensure_weights

    monkeypatch.setenv("TRACKSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TRACKSCOPE_MUSICNN_SDIST", raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip as if offline: no index to ask
    with pytest.raises(TrackscopeError) as err:
        ensure_weights("MSD_musicnn")
    msg = str(err.value)
    assert "cannot fetch the musicnn weights" in msg and "TRACKSCOPE_MUSICNN_SDIST=" in msg
    assert "pip download --no-deps --no-binary :all: musicnn==0.1.0" in msg and "\n" not in msg

    fake = tmp_path / "musicnn-0.1.0.tar.gz"
    fake.write_bytes(b"not the real thing")
    monkeypatch.setenv("TRACKSCOPE_MUSICNN_SDIST", str(fake))
    with pytest.raises(TrackscopeError, match="not the musicnn 0.1.0 sdist") as err:
        ensure_weights("MSD_musicnn")
    assert err.value.path == str(fake)
    monkeypatch.setenv("TRACKSCOPE_MUSICNN_SDIST", str(tmp_path / "missing.tar.gz"))
    with pytest.raises(TrackscopeError, match="names no file"):
        ensure_weights("MSD_musicnn")
    with pytest.raises(TrackscopeError, match="unknown musicnn model"):
        ensure_weights("MSD_big")
    assert not (tmp_path / "cache" / "musicnn-0.1.0" / "MSD_musicnn.safetensors").exists()


# ---------------------------------------------------------------------------------------------- front end
def test_mel_matches_librosa():
    import librosa  # the dev extra's reference implementation (no silent skip)

    from trackscope.audio.musicnn import frontend as fe

    # the same float64 formulas cast to float32: ≤ 1 float32 ulp when a float64 exp/log differs in its last bit
    assert parity.ulps(fe.mel_filterbank(), librosa.filters.mel(sr=16000, n_fft=512, n_mels=96)).max() <= 1
    y = synth_clip("chords")[0].astype(np.float32) / 32768
    ref = librosa.feature.melspectrogram(y=y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    ours = fe.melspectrogram(y)
    assert ours.shape == ref.shape and ours.dtype == np.float32
    parity.check_mel(ours.T, ref.T, n_fft=512)  # float32 FFT rounding relative to each frame's peak


@pytest.mark.parametrize("kind", CLIPS)
def test_front_end_reproduces_musicnn_patches_exactly(kind, ref_patches):
    from trackscope.audio.io import decode_array
    from trackscope.audio.musicnn.frontend import spectrogram_patches

    pcm, sr = synth_clip(kind)
    assert hashlib.sha256(pcm.tobytes()).hexdigest() == META["clips"][kind]["sha256_int16"]
    patches = spectrogram_patches(decode_array(pcm, sr, sr=16000))
    assert patches.shape == ref_patches[kind].shape == (META["clips"][kind]["n_patches"], 187, 96)
    # Identical with numpy's AVX-512 log10; its AVX2 and baseline kernels round 42–55 % of the values 1–2 ulp
    # differently, and a last-bit change of the mel can flip a rare float16 rounding (one float16 step after the
    # log, ≤ 4.2e-4): ≤ 4 ulp except such flips (see parity.check_patches).
    parity.check_patches(patches, ref_patches[kind], kind)


def test_short_audio_is_repeat_padded_and_bad_input_is_reported():
    from trackscope.audio.musicnn.frontend import load, patches

    logmel = np.arange(100 * 96, dtype=np.float32).reshape(100, 96)
    p = patches(logmel)
    assert p.shape == (1, 187, 96)
    np.testing.assert_array_equal(p[0, 100:], logmel[:87])  # a copy: exact
    assert patches(np.zeros((400, 96), np.float32)).shape == (2, 187, 96)  # remainder dropped, as in musicnn
    with pytest.raises(TrackscopeError, match="sample rate"):
        load(np.zeros(16000, np.float32))


# ---------------------------------------------------------------------------------------------- network parity
@pytest.mark.parametrize("model", ["MSD_musicnn", "MTT_musicnn"])
def test_network_matches_original_musicnn(model, ref_patches):
    """taggram, mean_pool, penultimate within 1e-4 of TensorFlow's; max_pool and feature maps: parity.check_network."""
    from trackscope.audio.musicnn import embed_patches

    ref = _ref(model)
    assert META[f"{model}_tags"] == embed_patches(ref_patches["chords"][:1], model=model, device="cpu")["tags"]
    rows = META["frame_rows"]
    for kind in CLIPS:
        out = embed_patches(ref_patches[kind], model=model, device="cpu", batch_size=2)
        n = META["clips"][kind]["n_patches"]
        # TF's float32 rounding dominates (max_pool: 2.9e-4 from an exact evaluation): see parity.check_network
        parity.check_network(out, ref, kind, rows=rows)
        assert out["taggram"].shape == (n, 50) and out["timbral"].shape == (n, 187, 408)
        assert out["temporal"].shape == (n, 187, 153) and out["cnn3"].shape == (n, 187, 64)
        assert out["mean_pool"].shape == out["max_pool"].shape == (n, 753) and out["penultimate"].shape == (n, 200)
        # per patch, not patch 1 repeated (the original extractor's quirk)
        assert not np.allclose(out["penultimate"][0], out["penultimate"][1])


def test_embed_file_and_array_end_to_end(tmp_path):
    import soundfile as sf

    import trackscope
    from trackscope import api

    ref = _ref("MSD_musicnn")
    pcm, sr = synth_clip("chirp")
    wav = tmp_path / "chirp.wav"
    sf.write(wav, pcm, sr, subtype="PCM_16")
    out = trackscope.embed(wav)
    assert out["tags"][:3] == ["rock", "pop", "alternative"] and len(out["tags"]) == 50
    # against TF's float32 taggram (its rounding dominates): parity.NET_ATOL
    np.testing.assert_allclose(out["taggram"], ref["chirp_taggram"], rtol=0, atol=parity.NET_ATOL)
    pcm, sr = synth_clip("chords")
    out = api.embed(pcm, sr=sr, device="cpu")
    np.testing.assert_allclose(out["taggram"], ref["chords_taggram"], rtol=0, atol=parity.NET_ATOL)
    with pytest.raises(TrackscopeError, match="unknown musicnn model"):
        trackscope.embed(pcm, sr=sr, model="nope")


def test_low_rank_factoring_is_exact(ref_patches, rounding_scale):
    """The factored network equals the plain one up to float32 rounding: within parity.LOW_RANK_FACTOR × the
    rounding scale derived from the magnitudes of every sum (parity.musicnn_rounding_scale)."""
    import torch

    from trackscope.audio.musicnn.model import build_model, low_rank
    from trackscope.audio.musicnn.weights import load_weights

    rng = np.random.default_rng(0)
    m = rng.standard_normal((266, 5)) @ rng.standard_normal((5, 204))
    a, b = low_rank(m)
    assert a.shape == (266, 5) and b.shape == (5, 204)
    # float64 SVD of a rank-5 matrix: products of 5 terms, each entry of m a sum of 5 terms (|m| ≲ 15)
    terms = np.abs(a) @ np.abs(b)
    assert (np.abs(a @ b - m) <= 64 * np.finfo(np.float64).eps * terms).all()  # SVD backward error ~ n·eps64
    assert low_rank(rng.standard_normal((64, 51))) is None  # full rank: nothing to gain

    w = load_weights("MSD_musicnn")
    fast, plain = build_model(w, factorize=True), build_model(w, factorize=False, channels_last=False)
    assert hasattr(fast, "tim0_e") and not hasattr(plain, "tim0_e")
    x = torch.from_numpy(ref_patches["loud"])
    with torch.inference_mode():
        a_out, b_out = fast(x), plain(x)
    parity.check_low_rank(
        {k: v.numpy() for k, v in a_out.items()}, {k: v.numpy() for k, v in b_out.items()}, rounding_scale["loud"]
    )


def test_onednn_gemm_path_matches_the_portable_path(ref_patches, rounding_scale, monkeypatch):
    """The CPU fast path (oneDNN GEMMs for the timbral expansion and the mid end) and the portable path (what a GPU
    or a torch build without oneDNN runs) give the same numbers, factorised or not: the same sums formed in another
    order, so within the float32 rounding scale (parity.check_low_rank)."""
    import torch

    from trackscope.audio.musicnn import model as M
    from trackscope.audio.musicnn.weights import load_weights

    if M._onednn_linear() is None:
        pytest.skip("this torch build has no oneDNN linear")
    w = load_weights("MSD_musicnn")
    x = torch.from_numpy(np.concatenate([ref_patches["loud"], ref_patches["chords"]]))
    scale = _joined([rounding_scale["loud"], rounding_scale["chords"]])
    for factorize in (True, False):
        net = M.build_model(w, factorize=factorize)
        with torch.inference_mode():
            fast = net(x)
            monkeypatch.setattr(M, "_ONEDNN", [None])
            portable = net(x)
            monkeypatch.undo()
        assert all(fast[k].shape == portable[k].shape for k in M.OUTPUTS)
        fast_np, portable_np = ({k: v.numpy() for k, v in o.items()} for o in (fast, portable))
        parity.check_low_rank(fast_np, portable_np, scale, f"{factorize=} ")


def test_patches_split_over_threads_give_the_same_numbers(ref_patches, rounding_scale):
    """With several torch threads, embed_patches runs shares of the patches in parallel (one torch thread each)."""
    import torch

    from trackscope.audio.musicnn import embed_patches

    kinds = sorted(ref_patches)
    x = np.concatenate([ref_patches[k] for k in kinds])  # 7 patches: odd split sizes (3, 2, 2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = embed_patches(x)
        torch.set_num_threads(3)
        three = embed_patches(x)
        assert torch.get_num_threads() == 3  # restored after the call
    finally:
        torch.set_num_threads(before)
    # smaller batches may take other kernels or blockings (sums in another order): the float32 rounding scale
    parity.check_low_rank(one, three, _joined([rounding_scale[k] for k in kinds]))
