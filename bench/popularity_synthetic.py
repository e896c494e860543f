"""The audio path learns a planted cue — the larger version of the CI test, and fp32 vs the CPU fast path.

Generated music-like clips (:mod:`trackscope.sources.synthetic_hits`): "popular" clips carry a bell at a fixed
pitch on a steady 5-Hz pulse, hidden among drums, chords, melody, noise and pitch-shifted decoy bells. The full
workflow runs (WAV files + labels.csv → feature store → 75/15/10 splits → auto threshold → training → holdout).

1. ``easy`` (the default cue level): every network at 128 mels; CNN and CRNN must reach ≥ 0.95 holdout ROC-AUC,
   the dummy exactly 0.5.
2. ``hard`` (a quieter cue): CNN1 and CRNN trained twice with the same seed, in plain fp32 and on the fast path
   (channels_last + bf16 autocast); the holdout scores show whether the fast path costs accuracy.

Usage: ``.venv/bin/python bench/popularity_synthetic.py [--n 320] [--seconds 5] [--epochs 8] [--work DIR]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")


def run(audio: Path, labels: Path, out: Path, models, *, epochs: int, fast, store: Path, seed: int = 0):
    from trackscope import api

    t0 = time.perf_counter()
    m = api.train_popularity(
        audio=audio, labels=labels, models=models, epochs=epochs, seed=seed, out=out, store=store,
        clip_seconds=float(args.seconds), n_mels=args.n_mels, fast=fast, patience=epochs,
    )  # fmt: skip
    return m, time.perf_counter() - t0


def main() -> None:
    global args
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=320)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--models", default="dummy,mlp,cnn1,cnn2,crnn")
    ap.add_argument("--hard-level", default="0.03,0.07", help="cue amplitude range of the hard set")
    ap.add_argument("--n-mels", type=int, default=128)
    ap.add_argument("--skip-hard", action="store_true")
    ap.add_argument("--skip-easy", action="store_true")
    ap.add_argument("--hard-models", default="cnn1,crnn")
    ap.add_argument("--hard-seeds", default="0", help="training seeds of the fp32 vs fast comparison")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()

    work = Path(args.work or tempfile.mkdtemp(prefix="popsynth-"))
    print(
        f"{args.n} clips × {args.seconds:g} s, {args.n_mels} mels, {args.epochs} epochs; work in {work}; machine shared"
    )
    if not args.skip_easy:
        easy_part(work)
    if not args.skip_hard:
        hard_part(work)


def easy_part(work: Path) -> None:
    from trackscope.sources.synthetic_hits import write_clips

    t0 = time.perf_counter()
    easy = write_clips(work / "easy", args.n, duration=args.seconds, seed=0)
    print(f"generated in {time.perf_counter() - t0:.1f} s")
    m, secs = run(work / "easy", easy, work / "m-easy", args.models.split(","), epochs=args.epochs, fast=None,
                  store=work / "store")  # fmt: skip
    print(f"\n[easy] threshold {m['threshold']:g} ({m['threshold_rule']['rule']}), {secs:.0f} s, "
          f"fast path {m['training'].get('fast')}")  # fmt: skip
    print(f"{'model':10} {'test acc':>8} {'test AUC':>8} {'hold acc':>8} {'hold AUC':>8} {'best ep':>7}")
    for name, r in m["models"].items():
        print(f"{name:10} {r['test_accuracy']:8.3f} {r['test_roc_auc']:8.3f} {r['holdout_accuracy']:8.3f} "
              f"{r['holdout_roc_auc']:8.3f} {r.get('best_epoch', ''):>7}")  # fmt: skip
    ok = all(m["models"][k]["holdout_roc_auc"] >= 0.95 for k in ("cnn1", "crnn") if k in m["models"])
    print(
        f"CNN1/CRNN ≥ 0.95 holdout ROC-AUC: {'yes' if ok else 'NO'}; dummy = {m['models']['dummy']['holdout_roc_auc']}"
    )


def hard_part(work: Path) -> None:
    from trackscope.sources.synthetic_hits import write_clips

    lo, hi = (float(v) for v in args.hard_level.split(","))
    hard = write_clips(work / "hard", args.n, duration=args.seconds, seed=1, cue_level=(lo, hi))
    from trackscope.features.clips import mel_config, mels_for
    from trackscope.sources.audio_dirs import walk_audio

    # Fill the feature store first, so that the timings below are training only.
    mels_for(
        walk_audio([work / "hard"])[0], mel_config(n_mels=args.n_mels, clip_seconds=args.seconds), store=work / "store"
    )
    print(f"\n[hard] cue level {lo}-{hi}: fp32 vs fast path (channels_last + bf16), same seed and data")
    print(
        f"{'model':6} {'seed':>4} {'mode':5} {'hold acc':>8} {'hold AUC':>8} {'test AUC':>8} {'best ep':>7} {'secs':>6}"
    )
    for name in args.hard_models.split(","):
        for seed in (int(v) for v in args.hard_seeds.split(",")):
            res = {}
            for fast in (False, True):
                mm, secs = run(work / "hard", hard, work / f"m-hard-{name}-{seed}-{fast}", ["dummy", name],
                               epochs=args.epochs, fast=fast, store=work / "store", seed=seed)  # fmt: skip
                r = mm["models"][name]
                res[fast] = (r, secs)
                mode = "fast" if fast else "fp32"
                print(f"{name:6} {seed:>4} {mode:5} {r['holdout_accuracy']:8.3f} {r['holdout_roc_auc']:8.3f} "
                      f"{r['test_roc_auc']:8.3f} {r['best_epoch']:>7} {secs:6.0f}")  # fmt: skip
            d = res[True][0]["holdout_roc_auc"] - res[False][0]["holdout_roc_auc"]
            print(f"{name:6} {seed:>4} fast − fp32 holdout ROC-AUC {d:+.3f}; "
                  f"time ratio fp32/fast {res[False][1] / res[True][1]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
