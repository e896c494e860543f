"""Mood from audio (musicnn embeddings + descriptors) and the main job `trackscope analyze`, on synthetic clips.

The clips come from :mod:`trackscope.sources.example_audio`: four styles with planted, audible differences, labelled
with the 4Q quadrant codes. The musicnn weights are fetched from PyPI on first use (cached afterwards).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from trackscope.sources.example_audio import STYLES, style_clip, write_wav

QUADRANT_OF = {"energetic": "Q1", "tense": "Q2", "dark": "Q3", "calm": "Q4"}


def _write_set(folder, *, per_style, seed, seconds=6.0):
    rows = ["song_id,quadrant,artist"]
    for s_i, style in enumerate(STYLES):
        for k in range(per_style):
            sid = f"{style}{seed}_{k}"
            write_wav(folder / QUADRANT_OF[style] / f"{sid}.wav", style_clip(style, seconds, seed=seed * 100 + k))
            rows.append(f"{sid},{QUADRANT_OF[style]},artist-{s_i}-{k // 2}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder / "labels.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("moodaudio")
    # A private clip-feature cache (the musicnn weights stay in the shared cache: fetched once, not per test run).
    old = os.environ.get("TRACKSCOPE_FEATURE_CACHE")
    os.environ["TRACKSCOPE_FEATURE_CACHE"] = str(root / "cache")
    try:
        from trackscope.api import train_mood

        labels = _write_set(root / "train", per_style=5, seed=1)
        metrics = train_mood(
            audio=root / "train",
            labels=labels,
            id_column="song_id",
            label="quadrant",
            group_column="artist",
            models=["logreg"],
            folds=3,
            out=root / "model",
        )
        yield root, metrics
    finally:
        if old is None:
            os.environ.pop("TRACKSCOPE_FEATURE_CACHE", None)
        else:
            os.environ["TRACKSCOPE_FEATURE_CACHE"] = old


def test_planted_styles_are_learned_under_grouped_cv(trained):
    root, metrics = trained
    assert metrics["task"] == "mood" and metrics["input"] == "audio"
    assert metrics["classes"] == ["Q1", "Q2", "Q3", "Q4"]
    assert metrics["chosen_model"] == "logreg"
    assert metrics["cv_protocol"]["grouped_by"] is not None
    assert metrics["oof"]["macro_f1"] >= 0.9
    for name in ("pipeline.skops", "metrics.json", "model_card.md", "report.html", "model.json"):
        assert (root / "model" / name).is_file()


def test_evaluate_on_new_clips_with_label_map_and_unknown_labels(trained):
    from trackscope.api import evaluate

    root, _ = trained
    labels = _write_set(root / "test", per_style=2, seed=7)
    text = labels.read_text().replace(",Q4,", ",calm,")  # a user's own spelling, mapped back
    labels.write_text(text + "extra_0,Q9,nobody\n")
    write_wav(root / "test" / "extra_0.wav", style_clip("calm", 6.0, seed=99))
    result = evaluate(root / "model", audio=root / "test", labels=labels, label_map="calm=Q4")
    assert result["n"] == 8
    assert result["excluded"] == 1
    assert result["accuracy"] >= 0.85
    assert set(result) >= {"accuracy", "macro_f1", "n", "per_class", "confusion"}


def test_predict_gives_probabilities_arousal_and_valence(trained, tmp_path):
    from trackscope.api import predict

    root, _ = trained
    song = write_wav(tmp_path / "song.wav", style_clip("energetic", 8.0, seed=5))
    frame = predict(root / "model", songs=[song])
    row = frame.iloc[0]
    assert row["mood"] == "Q1" and row["mood_words"] == "happy/energetic"
    probs = [row[f"p_Q{i}"] for i in range(1, 5)]
    assert abs(sum(probs) - 1) < 1e-6
    assert -1 <= row["arousal"] <= 1 and row["arousal"] > 0
    assert -1 <= row["valence"] <= 1


def test_analyze_windows_long_songs_and_lists_bad_files(trained, tmp_path):
    from trackscope.api import analyze

    root, _ = trained
    import numpy as np

    long_song = np.concatenate(
        [style_clip("calm", 30.0, seed=3), style_clip("energetic", 30.0, seed=4), style_clip("dark", 12.0, seed=6)]
    )
    write_wav(tmp_path / "in" / "long.wav", long_song)
    (tmp_path / "in" / "broken.mp3").write_text("not audio at all")
    result = analyze([tmp_path / "in"], out=tmp_path / "out", mood_model=root / "model")
    assert result["n"] == 1
    assert [f["path"].endswith("broken.mp3") for f in result["failures"]] == [True]
    song = result["songs"][0]
    assert [w["mood"] for w in song["windows"]] == ["Q4", "Q1", "Q3"]
    assert [w["start"] for w in song["windows"]] == [0.0, 30.0, 60.0]
    assert abs(song["duration"] - 72.0) < 0.1
    assert {"tempo", "key", "loudness_lufs", "arousal", "valence", "top_tags"} <= set(song)
    assert len(song["top_tags"]) == 5
    for name in ("analysis.csv", "analysis.json", "report.html"):
        assert (tmp_path / "out" / name).is_file()
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Valence–arousal map" in html
    _check_report_visuals(html, [song])


def _check_report_visuals(html, songs):
    """The report's pictures are right-sized and cheap: the map and each song's waveform and mood strip are inline
    SVG (a dot per song with its name on hover, a rectangle per 30-s window with its mood), each mel spectrogram a
    128-band WebP image; the whole page stays small."""
    import base64
    import io
    import re
    from pathlib import Path

    from PIL import Image

    for song in songs:
        assert f"<title>{Path(song['path']).stem}: {song['mood']}" in html
    mels = re.findall(r'src="data:image/webp;base64,([^"]+)"', html)
    assert len(mels) == len(songs)
    for b64 in mels:
        img = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert img.format == "WEBP" and img.size[1] == 128 and 100 <= img.size[0] <= 700
    windows = sum(len(s["windows"]) for s in songs)
    assert len(re.findall(r"<rect [^>]*fill-opacity", html)) == windows
    assert "data:image/png" not in html  # nothing drawn as a full-page raster any more
    assert len(html.encode()) < 150_000 * len(songs) + 60_000


def test_analyze_cli_json_purity_and_bad_model(trained, tmp_path):
    root, _ = trained
    clip = write_wav(tmp_path / "a.wav", style_clip("dark", 6.0, seed=11))
    cmd = [
        sys.executable,
        "-m",
        "trackscope",
        "analyze",
        str(clip),
        "--mood-model",
        str(root / "model"),
        "--out",
        str(tmp_path / "o"),
        "--json",
        "--no-report",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["songs"][0]["mood"] == "Q3"
    assert data["songs"][0]["unusual"] is False and 0 <= data["songs"][0]["novelty"] <= 1
    assert {"novelty", "unusual"} <= set(data["songs"][0]["windows"][0])
    bad = subprocess.run(
        [sys.executable, "-m", "trackscope", "analyze", str(clip), "--mood-model", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2
    assert "no such model folder" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_demo_analyses_synthesised_clips_with_the_builtin_model(tmp_path):
    from typer.testing import CliRunner

    from trackscope.cli import app

    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--json"])
    assert res.exit_code == 0, res.stderr
    assert "made up, not real music" in " ".join(res.stderr.split())
    data = json.loads(res.stdout)
    assert data["mood_model"] == "builtin:mood" and data["n"] == 5 and not data["failures"]
    long_song = next(s for s in data["songs"] if s["name"] == "example-long-song.wav")
    assert len(long_song["windows"]) == 3
    assert all(-1 <= s["arousal"] <= 1 and -1 <= s["valence"] <= 1 for s in data["songs"])
    assert (tmp_path / "demo" / "analysis" / "report.html").is_file()


def test_audio_unlike_the_training_clips_is_flagged(trained, tmp_path):
    """White noise gets a mood from any classifier; the novelty score says it is unlike the training clips."""
    import numpy as np

    from trackscope.models.persist import load_model_dir
    from trackscope.tasks.mood.audio import predict_song

    root, _ = trained
    md = load_model_dir(root / "model")
    assert "novelty.safetensors" in md.meta["files"]
    noise = np.random.default_rng(0).standard_normal(8 * 22050).astype(np.float32) * 0.2
    res = predict_song(md, write_wav(tmp_path / "noise.wav", noise))
    assert res["song"]["unusual"] is True and res["song"]["novelty"] > 0.99
    assert all(w["unusual"] for w in res["windows"])
    like = predict_song(md, write_wav(tmp_path / "calm.wav", style_clip("calm", 8.0, seed=41)))
    assert like["song"]["unusual"] is False and like["song"]["novelty"] < 0.99


def test_builtin_mood_model_flags_noise(tmp_path):
    import numpy as np

    from trackscope.models.persist import load_model_dir
    from trackscope.tasks.mood.audio import predict_song

    md = load_model_dir("builtin:mood")
    assert "novelty.safetensors" in md.meta["files"]
    noise = (np.random.default_rng(1).standard_normal(10 * 22050) * 0.1).astype(np.float32)
    res = predict_song(md, write_wav(tmp_path / "noise.wav", noise))
    assert res["song"]["unusual"] is True and res["song"]["novelty"] == 1.0


def test_analyze_in_worker_processes_matches_one_process(trained, tmp_path):
    """Songs analysed side by side in worker processes: same rows in input order, failures kept, report pictures."""
    import numpy as np

    from trackscope.api import analyze

    root, _ = trained
    songs = tmp_path / "songs"
    for k, style in enumerate(["calm", "tense", "dark", "energetic"]):
        write_wav(songs / f"{k}_{style}.wav", style_clip(style, 6.0, seed=70 + k))
    (songs / "2b_broken.wav").write_bytes(b"not audio at all")
    one = analyze([songs], mood_model=root / "model", out=tmp_path / "one", workers=1)
    two = analyze([songs], mood_model=root / "model", out=tmp_path / "two", workers=2)
    assert (
        [s["name"] for s in two["songs"]]
        == [s["name"] for s in one["songs"]]
        == sorted(p.name for p in songs.glob("*.wav") if "broken" not in p.name)
    )
    assert [f["path"] for f in two["failures"]] == [f["path"] for f in one["failures"]] and len(one["failures"]) == 1
    # key and tempo are picked from a grid (exact); the probabilities come from features that another process (other
    # thread counts) may round differently by float32 rounding (≲ 1e-5 relative): far below 1e-5 in a probability
    for a, b in zip(one["songs"], two["songs"], strict=True):
        assert a["mood"] == b["mood"] and a["key"] == b["key"] and a["tempo"] == b["tempo"]
        np.testing.assert_allclose([a[f"p_Q{i}"] for i in range(1, 5)], [b[f"p_Q{i}"] for i in range(1, 5)], atol=1e-5)
    html = (tmp_path / "two" / "report.html").read_text()
    one_html = (tmp_path / "one" / "report.html").read_text()
    # workers drew each song's visual; in one process the report drew them: the same pictures either way
    assert html.count('class="song-visual"') == one_html.count('class="song-visual"') == len(two["songs"])
    _check_report_visuals(html, two["songs"])


def test_predict_table_fits_a_narrow_terminal(trained, tmp_path):
    import os

    root, _ = trained
    song = write_wav(tmp_path / "deep" / "folder" / "my-song.wav", style_clip("calm", 6.0, seed=3))
    env = dict(os.environ, COLUMNS="80")
    proc = subprocess.run(
        [sys.executable, "-m", "trackscope", "predict", str(root / "model"), str(song), str(tmp_path / "gone.mp3")],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "my-song.wav" in out and str(song.parent) not in out  # names, not paths
    assert "not shown for width: p_Q1" in " ".join(out.split())  # probabilities give way first; the user is told
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "Q4" in out  # the calm clip's mood


def test_clip_features_in_worker_processes_match_and_fill_the_cache(tmp_path):
    import numpy as np

    from trackscope.features.cache import ClipCache
    from trackscope.features.song import clip_matrix, feature_config

    paths = [write_wav(tmp_path / f"{k}.wav", style_clip(s, 4.0, seed=k)) for k, s in enumerate(STYLES)]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF nonsense")
    paths.insert(2, bad)
    cfg = feature_config()
    r1 = clip_matrix(paths, cfg, cache=ClipCache(tmp_path / "c1"), workers=1)
    cache2 = ClipCache(tmp_path / "c2")
    r2 = clip_matrix(paths, cfg, cache=cache2, workers=2)
    assert r1.kept == r2.kept == [0, 1, 3, 4] and r1.names == r2.names
    assert [f[0] for f in r1.failures] == [f[0] for f in r2.failures] == [str(bad)]
    # two processes, the same float path: equal up to float32 rounding of features of magnitude up to ~1e3
    np.testing.assert_allclose(r1.x, r2.x, rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(r2.clip, [0, 1, 2, 3])  # a 4-s clip is one window
    assert len(list((tmp_path / "c2").rglob("*.npz"))) == 4  # the parent stored what the workers computed
    r3 = clip_matrix(paths, cfg, cache=cache2, workers=2)  # all cached now: no worker needed
    np.testing.assert_array_equal(r3.x, r2.x)  # read back from the cache: the same stored bytes


def test_one_window_rule_everywhere(tmp_path):
    """Which 30 s a model sees: a clip whose rest after whole windows is under 5 s is centred; a longer rest is a
    window of its own; `evaluate`'s rows and `predict`/`analyze` give a file the same probabilities."""
    import numpy as np

    from trackscope.audio.io import iter_windows
    from trackscope.features.cache import ClipCache
    from trackscope.features.song import MIN_WINDOW_S, clip_matrix, clip_proba
    from trackscope.models.persist import load_model_dir, resolve_model_path
    from trackscope.tasks.mood.audio import predict_song

    sr = 8000
    for seconds, starts, lengths in (
        (33.0, [1.5], [30.0]),
        (62.0, [1.0, 31.0], [30.0, 30.0]),
        (70.0, [0.0, 30.0, 60.0], [30.0, 30.0, 10.0]),
        (12.0, [0.0], [12.0]),
    ):
        path = write_wav(tmp_path / f"n{seconds:g}.wav", np.zeros(int(seconds * sr), dtype=np.float32) + 0.01, sr=sr)
        ws = list(iter_windows(path, sr=sr, window=30.0, trim=MIN_WINDOW_S))
        np.testing.assert_allclose([w.offset for w in ws], starts, atol=1 / sr)
        np.testing.assert_allclose([w.duration for w in ws], lengths, atol=1 / sr)
    md = load_model_dir(resolve_model_path("builtin:mood"))
    song = write_wav(
        tmp_path / "song.wav",
        np.concatenate([style_clip("calm", 31.0, seed=3), style_clip("tense", 12.0, seed=4)]),
        sr=22050,
    )
    rows = clip_matrix([song], dict(md.meta["features"]), cache=ClipCache(tmp_path / "cache"))
    assert len(rows.x) == 2 and np.isclose(rows.weight.sum(), 1.0)
    pipe = md.load_sklearn("pipeline")
    order = [list(pipe.classes_).index(c) for c in md.meta["classes"]]
    via_evaluate = clip_proba(pipe.predict_proba(rows.x)[:, order], rows)[0]
    res = predict_song(md, song)
    assert [w["start"] for w in res["windows"]] == [0.0, 30.0]
    via_predict = [res["song"][f"p_{c}"] for c in md.meta["classes"]]
    np.testing.assert_allclose(via_evaluate, via_predict, atol=1e-6)  # same rows, same float path


