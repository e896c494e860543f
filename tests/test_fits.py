"""How table models are fitted, scored and saved (issue 14): the fit runner gives the same models and scores in one
process or two, the learning curves drawn inside the search equal a separate learning curve, the ensemble made of
the members' refits is the fitted VotingClassifier, permutation importance is scikit-learn's, the compact skops
file is skops' own, and trees split between training values, never on one (a value on the data's grid must not
change a probability when it moves by rounding)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from trackscope.sources.example import example_table

FEATURES = ["energy", "valence", "tempo", "loudness"]


def _xy(n: int = 160, seed: int = 0, noise: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    frame = example_table(n, seed=seed, noise=noise)
    return frame[FEATURES].to_numpy(dtype=np.float64), frame["mood"].to_numpy()


@pytest.fixture()
def small_forests(monkeypatch):
    """Forests and boosting small enough for a test (the search's structure is what is tested)."""
    import trackscope.models.tabular as tabular

    real = tabular.search_space

    def small(name, **kw):
        pipe, grid = real(name, **kw)
        if name == "rf":
            pipe.set_params(clf__n_estimators=15)
        if name == "gbm":
            pipe.set_params(clf__max_iter=15)
        return pipe, grid

    monkeypatch.setattr(tabular, "search_space", small)
    return small


def test_permutation_importance_is_scikit_learns():
    from sklearn.inspection import permutation_importance as sk_importance

    from trackscope.evaluation import permutation_importance
    from trackscope.models.tabular import search_space

    x, y = _xy(160, seed=1)
    for family in ("logreg", "rf"):
        est = search_space(family, n_features=4, n_classes=5)[0]
        if family == "rf":
            est.set_params(clf__n_estimators=20)
        est.fit(x[:100], y[:100])
        ours = permutation_importance(est, x[100:], y[100:], n_repeats=7, seed=3)
        ref = sk_importance(est, x[100:], y[100:], n_repeats=7, random_state=3, scoring="accuracy")
        np.testing.assert_array_equal(ours["importances"], ref.importances)
        np.testing.assert_array_equal(ours["importances_mean"], ref.importances_mean)
        assert ours["importances_mean"].max() > 0.05  # a planted signal: some column matters
        split = permutation_importance(est, x[100:], y[100:], n_repeats=7, seed=3, columns=[2, 0])
        np.testing.assert_array_equal(split["importances"], ref.importances[[2, 0]])


def test_vote_of_refitted_members_is_the_fitted_voting_classifier(tmp_path):
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier

    from trackscope.models.persist import ModelWriter, load_model_dir
    from trackscope.models.tabular import prefit_vote, search_space

    x, y = _xy(160, seed=2)
    small = {"rf": {"clf__n_estimators": 15}, "gbm": {"clf__max_iter": 15}, "mlp": {"clf__max_iter": 300}}
    members = [
        (n, search_space(n, n_features=4, n_classes=5)[0].set_params(**small.get(n, {})))
        for n in ("logreg", "mlp", "svm", "rf", "gbm")
    ]
    ref = VotingClassifier([(n, clone(e)) for n, e in members], voting="soft").fit(x[:120], y[:120])
    vote = prefit_vote([(n, clone(e).fit(x[:120], y[:120])) for n, e in members], y[:120])
    np.testing.assert_allclose(vote.predict_proba(x[120:]), ref.predict_proba(x[120:]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(vote.predict(x[120:]), ref.predict(x[120:]))
    assert list(vote.classes_) == list(ref.classes_)
    w = ModelWriter(tmp_path / "vote", {"task": "mood", "input": "table"})
    w.add_sklearn("pipeline", vote)
    again = load_model_dir(w.commit()).load_sklearn("pipeline")
    np.testing.assert_array_equal(again.predict_proba(x), vote.predict_proba(x))
    other = clone(members[0][1]).fit(x[:120], np.where(y[:120] == "Happy", "Dark", y[:120]))
    with pytest.raises(ValueError, match="learned classes"):
        prefit_vote([("a", vote.estimators_[0]), ("b", other)], y[:120])


def test_compact_skops_file_is_skops_format():
    import io
    import json
    import zipfile

    import skops.io as sio

    from trackscope.models.persist import skops_bytes
    from trackscope.models.tabular import search_space

    x, y = _xy(120, seed=3)
    est = search_space("rf", n_features=4, n_classes=5)[0].set_params(clf__n_estimators=5).fit(x, y)
    data, reference = skops_bytes(est), sio.dumps(est)
    ours, theirs = zipfile.ZipFile(io.BytesIO(data)), zipfile.ZipFile(io.BytesIO(reference))
    assert len(ours.namelist()) == len(theirs.namelist())  # the same arrays (named by object ids: names differ)
    schema, their_schema = json.loads(ours.read("schema.json")), json.loads(theirs.read("schema.json"))
    assert schema.keys() == their_schema.keys() and schema["__class__"] == their_schema["__class__"]
    assert len(ours.read("schema.json")) < len(theirs.read("schema.json")) / 1.5  # not indented
    assert sio.get_untrusted_types(data=data) == sio.get_untrusted_types(data=reference)
    data = skops_bytes(est)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(loaded.predict_proba(x), est.predict_proba(x))


def test_search_gives_the_same_models_in_one_process_or_two_and_its_curves_are_learning_curves(small_forests):
    from sklearn.base import clone
    from sklearn.ensemble import VotingClassifier

    from trackscope.evaluation import cv_splitter, learning_curve
    from trackscope.models.tabular import fit_models

    x, y = _xy(150, seed=4)
    cv = cv_splitter(y, n_splits=3, seed=1)
    models = ("logreg", "svm", "rf", "gbm", "ensemble")
    sizes = (0.5, 1.0)
    ticks: list[tuple[int, int]] = []
    one = fit_models(
        x, y, models=models, cv=cv, seed=1, n_jobs=1, curve_sizes=sizes, progress=lambda d, t: ticks.append((d, t))
    )
    two = fit_models(x, y, models=models, cv=cv, seed=1, n_jobs=2, curve_sizes=sizes)
    assert [r.name for r in one] == list(models)
    assert ticks[-1][0] == ticks[-1][1] and [d for d, _ in ticks] == list(range(len(ticks)))  # every fit counted once
    for a, b in zip(one, two, strict=True):
        assert (a.name, a.params, a.cv_scores, a.cv_train_scores, a.grid) == (
            b.name,
            b.params,
            b.cv_scores,
            b.cv_train_scores,
            b.grid,
        )
        assert a.curve == b.curve and a.train_accuracy == b.train_accuracy
        np.testing.assert_array_equal(a.estimator.predict_proba(x), b.estimator.predict_proba(x))
    by_name = {r.name: r for r in one}
    for r in one:
        if r.name == "ensemble":  # the vote refitted on each curve part, as a plain learning curve would
            est = VotingClassifier([(m.name, clone(m.estimator)) for m in one if m.name != "ensemble"], voting="soft")
        else:
            est = clone(r.estimator)
        full = {"train": r.cv_train_scores, "val": r.cv_scores}
        ref = learning_curve(est, x, y, cv, sizes=sizes, seed=1, n_jobs=1, full=full)
        for key in ref:
            np.testing.assert_allclose(r.curve[key], ref[key], rtol=0, atol=1e-12, err_msg=f"{r.name} {key}")
    assert by_name["ensemble"].curve["val_mean"][-1] == pytest.approx(np.mean(by_name["ensemble"].cv_scores))


def _gridded(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Made-up tracks with Spotify's three decimals: new rows land exactly halfway between training values."""
    frame = example_table(n, seed=seed, noise=2.0)
    x = frame[FEATURES].to_numpy(dtype=np.float64)
    return np.round(x, 3), frame["mood"].to_numpy()


def _value_shift(est, x: np.ndarray, draws: int = 8) -> np.ndarray:
    """Per row, the largest probability change when every value moves by ±1e-6 of itself (float32-path rounding)."""
    rng = np.random.default_rng(0)
    base = est.predict_proba(x)
    worst = np.zeros(len(x))
    for _ in range(draws):
        moved = x * (1.0 + rng.choice([-1.0, 1.0], size=x.shape) * 1e-6)
        worst = np.maximum(worst, np.abs(est.predict_proba(moved) - base).max(axis=1))
    return worst


@pytest.mark.parametrize("family", ["rf", "gbm"])
def test_trees_never_split_on_a_value_of_the_data_grid(family):
    from sklearn.pipeline import Pipeline

    from trackscope.models.tabular import search_space

    x, y = _gridded(700, seed=5)  # > 255 distinct values per column: boosting bins at quantiles
    fresh, _ = _gridded(400, seed=6)
    rows = np.vstack([x, fresh])
    small = {"rf": {"clf__n_estimators": 40}, "gbm": {"clf__max_iter": 40}}[family]
    est = search_space(family, n_features=4, n_classes=5)[0].set_params(**small).fit(x, y)
    assert [s for s, _ in est.steps] == ["drop", "bins", "clf"]
    assert _value_shift(est, rows).max() < 1e-3
    # the same model without the bins is moved by rounding: the check has teeth
    plain = Pipeline([est.steps[0], est.steps[2]]).fit(x, y)
    assert (_value_shift(plain, rows) >= 1e-3).sum() >= 3


def test_gap_bins_keep_order_put_no_edge_on_a_value_and_keep_nan():
    from trackscope.models.preprocess import GapBins

    rng = np.random.default_rng(7)
    col = np.round(rng.normal(size=1000), 3)
    x = np.column_stack([col, np.full(1000, 2.0), np.where(rng.random(1000) < 0.1, np.nan, col)])
    bins = GapBins().fit(x)
    codes = bins.transform(x)
    order = np.argsort(x[:, 0], kind="stable")
    assert np.all(np.diff(codes[order, 0]) >= 0)  # order-preserving
    assert len(np.unique(codes[:, 0])) == len(np.unique(x[:, 0]))  # one code per distinct value
    assert not np.isin(bins.edges_[0], x[:, 0]).any() and len(bins.edges_[1]) == 0
    assert np.isnan(codes[:, 2]).sum() == np.isnan(x[:, 2]).sum()
    capped = GapBins(max_bins=50).fit(x)
    assert len(np.unique(capped.transform(x)[:, 0])) <= 50
    counts = np.bincount(capped.transform(x)[:, 0].astype(int))
    assert counts.max() < 3 * 1000 / 50  # about equal numbers of rows
    with pytest.raises(ValueError, match="max_bins"):
        GapBins(max_bins=1).fit(x)
    with pytest.raises(ValueError, match="3 columns"):
        bins.transform(x[:, :2])


WORKER_SCRIPT = """
import numpy as np
from sklearn.ensemble import RandomForestClassifier
from trackscope.evaluation import fit_many
rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 10)); y = (X[:, 0] > 0).astype(int); idx = np.arange(2000)
print("fitting", flush=True)
fit_many([(RandomForestClassifier(n_estimators=300, random_state=i), idx, idx) for i in range(500)], X, y, n_jobs=2)
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_fit_workers_exit_when_their_parent_is_killed():
    proc = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT], stdout=subprocess.PIPE, text=True)
    everyone: list[int] = []
    try:
        assert proc.stdout.readline().strip() == "fitting"
        deadline = time.monotonic() + 60
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            time.sleep(0.5)
            workers = [c for c in _children(proc.pid) if "loky" in Path(f"/proc/{c}/cmdline").read_text()]
        assert len(workers) >= 2, "the fit workers did not start"
        everyone = _children(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(c) for c in everyone):
            time.sleep(0.25)
        assert not [c for c in everyone if _alive(c)], "worker processes outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
        for c in {*_children(proc.pid), *everyone}:  # a failed run's workers, re-parented: not left behind
            with contextlib.suppress(OSError):
                if "loky" in Path(f"/proc/{c}/cmdline").read_text():  # still ours (not a reused pid)
                    os.kill(c, signal.SIGKILL)


def test_a_worker_whose_parent_died_before_it_started_watching_leaves_at_once():
    """Under load a pool worker may still be importing when its parent is killed; by the time it starts watching it
    has been re-parented, so it is given its parent's pid by the parent and leaves when that is not its parent."""
    code = (
        "import os, time; from trackscope._workers import exit_with_parent; "
        "exit_with_parent(os.getppid()); print('watching', flush=True); "
        "exit_with_parent(os.getppid() + 100000); time.sleep(10); print('still here')"
    )
    t = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.split() == ["watching"]  # its real parent: it stays; another: it leaves
    assert time.monotonic() - t < 8
