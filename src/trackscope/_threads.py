"""Keep numpy's BLAS on one thread around the small matrix products of the audio front end.

numpy's OpenBLAS starts one thread per core for any product above a small size, and its idle threads spin before they
sleep. Our products (a mel filterbank times a block of spectra, ~50 M multiply-adds) gain nothing from a second
thread, but the spinning thread takes the core that torch needs next: on a 2-core machine with other work running,
decode + musicnn patches + embedding of a 30-s clip took 140 ms with OpenBLAS's default and 64–83 ms with one BLAS
thread (measured). :func:`single_blas_thread` limits only the BLAS libraries (not torch's OpenMP pool), costs a few
microseconds once the libraries are known, and does nothing where threadpoolctl is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_CONTROLLER: list[Any] = []


def _controller() -> Any:
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except Exception:  # noqa: BLE001 — no threadpoolctl, or it cannot inspect this process: run unlimited
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


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
