"""Popularity from tables: dedupe, splits, the threshold rule, a planted signal, round trips and errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trackscope import api
from trackscope.constants import SPOTIFY_FEATURES
from trackscope.errors import ModelError, TableError
from trackscope.features import metadata
from trackscope.models import splits as pdata


def make_table(n=600, seed=0, planted=True):
    """A Spotify-like table; popularity rises with energy and recent release years when ``planted``."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.random(n) for f in SPOTIFY_FEATURES})
    frame["tempo"] = 60 + 120 * frame["tempo"]
    frame["duration_ms"] = (120_000 + 120_000 * frame["duration_ms"]).round()
    frame["loudness"] = -30 + 30 * frame["loudness"]
    year = rng.integers(1990, 2021, n)
    formats = rng.integers(0, 3, n)
    frame["track_album_release_date"] = [
        f"{y}" if k == 0 else f"{y}-{rng.integers(1, 13):02d}" if k == 1 else f"{y}-{rng.integers(1, 13):02d}-15"
        for y, k in zip(year, formats, strict=True)
    ]
    frame["explicit"] = rng.random(n) < 0.3
    signal = 2.5 * frame["energy"] + (year - 1990) / 12 if planted else rng.random(n)
    popular = signal + rng.normal(0, 0.4, n) > np.median(signal)
    frame["track_popularity"] = np.where(popular, rng.integers(55, 90, n), rng.integers(5, 35, n))
    frame.insert(0, "track_id", [f"id{i:06d}" for i in range(n)])
    frame.insert(1, "track_name", [f"song {i}" for i in range(n)])
    frame.insert(2, "track_artist", [f"artist {i % (n // 4)}" for i in range(n)])
    return frame


def test_dedupe_counts_same_name_duration_popularity_then_id():
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "a", "d"],
            "name": ["Song", "song ", "Other", "x", "Song"],
            "duration_ms": [1000, 1000, 2000, 5, 1000],
            "popularity": [50, 50, 10, 3, 51],
        }
    )
    kept, counts = pdata.dedupe(frame)
    assert counts == {"rows_read": 5, "same_name_duration_popularity": 1, "same_id": 1, "rows": 3}
    assert kept["id"].tolist() == ["a", "c", "d"]


def test_splits_are_75_15_10_and_groups_never_shared():
    s = pdata.split_indices(1000, seed=1)
    assert [len(s[k]) for k in pdata.SPLITS] == [750, 150, 100]
    assert len(np.unique(np.concatenate(list(s.values())))) == 1000
    assert np.array_equal(pdata.split_indices(1000, seed=1)["test"], s["test"])
    groups = np.array([f"artist{i % 97}" for i in range(1000)])
    g = pdata.split_indices(1000, seed=2, groups=groups)
    sets = {k: set(groups[v]) for k, v in g.items()}
    assert (
        not sets["train"] & sets["test"] and not sets["train"] & sets["holdout"] and not sets["test"] & sets["holdout"]
    )
    assert sum(len(v) for v in g.values()) == 1000
    assert 0.65 < len(g["train"]) / 1000 < 0.85 and len(g["holdout"]) > 0


def test_threshold_rule_on_known_histograms():
    rng = np.random.default_rng(0)
    # Two modes (around 10 and 60) with an empty gap: the cut is the centre of the deepest trough bin.
    two = np.concatenate([rng.normal(10, 3, 500), rng.normal(60, 5, 700)])
    cut, info = pdata.auto_threshold(two)
    assert info["rule"] == "trough" and 20 < cut < 50
    assert np.sum(two < cut) == 500
    # One mode: the median.
    one = rng.normal(50, 10, 1000)
    cut, info = pdata.auto_threshold(one)
    assert info["rule"] == "median" and cut == pytest.approx(np.median(one))
    # Exact bins: 0..99 in 20 bins of 4.95; counts 50 in bins 0-3, 1 in bins 8-9, 50 in bins 15-19. Smoothed,
    # bins 5, 6, 11, 12 tie at 0; the modes are bins 0 and 19, so the tie nearest 9.5 (bin 11) is the cut.
    values = np.concatenate(
        [np.repeat([1.0, 6.0, 11.0, 16.0], 50), [42.0, 46.0], np.repeat([76.0, 81, 86, 91, 96], 50), [0, 99]]
    )
    cut, info = pdata.auto_threshold(values)
    assert info["rule"] == "trough"
    assert cut == pytest.approx((info["edges"][11] + info["edges"][12]) / 2)
    assert info["modes"] == pytest.approx([info["edges"][0] + 4.95 / 2, info["edges"][19] + 4.95 / 2])
    # A spike of dead tracks at 0 (12 %) beside one broad mode: the trough would leave too few on one side → median.
    spike = np.concatenate([np.zeros(120), rng.normal(50, 12, 880).clip(1, 100)])
    cut, info = pdata.auto_threshold(spike)
    assert info["rule"] == "median" and cut == np.median(spike) and info["rejected_troughs"][0]["popular_share"] > 0.85
    assert pdata.resolve_threshold("39", values)[0] == 39.0
    with pytest.raises(ValueError, match="auto"):
        pdata.resolve_threshold("high", values)


