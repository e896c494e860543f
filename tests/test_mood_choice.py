"""The table mood model's report, card and CLI describe the model that was saved, and state the choice rule — and
say so when the chosen model is flagged as overfitting."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from trackscope.cli import app
from trackscope.evaluation import OVERFIT_GAP, describe_choice
from trackscope.sources.example import example_table

runner = CliRunner()


def test_describe_choice_states_the_rule_and_flags_an_overfitting_choice():
    models = {
        "logreg": {"cv_mean": 0.70, "gap": 0.03, "overfit": False},
        "svm": {"cv_mean": 0.72, "gap": 0.06, "overfit": False},
        "rf": {"cv_mean": 0.74, "gap": 0.25, "overfit": True},
    }
    c = describe_choice(models, "rf")
    assert c["rule"].startswith("highest mean CV accuracy") and f"{OVERFIT_GAP:.2f}" in c["rule"]
    assert c["overfit"] and c["best_unflagged"] == "svm" and c["best_unflagged_cv"] == 0.72
    assert "rf is flagged as overfitting" in c["note"] and "0.25" in c["note"] and "svm, 0.720" in c["note"]
    assert describe_choice(models, "svm")["note"] is None
    alone = describe_choice({"rf": models["rf"]}, "rf", score="macro-F1")
    assert "macro-F1" in alone["rule"] and "Every model is flagged" in alone["note"]


def test_a_saved_forest_is_described_as_one_and_its_overfitting_is_said(tmp_path, monkeypatch):
    import trackscope.models.tabular as tabular
    import trackscope.tasks.mood.table as mood

    real = tabular.search_space

    def small_forest(name, **kw):  # 20 trees instead of 200: the test is about words, not accuracy
        pipe, grid = real(name, **kw)
        return (pipe.set_params(clf__n_estimators=20) if name == "rf" else pipe), grid

    monkeypatch.setattr(tabular, "search_space", small_forest)
    monkeypatch.setattr(mood, "LEARNING_SIZES", (0.5, 1.0))
    data = tmp_path / "noisy.csv"
    example_table(100, seed=1, noise=1.8).to_csv(data, index=False)
    out = tmp_path / "m"
    res = runner.invoke(app, ["train", "mood", "--data", str(data), "--models", "rf", "--out", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "rule: highest mean CV accuracy" in res.stdout
    assert "overfitting: rf is flagged as overfitting" in " ".join(res.stdout.split())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"]["rf"]["overfit"] and metrics["choice"]["overfit"]  # a forest memorises 100 rows
    assert metrics["odds_ratios"] == {} and metrics["interpretation"] == "permutation importance"
    assert metrics["chosen_family"].startswith("Random forest")
    card = (out / "model_card.md").read_text()
    assert "Random forest" in card and "**Choice rule:** highest mean CV accuracy" in card
    assert "**Overfitting:** rf is flagged as overfitting" in card and "not linear" in card
    report = (out / "report.html").read_text()
    assert "logistic" not in report.lower()  # no word of a model that was not saved
    assert "exp(coefficient)" not in report and "Top features per mood (odds ratios)" not in report
    assert "Saved model: rf — Random forest" in report and "permutation importance" in report.lower()
    assert "Overfitting: rf is flagged as overfitting" in report and "Choice rule: highest mean CV" in report


def test_a_saved_logistic_regression_is_explained_by_its_own_odds_ratios(tmp_path, mood_csv):
    from trackscope import api

    metrics = api.train_mood(data=mood_csv, out=tmp_path / "m", models=["logreg"], scaler="standard")
    assert metrics["chosen_model"] == "logreg" and metrics["odds_ratios"]
    assert metrics["interpretation"] == "odds ratios and permutation importance"
    report = (tmp_path / "m" / "report.html").read_text()
    assert "Odds ratios exp(coefficient) of the saved logistic regression" in report
    assert "the saved model is a logistic regression" in (tmp_path / "m" / "model_card.md").read_text()
    assert metrics["choice"]["note"] is None or metrics["choice"]["overfit"]
