"""Mood from Spotify features on real tables: the study's split, 5 split seeds, and a cross-dataset check.

Usage::

    OMP_NUM_THREADS=1 python bench/mood_tabular.py [DATA_DIR] [--seeds 0,1,2,3,4] [--json results.json]

``DATA_DIR`` defaults to ``../shared/data/tabular`` (relative to the repository). Reads, never copies:
``moods_kvsingh_tracks2.csv`` (the mood study's 913 tracks, 5 moods) and ``moods_cristobalvch.csv`` (another team's
playlists: Sad, Calm, Energetic, Happy).

1. Within the study's table (913 rows as the study used them): test accuracy of every family on the study's split
   (test_size 0.33, random_state 42, stratified) and the mean over split seeds 0–4, for three variants: standard
   scaling (trackscope's default), Yeo-Johnson power scaling, and power scaling plus engineered features. Peers in the
   same run: a plain random forest (scikit-learn defaults) and the study's 0.70.
2. Across teams: a model trained on one team's playlists scored on the other's (calm→Relaxing, sad→Dark; classes the
   model never learned are excluded), both directions; the peer is the target table's own within-dataset accuracy.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from trackscope.constants import SPOTIFY_FEATURES
from trackscope.evaluation import classification_metrics, cv_splitter, match_labels, stratified_split
from trackscope.models.tabular import DEFAULT_MODELS, choose, fit_models
from trackscope.sources.tables import read_table

STUDY = "moods_kvsingh_tracks2.csv"
OTHER = "moods_cristobalvch.csv"
STUDY_ACCURACY = 0.70
FEATURES = list(SPOTIFY_FEATURES)
VARIANTS = {  # name: (scaler, engineered features?, families: None = all)
    "standard": ("standard", False, None),
    "power": ("power", False, None),  # trackscope's default
    "power+eng": ("power", True, ["logreg", "svm", "rf", "ensemble"]),  # the cheap families: a check, not a sweep
}


def engineered(x: np.ndarray) -> np.ndarray:
    """Extra columns tried as feature engineering: arousal × valence terms, log duration, tempo folded to 80–160."""
    f = {name: x[:, i] for i, name in enumerate(FEATURES)}
    tempo = f["tempo"].copy()
    tempo[tempo < 80] *= 2
    tempo[tempo > 160] /= 2
    return np.column_stack(
        [
            x,
            f["energy"] * f["valence"],
            f["energy"] - f["valence"],
            f["danceability"] * f["valence"],
            np.log(np.maximum(f["duration_ms"], 1.0)),
            tempo,
            f["energy"] * (1 - f["acousticness"]),
        ]
    )


def ece(proba: np.ndarray, y_true: np.ndarray, classes: list[str], bins: int = 10) -> float:
    """Expected calibration error of the top-class probability (10 equal-width bins)."""
    conf = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == y_true
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            total += mask.mean() * abs(conf[mask].mean() - correct[mask].mean())
    return float(total)


def plain_rf(x_tr, y_tr, seed):
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(random_state=seed).fit(x_tr, y_tr)


MODELS = list(DEFAULT_MODELS)
CROSS_VARIANTS = ["power"]


def one_split(x, y, seed, scaler, models=None):
    """Every family on one stratified 67/33 split; returns {family: test accuracy, macro-F1}, the CV choice, ECE."""
    tr, te = stratified_split(y, test_size=0.33, seed=seed)
    cv = cv_splitter(y[tr], n_splits=5, seed=seed)
    results = fit_models(x[tr], y[tr], models=models or MODELS, cv=cv, seed=seed, scaler=scaler)
    chosen = choose(results)
    out = {}
    for r in results:
        m = classification_metrics(y[te], r.estimator.predict(x[te]))
        out[r.name] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "cv": r.cv_mean}
    out["chosen by CV"] = {**out[chosen.name], "name": chosen.name}
    classes = [str(c) for c in chosen.estimator.classes_]
    out["chosen by CV"]["ece"] = ece(chosen.estimator.predict_proba(x[te]), y[te], classes)
    for r in results:
        out[r.name]["ece"] = ece(r.estimator.predict_proba(x[te]), y[te], [str(c) for c in r.estimator.classes_])
    rf = plain_rf(x[tr], y[tr], seed)
    m = classification_metrics(y[te], rf.predict(x[te]))
    out["plain RF (peer)"] = {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}
    return out


def within(data_dir: Path, seeds: list[int], *, dedupe: bool = False) -> dict:
    # The study's 913 rows as it used them, or (dedupe=True) trackscope's default reading with duplicate ids dropped.
    table = read_table(data_dir / STUDY, dedupe="id" if dedupe else None).require(FEATURES, "mood")
    x, y = table.X(), table.y()
    n_dup = read_table(data_dir / STUDY).stats["duplicates_dropped"]
    how = f"{n_dup} duplicate ids dropped" if dedupe else f"{n_dup} duplicate ids kept, as the study did"
    print(f"\n## Within the study's table: {len(y)} rows ({how})", flush=True)
    runs: dict = {}
    for variant, (scaler, eng, families) in VARIANTS.items():
        xx = engineered(x) if eng else x
        for seed in [42, *seeds]:
            start = time.perf_counter()
            runs[(variant, seed)] = one_split(xx, y, seed, scaler, families)
            print(
                f"  {variant:10s} seed {seed:2d}: chosen {runs[(variant, seed)]['chosen by CV']['name']:8s} "
                f"test {runs[(variant, seed)]['chosen by CV']['accuracy']:.3f}  ({time.perf_counter() - start:.0f} s)",
                flush=True,
            )
    rows = []
    for variant, (_, _, families) in VARIANTS.items():
        for family in ["plain RF (peer)", *(families or MODELS), "chosen by CV"]:
            acc = [runs[(variant, s)][family]["accuracy"] for s in seeds]
            f1 = [runs[(variant, s)][family]["macro_f1"] for s in seeds]
            eces = [runs[(variant, s)][family].get("ece") for s in seeds]
            rf_mean = np.mean([runs[(variant, s)]["plain RF (peer)"]["accuracy"] for s in seeds])
            rows.append(
                {
                    "variant": variant,
                    "model": family,
                    "study split (42)": runs[(variant, 42)][family]["accuracy"],
                    "mean 0-4": float(np.mean(acc)),
                    "sd": float(np.std(acc)),
                    "macro-F1 0-4": float(np.mean(f1)),
                    "vs plain RF": float(np.mean(acc) / rf_mean),
                    "vs study 0.70": float(np.mean(acc) / STUDY_ACCURACY),
                    "ECE": float(np.mean(eces)) if all(e is not None for e in eces) else None,
                    "chosen": [runs[(variant, s)]["chosen by CV"]["name"] for s in seeds]
                    if family == "chosen by CV"
                    else None,
                }
            )
    print_rows(
        rows,
        [
            "variant",
            "model",
            "study split (42)",
            "mean 0-4",
            "sd",
            "macro-F1 0-4",
            "vs plain RF",
            "vs study 0.70",
            "ECE",
        ],
    )
    chosen = [r for r in rows if r["model"] == "chosen by CV"]
    for r in chosen:
        print(f"  {r['variant']}: CV chose {r['chosen']} on seeds {seeds}")
    return {"rows": rows}


def cross(data_dir: Path, seed: int = 42) -> dict:
    """Train on one team's table (all of it), score on the other's, both directions, every family."""
    a = read_table(data_dir / STUDY).require(FEATURES, "mood")
    b = read_table(data_dir / OTHER).require(FEATURES, "mood")
    shared = set(a.frame["id"]) & set(b.frame["id"])
    print(f"\n## Across teams ({len(shared)} track ids in both tables are left out of the scored side)", flush=True)
    directions = [
        ("study → other (5 moods)", a, b, None, {"calm": "Relaxing", "sad": "Dark"}),
        (
            "study → other (4 shared moods)",
            a,
            b,
            ["Relaxing", "Dark", "Energetic", "Happy"],
            {"calm": "Relaxing", "sad": "Dark"},
        ),
        ("other → study (4 moods)", b, a, None, {"relaxing": "Calm", "dark": "Sad"}),
    ]
    rows = []
    for name, src, dst, keep, mapping in directions:
        xs, ys = src.X(), src.y()
        if keep is not None:
            mask = np.isin(ys, keep)
            xs, ys = xs[mask], ys[mask]
        dst_mask = ~dst.frame["id"].isin(shared).to_numpy()
        xd, yd_raw = dst.X()[dst_mask], dst.y()[dst_mask]
        # The peer: the target table's own accuracy on the moods it shares with the source (same families, its own
        # stratified 67/33 split, seed 42) — what a model trained on the target's own playlists reaches.
        scoreable = np.array(match_labels(dst.y(), sorted(set(ys)), mapping), dtype=object)
        has = np.array([v is not None for v in scoreable])
        own = one_split(dst.X()[has], dst.y()[has], seed, "power")
        for variant in CROSS_VARIANTS:
            start = time.perf_counter()
            results = fit_models(xs, ys, models=MODELS, cv=cv_splitter(ys, seed=seed), seed=seed, scaler=variant)
            chosen = choose(results)
            classes = [str(c) for c in chosen.estimator.classes_]
            yd = np.array(match_labels(yd_raw, classes, mapping), dtype=object)
            ok = np.array([v is not None for v in yd])
            rf = plain_rf(xs, ys, seed)
            for r in [*results, None]:
                est = rf if r is None else r.estimator
                label = "plain RF (peer)" if r is None else r.name + (" (chosen)" if r is chosen else "")
                m = classification_metrics(yd[ok].astype(str), np.asarray(est.predict(xd[ok])).astype(str), classes)
                own_key = "plain RF (peer)" if r is None else r.name
                rows.append(
                    {
                        "direction": name,
                        "variant": variant,
                        "model": label,
                        "n": m["n"],
                        "excluded": int((~ok).sum()),
                        "accuracy": m["accuracy"],
                        "macro-F1": m["macro_f1"],
                        "target's own": own[own_key]["accuracy"],
                        "ratio": m["accuracy"] / own[own_key]["accuracy"],
                    }
                )
            print(f"  {name} [{variant}] done ({time.perf_counter() - start:.0f} s)", flush=True)
    print_rows(
        rows, ["direction", "variant", "model", "n", "excluded", "accuracy", "macro-F1", "target's own", "ratio"]
    )
    return {"rows": rows, "shared_ids": len(shared)}


def print_rows(rows: list[dict], cols: list[str]) -> None:
    widths = {c: max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        print("  ".join(fmt(r.get(c)).ljust(widths[c]) for c in cols))


def fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data_dir", nargs="?", default=str(here.parent / "shared" / "data" / "tabular"))
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--json", dest="json_out", default=None, help="Also write the results to this JSON file.")
    p.add_argument("--skip-cross", action="store_true")
    p.add_argument("--cross-standard", action="store_true", help="Also the standard-scaled variant across teams.")
    p.add_argument("--skip-within", action="store_true")
    p.add_argument("--dedupe", action="store_true", help="Drop duplicate ids first (trackscope's default reading).")
    p.add_argument("--variants", default=",".join(VARIANTS), help="Within-table variants to run.")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="Families (default: all).")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    data_dir = Path(args.data_dir)
    MODELS[:] = args.models.split(",")
    if args.cross_standard:
        CROSS_VARIANTS.insert(0, "standard")
    seeds = [int(s) for s in args.seeds.split(",")]
    start = time.perf_counter()
    for name in list(VARIANTS):
        if name not in args.variants.split(","):
            del VARIANTS[name]
    result = {} if args.skip_within else {"within": within(data_dir, seeds, dedupe=args.dedupe)}
    if not args.skip_cross:
        result["cross"] = cross(data_dir)
    print(f"\nTotal {time.perf_counter() - start:.0f} s (shared 2-core machine: timings are noisy).")
    if args.json_out:
        from trackscope._json import write_json_atomic

        write_json_atomic(args.json_out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
