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


def _faults_script(env_value: str) -> str:
    import os
    import subprocess
    import sys

    code = (
        "import resource, numpy as np\n"
        "from trackscope._threads import keep_freed_memory\n"
        "ok = keep_freed_memory()\n"
        "np.ones(4 << 20)\n"  # warm the heap: 32 MB
        "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
        "for _ in range(20):\n"
        "    a = np.ones(3 << 20); del a\n"  # 24 MB, touched, freed
        "print(ok, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n"
    )
    env = dict(os.environ, TRACKSCOPE_MALLOC_TUNING=env_value)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout


def test_freed_memory_is_reused_without_page_faults():
    import sys

    import pytest

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc only")
    ok, faults = _faults_script("1").split()
    assert ok == "True"
    # 20 × 24 MB from fresh pages would be ~120,000 faults; reused heap: ~500 here, 1,018 once on a busy CI run —
    # a margin of several times that, far below the failure it guards against
    assert int(faults) < 5000, faults
    off, _ = _faults_script("0").split()
    assert off == "False"
