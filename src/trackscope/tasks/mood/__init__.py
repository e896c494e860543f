"""Mood: train, evaluate, predict and explain mood models, from Spotify-feature tables or from audio.

- Tables (:mod:`trackscope.tasks.mood.table`): the mood study's workflow on Spotify audio features.
- Audio (:mod:`trackscope.tasks.mood.audio`): pooled musicnn embeddings + descriptors per 30-s window.

:func:`train` returns a :class:`trackscope.tasks.results.TrainedModel` (the report layer writes its folder);
``evaluate``, ``predict`` and ``explain`` take an opened model folder and hand it to the module of its ``input``
(see :mod:`trackscope.api`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trackscope.errors import TrackscopeError
from trackscope.tasks.results import Explanation, TrainedModel


def train(
    *,
    data: Any = None,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    id_column: str | None = None,
    label: str | None = None,
    group_column: str | None = None,
    models: Sequence[str] | None = None,
    seed: int = 42,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
    features: Sequence[str] | None = None,
    test_size: float = 0.33,
    scaler: str | None = None,
    dedupe: str | None = "id",
    folds: int = 5,
) -> TrainedModel:
    """Train a mood model from a table (``data``: a CSV/Parquet path or a pandas DataFrame; ``features``,
    ``test_size``, ``scaler``, ``dedupe`` apply to it: see :func:`trackscope.tasks.mood.table.train`) or from
    labelled audio (``audio`` + ``labels``; ``folds``, ``id_column``, ``workers``, ``engine`` and ``ray_address``
    apply to it: see
    :func:`trackscope.tasks.mood.audio.train`). Settings of the other kind of input are ignored."""
    if audio is not None:
        from trackscope.tasks.mood import audio as mood_audio

        if labels is None:
            raise TrackscopeError("audio training needs labels: a CSV naming each clip's mood (labels=, --labels)")
        return mood_audio.train(
            audio=audio,
            labels=labels,
            id_column=id_column,
            label=label,
            group_column=group_column,
            models=models,
            seed=seed,
            folds=folds,
            progress=progress,
            workers=workers,
            engine=engine,
            ray_address=ray_address,
        )
    if data is None:
        raise TrackscopeError(
            "give a table (data=, --data FILE) or an audio folder with labels (audio= and labels=, --audio DIR "
            "--labels FILE)"
        )
    from trackscope.tasks.mood import table

    return table.train(
        data=data,
        label=label,
        features=features,
        test_size=test_size,
        seed=seed,
        models=models,
        progress=progress,
        group_column=group_column,
        scaler=scaler,
        dedupe=dedupe,
    )


def _module(md: Any) -> Any:
    if md.input == "audio":
        from trackscope.tasks.mood import audio

        return audio
    from trackscope.tasks.mood import table

    return table


def evaluate(
    md: Any,
    *,
    data: Any = None,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    id_column: str | None = None,
    label: str | None = None,
    label_map: str | dict[str, str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a saved mood model on another labelled table (``data``: a path or a DataFrame) or audio folder
    (``audio`` + ``labels``, with ``id_column``); ``label`` names the label column, ``label_map`` renames labels
    (``"calm=Relaxing,sad=Dark"`` or a dict)."""
    if md.input == "audio":
        return _module(md).evaluate(
            md, audio=audio, labels=labels, id_column=id_column, label=label, label_map=label_map, progress=progress
        )
    return _module(md).evaluate(md, data=data, label=label, label_map=label_map)


def predict(md: Any, *, data: Any = None, songs: Sequence[str | Path] | None = None) -> Any:
    """Mood and class probabilities for every table row (``data``: a path or a DataFrame) or song (``songs``:
    audio files or folders), as a pandas DataFrame."""
    if md.input == "audio":
        return _module(md).predict(md, songs=songs)
    return _module(md).predict(md, data=data)


def explain(md: Any, *, data: Any = None, row: int | None = None, song: str | Path | None = None) -> Explanation:
    """Why a saved mood model gives a table row (``data``, ``row``: 0 when None) or a song (``song``) its mood."""
    if md.input == "audio":
        return _module(md).explain(md, song=song)
    return _module(md).explain(md, data=data, row=0 if row is None else int(row))
