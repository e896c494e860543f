"""``extract --engine ray``: the store's per-file jobs on Ray workers, their entries written here by the driver.

Each worker runs the local engine's own :func:`trackscope.features.entries.compute` on its copy of the file, with
the entries pointed at a scratch folder, and sends the entries' bytes back; the driver writes them into the store
(atomically, as the local engine does), so the store is byte for byte what the local engine makes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trackscope._atomic import write_bytes
from trackscope.features.entries import compute

__all__ = ["run_jobs_on_ray"]


def run_jobs_on_ray(
    jobs: list[dict[str, Any]], on_result: Callable[[dict[str, Any]], None], *, address: str | None = "auto"
) -> None:
    """``on_result(compute(job))`` for each job, computed on Ray; entries written before ``on_result`` is called."""
    from trackscope._ray import map_files

    def done(i: int, res: dict[str, Any]) -> None:
        job = jobs[i]
        if "__failure__" in res:
            res = {"sha256": job["sha256"], "ok": False, "reason": res["__failure__"]}
        for target, data in res.pop("entries", []):  # sidecar before the .npy: the .npy marks the entry done
            write_bytes(Path(target), data, fsync=True)
        on_result({**res, "path": job["path"]})

    map_files([(job["path"], job) for job in jobs], compute_remote, done, address=address)


def compute_remote(_state: Any, local_path: str, path: str, job: dict[str, Any]) -> dict[str, Any]:
    """On a worker: ``compute`` on the local copy, into a scratch folder; the entries come back as bytes. A job
    without a hash (an s3:// object new to the store) is hashed here, from the copy the worker read anyway, and its
    entry paths completed with it (:func:`trackscope.features.store.fill_hash`)."""
    if job["sha256"] is None:
        from trackscope._hash import file_sha256
        from trackscope.features.store import fill_hash

        sha = file_sha256(local_path)
        job = {
            **job,
            "sha256": sha,
            "mel_file": job["mel_file"] and fill_hash(job["mel_file"], sha),
            "desc_file": job["desc_file"] and fill_hash(job["desc_file"], sha),
        }
    with tempfile.TemporaryDirectory(prefix="trackscope-entry-") as scratch:
        mel = os.path.join(scratch, "mel.npy") if job["mel_file"] else None
        desc = os.path.join(scratch, "desc.json") if job["desc_file"] else None
        res = compute({**job, "path": local_path, "mel_file": mel, "desc_file": desc})
        entries: list[tuple[str, bytes]] = []
        if res.get("ok"):
            if desc is not None:
                entries.append((job["desc_file"], Path(desc).read_bytes()))
            if mel is not None:
                sidecar = Path(mel).with_suffix(".json").read_bytes()
                entries.append((str(Path(job["mel_file"]).with_suffix(".json")), sidecar))
                entries.append((job["mel_file"], Path(mel).read_bytes()))
        res["entries"] = entries
        return res
