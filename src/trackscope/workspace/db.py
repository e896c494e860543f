"""The workspace database: songs, their analyses and media in SQLite, the audio stored by content hash.

One folder holds ``trackscope.sqlite`` (WAL mode, so the studio's readers never wait for the analysis writer; foreign
keys on; ``PRAGMA user_version`` = the schema version, raised by :data:`MIGRATIONS` applied in order, each in one
transaction), ``audio/<sha[:2]>/<sha256><suffix>`` (a song's bytes, named by their hash, never by the name it came
with) and ``tmp/`` (copies and uploads in progress). Nothing is half-written: audio is copied to a temporary name
and renamed into place inside the transaction that inserts its row; an analysis, its media and the song's status
change in one transaction. The workspace only ever deletes files it wrote (under ``audio/`` and ``tmp/``, names it
made). Standard library only at import (the CLI imports this at start-up).
"""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trackscope.constants import AUDIO_SUFFIXES
from trackscope.errors import TrackscopeError
from trackscope.workspace.schema import (
    DB_NAME,
    EXPORT_COLUMNS,
    LIST_COLUMNS,
    LIST_FROM,
    MIGRATIONS,
    NOT_NULL_SORTS,
    SCHEMA_VERSION,
    SORTS,
    STATUSES,
    TMP_PREFIX,
    display_name,
    dumps,
    loads,
    now,
    num,
    one_line,
    probabilities,
    quadrant_of,
    song_shape,
    window_shape,
)

STALE_TMP_S = 3600.0  # leftovers older than this in tmp/ are from a crash, not an upload in progress


