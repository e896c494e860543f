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
    data: str | Path | None = None,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    id_column: str | None = None,
    label: str | None = None,
    group_column: str | None = None,
    models: Sequence[str] | None = None,
    seed: int = 42,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    **options: Any,
) -> TrainedModel:
    """Train a mood model from a table (``data``; options ``features``, ``test_size``, ``scaler``, ``dedupe``: see
    :func:`trackscope.tasks.mood.table.train`) or from labelled audio (``audio`` + ``labels``; options ``folds``:
    see :func:`trackscope.tasks.mood.audio.train`)."""
    if audio is not None:
        from trackscope.tasks.mood import audio as mood_audio

        return mood_audio.train(
            audio=audio,
            labels=labels,
            id_column=id_column,
            label=label,
            group_column=group_column,
            models=models,
            seed=seed,
            progress=progress,
            workers=workers,
            **options,
        )
    if data is None:
        raise TrackscopeError("give a table (--data FILE) or an audio folder (--audio DIR --labels FILE)")
    from trackscope.tasks.mood import table

    return table.train(
        data=data, label=label, group_column=group_column, models=models, seed=seed, progress=progress, **options
    )


def _module(md: Any) -> Any:
    if md.input == "audio":
        from trackscope.tasks.mood import audio

        return audio
    from trackscope.tasks.mood import table

    return table


def evaluate(md: Any, **options: Any) -> dict[str, Any]:
    """Score a saved mood model on another labelled table (``data``) or audio folder (``audio`` + ``labels``)."""
    return _module(md).evaluate(md, **options)


def predict(md: Any, **options: Any) -> Any:
    """Mood and class probabilities for every table row (``data``) or song (``songs``), as a pandas DataFrame."""
    return _module(md).predict(md, **options)


def explain(md: Any, **options: Any) -> Explanation:
    """Why a saved mood model gives a table row (``data``, ``row``) or a song (``song``) its mood."""
    return _module(md).explain(md, **options)
