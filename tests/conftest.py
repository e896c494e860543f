"""Shared fixtures: small synthetic tables (never real data)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="module")
def ref_patches():
    """musicnn input patches of the short generated reference clips (tests/data/musicnn_ref/clips.npz), by clip."""
    from pathlib import Path

    import numpy as np

    with np.load(Path(__file__).parent / "data" / "musicnn_ref" / "clips.npz") as z:
        return {k.removeprefix("patches_"): z[k] for k in z.files if k.startswith("patches_")}


@pytest.fixture
def mood_frame():
    """A made-up Spotify-feature table: 150 rows, 5 moods, clearly separated (see trackscope.sources.example)."""
    from trackscope.sources.example import example_table

    return example_table(150, seed=1)


@pytest.fixture
def mood_csv(tmp_path, mood_frame):
    """``mood_frame`` written to a CSV file; returns its path."""
    path = tmp_path / "moods.csv"
    mood_frame.to_csv(path, index=False)
    return path
