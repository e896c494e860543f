"""The Python API, and the entry points behind every CLI command: each runs a task, then has the report layer write
what it returned.

- :func:`load_model` opens a saved model once (``"builtin:mood"`` or a folder) as a :class:`Model`: ``classes_``,
  ``predict(X)`` (a DataFrame, one row per input), ``predict_proba``, ``evaluate``, ``explain``, ``card``.
- :func:`analyze_songs` (``trackscope.analyze``) returns an :class:`Analysis` (``songs``, ``windows``, ``failures``
  as DataFrames, ``write(out)``, ``to_dict()``); :func:`analyze` is its dictionary (what ``analyze --json``
  prints).
- :func:`train_mood`, :func:`train_popularity` write a model folder from a table (a path or a pandas DataFrame) or
  labelled audio; :func:`evaluate`, :func:`predict`, :func:`explain` are :class:`Model`'s methods in the shapes the
  CLI shows; :func:`embed`, :func:`describe`, :func:`extract` compute features.

Every function takes its settings as keyword-only parameters (an unknown one is a ``TypeError``), raises
:class:`trackscope.errors.TrackscopeError` for bad input and never prints. Each imports the module that does the work
inside its body, so ``import trackscope`` stays light; the CLI (:mod:`trackscope.cli`) is a thin layer over these.

Layers: :mod:`trackscope.tasks` compute and return results (:mod:`trackscope.tasks.results`), never files;
:mod:`trackscope.report` writes model folders, cards, reports and pictures from them; this module calls one, then
the other. Dispatch on saved models: a model folder's ``model.json`` names its ``task`` ("mood", "popularity") and
its ``input`` ("table", "audio"); :class:`Model` hands the opened folder to ``trackscope.tasks.<task>`` (``evaluate``,
``predict``, ``explain``, each taking ``(model_dir, *, …)``), and files go through ``trackscope.report.<task>``
(``write_model``, ``write_explanation``).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackscope.constants import SAMPLE_RATE
from trackscope.errors import ModelError, TrackscopeError

_TASK_MODULES = {"mood": "trackscope.tasks.mood", "popularity": "trackscope.tasks.popularity"}
_REPORT_MODULES = {"mood": "trackscope.report.mood", "popularity": "trackscope.report.popularity"}


def _report(task: str) -> Any:
    return importlib.import_module(_REPORT_MODULES[task])


def _prefetch(*modules: str) -> None:
    """Import ``modules`` in a background thread: training runs in worker processes, so this process is idle and
    the imports a later step needs are ready when it comes (Python's import lock makes an early use wait)."""
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:  # the step that needs it will say so
                return

    threading.Thread(target=load, name="trackscope-prefetch", daemon=True).start()


def _train(task: str, train: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Check ``out`` before any work, train, then write the model folder (``overwrite`` in force for it); returns
    the metrics with ``"out"``, the model folder."""
    from trackscope.models.persist import check_model_output

    overwrite = bool(options.pop("overwrite", False))
    out = options.pop("out", None)
    if out is None:
        raise TrackscopeError("training needs an output folder for the model (out=...)")
    check_model_output(out, overwrite=overwrite)
    # the folder writer's imports load while the model trains; skops.io only where torch is already loaded: it
    # imports torch (through scikit-learn's array-API shims), and a torch half-imported by this thread while
    # scipy runs a fit in the main one fails that fit ("partially initialized module 'torch'")
    _prefetch(*(("skops.io",) if "torch" in sys.modules else ()), "matplotlib.figure")
    trained = train(**options)
    folder = _report(task).write_model(trained, out, overwrite=overwrite)
    return {**trained.metrics, "out": str(folder)}


def train_mood(
    *,
    data: Any = None,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    out: str | Path,
    overwrite: bool = False,
    label: str | None = None,
    features: Sequence[str] | None = None,
    test_size: float = 0.33,
    seed: int = 42,
    models: Sequence[str] | None = None,
    scaler: str | None = None,
    dedupe: str | None = "id",
    group_column: str | None = None,
    id_column: str | None = None,
    folds: int = 5,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train a mood model and write its folder to ``out``. Returns the metrics (also ``out/metrics.json``) and
    ``"out"``; open the model with :func:`load_model`.

    From a table: ``data`` (a CSV/Parquet path or a pandas DataFrame of Spotify features and a ``label`` column,
    default ``mood``), with ``features``, ``test_size``, ``scaler`` (``"power"``, ``"standard"``) and ``dedupe`` (the
    id column whose repeats are dropped; None keeps every row): see :func:`trackscope.tasks.mood.table.train`.
    From audio: ``audio`` (a folder of clips) and ``labels`` (a CSV naming each clip, ``id_column``, with its mood,
    ``label``, default ``quadrant``), with ``folds`` and ``workers`` (processes computing clip features; ``"auto"``)
    or ``engine="ray"`` (the clip features computed on a Ray cluster at ``ray_address``): see
    :func:`trackscope.tasks.mood.audio.train`. Either way: ``models`` (families to compare), ``seed``,
    ``group_column`` (rows sharing its value, e.g. the artist, stay on one side of every split) and ``progress``, a
    ``(done, total)`` callback. Settings of the other kind of input are ignored.

    ``overwrite=True`` lets ``out`` be an existing model folder: its own files (those its ``model.json`` lists) are
    replaced, anything else in it is kept. Without it a non-empty ``out`` is refused before any work.
    """
    from trackscope.tasks.mood import train

    options = {
        "data": data,
        "audio": audio,
        "labels": labels,
        "out": out,
        "overwrite": overwrite,
        "label": label,
        "features": features,
        "test_size": test_size,
        "seed": seed,
        "models": models,
        "scaler": scaler,
        "dedupe": dedupe,
        "group_column": group_column,
        "id_column": id_column,
        "folds": folds,
        "workers": workers,
        "engine": engine,
        "ray_address": ray_address,
        "progress": progress,
    }
    return _train("mood", train, options)


def train_popularity(
    *,
    data: Any = None,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    out: str | Path,
    overwrite: bool = False,
    target: str = "popularity",
    models: Sequence[str] | None = None,
    threshold: float | str = "auto",
    group_column: str | None = None,
    features: Sequence[str] | None = None,
    metadata: bool = True,
    id_column: str | None = None,
    epochs: int | None = None,
    seed: int = 0,
    work: str | Path | None = None,
    store: str | Path | None = None,
    n_mels: int | None = None,
    clip_seconds: float | None = None,
    batch_size: int | None = None,
    patience: int | None = None,
    fast: bool | None = None,
    workers: int | str | None = None,
    engine: str | None = None,
    ray_address: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Train hit-potential models, keep the best and write its folder to ``out``; see
    :func:`trackscope.tasks.popularity.train` for the parameters (``data``: a table path or a pandas DataFrame; or
    ``audio`` + ``labels``; ``epochs``, ``work``, ``store``, ``n_mels``, ``clip_seconds``, ``batch_size``,
    ``patience``, ``fast``, ``workers``, ``engine`` and ``ray_address`` apply to audio training only, None keeping
    their defaults; ``engine="ray"`` computes the clips' mels on a Ray cluster). ``overwrite``: as
    :func:`train_mood`. Audio training keeps its work files (mel store, resumable checkpoints) beside the model
    folder, in ``<out>.work``, unless ``work`` names another folder."""
    from trackscope.tasks.popularity import train

    if audio is not None and work is None:
        from trackscope.tasks.popularity.audio import work_dir

        work = work_dir(out)
    options = {
        "data": data,
        "audio": audio,
        "labels": labels,
        "out": out,
        "overwrite": overwrite,
        "target": target,
        "models": models,
        "threshold": threshold,
        "group_column": group_column,
        "features": features,
        "metadata": metadata,
        "id_column": id_column,
        "epochs": epochs,
        "seed": seed,
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
        "progress": progress,
    }
    return _train("popularity", train, options)


@contextmanager
def _model_errors(md: Any) -> Iterator[None]:
    """A KeyError for a ``model.json`` entry its task needs becomes a :class:`ModelError`: a damaged or
    hand-edited folder, not a bug."""
    try:
        yield
    except KeyError as err:
        if err.args and isinstance(err.args[0], str) and err.args[0] not in md.meta:
            raise ModelError(
                f"model.json lacks {err}; the folder is damaged or from another version", path=md.path
            ) from None
        raise


def evaluate(
    model: str | Path | Model,
    *,
    data: Any = None,
    audio: str | Path | None = None,
    labels: str | Path | None = None,
    id_column: str | None = None,
    label: str | None = None,
    label_map: str | dict[str, str] | None = None,
    target: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Score a saved model on another labelled data set; returns the metrics dictionary. See
    :meth:`Model.evaluate`."""
    return load_model(model).evaluate(
        data,
        audio=audio,
        labels=labels,
        id_column=id_column,
        label=label,
        label_map=label_map,
        target=target,
        progress=progress,
    )


def predict(model: str | Path | Model, *, data: Any = None, songs: Sequence[str | Path] | None = None) -> Any:
    """Predictions of a saved model as the CLI shows them (a pandas DataFrame): a table's rows (``data``: a path or
    a DataFrame) or songs (``songs``: audio files or folders); popularity models rank them by hit probability.
    :meth:`Model.predict` gives one row per input, in input order, for arrays too."""
    return load_model(model)._task_predict(data=data, songs=songs)


def explain(
    model: str | Path | Model,
    *,
    song: str | Path | None = None,
    data: Any = None,
    row: int | None = None,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Why a saved model scores a song (``song``) or a table row (``data``, ``row``) the way it does; with
    ``out``, the explanation's files (JSON, picture) are written into that folder. See :meth:`Model.explain`."""
    return load_model(model)._explain(song=song, data=data, row=row, out=out)


def embed(
    path_or_array: Any,
    *,
    sr: int | None = None,
    model: str = "MSD_musicnn",
    device: Any = None,
    batch_size: int | None = None,
    layers: Sequence[str] | None = None,
) -> dict[str, Any]:
    """musicnn tag probabilities and features per 3-s patch; see :func:`trackscope.audio.musicnn.embed`."""
    from trackscope.audio.musicnn import embed as _embed

    return _embed(path_or_array, sr=sr, model=model, device=device, batch_size=batch_size, layers=layers)


def extract(
    paths: Any,
    out: str | Path,
    *,
    what: Sequence[str] = ("mel", "descriptors"),
    workers: int | str = 1,
    sr: int = SAMPLE_RATE,
    mel_window: float | None = 30.0,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> dict[str, Any]:
    """Mel spectrograms and descriptors of audio files into a resumable feature store; returns the summary.
    See :func:`trackscope.features.store.extract` (``mel_window``: seconds of the centre kept, None the whole
    song; ``engine="ray"``: on a Ray cluster, ``ray_address`` "auto" or ``HOST:PORT``, the same store)."""
    from trackscope._atomic import check_output_folder
    from trackscope.features.store import extract as _extract

    check_output_folder(out)  # before any work
    return _extract(
        paths,
        out,
        what=what,
        workers=workers,
        sr=sr,
        mel_window=mel_window,
        progress=progress,
        engine=engine,
        ray_address=ray_address,
    )


def describe(
    path: str | Path, *, sr: int = SAMPLE_RATE, key_profile: str = "krumhansl", mono_as: str = "dual"
) -> dict[str, float]:
    """Descriptors (tempo, key, loudness, spectral statistics, ...) of one audio file, decoded whole at ``sr``.
    See :func:`trackscope.audio.descriptors.describe` (``key_profile``: "krumhansl" or "temperley")."""
    from trackscope.audio.descriptors import describe_file

    return describe_file(path, sr=sr, key_profile=key_profile, mono_as=mono_as)


def analyze(
    paths: Any,
    *,
    out: str | Path | None = None,
    report: bool = True,
    mood_model: str | Path | Model | Any = "builtin:mood",
    popularity_model: str | Path | Model | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
    workspace: str | Path | None = None,
) -> dict[str, Any]:
    """The main job as a dictionary (what ``trackscope analyze --json`` prints and ``analysis.json`` holds):
    :func:`analyze_songs` with the same parameters, then :meth:`Analysis.to_dict`."""
    return analyze_songs(
        paths,
        out=out,
        report=report,
        mood_model=mood_model,
        popularity_model=popularity_model,
        progress=progress,
        workers=workers,
        engine=engine,
        ray_address=ray_address,
        workspace=workspace,
    ).to_dict()


def analyze_songs(
    paths: Any,
    *,
    out: str | Path | None = None,
    report: bool = True,
    mood_model: str | Path | Model | Any = "builtin:mood",
    popularity_model: str | Path | Model | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    engine: str = "local",
    ray_address: str | None = "auto",
    workspace: str | Path | None = None,
) -> Analysis:
    """The main job (``trackscope.analyze``): mood, arousal/valence, tempo, key, loudness, tags (and hit potential)
    of songs, with their 30-s windows; returns an :class:`Analysis`.

    ``paths``: audio files or folders (searched recursively); a file that cannot be analysed is listed in
    ``failures``, not raised. ``mood_model``: an audio mood model (``"builtin:mood"``, a folder or a
    :class:`Model`); ``popularity_model``: an audio popularity model, adding each song's ``hit_potential``;
    ``progress``: a ``(done, total)`` callback; ``workers``: songs analysed side by side, one process each
    (``"auto"`` chooses; call it under ``if __name__ == "__main__":`` then). With ``out``, checked before any work,
    :meth:`Analysis.write` writes ``analysis.csv``, ``analysis.json`` and (unless not ``report``) ``report.html``
    there; their paths are the result's ``outputs``. ``engine="ray"``: the songs are analysed on a Ray cluster
    (``ray_address``: "auto" joins a running one or starts a local one, or ``HOST:PORT``); the same results.
    ``workspace``: a workspace folder (:mod:`trackscope.workspace`) the songs are added to (stored by content hash)
    and their analyses recorded in, for ``trackscope serve`` and ``trackscope export``; the result then carries a
    ``"workspace"`` summary. With ``out`` (and no ``workspace``) an interrupted run resumes: each song's result is
    kept in ``out/analysis.partial/`` as it arrives and the same call again analyses only the songs missing
    there (unchanged files, same model); the journal is removed once the outputs are written. See
    :func:`trackscope.tasks.analyze.analyze`."""
    from trackscope.tasks.analyze import analyze as _analyze

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if isinstance(mood_model, Model):
        mood_model = mood_model._md  # opened and verified already
    if isinstance(popularity_model, Model):
        popularity_model = popularity_model.path
    draw = None
    journal: Path | None = None
    if out is not None:
        check_analyze_output(out, report=report)
        if report:
            from trackscope.report.analyze import song_picture

            draw = song_picture  # worker processes draw their songs' pictures while they have the audio at hand
    if workspace is not None:
        from trackscope.workspace.runner import analyze_into

        done = analyze_into(
            workspace,
            paths,
            mood_model=mood_model,
            popularity_model=popularity_model,
            progress=progress,
            workers=workers,
            picture=draw,
            engine=engine,
            ray_address=ray_address,
        )
    else:
        from trackscope.tasks.analyze import JOURNAL_DIR

        if out is not None:
            journal = Path(out) / JOURNAL_DIR  # an interrupted run resumes from it
        done = _analyze(
            paths,
            mood_model=mood_model,
            popularity_model=popularity_model,
            progress=progress,
            workers=workers,
            draw=draw,
            engine=engine,
            ray_address=ray_address,
            journal=journal,
        )
    analysis = Analysis(done.result, done.figures)
    if out is not None:
        from trackscope._threads import release_freed_memory

        release_freed_memory()
        analysis.write(out, report=report)
        if journal is not None:
            from trackscope._journal import remove

            remove(journal)  # the outputs are written: nothing left to resume
    return analysis


def check_analyze_output(out: str | Path, *, report: bool = True) -> Path:
    """Fail fast, before any song is analysed, on an ``out`` that cannot take the results: an existing file, a
    file where a folder above it should be, or an existing folder named like one of the result files."""
    from trackscope._atomic import check_output_folder
    from trackscope.report.analyze import ANALYSIS_FILES, REPORT_FILE

    return check_output_folder(out, [*ANALYSIS_FILES, *([REPORT_FILE] if report else [])])


class Analysis:
    """What :func:`analyze_songs` (``trackscope.analyze``) found.

    ``songs``: one row per song (the columns of ``analysis.csv``: path, name, duration, mood, mood_words,
    confidence, arousal, valence, ``p_<class>``, novelty, tempo, key, loudness_lufs, top_tags, n_windows, …);
    ``windows``: one row per 30-s window of each song (path, name, window, start, duration, mood, …);
    ``failures``: the inputs that could not be analysed (path, reason); all pandas DataFrames.
    :meth:`to_dict` is what ``trackscope analyze --json`` prints; :meth:`write` writes the files.
    """

    def __init__(self, result: dict[str, Any], figures: dict[str, bytes] | None = None) -> None:
        self.result = result
        self.figures = dict(figures or {})

    @property
    def n(self) -> int:
        """The number of songs analysed."""
        return int(self.result["n"])

    @property
    def classes(self) -> list[str]:
        """The mood model's classes."""
        return list(self.result["classes"])

    @property
    def mood_model(self) -> str:
        return str(self.result["mood_model"])

    @property
    def outputs(self) -> dict[str, str]:
        """The files :meth:`write` wrote (``csv``, ``json``, ``report``); empty until then."""
        return dict(self.result.get("outputs", {}))

    @property
    def songs(self) -> Any:
        import pandas as pd

        from trackscope.report.analyze import flat_rows

        return pd.DataFrame(flat_rows(self.result))

    @property
    def windows(self) -> Any:
        import pandas as pd

        rows = [
            {"path": s["path"], "name": s["name"], "window": i, **w}
            for s in self.result["songs"]
            for i, w in enumerate(s["windows"])
        ]
        return pd.DataFrame(rows) if rows else pd.DataFrame(columns=["path", "name", "window", "start", "duration"])

    @property
    def failures(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.result["failures"], columns=["path", "reason"])

    def to_dict(self) -> dict[str, Any]:
        """The analysis as plain data (a copy): ``n``, ``mood_model``, ``classes``, ``songs`` (each with its
        ``windows`` and ``top_tags``), ``failures``, and ``outputs`` once written; what ``analysis.json`` holds."""
        import copy

        return copy.deepcopy(self.result)

    def write(self, out: str | Path, *, report: bool = True) -> dict[str, str]:
        """Write ``analysis.csv``, ``analysis.json`` and (unless not ``report``) ``report.html`` into folder
        ``out``; returns their paths (also :attr:`outputs` and ``to_dict()["outputs"]``)."""
        from trackscope.report.analyze import write_outputs

        check_analyze_output(out, report=report)
        outputs = write_outputs(self.result, Path(out), report=report, figures=self.figures)
        self.result["outputs"] = outputs
        return dict(outputs)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"<Analysis: {self.n} songs, {len(self.result['failures'])} failures, mood model {self.mood_model}>"


def load_model(model: str | Path | Model) -> Model:
    """Open a saved model: ``"builtin:mood"`` or a model folder written by training. Its files are verified against
    the sha256 sums in its ``model.json`` once, here (a tampered folder is refused); see :class:`Model`."""
    if isinstance(model, Model):
        return model
    from trackscope.models.persist import load_model_dir

    md = load_model_dir(model)
    if md.task not in _TASK_MODULES:
        raise ModelError(f"unknown model task {md.task!r}", path=md.path)
    return Model(md, name=str(model))


class Model:
    """A saved model, opened and verified once (:func:`load_model`): mood or hit potential, from audio or from a
    table of Spotify features.

    ``classes_``: the classes it tells apart (moods; ``["not popular", "popular"]``); ``card``: its model card
    (Markdown); ``metrics``: what training measured; ``task`` ("mood", "popularity") and ``input`` ("audio",
    "table"). :meth:`predict` takes audio files, folders or arrays (audio models; an array needs ``sr=``) or a
    table (table models: a pandas DataFrame or a CSV/Parquet path).
    """

    def __init__(self, md: Any, *, name: str | None = None) -> None:
        self._md = md
        self.name = name or str(md.path)
        self._module = importlib.import_module(_TASK_MODULES[md.task])

    @property
    def path(self) -> Path:
        """The model folder."""
        return Path(self._md.path)

    @property
    def task(self) -> str:
        return self._md.task

    @property
    def input(self) -> str:
        return self._md.input

    @property
    def meta(self) -> dict[str, Any]:
        """The model's ``model.json`` (a copy)."""
        import copy

        return copy.deepcopy(self._md.meta)

    @property
    def classes_(self) -> list[str]:
        classes = self._md.meta.get("classes")
        if classes is None and self.task == "popularity":
            from trackscope.constants import POPULARITY_CLASSES

            classes = POPULARITY_CLASSES
        return [str(c) for c in classes or []]

    @property
    def card(self) -> str:
        """The model card (Markdown); empty for a folder saved without one."""
        if "model_card.md" not in self._md.meta.get("files", {}):
            return ""
        return self._md.file("model_card.md").read_text(encoding="utf-8")

    @property
    def metrics(self) -> dict[str, Any]:
        """What training measured (``metrics.json``); empty for a folder saved without it."""
        if "metrics.json" not in self._md.meta.get("files", {}):
            return {}
        return dict(self._md.load_json("metrics.json"))

    def __repr__(self) -> str:
        return f"<Model {self.name}: {self.task} from {self.input}, classes {self.classes_}>"

    # -- predictions ---------------------------------------------------------------------------------------------

    def predict(self, X: Any, *, sr: int | None = None) -> Any:
        """One row per input, in input order (a pandas DataFrame): the prediction (``mood``, or ``prediction`` for
        popularity models, with ``hit_probability``) and one ``p_<class>`` column per class in :attr:`classes_`.

        Audio models: ``X`` is an audio file, a folder (one row per audio file in it), an array of samples or a list
        of them; arrays need their sample rate, ``sr``. Rows start with ``path`` (None for arrays) and end with
        ``error`` (None, or why that input could not be read; its predictions are then missing). Mood models add
        ``mood_words``, ``confidence``, ``arousal``/``valence`` (quadrant moods) and ``novelty``/``unusual``.
        Table models: ``X`` is a pandas DataFrame or a CSV/Parquet path; rows start with ``row`` (and ``id``,
        ``name``, ``artist`` when present); a mood model leaves a row with a missing feature without prediction.
        """
        if self.input == "audio":
            return self._predict_audio(X, sr)
        return self._predict_table(_table_input(X))

    def predict_proba(self, X: Any, *, sr: int | None = None) -> Any:
        """Class probabilities, ``(n_inputs, n_classes)`` in the order of :attr:`classes_` (NaN where an input could
        not be read); see :meth:`predict`."""
        import numpy as np

        frame = self.predict(X, sr=sr)
        return frame[[f"p_{c}" for c in self.classes_]].to_numpy(dtype=np.float64)

    def _task_predict(self, *, data: Any = None, songs: Any = None) -> Any:
        """The task's own predictions (what ``trackscope predict`` shows)."""
        with _model_errors(self._md):
            return self._module.predict(self._md, data=data, songs=songs)

    def _predict_table(self, data: Any) -> Any:
        import numpy as np

        frame = self._task_predict(data=data)
        classes = self.classes_
        if self.task == "popularity":
            frame = frame.sort_values("row", kind="stable").drop(columns=["rank", "hit"], errors="ignore")
            p = frame.pop("hit_probability").to_numpy(dtype=np.float64)
            frame["prediction"] = [classes[1] if q >= 0.5 else classes[0] for q in p]
            frame["hit_probability"] = p
            frame[f"p_{classes[0]}"] = 1.0 - p
            frame[f"p_{classes[1]}"] = p
            return frame.reset_index(drop=True)
        skipped = int(frame.attrs.get("missing_dropped", 0) or 0)
        if skipped:  # rows with a missing feature: kept, without a prediction, so that rows match inputs
            n = len(frame) + skipped
            frame = frame.set_index("row").reindex(range(n)).reset_index(names="row")
            frame.attrs["missing_dropped"] = skipped
        return frame

    def _predict_audio(self, X: Any, sr: int | None) -> Any:
        import pandas as pd

        classes = self.classes_
        with _audio_inputs(X, sr) as entries:
            files = list(dict.fromkeys(f for _, f, _ in entries if f is not None))
            task_rows: dict[str, dict[str, Any]] = {}
            if files:
                key = "song" if self.task == "popularity" else "path"
                for r in self._task_predict(songs=files).to_dict(orient="records"):
                    task_rows[str(r[key])] = r
            rows = []
            for shown, f, problem in entries:
                r = task_rows.get(str(f), {"error": "not predicted"}) if f is not None else {"error": problem}
                error = r.get("error")
                error = None if error is None or error == "" or (isinstance(error, float) and error != error) else error
                if self.task == "popularity":
                    p = r.get("hit_probability") if error is None else None
                    row = {
                        "path": shown,
                        "prediction": None if p is None else classes[1] if p >= 0.5 else classes[0],
                        "hit_probability": p,
                        f"p_{classes[0]}": None if p is None else 1.0 - p,
                        f"p_{classes[1]}": p,
                    }
                else:
                    row = {
                        "path": shown,
                        **({} if error else {k: v for k, v in r.items() if k not in ("path", "error")}),
                    }
                row["error"] = error
                rows.append(row)
        first = ["path", "mood", "mood_words", "confidence"] if self.task == "mood" else ["path", "prediction"]
        frame = pd.DataFrame(rows)
        for c in [*first, *(f"p_{c}" for c in classes)]:
            if c not in frame.columns:
                frame[c] = None
        order = [c for c in frame.columns if c != "error"] + ["error"]
        return frame[order]

    # -- evaluation and explanation ----------------------------------------------------------------------------

    def evaluate(
        self,
        data: Any = None,
        *,
        audio: str | Path | None = None,
        labels: str | Path | None = None,
        id_column: str | None = None,
        label: str | None = None,
        label_map: str | dict[str, str] | None = None,
        target: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Score the model on labelled data it has not seen; returns the metrics (accuracy, macro-F1 or ROC-AUC,
        per class, confusion matrix, misclassified rows, …).

        Table models: ``data``, a pandas DataFrame or a CSV/Parquet path holding the label (mood: column ``label``,
        default the one the model learnt; popularity: the score column ``target``). Audio models: ``audio``, a
        folder, and ``labels``, a CSV naming each clip (``id_column``). Mood labels are matched to
        :attr:`classes_` case-insensitively after ``label_map`` (``"calm=Relaxing,sad=Dark"`` or a dict); rows
        whose label the model never learnt are counted in ``excluded``.
        """
        if self.task == "popularity":
            given = [k for k, v in {"label": label, "label_map": label_map, "progress": progress}.items() if v]
            if given:
                raise TrackscopeError(f"{', '.join(given)} apply to mood models; a popularity model reads target=")
            kwargs: dict[str, Any] = {"target": target}
        else:
            if target is not None:
                raise TrackscopeError("target applies to popularity models; a mood model reads label=")
            kwargs = {"label": label, "label_map": label_map, "progress": progress}
        if self.input == "table":
            data = None if data is None else _table_input(data)
        with _model_errors(self._md):
            return self._module.evaluate(self._md, data=data, audio=audio, labels=labels, id_column=id_column, **kwargs)

    def explain(
        self, X: Any = None, *, row: int | None = None, sr: int | None = None, out: str | Path | None = None
    ) -> dict[str, Any]:
        """Why the model scores one input the way it does. Audio models: ``X`` is an audio file (or an array, with
        ``sr``); table models: ``X`` is a table (DataFrame or path) and ``row`` the row to explain (default 0).
        With ``out``, the explanation's files (JSON, picture) are written into that folder."""
        if self.input == "table":
            return self._explain(data=None if X is None else _table_input(X), row=row, out=out)
        if X is None:
            return self._explain(song=None, out=out)
        with _audio_inputs(X, sr) as entries:
            if len(entries) != 1:
                raise TrackscopeError(f"explain takes one song; X names {len(entries)} inputs")
            shown, f, problem = entries[0]
            if f is None:
                raise TrackscopeError(problem or "no audio", path=shown)
            result = self._explain(song=f, out=out)
            if shown is None:  # an array: its temporary file is no name for it
                result["song"] = None
            return result

    def _explain(
        self, *, song: Any = None, data: Any = None, row: int | None = None, out: str | Path | None = None
    ) -> dict[str, Any]:
        if not hasattr(self._module, "explain"):
            raise ModelError(f"{self.task} models have no explanation yet", path=self._md.path)
        if out is not None:
            from trackscope._atomic import check_output_folder

            check_output_folder(out)  # before any work
        with _model_errors(self._md):
            explanation = self._module.explain(self._md, song=song, data=data, row=row)
        if out is not None:
            _report(self.task).write_explanation(self._md, explanation, out)
        return explanation.result


def _table_input(X: Any) -> Any:
    """A table for a table model: a pandas DataFrame or a path, else a TypeError."""
    if isinstance(X, str | os.PathLike) or (hasattr(X, "columns") and hasattr(X, "iloc")):
        return X
    raise TypeError(f"a table model reads a table: a pandas DataFrame or a CSV/Parquet path, not {type(X).__name__}")


def _audio_items(X: Any) -> list[Any]:
    """The inputs of an audio model: one path or array, or a sequence of them."""
    if isinstance(X, str | os.PathLike):
        return [X]
    if getattr(X, "dtype", None) is not None and getattr(X.dtype, "kind", "") in "fiu":
        return [X]  # one clip (mono, or channels on its shorter axis)
    if hasattr(X, "columns"):
        raise TypeError("an audio model reads audio files, folders or arrays, not a DataFrame")
    try:
        return list(X)
    except TypeError:
        raise TypeError(f"an audio model reads audio files, folders or arrays, not {type(X).__name__}") from None


@contextmanager
def _audio_inputs(X: Any, sr: int | None) -> Iterator[list[tuple[str | None, Path | None, str | None]]]:
    """Each input as ``(shown path, file to read, problem)``, in input order: a folder becomes its audio files, an
    array a temporary WAV file (float, at ``sr``, removed afterwards: it is read exactly as a file would be)."""
    import tempfile

    from trackscope.errors import AudioError
    from trackscope.sources.audio_dirs import walk_audio

    with tempfile.TemporaryDirectory(prefix="trackscope-arrays-") as tmp:
        entries: list[tuple[str | None, Path | None, str | None]] = []
        for i, item in enumerate(_audio_items(X)):
            if isinstance(item, str | os.PathLike):
                files, problems = walk_audio([item])
                entries += [(str(f), f, None) for f in files]
                entries += [(p, None, r) for p, r in problems]
                if not files and not problems:
                    entries.append((str(item), None, "no audio files in this folder"))
                continue
            if sr is None:
                raise AudioError("an audio array needs its sample rate: pass sr=")
            entries.append((None, _write_array(Path(tmp) / f"array{i}.wav", item, sr), None))
        yield entries


def _write_array(path: Path, y: Any, sr: int) -> Path:
    """An array of samples ((n,), (n, channels) or (channels, n)) as a float WAV file."""
    import numpy as np
    import soundfile

    from trackscope.errors import AudioError

    x = np.asarray(y)
    if x.ndim not in (1, 2) or x.size == 0 or x.dtype.kind not in "fiu":
        raise AudioError(f"expected a non-empty numeric 1-D or 2-D audio array, got shape {x.shape}")
    if x.dtype.kind in "iu":
        x = x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max + 1)
    if x.ndim == 2 and x.shape[0] < x.shape[1]:
        x = x.T
    if int(sr) <= 0:
        raise AudioError(f"sample rate must be positive, got {sr}")
    soundfile.write(str(path), x.astype(np.float32), int(sr), subtype="FLOAT")
    return path
