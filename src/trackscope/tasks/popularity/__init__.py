"""Hit potential: train, evaluate, predict and explain popularity models, from Spotify tables or from audio.

The workflow of the popularity study (16k hip-hop previews, popular = popularity ≥ 39 from the training split;
59.8 % accuracy / 0.646 ROC-AUC on its holdout): dedupe, 75/15/10 train/test/holdout splits (optionally grouped by
artist), a popularity threshold from the training split, several models compared on test and holdout, the best one
(by test ROC-AUC) kept.

- Tables (:mod:`trackscope.tasks.popularity.table`): audio features + release metadata → dummy, logreg, gbm, rf, mlp.
- Audio (:mod:`trackscope.tasks.popularity.audio`): mel spectrograms → dummy, mlp, cnn1, cnn2, crnn, and a head over
  musicnn embeddings; :mod:`trackscope.tasks.popularity.explain`: occlusion maps.

:func:`train` returns a :class:`trackscope.tasks.results.TrainedModel` (the report layer writes its folder);
``evaluate``, ``predict`` and ``explain`` take an opened model folder (see :mod:`trackscope.api`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from trackscope.errors import ModelError, TrackscopeError
from trackscope.tasks.results import Explanation, TrainedModel


def train(
    *,
    data: Any = None,
    audio: Any = None,
    labels: Any = None,
    id_column: str | None = None,
    target: str = "popularity",
    models: Sequence[str] | None = None,
    threshold: Any = "auto",
    group_column: str | None = None,
    features: Sequence[str] | None = None,
    metadata: bool = True,
    epochs: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    work: Any = None,
    store: Any = None,
    n_mels: int | None = None,
    clip_seconds: float | None = None,
    batch_size: int | None = None,
    patience: int | None = None,
    fast: bool | None = None,
    workers: int | str | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
) -> TrainedModel:
    """Train hit-potential models and keep the best; returns it with its metrics (the model folder is written by
    :mod:`trackscope.report.popularity`).

    Parameters
    ----------
    data : a Spotify-feature table (CSV/Parquet path, or a pandas DataFrame) with a popularity column, or
    audio, labels : a folder of audio files and a CSV naming each file (``id_column``) with its popularity score.
    target : the popularity column (``track_popularity`` is an alias of ``popularity``).
    models : which models to compare (default: all for the input kind).
    threshold : ``"auto"`` (rule in :func:`trackscope.models.splits.auto_threshold`) or a number.
    group_column : keep each value of this column (e.g. ``artist``) inside one split.
    features : audio features to use from a table (default: the 10 study features).
    metadata : add release year/month and explicit when the table has them.
    epochs, seed, progress : training length (audio), the seed of every random choice, a ``(done, total)`` callback.
    work, store, n_mels, clip_seconds, batch_size, patience, fast, workers, engine, ray_address : audio training
        only (``work``: the folder for the mel store and checkpoints; the others: see
        :func:`trackscope.tasks.popularity.audio.train_audio`); None keeps its default. Given with ``data``, they
        are refused.
    """
    if (data is None) == (audio is None):
        raise TrackscopeError("give either a table (data=, --data) or an audio folder (audio=, --audio) with labels")
    audio_options = {
        k: v
        for k, v in {
            "work": work,
            "store": store,
            "n_mels": n_mels,
            "clip_seconds": clip_seconds,
            "batch_size": batch_size,
            "patience": patience,
            "fast": fast,
            "workers": workers,
            "engine": engine,
            "ray_address": ray_address,
            "epochs": epochs,
        }.items()
        if v is not None
    }
    if data is not None:
        from trackscope.tasks.popularity.table import train_table

        if audio_options:
            raise TrackscopeError(f"options {sorted(audio_options)} apply to audio training only")
        return train_table(
            data=data,
            target=target,
            models=models,
            threshold=threshold,
            group_column=group_column,
            features=features,
            metadata=metadata,
            seed=seed,
            progress=progress,
        )
    if labels is None:
        raise TrackscopeError(
            "audio training needs labels (labels=, --labels): a CSV with a file/id column and a popularity column"
        )
    from trackscope.tasks.popularity.audio import train_audio

    return train_audio(
        audio=audio,
        labels=labels,
        id_column=id_column,
        target=target,
        models=models,
        threshold=threshold,
        group_column=group_column,
        seed=seed,
        progress=progress,
        **audio_options,
    )


def _audio_module():
    from trackscope.tasks.popularity import audio

    return audio


def evaluate(
    md: Any,
    *,
    data: Any = None,
    audio: Any = None,
    labels: Any = None,
    id_column: str | None = None,
    target: str | None = None,
) -> dict[str, Any]:
    """Accuracy, ROC-AUC and n on a labelled table (``data``: a path or a DataFrame) or audio folder (``audio`` +
    ``labels``); ``target`` names the popularity column (default: the model's)."""
    if md.input == "table":
        if data is None:
            raise ModelError("this is a table model: give data= (--data TABLE)", path=md.path)
        from trackscope.tasks.popularity.table import evaluate_table

        return evaluate_table(md, data=data, target=target)
    if audio is None or labels is None:
        raise ModelError("this is an audio model: give audio= and labels= (--audio DIR --labels CSV)", path=md.path)
    return _audio_module().evaluate_audio(md, audio=audio, labels=labels, id_column=id_column, target=target)


def predict(md: Any, *, data: Any = None, songs: Any = None) -> Any:
    """A DataFrame ranked by hit probability: table rows (``data``: a path or a DataFrame) or audio files/folders
    (``songs``)."""
    if md.input == "table":
        if data is None:
            raise ModelError("this is a table model: give data= (--data TABLE)", path=md.path)
        from trackscope.tasks.popularity.table import predict_table

        return predict_table(md, data=data)
    if not songs:
        raise ModelError("this is an audio model: give audio files or folders (songs=)", path=md.path)
    return _audio_module().predict_audio(md, songs=songs)


def explain(md: Any, *, song: Any = None, data: Any = None, row: int | None = None) -> Explanation:
    """Why the model scores a song (occlusion over the mel spectrogram) or a table row (feature contributions)."""
    if md.input == "table":
        if data is None:
            raise ModelError("this is a table model: give data= and row= (--data TABLE [--row N])", path=md.path)
        from trackscope.tasks.popularity.table import explain_table

        return explain_table(md, data=data, row=row)
    if song is None:
        raise ModelError("this is an audio model: give an audio file (song=)", path=md.path)
    return _audio_module().explain_audio(md, song=song)
