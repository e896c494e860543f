"""Background analysis for a workspace: a thread in the caller's process hands queued songs to worker *processes*
and records what they send back.

The songs are analysed only in the workers (spawned, single-threaded, each loading the models once), never in the
caller's process: a server that holds a :class:`Runner` keeps answering while songs are analysed. Only the thread
writes to the database (its own connection), one transaction per finished song; a worker that dies with the
process loses nothing — the song stays ``analysing`` until :meth:`Workspace.recover` queues it again (at the next
:meth:`Runner.start`), and a song once recorded is never claimed again: each song is analysed to completion once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from trackscope._workers import exit_with_parent
from trackscope.workspace.db import Workspace, one_line

POLL_S = 1.0  # how often the thread looks for queued songs when nobody calls wake()


class Runner:
    """Analyse a workspace's queued songs in the background.

    ``mood_model``: an audio mood model (``"builtin:mood"`` or a folder); ``popularity_model``: an audio popularity
    model adding hit potential, or None; ``workers``: worker processes (≥ 1). Models are checked at construction,
    so a bad one fails before a server starts listening."""

    def __init__(
        self,
        folder: str | Path,
        *,
        mood_model: str | Path = "builtin:mood",
        popularity_model: str | Path | None = None,
        workers: int = 1,
        poll_s: float = POLL_S,
    ) -> None:
        from trackscope.errors import TrackscopeError
        from trackscope.models.persist import load_model_dir
        from trackscope.tasks.analyze import _model_name

        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise TrackscopeError(f"workers (--workers) must be a whole number of at least 1, got {workers!r}")
        md = load_model_dir(mood_model)
        if md.task != "mood" or md.input != "audio":
            raise TrackscopeError("mood_model (--mood-model) must be an audio mood model (e.g. builtin:mood)",
                                  path=md.path)  # fmt: skip
        self._mood_path = str(md.path)
        self.mood_model = _model_name(md)
        self.classes = list(md.meta["classes"])
        self._pop_path: str | None = None
        self.popularity_model: str | None = None
        if popularity_model is not None:
            pop = load_model_dir(popularity_model)
            if pop.task != "popularity" or pop.input != "audio":
                raise TrackscopeError(
                    "popularity_model (--popularity-model) must be a popularity model trained on audio",
                    path=pop.path,
                )
            self._pop_path = str(pop.path)
            self.popularity_model = _model_name(pop)
        self.folder = Path(folder)
        self.workers = workers
        self.poll_s = poll_s
        self._ws: Workspace | None = None
        self._pool: Any = None
        self._thread: threading.Thread | None = None
        self._event = threading.Event()
        self._stopping = threading.Event()
        self._inflight: dict[Any, int] = {}
        self.error: str | None = None  # why the thread stopped, if it did on its own

    # ---------------------------------------------------------------------------------------------------- control
    def start(self) -> Runner:
        """Queue again what a dead process left ``analysing``, then start the thread (the workers start with the
        first song)."""
        if self._thread is not None:
            return self
        self._stopping.clear()
        self.error = None
        self._ws = Workspace(self.folder)
        self._ws.recover()
        self._pool = self._new_pool()
        self._thread = threading.Thread(target=self._loop, name="trackscope-runner", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """New songs were queued: look now instead of at the next poll."""
        self._event.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread and the workers; songs being analysed go back to the queue."""
        self._stopping.set()
        self._event.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._shutdown_pool()
        if self._ws is not None:
            self._ws.requeue(list(self._inflight.values()))
            self._inflight.clear()
            self._ws.close()
            self._ws = None
        self._thread = None

    def __enter__(self) -> Runner:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def status(self) -> dict[str, Any]:
        """``{"workers", "queued", "analysing", "running", "mood_model", "popularity_model", "error"}`` (``error``:
        why the runner stopped on its own, else None)."""
        counts = self._ws.counts() if self._ws is not None else {}
        return {
            "workers": self.workers,
            "queued": counts.get("queued", 0),
            "analysing": counts.get("analysing", 0),
            "running": self._thread is not None and self._thread.is_alive(),
            "mood_model": self.mood_model,
            "popularity_model": self.popularity_model,
            "error": self.error,
        }

    # ------------------------------------------------------------------------------------------------- the thread
    def _new_pool(self) -> Any:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from trackscope._workers import init_single_thread

        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_single_thread,
            initargs=(_load_worker_models, self._mood_path, self._pop_path),
        )

    def _shutdown_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list(getattr(pool, "_processes", {}).values())  # a song in flight is not waited for
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)
            if p.is_alive():  # still there after SIGTERM and 5 s (a machine under heavy load): not left behind
                p.kill()
                p.join(5)

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                self._collect()
                free = self.workers - len(self._inflight)
                if free > 0 and not self._stopping.is_set():
                    self._submit(self._ws.claim(free))  # type: ignore[union-attr]
                self._event.wait(self.poll_s)
                self._event.clear()
        except Exception as err:  # noqa: BLE001 — a server must not die with its runner; status() says it stopped
            self.error = one_line(f"{type(err).__name__}: {err}")

    def _submit(self, claimed: list[tuple[int, Path]]) -> None:
        from concurrent.futures.process import BrokenProcessPool

        for k, (song_id, path) in enumerate(claimed):
            try:
                fut = self._pool.submit(_analyse, str(path))
            except BrokenProcessPool:  # a worker died between two songs: fresh workers, the rest queued again
                self._ws.requeue([i for i, _ in claimed[k:]])  # type: ignore[union-attr]
                self._shutdown_pool()
                self._pool = self._new_pool()
                self._event.set()
                return
            self._inflight[fut] = song_id
            fut.add_done_callback(lambda _f: self._event.set())

    def _collect(self) -> None:
        from concurrent.futures.process import BrokenProcessPool

        broken = False
        for fut in [f for f in self._inflight if f.done()]:
            song_id = self._inflight.pop(fut)
            if fut.cancelled():
                self._ws.requeue([song_id])  # type: ignore[union-attr]
                continue
            err = fut.exception()
            if err is not None:
                broken = broken or isinstance(err, BrokenProcessPool)
                if isinstance(err, BrokenProcessPool):
                    reason = "the analysis worker died while analysing this song (out of memory, or killed)"
                else:  # a bug: say which, in one line
                    reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                self._ws.fail(song_id, reason)  # type: ignore[union-attr]
                continue
            kind, item, media = fut.result()
            if kind == "song":
                self._ws.record(  # type: ignore[union-attr]
                    song_id, item, mood_model=self.mood_model, popularity_model=self.popularity_model, media=media
                )
            else:
                self._ws.fail(song_id, item["reason"])  # type: ignore[union-attr]
        if broken and not self._stopping.is_set():  # e.g. a worker killed for memory: start fresh ones
            self._shutdown_pool()
            self._pool = self._new_pool()


