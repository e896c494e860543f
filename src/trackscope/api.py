"""The Python entry points behind every CLI command: each runs a task, then has the report layer write what it
returned.

Each function imports the module that does the work inside its body, so ``import trackscope`` stays light.
The CLI (:mod:`trackscope.cli`) is a thin layer over these. Every function raises
:class:`trackscope.errors.TrackscopeError` for bad input and never prints.

Layers: :mod:`trackscope.tasks` compute and return results (:mod:`trackscope.tasks.results`), never files;
:mod:`trackscope.report` writes model folders, cards, reports and pictures from them; this module calls one, then
the other. Dispatch on saved models: a model folder's ``model.json`` names its ``task`` ("mood", "popularity") and
its ``input`` ("table", "audio"); :func:`evaluate`, :func:`predict` and :func:`explain` hand the opened folder to
``trackscope.tasks.<task>``, whose functions of the same names take ``(model_dir, **options)``, and files go through
``trackscope.report.<task>`` (``write_model``, ``write_explanation``).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from trackscope.errors import ModelError, TrackscopeError

_TASK_MODULES = {"mood": "trackscope.tasks.mood", "popularity": "trackscope.tasks.popularity"}
_REPORT_MODULES = {"mood": "trackscope.report.mood", "popularity": "trackscope.report.popularity"}


def _report(task: str) -> Any:
    return importlib.import_module(_REPORT_MODULES[task])


def _open(model: str | Path):
    from trackscope.models.persist import load_model_dir

    md = load_model_dir(model)
    if md.task not in _TASK_MODULES:
        raise ModelError(f"unknown model task {md.task!r}", path=md.path)
    return md, importlib.import_module(_TASK_MODULES[md.task])


def _train(task: str, train: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Check ``out`` before any work, train, then write the model folder (``overwrite`` in force for it); returns
    the metrics with ``"out"``, the model folder."""
    from trackscope.models.persist import check_model_output

    overwrite = bool(options.pop("overwrite", False))
    out = options.pop("out", None)
    if out is None:
        raise TrackscopeError("training needs an output folder for the model (out=...)")
    check_model_output(out, overwrite=overwrite)
    trained = train(**options)
    folder = _report(task).write_model(trained, out, overwrite=overwrite)
    return {**trained.metrics, "out": str(folder)}


def train_mood(**options: Any) -> dict[str, Any]:
    """Train a mood model (from a Spotify-feature table, or from audio) and write its folder to ``out``; see
    :func:`trackscope.tasks.mood.train` for the options. Returns the metrics (also ``out/metrics.json``) and
    ``"out"``.

    ``overwrite=True`` lets ``out`` be an existing model folder: its own files (those its ``model.json`` lists) are
    replaced, anything else in it is kept. Without it a non-empty ``out`` is refused before any work.
    """
    from trackscope.tasks.mood import train

    return _train("mood", train, options)


def train_popularity(**options: Any) -> dict[str, Any]:
    """Train a hit-potential model and write its folder to ``out``; see :func:`trackscope.tasks.popularity.train`
    (``overwrite``: as :func:`train_mood`). Audio training keeps its work files (mel store, resumable checkpoints)
    beside the model folder, in ``<out>.work``, unless ``work`` names another folder."""
    from trackscope.tasks.popularity import train

    if options.get("audio") is not None and options.get("out") is not None:
        from trackscope.tasks.popularity.audio import work_dir

        options.setdefault("work", work_dir(options["out"]))
    return _train("popularity", train, options)


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


def explain(model: str | Path, *, out: str | Path | None = None, **options: Any) -> dict[str, Any]:
    """Why a saved model scores a song (or a table row) the way it does; with ``out``, the explanation's files
    (JSON, picture) are written into that folder."""
    md, mod = _open(model)
    if not hasattr(mod, "explain"):
        raise ModelError(f"{md.task} models have no explanation yet", path=md.path)
    explanation = _call(md, mod.explain, **options)
    if out is not None:
        _report(md.task).write_explanation(md, explanation, out)
    return explanation.result


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


def analyze(paths: Any, *, out: str | Path | None = None, report: bool = True, **options: Any) -> dict[str, Any]:
    """The main job: mood, arousal/valence, tempo, key, loudness, tags (and hit potential) of songs; see
    :func:`trackscope.tasks.analyze.analyze` (options: ``mood_model``, ``popularity_model``, ``progress``,
    ``workers``). With ``out``, writes ``analysis.csv``, ``analysis.json`` and (unless not ``report``)
    ``report.html`` there (:mod:`trackscope.report.analyze`); their paths are the result's ``outputs``."""
    from trackscope.tasks.analyze import analyze as _analyze

    if isinstance(paths, str | Path):
        paths = [paths]
    draw = None
    if out is not None:
        check_analyze_output(out, report=report)
        if report:
            from trackscope.report.analyze import song_png

            draw = song_png  # worker processes draw their songs' pictures while they have the audio at hand
    analysis = _analyze(paths, draw=draw, **options)
    result = analysis.result
    if out is not None:
        from trackscope.report.analyze import write_outputs

        result["outputs"] = write_outputs(result, Path(out), report=report, figures=analysis.figures)
    return result


def check_analyze_output(out: str | Path, *, report: bool = True) -> Path:
    """Fail fast, before any song is analysed, on an ``out`` that cannot take the results: an existing file, a
    file where a folder above it should be, or an existing folder named like one of the result files."""
    from trackscope._atomic import check_output_folder
    from trackscope.report.analyze import ANALYSIS_FILES, REPORT_FILE

    return check_output_folder(out, [*ANALYSIS_FILES, *([REPORT_FILE] if report else [])])
