"""The Python API (#11 §2): ``trackscope.load_model`` → a Model, ``trackscope.analyze`` → an Analysis, the
scikit-learn transformers, keyword-only signatures and a light ``import trackscope``."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import trackscope
from trackscope import api
from trackscope.errors import TrackscopeError
from trackscope.sources.example_audio import SR, style_clip, write_wav

MOODS = ["Q1", "Q2", "Q3", "Q4"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Two short synthetic clips (made up, not music) and a file that is not audio."""
    root = tmp_path_factory.mktemp("clips")
    a = write_wav(root / "energetic.wav", style_clip("energetic", 6.0, seed=1))
    b = write_wav(root / "dark.wav", style_clip("dark", 6.0, seed=2))
    broken = root / "broken.mp3"
    broken.write_text("not audio at all")
    return a, b, broken


def test_import_trackscope_is_light_and_lists_the_api():
    code = (
        "import sys, trackscope\n"
        "heavy = [m for m in ('numpy', 'pandas', 'torch', 'sklearn', 'scipy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(' '.join(dir(trackscope)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = set(proc.stdout.split())
    public = {"load_model", "Model", "analyze", "Analysis", "MusicnnEmbedder", "Descriptors", "embed", "api"}
    assert public <= names and set(trackscope.__all__) <= names
    assert not {"_LAZY", "annotations"} & names
    for name in trackscope.__all__:
        assert getattr(trackscope, name) is not None
    assert trackscope.analyze is api.analyze_songs and trackscope.load_model is api.load_model
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        trackscope.nope  # noqa: B018


def test_the_stub_names_what_the_package_offers():
    from pathlib import Path

    stub = (Path(trackscope.__file__).parent / "__init__.pyi").read_text()
    for name in trackscope.__all__:
        assert name in stub, name


def test_builtin_mood_model_predicts_files_and_arrays(clips):
    a, b, broken = clips
    model = trackscope.load_model("builtin:mood")
    assert model.classes_ == MOODS and model.task == "mood" and model.input == "audio"
    assert "model card" in model.card.lower() and model.metrics["classes"] == MOODS
    frame = model.predict([a, b, broken, a.parent / "missing.wav"])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 4  # one row per input, in input order
    assert frame["path"].tolist() == [str(a), str(b), str(broken), str(a.parent / "missing.wav")]
    assert {"mood", "mood_words", "confidence", "arousal", "valence", *(f"p_{c}" for c in MOODS)} <= set(frame)
    assert frame.columns[0] == "path" and frame.columns[-1] == "error"
    good = frame.iloc[:2]
    assert good["error"].isna().all() and good["mood"].isin(MOODS).all()
    np.testing.assert_allclose(good[[f"p_{c}" for c in MOODS]].sum(axis=1), 1.0, atol=1e-6)
    assert frame.loc[0, "mood"] == "Q1"
    assert frame.iloc[2:]["mood"].isna().all() and frame.iloc[2:]["error"].notna().all()
    assert frame.loc[3, "error"] == "no such file or folder"

    # an array of samples, with its sample rate, is read as the same audio in a file would be
    import soundfile

    y, rate = soundfile.read(a, dtype="float32")
    assert rate == SR
    from_array = model.predict(y, sr=SR)
    assert len(from_array) == 1 and from_array.loc[0, "path"] is None
    np.testing.assert_allclose(
        from_array[[f"p_{c}" for c in MOODS]].to_numpy(float), good.iloc[[0]][[f"p_{c}" for c in MOODS]], atol=1e-4
    )
    proba = model.predict_proba([a, b])
    assert proba.shape == (2, 4)
    with pytest.raises(TrackscopeError, match="sr="):
        model.predict(y)
    with pytest.raises(TypeError):
        model.predict(pd.DataFrame({"energy": [0.5]}))
    why = model.explain(y, sr=SR)
    assert why["song"] is None and why["mood"] in MOODS and why["why"]


def test_table_mood_model_trained_from_a_dataframe(tmp_path, mood_frame):
    metrics = api.train_mood(data=mood_frame, out=tmp_path / "m", models=["logreg"])
    assert metrics["data"]["path"] == "<DataFrame>" and len(metrics["data"]["sha256"]) == 64
    model = trackscope.load_model(tmp_path / "m")
    assert model.task == "mood" and model.input == "table"
    assert model.classes_ == sorted(mood_frame["mood"].unique())
    assert model.card.startswith("# Mood model")
    frame = model.predict(mood_frame)
    assert len(frame) == len(mood_frame) and frame["row"].tolist() == list(range(len(mood_frame)))
    assert {"mood", "confidence", *(f"p_{c}" for c in model.classes_)} <= set(frame)
    assert (frame["mood"] == mood_frame["mood"]).mean() > 0.8
    # the same table from a file gives the same predictions
    csv = tmp_path / "moods.csv"
    mood_frame.to_csv(csv, index=False)
    pd.testing.assert_frame_equal(model.predict(csv), frame)
    # a row with a missing feature keeps its place, without a prediction
    holey = mood_frame.copy()
    holey.loc[3, "energy"] = np.nan
    with_hole = model.predict(holey)
    assert (
        len(with_hole) == len(holey)
        and pd.isna(with_hole.loc[3, "mood"])
        and with_hole.loc[4, "mood"] == frame.loc[4, "mood"]
    )
    assert with_hole.attrs["missing_dropped"] == 1
    scores = model.evaluate(mood_frame)
    assert scores["n"] == len(mood_frame) and 0.8 < scores["accuracy"] <= 1.0
    assert scores["data"]["path"] == "<DataFrame>"
    why = model.explain(mood_frame, row=2)
    assert why["row"] == 2 and why["mood"] in model.classes_ and why["contributions"]
    # the api functions are thin wrappers: same numbers
    assert api.evaluate(tmp_path / "m", data=mood_frame)["accuracy"] == scores["accuracy"]
    with pytest.raises(TrackscopeError, match="label_map"):
        model.evaluate(mood_frame, label_map="calm")
    with pytest.raises(TrackscopeError, match="target"):
        model.evaluate(mood_frame, target="popularity")


def test_table_popularity_model_trained_from_a_dataframe(tmp_path):
    from trackscope.constants import POPULARITY_CLASSES, SPOTIFY_FEATURES

    rng = np.random.default_rng(0)
    table = pd.DataFrame({f: rng.random(200) for f in SPOTIFY_FEATURES})
    table["popularity"] = np.where(table["energy"] + rng.normal(0, 0.2, 200) > 0.5, 70, 20)
    table.insert(0, "id", [f"t{i}" for i in range(200)])
    api.train_popularity(data=table, out=tmp_path / "pop", models=["logreg"], seed=0)
    model = trackscope.load_model(tmp_path / "pop")
    assert model.classes_ == list(POPULARITY_CLASSES)
    frame = model.predict(table)
    assert frame["id"].tolist() == table["id"].tolist()  # input order, not ranked
    p = [f"p_{c}" for c in POPULARITY_CLASSES]
    np.testing.assert_allclose(frame[p].sum(axis=1), 1.0)
    np.testing.assert_allclose(frame["p_popular"], frame["hit_probability"])
    assert (frame["prediction"] == np.where(frame["hit_probability"] >= 0.5, "popular", "not popular")).all()
    assert model.evaluate(table)["roc_auc"] > 0.8
    ranked = api.predict(tmp_path / "pop", data=table)  # the CLI's view: ranked
    assert ranked["rank"].tolist() == list(range(1, 201))
    with pytest.raises(TrackscopeError, match="label_map"):
        model.evaluate(table, label_map="a=b")


def test_analyze_returns_an_analysis_whose_dict_is_the_clis(tmp_path, clips):
    a, b, broken = clips
    analysis = trackscope.analyze([a, b, broken])
    assert isinstance(analysis, api.Analysis) and len(analysis) == 2 and analysis.classes == MOODS
    songs, windows, failures = analysis.songs, analysis.windows, analysis.failures
    assert songs["name"].tolist() == ["energetic.wav", "dark.wav"]
    assert {"mood", "confidence", "tempo", "key", "loudness_lufs", "top_tags", "n_windows"} <= set(songs)
    assert len(windows) == songs["n_windows"].sum() and {"path", "window", "start", "duration", "mood"} <= set(windows)
    assert failures.columns.tolist() == ["path", "reason"] and failures["path"].tolist() == [str(broken)]
    as_dict = analysis.to_dict()
    cli = api.analyze([a, b, broken])  # what `analyze --json` prints
    assert as_dict.keys() == cli.keys() == {"n", "mood_model", "classes", "songs", "failures"}
    assert [s["name"] for s in as_dict["songs"]] == [s["name"] for s in cli["songs"]]
    assert as_dict["songs"][0].keys() == cli["songs"][0].keys()
    assert as_dict["mood_model"] == cli["mood_model"] == "builtin:mood"
    assert as_dict["failures"] == cli["failures"]

    outputs = analysis.write(tmp_path / "out", report=False)
    assert set(outputs) == {"csv", "json"} and analysis.to_dict()["outputs"] == outputs
    saved = json.loads((tmp_path / "out" / "analysis.json").read_text())
    assert saved.keys() == cli.keys() and saved["n"] == 2
    assert pd.read_csv(outputs["csv"])["name"].tolist() == songs["name"].tolist()

    # out= writes as the CLI does, and a Model serves as the mood model
    model = trackscope.load_model("builtin:mood")
    written = trackscope.analyze([a], out=tmp_path / "out2", report=False, mood_model=model)
    assert (tmp_path / "out2" / "analysis.csv").is_file() and written.to_dict()["mood_model"] == "builtin:mood"
    assert written.to_dict() == {**api.analyze([a], mood_model=model), "outputs": written.outputs}


def test_musicnn_embedder_and_descriptors_in_a_grid_search(tmp_path):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    styles = ["energetic", "calm"] * 3
    paths = [str(write_wav(tmp_path / f"{s}{i}.wav", style_clip(s, 4.0, seed=i))) for i, s in enumerate(styles)]
    y = np.array(styles)

    emb = trackscope.MusicnnEmbedder(layers=["taggram", "penultimate"], pooling="mean")
    assert emb.fit(paths) is emb
    x = emb.transform(paths)
    names = emb.get_feature_names_out()
    assert x.shape == (6, len(names)) and names[0] == "taggram.mean.0"
    assert clone(emb).get_params() == emb.get_params()
    search = GridSearchCV(
        make_pipeline(trackscope.MusicnnEmbedder(layers=["taggram"]), LogisticRegression(max_iter=1000)),
        {"musicnnembedder__pooling": ["mean", "max"]},
        cv=2,
    )
    search.fit(paths, y)
    assert search.best_params_["musicnnembedder__pooling"] in ("mean", "max")
    assert list(search.predict(paths[:2])) == styles[:2]

    desc = trackscope.Descriptors()
    d = desc.fit_transform(paths[:2])
    assert d.shape == (2, len(desc.get_feature_names_out())) and "tempo" in desc.get_feature_names_out()
    grid = GridSearchCV(
        make_pipeline(trackscope.Descriptors(), StandardScaler(), LogisticRegression(max_iter=1000)),
        {"logisticregression__C": [0.1, 1.0]},
        cv=2,
    ).fit(paths, y)
    assert grid.best_estimator_.predict(paths[:2]).tolist() == styles[:2]
    # arrays of samples, with sr; pandas output names the columns
    import soundfile

    samples, _ = soundfile.read(paths[1], dtype="float32")
    arr = trackscope.Descriptors(sr=SR).set_output(transform="pandas").transform([samples])
    assert list(arr.columns) == list(desc.get_feature_names_out())
    np.testing.assert_allclose(arr.to_numpy()[0], d[1], rtol=1e-4, atol=1e-4)  # the same audio as the file
    with pytest.raises(TrackscopeError, match="sr="):
        trackscope.Descriptors().transform([style_clip("calm", 4.0, seed=1)])


def test_musicnn_embedder_pools_as_builtin_mood_reads_a_window(tmp_path):
    from trackscope.audio.io import load_audio
    from trackscope.features.song import feature_config, window_vector

    path = write_wav(tmp_path / "clip.wav", style_clip("tense", 5.0, seed=4))
    emb = trackscope.MusicnnEmbedder()  # meanstd over penultimate, mean_pool, taggram; dead channels left out
    x = emb.transform([path])
    names, vec, _ = window_vector(load_audio(path, sr=22050).samples, 22050, feature_config())
    k = x.shape[1]
    assert list(emb.get_feature_names_out()) == names[:k] and names[k].startswith("desc.")
    np.testing.assert_allclose(x[0], vec[:k], rtol=1e-5, atol=1e-5)
    every = trackscope.MusicnnEmbedder(live_only=False, layers=["mean_pool"], pooling="max")
    live = trackscope.MusicnnEmbedder(layers=["mean_pool"], pooling="max")
    assert len(every.get_feature_names_out()) == 753 > len(live.get_feature_names_out())
    with pytest.raises(TrackscopeError, match="pooling"):
        trackscope.MusicnnEmbedder(pooling="median").transform([path])
    with pytest.raises(TrackscopeError, match="no output"):
        trackscope.MusicnnEmbedder(layers=["nope"]).get_feature_names_out()


def test_keyword_only_signatures_refuse_unknown_keywords(tmp_path, mood_frame, clips):
    a, _, _ = clips
    with pytest.raises(TypeError):
        api.train_mood(data=mood_frame, out=tmp_path / "m", bogus=1)
    with pytest.raises(TypeError):
        api.train_mood(mood_frame, out=tmp_path / "m")  # keyword-only
    with pytest.raises(TypeError):
        api.train_popularity(data=mood_frame, out=tmp_path / "p", folds=3)
    with pytest.raises(TypeError):
        api.predict("builtin:mood", song=a)
    with pytest.raises(TypeError):
        api.evaluate("builtin:mood", labelmap="a=b")
    with pytest.raises(TypeError):
        api.analyze([a], mood="builtin:mood")
    with pytest.raises(TypeError):
        trackscope.analyze([a], model="builtin:mood")
    with pytest.raises(TypeError):
        trackscope.load_model("builtin:mood").predict([a], samplerate=SR)
    with pytest.raises(TypeError):
        trackscope.MusicnnEmbedder(pool="mean")
    functions = [*vars(api).values(), *vars(api.Model).values(), *vars(api.Analysis).values()]
    assert not [f.__name__ for f in functions if _takes_any_keyword(f)]


def _takes_any_keyword(func):
    """Whether ``func`` (a function of trackscope.api) takes ``**kwargs``."""
    import inspect

    if not inspect.isfunction(func) or func.__module__ != "trackscope.api":
        return False
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(func).parameters.values())


def test_errors_raised_from_python_name_the_parameters(tmp_path, mood_frame):
    with pytest.raises(TrackscopeError, match=r"test_size \(--test-size\)"):
        api.train_mood(data=mood_frame, out=tmp_path / "m", test_size=2.0)
    with pytest.raises(TrackscopeError, match="data="):
        api.train_mood(out=tmp_path / "m")
    with pytest.raises(TrackscopeError, match="audio= and labels="):
        api.evaluate("builtin:mood", data=mood_frame)
    with pytest.raises(TrackscopeError, match=r"apply to audio training only"):
        api.train_popularity(data=mood_frame, out=tmp_path / "p", epochs=3)
