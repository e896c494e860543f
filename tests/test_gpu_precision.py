"""GPU work in true float32 (no TF32) and deterministic training, settings restored after (trackscope._torch); the
GPU parity itself is measured on a GPU machine by bench/gpu_check.py."""

from __future__ import annotations

import torch

from trackscope._torch import exact_float32


def test_cuda_work_runs_without_tf32_and_restores_the_callers_settings():
    cudnn = torch.backends.cudnn
    before = (cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32, cudnn.deterministic)
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        with exact_float32("cuda", deterministic=True):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
            assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        with exact_float32("cuda:0"):
            assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cudnn.deterministic
        assert torch.backends.cuda.matmul.allow_tf32  # the caller's own choice is back
        assert torch.backends.cudnn.allow_tf32 == before[0] and torch.backends.cudnn.deterministic == before[2]
        with exact_float32("cpu", deterministic=True):  # nothing to change on a CPU
            assert torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before[1]