def test_worker_count_choice():
    from trackscope._workers import choose_workers
    from trackscope.errors import TrackscopeError

    assert choose_workers(3, 10) == 3
    assert choose_workers(8, 2) == 2  # never more workers than songs
    assert choose_workers("auto", 2) == 1  # too few songs to pay for starting a worker
    assert 1 <= choose_workers("auto", 100) <= 4
    for bad in (0, -2, "many", 1.5):
        with pytest.raises(TrackscopeError, match="at least 1"):
            choose_workers(bad, 5)


def test_builtin_mood_model_is_the_quadrant_model():
    from trackscope.models.persist import load_model_dir

    md = load_model_dir("builtin:mood")
    assert (md.task, md.input, md.meta["classes"]) == ("mood", "audio", ["Q1", "Q2", "Q3", "Q4"])
    metrics = md.load_json("metrics.json")
    assert metrics["cv_protocol"]["grouped_by"] is not None and metrics["data"]["rows"] == 540
    assert "research use" in md.file("model_card.md").read_text()


def test_analyze_adds_hit_potential_from_a_popularity_model(trained, tmp_path):
    from trackscope.api import analyze, train_popularity
    from trackscope.sources.synthetic_hits import write_clips

    root, _ = trained
    labels = write_clips(tmp_path / "pop", 24, duration=3.0, seed=5)
    train_popularity(
        audio=tmp_path / "pop", labels=labels, models=["dummy", "mlp"], epochs=2, out=tmp_path / "hits",
        clip_seconds=3.0, n_mels=32,
    )  # fmt: skip
    songs = [write_wav(tmp_path / "in" / f"{s}.wav", style_clip(s, 6.0, seed=1)) for s in ("calm", "tense")]
    result = analyze(songs, out=tmp_path / "out", mood_model=root / "model", popularity_model=tmp_path / "hits")
    assert [0 <= s["hit_potential"] <= 1 for s in result["songs"]] == [True, True]
    assert "hit_potential" in (tmp_path / "out" / "analysis.csv").read_text().splitlines()[0]


