"""musicnn (Pons & Serra, 2019) in PyTorch, inference only, loading the published weights.

The original graph (``musicnn/models.py::build_musicnn``, TensorFlow 1, NHWC with H = time, W = mel band) is:

- input (B, 187, 96) → batch norm over the single channel.
- front end, *timbral*: time padded by 3 frames each side, then ``conv2d`` valid with 204 filters of
  7 × 38 and 7 × 67 (7 frames × 40 % / 70 % of the 96 bands), ReLU, batch norm, max over the remaining band axis.
- front end, *temporal*: ``conv2d`` 'same' with 51 filters of 128 × 1, 64 × 1, 32 × 1 (TF 'same' pads
  ``(k-1)//2`` before and the rest after), ReLU, batch norm, max over all 96 bands.
- concatenated front end: (B, 187, 204 + 204 + 51 · 3 = 561).
- mid end: three convolutions over time (7 frames, 64 filters, spanning all input channels: the TF code does this
  as a 2-D conv whose kernel is as wide as the feature axis), ReLU, batch norm; the 2nd and 3rd add a residual.
  Dense connection: front end + the three outputs → (B, 187, 753).
- back end: max and mean over time (753 each), interleaved max/mean (TF concatenates (B, 753, 1) pairs on the
  last axis and flattens) → batch norm → dense 200 + ReLU → batch norm (= *penultimate*) → dense 50 → sigmoid.

Every batch norm is TF's inference form with ε = 0.001 (``tf.compat.v1.layers.batch_normalization`` default),
applied *after* the ReLU. Dropout is inactive at inference. Here the whole network runs in (B, C, T) / (B, C, T, F)
layout. Speed tricks, all exact up to float rounding (measured single-threaded on a shared 2-core EPYC):

- batch norm after ReLU is a per-channel affine map a · r + b, so the front end's max over bands commutes with it:
  ``max(a·relu(z)+b) = a·relu(max z)+b`` for a ≥ 0, ``a·relu(min z)+b`` for a < 0 — we pool the raw convolution
  and flip the sign of the filters with a < 0 so that one max-reduction serves every channel;
- the one-channel timbral convolutions (7 × 38, 7 × 67) run with the 7 time shifts stacked as input channels and a
  1 × width kernel, channels-last: oneDNN runs that ~2× faster than the one-channel 7 × width form;
- the temporal convolutions (128/64/32 × 1) likewise take S = 2 time shifts as channels and a kernel dilated
  by S (~2× faster than a plain (L × 1) one-channel convolution);
- the front end's max over bands is ``max_pool2d`` on channels-last maps (3–5× faster than ``amax``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

BN_EPS = 1e-3  # tf.compat.v1.layers.batch_normalization's default epsilon
N_MELS = 96
TIMBRAL_WIDTHS = (int(0.4 * N_MELS), int(0.7 * N_MELS))  # 38, 67 bands
TEMPORAL_LENGTHS = (128, 64, 32)  # frames
_SHIFTS = 2  # time shifts stacked as channels for the temporal convolutions (fastest at 2 patches a batch, measured)
OUTPUTS = ("taggram", "timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool", "penultimate")

MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient",
    "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country", "easy listening",
    "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House",
    "happy",
)  # fmt: skip
MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano", "ambient",
    "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals", "no vocals",
    "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man",
    "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
MODELS = {"MSD_musicnn": MSD_TAGS, "MTT_musicnn": MTT_TAGS}


def _bn(w: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """TF batch norm at inference as (scale, shift) in float64: y = x · scale + shift."""
    import numpy as np

    g, b = w[f"{name}/gamma"].astype(np.float64), w[f"{name}/beta"].astype(np.float64)
    m, v = w[f"{name}/moving_mean"].astype(np.float64), w[f"{name}/moving_variance"].astype(np.float64)
    scale = g / np.sqrt(v + BN_EPS)
    return scale, b - m * scale


def _make_module():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Musicnn(nn.Module):
        """musicnn with TF weights; ``forward`` returns a dict of the layers in :data:`OUTPUTS`."""

        def __init__(self, w: dict) -> None:
            super().__init__()
            import numpy as np

            self.channels_last = False

            def t(a) -> torch.Tensor:
                return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

            def buf(name: str, a) -> None:
                self.register_buffer(name, t(a), persistent=False)

            s, b = _bn(w, "batch_normalization")
            buf("in_scale", s)
            buf("in_shift", b)
            # Front-end convolutions end in ReLU → batch norm (a · r + b) → max over bands. For a channel with a < 0
            # that max is a · relu(min z) + b, so we negate its filter and bias (max of -z = -min z) and keep one
            # max-reduction for every channel; ``sign`` remembers which channels were flipped.
            # timbral: conv2d (7, width, 1, 204) → (204, 7, 1, width): the 7 time taps become input channels.
            for i, width in enumerate(TIMBRAL_WIDTHS):
                name = "conv2d" if i == 0 else "conv2d_1"
                k, bias = w[f"{name}/kernel"], w[f"{name}/bias"]
                assert k.shape == (7, width, 1, 204), k.shape
                s, b = _bn(w, f"batch_normalization_{i + 1}")
                sign = np.where(s >= 0, 1.0, -1.0)
                buf(f"tim{i}_w", (k[:, :, 0, :] * sign).transpose(2, 0, 1)[:, :, None, :])
                buf(f"tim{i}_b", bias * sign)
                buf(f"tim{i}_sign", sign)
                buf(f"tim{i}_s", s)
                buf(f"tim{i}_h", b)
            # temporal: conv2d (L, 1, 1, 51) → (51, S, L / S, 1): S consecutive time shifts as input channels and a
            # kernel dilated by S (tap j of channel r is the original tap S·j + r).
            for i, length in enumerate(TEMPORAL_LENGTHS):
                k, bias = w[f"conv2d_{i + 2}/kernel"], w[f"conv2d_{i + 2}/bias"]
                assert k.shape == (length, 1, 1, 51), k.shape
                s, b = _bn(w, f"batch_normalization_{i + 3}")
                sign = np.where(s >= 0, 1.0, -1.0)
                taps = (k[:, 0, 0, :] * sign).T.reshape(51, length // _SHIFTS, _SHIFTS).transpose(0, 2, 1)
                buf(f"tem{i}_w", taps[:, :, :, None])
                buf(f"tem{i}_b", bias * sign)
                buf(f"tem{i}_sign", sign)
                buf(f"tem{i}_s", s)
                buf(f"tem{i}_h", b)
            # mid end: conv2d (7, C_in, 1, 64) → conv1d (64, C_in, 7)
            for i in range(3):
                k = w[f"conv2d_{i + 5}/kernel"]
                buf(f"mid{i}_w", k[:, :, 0, :].transpose(2, 1, 0))
                buf(f"mid{i}_b", w[f"conv2d_{i + 5}/bias"])
                s, b = _bn(w, f"batch_normalization_{i + 6}")
                buf(f"mid{i}_s", s)
                buf(f"mid{i}_h", b)
            s, b = _bn(w, "batch_normalization_9")
            buf("pool_s", s)
            buf("pool_h", b)
            buf("dense_w", w["dense/kernel"].T)
            buf("dense_b", w["dense/bias"])
            s, b = _bn(w, "batch_normalization_10")
            buf("pen_s", s)
            buf("pen_h", b)
            buf("out_w", w["dense_1/kernel"].T)
            buf("out_b", w["dense_1/bias"])

        def to_channels_last(self) -> Musicnn:
            """oneDNN's fastest layout for the front-end convolutions (same numbers up to float rounding)."""
            for i in range(len(TIMBRAL_WIDTHS)):
                setattr(self, f"tim{i}_w", getattr(self, f"tim{i}_w").contiguous(memory_format=torch.channels_last))
            for i in range(len(TEMPORAL_LENGTHS)):
                setattr(self, f"tem{i}_w", getattr(self, f"tem{i}_w").contiguous(memory_format=torch.channels_last))
            self.channels_last = True
            return self

        def _pooled_bn(self, z, prefix: str):
            """max over bands of a · relu(conv) + b, from z = sign · conv (B, C, T, F) → (B, T, C)."""
            # max_pool2d over the whole band axis: on channels-last data 3–5× faster than amax (measured)
            zmax = F.max_pool2d(z, (1, z.shape[3])).squeeze(3).mT
            sign, scale, shift = (getattr(self, f"{prefix}_{k}") for k in ("sign", "s", "h"))
            return F.relu(zmax * sign) * scale + shift

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            """x: (B, 187, 96) log-mel patches → dict of (B, 187, C) / (B, C) tensors."""
            n, frames, bands = x.shape
            fmt = torch.channels_last if getattr(self, "channels_last", False) else torch.contiguous_format
            x = x * self.in_scale + self.in_shift  # input batch norm (one channel)
            # --- timbral: pad time by 3; the 7 time shifts as channels; valid convolution over bands; max over bands
            xp = F.pad(x, (0, 0, 3, 3))  # (B, T + 6, F)
            shifted = torch.stack([xp[:, d : d + frames] for d in range(7)], dim=1).contiguous(memory_format=fmt)
            timbral = []
            for i in range(len(TIMBRAL_WIDTHS)):
                z = F.conv2d(shifted, getattr(self, f"tim{i}_w"), getattr(self, f"tim{i}_b"))  # (B, 204, T, F')
                timbral.append(self._pooled_bn(z, f"tim{i}"))  # (B, T, 204)
            # --- temporal: TF 'same' padding ((L-1)//2 before); S time shifts as channels, dilated kernel
            temporal = []
            for i, length in enumerate(TEMPORAL_LENGTHS):
                before = (length - 1) // 2
                xt = F.pad(x, (0, 0, before, length - 1 - before))  # (B, T + L - 1, F)
                span = frames + length - _SHIFTS
                shifted_t = torch.stack([xt[:, r : r + span] for r in range(_SHIFTS)], dim=1)
                z = F.conv2d(
                    shifted_t.contiguous(memory_format=fmt),
                    getattr(self, f"tem{i}_w"),
                    getattr(self, f"tem{i}_b"),
                    dilation=(_SHIFTS, 1),
                )  # (B, 51, T, F)
                temporal.append(self._pooled_bn(z, f"tem{i}"))  # (B, T, 51)
            front = torch.cat(timbral + temporal, dim=2).mT  # (B, 561, T)
            # --- mid end: residual 1-D convolutions over time
            mids = []
            h = front
            for i in range(3):
                z = F.conv1d(F.pad(h, (3, 3)), getattr(self, f"mid{i}_w"), getattr(self, f"mid{i}_b"))
                z = F.relu(z) * getattr(self, f"mid{i}_s")[:, None] + getattr(self, f"mid{i}_h")[:, None]
                h = z if i == 0 else z + h
                mids.append(h)
            feats = torch.cat([front, *mids], dim=1)  # (B, 753, T)
            # --- back end
            max_pool, mean_pool = feats.amax(dim=2), feats.mean(dim=2)
            flat = torch.stack([max_pool, mean_pool], dim=2).reshape(n, -1) * self.pool_s + self.pool_h
            pen = F.relu(F.linear(flat, self.dense_w, self.dense_b)) * self.pen_s + self.pen_h
            logits = F.linear(pen, self.out_w, self.out_b)
            return {
                "taggram": torch.sigmoid(logits),
                "timbral": torch.cat(timbral, dim=2),
                "temporal": torch.cat(temporal, dim=2),
                "cnn1": mids[0].mT,
                "cnn2": mids[1].mT,
                "cnn3": mids[2].mT,
                "mean_pool": mean_pool,
                "max_pool": max_pool,
                "penultimate": pen,
            }

    return Musicnn


def build_model(weights: dict, model: str = "MSD_musicnn", channels_last: bool = True):
    """A ``torch.nn.Module`` (eval mode) from TF-named weight arrays (see :func:`weights.load_weights`)."""
    cls = _make_module()
    net = cls(weights)
    if channels_last:
        net.to_channels_last()
    net.tags = list(MODELS[model])
    return net.eval()
