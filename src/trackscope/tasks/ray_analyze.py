"""``analyze --engine ray``: each song through the local engine's own :func:`trackscope.tasks.analyze.analyze_song`
on a Ray worker that opened the mood model (musicnn and the head) once; rows, failures and report pictures come back
to the driver, which orders and writes them as the local engine does."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["analyze_on_ray"]

Outcome = tuple[str, dict[str, Any], bytes | None]


def analyze_on_ray(
    model_path: str | Path,
    files: list[Path],
    draw: Callable[..., bytes] | None,
    done: Callable[[int, Outcome], None],
    *,
    address: str | None = "auto",
) -> None:
    """``done(i, analyze_song(model, files[i], draw))`` for each file, computed on Ray, in any order."""
    from trackscope._ray import is_s3, map_files

    def arrived(i: int, outcome: Any) -> None:
        if isinstance(outcome, dict) and "__failure__" in outcome:
            outcome = ("failure", {"path": str(files[i]), "reason": outcome["__failure__"]}, None)
        outcome[1]["path"] = str(files[i])  # as the local engine names it (workers read it by its absolute path)
        done(i, outcome)

    map_files(
        [(str(f) if is_s3(f) else os.path.abspath(f), draw) for f in files],
        song_remote,
        arrived,
        setup=open_model,
        setup_args=(str(model_path),),
        address=address,
        use_gpus=True,  # musicnn runs on the GPU where there is one
    )


def open_model(model_path: str) -> Any:
    """On a worker, once: the mood model, with musicnn loaded (a first song would load it otherwise)."""
    from trackscope.models.persist import load_model_dir

    md = load_model_dir(model_path)
    try:  # warm up: the head and the musicnn network, kept for every song of this worker
        from trackscope.audio.musicnn.embed import get_model
        from trackscope.tasks.mood.audio import _load

        _load(md)
        get_model(md.meta["features"].get("embed_model", "MSD_musicnn"))
    except Exception:  # noqa: BLE001 — the first song loads them (and says what is wrong)
        pass
    return md


def song_remote(md: Any, local_path: str, path: str, draw: Callable[..., bytes] | None) -> Outcome:
    """On a worker: the song's row (or failure) from its local copy, under its own path."""
    from trackscope.tasks.analyze import analyze_song, named

    return named(analyze_song(md, Path(local_path), draw), path)
