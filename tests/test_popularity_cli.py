"""`trackscope train popularity` and the shared evaluate/predict commands on a popularity model."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from test_popularity import make_table
from trackscope.cli import app
from trackscope.constants import SPOTIFY_FEATURES


def test_cli_train_evaluate_predict_and_missing_column(tmp_path):
    runner = CliRunner()
    path = tmp_path / "t.csv"
    make_table(n=300).to_csv(path, index=False)
    out = tmp_path / "m"
    res = runner.invoke(
        app,
        [
            "train",
            "popularity",
            "--data",
            str(path),
            "--models",
            "dummy,logreg",
            "--group-column",
            "artist",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    metrics = json.loads(res.stdout)
    assert metrics["chosen_model"] == "logreg" and metrics["models"]["logreg"]["holdout_roc_auc"] > 0.75
    res = runner.invoke(app, ["evaluate", str(out), "--data", str(path), "--json"])
    assert res.exit_code == 0 and {"accuracy", "roc_auc", "n"} <= set(json.loads(res.stdout))
    lacking = tmp_path / "lacking.csv"
    make_table(n=20).drop(columns=["valence"]).to_csv(lacking, index=False)
    res = runner.invoke(app, ["predict", str(out), "--data", str(lacking)])
    assert res.exit_code == 2 and "needs column 'valence'" in res.output
    res = runner.invoke(
        app, ["train", "popularity", "--data", str(path), "--threshold", "high", "--out", str(tmp_path / "x")]
    )
    assert res.exit_code == 2 and "threshold" in res.output
    feats = ",".join(f for f in SPOTIFY_FEATURES if f != "valence")
    res = runner.invoke(
        app,
        [
            "train",
            "popularity",
            "--data",
            str(lacking),
            "--features",
            feats,
            "--models",
            "dummy",
            "--threshold",
            "40",
            "--no-metadata",
            "--out",
            str(tmp_path / "y"),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
