"""How long a person waits for `train mood --data` on the mood study's 913-row table, against the study's own notebook
workflow on the same table in the same run.

The peer is the notebook workflow as the study describes it (reconstructed: its code is not in ../shared): scaled
logistic regression with 5-fold CV and a grid on C, an MLP grid over hidden size and alpha (5-fold CV), and a
learning curve of the MLP — scikit-learn's `GridSearchCV` and `learning_curve`, one process (`n_jobs=None`, the
notebook's default). trackscope does more: six model families, an ensemble, a learning curve, permutation importance,
a held-out test split, the model folder with its report.

    .venv/bin/python bench/train_mood_speed.py [--skip-peer] [--repeat 1]

Prints wall seconds, CV and test accuracy, and the ratio trackscope / peer.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT.parent / "shared" / "data" / "tabular" / "moods_kvsingh_tracks2.csv"
FEATURES = [
    "energy", "liveness", "tempo", "speechiness", "acousticness",
    "instrumentalness", "danceability", "duration_ms", "loudness", "valence",
]  # fmt: skip


def peer() -> dict[str, float]:
    """The study's notebook workflow (see the module docstring)."""
    import warnings

    import numpy as np
    import pandas as pd
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, learning_curve, train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    warnings.simplefilter("ignore", ConvergenceWarning)
    df = pd.read_csv(TABLE)
    x, y = df[FEATURES].to_numpy(float), df["mood"].to_numpy()
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.33, random_state=42, stratify=y)
    t0 = time.perf_counter()
    lr = GridSearchCV(
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)),
        {"logisticregression__C": [0.001, 0.01, 0.1, 1, 10, 100, 1000]},
        cv=5,
    ).fit(x_tr, y_tr)
    mlp = GridSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(max_iter=2000, random_state=42)),
        {
            "mlpclassifier__hidden_layer_sizes": [(5,), (8,), (16,), (32,), (64,)],
            "mlpclassifier__alpha": [1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        },
        cv=5,
    ).fit(x_tr, y_tr)
    learning_curve(mlp.best_estimator_, x_tr, y_tr, cv=5, train_sizes=np.linspace(0.2, 1.0, 5))
    best = max((lr, mlp), key=lambda s: s.best_score_)
    return {
        "seconds": time.perf_counter() - t0,
        "cv": float(best.best_score_),
        "test": float(best.score(x_te, y_te)),
    }


def ours() -> dict[str, float]:
    from trackscope import api

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        m = api.train_mood(data=TABLE, out=Path(tmp) / "model")
        seconds = time.perf_counter() - t0
    chosen = m["chosen_model"]
    return {
        "seconds": seconds,
        "cv": float(m["models"][chosen]["cv_mean"]),
        "test": float(m["test"]["accuracy"]),
        "chosen": chosen,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from trackscope._machine import cpu_model

    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; table {TABLE.name}")
    rows = []
    for _ in range(args.repeat):
        if not args.skip_peer:
            rows.append(("study notebook (peer)", peer()))
        rows.append(("trackscope train mood", ours()))
    print(f"{'workflow':<24} {'seconds':>8} {'CV acc':>7} {'test acc':>8}  chosen")
    for name, r in rows:
        print(f"{name:<24} {r['seconds']:>8.1f} {r['cv']:>7.3f} {r['test']:>8.3f}  {r.get('chosen', '')}")
    if not args.skip_peer:
        ours_s = min(r["seconds"] for n, r in rows if n.startswith("trackscope"))
        peer_s = min(r["seconds"] for n, r in rows if n.startswith("study"))
        print(f"trackscope / peer wall time: {ours_s / peer_s:.2f}")


if __name__ == "__main__":
    main()
