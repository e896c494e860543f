"""The popularity study's spectrogram networks, in PyTorch.

Every network takes a batch of log-mel spectrograms shaped ``(batch, 1, n_mels, frames)`` and returns one logit per
clip (``(batch,)``); a sigmoid of it is the hit probability. The sizes follow the study (128 mels × 1292 frames for a
30-s preview at 22.05 kHz, hop 512) but every net is built for the input size it is given, so short clips work too.

- :class:`MLP`: flatten → 128 → 64 → 1.
- :class:`CNN1`: conv 16-32-64-128 (3 × 3, ReLU), max-pools (2,4), (2,4), (2,2), (2,2); dense 128 → 64, dropout 0.3.
- :class:`CNN2`: the same convolutions with a single dense 128.
- :class:`CRNN`: conv 64-128-128-128 (ELU), pools (2,2), (4,2), (4,2), (4,2), dropout 0.1, two GRU(32) layers.
- :class:`EmbeddingHead`: a small MLP over pooled musicnn embeddings (a vector per clip).
- :class:`Standardize` scales a network's input; :func:`load_net` rebuilds a saved network from its model folder.

Convolutions use "same" padding; a pool whose kernel is larger than what is left of an axis shrinks to that axis
(only matters for inputs far smaller than the study's, e.g. 32 mels into the CRNN).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

CNN_FILTERS = (16, 32, 64, 128)
CNN_POOLS = ((2, 4), (2, 4), (2, 2), (2, 2))
CRNN_FILTERS = (64, 128, 128, 128)
CRNN_POOLS = ((2, 2), (4, 2), (4, 2), (4, 2))


def _pools_for(shape: tuple[int, int], pools: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Pool kernels clamped so that no axis drops below 1; returns them with the size after each."""
    f, t = shape
    out = []
    for pf, pt in pools:
        pf, pt = max(1, min(pf, f)), max(1, min(pt, t))
        f, t = f // pf, t // pt
        out.append((pf, pt))
    return out


def _conv_stack(in_shape, filters, pools, activation: type[nn.Module]) -> tuple[nn.Sequential, tuple[int, int]]:
    layers: list[nn.Module] = []
    channels = 1
    f, t = in_shape
    for n, (pf, pt) in zip(filters, _pools_for(in_shape, pools), strict=True):
        layers += [nn.Conv2d(channels, n, kernel_size=3, padding=1), activation(), nn.MaxPool2d((pf, pt))]
        channels = n
        f, t = f // pf, t // pt
    return nn.Sequential(*layers), (f, t)


class MLP(nn.Module):
    """Flatten → dense 128 (ReLU) → dense 64 (ReLU) → 1."""

    def __init__(self, n_mels: int, n_frames: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_mels * n_frames, 128),
            nn.ReLU(),
            nn.Linear(128, 64),
            nn.ReLU(),
            nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


class CNN1(nn.Module):
    """Four 3 × 3 conv blocks (16-32-64-128, ReLU, max-pool), then dense 128 → 64 with dropout 0.3 → 1."""

    def __init__(self, n_mels: int, n_frames: int, *, dense: tuple[int, ...] = (128, 64), dropout: float = 0.3) -> None:
        super().__init__()
        self.features, (f, t) = _conv_stack((n_mels, n_frames), CNN_FILTERS, CNN_POOLS, nn.ReLU)
        head: list[nn.Module] = [nn.Flatten()]
        width = CNN_FILTERS[-1] * f * t
        for units in dense:
            head += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(dropout)]
            width = units
        head.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(-1)


class CNN2(CNN1):
    """CNN1's convolutions with a single dense 128 (dropout 0.3) → 1."""

    def __init__(self, n_mels: int, n_frames: int) -> None:
        super().__init__(n_mels, n_frames, dense=(128,), dropout=0.3)


class CRNN(nn.Module):
    """Conv 64-128-128-128 (3 × 3, ELU, pools (2,2),(4,2),(4,2),(4,2), dropout 0.1) → two GRU(32) over time → 1."""

    def __init__(self, n_mels: int, n_frames: int, *, dropout: float = 0.1, hidden: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        f, t = n_mels, n_frames
        for n, (pf, pt) in zip(CRNN_FILTERS, _pools_for((n_mels, n_frames), CRNN_POOLS), strict=True):
            layers += [
                nn.Conv2d(channels, n, kernel_size=3, padding=1),
                nn.ELU(),
                nn.MaxPool2d((pf, pt)),
                nn.Dropout(dropout),
            ]
            channels = n
            f, t = f // pf, t // pt
        self.features = nn.Sequential(*layers)
        self.gru = nn.GRU(input_size=channels * f, hidden_size=hidden, num_layers=2, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x)  # (batch, channels, f, t)
        b, c, f, t = z.shape
        z = z.permute(0, 3, 1, 2).reshape(b, t, c * f).contiguous()
        # GRUs stay in fp32: bf16 autocast does not cover recurrent layers on CPU.
        with torch.autocast(device_type=z.device.type, enabled=False):
            seq, _ = self.gru(z.float())
        return self.out(self.dropout(seq[:, -1])).squeeze(-1)


class EmbeddingHead(nn.Module):
    """Dense 128 (ReLU, dropout 0.3) → 1 over a pooled embedding vector (e.g. musicnn mean + std over patches)."""

    def __init__(self, n_inputs: int, *, hidden: int = 128, dropout: float = 0.3) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_inputs, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(-1)


def build(name: str, **shape: Any) -> nn.Module:
    """A fresh network by name: ``build("cnn1", n_mels=128, n_frames=1292)``; ``build("embedding", n_inputs=400)``."""
    name = name.lower()
    if name == "embedding":
        return EmbeddingHead(int(shape["n_inputs"]))
    classes = {"mlp": MLP, "cnn1": CNN1, "cnn2": CNN2, "crnn": CRNN}
    if name not in classes:
        raise ValueError(f"unknown network {name!r} (choose from {', '.join([*classes, 'embedding'])})")
    return classes[name](int(shape["n_mels"]), int(shape["n_frames"]))


class Standardize(nn.Module):
    """``(x - mean) / std`` in front of a network, so saved weights carry their own input scaling."""

    def __init__(self, net: nn.Module, mean: float = 0.0, std: float = 1.0) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std) if std > 0 else 1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def load_net(md: Any) -> nn.Module | None:
    """Rebuild a saved popularity network (in eval mode) from its model folder (a
    :class:`trackscope.models.persist.ModelDir`); None for the dummy, which has no network."""
    from trackscope.errors import ModelError

    name = md.meta["model"]
    if name == "dummy":
        return None
    cfg = md.meta["mel"]
    shape = {"n_inputs": md.meta["n_inputs"]} if name == "embedding" else {k: cfg[k] for k in ("n_mels", "n_frames")}
    net = Standardize(build(name, **shape))
    try:
        net.load_state_dict({k: torch.from_numpy(v) for k, v in md.load_tensors("weights").items()})
    except RuntimeError as err:
        raise ModelError(f"weights do not fit a {name} network: {str(err).splitlines()[0]}", path=md.path) from None
    return net.eval()


def n_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
