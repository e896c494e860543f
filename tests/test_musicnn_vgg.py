"""musicnn's VGG baselines (MSD_vgg, MTT_vgg) in PyTorch vs the original TensorFlow graph (no TensorFlow here).

The reference arrays ``tests/data/musicnn_ref/{MSD,MTT}_vgg.npz`` and ``vgg_meta.json`` were made once by
``bench/make_musicnn_reference.py --models MSD_vgg MTT_vgg`` with the original musicnn 0.1.0 on TensorFlow 2.16
(CPU), from the same spectrogram patches as the musicnn references (``clips.npz``). Like ``tests/test_musicnn.py``,
tests that need the real weights fetch them through ``ensure_weights`` on first use (PyPI, then the user cache) and
fail with its message when that is impossible.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from parity import EPS32, VGG_ATOL
from test_musicnn import synth_clip  # the reference clips' synthesis (also in bench/make_musicnn_reference.py)
from trackscope.errors import TrackscopeError

REF = Path(__file__).parent / "data" / "musicnn_ref"
VMETA = json.loads((REF / "vgg_meta.json").read_text())
CLIPS = ("chords", "chirp", "loud")
MAPS = ("pool1", "pool2", "pool3", "pool4")  # stored as per-channel mean/max over (time, band) + sampled values
TOL = VGG_ATOL  # against TF's float32 outputs: see parity.VGG_ATOL
# float32 against the float64 plain network: conv sums of 1152 terms (≲ √1152 ≈ 34 EPS32 of the layer's scale, the
# probabilistic bound) per layer, twice for the layers below (measured ≤ 16 EPS32 · scale)
SHORTCUT_RTOL_OF_SCALE = 2 * math.sqrt(9 * 128) * EPS32


def _ref(model: str) -> dict[str, np.ndarray]:
    with np.load(REF / f"{model}.npz") as z:
        return dict(z)


@pytest.mark.parametrize("model", ["MSD_vgg", "MTT_vgg"])
def test_vgg_matches_original(model, ref_patches):
    """taggram, pool5 and every pool map (per-channel mean and max over time × bands, sampled values) ≤ 1e-4."""
    from trackscope.audio.musicnn import embed_patches

    ref, meta = _ref(model), VMETA[model]
    for kind in CLIPS:
        out = embed_patches(ref_patches[kind], model=model, device="cpu")
        n = ref_patches[kind].shape[0]
        assert out["tags"] == meta["tags"]
        for name, shape in meta["shapes_per_patch"].items():
            assert out[name].shape == (n, *shape) and out[name].dtype == np.float32, name
        np.testing.assert_allclose(out["taggram"], ref[f"{kind}_taggram"], rtol=0, atol=TOL)
        np.testing.assert_allclose(out["pool5"], ref[f"{kind}_pool5"], rtol=0, atol=TOL)
        for name in MAPS:
            a = out[name]
            mean = a.mean(axis=(1, 2), dtype=np.float64)
            np.testing.assert_allclose(mean, ref[f"{kind}_{name}_mean"], rtol=0, atol=TOL, err_msg=name)
            np.testing.assert_allclose(a.max(axis=(1, 2)), ref[f"{kind}_{name}_max"], rtol=0, atol=TOL, err_msg=name)
            sample = a.reshape(n, -1)[:, ref[f"{name}_index"]]
            np.testing.assert_allclose(sample, ref[f"{kind}_{name}_sample"], rtol=0, atol=TOL, err_msg=name)
        assert not np.allclose(out["pool5"][0], out["pool5"][1])  # per patch


def _plain_vgg(weights: dict, x: np.ndarray) -> dict:
    """musicnn/models.py::vgg in the obvious order (conv → ReLU → batch norm → max pool, NHWC flatten) in float64."""
    import torch
    import torch.nn.functional as F

    def bn(h, name):
        g, b = (torch.from_numpy(weights[f"{name}/{k}"]).double() for k in ("gamma", "beta"))
        m, v = (torch.from_numpy(weights[f"{name}/{k}"]).double() for k in ("moving_mean", "moving_variance"))
        shape = (1, -1, 1, 1)
        return (h - m.view(shape)) / torch.sqrt(v.view(shape) + 1e-3) * g.view(shape) + b.view(shape)

    h = bn(torch.from_numpy(x).double()[:, None], "batch_normalization")
    pools = ([4, 1], [2, 2]), ([2, 2], [2, 2]), ([2, 2], [2, 2]), ([2, 2], [2, 2]), ([4, 4], [4, 4])
    out = {}
    for i, (size, stride) in enumerate(pools):
        k = torch.from_numpy(weights[f"{i + 1}CNN/kernel"]).double().permute(3, 2, 0, 1)
        z = F.relu(F.conv2d(h, k, torch.from_numpy(weights[f"{i + 1}CNN/bias"]).double(), padding=1))
        h = F.max_pool2d(bn(z, f"batch_normalization_{i + 1}"), size, stride)
        out[f"pool{i + 1}"] = h.permute(0, 2, 3, 1).numpy()
    logits = out["pool5"].reshape(len(x), -1) @ weights["dense/kernel"].astype(np.float64) + weights["dense/bias"]
    out["taggram"] = 1 / (1 + np.exp(-logits))
    return out


def _random_vgg_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """TF-named VGG weights with random values; half the batch-norm gammas negative (the pool-first shortcut's
    hard case: a max of a decreasing map is a min) and, as in musicnn's checkpoints, some filters decayed to ~1e-30
    (dead: the pruned network replaces them by constants)."""
    rng = np.random.default_rng(seed)
    w: dict[str, np.ndarray] = {}

    def bn_params(name: str, c: int) -> None:
        gamma = rng.uniform(0.5, 1.5, c) * np.where(np.arange(c) % 2 == 0, 1.0, -1.0)
        w[f"{name}/gamma"], w[f"{name}/beta"] = gamma.astype(np.float32), rng.normal(0, 0.3, c).astype(np.float32)
        w[f"{name}/moving_mean"] = rng.normal(0, 0.3, c).astype(np.float32)
        w[f"{name}/moving_variance"] = rng.uniform(0.5, 2.0, c).astype(np.float32)

    bn_params("batch_normalization", 1)
    for i in range(5):
        c_in = 1 if i == 0 else 128
        kernel = rng.normal(0, (9 * c_in) ** -0.5, (3, 3, c_in, 128))
        kernel[..., rng.choice(128, 40 - 8 * i, replace=False)] *= 1e-30  # 40, 32, 24, 16, 8 dead filters
        w[f"{i + 1}CNN/kernel"] = kernel.astype(np.float32)
        w[f"{i + 1}CNN/bias"] = rng.normal(0, 0.1, 128).astype(np.float32)
        bn_params(f"batch_normalization_{i + 1}", 128)
    w["dense/kernel"] = rng.normal(0, 256**-0.5, (256, 50)).astype(np.float32)
    w["dense/bias"] = rng.normal(0, 0.1, 50).astype(np.float32)
    return w


def test_vgg_shortcuts_equal_the_plain_order_with_negative_batch_norm_scales_and_dead_filters():
    """Pooling before ReLU + batch norm (sign-flipped filters), conv1 at band stride 2, strided-slice pooling and
    dead filters replaced by constants give the plain float64 network's numbers, in every layout."""
    import torch

    from trackscope.audio.musicnn.vgg import build_vgg, pool_shapes

    w = _random_vgg_weights()
    x = np.random.default_rng(1).normal(2, 1, (3, 187, 96)).astype(np.float32)
    plain = _plain_vgg(w, x)
    for channels_last, prune in ((True, True), (False, True), (True, False)):
        net = build_vgg(w, "MTT_vgg", channels_last=channels_last, prune=prune)
        assert (net.bn1_sign < 0).any() and net.tags[0] == "guitar"
        assert [len(net.get_buffer(f"pool{i}_const")) for i in range(5)] == ([40, 32, 24, 16, 8] if prune else [0] * 5)
        with torch.inference_mode():
            out = {k: v.numpy() for k, v in net(torch.from_numpy(x)).items()}
        for name, shape in pool_shapes().items():
            assert out[name].shape == (3, *shape)
            scale = np.abs(plain[name]).max()
            atol = SHORTCUT_RTOL_OF_SCALE * scale
            np.testing.assert_allclose(out[name], plain[name], rtol=0, atol=atol, err_msg=name)
        # sigmoid ∈ (0, 1) of a 256-term sum over pool5: ≤ 1/4 of that sum's error (√256 EPS32 · Σ|terms| ≲ 1)
        np.testing.assert_allclose(out["taggram"], plain["taggram"], rtol=0, atol=SHORTCUT_RTOL_OF_SCALE)
    assert pool_shapes() == {
        "pool1": (92, 48, 128),
        "pool2": (46, 24, 128),
        "pool3": (23, 12, 128),
        "pool4": (11, 6, 128),
        "pool5": (2, 1, 128),
    }
    with pytest.raises(ValueError, match="not a VGG model"):
        build_vgg(w, "MSD_musicnn")
    bad = dict(w, **{"3CNN/kernel": np.zeros((3, 3, 64, 128), np.float32)})
    with pytest.raises(ValueError, match=r"3CNN/kernel has shape \(3, 3, 64, 128\)"):
        build_vgg(bad)


