"""Values as people read them in the CLI's tables, the studio and the report: songs in natural order, durations as
m:ss, keys spelt as musicians spell them (with the Camelot code), numbers rounded. For display only: ``--json`` and
the files written keep every value as computed. Standard library only (the CLI imports this at start-up)."""

from __future__ import annotations

import math
import re
from typing import Any

# Flats for the keys written with flats (F, B♭, E♭, A♭, D♭, G♭ major; D, G, C, F, B♭, E♭ minor), sharps otherwise.
MAJOR_SPELLING = ("C", "D♭", "D", "E♭", "E", "F", "G♭", "G", "A♭", "A", "B♭", "B")
MINOR_SPELLING = ("C", "C♯", "D", "E♭", "E", "F", "F♯", "G", "G♯", "A", "B♭", "B")
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*([#♯b♭]?)\s*(major|minor|maj|min|m)?\s*$", re.IGNORECASE)
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: Any) -> tuple[Any, ...]:
    """Sort key that orders numbers inside names by value: ``track2`` before ``track10`` (case ignored)."""
    s = str(text)
    parts = _DIGITS.split(s.casefold())
    # re.split with one group alternates text (even places) and digits (odd places): the types line up
    return (tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), s)


def camelot(pitch_class: int, minor: bool) -> str:
    """The Camelot wheel code of a key: C major = 8B, A minor = 8A, one step clockwise per fifth up."""
    pc = int(pitch_class) % 12
    number = (5 + 7 * pc) % 12 if minor else (8 + 7 * pc) % 12
    return f"{number or 12}{'A' if minor else 'B'}"


def spell_pitch_class(pitch_class: int, minor: bool) -> str:
    """``"B♭ major (6B)"`` for pitch class 10 major, ``"C♯ minor (12A)"`` for 1 minor."""
    pc = int(pitch_class) % 12
    tonic = (MINOR_SPELLING if minor else MAJOR_SPELLING)[pc]
    return f"{tonic} {'minor' if minor else 'major'} ({camelot(pc, minor)})"


def spell_key(key: Any, mode: Any = None) -> str:
    """A key as musicians write it, with its Camelot code: ``"A# major"`` → ``"B♭ major (6B)"``.

    ``key`` is a name (``"A# major"``, ``"Bb minor"``, ``"F#m"``) or a pitch class 0–11 with ``mode`` (1 major,
    0 minor, Spotify's convention). Missing values give ``"–"``; anything else unrecognised is shown unchanged.
    """
    if key is None or (isinstance(key, float) and math.isnan(key)):
        return "–"
    if isinstance(key, int | float) and not isinstance(key, bool):
        if mode is None or (isinstance(mode, float) and math.isnan(mode)) or not 0 <= key < 12 or key != int(key):
            return "–" if key == -1 else str(key)  # -1: no key detected
        return spell_pitch_class(int(key), minor=int(mode) == 0)
    match = _KEY_RE.match(str(key))
    if not match:
        return str(key)
    letter, accidental, quality = match.groups()
    pc = _LETTER_PC[letter.upper()] + _ACCIDENTAL[accidental]
    minor = quality is not None and quality.lower() in ("minor", "min", "m")
    return spell_pitch_class(pc, minor)


def format_duration(seconds: Any) -> str:
    """Seconds as ``m:ss`` (``h:mm:ss`` from an hour on), rounded to the second; missing values as ``"–"``."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        return "–"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def number_decimals(values: Any) -> int:
    """Decimals that show a column of numbers to people: none for whole numbers or from 100 up, 1 from 10 up,
    2 from 2 up, 3 below (probabilities and scores up to 1.000) — one choice per column, so the points line up."""
    finite = [abs(v) for v in values if _is_number(v) and math.isfinite(v)]
    if not finite or all(float(v).is_integer() for v in finite):
        return 0
    largest = max(finite)
    return 0 if largest >= 100 else 1 if largest >= 10 else 2 if largest >= 2 else 3


def format_number(value: Any, decimals: int | None = None) -> str:
    """A number rounded for reading (``decimals`` as :func:`number_decimals` chooses for the value alone unless
    given): 128.4 → 128, -25.32 → -25.3, 3.14159 → 3.14, 0.8243 → 0.824; missing values as ``"–"``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if not _is_number(value) or not math.isfinite(value):
        return str(value)
    if decimals is None:
        decimals = number_decimals([value])
    return f"{value:.{decimals}f}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# Display rules for known columns of predict/explain/evaluate tables (by name); other numbers use format_number.
DURATION_SECONDS_COLUMNS = frozenset({"duration", "duration_s", "length", "seconds"})
DURATION_MS_COLUMNS = frozenset({"duration_ms"})
WHOLE_NUMBER_COLUMNS = frozenset({"tempo", "bpm"})
ONE_DECIMAL_COLUMNS = frozenset({"loudness", "loudness_lufs", "lufs"})


def format_column(column: str, values: list[Any], modes: list[Any] | None = None) -> list[str]:
    """One table column's cells, by the column's meaning: durations as m:ss, keys spelt (``modes``: Spotify's
    ``mode`` column beside a numeric ``key``), tempo whole, loudness to 0.1, other numbers rounded alike
    (:func:`number_decimals`); missing values as ``"–"``, text unchanged."""
    name = column.lower()
    if name == "key":
        return [spell_key(v, None if modes is None else modes[i]) for i, v in enumerate(values)]
    if name in DURATION_SECONDS_COLUMNS | DURATION_MS_COLUMNS:
        scale = 1000 if name in DURATION_MS_COLUMNS else 1
        return [format_duration(v / scale) if _is_number(v) else format_number(v) for v in values]
    if name in WHOLE_NUMBER_COLUMNS:
        decimals = 0
    elif name in ONE_DECIMAL_COLUMNS:
        decimals = 1
    else:
        decimals = number_decimals(values)
    return [format_number(v, decimals) if _is_number(v) else format_number(v) for v in values]