def test_explain_audio_mood_names_stretches_of_the_song(trained, tmp_path):
    from trackscope.api import explain

    root, _ = trained
    song = write_wav(tmp_path / "s.wav", style_clip("calm", 6.0, seed=8))
    why = explain(root / "model", song=song, out=tmp_path / "why")
    # a 6-s song: two 3-s stretches, each with its pull on every mood (tests/test_why_mood.py tests them in depth)
    assert why["mood"] == "Q4" and len(why["why"]) == 2 and "contributions" not in why
    assert set(why["why"][0]["effects"]) == {"Q1", "Q2", "Q3", "Q4"} and why["summary"]
    assert (tmp_path / "why" / "explanation.png").is_file()


def test_silence_gets_no_mood_and_a_batch_with_nothing_usable_fails(trained, tmp_path):
    import numpy as np

    from trackscope.api import analyze
    from trackscope.errors import TrackscopeError
    from trackscope.tasks.analyze import SONG_DESCRIPTORS

    root, _ = trained
    write_wav(tmp_path / "in" / "quiet.wav", np.zeros(22050 * 4, dtype=np.float32))
    result = analyze([tmp_path / "in"], mood_model=root / "model")
    song = result["songs"][0]
    assert song["silent"] and song["mood"] is None and song["mood_words"] == "silent"
    assert set(SONG_DESCRIPTORS) <= set(song)  # stable keys, null where there is no tempo or key
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.mp3").write_text("text, not audio")
    with pytest.raises(TrackscopeError, match="none of the 1 inputs could be analysed"):
        analyze([tmp_path / "bad"], mood_model=root / "model")


def test_analyze_refuses_a_popularity_model_that_is_not_audio(trained, tmp_path):
    from trackscope.api import analyze
    from trackscope.errors import TrackscopeError

    root, _ = trained
    clip = write_wav(tmp_path / "a.wav", style_clip("dark", 4.0, seed=2))
    with pytest.raises(TrackscopeError, match="must be a popularity model trained on audio"):
        analyze([clip], mood_model=root / "model", popularity_model=root / "model")
