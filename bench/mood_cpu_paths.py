"""Does the shipped mood model give the same answers on another CPU? Features computed afresh under each CPU code
path this machine can switch to, then ``builtin:mood`` on them.

Picks ``--per-class`` clips of each quadrant from 4q-dev (seeded; they are training clips of ``builtin:mood``, as in
issue 10's check), computes their features from the audio in a fresh subprocess per setting (a private feature
cache, so nothing comes from an earlier run or another machine) and compares classes and probabilities with the
default path. Settings: numpy's SIMD targets above baseline off (``NPY_DISABLE_CPU_FEATURES``; on an AVX-512
machine this reproduces an AVX2-only machine's numpy), torch's ``ATEN_CPU_CAPABILITY=default|avx2``, oneDNN's
``ONEDNN_MAX_CPU_ISA=AVX2``, and all of them at once. Also checks that ``evaluate``'s rows and ``predict``/``analyze``
(:func:`predict_song`) give the same mood for the same file (one window rule).

    .venv/bin/python bench/mood_cpu_paths.py [--per-class 10] [--classes Q1,Q2,Q3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"


def _npy_targets() -> str:
    from numpy._core._multiarray_umath import __cpu_dispatch__

    return " ".join(__cpu_dispatch__)


SETTINGS: dict[str, dict[str, str]] = {
    "default": {},
    "numpy-baseline": {"NPY_DISABLE_CPU_FEATURES": "__NPY__"},
    "aten-default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten-avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "onednn-avx2": {"ONEDNN_MAX_CPU_ISA": "AVX2"},
    "all-off": {
        "NPY_DISABLE_CPU_FEATURES": "__NPY__",
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    },
}


def worker(paths: list[str], out: str) -> None:
    """In the subprocess: fresh features and builtin:mood probabilities, per clip, through `evaluate`'s rows and
    through `predict_song` (what `predict` and `analyze` use)."""
    import torch

    from trackscope.features.song import clip_matrix, clip_proba
    from trackscope.models.persist import load_model_dir, resolve_model_path
    from trackscope.tasks.mood.audio import predict_song

    torch.set_num_threads(1)
    md = load_model_dir(resolve_model_path("builtin:mood"))
    pipe = md.load_sklearn("pipeline")
    classes = list(md.meta["classes"])
    rows = clip_matrix(paths, dict(md.meta["features"]))
    order = [list(pipe.classes_).index(c) for c in classes]
    proba = clip_proba(pipe.predict_proba(rows.x)[:, order], rows)
    via_predict = [predict_song(md, p)["song"] for p in paths]
    from trackscope._machine import machine

    Path(out).write_text(
        json.dumps(
            {
                "proba": proba.tolist(),
                "features": rows.x.astype(float).tolist(),
                "predict_mood": [r["mood"] for r in via_predict],
                "predict_proba": [[r[f"p_{c}"] for c in classes] for r in via_predict],
                "classes": classes,
                "torch_isa": torch.backends.cpu.get_cpu_capability(),
                "numpy_simd": " ".join(machine()["numpy_simd"] or []),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-class", type=int, default=10)
    ap.add_argument("--classes", default="Q1,Q2,Q3")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--worker", nargs=2, metavar=("PATHS_JSON", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(json.loads(Path(args.worker[0]).read_text()), args.worker[1])
        return
    import numpy as np
    import pandas as pd

    from trackscope._machine import cpu_model

    labels = pd.read_csv(DATA / "labels.csv")
    picked = []
    for q in args.classes.split(","):
        rows = labels[labels["quadrant"] == q].sample(args.per_class, random_state=args.seed)
        picked += [(str(DATA / q / f"{sid}.mp3"), q) for sid in rows["song_id"]]
    paths = [p for p, _ in picked]
    truth = [q for _, q in picked]
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "paths.json").write_text(json.dumps(paths))
        for name, env_extra in SETTINGS.items():
            env = {**os.environ, "OMP_NUM_THREADS": "1", "TRACKSCOPE_FEATURE_CACHE": str(Path(tmp) / name)}
            env.update({k: (_npy_targets() if v == "__NPY__" else v) for k, v in env_extra.items()})
            out = Path(tmp) / f"{name}.json"
            t0 = time.perf_counter()
            subprocess.run(
                [sys.executable, __file__, "--worker", str(Path(tmp, "paths.json")), str(out)], env=env, check=True
            )
            results[name] = json.loads(out.read_text())
            print(f"  {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    base = results["default"]
    classes = base["classes"]
    p0, f0 = np.asarray(base["proba"]), np.asarray(base["features"])
    pred0 = [classes[i] for i in p0.argmax(axis=1)]
    right = sum(a == b for a, b in zip(pred0, truth, strict=True))
    print(f"CPU: {cpu_model()} ({platform.machine()}); {len(paths)} training clips of builtin:mood")
    print(
        f"default path: {right}/{len(paths)} right; evaluate and predict agree on every clip: "
        f"{pred0 == base['predict_mood']} (max |Δp| {np.abs(p0 - np.asarray(base['predict_proba'])).max():.2g})"
    )
    head = f"{'setting':<16} {'torch ISA':<10} {'numpy SIMD':<27} {'same moods':>10}"
    print(f"{head} {'max |Δp|':>9} {'max |Δx|/|x|':>13}")
    for name, r in results.items():
        p, f = np.asarray(r["proba"]), np.asarray(r["features"])
        same = sum(a == b for a, b in zip([classes[i] for i in p.argmax(axis=1)], pred0, strict=True))
        rel = float((np.abs(f - f0) / np.maximum(np.abs(f0).max(axis=0), 1e-30)).max())
        print(
            f"{name:<16} {r['torch_isa']:<10} {r['numpy_simd'] or 'baseline':<27} {same:>7}/{len(paths):<2} "
            f"{np.abs(p - p0).max():>9.2g} {rel:>13.2g}"
        )


if __name__ == "__main__":
    main()
