"""float32 on a GPU as on a CPU.

From Ampere on, PyTorch lets cuDNN run float32 convolutions in TF32 (a 10-bit mantissa) by default: measured on an
H200, musicnn's tag probabilities moved by up to 7.7e-4 and the mood probabilities by up to 7.5e-4 against the CPU,
where CPU code paths differ by ~5e-7 (bench/gpu_check.py) — enough to flip a song that sits on a mood boundary.
trackscope's GPU work runs under :func:`exact_float32` instead: true float32 convolutions and matrix products and,
for training, deterministic cuDNN algorithms (a resumed run repeats the interrupted one's steps). The settings are
restored afterwards, so a program that imports trackscope keeps its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def exact_float32(device: Any, *, deterministic: bool = False) -> Iterator[None]:
    """No TF32 (and with ``deterministic``, deterministic cuDNN, no autotuning) inside, on a CUDA ``device``;
    nothing changes on other devices."""
    import torch

    if torch.device(device).type != "cuda":
        yield
        return
    matmul = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(
            enabled=True, benchmark=False if deterministic else torch.backends.cudnn.benchmark,
            deterministic=deterministic, allow_tf32=False,
        ):  # fmt: skip
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = matmul
