"""Work spread over single-threaded worker processes: one per core, for batches of songs.

musicnn's small operations do not scale across threads (one and two torch threads take the same time on a 2-core
machine, measured), while two single-threaded processes each run at full speed: a batch of songs finishes ~1.6–2×
sooner with one process per core. Workers are *spawned* (never forked: the parent may hold OpenMP or Rich threads),
cost ~2 s each to start (torch + model weights), and run with one thread for torch and BLAS.

Library functions default to ``workers=1`` (in process); the CLI asks for ``"auto"``. A Python script that passes
``workers="auto"`` or a number above 1 needs the usual ``if __name__ == "__main__":`` guard: spawned workers import
the main module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from trackscope.errors import TrackscopeError

MAX_AUTO_WORKERS = 4
MIN_ITEMS_PER_WORKER = 3  # a worker costs ~2 s to start: not worth it for a song or two


def choose_workers(workers: int | str | None, n_items: int, *, gpu_aware: bool = True) -> int:
    """A number of worker processes (≥ 1, at most one per item) for ``workers`` = a number, or ``"auto"`` / None:
    on CPU one per core up to :data:`MAX_AUTO_WORKERS` and at most one per :data:`MIN_ITEMS_PER_WORKER` items; 1
    with a GPU (one process feeds it best) unless ``gpu_aware`` is False (work that never uses torch)."""
    if workers is not None and workers != "auto":
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise TrackscopeError(f"workers (--workers) must be a whole number of at least 1, got {workers!r}")
        return min(workers, max(n_items, 1))
    if gpu_aware:
        try:
            import torch

            if torch.cuda.is_available():
                return 1
        except ImportError:  # pragma: no cover — torch is a dependency
            pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_AUTO_WORKERS, n_items // MIN_ITEMS_PER_WORKER))


def exit_with_parent(parent_pid: int | None = None) -> None:
    """In a worker process: exit at once when the process that started it is gone, however it died (``kill -9``
    sends no shutdown message: the worker would otherwise wait for work forever, a model in memory).

    ``parent_pid``: the parent's pid as the parent gave it, for workers without multiprocessing's parent sentinel
    (loky's): a worker still starting when its parent is killed would otherwise take the process it was re-parented
    to for its parent, and never leave."""
    import multiprocessing
    import threading
    import time

    parent = multiprocessing.parent_process()
    if parent_pid is None and parent is not None and getattr(parent, "_sentinel", None) is not None:

        def watch() -> None:
            parent.join()  # returns when the parent's end of the pipe closes: it has exited
            os._exit(0)

    else:  # a dead parent re-parents its children: watch for the parent pid to change
        first = os.getppid() if parent_pid is None else parent_pid
        if os.getppid() != first:
            os._exit(0)  # the parent is gone already
        if first <= 1:
            return

        def watch() -> None:
            while os.getppid() == first:
                time.sleep(0.5)
            os._exit(0)

    threading.Thread(target=watch, name="trackscope-parent-watch", daemon=True).start()


def init_single_thread(extra: Callable[..., None] | None = None, *args: Any) -> None:
    """Worker start: one thread for torch, BLAS and FFT (the workers are the parallelism); then ``extra(*args)``.

    The variables are read when torch or a BLAS first loads, so torch is not imported here (workers that never use
    it start in a fraction of a second); libraries already loaded (numpy, via unpickling) are limited directly. The
    worker also exits with its parent (:func:`exit_with_parent`)."""
    exit_with_parent()
    _one_thread()
    if extra is not None:
        extra(*args)


def init_pool_worker(parent_pid: int) -> None:
    """:func:`init_single_thread` for a worker of a pool without multiprocessing's parent sentinel (loky's), given
    the parent's pid by the parent (``initargs=(os.getpid(),)``)."""
    exit_with_parent(parent_pid)
    _one_thread()


def _one_thread() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = "1"
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover — threadpoolctl is a dependency
        pass


def run_in_workers(
    fn: Callable[..., Any],
    items: Iterable[tuple[int, tuple[Any, ...]]],
    n_workers: int,
    done: Callable[[int, Any], None],
    *,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> None:
    """``done(key, fn(*args))`` for each ``(key, args)``, as the results arrive (any order). ``fn`` and the
    initializer must be importable module-level functions. An exception in ``fn`` (a bug) stops the batch."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=n_workers, mp_context=ctx, initializer=init_single_thread, initargs=(initializer, *initargs)
    ) as pool:
        futures = {pool.submit(fn, *args): key for key, args in items}
        try:
            for fut in as_completed(futures):
                done(futures[fut], fut.result())
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
