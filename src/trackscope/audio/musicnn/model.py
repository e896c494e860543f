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

- musicnn's MSD kernels are numerically low-rank (timbral 266 × 204 of rank 23 and 469 × 204 of rank 14, temporal
  ranks 3–7, the first mid-end kernel rank 20; the next singular value < 1e-6 of the largest): such a layer runs as a
  convolution to r channels and an r → C expansion (:func:`low_rank`), ~5× fewer products in the front end; the
  expansion is fused with the max over bands a few frames at a time, so the full-width map never leaves the cache;
- batch norm after ReLU is a per-channel affine map a · r + b, so the front end's max over bands commutes with it:
  ``max(a·relu(z)+b) = a·relu(max z)+b`` for a ≥ 0, ``a·relu(min z)+b`` for a < 0 — we pool the raw convolution
  and flip the sign of the filters with a < 0 so that one max-reduction serves every channel;
- the one-channel timbral convolutions (7 × 38, 7 × 67) run with the 7 time shifts stacked as input channels and a
  1 × width kernel, channels-last: oneDNN runs that ~2× faster than the one-channel 7 × width form;
- the temporal convolutions (128/64/32 × 1) likewise take S = 2 time shifts as channels and a kernel dilated
  by S (~2× faster than a plain (L × 1) one-channel convolution);
- the front end's max over bands is ``max_pool2d`` on channels-last maps (3–5× faster than ``amax``);
- on CPU, the timbral expansion and the mid end run as plain GEMMs in oneDNN (:func:`_onednn_linear`): on this
  project's AMD CPUs MKL's ``torch.mm`` takes its AVX2 path (~45 GMAC/s on one thread) where oneDNN's AVX-512
  kernels reach ~90; the mid end's convolutions become one product with the 7 taps side by side, (B · T, C) @
  (C, 7 r), and a tap-shifted sum (the whole network ~10 % faster, measured).
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
# Singular values below this fraction of the largest are float32 rounding noise (float32 ε ≈ 1.2e-7).
LOW_RANK_TOL = 1e-7
_EXPAND_ROWS = 16  # frames expanded at a time by a low-rank front-end layer (cache-sized; measured)
_FULL_MAP_PATCHES = 2  # patches per convolution call for a full-rank front-end layer on CPU (cache-sized; measured)
_EXPAND_ROWS_ONEDNN = 128  # the same through oneDNN's GEMM, whose fixed cost per call is higher (measured)
_SHIFTS = 2  # time shifts stacked as channels for the temporal convolutions (fastest: 1 is 1.5× slower, 4 alike)
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


def low_rank(matrix: np.ndarray, tol: float = LOW_RANK_TOL) -> tuple[np.ndarray, np.ndarray] | None:
    """(A, B) with ``matrix ≈ A @ B`` to float32 precision, or None when factoring would not save work.

    The rank keeps singular values above ``tol`` times the largest. musicnn's MSD weights are numerically low-rank
    (e.g. the 7 × 38 timbral filters: 266 × 204 of rank 23, the next singular value 7e-7 of the first), so a conv to
    ``r`` channels followed by a 1 × 1 expansion to the full width does the same arithmetic with far fewer products.
    """
    import numpy as np

    m = np.asarray(matrix, dtype=np.float64)
    u, sv, vt = np.linalg.svd(m, full_matrices=False)
    r = int((sv > tol * sv[0]).sum()) if sv[0] > 0 else 1
    k, n = m.shape
    if r * (k + n) > 0.75 * k * n:
        return None
    return u[:, :r] * sv[:r], vt[:r]


_ONEDNN: list = []  # [the op or None], probed once


def _onednn_linear():
    """oneDNN's fp32 GEMM (``torch.ops.mkldnn._linear_pointwise``), or None where this torch build lacks it.

    For the timbral expansion, (rows × r) @ (r × 204) with r = 14–24, oneDNN's AVX-512 kernels run ~2× faster than
    the BLAS behind ``torch.mm`` on this project's AMD CPUs (87–93 vs 45 GMAC/s single-threaded, measured; MKL takes
    its AVX2 path on AMD). Same sums, same float32 results in our tests; probed once against ``torch.mm``.
    """
    if not _ONEDNN:
        import torch

        op = None
        try:
            fn = torch.ops.mkldnn._linear_pointwise
            a, w = torch.arange(12.0).view(4, 3), torch.arange(6.0).view(2, 3)
            if torch.backends.mkldnn.is_available() and torch.equal(fn(a, w, None, "none", [], ""), a @ w.T):
                op = fn
        except (AttributeError, RuntimeError):
            op = None
        _ONEDNN.append(op)
    return _ONEDNN[0]


