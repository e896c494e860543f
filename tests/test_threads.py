"""trackscope._threads: numpy's BLAS on one thread inside the audio front end, restored afterwards."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from trackscope._threads import one_blas_thread, single_blas_thread


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]


def test_blas_is_limited_inside_and_restored_after():
    np.ones((64, 64)) @ np.ones((64, 64))  # make sure numpy's BLAS is loaded
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        assert before and all(n == 2 for n in before)
        with single_blas_thread():
            assert all(n == 1 for n in _blas_threads())

        @one_blas_thread
        def inner() -> list[int]:
            return _blas_threads()

        assert all(n == 1 for n in inner())
        assert _blas_threads() == before
