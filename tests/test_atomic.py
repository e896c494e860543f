"""Atomic writes and the clip-feature cache."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from trackscope._atomic import atomic_path, default_mode, write_frame, write_text
from trackscope._hash import config_hash
from trackscope.features.cache import ClipCache


def test_atomic_write_has_usual_permissions_and_replaces(tmp_path):
    target = tmp_path / "a" / "out.txt"
    write_text(target, "one")
    write_text(target, "two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(os.stat(target).st_mode) == default_mode()
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_failed_write_leaves_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.csv"
    write_frame(pd.DataFrame({"a": [1]}), target)
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash")
    assert pd.read_csv(target)["a"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_write_frame_by_suffix(tmp_path):
    frame = pd.DataFrame({"x": [1.5, 2.5], "y": ["a", "b"]})
    for name in ("f.csv", "f.parquet", "f.json"):
        write_frame(frame, tmp_path / name)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.parquet"), frame)
    assert pd.read_csv(tmp_path / "f.csv")["y"].tolist() == ["a", "b"]
    assert pd.read_json(tmp_path / "f.json")["x"].tolist() == [1.5, 2.5]


def test_clip_cache_round_trip_and_damaged_entry(tmp_path):
    cache = ClipCache(tmp_path)
    key = "ab" * 32 + "-" + config_hash({"v": 1})
    assert cache.get(key) is None
    cache.put(key, {"vector": np.arange(3, dtype=np.float32), "names": np.array(["a", "b", "c"])})
    hit = cache.get(key)
    np.testing.assert_array_equal(hit["vector"], [0, 1, 2])
    assert hit["names"].tolist() == ["a", "b", "c"]
    cache._path(key).write_bytes(b"garbage")  # a damaged entry is dropped and recomputed, never trusted
    assert cache.get(key) is None and not cache._path(key).exists()
    assert config_hash({"a": 1, "b": 2}) == config_hash({"b": 2, "a": 1}) != config_hash({"a": 1, "b": 3})
