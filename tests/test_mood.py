"""The mood workflow on tables: learnable planted structure, chance on shuffled labels, model folder round trip,
evaluate with label maps, predict, explain, and the CLI's exit codes and --json purity."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trackscope import api
from trackscope.api import train_mood as train
from trackscope.cli import app
from trackscope.errors import ModelError, TableError, TrackscopeError
from trackscope.evaluation import classification_metrics, learning_curve, match_labels, parse_label_map
from trackscope.models.persist import ModelWriter, load_model_dir
from trackscope.sources.example import example_table

FAST = ["logreg", "svm"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small model trained once for the tests that only read it."""
    root = tmp_path_factory.mktemp("mood")
    data = root / "moods.csv"
    example_table(150, seed=1).to_csv(data, index=False)
    calls = []
    metrics = train(data=data, out=root / "model", models=FAST, progress=lambda d, t: calls.append((d, t)))
    return {"root": root, "data": data, "metrics": metrics, "calls": calls}


def test_planted_structure_is_learned(trained):
    m = trained["metrics"]
    assert m["test"]["accuracy"] > 0.85 and m["test"]["macro_f1"] > 0.85
    assert m["test"]["n"] == 50 and m["split"]["train_rows"] == 100
    # Chosen by CV, never by test.
    assert m["chosen_model"] == max(m["cv"], key=lambda k: m["cv"][k]["mean"])
    # Progress went from 0 to its total, monotonically.
    done = [d for d, _ in trained["calls"]]
    assert done == sorted(done) and done[-1] == trained["calls"][-1][1] > 0


def test_shuffled_labels_score_near_chance(tmp_path):
    frame = example_table(150, seed=2)
    frame["mood"] = np.random.default_rng(0).permutation(frame["mood"].to_numpy())
    frame.to_csv(tmp_path / "shuffled.csv", index=False)
    m = train(data=tmp_path / "shuffled.csv", out=tmp_path / "model", models=["logreg"])
    assert m["test"]["accuracy"] < 0.40  # chance is 0.2 for 5 balanced moods


def test_model_folder_contents(trained):
    out = trained["root"] / "model"
    for name in ("model.json", "pipeline.skops", "metrics.json", "model_card.md", "report.html"):
        assert (out / name).is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("task", "classes", "chosen_model", "cv", "test", "data", "models", "versions", "date"):
        assert key in metrics
    assert set(metrics["test"]) >= {"accuracy", "macro_f1", "n"}
    assert metrics["data"]["rows"] == 150 and len(metrics["data"]["sha256"]) == 64
    assert set(metrics["cv"]["logreg"]) >= {"mean", "std"}
    assert all(
        {"train_accuracy", "test_accuracy", "test_macro_f1", "overfit"} <= set(r) for r in metrics["models"].values()
    )
    card = (out / "model_card.md").read_text()
    assert metrics["data"]["sha256"] in card and "scikit-learn" in card
    html = (out / "report.html").read_text()
    for section in (
        "Class distribution",
        "Per-mood mean",
        "Learning curve",
        "Confusion matrix",
        "odds ratio",
        "Permutation importance",
    ):
        assert section.lower() in html.lower()
    assert html.count("data:image/png;base64,") >= 8


def test_saved_model_reproduces_test_scores(trained):
    """Loading the folder gives the same predictions the trained model made: recompute the test accuracy."""
    from trackscope.evaluation import stratified_split
    from trackscope.sources.tables import read_table

    m = trained["metrics"]
    table = read_table(trained["data"]).require(m["features"], "mood")
    _, te = stratified_split(table.y(), test_size=0.33, seed=42)
    pipe = load_model_dir(m["out"]).load_sklearn("pipeline")
    assert np.mean(pipe.predict(table.X()[te]) == table.y()[te]) == m["test"]["accuracy"]