# ---------------------------------------------------------------------------------------------------- the workers
_MODELS: dict[str, Any] = {}


def _load_worker_models(mood_path: str, pop_path: str | None) -> None:
    from trackscope.models.persist import load_model_dir

    exit_with_parent()  # a server killed with kill -9: its song is queued again when the server starts

    _MODELS["mood"] = load_model_dir(mood_path)
    _MODELS["popularity"] = None if pop_path is None else load_model_dir(pop_path)


def _analyse(path: str) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """In a worker: ``("song", row, media)`` or ``("failure", {"path", "reason"}, None)`` for one stored song."""
    import pickle

    from trackscope.errors import TrackscopeError
    from trackscope.report.media import media_draw, song_media
    from trackscope.tasks.analyze import _add_hit_potential, analyze_song

    # the media from the audio the analysis decoded (media_draw); drawn again from the file only if that failed
    kind, row, drawn = analyze_song(_MODELS["mood"], Path(path), media_draw)
    if kind != "song":
        return kind, row, None
    try:
        if _MODELS["popularity"] is not None:
            _add_hit_potential([row], _MODELS["popularity"])
        media = pickle.loads(drawn)["media"] if drawn is not None else song_media(path)
    except TrackscopeError as err:
        return "failure", {"path": path, "reason": err.reason}, None
    return "song", row, media


