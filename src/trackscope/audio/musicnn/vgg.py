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

Here the network runs NCHW (B, C, T, F) — channels-last in memory, oneDNN's fast layout on CPU — and the pool
maps are returned in TF's order (B, T, F, 128). Shortcuts, all exact up to float32 rounding:

- dead filters: many of the checkpoints' filters have decayed to weights ≤ 1e-29 (:data:`DEAD_WEIGHT`), so their
  output is their bias, and after ReLU, batch norm and pooling a constant. They are not computed: each layer convolves
  only the previous layer's live channels to its own live filters, and the constant channels' contribution (a
  constant in the interior, less on the zero-padded border) is a fixed bias map computed once per map size. For
  MSD_vgg that leaves 71 → 53 → 88 → 81 → 127 filters (conv2: 71 × 53 instead of 128 × 128 channel pairs, 23 %);
  the dead channels are filled in as constants only in the returned maps;
- pool before the batch norm: ReLU then a per-channel affine map a · r + b is monotonic in the convolution's output z
  (increasing for a ≥ 0, decreasing for a < 0), so ``max(a·relu(z)+b) = a·relu(max z)+b`` for a ≥ 0 and
  ``a·relu(min z)+b`` for a < 0. We negate the filter and bias of the channels with a < 0 (then max of −z = −min z,
  negation is exact) and apply ReLU and batch norm to the pooled map, 2–4× smaller — bit for bit the same values,
  since float rounding is monotonic too;
- pool1's window is one band wide with band stride 2, so only even bands of conv1 are ever used: conv1 runs with band
  stride 2 (the 'same' padding of one column keeps the same centres);
- max pooling as element-wise maxima of strided slices (:func:`_max_pool`): torch's ``max_pool2d`` on channels-last
  CPU maps was ~40 % of the time.

Measured on one thread (shared 2-core EPYC, 2 patches a batch, interleaved, fastest of 10): the plain order 30.0 ms
a patch; pool first and conv1 at stride 2: 16.2 ms; all of the above: 4.9 ms with every pool map returned, 3.5 ms
for the taggram and pool5 only (``forward(x, outputs)``; :func:`trackscope.audio.musicnn.embed` ``layers=``).
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
# A filter whose weights are all below this is dead: musicnn's VGG checkpoints hold many filters decayed to ≤ 1e-29
# (MSD_vgg: 57, 75, 40, 47, 1 of 128 per layer; MTT_vgg: 35, 40, 16, 14, 0); the weakest live filter's largest
# weight is 5e-15. A dead filter adds < 1e-24 to a bias ≥ 2e-5: its output is its bias in float32, bit for bit.
DEAD_WEIGHT = 1e-20


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


