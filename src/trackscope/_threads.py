"""Process tuning for CPU inference: numpy's BLAS on one thread around small products, and glibc's malloc told to
keep freed memory.

**BLAS.** numpy's OpenBLAS starts one thread per core for any product above a small size, and its idle threads
spin before they sleep. Our products (a mel filterbank times a block of spectra, ~50 M multiply-adds) gain nothing
from a second thread, but the spinning thread takes the core that torch needs next: on a 2-core machine with other
work running, decode + musicnn patches + embedding of a 30-s clip took 140 ms with OpenBLAS's default and 64–83 ms
with one BLAS thread (measured). :func:`single_blas_thread` limits only the BLAS libraries (not torch's OpenMP
pool), costs a few microseconds once the libraries are known, and does nothing where threadpoolctl is missing.

**malloc.** See :func:`keep_freed_memory`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_CONTROLLER: dict[str, Any] = {}


def _controller() -> Any:
    """threadpoolctl's view of the loaded thread pools (~1 ms to build), rebuilt when modules were imported since:
    a module imported later (scipy.linalg, say) may have loaded another BLAS."""
    import sys

    if _CONTROLLER.get("modules") != len(sys.modules):
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER["ctl"] = ThreadpoolController()
        except Exception:  # noqa: BLE001 — no threadpoolctl, or it cannot inspect this process: run unlimited
            _CONTROLLER["ctl"] = None
        _CONTROLLER["modules"] = len(sys.modules)
    return _CONTROLLER["ctl"]


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """Run the block with numpy's (and scipy's) BLAS limited to one thread; restored afterwards."""
    ctl = _controller()
    if ctl is None:
        yield
        return
    with ctl.limit(limits=1, user_api="blas"):
        yield


def one_blas_thread(fn: F) -> F:
    """Decorator form of :func:`single_blas_thread`."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with single_blas_thread():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


_MALLOC_TUNED: list[bool] = []
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit)
TRIM_THRESHOLD = 256 << 20


def release_freed_memory() -> bool:
    """Hand the heap's free memory back to the system now (glibc's ``malloc_trim``); True if it could. Between the
    analysis and writing its files: the heap :func:`keep_freed_memory` kept for musicnn's tensors would otherwise sit
    under what writing allocates (a 10-minute song's analyze peaked at 490 MB instead of 429, measured)."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):  # not glibc
        return False


def keep_freed_memory() -> bool:
    """Ask glibc to serve blocks below 32 MiB from the heap and keep up to 256 MiB of freed memory; True if applied.

    **malloc.** A musicnn forward pass allocates ~40 MB of short-lived tensors. With glibc's adaptive defaults many of
    them come from fresh ``mmap`` pages every call, and page faults are slow in a VM: 1,000–13,000 faults per 30-s
    clip, 63–84 ms; with these two settings ~0 faults and 52–63 ms (measured, one thread; setting only the trim
    threshold is *worse* — it freezes the mmap threshold at 128 KiB: 60,000 faults, 150 ms). The cost is memory
    the process keeps for reuse (at most 256 MiB beyond its peak). Called once by the CLI and on the first musicnn
    model load; ``TRACKSCOPE_MALLOC_TUNING=0`` turns it off; a no-op off glibc.
    """
    import os
    import sys

    if _MALLOC_TUNED:
        return _MALLOC_TUNED[0]
    ok = False
    if sys.platform.startswith("linux") and os.environ.get("TRACKSCOPE_MALLOC_TUNING", "1") != "0":
        try:
            import ctypes

            libc = ctypes.CDLL("libc.so.6")
            ok = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            )
        except (OSError, AttributeError):  # not glibc (musl, ...): leave the allocator alone
            ok = False
    _MALLOC_TUNED.append(ok)
    return ok