# ------------------------------------------------------------------------------------ analysing now, into a workspace
def analyze_into(
    folder: str | Path,
    paths: Any,
    *,
    mood_model: Any = "builtin:mood",
    popularity_model: str | Path | None = None,
    progress: Any = None,
    workers: int | str = 1,
    picture: Any = None,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> Any:
    """``trackscope analyze PATHS --workspace DIR``: add the songs to the workspace (stored by content hash; a file
    that is not audio becomes a failed row), analyse them now with :func:`trackscope.tasks.analyze.analyze` (same
    engine and workers) and record each analysis with its media. Returns that :class:`Analysis`, its result with a
    ``"workspace"`` summary: ``{"path", "songs", "new", "analysed", "failed"}``. ``picture``: the report's
    per-song drawing (:func:`trackscope.report.analyze.song_picture`) when a report is written too."""
    import os
    import pickle

    from trackscope.errors import TrackscopeError
    from trackscope.models.persist import ModelDir, load_model_dir
    from trackscope.report.media import media_and_picture_draw, media_draw, song_media
    from trackscope.sources.audio_dirs import walk_audio
    from trackscope.tasks.analyze import _model_name
    from trackscope.tasks.analyze import analyze as _analyze
    from trackscope.tasks.results import Analysis

    if isinstance(paths, str | Path):
        paths = [paths]
    if any(str(p).startswith("s3://") for p in paths):
        raise TrackscopeError("--workspace takes local files and folders (s3:// inputs are not copied in)")
    files, _ = walk_audio(paths)
    ws = Workspace(folder)
    by_path: dict[str, int] = {}
    ids: list[int] = []
    new = 0
    try:
        for f in files:
            added = ws.add_file(f)
            by_path[os.path.abspath(f)] = added["id"]  # Ray's rows name the files by absolute path
            new += bool(added["new"])
            if ws.audio_path(added["id"]) is not None:  # a file that is not audio was told so when added
                ids.append(added["id"])
        ws.mark_analysing(ids)
        draw = media_and_picture_draw if picture is not None else media_draw
        try:
            done = _analyze(
                paths,
                mood_model=mood_model,
                popularity_model=popularity_model,
                progress=progress,
                workers=workers,
                draw=draw,
                engine=engine,
                ray_address=ray_address,
            )
        except TrackscopeError as err:  # not one song could be analysed: each of them failed
            for sid in ids:
                ws.fail(sid, err.reason)
            raise
        md = mood_model if isinstance(mood_model, ModelDir) else load_model_dir(mood_model, verify=False)
        pop_name = None if popularity_model is None else _model_name(load_model_dir(popularity_model, verify=False))
        figures: dict[str, bytes] = {}
        analysed: set[int] = set()
        failed = 0
        for song in done.result["songs"]:
            sid = by_path.get(os.path.abspath(song["path"]))
            blob = done.figures.get(song["path"])
            drawn = pickle.loads(blob) if blob is not None else {"media": None, "picture": None}
            if drawn["picture"] is not None:
                figures[song["path"]] = drawn["picture"]
            if sid is None:
                continue
            media = drawn["media"]
            if media is None:  # analysed in this process: the worker's drawing did not happen
                try:
                    media = song_media(song["path"])
                except TrackscopeError:
                    media = None
            ws.record(sid, song, mood_model=_model_name(md), popularity_model=pop_name, media=media)
            analysed.add(sid)
        for fail in done.result["failures"]:
            sid = by_path.get(os.path.abspath(fail["path"]))
            if sid is not None and sid in ids and sid not in analysed:
                ws.fail(sid, fail["reason"])
                failed += 1
        result = dict(done.result)
        result["workspace"] = {
            "path": str(ws.folder),
            "songs": len(set(by_path.values())),
            "new": new,
            "analysed": len(analysed),
            "failed": failed,
        }
        return Analysis(result, figures)
    finally:
        ws.requeue(ids)  # only what is still 'analysing': an interrupted run leaves it for the studio's runner
        ws.close()
