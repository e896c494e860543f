"""Hit potential of rap tracks for unseen artists, from Spotify tables: audio features alone vs + release metadata.

Data: ``../shared/data/tabular/popularity_tidytuesday_2020.csv`` (TidyTuesday 2020-01-21, Spotify songs), rows with
``playlist_genre == "rap"``; deduped as the study did; 75/15/10 splits grouped by artist, so test and holdout artists
never appear in training. Target from the issue: ROC-AUC ≥ 0.70 on unseen artists (audio features alone ≈ 0.64).

Usage: ``.venv/bin/python bench/popularity_tabular.py [--data PATH] [--seeds 0,1,2,3,4] [--threshold auto]``
Prints one table per configuration (audio features; + release metadata; + subgenre) and each one's holdout ROC-AUC
ratio against the audio features alone (same seeds, same splits, same run).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "tabular" / "popularity_tidytuesday_2020.csv"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(DEFAULT))
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--threshold", default="auto")
    ap.add_argument("--models", default="dummy,logreg,gbm,rf,mlp")
    args = ap.parse_args()

    import numpy as np
    import pandas as pd

    from trackscope import api

    raw = pd.read_csv(args.data, low_memory=False)
    rap = raw[raw["playlist_genre"] == "rap"]
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    rows = []
    # Three configurations: the audio features alone; + release metadata (year, month, date precision); + the
    # subgenre (playlist_subgenre here: the playlist style a track was found under — for your own songs, the style
    # you would file them under). Same seeds, same splits, same run.
    configs = {
        "audio": (False, rap.drop(columns=["playlist_subgenre"])),
        "audio+release": (True, rap.drop(columns=["playlist_subgenre"])),
        "audio+release+subgenre": (True, rap),
    }
    with tempfile.TemporaryDirectory() as tmp:
        print(f"{args.data}: {len(raw)} rows, rap {len(rap)} rows, {rap['track_artist'].nunique()} artists")
        for config, (metadata, table) in configs.items():
            path = Path(tmp) / f"{config}.csv"
            table.to_csv(path, index=False)
            for seed in seeds:
                t0 = time.perf_counter()
                m = api.train_popularity(
                    data=path,
                    group_column="artist",
                    threshold=args.threshold,
                    metadata=metadata,
                    models=models,
                    seed=seed,
                    out=Path(tmp) / f"m{seed}{config}",
                )
                for name, r in m["models"].items():
                    rows.append({"config": config, "seed": seed, "model": name, **r})
                print(
                    f"{config} seed={seed}: {m['data']['dedupe']} threshold {m['threshold']:g} "
                    f"({m['threshold_rule']['rule']}), popular share train "
                    f"{m['splits']['train']['popular_share']:.2f}, chosen {m['chosen_model']}, "
                    f"{time.perf_counter() - t0:.1f} s"
                )
                if metadata:
                    top = ", ".join(f"{r['feature']} {r['importance']:.3f}" for r in m["importance"][:4])
                    print(f"  permutation importance (test ROC-AUC drop): {top}")
    frame = pd.DataFrame(rows)
    summary = frame.groupby(["config", "model"], sort=False)[
        ["test_accuracy", "test_roc_auc", "holdout_accuracy", "holdout_roc_auc"]
    ].mean()
    pd.set_option("display.width", 140)
    print(f"\nMean over seeds {seeds} (threshold {args.threshold}, artist-grouped):")
    print(summary.round(3).to_string())
    print("\nBest model on test per configuration; its holdout ROC-AUC (unseen artists), ratio vs audio alone:")
    plain = None
    for config in configs:
        best = summary.loc[config].drop(index="dummy")["test_roc_auc"].idxmax()
        hold = summary.loc[(config, best), "holdout_roc_auc"]
        plain = hold if plain is None else plain
        per_seed = frame[(frame.config == config) & (frame.model == best)]["holdout_roc_auc"].to_numpy()
        print(
            f"  {config:<24} {best:<6} test {summary.loc[(config, best), 'test_roc_auc']:.3f} holdout {hold:.3f} "
            f"({hold / plain:.2f}x; target 0.70 {'met' if hold >= 0.70 else 'NOT met'}); per seed "
            f"{np.round(per_seed, 3).tolist()}"
        )


if __name__ == "__main__":
    main()
