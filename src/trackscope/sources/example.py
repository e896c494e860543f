"""A synthetic Spotify-feature table with a planted mood structure, for the demo and for tests.

It is **made up**: each mood has a typical profile (e.g. Aggressive = loud, fast, high energy, low valence) and tracks
are drawn around it with noise, within the value ranges of Spotify's audio features. It lets ``trackscope demo`` run
offline with no data of the user's, and lets tests check that the workflow learns a structure known to be there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackscope.constants import MOODS, SPOTIFY_FEATURES

# Per-mood centres: energy, liveness, tempo, speechiness, acousticness, instrumentalness, danceability,
# duration_ms, loudness, valence (the order of SPOTIFY_FEATURES). Plausible values, not measured ones.
PROFILES: dict[str, tuple[float, ...]] = {
    "Energetic": (0.80, 0.20, 128.0, 0.07, 0.10, 0.10, 0.66, 215_000, -5.5, 0.60),
    "Relaxing": (0.30, 0.12, 100.0, 0.04, 0.72, 0.45, 0.50, 245_000, -12.5, 0.40),
    "Dark": (0.45, 0.13, 110.0, 0.05, 0.30, 0.55, 0.40, 270_000, -9.0, 0.15),
    "Aggressive": (0.92, 0.25, 142.0, 0.12, 0.03, 0.20, 0.45, 230_000, -4.0, 0.30),
    "Happy": (0.65, 0.15, 118.0, 0.06, 0.25, 0.03, 0.72, 205_000, -6.5, 0.82),
}
# Spread of each feature around the centre at separation 1 (same order).
SPREAD: tuple[float, ...] = (0.08, 0.08, 12.0, 0.03, 0.12, 0.15, 0.08, 35_000, 1.5, 0.10)
# Valid range of each feature (Spotify's documented ranges; tempo and duration kept plausible).
RANGES: tuple[tuple[float, float], ...] = (
    (0.0, 1.0),
    (0.0, 1.0),
    (50.0, 220.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (0.0, 1.0),
    (60_000, 600_000),
    (-40.0, 0.0),
    (0.0, 1.0),
)


def example_table(n: int = 400, *, seed: int = 0, noise: float = 1.0, moods: tuple[str, ...] = MOODS) -> Any:
    """A pandas DataFrame of ``n`` made-up tracks: ``id``, ``name``, ``artist``, the 10 features, ``mood``.

    Parameters
    ----------
    n : int
        Rows (spread evenly over ``moods``).
    seed : int
        Random seed; the same seed gives the same table.
    noise : float
        Multiplies the per-feature spread: 1 is well separated (a good model scores > 0.9), 3 overlaps heavily.
    moods : tuple of str
        Which moods (keys of :data:`PROFILES`).
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    labels = np.array([moods[i % len(moods)] for i in range(n)])
    rng.shuffle(labels)
    centre = np.array([PROFILES[m] for m in labels], dtype=float)
    x = centre + rng.normal(size=centre.shape) * np.array(SPREAD) * noise
    lo, hi = np.array(RANGES).T
    x = np.clip(x, lo, hi)
    frame = pd.DataFrame(x, columns=list(SPOTIFY_FEATURES))
    frame["duration_ms"] = frame["duration_ms"].round().astype(int)
    frame["tempo"] = frame["tempo"].round(3)
    for col in ("energy", "liveness", "speechiness", "acousticness", "instrumentalness", "danceability", "valence"):
        frame[col] = frame[col].round(4)
    frame["loudness"] = frame["loudness"].round(3)
    alphabet = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
    ids = ["".join(rng.choice(alphabet, 22)) for _ in range(n)]
    frame.insert(0, "id", ids)
    frame.insert(1, "name", [f"Example track {i + 1}" for i in range(n)])
    frame.insert(2, "artist", [f"Example artist {rng.integers(1, max(2, n // 4))}" for _ in range(n)])
    frame["mood"] = labels
    return frame


def write_example_table(path: str | Path, n: int = 400, *, seed: int = 0, noise: float = 1.0) -> Path:
    """Write :func:`example_table` as CSV (or Parquet by suffix), atomically; returns the path."""
    from trackscope._atomic import atomic_path

    path = Path(path)
    frame = example_table(n, seed=seed, noise=noise)
    with atomic_path(path) as tmp:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return path
