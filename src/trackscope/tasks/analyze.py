"""The main job: mood (with probabilities, arousal and valence), tempo, key, loudness, duration and the top musicnn
tags of every song, with 30-s windows for long songs and the mood over time; hit potential when a popularity model
is given. :mod:`trackscope.report.analyze` writes ``analysis.csv``, ``analysis.json`` and ``report.html`` from it.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trackscope.errors import TrackscopeError
from trackscope.tasks.results import Analysis

# Draws one song's report visual: ``draw(song_row, classes) -> bytes`` (an HTML fragment; a module-level function, so
# worker processes can be handed it; trackscope.report.analyze.song_picture).
# draw(row, classes, decoded): a song's report picture; ``decoded`` is what the analysis kept of the decoded audio for
# it (SongFeatures.extra["picture"]: the envelope and the middle window), so the song is not decoded again
Draw = Callable[[dict[str, Any], list[str], Any], bytes]

DEFAULT_MOOD_MODEL = "builtin:mood"
# Song-level descriptor keys, always present (None when a song has no tempo or key, e.g. silence).
SONG_DESCRIPTORS = ("tempo", "tempo_confidence", "key", "key_confidence", "loudness_lufs")
TOP_TAGS = 5


def _power_mean_lufs(values: Sequence[float], weights: Sequence[float]) -> float:
    """Combine per-window loudness in the energy domain (BS.1770 sums mean squares, not dB values)."""
    pairs = [(v, w) for v, w in zip(values, weights, strict=True) if v is not None and math.isfinite(v)]
    if not pairs:
        return float("nan")
    total = sum(w for _, w in pairs) or 1.0
    energy = sum(w * 10 ** ((v + 0.691) / 10) for v, w in pairs) / total
    return -0.691 + 10 * math.log10(energy) if energy > 0 else float("-inf")


def summarise_descriptors(descs: Sequence[dict[str, Any]], durations: Sequence[float]) -> dict[str, Any]:
    """Song-level tempo, key, loudness from per-window descriptors: tempo = confidence-weighted median over windows,
    key = the key with the most confidence × duration, loudness = energy-domain mean."""
    import numpy as np

    out: dict[str, Any] = {}
    tempos = [(d.get("tempo"), d.get("tempo_confidence", 1.0) or 0.0, w) for d, w in zip(descs, durations, strict=True)]
    tempos = [(t, c * w) for t, c, w in tempos if t is not None and math.isfinite(t) and t > 0]
    if tempos:
        order = sorted(tempos)
        cum = np.cumsum([w for _, w in order])
        out["tempo"] = float(order[int(np.searchsorted(cum, cum[-1] / 2))][0]) if cum[-1] > 0 else float(order[0][0])
        out["tempo_confidence"] = float(
            np.average([d.get("tempo_confidence", 0.0) or 0.0 for d in descs], weights=durations)
        )
    from trackscope.audio.descriptors import key_name

    votes: Counter[str] = Counter()
    for d, w in zip(descs, durations, strict=True):
        key, mode = d.get("key"), d.get("mode")
        if key is not None and mode is not None and math.isfinite(key) and math.isfinite(mode) and key >= 0:
            votes[key_name(key, mode)] += w * float(d.get("key_confidence", 1.0) or 0.0) + 1e-9
    if votes:
        out["key"] = votes.most_common(1)[0][0]
        out["key_confidence"] = float(
            np.average([d.get("key_confidence", 0.0) or 0.0 for d in descs], weights=durations)
        )
    if any("loudness_lufs" in d for d in descs):
        out["loudness_lufs"] = _power_mean_lufs([d.get("loudness_lufs") for d in descs], durations)
    return out


def analyze(
    paths: Sequence[str | Path],
    *,
    mood_model: Any = DEFAULT_MOOD_MODEL,
    popularity_model: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    workers: int | str = 1,
    draw: Draw | None = None,
    engine: str = "local",
    ray_address: str | None = "auto",
    journal: str | Path | None = None,
) -> Analysis:
    """Analyse songs; ``result`` is ``{"n", "mood_model", "classes", "songs": [...], "failures": [...]}``.

    ``workers``: processes analysing songs side by side (one thread each); ``"auto"`` chooses (see
    :func:`trackscope._workers.choose_workers`), 1 analyses in this process. Results come back in input order
    either way. ``draw``: each song's report picture is drawn right after its analysis, from the audio its features
    were computed from (no second decode), wherever the song was analysed; the pictures come back in ``figures``.
    ``engine="ray"``: the songs are analysed on a Ray cluster (``ray_address``, see :mod:`trackscope._ray`) by the
    same per-song function, pictures drawn there; the same result, in input order. ``journal``: a folder whose journal
    each song's outcome is appended to as it arrives (:mod:`trackscope._journal`); a rerun with the same journal
    analyses only the songs missing from it. The caller removes it once the results are written.
    """
    from trackscope._ray import check_engine
    from trackscope.models.persist import ModelDir, load_model_dir
    from trackscope.sources.audio_dirs import walk_audio

    check_engine(engine)
    from trackscope._ray import split_inputs
    from trackscope.constants import AUDIO_SUFFIXES

    local, objects, s3_problems = split_inputs(paths, AUDIO_SUFFIXES)  # s3:// prefixes listed
    files, failures = walk_audio(local)
    files = [*files, *objects]  # S3 objects as their s3:// URIs, read by the Ray workers
    failures = [{"path": p, "reason": r} for p, r in [*failures, *s3_problems]]
    if not files and not failures:
        raise TrackscopeError("no audio files found in the given paths")
    md = mood_model if isinstance(mood_model, ModelDir) else load_model_dir(mood_model)
    if popularity_model is not None:
        pop = load_model_dir(popularity_model)
        if pop.task != "popularity" or pop.input != "audio":
            raise TrackscopeError(
                f"popularity_model (--popularity-model) must be a popularity model trained on audio (this one: "
                f"{pop.task} from {pop.input}); train one with: trackscope train popularity --audio DIR --labels FILE",
                path=pop.path,
            )
    if md.task != "mood" or md.input != "audio":
        raise TrackscopeError("mood_model (--mood-model) must be an audio mood model (e.g. builtin:mood)", path=md.path)
    from trackscope._workers import choose_workers, run_in_workers

    # a rerun of an interrupted batch (the same journal): what it finished is not done again
    book, keys, results = _open_journal(journal, files, md, draw)
    if progress and results:
        progress(len(results), len(files))
    todo = [i for i in range(len(files)) if i not in results]
    n_workers = choose_workers(workers, len(todo))

    def done(i: int, outcome: Outcome) -> None:
        results[i] = outcome
        if book is not None:
            _journal_song(book, keys[i], outcome)
        if progress:
            progress(len(results), len(files))

    try:
        if engine == "ray" and todo:
            from trackscope.tasks.ray_analyze import analyze_on_ray

            analyze_on_ray(md.path, [files[i] for i in todo], draw, lambda j, o: done(todo[j], o), address=ray_address)
        elif n_workers <= 1:  # (also when nothing is left to do)
            for i in todo:
                done(i, analyze_song(md, files[i], draw))
        else:
            items = ((i, (str(files[i]), draw)) for i in todo)
            run_in_workers(
                _worker_song, items, n_workers, done, initializer=_load_worker_model, initargs=(str(md.path),)
            )
    finally:
        if book is not None:
            book.close()
    songs: list[dict[str, Any]] = []
    figures: dict[str, bytes] = {}
    for i in range(len(files)):  # input order, whatever order the workers finished in
        kind, item, png = results[i]
        (songs if kind == "song" else failures).append(item)
        if png is not None:
            figures[item["path"]] = png
    if not songs:
        if book is not None:
            book.remove()  # nothing in it to resume
        first = failures[0] if failures else {"path": "", "reason": "no audio"}
        raise TrackscopeError(
            f"none of the {len(failures)} inputs could be analysed (first: {first['reason']})", path=first["path"]
        )
    if popularity_model is not None:
        _add_hit_potential(songs, pop)
    result: dict[str, Any] = {
        "n": len(songs),
        "mood_model": str(mood_model) if not isinstance(mood_model, ModelDir) else _model_name(md),
        "classes": list(md.meta["classes"]),
        "songs": songs,
        "failures": failures,
    }
    return Analysis(result, figures)


JOURNAL_DIR = "analysis.partial"  # in ``analyze``'s output folder while it runs: the songs finished so far
Outcome = tuple[str, dict[str, Any], bytes | None]


def _open_journal(folder: str | Path | None, files: list[Any], md: Any, draw: Draw | None) -> Any:
    """``(journal, keys, found)``: the batch's journal (:mod:`trackscope._journal`; None without ``folder``), each
    file's key in it (its path, size and modification time; None when it cannot be read: not resumed) and the
    outcomes an interrupted run of the same batch left there, by index into ``files``."""
    if folder is None:
        return None, [], {}
    import base64
    import hashlib
    import json

    from trackscope import __version__
    from trackscope._journal import Journal
    from trackscope._ray import is_s3, s3_stat

    meta = {
        "kind": "analyze",
        "version": 1,
        "trackscope": __version__,
        "model": _model_name(md),
        "model_digest": hashlib.sha256(json.dumps(md.meta, sort_keys=True, default=str).encode()).hexdigest()[:16],
        "draw": None if draw is None else f"{getattr(draw, '__module__', '')}.{getattr(draw, '__qualname__', draw)}",
    }
    book = Journal(folder, meta, command="analyze", run_noun="analysis (model, version or pictures)", sync_every=1.0)
    keys: list[list[Any] | None] = []
    for f in files:
        try:
            st = s3_stat(str(f)) if is_s3(f) else os.stat(f)
            keys.append([str(f), int(st.st_size), int(st.st_mtime_ns)])
        except OSError:
            keys.append(None)
    where = {tuple(k): i for i, k in enumerate(keys) if k is not None}
    found: dict[int, Outcome] = {}
    for r in book.of_type("song"):
        i = where.get(tuple(r.get("key") or ()))
        if i is not None:
            blob = r.get("blob")
            found[i] = (r["kind"], r["item"], None if blob is None else base64.b64decode(blob))
    book.records.clear()  # held as results from here on
    return book, keys, found


def _journal_song(book: Any, key: list[Any] | None, outcome: Outcome) -> None:
    """One analysed song into the journal (failures are not journaled: a rerun tries them again)."""
    import base64

    kind, item, blob = outcome
    if key is not None and kind == "song":
        encoded = None if blob is None else base64.b64encode(blob).decode("ascii")
        book.append({"t": "song", "key": key, "kind": kind, "item": item, "blob": encoded}, keep=False)


def analyze_song(md: Any, f: Path | str, draw: Draw | None = None) -> tuple[str, dict[str, Any], bytes | None]:
    """``("song", row, picture)`` for one file, or ``("failure", {"path", "reason"}, None)`` when it cannot be
    analysed; ``picture`` is ``draw(row, classes, decoded)`` when ``draw`` is given (None if drawing it failed). A
    ``draw`` with a ``mel_columns`` attribute also gets the song's mel in ``decoded`` (at about that many columns).
    An ``s3://`` object is read into a temporary copy, and its row named by its URI."""
    from trackscope._ray import is_s3, local_copy, s3_uri, unreadable
    from trackscope.tasks.mood.audio import predict_song, why_song

    if is_s3(f):
        uri = s3_uri(f)
        try:
            with local_copy(uri) as local:
                return named(analyze_song(md, Path(local), draw), uri)
        except OSError as err:
            return "failure", {"path": uri, "reason": unreadable(err)}, None
    f = Path(f)

    try:
        res = predict_song(md, f, mel_columns=getattr(draw, "mel_columns", None))
    except TrackscopeError as err:
        return "failure", {"path": str(f), "reason": err.reason}, None
    sf = res["features"]
    if sf.silent:  # digital silence has no mood: say so instead of a confident guess
        res["song"] = {k: None for k in res["song"]} | {"mood_words": "silent"}
        for w in res["windows"]:
            w.update({k: None for k in w if k not in ("start", "duration")}, mood_words="silent")
    tag_mean = sf.tag_mean.mean(axis=0)
    top = sorted(range(len(sf.tags)), key=lambda j: -tag_mean[j])[:TOP_TAGS]
    row = {
        "path": str(f),
        "name": f.name,
        "duration": round(sf.total_duration, 3),
        "silent": sf.silent,
        **res["song"],
        **dict.fromkeys(SONG_DESCRIPTORS),
        **summarise_descriptors(sf.descriptors, sf.durations),
        "top_tags": [{"tag": sf.tags[j], "score": float(tag_mean[j])} for j in top],
        "windows": res["windows"],
        # which stretches pull the song toward each mood: [{"start", "end", "effects": {class: Δp}, "toward"}]
        # (trackscope.tasks.mood.why); None for silence. Not a column of analysis.csv.
        "why": why_song(md, res),
    }
    png = None
    if draw is not None:
        try:
            png = draw(row, list(md.meta["classes"]), sf.extra.get("picture"))
        except Exception:  # noqa: BLE001 — the report draws it again (or says why it cannot)
            png = None
    return "song", row, png


