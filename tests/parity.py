"""Parity checks against reference numbers (musicnn's TensorFlow outputs, librosa) with tolerances derived from
float32 precision, shared by the parity tests and by ``tests/test_cpu_paths.py``, which runs them on the outputs of
other CPU code paths (numpy without AVX-512, torch's default/AVX2 kernels, oneDNN limited to AVX2).

Rule: two float computations are compared bit for bit only when the result is exact by construction (the same code
on the same input in one process, a copy, a lossless round trip); everywhere else the tolerance follows from
float32's precision ``EPS32 = 2**-23`` and the size of what is summed, with the reason next to it.
"""

from __future__ import annotations

import math

import numpy as np

EPS32 = float(np.finfo(np.float32).eps)  # 2^-23 ≈ 1.19e-7: one float32 ulp at 1.0

# --- musicnn's front end: log10(10000 · float16(mel) + 1) in float32 ------------------------------------------------
# numpy's float32 log10 is correctly rounded to ≤ 2 ulp on each of its SIMD paths (AVX-512, AVX2, baseline: all
# measured here, 42–55 % of values 1–2 ulp apart between paths); 4 ulp leaves a factor 2.
LOG10_ULPS = 4
# A last-bit change of the float32 mel power can move its float16 rounding by one float16 step (relative 2^-10 at
# most), which log10(10000·m + 1) turns into at most 2^-10 / ln(10) ≈ 4.2e-4.
F16_STEP_AFTER_LOG = 2.0**-10 / math.log(10)
# Such a flip needs the float32 value within its own error (≤ 2 float32 ulp = 2^-22 relative) of a float16 rounding
# midpoint, spaced 2^-10 relative: at most 2^-22 / 2^-10 · 2 = 2^-11 of the values (measured: 1 in 54k, 1.9e-5).
F16_FLIP_RATE = 2.0**-11


def ulps(a, b) -> np.ndarray:
    """|a − b| in float32 ulps of the larger magnitude (elementwise)."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.spacing(np.maximum(np.abs(a64), np.abs(b64)).astype(np.float32)).astype(np.float64)
    return np.abs(a64 - b64) / scale


def check_patches(patches: np.ndarray, ref: np.ndarray, what: str = "patches") -> None:
    """musicnn's log-mel patches against the original pipeline's (librosa, numpy float16 → float32 → log10)."""
    assert patches.shape == ref.shape and patches.dtype == np.float32, (what, patches.shape, ref.shape)
    beyond = ulps(patches, ref) > LOG10_ULPS
    assert beyond.mean() <= F16_FLIP_RATE, f"{what}: {beyond.mean():.2e} of values more than {LOG10_ULPS} ulp away"
    err = np.abs(patches.astype(np.float64) - ref)
    bound = F16_STEP_AFTER_LOG + LOG10_ULPS * np.spacing(np.abs(ref))  # a float16 step, plus log10's own rounding
    assert (err <= bound).all(), f"{what}: max |Δ| {err.max():.3g} > one float16 step after the log"


# --- mel spectrograms (float32 STFT) against librosa -------------------------------------------------------------
# A float32 FFT of length n errs by ~EPS32 · log2(n) of the frame's energy in every bin (not of the bin's own
# value: weak bins are relatively worse), and the mel filter sums only non-negative terms. So each mel value is
# within MEL_FACTOR · EPS32 · log2(n_fft) of its frame's largest mel value (measured: ≤ 0.5 of that bound).
MEL_FACTOR = 4


def check_mel(ours: np.ndarray, ref: np.ndarray, n_fft: int, what: str = "mel") -> None:
    """Mel power spectrogram (mels × frames) against librosa's."""
    assert ours.shape == ref.shape and ours.dtype == np.float32, (what, ours.shape, ref.shape)
    ref64 = np.asarray(ref, dtype=np.float64)
    frame_peak = ref64.max(axis=0, keepdims=True)
    err = np.abs(ours - ref64)
    bound = MEL_FACTOR * EPS32 * math.log2(n_fft) * frame_peak
    worst = float(np.max(err / np.maximum(bound, np.finfo(np.float64).tiny)))
    assert (err <= bound).all(), f"{what}: error {worst:.2f}× the float32 FFT bound"