def test_every_family_round_trips_through_skops(tmp_path):
    from sklearn.ensemble import VotingClassifier

    from trackscope.models.tabular import search_space

    frame = example_table(60, seed=3)
    x, y = frame[["energy", "valence", "tempo", "loudness"]].to_numpy(), frame["mood"].to_numpy()
    small = {"mlp": {"clf__max_iter": 200}, "rf": {"clf__n_estimators": 10}, "gbm": {"clf__max_iter": 10}}
    members = [
        (n, search_space(n, n_features=4, n_classes=5)[0].set_params(**small.get(n, {})).fit(x, y))
        for n in ("logreg", "mlp", "svm", "rf", "gbm")
    ]
    fitted = dict(members)
    fitted["ensemble"] = VotingClassifier(members, voting="soft").fit(x, y)
    for name, est in fitted.items():
        w = ModelWriter(tmp_path / name, {"task": "mood", "input": "table"})
        w.add_sklearn("pipeline", est)
        again = load_model_dir(w.commit()).load_sklearn("pipeline")
        # a lossless round trip of the parameters, then the same code in this process: exact by construction
        np.testing.assert_array_equal(again.predict_proba(x), est.predict_proba(x))


def test_tampered_model_is_refused(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained["metrics"]["out"], copy)
    with open(copy / "pipeline.skops", "r+b") as fh:
        fh.seek(100)
        fh.write(b"X")
    with pytest.raises(ModelError, match="modified after saving"):
        api.predict(copy, data=trained["data"])


def test_evaluate_with_label_map_and_excluded_rows(trained, tmp_path):
    frame = example_table(80, seed=4)
    frame["mood"] = frame["mood"].map(
        {"Relaxing": "calm", "Dark": "SAD", "Happy": "happy", "Energetic": "Energetic", "Aggressive": "Weird"}
    )
    frame.to_csv(tmp_path / "other.csv", index=False)
    res = api.evaluate(trained["metrics"]["out"], data=tmp_path / "other.csv", label_map="calm=Relaxing, sad=Dark")
    assert {"accuracy", "macro_f1", "n", "per_class", "confusion"} <= set(res)
    assert res["excluded"] == 16 and res["excluded_labels"] == {"Weird": 16} and res["n"] == 64
    assert res["accuracy"] > 0.8
    # a class the table lacks has no per-class row (no 0.000s), but is named; the confusion matrix keeps it
    assert "Aggressive" not in res["per_class"] and res["absent_classes"] == ["Aggressive"]
    assert res["per_class"]["Relaxing"]["support"] == 16 and "Aggressive" in res["confusion"]["labels"]
    assert np.array(res["confusion"]["matrix"]).sum() == 64
    # every wrong row, named by the table's id, with the model's confidence: the same as predict gives
    wrong = res["misclassified"]
    assert len(wrong) == round((1 - res["accuracy"]) * 64)
    preds = api.predict(trained["metrics"]["out"], data=tmp_path / "other.csv").set_index("id")
    truth = {"calm": "Relaxing", "SAD": "Dark", "happy": "Happy", "Energetic": "Energetic"}
    labels = frame.set_index("id")["mood"]
    for m in wrong:
        assert set(m) == {"id", "true", "predicted", "confidence"}
        assert m["true"] == truth[labels[m["id"]]] != m["predicted"] == preds.loc[m["id"], "mood"]
        assert m["confidence"] == pytest.approx(preds.loc[m["id"], "confidence"])
    assert [m["confidence"] for m in wrong] == sorted((m["confidence"] for m in wrong), reverse=True)
    right = set(labels.index) - {m["id"] for m in wrong} - set(labels[labels == "Weird"].index)
    assert all(truth[labels[i]] == preds.loc[i, "mood"] for i in right)
    with pytest.raises(TableError, match="no label in column 'mood' matches the model's classes"):
        frame["mood"] = "unknown"
        frame.to_csv(tmp_path / "none.csv", index=False)
        api.evaluate(trained["metrics"]["out"], data=tmp_path / "none.csv")
    with pytest.raises(TrackscopeError, match="label-map"):
        api.evaluate(trained["metrics"]["out"], data=tmp_path / "other.csv", label_map="calm")


