"""“Why this mood” over time: which stretches of a song pull it toward each mood (trackscope.tasks.mood.why).

Synthetic songs only (trackscope.sources.example_audio), scored by builtin:mood: a song whose halves have different
characters, silence, and songs too short to split. Probabilities are compared with tolerances, never bit for bit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from trackscope.sources.example_audio import style_clip, write_wav

CLASSES = ["Q1", "Q2", "Q3", "Q4"]


@pytest.fixture(scope="module")
def md():
    from trackscope.models.persist import load_model_dir

    return load_model_dir("builtin:mood")


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    root = tmp_path_factory.mktemp("why")
    calm, tense = style_clip("calm", 15.0, seed=3), style_clip("tense", 15.0, seed=4)
    return {
        "calm_then_tense": write_wav(root / "calm_then_tense.wav", np.concatenate([calm, tense])),
        "tense_then_calm": write_wav(root / "tense_then_calm.wav", np.concatenate([tense, calm])),
        "tense": write_wav(root / "tense.wav", tense),
        "calm": write_wav(root / "calm.wav", calm),
        "silent": write_wav(root / "silent.wav", np.zeros(22050 * 8, dtype=np.float32)),
        "short": write_wav(root / "short.wav", style_clip("tense", 4.0, seed=5)),
        "seven": write_wav(root / "seven.wav", style_clip("tense", 7.0, seed=6)),
        "two_windows": write_wav(
            root / "two_windows.wav", np.concatenate([style_clip("calm", 20.0, seed=7), style_clip("tense", 20.0)])
        ),
    }


def _mood_alone(md, path):
    from trackscope.tasks.mood.audio import predict_song

    return predict_song(md, path)["song"]["mood"]


@pytest.mark.parametrize("order", ["calm_then_tense", "tense_then_calm"])
def test_each_half_of_a_song_pulls_toward_the_mood_it_has_alone(md, songs, order):
    from trackscope.tasks.analyze import analyze_song

    tense_mood, calm_mood = _mood_alone(md, songs["tense"]), _mood_alone(md, songs["calm"])
    assert tense_mood != calm_mood  # the plant: the halves differ
    kind, row, _ = analyze_song(md, songs[order])
    assert kind == "song"
    why = row["why"]
    assert len(why) == 10  # a 30-s clip: ten 3-s stretches, in time order, not overlapping
    assert [s["start"] < s["end"] for s in why] == [True] * 10
    assert all(a["end"] <= b["start"] + 1e-6 for a, b in zip(why, why[1:], strict=False))
    assert why[0]["start"] == pytest.approx(0.0, abs=0.01) and why[-1]["end"] == pytest.approx(30.0, abs=0.2)
    tense_first = order == "tense_then_calm"
    tense_half = [s for s in why if (s["end"] <= 15.1) == tense_first]
    calm_half = [s for s in why if (s["end"] <= 15.1) != tense_first]
    assert len(tense_half) == len(calm_half) == 5
    # every stretch of the tense half pulls toward the tense half's own mood; every calm one away from it
    assert [s["toward"] for s in tense_half] == [tense_mood] * 5
    assert min(s["effects"][tense_mood] for s in tense_half) > 0.01
    assert max(s["effects"][tense_mood] for s in calm_half) < -0.01
    assert tense_mood not in {s["toward"] for s in calm_half}
    for s in why:  # differences of probabilities that sum to one: the effects sum to zero
        assert set(s["effects"]) == set(CLASSES)
        assert sum(s["effects"].values()) == pytest.approx(0.0, abs=1e-6)
    json.dumps(why)  # stored as it is (the studio, analysis.json)


def test_the_effect_is_the_song_with_and_without_the_stretch(md, songs):
    """Two windows (30 s + a 10-s tail): stretches stay inside their window, and each effect is P(song) minus
    P(song with that stretch's patches left out of its window's pooling), recomputed here the long way."""
    from trackscope.features.song import pooled_vector
    from trackscope.tasks.mood.audio import _load, predict_song, why_song

    res = predict_song(md, songs["two_windows"])
    sf = res["features"]
    assert len(sf.starts) == 2
    patches = sf.extra["patches"]
    for w in range(2):  # nothing left out: the window's own vector back (the layout matches window_vector's)
        np.testing.assert_allclose(pooled_vector(sf.vectors[w], patches[w]), sf.vectors[w], rtol=1e-5, atol=1e-6)
    why = why_song(md, res)
    assert len(why) == 10 + 3  # every patch of each window, one stretch each
    boundary = sf.starts[1]
    assert all(s["end"] <= boundary + 1e-6 or s["start"] >= boundary - 1e-6 for s in why)
    head, classes, _ = _load(md)
    order = [list(head.classes_).index(c) for c in classes]
    weights = np.asarray(sf.durations) / sum(sf.durations)
    song = weights @ res["proba"]
    for i in (3, 11):  # a stretch in each window
        w = 0 if i < 10 else 1
        j = i if w == 0 else i - 10
        vectors = np.array(sf.vectors, dtype=np.float32)
        vectors[w] = pooled_vector(sf.vectors[w], patches[w], [j])
        without = weights @ head.predict_proba(vectors)[:, order]
        np.testing.assert_allclose([why[i]["effects"][c] for c in classes], song - without, atol=1e-9)


def test_silence_short_songs_and_the_explanation(md, songs, tmp_path):
    from trackscope import api
    from trackscope.report.analyze import flat_rows
    from trackscope.tasks.analyze import analyze_song

    _, silent, _ = analyze_song(md, songs["silent"])
    assert silent["silent"] and silent["why"] is None
    _, short, _ = analyze_song(md, songs["short"])  # 4 s: one 3-s patch, nothing to leave out
    assert short["mood"] in CLASSES and short["why"] == []
    _, seven, _ = analyze_song(md, songs["seven"])  # 7 s: two patches
    assert len(seven["why"]) == 2
    rows = flat_rows({"songs": [silent, short, seven]})
    assert all("why" not in r for r in rows)  # not a column of analysis.csv
    model = api.load_model("builtin:mood")
    result = model.explain(songs["calm_then_tense"], out=tmp_path / "why")
    assert result["mood"] in CLASSES and len(result["why"]) == 10
    assert "contributions" not in result  # no bars of mean_pool.std
    top = max(result["why"], key=lambda s: s["effects"][result["mood"]])
    assert result["summary"].startswith(api_span(top) + " pulls most toward ")
    assert (tmp_path / "why" / "explanation.png").stat().st_size > 1000
    assert json.loads((tmp_path / "why" / "explanation.json").read_text())["why"] == result["why"]
    assert "Silent" in model.explain(songs["silent"])["summary"]
    assert "Too short" in model.explain(songs["short"])["summary"]


def api_span(stretch):
    from trackscope.tasks.mood.why import span

    return span(stretch)


def test_the_cli_shows_stretches_in_time_and_json(songs):
    from typer.testing import CliRunner

    from trackscope.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["explain", "builtin:mood", str(songs["calm_then_tense"])], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    assert "pulls most toward" in res.output and "0:00–0:03" in res.output and "pulls toward" in res.output
    assert "mean_pool" not in res.output
    res = runner.invoke(app, ["explain", "builtin:mood", str(songs["calm_then_tense"]), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert len(data["why"]) == 10 and data["why"][0]["start"] == pytest.approx(0.0, abs=0.01)


def test_long_songs_get_at_most_sixty_stretches():
    from trackscope.tasks.mood.why import MAX_STRETCHES, plan

    assert len(plan([10])) == 10  # a 30-s clip: one stretch a patch
    assert plan([1]) == []  # a song under ~6 s
    assert plan([10, 1])[-1] == ([1], None)  # a one-patch tail is left out whole
    four_minutes = plan([10] * 8)
    assert len(four_minutes) == 40 and {len(g) for _, g in four_minutes} == {2}
    for windows in (12, 21, 30, 31, 120, 500):
        stretches = plan([10] * windows)
        assert 30 <= len(stretches) <= MAX_STRETCHES
        covered = [(w, i) for ws, g in stretches for w in ws for i in (g if g is not None else range(10))]
        assert sorted(covered) == [(w, i) for w in range(windows) for i in range(10)]  # every patch, once


def test_a_song_too_long_to_keep_patches_leaves_out_whole_windows():
    """Over ~30 min no patches are kept: each stretch is a run of whole windows, its effect the song's mean against
    the mean of the other windows (a stand-in head: the windows' probabilities are given)."""
    from pathlib import Path

    from trackscope.features.song import SongFeatures
    from trackscope.tasks.mood.why import MAX_STRETCHES, stretches

    class Head:
        classes_ = np.array(["Q4", "Q3", "Q2", "Q1"])  # another order than the model's classes

        def predict_proba(self, x):
            raise AssertionError("whole windows need no head")

    n = 70
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4), size=n)
    durations = [30.0] * (n - 1) + [12.0]
    sf = SongFeatures(
        path=Path("long.wav"), names=[], vectors=np.zeros((n, 3), np.float32), starts=[30.0 * i for i in range(n)],
        durations=durations, tag_mean=np.zeros((n, 50)), tags=[], descriptors=[{}] * n, total_duration=2082.0,
    )  # fmt: skip
    why = stretches(Head(), CLASSES, sf, proba)
    assert len(why) == 35 <= MAX_STRETCHES and why[0]["end"] == pytest.approx(60.0) and why[-1]["end"] == 2082.0
    w = np.asarray(durations) / sum(durations)
    song = w @ proba
    rest = np.r_[0:10, 12:n]
    expected = song - (w[rest] @ proba[rest]) / w[rest].sum()
    np.testing.assert_allclose([why[5]["effects"][c] for c in CLASSES], expected, atol=1e-12)
    assert why[5]["toward"] == (CLASSES[int(np.argmax(expected))] if expected.max() > 1e-4 else None)
    sf.silent = True
    assert stretches(Head(), CLASSES, sf, proba) is None