# --- descriptors against librosa's definitions -------------------------------------------------------------------
# Spectral statistics are frame means of ratios/sums of float32 |STFT| values: a few EPS32 each (measured ≤ 4.3
# EPS32 relative); 32 leaves a factor 7.
DESCRIPTOR_EPS = 32


def descriptor_tolerance(name: str, ref: dict[str, float], n_samples: int, hop: int = 512) -> float:
    """Absolute tolerance of descriptor ``name`` against librosa's value ``ref[name]``."""
    if name.startswith("zcr"):
        # a count: one crossing decided differently (a sample at librosa's ±1e-10 zero threshold) changes the 4
        # frames (2048 / 512) that hold it by 1/2048 each, the mean over frames by 1 / (hop · frames); allow 4
        return 4.0 / (hop * (1 + n_samples // hop))
    if name.startswith("mfcc_"):
        # DCT coefficients are signed sums of the same log-mel values (their size: |mfcc_0|), so a coefficient
        # near 0 carries the rounding of the large terms
        return DESCRIPTOR_EPS * EPS32 * max(abs(ref[name]), abs(ref["mfcc_0_mean"]))
    return DESCRIPTOR_EPS * EPS32 * abs(ref[name])


def librosa_descriptors(y: np.ndarray, sr: int) -> dict[str, float]:
    """librosa's values of the descriptors that share its definitions (tests/test_descriptors.py)."""
    import librosa

    S = np.abs(librosa.stft(y))
    rolloff = librosa.feature.spectral_rolloff(S=S)
    zcr, rms = librosa.feature.zero_crossing_rate(y), librosa.feature.rms(y=y)
    ref = {
        "spectral_centroid_mean": librosa.feature.spectral_centroid(S=S).mean(),
        "spectral_bandwidth_mean": librosa.feature.spectral_bandwidth(S=S).mean(),
        "spectral_rolloff_mean": rolloff.mean(),
        "spectral_rolloff_std": rolloff.std(),
        "spectral_flatness_mean": librosa.feature.spectral_flatness(S=S).mean(),
        "zcr_mean": zcr.mean(),
        "zcr_std": zcr.std(),
        "rms_mean": rms.mean(),
        "rms_std": rms.std(),
    }
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    for i in (0, 1, 7, 19):
        ref[f"mfcc_{i}_mean"], ref[f"mfcc_{i}_std"] = mfcc[i].mean(), mfcc[i].std()
    contrast = librosa.feature.spectral_contrast(S=S, sr=sr).mean(axis=1)
    for b in range(7):
        ref[f"spectral_contrast_{b}_mean"] = contrast[b]
    return {k: float(v) for k, v in ref.items()}


def check_descriptors(ours: dict[str, float], ref: dict[str, float], n_samples: int) -> None:
    for name, value in ref.items():
        tol = descriptor_tolerance(name, ref, n_samples)
        assert abs(ours[name] - value) <= tol, f"{name}: {ours[name]!r} vs librosa {value!r} (tolerance {tol:.2g})"


# --- musicnn network against the original TensorFlow outputs ----------------------------------------------------
# The references are TensorFlow's float32 results, whose own rounding dominates the difference: measured against an
# exact (float64) evaluation, TF's taggram/pooled/penultimate values are off by ≤ 3e-5 and its max_pool (cnn3's
# maxima, values up to ~45) by 2.9e-4, ours by ≤ 1.1e-4 there (docs/musicnn.md). Tolerances: TF's error + ours with
# a margin of ~2.
NET_ATOL = 1e-4  # taggram (∈ [0, 1]), mean_pool, penultimate (|values| ≲ 5): ~30 float32 ulps at 5
MAX_POOL_RTOL, MAX_POOL_ATOL = 1e-5, 4e-4  # TF's 2.9e-4 at values up to ~45 (1e-5 ≈ 80 EPS32 relative)
MAP_RTOL, MAP_ATOL = 1e-5, 5e-4  # intermediate maps up to ~50: TF's own rounding is ~1e-5 of that scale
NETWORK_OUTPUTS = ("taggram", "penultimate", "mean_pool", "max_pool")


def check_network(out: dict, ref: dict, kind: str, rows=None) -> None:
    """musicnn outputs of one clip against TensorFlow's (``ref``: the model's reference npz as a dict)."""
    for k in ("taggram", "mean_pool", "penultimate"):
        np.testing.assert_allclose(out[k], ref[f"{kind}_{k}"], rtol=0, atol=NET_ATOL, err_msg=k)
    np.testing.assert_allclose(out["max_pool"], ref[f"{kind}_max_pool"], rtol=MAX_POOL_RTOL, atol=MAX_POOL_ATOL)
    if rows is not None:
        for layer in ("timbral", "temporal", "cnn1", "cnn2", "cnn3"):
            np.testing.assert_allclose(
                out[layer][:, rows], ref[f"{kind}_{layer}_rows"], rtol=MAP_RTOL, atol=MAP_ATOL, err_msg=layer
            )


# VGG: TF's and our float32 sums of 3·3·128 = 1152 terms, five layers deep: ≲ √1152·EPS32 ≈ 4e-6 of a layer's scale
# per layer and implementation; values ≲ 10 (a few pool maxima ~90): 1e-4 (measured ≤ 1.4e-5 · max(|v|, 1) on every
# CPU path here).
VGG_ATOL = 1e-4


# --- the low-rank (factored) network against the plain one -------------------------------------------------------
# How far two float32 evaluations of musicnn can be apart when they differ only in how the sums are formed (the
# plain convolutions vs a convolution to r channels and an r → C expansion, another kernel or ISA):
#
# - a sum of n terms (bias included: oneDNN adds it first) rounds to within ~EPS32 · √n · Σ|terms| (the probabilistic
#   bound of Higham & Mary 2019; the worst case has n in place of √n), for each of the two forms;
# - the factoring drops singular values below 1e-7 of the largest: a further ≤ σ_dropped · ‖input window‖₂;
# - errors of a layer's input go through its weights in root-sum-square (independent roundings), then the batch-norm
#   scale |s|; a ReLU or a max never makes an error larger; a mean over time adds its own sum's rounding.
# LOW_RANK_FACTOR multiplies that scale; the largest ratio measured is 0.67 (timbral, oneDNN limited to AVX2).
# Deeper outputs inherit the root-sum-square of the front end's errors, a generous bound there (measured ≤ 0.05 of
# it); the factoring itself is tested tightly where it happens (timbral, temporal, cnn1).
LOW_RANK_FACTOR = 4
LOW_RANK_OUTPUTS = ("taggram", "penultimate", "mean_pool", "max_pool", "timbral", "temporal", "cnn1", "cnn2", "cnn3")


def musicnn_rounding_scale(w: dict, x: np.ndarray, out: dict) -> dict[str, np.ndarray]:
    """Per-value scale of the float32 difference between the factored and the plain musicnn (see above).

    ``w``: the TF-named weights; ``x``: the patches (n × 187 × 96); ``out``: one evaluation's outputs (its feature
    maps give the magnitudes of the mid end's inputs). Magnitudes only, so it is computed in float32.
    """
    import torch
    import torch.nn.functional as F

    from trackscope.audio.musicnn.model import _bn, low_rank

    def t(a) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def rss(*parts):
        return torch.sqrt(sum(p * p for p in parts))

    def bn_scale(name: str):
        return t(np.abs(_bn(w, name)[0]))

    def layer(v, e, conv, k, bias, s):
        """Scale of s · (conv(v, k) + bias) given the scale e of v's errors (None: v is the same in both)."""
        flat = k.permute(*range(2, k.dim()), 1, 0).reshape(-1, k.shape[0]).numpy()  # (taps, out) as the model's
        n = flat.shape[0]
        b = t(np.abs(bias)).reshape(-1, *[1] * (k.dim() - 2))
        parts = [EPS32 * math.sqrt(n) * (conv(v.abs(), k.abs()) + b)]
        factors = low_rank(flat)
        if factors is not None:
            a, e2 = factors
            r = a.shape[1]
            ka = t(np.abs(a).T.reshape(r, *k.shape[2:], k.shape[1])).permute(0, k.dim() - 1, *range(1, k.dim() - 1))
            ke = t(np.abs(e2).T).reshape(-1, r, *[1] * (k.dim() - 2))
            parts.append(EPS32 * math.sqrt(n + r) * (conv(conv(v.abs(), ka), ke) + b))
            dropped = np.linalg.svd(flat.astype(np.float64), compute_uv=False)[r]
            parts.append(dropped * torch.sqrt(conv(v * v, torch.ones_like(k[:1]))))
        if e is not None:
            parts.append(torch.sqrt(conv(e * e, k * k)))
        return rss(*parts) * s

    s0, h0 = _bn(w, "batch_normalization")
    img = (t(x) * t(s0) + t(h0))[:, None]  # computed alike in both: no error of its own
    front = []
    names = [("conv2d", 1, 3, 3), ("conv2d_1", 2, 3, 3)]
    names += [(f"conv2d_{i + 2}", i + 3, (n - 1) // 2, n - 1 - (n - 1) // 2) for i, n in enumerate((128, 64, 32))]
    for name, bn_i, before, after in names:
        k = t(w[f"{name}/kernel"]).permute(3, 2, 0, 1)  # (out, 1, time, band)
        s = bn_scale(f"batch_normalization_{bn_i}")[:, None, None]
        e = layer(F.pad(img, (0, 0, before, after)), None, F.conv2d, k, w[f"{name}/bias"], s)
        front.append(e.amax(dim=3))  # the max over bands
    errs = [torch.cat(front, dim=1)]  # (n, 561, T)
    vals = [torch.cat([t(out["timbral"]), t(out["temporal"])], dim=2).mT]
    vals += [t(out[f"cnn{i}"]).mT for i in (1, 2, 3)]
    for i in range(3):
        k = t(w[f"conv2d_{i + 5}/kernel"][:, :, 0, :]).permute(2, 1, 0)  # (64, C, 7)
        s = bn_scale(f"batch_normalization_{i + 6}")[:, None]
        e = layer(F.pad(vals[i], (3, 3)), F.pad(errs[i], (3, 3)), F.conv1d, k, w[f"conv2d_{i + 5}/bias"], s)
        errs.append(rss(e, errs[i]) if i else e)  # + the residual's own error
    feats, frames = torch.cat(errs, dim=1), x.shape[1]
    # a max is exact; a mean adds its own sum's rounding (the paths reduce over time in other layouts)
    mean_e = rss(feats.mean(dim=2), EPS32 * math.sqrt(frames) * torch.cat(vals, dim=1).abs().mean(dim=2))
    max_e = feats.amax(dim=2)
    s9, h9 = _bn(w, "batch_normalization_9")
    flat_v = torch.stack([t(out["max_pool"]), t(out["mean_pool"])], dim=2).reshape(len(x), -1) * t(s9) + t(h9)
    flat_e = torch.stack([max_e, mean_e], dim=2).reshape(len(x), -1) * t(np.abs(s9))

    def dense(v, e, kernel, bias):
        k = t(kernel).T
        local = EPS32 * math.sqrt(k.shape[1]) * F.linear(v.abs(), k.abs(), t(np.abs(bias)))
        return rss(local, torch.sqrt(F.linear(e * e, k * k)))

    pen_e = dense(flat_v, flat_e, w["dense/kernel"], w["dense/bias"]) * bn_scale("batch_normalization_10")
    logit_e = dense(t(out["penultimate"]), pen_e, w["dense_1/kernel"], w["dense_1/bias"])
    scale = {
        "taggram": 0.25 * logit_e + EPS32,  # the sigmoid's slope is ≤ 1/4; its own rounding ≤ 1 ulp of ≤ 1
        "penultimate": pen_e,
        "mean_pool": mean_e,
        "max_pool": max_e,
        "timbral": errs[0][:, :408].mT,
        "temporal": errs[0][:, 408:].mT,
        "cnn1": errs[1].mT,
        "cnn2": errs[2].mT,
        "cnn3": errs[3].mT,
    }
    return {k: v.numpy() for k, v in scale.items()}


def check_low_rank(fast: dict, plain: dict, scale: dict, what: str = "") -> None:
    """The factored network's outputs within LOW_RANK_FACTOR × the rounding scale of the plain one's."""
    for k in LOW_RANK_OUTPUTS:
        a, b = np.asarray(fast[k], dtype=np.float64), np.asarray(plain[k], dtype=np.float64)
        assert a.shape == b.shape, (k, a.shape, b.shape)
        err, tol = np.abs(a - b), LOW_RANK_FACTOR * scale[k]
        if not (err <= tol).all():
            i = np.unravel_index(np.argmax(err - tol), err.shape)
            raise AssertionError(
                f"{what}{k}: {int((err > tol).sum())} of {err.size} values beyond {LOW_RANK_FACTOR} × the float32 "
                f"rounding scale; worst at {i}: |Δ| {err[i]:.3g}, scale {scale[k][i]:.3g}"
            )