def test_release_dates_of_mixed_precision():
    year, month = metadata.parse_release_date(["2019", "2019-12", "2019-12-06", "nope", 2004.0, None])
    np.testing.assert_array_equal(year, [2019, 2019, 2019, np.nan, 2004, np.nan])
    np.testing.assert_array_equal(month, [np.nan, 12, 12, np.nan, np.nan, np.nan])
    frame = pd.DataFrame({"release_date": ["2019", "2019-12", "2019-12-06", "nope"]})
    meta = metadata.metadata_features(frame)
    np.testing.assert_array_equal(meta["release_date_precision"], [1, 2, 3, np.nan])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pop")
    path = tmp / "tracks.csv"
    make_table().to_csv(path, index=False)
    out = tmp / "model"
    metrics = api.train_popularity(data=path, group_column="artist", out=out, seed=0)
    return path, out, metrics


def test_table_path_learns_planted_signal(trained):
    path, out, metrics = trained
    assert set(metrics["models"]) == {"dummy", "logreg", "gbm", "rf", "mlp"}
    assert metrics["models"]["dummy"]["holdout_roc_auc"] == 0.5  # constant scores: all ties, AUC exactly 1/2
    chosen = metrics["chosen_model"]
    assert chosen != "dummy" and metrics["models"][chosen]["holdout_roc_auc"] > 0.8
    assert metrics["data"]["metadata_features"] == [
        "release_year",
        "release_month",
        "release_date_precision",
        "explicit",
    ]
    assert metrics["threshold_rule"]["rule"] == "trough" and 35 <= metrics["threshold"] <= 55
    assert {r["feature"] for r in metrics["importance"][:2]} == {"energy", "release_year"}
    for f in ("metrics.json", "report.html", "model_card.md", "pipeline.skops", "model.json"):
        assert (out / f).is_file()
    meta = json.loads((out / "model.json").read_text())
    assert meta["task"] == "popularity" and meta["input"] == "table" and "release_date" in meta["required_columns"]
    assert "holdout comparison chart" in (out / "report.html").read_text()


def test_evaluate_predict_explain_round_trip(trained, tmp_path):
    path, out, metrics = trained
    other = tmp_path / "other.csv"
    make_table(n=300, seed=9).to_csv(other, index=False)
    res = api.evaluate(out, data=other)
    assert res["n"] == 300 and res["roc_auc"] > 0.8 and 0 <= res["accuracy"] <= 1
    ranked = api.predict(out, data=other)
    assert len(ranked) == 300 and ranked["hit_probability"].is_monotonic_decreasing
    assert ranked["rank"].tolist() == list(range(1, 301))
    why = api.explain(out, data=other, row=3, out=tmp_path / "why")
    assert {"up", "down", "contributions", "hit_probability"} <= set(why)
    assert (tmp_path / "why" / "explain_row3.json").is_file()


def test_shuffled_labels_stay_near_chance(tmp_path):
    path = tmp_path / "noise.csv"
    make_table(planted=False, seed=3).to_csv(path, index=False)
    metrics = api.train_popularity(data=path, models=["dummy", "logreg"], out=tmp_path / "m", seed=0)
    assert abs(metrics["models"]["logreg"]["holdout_roc_auc"] - 0.5) < 0.2


def test_missing_columns_name_the_column(trained, tmp_path):
    path, out, _ = trained
    frame = make_table(n=50, seed=4).drop(columns=["acousticness"])
    lacking = tmp_path / "lacking.csv"
    frame.to_csv(lacking, index=False)
    with pytest.raises(TableError, match="needs column 'acousticness'"):
        api.predict(out, data=lacking)
    with pytest.raises(TableError, match="acousticness"):
        api.train_popularity(data=lacking, out=tmp_path / "x", models=["dummy"])
    # --features makes a table without acousticness usable, and --no-metadata leaves the dates out.
    feats = [f for f in SPOTIFY_FEATURES if f != "acousticness"]
    m = api.train_popularity(data=lacking, out=tmp_path / "y", models=["logreg"], features=feats, metadata=False)
    assert m["data"]["features"] == feats and m["data"]["metadata_features"] == []
    with pytest.raises(ModelError, match="table model"):
        api.predict(out, songs=["x.wav"])


def test_subgenre_is_one_hot_metadata_and_required_by_the_model(tmp_path):
    from trackscope.features.metadata import metadata_features, metadata_source

    frame = make_table(400, seed=3, planted=False)
    rng = np.random.default_rng(3)
    frame["playlist_subgenre"] = rng.choice(["trap", "gangster rap", "hip hop"], size=len(frame))
    # Popularity carried by the subgenre alone: only the one-hot metadata can learn it.
    frame["track_popularity"] = np.where(frame["playlist_subgenre"] == "trap", 70, 20) + rng.integers(0, 10, len(frame))
    frame.to_csv(tmp_path / "t.csv", index=False)
    metrics = api.train_popularity(data=tmp_path / "t.csv", models=["dummy", "logreg"], out=tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert "subgenre=trap" in meta["metadata_features"] and "subgenre" in meta["required_columns"]
    assert metrics["models"]["logreg"]["holdout_roc_auc"] > 0.95
    assert metadata_source("subgenre=trap") == "subgenre" and metadata_source("release_year") == "release_date"
    codes = metadata_features(frame.rename(columns={"playlist_subgenre": "subgenre"}))
    assert codes.filter(like="subgenre=").sum(axis=1).eq(1).all()
    frame.drop(columns=["playlist_subgenre"]).to_csv(tmp_path / "lacks.csv", index=False)
    with pytest.raises((TableError, ModelError), match="subgenre"):
        api.predict(tmp_path / "m", data=tmp_path / "lacks.csv")