def test_embed_vgg_end_to_end_layers_and_errors(tmp_path):
    import soundfile as sf

    import trackscope
    from trackscope.audio.musicnn import MODEL_NAMES, model_outputs
    from trackscope.audio.musicnn.weights import MODELS

    assert MODEL_NAMES == MODELS  # every model whose weights are converted can be run
    assert model_outputs("MSD_vgg") == ("taggram", "pool1", "pool2", "pool3", "pool4", "pool5")
    pcm, sr = synth_clip("chirp")
    wav = tmp_path / "chirp.wav"
    sf.write(wav, pcm, sr, subtype="PCM_16")
    ref = _ref("MSD_vgg")
    out = trackscope.embed(wav, model="MSD_vgg", layers=["taggram", "pool5"])
    assert set(out) == {"taggram", "pool5", "tags", "patches"}
    np.testing.assert_allclose(out["taggram"], ref["chirp_taggram"], rtol=0, atol=TOL)
    np.testing.assert_allclose(out["pool5"], ref["chirp_pool5"], rtol=0, atol=TOL)
    assert out["tags"][:3] == ["rock", "pop", "alternative"]

    from trackscope.audio.musicnn import embed_patches

    with np.load(REF / "clips.npz") as z:
        few = z["patches_chords"]
    both = embed_patches(few, model="MSD_musicnn", device="cpu", layers="penultimate")
    assert set(both) == {"penultimate", "tags"} and both["penultimate"].shape == (2, 200)
    with pytest.raises(TrackscopeError, match="choose one of MSD_musicnn, MTT_musicnn, MSD_vgg, MTT_vgg"):
        trackscope.embed(pcm, sr=sr, model="VGG")
    with pytest.raises(TrackscopeError, match="MSD_vgg has no output 'penultimate'; its outputs are taggram, pool1"):
        trackscope.embed(pcm, sr=sr, model="MSD_vgg", layers=["penultimate"])
