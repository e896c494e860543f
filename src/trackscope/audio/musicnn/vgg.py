"""musicnn's VGG baselines (``MSD_vgg``, ``MTT_vgg``) in PyTorch, inference only, loading the published weights.

The original graph (``musicnn/models.py::vgg`` with ``num_filters=128``, TensorFlow 1, NHWC with H = time,
W = mel band) is, for an input of (B, 187, 96) log-mel patches (the same 3-s patches as musicnn; its extractor
refuses any other ``input_length`` for the VGG models)::

    x → expand to (B, 187, 96, 1) → batch norm
    five times: conv2d 3 × 3, 128 filters, padding 'same', ReLU → batch norm → max_pooling2d (padding 'valid')
        pool1: pool (4, 1), strides (2, 2) → (B, 92, 48, 128)
        pool2: pool (2, 2), strides (2, 2) → (B, 46, 24, 128)
        pool3: pool (2, 2), strides (2, 2) → (B, 23, 12, 128)
        pool4: pool (2, 2), strides (2, 2) → (B, 11,  6, 128)
        pool5: pool (4, 4), strides (4, 4) → (B,  2,  1, 128)
    flatten pool5 (NHWC order: time, band, channel) → dense 256 → 50 → sigmoid (the taggram)

Dropout (after every pool) is inactive at inference. Every batch norm is TF's inference form with ε = 0.001
(``tf.compat.v1.layers.batch_normalization``'s default; the checkpoint stores ``gamma``, ``beta``,
``moving_mean``, ``moving_variance``) and comes *after* the ReLU, per channel (the last axis in TF). TF's 'same'
padding for a 3 × 3 stride-1 convolution is one zero row/column on every side (``(k - 1) // 2`` before, the rest
after: 1 and 1), exactly torch's ``padding=1``. ``tf.compat.v1.layers.max_pooling2d`` defaults to padding
'valid': windows that do not fit are dropped (floor), as torch's ``max_pool2d`` without padding does — e.g. pool5
sees only time rows 0–7 and bands 0–3 of the 11 × 6 map. Weight names: ``1CNN`` … ``5CNN`` (kernel (3, 3, in,
128), bias), ``batch_normalization`` (input, one channel), ``batch_normalization_1`` … ``_5`` (after each conv),
``dense`` (256, 50).

Here the network runs NCHW (B, 128, T, F) — channels-last in memory, oneDNN's fast layout on CPU — and the pool
maps are returned in TF's order (B, T, F, 128). Two exact shortcuts (the same float32 results as the plain order,
bit for bit, since rounding is monotonic):

- pool before the batch norm: ReLU then a per-channel affine map a · r + b is monotonic in the convolution's output z
  (increasing for a ≥ 0, decreasing for a < 0), so ``max(a·relu(z)+b) = a·relu(max z)+b`` for a ≥ 0 and
  ``a·relu(min z)+b`` for a < 0. We negate the filter and bias of the channels with a < 0 (then max of −z = −min z,
  negation is exact) and apply ReLU and batch norm to the pooled map, 2–4× smaller;
- pool1's window is one band wide with band stride 2, so only even bands of conv1 are ever used: conv1 runs with band
  stride 2 (the 'same' padding of one column keeps the same centres).

Measured on one thread (shared 2-core EPYC, 2 patches a batch, interleaved): plain order 30.0 ms a patch, with both
shortcuts 16.2 ms, same outputs bit for bit. The plain order spent ~12 ms of a patch on ReLU, batch norm and pooling
of conv1's 187 × 96 × 128 map (conv1 itself: 0.5 ms); now conv2 (0.65 G multiply-adds, ~6 ms) dominates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon
N_FILTERS = 128  # musicnn/models.py::define_model passes 128 for both VGG models
# (pool size, strides) of max_pooling2d after each conv, (time, band); padding 'valid'
POOLS: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((4, 1), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((4, 4), (4, 4)),
)
POOL_NAMES: tuple[str, ...] = ("pool1", "pool2", "pool3", "pool4", "pool5")
OUTPUTS: tuple[str, ...] = ("taggram", *POOL_NAMES)
VGG_MODELS: tuple[str, ...] = ("MSD_vgg", "MTT_vgg")


def pool_shapes(frames: int = 187, bands: int = 96) -> dict[str, tuple[int, int, int]]:
    """(time, band, channel) of each pool map for one patch: ``{"pool1": (92, 48, 128), …, "pool5": (2, 1, 128)}``."""
    shapes = {}
    t, f = frames, bands
    for name, ((kt, kf), (st, sf)) in zip(POOL_NAMES, POOLS, strict=True):
        t, f = (t - kt) // st + 1, (f - kf) // sf + 1
        shapes[name] = (t, f, N_FILTERS)
    return shapes


def _bn(w: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """TF batch norm at inference as (scale, shift) computed in float64: y = x · scale + shift."""
    import numpy as np

    g, b = w[f"{name}/gamma"].astype(np.float64), w[f"{name}/beta"].astype(np.float64)
    m, v = w[f"{name}/moving_mean"].astype(np.float64), w[f"{name}/moving_variance"].astype(np.float64)
    scale = g / np.sqrt(v + BN_EPS)
    return scale, b - m * scale


def _make_module():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class MusicnnVGG(nn.Module):
        """musicnn's VGG with TF weights; ``forward`` returns a dict of the layers in :data:`OUTPUTS`."""

        def __init__(self, w: dict) -> None:
            super().__init__()
            import numpy as np

            def buf(name: str, a) -> None:
                t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
                self.register_buffer(name, t, persistent=False)

            s, h = _bn(w, "batch_normalization")
            buf("in_s", s)
            buf("in_h", h)
            for i in range(5):
                k = w[f"{i + 1}CNN/kernel"]
                c_in = 1 if i == 0 else N_FILTERS
                if k.shape != (3, 3, c_in, N_FILTERS):
                    raise ValueError(f"{i + 1}CNN/kernel has shape {k.shape}, expected (3, 3, {c_in}, {N_FILTERS})")
                s, h = _bn(w, f"batch_normalization_{i + 1}")
                sign = np.where(s >= 0, 1.0, -1.0).astype(np.float32)  # channels whose max becomes a min
                buf(f"conv{i}_w", k.transpose(3, 2, 0, 1) * sign[:, None, None, None])  # → (out, in, kh, kw)
                buf(f"conv{i}_b", w[f"{i + 1}CNN/bias"] * sign)
                buf(f"bn{i}_sign", sign[:, None, None])
                buf(f"bn{i}_s", s[:, None, None])
                buf(f"bn{i}_h", h[:, None, None])
            buf("dense_w", w["dense/kernel"].T)  # (50, 256); inputs in NHWC flatten order (time, band, channel)
            buf("dense_b", w["dense/bias"])
            self.channels_last = False

        def to_channels_last(self) -> MusicnnVGG:
            """oneDNN's fastest layout for the 3 × 3 convolutions (same numbers up to float rounding)."""
            for name, t in list(self.named_buffers()):
                if t.dim() == 4:
                    setattr(self, name, t.contiguous(memory_format=torch.channels_last))
            self.channels_last = True
            return self

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            """x: (B, 187, 96) log-mel patches → taggram (B, 50) and pool1…pool5 as (B, T, F, 128)."""
            h = (x * self.in_s + self.in_h)[:, None]  # (B, 1, T, F): input batch norm, one channel
            if self.channels_last:
                h = h.contiguous(memory_format=torch.channels_last)
            pools = []
            for i, (kernel, stride) in enumerate(POOLS):
                conv_stride = 1
                if kernel[1] == 1 and stride[1] > 1:  # pool1: a one-band window → convolve the kept bands only
                    conv_stride, stride = (1, stride[1]), (stride[0], 1)
                z = F.conv2d(h, getattr(self, f"conv{i}_w"), getattr(self, f"conv{i}_b"), conv_stride, padding=1)
                z = F.max_pool2d(z, kernel, stride)  # of sign · z: the max or (negated) min of each channel
                h = F.relu(z * getattr(self, f"bn{i}_sign")) * getattr(self, f"bn{i}_s") + getattr(self, f"bn{i}_h")
                pools.append(h)
            out = {name: p.permute(0, 2, 3, 1) for name, p in zip(POOL_NAMES, pools, strict=True)}
            flat = out["pool5"].reshape(x.shape[0], -1)  # TF's flatten of NHWC
            out["taggram"] = torch.sigmoid(F.linear(flat, self.dense_w, self.dense_b))
            return out

    return MusicnnVGG


def build_vgg(weights: dict, model: str = "MSD_vgg", channels_last: bool = True):
    """A ``torch.nn.Module`` (eval mode) from TF-named VGG weight arrays (see :func:`weights.load_weights`)."""
    from trackscope.audio.musicnn.model import MSD_TAGS, MTT_TAGS

    if model not in VGG_MODELS:
        raise ValueError(f"not a VGG model: {model!r}")
    net = _make_module()(weights)
    if channels_last:
        net.to_channels_last()
    net.tags = list(MSD_TAGS if model.startswith("MSD") else MTT_TAGS)
    return net.eval()
