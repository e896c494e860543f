"""Train (and optionally install) trackscope's built-in audio mood model on the 4Q emotion clips.

Reads ``../shared/data/audio/4q-dev`` (540 ~30-s clips, quadrants Q1–Q4, 400 artists), scores every model family by
artist-grouped 5-fold CV (no artist on both sides of a fold), and writes the model folder. ``--install`` copies it into
``src/trackscope/models/builtin/mood`` — the small head only, never the data (research-use licence).

    .venv/bin/python bench/train_builtin_mood.py [--data DIR] [--out DIR] [--install] [--models logreg,svm,...]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"
BUILTIN = ROOT / "src" / "trackscope" / "models" / "builtin" / "mood"

CARD_EXTRA = """## Data and licence
Trained on the 4Q audio emotion dataset (Panda, Malheiro & Paiva, "Novel audio features for music emotion
recognition", IEEE Trans. Affective Computing, 2018): 540 AllMusic 30-s previews, 135 per quadrant, 400 artists.
The audio is research-use only and is **not** shipped; this folder holds only the fitted classifier head.
Use the model's outputs accordingly (research use).

## What the classes mean
Quadrants of Russell's arousal–valence plane: Q1 happy/energetic (high arousal, positive valence), Q2
aggressive/tense (high arousal, negative valence), Q3 sad/dark (low arousal, negative valence), Q4 calm/relaxing
(low arousal, positive valence). trackscope reports arousal = P(Q1)+P(Q2)−P(Q3)−P(Q4) and
valence = P(Q1)+P(Q4)−P(Q2)−P(Q3), both in [−1, 1].

## Honest accuracy
The CV numbers above are artist-grouped: every clip is scored by a model that never heard its artist. The dataset's
authors report 76.4 % F1 with their 10-fold protocol (not artist-grouped) and their novel features."""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=Path("runs/builtin-mood"))
    ap.add_argument("--models", default=None)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workers", default="auto", help="processes for clip features (auto: one per core)")
    ap.add_argument("--install", action="store_true", help="copy the result into the package (builtin:mood)")
    args = ap.parse_args()

    from trackscope.report.mood_audio import write_model
    from trackscope.tasks.mood.audio import train

    t0 = time.perf_counter()
    done = [0]

    def progress(i: int, n: int) -> None:
        if i - done[0] >= 50 or i == n:
            done[0] = i
            print(f"  features {i}/{n}  ({time.perf_counter() - t0:.0f} s)", flush=True)

    trained = train(
        audio=args.data,
        labels=args.data / "labels.csv",
        id_column="song_id",
        label="quadrant",
        group_column="artist",
        models=args.models.split(",") if args.models else None,
        seed=args.seed,
        progress=progress,
        workers=args.workers if args.workers == "auto" else int(args.workers),
    )
    write_model(trained, args.out, overwrite=True, card_extra=CARD_EXTRA)
    metrics = trained.metrics
    print(f"done in {time.perf_counter() - t0:.0f} s")
    print(f"{'model':<10} {'CV macro-F1':>12} {'sd':>6} {'train':>6}  params")
    for name, r in metrics["cv"].items():
        print(f"{name:<10} {r['mean']:>12.3f} {r['std']:>6.3f} {r['train']:>6.3f}  {r['params']}")
    oof = metrics["oof"]
    print(
        f"chosen: {metrics['chosen_model']}; out-of-fold (artist-grouped) macro-F1 {oof['macro_f1']:.3f}, "
        f"accuracy {oof['accuracy']:.3f}, n {oof['n']}"
    )
    print(json.dumps(oof["per_class"], indent=1))
    if args.install:
        if BUILTIN.exists():
            shutil.rmtree(BUILTIN)
        shutil.copytree(args.out, BUILTIN)
        print(f"installed as builtin:mood in {BUILTIN}")


if __name__ == "__main__":
    main()