def test_predict_and_explain(trained, tmp_path):
    preds = api.predict(trained["metrics"]["out"], data=trained["data"])
    assert len(preds) == 150 and {"id", "mood", "confidence"} <= set(preds.columns)
    probs = preds[[c for c in preds.columns if c.startswith("p_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)  # float64 sums of ≤ 5 terms: ≤ 1e-15 off
    truth = pd.read_csv(trained["data"])["mood"]
    assert (preds["mood"] == truth).mean() > 0.85
    res = api.explain(trained["metrics"]["out"], data=trained["data"], row=3, out=tmp_path / "why")
    assert res["row"] == 3 and res["mood"] == preds.loc[3, "mood"]
    assert len(res["contributions"]) == 10 and (tmp_path / "why" / "explanation.png").is_file()
    with pytest.raises(TableError, match="row 999 is not in the table"):
        api.explain(trained["metrics"]["out"], data=trained["data"], row=999)


def test_bad_training_input(tmp_path, mood_csv):
    with pytest.raises(TableError, match="missing feature column 'nope'"):
        train(data=mood_csv, out=tmp_path / "m", features=["energy", "nope"], models=["logreg"])
    with pytest.raises(TrackscopeError, match="unknown model 'xgb'"):
        train(data=mood_csv, out=tmp_path / "m", models=["xgb"])
    with pytest.raises(TableError, match="unknown label column 'genre'"):
        train(data=mood_csv, out=tmp_path / "m", label="genre", models=["logreg"])
    assert not (tmp_path / "m").exists()


def test_metrics_match_sklearn_reference():
    from sklearn.metrics import accuracy_score, f1_score

    rng = np.random.default_rng(0)
    y = rng.choice(["a", "b", "c"], 200)
    p = np.where(rng.random(200) < 0.7, y, rng.choice(["a", "b", "c"], 200))
    m = classification_metrics(y, p, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(accuracy_score(y, p))
    assert m["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
    assert np.allclose(np.array(m["confusion"]["normalized"]).sum(axis=1), 1.0)


def test_misclassified_and_absent_classes():
    y = ["a", "b", "b", "c", "a"]
    p = ["a", "c", "b", "b", "b"]
    m = classification_metrics(y, p, ["a", "b", "c", "d"])  # the old call: ids and proba are optional
    assert m["absent_classes"] == ["d"] and set(m["per_class"]) == {"a", "b", "c"}
    assert m["confusion"]["labels"] == ["a", "b", "c", "d"] and len(m["confusion"]["matrix"]) == 4
    assert m["misclassified"] == [
        {"id": 1, "true": "b", "predicted": "c", "confidence": None},
        {"id": 3, "true": "c", "predicted": "b", "confidence": None},
        {"id": 4, "true": "a", "predicted": "b", "confidence": None},
    ]
    # probabilities in a column order of their own (an estimator's classes_), ids of any kind
    proba = np.array([[0.1, 0.9, 0.0], [0.2, 0.2, 0.6], [0.1, 0.1, 0.8], [0.3, 0.1, 0.6], [0.25, 0.05, 0.7]])
    m = classification_metrics(
        y, p, ["a", "b", "c"], ids=pd.Series(["s1", "s2", "s3", "s4", "s5"], index=[9, 8, 7, 6, 5]),
        proba=proba, proba_labels=["c", "a", "b"],
    )  # fmt: skip
    assert [(w["id"], w["confidence"]) for w in m["misclassified"]] == [("s5", 0.7), ("s4", 0.6), ("s2", 0.2)]
    one_d = classification_metrics(y, p, ids=[f"f{i}.mp3" for i in range(5)], proba=[0.9, 0.5, 0.8, 0.7, 0.6])
    assert [w["id"] for w in one_d["misclassified"]] == ["f3.mp3", "f4.mp3", "f1.mp3"]
    assert classification_metrics(y, y)["misclassified"] == []
    with pytest.raises(ValueError, match="ids has 2 items"):
        classification_metrics(y, p, ids=["x", "y"])
    json.dumps(m)  # plain Python values only


def test_label_helpers_and_learning_curve():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    assert parse_label_map("calm=Relaxing, Sad=Dark") == {"calm": "Relaxing", "sad": "Dark"}
    assert match_labels(["CALM", "happy", "x"], ["Relaxing", "Happy"], {"calm": "Relaxing"}) == [
        "Relaxing",
        "Happy",
        None,
    ]
    frame = example_table(100, seed=5)
    x, y = frame[["energy", "valence"]].to_numpy(), frame["mood"].to_numpy()
    lc = learning_curve(LogisticRegression(), x, y, StratifiedKFold(3), sizes=(0.5, 1.0))
    assert len(lc["sizes"]) == 2 and lc["sizes"][0] < lc["sizes"][1]


def test_grouped_split_keeps_groups_apart():
    from trackscope.evaluation import stratified_split

    frame = example_table(200, seed=6)
    tr, te = stratified_split(frame["mood"], test_size=0.33, seed=1, groups=frame["artist"])
    assert not set(frame["artist"].iloc[tr]) & set(frame["artist"].iloc[te])


# -- CLI ------------------------------------------------------------------------------------------------------------
runner = CliRunner()


def test_cli_train_json_is_one_object_and_exit_codes(tmp_path, mood_csv):
    res = runner.invoke(
        app, ["train", "mood", "--data", str(mood_csv), "--out", str(tmp_path / "m"), "--models", "logreg", "--json"]
    )
    assert res.exit_code == 0, res.stderr
    obj = json.loads(res.stdout)  # the whole of stdout is exactly one JSON object
    assert obj["chosen_model"] == "logreg" and obj["task"] == "mood"
    bad = runner.invoke(
        app,
        [
            "train",
            "mood",
            "--data",
            str(mood_csv),
            "--out",
            str(tmp_path / "m2"),
            "--features",
            "energy,nope",
            "--json",
        ],
    )
    assert bad.exit_code == 2 and bad.stdout == ""
    errors = [line for line in bad.stderr.splitlines() if line.startswith("trackscope: error:")]
    assert len(errors) == 1 and "missing feature column 'nope'" in errors[0] and str(mood_csv) in errors[0]
    missing = runner.invoke(
        app, ["train", "mood", "--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "x")]
    )
    assert missing.exit_code == 2 and "no such file" in missing.stderr


def test_cli_table_output_evaluate_and_predict(trained, tmp_path):
    out = str(trained["metrics"]["out"])
    res = runner.invoke(app, ["evaluate", out, "--data", str(trained["data"]), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["n"] == 150
    res = runner.invoke(app, ["predict", out, "--data", str(trained["data"]), "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0 and len(pd.read_csv(tmp_path / "p.csv")) == 150
    res = runner.invoke(app, ["evaluate", str(tmp_path / "nope"), "--data", str(trained["data"])])
    assert res.exit_code == 2 and "no such model folder" in res.stderr
    # the table output names the misclassified songs and leaves classes the data lacks out of the per-class table
    frame = example_table(60, seed=5)
    frame = frame[frame["mood"] != "Happy"].copy()
    flip = frame.index[:4]
    frame.loc[flip, "mood"] = np.where(frame.loc[flip, "mood"] == "Dark", "Relaxing", "Dark")  # surely wrong
    frame.to_csv(tmp_path / "flipped.csv", index=False)
    res = runner.invoke(app, ["evaluate", out, "--data", str(tmp_path / "flipped.csv")], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.stderr
    data = runner.invoke(app, ["evaluate", out, "--data", str(tmp_path / "flipped.csv"), "--json"])
    wrong = json.loads(data.stdout)["misclassified"]
    assert len(wrong) >= 4 and {frame.loc[i, "id"] for i in flip} <= {w["id"] for w in wrong}
    assert "Misclassified" in res.stdout and all(w["id"] in res.stdout for w in wrong)
    assert "Not in the data (no per-class scores): Happy" in res.stdout
    per_class = res.stdout.split("Per class")[1].split("Not in the data")[0]
    assert "Happy" not in per_class and "Dark" in per_class


def test_cli_demo_says_it_is_made_up(tmp_path, monkeypatch):
    from trackscope.cli import demo

    monkeypatch.setattr(demo, "DEMO_ROWS", 60)
    monkeypatch.setattr(demo, "DEMO_MODELS", ["logreg"])
    res = runner.invoke(app, ["demo", "--table", "--out", str(tmp_path / "d")])
    assert res.exit_code == 0, res.stderr
    assert "made up" in res.stderr and "not real music" in res.stderr
    assert (tmp_path / "d" / "mood-model" / "report.html").is_file() and "report.html" in res.stdout
