"""Do musicnn's VGG features help mood? A probe on the 4Q clips, artist-grouped CV (run by hand).

    OMP_NUM_THREADS=1 .venv/bin/python bench/vgg_mood_probe.py [--data ../shared/data/audio/4q-dev] [--model MSD_vgg]
        [--seeds 42 0 1]

Same protocol as ``trackscope train mood --audio`` (``tasks/mood/audio.py``): the centre 30 s of every clip at
22.05 kHz, StandardScaler + LogisticRegression with C chosen from (0.001 … 0.1) by ``GridSearchCV`` over
``StratifiedGroupKFold(5, shuffle, seed 42)`` grouped by artist, macro-F1. It prints, per feature set, the best mean
CV score (what the built-in model's 0.718 is) and the out-of-fold macro-F1 at that C — both carry the same small
optimism from choosing C on the folds, so compare them across rows, not with a held-out number.

Feature sets: the built-in model's own vector (MSD_musicnn penultimate, mean_pool and taggram, mean and std over
patches, plus descriptors; read from trackscope's clip-feature cache, computed if missing); the VGG's per-patch
``pool5`` (256, the input of its tag layer), ``pool4``/``pool3`` summarised per channel (mean and max over time ×
bands, 256 each) and its taggram, each as mean and std over the clip's 3-s patches; and concatenations.
VGG features are cached in ``--work`` (an .npz keyed by the clip list and model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"
C_GRID = [0.001, 0.003, 0.01, 0.03, 0.1]
VGG_BLOCKS = ("pool5", "pool4", "pool3", "taggram")


def vgg_blocks(path: Path, model: str) -> dict[str, np.ndarray]:
    """Per-block clip vectors (mean and std over patches) of the centre 30 s."""
    from trackscope.audio.io import load_audio
    from trackscope.audio.musicnn import embed

    w = load_audio(path, sr=22050, duration=30.0, centre=True)
    out = embed(w.samples, sr=w.sr, model=model, layers=["taggram", "pool3", "pool4", "pool5"])
    per_patch = {"pool5": out["pool5"].reshape(len(out["pool5"]), -1), "taggram": out["taggram"]}
    for name in ("pool3", "pool4"):
        a = out[name]
        per_patch[name] = np.concatenate([a.mean(axis=(1, 2)), a.max(axis=(1, 2))], axis=1)
    return {k: np.concatenate([v.mean(axis=0), v.std(axis=0)]).astype(np.float32) for k, v in per_patch.items()}


def score(x: np.ndarray, y: np.ndarray, groups: np.ndarray, seed: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_val_predict
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=seed)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=3000, C=0.01))])
    grid = GridSearchCV(pipe, {"clf__C": C_GRID}, scoring="f1_macro", cv=cv, n_jobs=1)
    grid.fit(x, y, groups=groups)
    best = grid.best_estimator_
    oof = cross_val_predict(best, x, y, groups=groups, cv=cv, n_jobs=1)
    per_c = dict(zip(C_GRID, grid.cv_results_["mean_test_score"].round(4).tolist(), strict=True))
    return {
        "cv_mean": float(grid.best_score_),
        "cv_std": float(grid.cv_results_["std_test_score"][grid.best_index_]),
        "C": grid.best_params_["clf__C"],
        "oof_macro_f1": float(f1_score(y, oof, average="macro")),
        "by_C": per_c,
        "n_features": int(x.shape[1]),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--model", default="MSD_vgg")
    ap.add_argument("--work", type=Path, default=Path("/tmp/vgg"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[42], help="CV shuffles (42 is the built-in model's)")
    args = ap.parse_args()

    import torch

    from trackscope.features.cache import ClipCache
    from trackscope.features.song import clip_matrix, feature_config
    from trackscope.sources.audio_dirs import find_labelled_audio

    torch.set_num_threads(1)
    data = find_labelled_audio(args.data, args.data / "labels.csv", label="quadrant", group_column="artist")
    t0 = time.perf_counter()
    rows = clip_matrix(data.paths, feature_config(), cache=ClipCache())
    base, kept, failures = rows.x, rows.kept, rows.failures
    if failures or len(kept) != len(data.paths) or len(base) != len(kept):  # 4Q clips: one 30-s window each
        raise SystemExit(f"{len(failures)} clips failed: {failures[:3]}")
    print(f"built-in features {base.shape} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

    key = hashlib.sha256(json.dumps([args.model, *map(str, data.paths)]).encode()).hexdigest()[:12]
    store = args.work / f"vgg_features_{args.model}_{key}.npz"
    if store.is_file():
        with np.load(store) as z:
            blocks = {k: z[k] for k in VGG_BLOCKS}
    else:
        rows: dict[str, list] = {k: [] for k in VGG_BLOCKS}
        t0 = time.perf_counter()
        for i, path in enumerate(data.paths):
            for k, v in vgg_blocks(Path(path), args.model).items():
                rows[k].append(v)
            if (i + 1) % 60 == 0:
                print(f"  {args.model} {i + 1}/{len(data.paths)} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        blocks = {k: np.stack(v) for k, v in rows.items()}
        args.work.mkdir(parents=True, exist_ok=True)
        np.savez(store, **blocks)
    y, groups = np.array(data.labels), np.array(data.groups)

    v = args.model
    sets = {
        "built-in (MSD_musicnn + descriptors)": base,
        f"{v} pool5": blocks["pool5"],
        f"{v} taggram": blocks["taggram"],
        f"{v} pool5 + taggram": np.hstack([blocks["pool5"], blocks["taggram"]]),
        f"{v} pool4 + pool5 + taggram": np.hstack([blocks[k] for k in ("pool4", "pool5", "taggram")]),
        f"{v} pool3 + pool4 + pool5 + taggram": np.hstack([blocks[k] for k in VGG_BLOCKS]),
        f"built-in + {v} pool5": np.hstack([base, blocks["pool5"]]),
        f"built-in + {v} pool5 + taggram": np.hstack([base, blocks["pool5"], blocks["taggram"]]),
        f"built-in + {v} all": np.hstack([base, *(blocks[k] for k in VGG_BLOCKS)]),
    }
    results: dict = {}
    seeds = "/".join(map(str, args.seeds))
    print(f"{'features':<44} {'n':>5}  CV macro-F1 (seed {seeds})  OOF  C", file=sys.stderr)
    for name, x in sets.items():
        runs = [score(np.nan_to_num(x.astype(np.float64)), y, groups, seed) for seed in args.seeds]
        results[name] = {str(seed): r for seed, r in zip(args.seeds, runs, strict=True)}
        cvs = " / ".join(f"{r['cv_mean']:.3f}" for r in runs)
        oofs = " / ".join(f"{r['oof_macro_f1']:.3f}" for r in runs)
        mean = np.mean([r["cv_mean"] for r in runs])
        cs = "/".join(str(r["C"]) for r in runs)
        print(f"{name:<44} {x.shape[1]:>5}  {cvs} (mean {mean:.3f})  {oofs}  {cs}", file=sys.stderr)
    print(json.dumps({"data": str(args.data), "n": len(y), "seeds": args.seeds, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
