"""Heads as arrays (trackscope.models.portable): the same probabilities as the scikit-learn pipeline they come from,
without importing scikit-learn to use them; anything without a portable form is refused, never approximated."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from trackscope.models.portable import PortableHead, export
from trackscope.models.preprocess import DropNearConstant


def _data(n=160, d=12, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.standard_normal((n, d)) + y[:, None] * 0.8
    x[:, 3] = 7.0  # a constant column: dropped by the first step
    return x, np.array([f"Q{k + 1}" for k in y])


@pytest.mark.parametrize(
    "clf, pca",
    [
        (LogisticRegression(max_iter=2000, C=0.3), False),
        (MLPClassifier((16,), alpha=1.0, max_iter=400, random_state=0), True),
        (MLPClassifier((8, 6), activation="tanh", max_iter=400, random_state=0), False),
    ],
)
def test_exported_head_reproduces_the_pipeline(clf, pca):
    x, y = _data()
    steps = [("drop", DropNearConstant()), ("scale", StandardScaler())]
    if pca:
        steps.append(("pca", PCA(n_components=0.95, svd_solver="full", whiten=True, random_state=0)))
    pipe = Pipeline([*steps, ("clf", clf)]).fit(x, y)
    arrays, spec = export(pipe, x)
    head = PortableHead(arrays, spec)
    fresh, _ = _data(40, seed=9)
    np.testing.assert_allclose(head.predict_proba(fresh), pipe.predict_proba(fresh), rtol=0, atol=1e-12)
    assert list(head.predict(fresh)) == list(pipe.predict(fresh))
    assert list(head.classes_) == list(pipe.classes_)
    np.testing.assert_allclose(head.center_, x.mean(axis=0))


def test_binary_logistic_regression():
    x, y = _data(classes=2)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(x, y)
    head = PortableHead(*export(pipe, x))
    np.testing.assert_allclose(head.predict_proba(x), pipe.predict_proba(x), atol=1e-12)


def test_steps_without_a_portable_form_are_refused():
    x, y = _data()
    svm = Pipeline([("scale", StandardScaler()), ("clf", SVC(probability=False))]).fit(x, y)
    assert export(svm, x) is None
    with pytest.raises(ValueError, match="version"):
        PortableHead({}, {"version": 99, "ops": [], "classes": []})


def test_using_a_head_imports_no_scikit_learn(tmp_path):
    x, y = _data()
    pipe = Pipeline([("drop", DropNearConstant()), ("clf", LogisticRegression(max_iter=1000))]).fit(x, y)
    arrays, spec = export(pipe, x)
    np.savez(tmp_path / "head.npz", **arrays)
    code = (
        "import json, sys, numpy as np\n"
        "from trackscope.models.portable import PortableHead\n"
        f"spec = json.loads({__import__('json').dumps(__import__('json').dumps(spec))})\n"
        f"head = PortableHead(dict(np.load({str(tmp_path / 'head.npz')!r})), spec)\n"
        "head.predict_proba(np.zeros((1, 12)))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'skops', 'scipy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
