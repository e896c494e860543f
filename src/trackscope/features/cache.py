"""A small content-addressed cache of per-clip feature arrays (``.npz``), shared by mood-from-audio and analyze.

Key = sha256 of the file bytes + a short hash of the configuration that produced the features, so a changed
configuration recomputes and a renamed file does not. Entries are written to a temp file and renamed: a crash never
leaves a corrupt entry. Location: ``$TRACKSCOPE_FEATURE_CACHE/clipfeatures``, else ``clipfeatures`` in trackscope's
cache folder (``$TRACKSCOPE_CACHE`` or the user cache directory).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trackscope._hash import file_sha256


def cache_root() -> Path:
    """Root of the clip-feature cache: ``$TRACKSCOPE_FEATURE_CACHE``, else trackscope's cache folder
    (:func:`trackscope._paths.cache_dir`)."""
    env = os.environ.get("TRACKSCOPE_FEATURE_CACHE")
    if env:
        return Path(env).expanduser()
    from trackscope._paths import cache_dir

    return cache_dir()


class ClipCache:
    """``get(key)`` → dict of arrays or None; ``put(key, arrays)`` atomically."""

    def __init__(self, root: str | Path | None = None, namespace: str = "clipfeatures") -> None:
        self.root = Path(root) if root is not None else cache_root() / namespace

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, Any] | None:
        import numpy as np

        p = self._path(key)
        if not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}
        except Exception:  # noqa: BLE001 — a damaged entry is recomputed, never trusted
            p.unlink(missing_ok=True)
            return None

    def put(self, key: str, arrays: dict[str, Any]) -> None:
        import numpy as np

        from trackscope._atomic import atomic_path

        with atomic_path(self._path(key)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def _compute_one(compute: Callable[[Path], dict[str, Any]], path: str) -> tuple[str, Any]:
    """``("ok", arrays)`` or ``("fail", reason)`` for one file (also the worker-process entry point)."""
    from trackscope.errors import TrackscopeError

    try:
        return "ok", compute(Path(path))
    except TrackscopeError as err:
        return "fail", err.reason
    except OSError as err:
        return "fail", str(err)


def _compute_remote(_state: Any, local_path: str, _path: str, compute: Callable[[Path], dict[str, Any]]) -> Any:
    """On a Ray worker: :func:`_compute_one` on the worker's copy of the file."""
    return _compute_one(compute, local_path)


def cached_per_file(
    paths: Sequence[str | Path],
    tag: str,
    compute: Callable[[Path], dict[str, Any]],
    *,
    cache: ClipCache | None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> tuple[list[dict[str, Any]], list[int], list[tuple[str, str]]]:
    """For each file: its arrays from ``cache`` (key = content sha256 + ``tag``) or ``compute(path)`` (then stored).

    ``cache=None`` computes without storing. Returns ``(results, ok_indices, failures)`` in input order; a file that
    cannot be read (``TrackscopeError`` or ``OSError``) becomes a ``(path, reason)`` failure and the batch goes on.
    ``workers``: processes computing the cache misses side by side (1: in this process; ``"auto"``: one per core,
    see :func:`trackscope._workers.choose_workers`; ``compute`` must then be picklable, e.g. a ``functools.partial``
    of a module-level function). ``engine="ray"``: the misses are computed on a Ray cluster instead (``ray_address``,
    see :mod:`trackscope._ray`; each worker reads its own copy of the file), the same arrays. Cache entries are
    written by this process only.
    """
    outcome: list[tuple[str, Any] | None] = [None] * len(paths)
    keys: dict[int, str] = {}
    count = [0]

    def finish(i: int, result: tuple[str, Any]) -> None:
        if result[0] == "ok" and cache is not None:
            cache.put(keys[i], result[1])
        outcome[i] = result
        count[0] += 1
        if progress is not None:
            progress(count[0], len(paths))

    todo: list[int] = []
    for i, p in enumerate(paths):
        try:
            keys[i] = f"{file_sha256(p)}-{tag}"
        except OSError as err:
            finish(i, ("fail", str(err)))
            continue
        hit = cache.get(keys[i]) if cache is not None else None
        if hit is not None:
            finish(i, ("ok", hit))
        else:
            todo.append(i)
    from trackscope._workers import choose_workers

    n_workers = choose_workers(workers, len(todo)) if todo else 1
    if engine == "ray" and todo:
        from trackscope._ray import check_engine, map_files

        check_engine(engine, ray_address)

        def from_ray(j: int, res: Any) -> None:
            finish(todo[j], ("fail", res["__failure__"]) if isinstance(res, dict) and "__failure__" in res else res)

        map_files([(str(paths[i]), compute) for i in todo], _compute_remote, from_ray, address=ray_address)
    elif n_workers <= 1:
        for i in todo:
            finish(i, _compute_one(compute, str(paths[i])))
    else:
        from trackscope._workers import run_in_workers

        run_in_workers(_compute_one, ((i, (compute, str(paths[i]))) for i in todo), n_workers, finish)
    results, ok, failures = [], [], []
    for i, res in enumerate(outcome):
        assert res is not None
        if res[0] == "ok":
            results.append(res[1])
            ok.append(i)
        else:
            failures.append((str(paths[i]), res[1]))
    return results, ok, failures