def _shifted(x, k: int, fmt):
    """(B, k, T − k + 1, F): ``k`` consecutive time shifts of x (B, T, F) as channels, in memory format ``fmt``.

    Channels-last is built with one copy (a window view over time, made contiguous, is already (B, T', F, k) in
    memory) instead of a stack and a layout change (two copies)."""
    import torch

    if fmt == torch.channels_last:
        return x.unfold(1, k, 1).contiguous().permute(0, 3, 1, 2)
    t = x.shape[1] - k + 1
    return torch.stack([x[:, d : d + t] for d in range(k)], dim=1).contiguous(memory_format=fmt)


# A filter whose largest weight is below this fraction of its layer's largest is dead for float32 purposes (its
# contribution is within a few float32 ulps, ε ≈ 1.2e-7): musicnn's checkpoints hold hundreds decayed to ≤ 1e-29 and
# more at 1e-10–3e-7 of their layer (MSD_musicnn: 497 of the front end's 561 filters dead, the next weakest at 1.4e-3
# — a clean gap; MTT_musicnn's weak filters run on continuously from 5e-6 up). Such a channel's output is its bias up
# to rounding — and the low-rank products leak ~1e-7-relative rounding noise into it, which differs from one CPU's
# code path to another's.
DEAD_RELATIVE = 1e-6


def constant_channels(w: dict) -> dict[str, np.ndarray]:
    """Boolean masks of the channels whose output is constant by construction (dead filters), per output layer.

    Keys: ``timbral`` (408), ``temporal`` (153), ``cnn1``/``cnn2``/``cnn3`` (64) and ``mean_pool``/``max_pool`` (753,
    front end then the three mid-end outputs). A mid-end channel after the first is constant when its filter is dead
    *and* the residual it adds to is constant. Model inputs leave these channels out (see
    :func:`trackscope.audio.musicnn.embed.live_channels`): they carry nothing but rounding noise.
    """
    import numpy as np

    def dead(kernel: np.ndarray) -> np.ndarray:
        peak = np.abs(np.asarray(kernel, dtype=np.float64)).reshape(-1, kernel.shape[-1]).max(axis=0)
        return peak <= DEAD_RELATIVE * peak.max()

    timbral = np.concatenate([dead(w[name + "/kernel"]) for name in ("conv2d", "conv2d_1")])
    temporal = np.concatenate([dead(w[f"conv2d_{i + 2}/kernel"]) for i in range(len(TEMPORAL_LENGTHS))])
    mids, prev = [], None
    for i in range(3):
        d = dead(w[f"conv2d_{i + 5}/kernel"])
        prev = d if prev is None else d & prev
        mids.append(prev)
    pooled = np.concatenate([timbral, temporal, *mids])
    return {
        "timbral": timbral,
        "temporal": temporal,
        "cnn1": mids[0],
        "cnn2": mids[1],
        "cnn3": mids[2],
        "mean_pool": pooled,
        "max_pool": pooled.copy(),
    }


