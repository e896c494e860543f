"""The foundation: fast CLI start-up, error handling, safe model folders."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from trackscope.errors import ModelError, TrackscopeError
from trackscope.models.persist import ModelWriter, load_model_dir


def test_help_does_not_import_heavy_stacks():
    code = (
        "import sys, trackscope.cli as c\n"
        "heavy = [m for m in ('torch', 'librosa', 'sklearn', 'numpy', 'pandas', 'scipy') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_help_runs_and_lists_commands():
    proc = subprocess.run([sys.executable, "-m", "trackscope", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for verb in ("train", "evaluate", "predict"):
        assert verb in proc.stdout


def test_version_flag():
    from trackscope import __version__

    proc = subprocess.run([sys.executable, "-m", "trackscope", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"trackscope {__version__}"


def test_error_is_one_line_with_path():
    err = TrackscopeError("bad\nthing   here", path="x.csv")
    assert str(err) == "x.csv: bad thing here"


def test_model_folder_round_trip_and_tamper(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
    w = ModelWriter(tmp_path / "m", {"task": "mood", "input": "table"})
    w.add_sklearn("pipeline", pipe)
    w.add_tensors("extra", {"a": np.arange(4, dtype=np.float32)})
    w.add_json("metrics.json", {"acc": np.float64(0.5)})
    out = w.commit()
    assert not list(tmp_path.glob(".m.tmp-*"))
    md = load_model_dir(out)
    assert md.task == "mood"
    again = md.load_sklearn("pipeline")
    # lossless round trips (skops, safetensors), then the same code in this process: exact by construction
    np.testing.assert_array_equal(again.predict_proba(x), pipe.predict_proba(x))
    np.testing.assert_array_equal(md.load_tensors("extra")["a"], np.arange(4, dtype=np.float32))
    # Tampering with any file is refused.
    with open(out / "pipeline.skops", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelError, match="modified after saving"):
        load_model_dir(out)


def test_model_folder_errors(tmp_path):
    with pytest.raises(ModelError, match="no such model folder"):
        load_model_dir(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="not a trackscope model folder"):
        load_model_dir(tmp_path / "empty")
    with pytest.raises(ModelError, match="no built-in model named"):
        load_model_dir("builtin:does-not-exist")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "model.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ModelError, match="not a trackscope model description"):
        load_model_dir(tmp_path / "bad")
