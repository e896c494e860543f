"""What the workspace database holds and how its rows read back: the schema as forward migrations, the sort keys,
and the song shape the API and the studio use (mood in words, quadrant, spelt keys). Standard library only."""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime
from typing import Any

from trackscope._format import spell_key
from trackscope.constants import QUADRANT_WORDS

DB_NAME = "trackscope.sqlite"
TMP_PREFIX = ".tmp-"  # every temporary file the workspace makes starts with this (and only those are swept)
STATUSES = ("queued", "analysing", "done", "failed")
MAX_ERROR = 300  # characters of a one-line reason kept

# Forward migrations: MIGRATIONS[i] takes a database from version i to i + 1. Never edit a released one; append.
MIGRATIONS: list[list[str]] = [
    [  # 1: songs and analyses
        """CREATE TABLE songs (
            id INTEGER PRIMARY KEY,
            sha256 TEXT UNIQUE,
            name TEXT NOT NULL,
            suffix TEXT NOT NULL DEFAULT '',
            size INTEGER,
            duration REAL,
            stored INTEGER NOT NULL DEFAULT 0,
            added TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('queued', 'analysing', 'done', 'failed')),
            error TEXT,
            updated TEXT NOT NULL)""",
        """CREATE TABLE analyses (
            id INTEGER PRIMARY KEY,
            song_id INTEGER NOT NULL REFERENCES songs(id) ON DELETE CASCADE,
            mood_model TEXT NOT NULL,
            popularity_model TEXT NOT NULL DEFAULT '',
            created TEXT NOT NULL,
            mood TEXT,
            mood_words TEXT,
            confidence REAL,
            arousal REAL,
            valence REAL,
            novelty REAL,
            unusual INTEGER,
            tempo REAL,
            key TEXT,
            loudness_lufs REAL,
            hit_potential REAL,
            probabilities TEXT,
            top_tags TEXT,
            windows TEXT,
            why TEXT,
            UNIQUE (song_id, mood_model, popularity_model))""",
    ],
    [  # 2: the shown analysis kept on the song (listing is one join), media, indices for paging 1000s of songs
        "ALTER TABLE songs ADD COLUMN current_analysis INTEGER",
        """UPDATE songs SET current_analysis =
            (SELECT a.id FROM analyses a WHERE a.song_id = songs.id ORDER BY a.created DESC, a.id DESC LIMIT 1)""",
        """CREATE TABLE media (
            song_id INTEGER PRIMARY KEY REFERENCES songs(id) ON DELETE CASCADE,
            waveform TEXT,
            mel BLOB)""",
        "CREATE INDEX songs_status ON songs(status)",
        "CREATE INDEX songs_added ON songs(added)",
        "CREATE INDEX analyses_song_created ON analyses(song_id, created)",
    ],
]
SCHEMA_VERSION = len(MIGRATIONS)

# Sort keys people may ask for → SQL expressions (never user text in SQL).
SORTS = {
    "added": "s.added",
    "id": "s.id",
    "name": "s.name COLLATE NOCASE",
    "status": "s.status",
    "size": "s.size",
    "duration": "s.duration",
    "mood": "a.mood_words",
    "quadrant": "a.mood",
    "confidence": "a.confidence",
    "arousal": "a.arousal",
    "valence": "a.valence",
    "novelty": "a.novelty",
    "unusual": "a.unusual",
    "tempo": "a.tempo",
    "key": "a.key",
    "loudness": "a.loudness_lufs",
    "loudness_lufs": "a.loudness_lufs",
    "hit_potential": "a.hit_potential",
}
# Sort keys whose column is NOT NULL: sorted without the "missing values last" term, so that SQLite can walk an index
# (songs_added for the default listing) and stop at the page's LIMIT instead of sorting every song.
NOT_NULL_SORTS = frozenset({"added", "id", "name", "status"})
LIST_COLUMNS = (
    "s.id, s.name, s.status, s.error, s.duration, s.added, s.size, s.sha256, a.mood, a.mood_words, a.confidence, "
    "a.arousal, a.valence, a.novelty, a.unusual, a.tempo, a.key, a.loudness_lufs, a.hit_potential, a.probabilities, "
    "a.mood_model, a.popularity_model, a.created"
)
LIST_FROM = "FROM songs s LEFT JOIN analyses a ON a.id = s.current_analysis"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def one_line(reason: Any) -> str:
    text = " ".join(str(reason).split()) or "failed"
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def num(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None if v is None else float(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str | int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    return str(obj)


def dumps(obj: Any) -> str | None:
    return None if obj is None else json.dumps(_jsonable(obj), separators=(",", ":"), allow_nan=False)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def quadrant_of(mood: str | None) -> str | None:
    return mood if mood in QUADRANT_WORDS else None


def probabilities(row: dict[str, Any]) -> dict[str, float | None]:
    return {k[2:]: num(v) for k, v in row.items() if k.startswith("p_")}


def window_shape(w: dict[str, Any]) -> dict[str, Any]:
    unusual = w.get("unusual")
    return {
        "start": num(w.get("start")),
        "duration": num(w.get("duration")),
        "mood": w.get("mood_words") or w.get("mood"),
        "quadrant": quadrant_of(w.get("mood")),
        "confidence": num(w.get("confidence")),
        "probabilities": probabilities(w),
        "arousal": num(w.get("arousal")),
        "valence": num(w.get("valence")),
        "novelty": num(w.get("novelty")),
        "unusual": None if unusual is None else bool(unusual),
    }


EXPORT_COLUMNS = (
    "id", "name", "sha256", "size", "duration", "added", "status", "error", "mood", "quadrant", "confidence",
    "arousal", "valence", "novelty", "unusual", "tempo", "key", "loudness_lufs", "hit_potential", "mood_model",
    "popularity_model", "analysed",
)  # fmt: skip


def display_name(name: str) -> str:
    """The last part of a client's file name, on one line (shown only; never a path)."""
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return " ".join(base.split())[:255] or "unnamed"


@functools.lru_cache(maxsize=256)
def _spelt(key: str) -> str:
    return spell_key(key)


def song_shape(r: tuple[Any, ...]) -> dict[str, Any]:
    (sid, name, status, error, duration, added, size, sha, mood, words, conf, arousal, valence, novelty, unusual,
     tempo, key, lufs, hit, probs, mood_model, pop_model, created) = r  # fmt: skip
    return {
        "id": sid,
        "name": name,
        "status": status,
        "error": error,
        "mood": words,
        "quadrant": quadrant_of(mood),
        "confidence": conf,
        "probabilities": loads(probs),
        "arousal": arousal,
        "valence": valence,
        "novelty": novelty,
        "unusual": None if unusual is None else bool(unusual),
        "tempo": tempo,
        "key": _spelt(key) if key else None,
        "loudness_lufs": lufs,
        "duration": duration,
        "hit_potential": hit,
        "added": added,
        "size": size,
        "sha256": sha,
        "mood_model": mood_model,
        "popularity_model": pop_model or None,
        "analysed": created,
    }
