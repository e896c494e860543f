"""``extract --engine ray``: the store's per-file jobs on Ray workers, their entries written here by the driver.

Each worker runs the local engine's own computation (:func:`trackscope.features.entries.compute_entries`, which
:func:`~trackscope.features.entries.compute` writes) on its copy of the file and sends the entries' bytes back; the
driver writes them into the store (atomically, in the same order, as the local engine does), so the store is byte
for byte what the local engine makes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackscope._atomic import write_bytes
from trackscope.features.entries import compute_entries

__all__ = ["run_jobs_on_ray"]


def run_jobs_on_ray(
    jobs: list[dict[str, Any]], on_result: Callable[[dict[str, Any]], None], *, address: str | None = "auto"
) -> None:
    """``on_result(res)`` for each job's :func:`compute_entries` result, computed on Ray; its entries are written
    here right after ``on_result`` returns (which records the file's hash first: a kill in between leaves a hash
    whose entries are missing, computed again by the rerun)."""
    from trackscope._ray import map_files

    def done(i: int, res: dict[str, Any]) -> None:
        job = jobs[i]
        if "__failure__" in res:
            res = {"sha256": job["sha256"], "ok": False, "reason": res["__failure__"]}
        entries = res.pop("entries", [])
        on_result({**res, "path": job["path"]})
        for target, data in entries:  # sidecar before the .npy: the .npy marks the entry done
            write_bytes(Path(target), data, fsync=True)

    map_files([(job["path"], job) for job in jobs], compute_remote, done, address=address)


def compute_remote(_state: Any, local_path: str, path: str, job: dict[str, Any]) -> dict[str, Any]:
    """On a worker: the entries of the local copy, as bytes (nothing written here); a job without a hash is hashed
    here, from the copy the worker read anyway (see :func:`compute_entries`)."""
    return compute_entries({**job, "path": local_path})