_WORKER_MODEL: list[Any] = []


def _load_worker_model(model_path: str) -> None:
    from trackscope.models.persist import load_model_dir

    _WORKER_MODEL.append(load_model_dir(model_path))


def named(outcome: Outcome, path: str) -> Outcome:
    """An outcome computed from a copy of a file (or under another name of it), named as the input ``path``."""
    kind, item, png = outcome
    item["path"] = path
    if "name" in item:
        item["name"] = path.rstrip("/").rsplit("/", 1)[-1]
    return kind, item, png


def _worker_song(path: str, draw: Draw | None) -> tuple[str, dict[str, Any], bytes | None]:
    return analyze_song(_WORKER_MODEL[0], path, draw)


def _model_name(md: Any) -> str:
    from trackscope.models.persist import BUILTIN_DIR

    try:
        return f"builtin:{md.path.relative_to(BUILTIN_DIR).as_posix()}"
    except ValueError:
        return str(md.path)


def _add_hit_potential(songs: list[dict[str, Any]], model: Any) -> None:
    """Each song's hit probability from an opened audio popularity model (:mod:`trackscope.tasks.popularity`)."""
    from trackscope.tasks import popularity

    frame = popularity.predict(model, songs=[s["path"] for s in songs])
    col = next((c for c in ("hit_probability", "probability", "p_popular") if c in frame.columns), None)
    if col is None:
        raise TrackscopeError("the popularity model returned no hit probability", path=model.path)
    key = "song" if "song" in frame.columns else "path"
    by_path = dict(zip(frame[key].astype(str), frame[col], strict=True))
    for s in songs:
        v = by_path.get(s["path"])
        s["hit_potential"] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