def _max_pool(z: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> torch.Tensor:
    """``F.max_pool2d(z, kernel, stride)`` (no padding) as element-wise maxima of strided slices, time then bands.

    On channels-last CPU maps torch's max_pool2d took ~40 % of the network's time (it also computes indices);
    this is 4–6× faster for pool1 (measured) and gives the same values.
    """
    import torch

    for axis, (k, st) in ((2, (kernel[0], stride[0])), (3, (kernel[1], stride[1]))):
        if k == 1 and st == 1:
            continue
        n_out = (z.shape[axis] - k) // st + 1
        span = st * (n_out - 1) + 1
        out = z.narrow(axis, 0, span)[(slice(None),) * axis + (slice(None, None, st),)]
        for d in range(1, k):
            out = torch.maximum(out, z.narrow(axis, d, span)[(slice(None),) * axis + (slice(None, None, st),)])
        z = out
    return z


def dead_filters(kernel: np.ndarray, tol: float = DEAD_WEIGHT) -> np.ndarray:
    """Boolean mask of the output filters of a (kh, kw, in, out) kernel whose weights are all below ``tol``."""
    import numpy as np

    return np.abs(kernel).reshape(-1, kernel.shape[-1]).max(axis=0) < tol


def _make_module():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class MusicnnVGG(nn.Module):
        """musicnn's VGG with TF weights; ``forward`` returns a dict of the layers in :data:`OUTPUTS`."""

        def __init__(self, w: dict, prune: bool = True) -> None:
            super().__init__()
            import numpy as np

            def buf(name: str, a, dtype=np.float32) -> None:
                t = torch.from_numpy(np.ascontiguousarray(a, dtype=dtype))
                self.register_buffer(name, t, persistent=False)

            s, h = _bn(w, "batch_normalization")
            buf("in_s", s)
            buf("in_h", h)
            self.prune = prune
            self._bias_maps: dict = {}
            prev_live, prev_dead, prev_const = np.array([0]), np.array([], dtype=np.int64), None
            for i in range(5):
                k, bias = w[f"{i + 1}CNN/kernel"], w[f"{i + 1}CNN/bias"].astype(np.float32)
                c_in = 1 if i == 0 else N_FILTERS
                if k.shape != (3, 3, c_in, N_FILTERS):
                    raise ValueError(f"{i + 1}CNN/kernel has shape {k.shape}, expected (3, 3, {c_in}, {N_FILTERS})")
                s, h = _bn(w, f"batch_normalization_{i + 1}")
                dead_mask = dead_filters(k) if prune else np.zeros(N_FILTERS, dtype=bool)
                live, dead = np.flatnonzero(~dead_mask), np.flatnonzero(dead_mask)
                sign = np.where(s[live] >= 0, 1.0, -1.0).astype(np.float32)  # channels whose max becomes a min
                k_live = k[:, :, prev_live][:, :, :, live] * sign  # (3, 3, live in, live out)
                buf(f"conv{i}_w", k_live.transpose(3, 2, 0, 1))  # (kh, kw, in, out) → (out, in, kh, kw)
                buf(f"conv{i}_b", bias[live] * sign)
                if len(prev_dead):  # the previous layer's constant channels, seen through this kernel
                    buf(f"conv{i}_wd", (k[:, :, prev_dead][:, :, :, live] * sign).transpose(3, 2, 0, 1), np.float64)
                    buf(f"conv{i}_cd", prev_const, np.float64)
                buf(f"bn{i}_sign", sign[:, None, None])
                buf(f"bn{i}_s", s[live, None, None])
                buf(f"bn{i}_h", h[live, None, None])
                # a dead filter's output is its bias (float32 rounding absorbs the rest): after ReLU and batch norm,
                # and after pooling, a constant — computed in float32 as the live channels are
                f32 = np.float32
                const = np.maximum(bias[dead], f32(0)) * s[dead].astype(f32) + h[dead].astype(f32)
                buf(f"pool{i}_order", np.argsort(np.concatenate([live, dead]), kind="stable"), np.int64)
                buf(f"pool{i}_const", const)
                prev_live, prev_dead, prev_const = live, dead, const
            buf("dense_w", w["dense/kernel"].T)  # (50, 256); inputs in NHWC flatten order (time, band, channel)
            buf("dense_b", w["dense/bias"])
            self.channels_last = False

        def to_channels_last(self) -> MusicnnVGG:
            """oneDNN's fastest layout for the 3 × 3 convolutions (same numbers up to float rounding)."""
            for name, t in list(self.named_buffers()):
                if t.dim() == 4:
                    setattr(self, name, t.contiguous(memory_format=torch.channels_last))
            self.channels_last = True
            self._bias_maps.clear()
            return self

        def _bias_map(self, i: int, like: torch.Tensor, stride) -> torch.Tensor | None:
            """What the previous layer's constant channels add to conv ``i`` at every position (1, C, T, F).

            In the interior it is a constant; on the border rows and columns the zero padding drops taps. It does
            not depend on the input, so it is computed once per map size (in float64) and kept.
            """
            wd = getattr(self, f"conv{i}_wd", None)
            if wd is None:
                return None
            key = (i, tuple(like.shape[2:]), str(like.device), self.channels_last)
            if key not in self._bias_maps:
                cd = getattr(self, f"conv{i}_cd")
                img = cd[None, :, None, None].expand(1, -1, *like.shape[2:]).contiguous()
                bmap = F.conv2d(img, wd.contiguous(), None, stride, padding=1).float()
                if self.channels_last:
                    bmap = bmap.contiguous(memory_format=torch.channels_last)
                self._bias_maps[key] = bmap
            return self._bias_maps[key]

        def _full(self, i: int, live_map: torch.Tensor) -> torch.Tensor:
            """Layer ``i``'s pooled map with all 128 channels (the dead ones are constants), as (B, T, F, 128)."""
            nhwc = live_map.permute(0, 2, 3, 1)
            const = getattr(self, f"pool{i}_const")
            if len(const) == 0:
                return nhwc
            both = torch.cat([nhwc, const.expand(*nhwc.shape[:3], -1)], dim=3)  # live channels, then dead ones
            return both[..., getattr(self, f"pool{i}_order")]

        def forward(self, x: torch.Tensor, outputs=None) -> dict[str, torch.Tensor]:
            """x: (B, 187, 96) log-mel patches → taggram (B, 50) and pool1…pool5 as (B, T, F, 128).

            ``outputs`` (names from :data:`OUTPUTS`) limits the pool maps assembled; the taggram is always made.
            """
            wanted = set(OUTPUTS if outputs is None else outputs)
            h = (x * self.in_s + self.in_h)[:, None]  # (B, 1, T, F): input batch norm, one channel
            if self.channels_last:
                h = h.contiguous(memory_format=torch.channels_last)
            out = {}
            for i, (kernel, stride) in enumerate(POOLS):
                conv_stride = (1, 1)
                if kernel[1] == 1 and stride[1] > 1:  # pool1: a one-band window → convolve the kept bands only
                    conv_stride, stride = (1, stride[1]), (stride[0], 1)
                z = F.conv2d(h, getattr(self, f"conv{i}_w"), getattr(self, f"conv{i}_b"), conv_stride, padding=1)
                bmap = self._bias_map(i, h, conv_stride)
                if bmap is not None:
                    z = z + bmap
                z = _max_pool(z, kernel, stride)  # of sign · z: the max or (negated) min of each channel
                h = F.relu(z * getattr(self, f"bn{i}_sign")) * getattr(self, f"bn{i}_s") + getattr(self, f"bn{i}_h")
                name = POOL_NAMES[i]
                if name in wanted or name == "pool5":
                    out[name] = self._full(i, h)
            flat = out["pool5"].reshape(x.shape[0], -1)  # TF's flatten of NHWC
            out["taggram"] = torch.sigmoid(F.linear(flat, self.dense_w, self.dense_b))
            if "pool5" not in wanted:
                del out["pool5"]
            return out

    return MusicnnVGG


def build_vgg(weights: dict, model: str = "MSD_vgg", channels_last: bool = True, prune: bool = True):
    """A ``torch.nn.Module`` (eval mode) from TF-named VGG weight arrays (see :func:`weights.load_weights`).

    ``prune`` skips the filters whose weights are all below :data:`DEAD_WEIGHT` (see the module docstring);
    ``channels_last`` uses oneDNN's fastest layout. Both change only float rounding.
    """
    from trackscope.audio.musicnn.model import MSD_TAGS, MTT_TAGS

    if model not in VGG_MODELS:
        raise ValueError(f"not a VGG model: {model!r}")
    net = _make_module()(weights, prune=prune)
    if channels_last:
        net.to_channels_last()
    net.tags = list(MSD_TAGS if model.startswith("MSD") else MTT_TAGS)
    return net.eval()