def _make_module():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Musicnn(nn.Module):
        """musicnn with TF weights; ``forward`` returns a dict of the layers in :data:`OUTPUTS`."""

        def __init__(self, w: dict, factorize: bool = True) -> None:
            super().__init__()
            import numpy as np

            self.channels_last = False
            self.factorize = factorize

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
                m = (k[:, :, 0, :] * sign).reshape(7 * width, 204)  # rows (time tap, band tap)
                factors = low_rank(m) if self.factorize else None
                if factors is not None:
                    m, expand = factors
                    buf(f"tim{i}_e", expand)  # (r, 204)
                    buf(f"tim{i}_et", expand.T)
                buf(f"tim{i}_w", m.T.reshape(-1, 7, 1, width))
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
                m = k[:, 0, 0, :] * sign  # (L, 51)
                factors = low_rank(m) if self.factorize else None
                if factors is not None:
                    m, expand = factors
                    buf(f"tem{i}_e", expand)  # (r, 51)
                    buf(f"tem{i}_et", expand.T)
                taps = m.T.reshape(-1, length // _SHIFTS, _SHIFTS).transpose(0, 2, 1)
                buf(f"tem{i}_w", taps[:, :, :, None])
                buf(f"tem{i}_b", bias * sign)
                buf(f"tem{i}_sign", sign)
                buf(f"tem{i}_s", s)
                buf(f"tem{i}_h", b)
            # mid end: conv2d (7, C_in, 1, 64) → conv1d (64, C_in, 7)
            for i in range(3):
                k = w[f"conv2d_{i + 5}/kernel"]
                c_in = k.shape[1]
                m = k[:, :, 0, :].reshape(7 * c_in, 64)
                factors = low_rank(m) if self.factorize else None
                if factors is not None:
                    m, expand = factors
                    buf(f"mid{i}_e", expand.T[:, :, None])  # (64, r, 1)
                    buf(f"mid{i}_e2", expand.T)  # (64, r): the expansion as a linear layer's weight
                buf(f"mid{i}_w", m.T.reshape(-1, 7, c_in).transpose(0, 2, 1))
                # the 7 taps side by side as one linear layer's weight: row d · r + j, column c = m[d · C_in + c, j]
                buf(f"mid{i}_g", m.reshape(7, c_in, -1).transpose(0, 2, 1).reshape(-1, c_in))
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
            for name, t in list(self.named_buffers()):
                if t.dim() == 4:
                    setattr(self, name, t.contiguous(memory_format=torch.channels_last))
            self.channels_last = True
            return self

        def _conv(self, x, prefix: str, conv=F.conv2d, **kw):
            """A mid-end convolution; a low-rank one as conv to r channels + 1 × 1 expansion (bias at the end)."""
            w, b, e = (getattr(self, f"{prefix}_{k}", None) for k in ("w", "b", "e"))
            if e is None:
                return conv(x, w, b, **kw)
            return conv(conv(x, w, None, **kw), e, b)

        def _band_max(self, x, prefix: str, **kw):
            """max over bands of sign · (conv + bias), (B, T, C), for a front-end layer."""
            w, b, e = (getattr(self, f"{prefix}_{k}", None) for k in ("w", "b", "e"))
            if e is None:
                # A full-rank layer's whole map is large (51 channels × 187 × 96 = 3.7 MB a patch): a few patches at a
                # time keep it in cache and under glibc's mmap threshold (32 MiB), past which every call page-faults
                # a fresh map (a 10-patch batch ran 15 % slower than a 9-patch one, measured).
                step = _FULL_MAP_PATCHES if x.device.type == "cpu" else x.shape[0]
                parts = []
                for start in range(0, x.shape[0], step):
                    z = F.conv2d(x[start : start + step], w, b, **kw)  # (b, C, T, F), channels-last
                    # max_pool2d over the whole band axis: on channels-last data 3–5× faster than amax (measured)
                    parts.append(F.max_pool2d(z, (1, z.shape[3])).squeeze(3).mT)
                return parts[0] if len(parts) == 1 else torch.cat(parts)
            z = F.conv2d(x, w, None, **kw)  # (B, r, T, F): the low-rank part
            n, r, frames, bands = z.shape
            rows = z.permute(0, 2, 3, 1).reshape(n * frames, bands, r)  # free on channels-last data
            channels = e.shape[1]
            out = torch.empty(n * frames, channels, dtype=z.dtype, device=z.device)
            et = getattr(self, f"{prefix}_et")  # e transposed, contiguous (C, r)
            # Expand r → C channels a few frames at a time, so that the full map (9 MB a patch) never leaves the
            # cache: 6× faster than a 1 × 1 convolution followed by max_pool2d (measured). The max runs over the
            # contiguous axis of whichever layout is smaller per frame (bands × C or C × bands: 3–4× apart,
            # measured). The bias is added after the max, which rounding cannot reorder (x ↦ fl(x + b) is monotonic).
            cpu = z.device.type == "cpu"
            onednn = cpu and channels >= bands and _onednn_linear() is not None
            step = (_EXPAND_ROWS_ONEDNN if onednn else _EXPAND_ROWS) if cpu else n * frames
            for start in range(0, n * frames, step):
                chunk, dest = rows[start : start + step], out[start : start + step]
                if channels < bands:  # (C, r) @ (r, bands) per frame, max over bands (contiguous)
                    torch.amax(torch.matmul(et, chunk.mT), dim=2, out=dest)
                elif onednn:  # (frames · bands, r) @ (r, C) in oneDNN, max over bands
                    k = chunk.shape[0]
                    prod = _onednn_linear()(chunk.reshape(k * bands, r), et, None, "none", [], "")
                    torch.amax(prod.view(k, bands, channels), dim=1, out=dest)
                else:  # (bands, r) @ (r, C) per frame, max over bands
                    torch.amax(chunk @ e, dim=1, out=dest)
            return (out + b).view(n, frames, -1)

        def _mid_gemm(self, h, i: int, linear):
            """Mid-end convolution ``i`` on time-major (B, T, C) input as GEMMs: one product with the 7 taps side by
            side, (B · (T + 6), C) @ (C, 7 r), then the tap-shifted sum; a low-rank layer then expands r → 64."""
            n, frames, _ = h.shape
            hp = F.pad(h, (0, 0, 3, 3))
            g = getattr(self, f"mid{i}_g")
            r = g.shape[0] // 7
            y = linear(hp.reshape(n * (frames + 6), -1), g, None, "none", [], "").view(n, frames + 6, 7, r)
            z = y[:, 0:frames, 0]
            for d in range(1, 7):
                z = z + y[:, d : d + frames, d]
            e2, b = getattr(self, f"mid{i}_e2", None), getattr(self, f"mid{i}_b")
            if e2 is not None:
                return linear(z.reshape(n * frames, r), e2, b, "none", [], "").view(n, frames, -1)
            return z + b

        def _pooled_bn(self, zmax, prefix: str):
            """a · relu(max over bands of conv) + b from zmax = max over bands of sign · conv, (B, T, C)."""
            sign, scale, shift = (getattr(self, f"{prefix}_{k}") for k in ("sign", "s", "h"))
            return F.relu(zmax * sign) * scale + shift

        def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
            """x: (B, 187, 96) log-mel patches → dict of (B, 187, C) / (B, C) tensors."""
            n, frames, bands = x.shape
            fmt = torch.channels_last if getattr(self, "channels_last", False) else torch.contiguous_format
            x = x * self.in_scale + self.in_shift  # input batch norm (one channel)
            # --- timbral: pad time by 3; the 7 time shifts as channels; valid convolution over bands; max over bands
            xp = F.pad(x, (0, 0, 3, 3))  # (B, T + 6, F)
            shifted = _shifted(xp, 7, fmt)  # (B, 7, T, F)
            timbral = []
            for i in range(len(TIMBRAL_WIDTHS)):
                timbral.append(self._pooled_bn(self._band_max(shifted, f"tim{i}"), f"tim{i}"))  # (B, T, 204)
            # --- temporal: TF 'same' padding ((L-1)//2 before); S time shifts as channels, dilated kernel
            temporal = []
            for i, length in enumerate(TEMPORAL_LENGTHS):
                before = (length - 1) // 2
                xt = F.pad(x, (0, 0, before, length - 1 - before))  # (B, T + L - 1, F)
                shifted_t = _shifted(xt, _SHIFTS, fmt)  # (B, S, T + L - S, F)
                z = self._band_max(shifted_t, f"tem{i}", dilation=(_SHIFTS, 1))
                temporal.append(self._pooled_bn(z, f"tem{i}"))  # (B, T, 51)
            front = torch.cat(timbral + temporal, dim=2)  # (B, T, 561)
            # --- mid end: residual 1-D convolutions over time
            mids = []
            linear = _onednn_linear() if x.device.type == "cpu" else None
            if linear is not None:  # time-major GEMMs in oneDNN (~2× faster than conv1d here, measured)
                h = front
                for i in range(3):
                    z = F.relu(self._mid_gemm(h, i, linear)) * getattr(self, f"mid{i}_s") + getattr(self, f"mid{i}_h")
                    h = z if i == 0 else z + h
                    mids.append(h)
                feats = torch.cat([front, *mids], dim=2)  # (B, T, 753)
                max_pool, mean_pool = feats.amax(dim=1), feats.mean(dim=1)
                mids = [m.mT for m in mids]  # (B, 64, T) like the conv path
            else:
                h = front.mT  # (B, 561, T)
                for i in range(3):
                    z = self._conv(F.pad(h, (3, 3)), f"mid{i}", conv=F.conv1d)
                    z = F.relu(z) * getattr(self, f"mid{i}_s")[:, None] + getattr(self, f"mid{i}_h")[:, None]
                    h = z if i == 0 else z + h
                    mids.append(h)
                feats = torch.cat([front.mT, *mids], dim=1)  # (B, 753, T)
                max_pool, mean_pool = feats.amax(dim=2), feats.mean(dim=2)
            # --- back end
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


def build_model(weights: dict, model: str = "MSD_musicnn", channels_last: bool = True, factorize: bool = True):
    """A ``torch.nn.Module`` (eval mode) from TF-named weight arrays (see :func:`weights.load_weights`).

    ``factorize`` runs numerically low-rank convolutions as two (see :func:`low_rank`); ``channels_last`` uses
    oneDNN's fastest layout. Both change only float rounding.
    """
    from trackscope._threads import single_blas_thread

    cls = _make_module()
    # The SVDs of low_rank on one BLAS thread: 0.2–0.5 s, where OpenBLAS's spinning threads took 8–14 s on a
    # 2-core machine that other processes kept busy (measured); one thread also gives the same factors everywhere.
    with single_blas_thread():
        net = cls(weights, factorize=factorize)
    if channels_last:
        net.to_channels_last()
    net.tags = list(MODELS[model])
    return net.eval()