def hash_copy(src: Path, dst: Path) -> tuple[str, int]:
    """Copy ``src`` to ``dst`` (or only read it when ``dst`` is ``src``), returning its sha256 and size."""
    h = hashlib.sha256()
    size = 0
    with open(src, "rb") as fin:
        if dst == src:
            while chunk := fin.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
            return h.hexdigest(), size
        with open(dst, "wb") as fout:
            while chunk := fin.read(1 << 20):
                h.update(chunk)
                size += len(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
    return h.hexdigest(), size


def check_audio_file(path: Path, name: str, size: int) -> str | None:
    """A one-line reason why ``path`` (that came as ``name``) is certainly not audio, or None: the quick checks an
    upload gets before it is queued (the decoder's own reasons come when it is analysed)."""
    from trackscope.audio.io import _sniff

    suffix = Path(name).suffix.lower()
    if size == 0:
        return "empty file (0 bytes)"
    if suffix not in AUDIO_SUFFIXES:
        shown = suffix or "no suffix"
        return f"not an audio file name ({shown}); trackscope reads {', '.join(sorted(AUDIO_SUFFIXES))}"
    if _sniff(path) == "text":
        return "not an audio file: it holds text"
    return None


class Workspace:
    """A workspace folder (created, opened and migrated here). Safe to share between threads (one connection behind
    a lock); other processes open their own :class:`Workspace` on the same folder. :meth:`close` when done."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder).expanduser()
        if self.folder.exists() and not self.folder.is_dir():
            raise TrackscopeError("the workspace is an existing file, not a folder (--workspace)", path=self.folder)
        self.audio_dir = self.folder / "audio"
        self.tmp_dir = self.folder / "tmp"
        try:
            for d in (self.folder, self.audio_dir, self.tmp_dir):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TrackscopeError(f"cannot create the workspace ({err.strerror})", path=self.folder) from None
        self.db_path = self.folder / DB_NAME
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            try:
                self._db.execute("PRAGMA busy_timeout = 30000")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA foreign_keys = ON")
                self._db.execute("PRAGMA synchronous = NORMAL")  # with WAL: never corrupt, at most the last commits
            except sqlite3.DatabaseError as err:
                raise TrackscopeError(f"not a trackscope workspace database ({err})", path=self.db_path) from None
            self._migrate()
        except BaseException:
            self._db.close()
            raise
        self._sweep_tmp()

    # ----------------------------------------------------------------------------------------------------- plumbing
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (taken at once, so two writers queue instead of failing midway)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def _migrate(self) -> None:
        try:
            version = self.schema_version()
        except sqlite3.DatabaseError as err:
            raise TrackscopeError(f"not a trackscope workspace database ({err})", path=self.db_path) from None
        if version > SCHEMA_VERSION:
            raise TrackscopeError(
                f"this workspace was written by a newer trackscope (schema {version}, this one knows up to "
                f"{SCHEMA_VERSION}); upgrade trackscope",
                path=self.db_path,
            )
        while version < SCHEMA_VERSION:
            with self._tx() as db:
                current = int(db.execute("PRAGMA user_version").fetchone()[0])  # another process may have done it
                if current == version:
                    for statement in MIGRATIONS[version]:
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version = {version + 1}")
            version = self.schema_version()

    def _sweep_tmp(self) -> None:
        """Remove what an interrupted copy or upload left in tmp/ (only our own names, only stale ones)."""
        cutoff = time.time() - STALE_TMP_S
        for p in self.tmp_dir.glob(f"{TMP_PREFIX}*"):
            try:
                if p.is_file() and p.stat().st_mtime < cutoff:
                    p.unlink()
            except OSError:
                pass

    def temp_path(self, suffix: str = "") -> Path:
        """A fresh name in tmp/ for an upload in progress (then :meth:`add_upload` it)."""
        return self.tmp_dir / f"{TMP_PREFIX}{uuid.uuid4().hex}{suffix}"

    def _stored_path(self, sha: str, suffix: str) -> Path:
        return self.audio_dir / sha[:2] / f"{sha}{suffix}"

    # ------------------------------------------------------------------------------------------------- adding songs
    def add_file(self, path: str | os.PathLike, name: str | None = None) -> dict[str, Any]:
        """Copy an audio file into the workspace: ``{"id", "name", "status", "new"}``; the same content again is the
        same song (``new`` False). A file that is certainly not audio becomes a failed row with the reason."""
        src = Path(path)
        if not src.is_file():
            raise TrackscopeError("file not found" if not src.exists() else "not a regular file", path=src)
        tmp = self.temp_path(src.suffix.lower())
        try:
            sha, size = hash_copy(src, tmp)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise TrackscopeError(f"cannot read the file ({err.strerror})", path=src) from None
        return self._take(tmp, name or src.name, sha, size)

    def add_upload(self, tmp_path: str | os.PathLike, name: str) -> dict[str, Any]:
        """Move a finished upload, a temporary file made with :meth:`temp_path`, into the workspace: it is moved in
        or removed. A file anywhere else is copied (:meth:`add_file`): the workspace only removes files it made.
        Same return as :meth:`add_file`."""
        tmp = Path(tmp_path)
        if not (tmp.name.startswith(TMP_PREFIX) and tmp.parent.resolve() == self.tmp_dir.resolve()):
            return self.add_file(tmp, name)
        sha, size = hash_copy(tmp, tmp)
        return self._take(tmp, name, sha, size)

    def add_failed(self, name: str, reason: str, size: int | None = None) -> dict[str, Any]:
        """A row for a file that never became audio here (e.g. over the upload size limit), with its reason."""
        name, t = display_name(name), now()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO songs (name, size, added, status, error, updated) VALUES (?, ?, ?, 'failed', ?, ?)",
                (name, size, t, one_line(reason), t),
            )
        return {"id": int(cur.lastrowid or 0), "name": name, "status": "failed", "new": True}

    def _take(self, tmp: Path, name: str, sha: str, size: int) -> dict[str, Any]:
        name = display_name(name)
        suffix = Path(name).suffix.lower()
        try:
            reason = check_audio_file(tmp, name, size)
            t = now()
            with self._tx() as db:
                found = db.execute("SELECT id, name, status FROM songs WHERE sha256 = ?", (sha,)).fetchone()
                if found is not None:
                    return {"id": found[0], "name": found[1], "status": found[2], "new": False}
                stored = 0
                if reason is None:
                    dst = self._stored_path(sha, suffix)
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    os.chmod(tmp, 0o644)
                    _move(tmp, dst)  # inside the transaction: a delete of the same content cannot interleave
                    stored = 1
                cur = db.execute(
                    "INSERT INTO songs (sha256, name, suffix, size, stored, added, status, error, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sha, name, suffix, size, stored, t, "queued" if reason is None else "failed", reason, t),
                )
            return {
                "id": int(cur.lastrowid or 0),
                "name": name,
                "status": "queued" if reason is None else "failed",
                "new": True,
            }
        finally:
            tmp.unlink(missing_ok=True)  # gone already when it was moved in

    # ---------------------------------------------------------------------------------------------------- the queue
    def claim(self, n: int = 1) -> list[tuple[int, Path]]:
        """Up to ``n`` queued songs (oldest first) marked ``analysing``, with their stored audio."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT id, sha256, suffix FROM songs WHERE status = 'queued' ORDER BY id LIMIT ?", (int(n),)
            ).fetchall()
            t = now()
            db.executemany("UPDATE songs SET status = 'analysing', updated = ? WHERE id = ?", [(t, r[0]) for r in rows])
        return [(int(r[0]), self._stored_path(r[1], r[2])) for r in rows]

    def mark_analysing(self, ids: list[int]) -> None:
        """Songs analysed by this process right now (``trackscope analyze --workspace``); failed-at-upload rows stay."""
        t = now()
        with self._tx() as db:
            db.executemany(
                "UPDATE songs SET status = 'analysing', updated = ? WHERE id = ? AND stored = 1", [(t, i) for i in ids]
            )

    def requeue(self, ids: list[int]) -> int:
        """Put songs still ``analysing`` back in the queue (work given up: Ctrl-C, a stopped runner)."""
        t = now()
        with self._tx() as db:
            n = 0
            for i in ids:
                n += db.execute(
                    "UPDATE songs SET status = 'queued', updated = ? WHERE id = ? AND status = 'analysing'", (t, i)
                ).rowcount
        return n

    def recover(self) -> int:
        """At start: songs left ``analysing`` by a process that died are queued again; returns how many."""
        with self._tx() as db:
            return db.execute(
                "UPDATE songs SET status = 'queued', updated = ? WHERE status = 'analysing'", (now(),)
            ).rowcount

    def record(
        self,
        song_id: int,
        row: dict[str, Any],
        *,
        mood_model: str,
        popularity_model: str | None = None,
        media: dict[str, Any] | None = None,
    ) -> int | None:
        """Store one song's analysis (a row of :func:`trackscope.tasks.analyze.analyze_song`, with ``hit_potential``
        and ``why`` when present) and its ``media`` (``{"waveform": {...}, "mel_webp": bytes}``), and mark it done,
        in one transaction. The same models again replace that analysis; other models keep theirs. Returns the
        analysis id, or None when the song was deleted meanwhile."""
        unusual = row.get("unusual")
        values = (
            song_id,
            str(mood_model),
            str(popularity_model or ""),
            now(),
            row.get("mood"),
            row.get("mood_words") or row.get("mood"),
            num(row.get("confidence")),
            num(row.get("arousal")),
            num(row.get("valence")),
            num(row.get("novelty")),
            None if unusual is None else int(bool(unusual)),
            num(row.get("tempo")),
            row.get("key"),
            num(row.get("loudness_lufs")),
            num(row.get("hit_potential")),
            dumps(probabilities(row)),
            dumps(row.get("top_tags") or []),
            dumps([window_shape(w) for w in row.get("windows") or []]),
            dumps(row.get("why")),
        )
        with self._tx() as db:
            if db.execute("SELECT 1 FROM songs WHERE id = ?", (song_id,)).fetchone() is None:
                return None
            db.execute(
                "INSERT INTO analyses (song_id, mood_model, popularity_model, created, mood, mood_words, confidence, "
                "arousal, valence, novelty, unusual, tempo, key, loudness_lufs, hit_potential, probabilities, "
                "top_tags, windows, why) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (song_id, mood_model, popularity_model) DO UPDATE SET created = excluded.created, "
                "mood = excluded.mood, mood_words = excluded.mood_words, confidence = excluded.confidence, "
                "arousal = excluded.arousal, valence = excluded.valence, novelty = excluded.novelty, "
                "unusual = excluded.unusual, tempo = excluded.tempo, key = excluded.key, "
                "loudness_lufs = excluded.loudness_lufs, hit_potential = excluded.hit_potential, "
                "probabilities = excluded.probabilities, top_tags = excluded.top_tags, windows = excluded.windows, "
                "why = excluded.why",
                values,
            )
            analysis_id = int(
                db.execute(
                    "SELECT id FROM analyses WHERE song_id = ? AND mood_model = ? AND popularity_model = ?",
                    values[:3],
                ).fetchone()[0]
            )
            if media is not None:
                db.execute(
                    "INSERT OR REPLACE INTO media (song_id, waveform, mel) VALUES (?, ?, ?)",
                    (song_id, dumps(media.get("waveform")), media.get("mel_webp")),
                )
            db.execute(
                "UPDATE songs SET status = 'done', error = NULL, current_analysis = ?, updated = ?, "
                "duration = COALESCE(?, duration) WHERE id = ?",
                (analysis_id, values[3], num(row.get("duration")), song_id),
            )
        return analysis_id

    def fail(self, song_id: int, reason: str) -> None:
        """The song cannot be analysed: status ``failed`` with a one-line reason."""
        with self._tx() as db:
            db.execute(
                "UPDATE songs SET status = 'failed', error = ?, updated = ? WHERE id = ?",
                (one_line(reason), now(), song_id),
            )

    # ------------------------------------------------------------------------------------------------------ reading
    def _where(
        self, status: str | None, mood: str | None, search: str | None, unusual: bool | None
    ) -> tuple[str, list[Any]]:
        clauses, args = [], []
        if status:
            if status not in STATUSES:
                raise TrackscopeError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
            clauses.append("s.status = ?")
            args.append(status)
        if mood:
            clauses.append("(a.mood_words = ? COLLATE NOCASE OR a.mood = ? COLLATE NOCASE)")
            args += [mood, mood]
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append("(s.name LIKE ? ESCAPE '\\' OR a.mood_words LIKE ? ESCAPE '\\')")
            args += [pattern, pattern]
        if unusual is not None:
            clauses.append("a.unusual = ?" if unusual else "(a.unusual = 0 OR a.unusual IS NULL)")
            if unusual:
                args.append(1)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def list_songs(
        self,
        *,
        status: str | None = None,
        mood: str | None = None,
        search: str | None = None,
        unusual: bool | None = None,
        sort: str = "added",
        descending: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Songs in the API shape, filtered, sorted (missing values last either way) and paged."""
        if sort not in SORTS:
            raise TrackscopeError(f"sort must be one of {', '.join(sorted(SORTS))}, got {sort!r}")
        where, args = self._where(status, mood, search, unusual)
        direction = "DESC" if descending else "ASC"
        col = SORTS[sort]
        nulls_last = "" if sort in NOT_NULL_SORTS else f"({col}) IS NULL, "
        sql = f"SELECT {LIST_COLUMNS} {LIST_FROM}{where} ORDER BY {nulls_last}{col} {direction}, s.id {direction}"
        sql += " LIMIT ? OFFSET ?"
        args += [-1 if limit is None else max(int(limit), 0), max(int(offset), 0)]
        return [song_shape(r) for r in self._query(sql, args)]

    def count_songs(
        self,
        *,
        status: str | None = None,
        mood: str | None = None,
        search: str | None = None,
        unusual: bool | None = None,
        **_: Any,
    ) -> int:
        where, args = self._where(status, mood, search, unusual)
        return int(self._query(f"SELECT COUNT(*) {LIST_FROM}{where}", args)[0][0])

    def counts(self) -> dict[str, int]:
        """How many songs have each status."""
        found = dict(self._query("SELECT status, COUNT(*) FROM songs GROUP BY status"))
        return {s: int(found.get(s, 0)) for s in STATUSES}

    def get_song(self, song_id: int) -> dict[str, Any] | None:
        """One song in the API shape plus its ``windows``, ``tags``, ``waveform``, ``why``, models and every
        ``analyses`` of it (newest first)."""
        rows = self._query(
            f"SELECT {LIST_COLUMNS}, a.windows, a.top_tags, a.why {LIST_FROM} WHERE s.id = ?", (song_id,)
        )
        if not rows:
            return None
        r = rows[0]
        song = song_shape(r[:-3])
        song["windows"] = loads(r[-3]) or []
        song["tags"] = loads(r[-2]) or []
        song["why"] = loads(r[-1])
        wave = self._query("SELECT waveform FROM media WHERE song_id = ?", (song_id,))
        song["waveform"] = loads(wave[0][0]) if wave else None
        song["analyses"] = [
            {
                "mood_model": m,
                "popularity_model": p or None,
                "created": c,
                "mood": w,
                "quadrant": quadrant_of(q),
                "confidence": conf,
                "hit_potential": hit,
                "current": aid == cur,
            }
            for aid, m, p, c, w, q, conf, hit, cur in self._query(
                "SELECT a.id, a.mood_model, a.popularity_model, a.created, a.mood_words, a.mood, a.confidence, "
                "a.hit_potential, s.current_analysis FROM analyses a JOIN songs s ON s.id = a.song_id "
                "WHERE a.song_id = ? ORDER BY a.created DESC, a.id DESC",
                (song_id,),
            )
        ]
        return song

    def audio_path(self, song_id: int) -> Path | None:
        """The stored audio of a song (None when it has none, e.g. a failed upload)."""
        rows = self._query("SELECT sha256, suffix, stored FROM songs WHERE id = ?", (song_id,))
        if not rows or not rows[0][2]:
            return None
        p = self._stored_path(rows[0][0], rows[0][1])
        return p if p.is_file() else None

    def mel_image(self, song_id: int) -> bytes | None:
        """The WebP image of the whole song's mel spectrogram (None until analysed)."""
        rows = self._query("SELECT mel FROM media WHERE song_id = ?", (song_id,))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else None

    def delete_song(self, song_id: int) -> bool:
        """Remove a song, its analyses and media and its stored audio (a file the workspace wrote). False if absent."""
        with self._tx() as db:
            found = db.execute("SELECT sha256, suffix, stored FROM songs WHERE id = ?", (song_id,)).fetchone()
            if found is None:
                return False
            db.execute("DELETE FROM songs WHERE id = ?", (song_id,))
            if found[2] and found[0]:
                # inside the transaction: an upload of the same content waits, then stores it afresh
                self._stored_path(found[0], found[1]).unlink(missing_ok=True)
        return True

    # ------------------------------------------------------------------------------------------------------- export
    def export_rows(self) -> list[dict[str, Any]]:
        """Every song with its shown analysis as flat rows (one column per class probability, tags as text)."""
        rows = self._query(f"SELECT {LIST_COLUMNS}, a.top_tags {LIST_FROM} ORDER BY s.id")
        classes: list[str] = []
        for r in rows:
            for c in loads(r[19]) or {}:
                if c not in classes:
                    classes.append(c)
        out = []
        for r in rows:
            song = song_shape(r[:-1])
            probs = song["probabilities"] or {}
            tags = loads(r[-1]) or []
            out.append(
                {
                    **{k: song[k] for k in EXPORT_COLUMNS},
                    **{f"p_{c}": probs.get(c) for c in classes},
                    "top_tags": "; ".join(t["tag"] for t in tags) or None,
                }
            )
        return out

    def export_csv(self, out_path: str | os.PathLike) -> Path:
        """:meth:`export_rows` as a CSV file, written atomically."""
        import csv
        import io

        from trackscope._atomic import output_file, write_text

        rows = self.export_rows()
        buf = io.StringIO()
        fields = list(rows[0]) if rows else [*EXPORT_COLUMNS, "top_tags"]
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path = output_file(out_path)
        write_text(path, buf.getvalue())
        return path


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` to ``dst`` atomically; from another file system, copy beside ``dst`` first, then rename."""
    try:
        os.replace(src, dst)
    except OSError as err:
        if err.errno != errno.EXDEV:
            raise
        import shutil

        tmp = dst.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}{dst.suffix}")
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        finally:
            tmp.unlink(missing_ok=True)
        src.unlink(missing_ok=True)
