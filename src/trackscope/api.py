"""The Python entry points behind every CLI command.

Each function imports the module that does the work inside its body, so ``import trackscope`` stays light.
The CLI (:mod:`trackscope.cli`) is a thin layer over these. Every function raises
:class:`trackscope.errors.TrackscopeError` for bad input and never prints.

Dispatch on saved models: a model folder's ``model.json`` names its ``task`` ("mood", "popularity") and its
``input`` ("table", "audio"); :func:`evaluate`, :func:`predict` and :func:`explain` hand the opened folder to
``trackscope.tasks.<task>``, whose functions of the same names take ``(model_dir, **options)``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from trackscope.errors import ModelError

_TASK_MODULES = {"mood": "trackscope.tasks.mood", "popularity": "trackscope.tasks.popularity"}


def _open(model: str | Path):
    from trackscope.models.persist import load_model_dir

    md = load_model_dir(model)
    if md.task not in _TASK_MODULES:
        raise ModelError(f"unknown model task {md.task!r}", path=md.path)
    return md, importlib.import_module(_TASK_MODULES[md.task])


def _train(task: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Check ``out`` before any work, then train with ``overwrite`` in force for the model folder it writes."""
    from trackscope.models.persist import allow_overwrite, check_model_output

    overwrite = bool(options.pop("overwrite", False))
    if options.get("out") is not None:
        check_model_output(options["out"], overwrite=overwrite)
    with allow_overwrite(overwrite):
        return task(**options)


def train_mood(**options: Any) -> dict[str, Any]:
    """Train a mood model (from a Spotify-feature table, or from audio); see :func:`trackscope.tasks.mood.train`.

    ``overwrite=True`` lets ``out`` be an existing model folder: its own files (those its ``model.json`` lists) are
    replaced, anything else in it is kept. Without it a non-empty ``out`` is refused before any work.
    """
    from trackscope.tasks.mood import train

    return _train(train, options)


def train_popularity(**options: Any) -> dict[str, Any]:
    """Train a hit-potential model; see :func:`trackscope.tasks.popularity.train` (``overwrite``: as
    :func:`train_mood`)."""
    from trackscope.tasks.popularity import train

    return _train(train, options)


def _call(md: Any, func: Any, **options: Any) -> Any:
    try:
        return func(md, **options)
    except KeyError as err:
        if err.args and isinstance(err.args[0], str) and err.args[0] not in md.meta:
            # model.json lacks something its task needs: a damaged or hand-edited folder, not a bug
            raise ModelError(
                f"model.json lacks {err}; the folder is damaged or from another version", path=md.path
            ) from None
        raise


def evaluate(model: str | Path, **options: Any) -> dict[str, Any]:
    """Score a saved model on another labelled data set; returns the metrics dictionary."""
    md, mod = _open(model)
    return _call(md, mod.evaluate, **options)


def predict(model: str | Path, **options: Any) -> Any:
    """Predictions of a saved model (a pandas DataFrame, one row per track)."""
    md, mod = _open(model)
    return _call(md, mod.predict, **options)


def explain(model: str | Path, **options: Any) -> dict[str, Any]:
    """Why a saved model scores a song (or a table row) the way it does."""
    md, mod = _open(model)
    if not hasattr(mod, "explain"):
        raise ModelError(f"{md.task} models have no explanation yet", path=md.path)
    return _call(md, mod.explain, **options)


def embed(path_or_array: Any, **options: Any) -> dict[str, Any]:
    """musicnn tag probabilities and features per 3-s patch; see :func:`trackscope.audio.musicnn.embed`."""
    from trackscope.audio.musicnn import embed as _embed

    return _embed(path_or_array, **options)


def extract(paths: Any, out: str | Path, **options: Any) -> dict[str, Any]:
    """Mel spectrograms and descriptors of audio files into a resumable feature store; returns the summary.
    See :func:`trackscope.features.store.extract` (options: what, workers, sr, mel_window, progress)."""
    from trackscope._atomic import check_output_folder
    from trackscope.features.store import extract as _extract

    check_output_folder(out)  # before any work
    return _extract(paths, out, **options)


def describe(path: str | Path, **options: Any) -> dict[str, float]:
    """Descriptors (tempo, key, loudness, spectral statistics, ...) of one audio file, decoded whole.
    See :func:`trackscope.audio.descriptors.describe_file`."""
    from trackscope.audio.descriptors import describe_file

    return describe_file(path, **options)


def analyze(paths: Any, **options: Any) -> dict[str, Any]:
    """The main job: mood, arousal/valence, tempo, key, loudness, tags (and hit potential) of songs; see
    :func:`trackscope.tasks.analyze.analyze` (options: ``out``, ``mood_model``, ``popularity_model``, ``progress``,
    ``report``, ``workers``)."""
    from trackscope.tasks.analyze import analyze as _analyze

    if isinstance(paths, str | Path):
        paths = [paths]
    if options.get("out") is not None:
        check_analyze_output(options["out"], report=options.get("report", True))
    return _analyze(paths, **options)


# What ``analyze --out DIR`` writes into DIR (trackscope.tasks.analyze.write_outputs).
ANALYZE_FILES = ("analysis.csv", "analysis.json")
ANALYZE_REPORT = "report.html"


def check_analyze_output(out: str | Path, *, report: bool = True) -> Path:
    """Fail fast, before any song is analysed, on an ``out`` that cannot take the results: an existing file, a
    file where a folder above it should be, or an existing folder named like one of the result files."""
    from trackscope._atomic import check_output_folder

    return check_output_folder(out, [*ANALYZE_FILES, *([ANALYZE_REPORT] if report else [])])
