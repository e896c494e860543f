"""Does trackscope give the same answers on a CUDA GPU as on the CPU, and how much faster is it there?

Runs ``trackscope analyze --json`` on the same songs twice in fresh processes — once with the GPU hidden
(``CUDA_VISIBLE_DEVICES=""``: musicnn on the CPU) and once with it — from empty feature caches, then compares: the
same mood for every song, the largest difference in any class probability, arousal/valence, tempo and key; and times
musicnn's embedding of 30-s clips on both. Songs: the files in ``--music`` (freely licensed real music, e.g. from
``get-music-bank.sh``) plus synthetic songs made here. Writes ``gpu_check.json`` to ``--out``.

    python bench/gpu_check.py --music DIR --out OUT        # on a machine with a GPU (falls back to CPU-only)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 22_050


def _songs(folder: Path, n: int) -> list[Path]:
    import soundfile as sf

    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        seconds = 30.0 + 15.0 * i
        t = np.arange(int(seconds * SR)) / SR
        bpm = 70 + 25 * i
        beat = (np.sin(2 * np.pi * t * bpm / 60) > 0.95).astype(np.float32)
        root = 110.0 * 2 ** (i / 5)
        chord = sum(np.sin(2 * np.pi * root * r * t) for r in (1, 1.25 if i % 2 else 1.2, 1.5)) / 3
        y = 0.3 * chord * (0.6 + 0.4 * np.sin(2 * np.pi * t / 7)) + 0.2 * beat * rng.standard_normal(len(t))
        path = folder / f"synthetic{i}.wav"
        sf.write(path, y.astype(np.float32), SR)
        out.append(path)
    return out


def _analyze(paths: list[Path], env: dict[str, str], out: Path) -> tuple[dict, float]:
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "trackscope", "analyze", *map(str, paths), "--json", "--workers", "1", "--no-report"]
        + ["--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"analyze failed ({res.returncode}): {res.stderr[-2000:]}")
    return json.loads(res.stdout), seconds


def _embed_speed(device: str, paths: list[Path]) -> dict[str, float]:
    code = (
        "import json, sys, time\n"
        "from trackscope.audio.io import load_audio\n"
        "from trackscope.audio.musicnn import embed\n"
        "ys = [load_audio(p, sr=16000).samples[: 16000 * 30] for p in sys.argv[2:]]\n"
        "embed(ys[0], sr=16000, device=sys.argv[1])\n"
        "t0 = time.perf_counter()\n"
        "for _ in range(3):\n"
        "    for y in ys: embed(y, sr=16000, device=sys.argv[1])\n"
        "print(json.dumps({'clips': 3 * len(ys), 'seconds': time.perf_counter() - t0}))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, device, *map(str, paths)], capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        return {"error": res.stderr[-1500:]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out["clips_per_s"] = out["clips"] / out["seconds"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--music", type=Path, help="a folder of real songs to add")
    ap.add_argument("--synthetic", type=int, default=4)
    ap.add_argument("--out", type=Path, default=Path("."))
    args = ap.parse_args()

    import torch

    gpu = torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        paths = sorted(p for p in (args.music.iterdir() if args.music else []) if p.suffix in (".ogg", ".wav"))
        paths += _songs(tmp, args.synthetic)
        runs = {}
        for name, hide in (("cpu", True), ("cuda", False)):
            if name == "cuda" and not gpu:
                continue
            env = {**os.environ, "TRACKSCOPE_FEATURE_CACHE": str(tmp / f"cache-{name}"), "OMP_NUM_THREADS": "4"}
            if hide:
                env["CUDA_VISIBLE_DEVICES"] = ""
            runs[name] = _analyze(paths, env, tmp / f"analysis-{name}")
        report: dict = {
            "gpu": torch.cuda.get_device_name(0) if gpu else None,
            "torch": torch.__version__,
            "songs": [p.name for p in paths],
            "seconds": {k: round(v[1], 2) for k, v in runs.items()},
        }
        if "cuda" in runs:
            a, b = runs["cpu"][0]["songs"], runs["cuda"][0]["songs"]
            classes = runs["cpu"][0]["classes"]
            same = [x["mood"] == y["mood"] for x, y in zip(a, b, strict=True)]
            dp = max(abs(x[f"p_{c}"] - y[f"p_{c}"]) for x, y in zip(a, b, strict=True) for c in classes)
            dav = max(abs(x[k] - y[k]) for x, y in zip(a, b, strict=True) for k in ("arousal", "valence"))
            dw = max(
                abs(wx[f"p_{c}"] - wy[f"p_{c}"])
                for x, y in zip(a, b, strict=True)
                for wx, wy in zip(x["windows"], y["windows"], strict=True)
                for c in classes
            )
            report.update(
                same_mood=f"{sum(same)}/{len(same)}",
                max_abs_dp_song=dp,
                max_abs_dp_window=dw,
                max_abs_d_arousal_valence=dav,
                same_tempo_key=all(
                    x["tempo"] == y["tempo"] and x["key"] == y["key"] for x, y in zip(a, b, strict=True)
                ),
                moods={x["name"]: [x["mood"], y["mood"], round(x["confidence"], 4)] for x, y in zip(a, b, strict=True)},
            )
            clips = [p for p in paths][:6]
            report["embed_cpu"] = _embed_speed("cpu", clips)
            report["embed_cuda"] = _embed_speed("cuda", clips)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
