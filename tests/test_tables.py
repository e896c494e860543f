"""Reading Spotify-feature tables: aliases, dedupe, missing values and every error message."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from trackscope.constants import SPOTIFY_FEATURES
from trackscope.errors import TableError
from trackscope.sources.example import example_table
from trackscope.sources.tables import normalize_id, read_table

FEATURES = list(SPOTIFY_FEATURES)


def write(tmp_path, frame, name="t.csv", **kw):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, **{"index": False, **kw})
    return path


def test_reads_clean_table_with_hash(mood_csv):
    t = read_table(mood_csv).require(FEATURES, "mood")
    assert len(t) == 150 and t.features == tuple(FEATURES) and t.label == "mood"
    assert t.sha256 == hashlib.sha256(mood_csv.read_bytes()).hexdigest()
    assert t.X().shape == (150, 10) and t.X().dtype == float
    assert set(t.y()) == {"Energetic", "Relaxing", "Dark", "Aggressive", "Happy"}
    assert t.stats["rows_read"] == 150 and t.stats["duplicates_dropped"] == 0 and t.stats["missing_dropped"] == 0


def test_aliases_case_and_unnamed_index(tmp_path):
    frame = example_table(20, seed=0).rename(
        columns={
            "duration_ms": "length",
            "id": "Track_ID",
            "energy": "Energy",
            "name": "track_name",
            "artist": "track_artist",
        }
    )
    frame["track_popularity"] = np.arange(20)
    frame["track_album_release_date"] = "2020-01-01"
    frame["Track_ID"] = "spotify:track:" + frame["Track_ID"]
    path = write(tmp_path, frame, index=True)  # pandas writes the index as an unnamed first column
    t = read_table(path)
    for col in ("duration_ms", "id", "energy", "name", "artist", "popularity", "release_date"):
        assert col in t.frame.columns
    assert not any(c.startswith("unnamed") for c in t.frame.columns)
    assert t.stats["index_columns_dropped"] == ["Unnamed: 0"]
    assert not t.frame["id"].str.startswith("spotify:").any()
    # Requested names are matched the same way: case-insensitively and through aliases.
    t2 = t.require(["ENERGY", "length"], label="MOOD")
    assert t2.features == ("energy", "duration_ms") and t2.label == "mood"
    # uri is an alias of id too.
    t3 = read_table(write(tmp_path, frame.rename(columns={"Track_ID": "uri"}), "u.csv"))
    assert "id" in t3.frame.columns


def test_normalize_id():
    assert normalize_id("spotify:track:abc") == "abc"
    assert normalize_id("https://open.spotify.com/track/abc?si=x") == "abc"
    assert normalize_id(5) == 5


def test_parquet_and_semicolon(tmp_path):
    frame = example_table(30, seed=2)
    assert len(read_table(write(tmp_path, frame, "t.parquet")).require(FEATURES, "mood")) == 30
    assert len(read_table(write(tmp_path, frame, "s.csv", sep=";")).require(FEATURES, "mood")) == 30


def test_duplicate_ids_dropped_and_counted(tmp_path):
    frame = example_table(30, seed=3)
    frame = pd.concat([frame, frame.iloc[:4]], ignore_index=True)
    path = write(tmp_path, frame)
    t = read_table(path)
    assert t.stats["duplicates_dropped"] == 4 and len(t) == 30
    kept = read_table(path, dedupe=None)
    assert kept.stats["duplicates_dropped"] == 0 and len(kept) == 34


def test_missing_values_dropped_and_counted(tmp_path):
    frame = example_table(30, seed=4)
    frame.loc[3, "energy"] = np.nan
    frame.loc[5, "valence"] = np.nan
    frame.loc[7, "mood"] = None
    frame.loc[9, "popularity_unused"] = 1.0  # missing values in columns nobody needs do not drop rows
    t = read_table(write(tmp_path, frame)).require(FEATURES, "mood")
    assert t.stats["missing_dropped"] == 3 and len(t) == 27


def test_missing_feature_columns_are_named(tmp_path):
    path = write(tmp_path, example_table(20, seed=0).drop(columns=["tempo", "valence"]))
    with pytest.raises(TableError, match=r"missing feature columns 'tempo', 'valence'") as err:
        read_table(path).require(FEATURES, "mood")
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def test_non_numeric_value_names_row_and_column(tmp_path):
    frame = example_table(20, seed=0)
    frame["tempo"] = frame["tempo"].astype(object)
    frame.loc[4, "tempo"] = "fast"
    path = write(tmp_path, frame)
    with pytest.raises(TableError, match=r"non-numeric value 'fast' in column 'tempo' at row 4 \(line 6 of the file\)"):
        read_table(path).require(FEATURES, "mood")


def test_empty_tables(tmp_path):
    header_only = write(tmp_path, example_table(5, seed=0).iloc[:0])
    with pytest.raises(TableError, match="table is empty"):
        read_table(header_only)
    blank = tmp_path / "blank.csv"
    blank.write_text("")
    with pytest.raises(TableError, match="table is empty"):
        read_table(blank)
    frame = example_table(5, seed=0)
    frame["energy"] = np.nan
    with pytest.raises(TableError, match="no usable rows after dropping 5 rows with missing values"):
        read_table(write(tmp_path, frame, "nan.csv")).require(FEATURES, "mood")


def test_unknown_label_column(mood_csv):
    with pytest.raises(TableError, match=r"unknown label column 'genre' \(columns: .*mood"):
        read_table(mood_csv).require(FEATURES, "genre")


def test_class_with_too_few_rows(tmp_path):
    frame = example_table(30, seed=0)
    frame.loc[0, "mood"] = "Lonely"
    with pytest.raises(TableError, match=r"class 'Lonely' \(1 row\) in column 'mood': each class needs at least 2"):
        read_table(write(tmp_path, frame)).require(FEATURES, "mood")
    frame["mood"] = "Happy"
    with pytest.raises(TableError, match="single class"):
        read_table(write(tmp_path, frame, "one.csv")).require(FEATURES, "mood")


def test_file_errors(tmp_path):
    with pytest.raises(TableError, match="no such file"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    with pytest.raises(TableError, match="unsupported table format '.xlsx'"):
        read_table(tmp_path / "x.xlsx")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(TableError, match="cannot read the table"):
        read_table(tmp_path / "bad.parquet")
