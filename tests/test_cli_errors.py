"""User mistakes get exit code 2 and one line naming the file and the reason — found by running the CLI as a user."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from trackscope.cli import app

runner = CliRunner()


def _one_error_line(res, *needles):
    assert res.exit_code == 2, (res.exit_code, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("trackscope: error:")]
    assert len(lines) == 1, res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_out_that_is_a_file_fails_before_training(tmp_path, mood_csv):
    (tmp_path / "taken.csv").write_text("x")
    res = runner.invoke(app, ["train", "mood", "--data", str(mood_csv), "--models", "logreg",
                              "--out", str(tmp_path / "taken.csv")])  # fmt: skip
    _one_error_line(res, "taken.csv", "existing file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moods.csv", "taken.csv"]  # nothing half-written


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A mood model trained once through the CLI on conftest's ``mood_csv`` table (copy it before changing it)."""
    from trackscope.sources.example import example_table

    folder = tmp_path_factory.mktemp("cli_errors")
    example_table(150, seed=1).to_csv(folder / "moods.csv", index=False)  # = conftest's mood_frame
    res = runner.invoke(app, ["train", "mood", "--data", str(folder / "moods.csv"), "--models", "logreg",
                              "--out", str(folder / "m")])  # fmt: skip
    assert res.exit_code == 0, res.stderr
    return folder / "m"


def test_predict_out_that_is_a_folder(tmp_path, mood_csv, trained_model):
    model = shutil.copytree(trained_model, tmp_path / "m")  # edited below
    (tmp_path / "adir").mkdir()
    res = runner.invoke(app, ["predict", str(model), "--data", str(mood_csv), "--out", str(tmp_path / "adir")])
    _one_error_line(res, "adir", "existing folder")
    # A hand-edited model.json (wrong task) is bad input, not a crash.
    meta = json.loads((model / "model.json").read_text())
    meta["task"] = "popularity"
    (model / "model.json").write_text(json.dumps(meta))
    res = runner.invoke(app, ["predict", str(model), "--data", str(mood_csv)])
    _one_error_line(res, "model.json lacks")


def test_predict_reports_rows_skipped_for_missing_features(tmp_path, mood_csv, trained_model):
    model = trained_model
    frame = pd.read_csv(mood_csv)
    frame.loc[3, "energy"] = None
    frame.to_csv(tmp_path / "holes.csv", index=False)
    res = runner.invoke(app, ["predict", str(model), "--data", str(tmp_path / "holes.csv"), "--json"])
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    assert data["skipped_missing"] == 1 and data["n"] == len(frame) - 1
    assert "1 rows with a missing feature were skipped" in res.stderr


def test_table_too_small_for_cross_validation(tmp_path, mood_frame):
    tiny = mood_frame.groupby("mood").head(4)
    tiny.to_csv(tmp_path / "tiny.csv", index=False)
    res = runner.invoke(app, ["train", "mood", "--data", str(tmp_path / "tiny.csv"), "--out", str(tmp_path / "m")])
    _one_error_line(res, "tiny.csv", "needs at least 5 training rows per class")


def test_popularity_table_too_small(tmp_path, mood_frame):
    small = mood_frame.head(7).assign(popularity=range(7))
    small.to_csv(tmp_path / "small.csv", index=False)
    res = runner.invoke(
        app, ["train", "popularity", "--data", str(tmp_path / "small.csv"), "--out", str(tmp_path / "p")]
    )
    _one_error_line(res, "small.csv", "needs at least 20")


def _work_must_not_start(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the work started before the outputs were checked")

    import trackscope.api as api
    import trackscope.features.store as store
    import trackscope.tasks.analyze as analyze

    monkeypatch.setattr(analyze, "analyze", fail)
    monkeypatch.setattr(store, "extract", fail)
    monkeypatch.setattr(api, "predict", fail)
    monkeypatch.setattr(api, "explain", fail)


def test_outputs_are_checked_before_any_work(tmp_path, mood_csv, monkeypatch):
    from audio_synth import sine, write

    song = write(tmp_path / "song.wav", sine(440, 2.0))
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder")
    _work_must_not_start(monkeypatch)

    res = runner.invoke(app, ["analyze", str(song), "--out", str(taken), "--workers", "1"])
    _one_error_line(res, "taken", "existing file")
    res = runner.invoke(app, ["analyze", str(song), "--out", str(taken / "sub"), "--json"])
    _one_error_line(res, str(taken / "sub"), "is an existing file")
    results = tmp_path / "results"
    (results / "analysis.json").mkdir(parents=True)  # a folder where a result file goes
    res = runner.invoke(app, ["analyze", str(song), "--out", str(results)])
    _one_error_line(res, "analysis.json", "existing folder")
    (results / "report.html").mkdir()
    (results / "analysis.json").rmdir()
    # without a report, report.html is not a result file: the check passes and the (stubbed, failing) work starts
    assert runner.invoke(app, ["analyze", str(song), "--out", str(results), "--no-report"]).exit_code == 1
    res = runner.invoke(app, ["analyze", str(song), "--out", str(results)])
    _one_error_line(res, "report.html", "existing folder")

    res = runner.invoke(app, ["extract", str(song), "--out", str(taken / "store")])
    _one_error_line(res, str(taken / "store"), "is an existing file")
    res = runner.invoke(app, ["predict", "builtin:mood", str(song), "--out", str(results)])
    _one_error_line(res, "results", "existing folder")
    res = runner.invoke(app, ["predict", "builtin:mood", str(song), "--out", str(taken / "p.csv")])
    _one_error_line(res, "p.csv", "existing file")
    res = runner.invoke(app, ["explain", "builtin:mood", str(song), "--out", str(taken)])
    _one_error_line(res, "taken", "existing file")
    res = runner.invoke(app, ["train", "mood", "--data", str(mood_csv), "--out", str(taken / "m")])
    _one_error_line(res, str(taken / "m"), "is an existing file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moods.csv", "results", "song.wav", "taken"]
    assert [p.name for p in results.iterdir()] == ["report.html"]  # nothing written anywhere
