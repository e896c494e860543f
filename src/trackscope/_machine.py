"""What machine a number was measured on: CPU model, the SIMD paths numpy and torch take, library versions.

Accuracy figures and speed ratios are facts about a machine and its float paths as much as about the code (issue 10:
the same model gave other moods on a CPU without AVX-512), so every metrics file and model card records this.
"""

from __future__ import annotations

import platform
from typing import Any


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """CPU, core count, and the instruction sets numpy and torch use here (imports numpy and torch)."""
    import os

    import numpy as np

    info: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(terse=True),
    }
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

        info["numpy_simd"] = [t for t in __cpu_dispatch__ if __cpu_features__.get(t, False)] or ["baseline"]
    except ImportError:  # numpy < 2
        info["numpy_simd"] = None
    info["numpy_disabled"] = os.environ.get("NPY_DISABLE_CPU_FEATURES") or None
    try:  # torch is a dependency; imported here only by callers that record a measurement (~1 s)
        import torch

        info["torch_isa"] = torch.backends.cpu.get_cpu_capability()
    except ImportError:
        info["torch_isa"] = None
    info["numpy"] = np.__version__
    return info


# The distributions whose versions metrics files, model cards and reports record (keys: distribution names).
VERSIONED = ("trackscope", "numpy", "scipy", "pandas", "scikit-learn", "skops", "torch", "soundfile", "soxr")


def versions() -> dict[str, str]:
    """Versions of Python and the libraries that produced a result (those that are installed), keyed by
    distribution name (``scikit-learn``, not the module name ``sklearn``). The one ``versions()`` of trackscope:
    every metrics.json, model card and report takes it from here."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out
