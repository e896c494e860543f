"""Extraction speed on real music: trackscope vs the obvious librosa way vs the floor, one thread, same run.

Usage (run by hand; the data is read, never copied)::

    ../shared/scripts/get-music-bank.sh /tmp/bank small
    .venv/bin/python bench/extract_speed.py --bank /tmp/bank --fourq ../shared/data/audio/4q-dev --n-4q 40

Per 30-s clip (4Q clips whole; music-bank songs: their centre 30 s), one thread, interleaved per clip so that noise
from other users of the machine hits every method alike:

(a) trackscope: ``load_audio(centre 30 s)`` + ``describe_with_mel`` (every descriptor, one STFT) + log-mel
(b) librosa, the obvious way: ``librosa.load(sr=22050)``, melspectrogram + power_to_db, beat_track, rms,
    spectral centroid/bandwidth/rolloff/flatness/contrast, zero_crossing_rate, onset_strength + onset_detect,
    chroma_stft (+ key profile correlation), mfcc, effects.hpss — each call on ``y`` as a user would write it.
    (b′) the same without hpss (librosa's median filters dominate its time; reported separately to be fair).
    librosa has no LUFS/LRA: (b) does less work than (a) there.
(c) the floor: decode + resample (``load_audio``) + one STFT pass.

Also: peak RSS of one worker extracting a 10-minute song (a fresh subprocess; ``resource.getrusage``), librosa's
one-time import and numba JIT cost (excluded from its per-clip time), tempo/key agreement with librosa, and end-to-end
``extract()`` throughput with 1 and 2 worker processes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

CLIP = 30.0
SR = 22050


def clip_offset(path: Path) -> tuple[float, float]:
    import soundfile as sf

    total = sf.info(str(path)).duration
    return max(0.0, (total - CLIP) / 2), total


def ours(path: Path) -> dict:
    from trackscope.audio.descriptors import describe_with_mel
    from trackscope.audio.io import load_audio
    from trackscope.audio.mel import power_to_db

    a = load_audio(path, sr=SR, duration=CLIP, centre=True, side=True)  # side: stereo BS.1770 loudness, as extract
    d, mel = describe_with_mel(a.samples, SR, side=a.side)
    power_to_db(mel)
    return d


def floor(path: Path) -> None:
    from trackscope.audio.io import load_audio
    from trackscope.audio.mel import stft_power_blocks

    a = load_audio(path, sr=SR, duration=CLIP, centre=True)
    for _ in stft_power_blocks(a.samples):
        pass


KK_MAJOR = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
KK_MINOR = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)


def librosa_way(path: Path, *, hpss: bool = True) -> dict:
    import librosa
    import numpy as np

    offset, _ = clip_offset(path)
    y, sr = librosa.load(str(path), sr=SR, offset=offset, duration=CLIP)
    out: dict = {}
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr))
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    out["tempo"] = float(np.atleast_1d(tempo)[0])
    for name, f in (
        ("rms", librosa.feature.rms),
        ("zcr", librosa.feature.zero_crossing_rate),
    ):
        v = f(y=y)
        out[name] = (v.mean(), v.std())
    for name, f in (
        ("centroid", librosa.feature.spectral_centroid),
        ("bandwidth", librosa.feature.spectral_bandwidth),
        ("rolloff", librosa.feature.spectral_rolloff),
        ("flatness", librosa.feature.spectral_flatness),
        ("contrast", librosa.feature.spectral_contrast),
    ):
        v = f(y=y) if name == "flatness" else f(y=y, sr=sr)
        out[name] = (v.mean(axis=-1), v.std(axis=-1))
    env = librosa.onset.onset_strength(y=y, sr=sr)
    out["onset_rate"] = len(librosa.onset.onset_detect(onset_envelope=env, sr=sr)) / (len(y) / sr)
    chroma = librosa.feature.chroma_stft(y=y, sr=sr)
    c = chroma.mean(axis=1)
    scores = [
        (np.corrcoef(c, np.roll(prof, k))[0, 1], k, m) for m, prof in ((1, KK_MAJOR), (0, KK_MINOR)) for k in range(12)
    ]
    _, out["key"], out["mode"] = max(scores)
    mf = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    out["mfcc"] = (mf.mean(axis=1), mf.std(axis=1))
    del S
    if hpss:
        h, p = librosa.effects.hpss(y)
        eh, ep = float((h**2).sum()), float((p**2).sum())
        out["harmonic_ratio"] = eh / max(eh + ep, 1e-12)
    return out


def timed(f, *args, **kw) -> tuple[float, object]:
    t = time.perf_counter()
    r = f(*args, **kw)
    return time.perf_counter() - t, r


def memory_probe(path: Path, what: str) -> float:
    """Peak RSS (MB, VmHWM) of a fresh process that runs one store worker job on ``path``."""
    code = f"""
import os, tempfile, json
os.environ['OMP_NUM_THREADS'] = '1'
from trackscope.features.entries import compute as _compute
d = tempfile.mkdtemp()
job = {{"path": {str(path)!r}, "sha256": "x" * 64, "sr": {SR}, "mel_window": 30.0,
       "mel_file": os.path.join(d, "m.npy"), "desc_file": os.path.join(d, "d.json"), "desc_config": "bench"}}
import numpy, scipy.fft, scipy.signal, scipy.sparse, scipy.ndimage, soundfile, soxr  # baseline imports
def hwm():  # VmHWM: peak RSS of this process image (ru_maxrss would carry the parent's peak across exec)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
base = hwm()
if {what!r} == "work":
    res = _compute(job)
    assert res["ok"], res
print(json.dumps({{"base": base, "peak": hwm()}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def make_long_song(bank_files: list[Path], seconds: float, out: Path) -> Path:
    import numpy as np
    import soundfile as sf

    parts, total = [], 0.0
    for f in sorted(bank_files, key=lambda p: -sf.info(str(p)).duration):
        x, sr = sf.read(str(f), dtype="float32", always_2d=True)
        if sr != 44100 or x.shape[1] != 2:
            continue
        parts.append(x)
        total += x.shape[0] / sr
        if total >= seconds:
            break
    song = np.concatenate(parts)[: int(seconds * 44100)]
    # libsndfile's Vorbis writer puts each write() call's buffer on the stack: write in small blocks (one big
    # call segfaults)
    with sf.SoundFile(str(out), "w", 44100, 2, format="OGG", subtype="VORBIS") as fh:
        for i in range(0, song.shape[0], 1 << 15):
            fh.write(song[i : i + (1 << 15)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", type=Path, default=Path("/tmp/bank"), help="get-music-bank.sh folder")
    ap.add_argument("--fourq", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/audio/4q-dev")
    ap.add_argument("--n-4q", type=int, default=40, help="4Q clips to use (spread over the quadrants)")
    ap.add_argument("--n-bank", type=int, default=33)
    ap.add_argument("--skip-extract", action="store_true", help="skip the end-to-end extract() runs")
    args = ap.parse_args()

    import numpy as np
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    fourq = []
    for q in ("Q1", "Q2", "Q3", "Q4"):
        fourq += sorted((args.fourq / q).glob("*.mp3"))[: args.n_4q // 4]
    bank = sorted(p for p in args.bank.rglob("*") if p.suffix.lower() in (".ogg", ".opus", ".mp3", ".flac"))
    bank = bank[: args.n_bank]
    clips = [("4q", p) for p in fourq] + [("bank", p) for p in bank]
    print(f"{len(fourq)} 4Q mp3 clips + {len(bank)} music-bank songs (centre 30 s each); 1 thread; shared machine")
    print(f"host: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")

    t = time.perf_counter()
    import librosa  # noqa: F401
    import librosa.beat  # noqa: F401

    t_import = time.perf_counter() - t
    t_first, _ = timed(librosa_way, clips[0][1])  # first call: numba JIT
    ours(clips[0][1])
    floor(clips[0][1])

    rows = {k: [] for k in ("ours", "librosa", "librosa_nohpss", "floor")}
    agree = {"tempo": 0, "tempo_octave": 0, "key": 0, "n": 0}
    for _, p in clips:
        rows["floor"].append(timed(floor, p)[0])
        t_o, d = timed(ours, p)
        rows["ours"].append(t_o)
        t_l, ref = timed(librosa_way, p)
        rows["librosa"].append(t_l)
        rows["librosa_nohpss"].append(timed(librosa_way, p, hpss=False)[0])
        agree["n"] += 1
        if ref["tempo"] > 0 and d["tempo"] > 0:
            r = d["tempo"] / ref["tempo"]
            agree["tempo"] += abs(r - 1) < 0.04
            agree["tempo_octave"] += any(abs(r / m - 1) < 0.04 for m in (0.5, 1, 2, 1 / 3, 3))
        agree["key"] += (int(d["key"]), int(d["mode"])) == (int(ref["key"]), int(ref["mode"]))

    med = {k: float(np.median(v)) for k, v in rows.items()}
    print()
    print(f"{'method':<42}{'ms/clip (median)':>18}{'clips/s/core':>14}{'vs ours':>10}")
    labels = {
        "ours": "(a) trackscope mel + all descriptors",
        "librosa": "(b) librosa: load + mel + descriptor calls",
        "librosa_nohpss": "(b') librosa, same without hpss",
        "floor": "(c) floor: decode + resample + 1 STFT",
    }
    for k in ("ours", "librosa", "librosa_nohpss", "floor"):
        print(f"{labels[k]:<42}{1000 * med[k]:>18.1f}{1 / med[k]:>14.2f}{med[k] / med['ours']:>9.2f}×")
    print()
    print(
        f"speed-up over librosa: {med['librosa'] / med['ours']:.1f}× (without hpss: "
        f"{med['librosa_nohpss'] / med['ours']:.1f}×); trackscope / floor = {med['ours'] / med['floor']:.2f}"
    )
    for src in ("4q", "bank"):
        idx = [i for i, (s, _) in enumerate(clips) if s == src]
        if idx:
            o = np.median([rows["ours"][i] for i in idx])
            lb = np.median([rows["librosa"][i] for i in idx])
            fl = np.median([rows["floor"][i] for i in idx])
            print(f"  {src:>5}: ours {1000 * o:.0f} ms, librosa {1000 * lb:.0f} ms ({lb / o:.1f}×), ", end="")
            print(f"floor {1000 * fl:.0f} ms")
    print(
        f"librosa one-time costs (excluded above): import {t_import:.2f} s; first clip incl. numba JIT {t_first:.2f} s"
    )
    n = agree["n"]
    print(
        f"agreement with librosa on {n} clips: tempo within 4 % {agree['tempo']}/{n}, "
        f"within 4 % up to ×2/×3 {agree['tempo_octave']}/{n}; key+mode {agree['key']}/{n}"
    )

    with tempfile.TemporaryDirectory() as tmp:
        long_song = make_long_song(bank, 600.0, Path(tmp) / "ten_minutes.ogg")
        base = memory_probe(long_song, "base")
        work = memory_probe(long_song, "work")
        print(
            f"peak RSS, one worker, 10-minute 44.1-kHz stereo song (mel + descriptors): {work['peak']:.0f} MB "
            f"(after imports: {base['peak']:.0f} MB)"
        )
        if not args.skip_extract:
            from trackscope.features.store import extract

            runs = [("4Q clips", [p for s_, p in clips if s_ == "4q"], 1), ("4Q clips", None, 2)]
            runs.append(("all files (bank songs whole)", [p for _, p in clips], 1))
            for label, files, w in runs:
                files = files if files is not None else [p for s_, p in clips if s_ == "4q"]
                t = time.perf_counter()
                s = extract(files, Path(tmp) / f"store-{len(files)}-{w}", workers=w)
                dt = time.perf_counter() - t
                per = dt / max(s["done"], 1)
                print(
                    f"extract() end to end (hash, decode, analyse, write, tables), {label}, {w} worker(s): "
                    f"{s['done']} done, {s['failed']} failed in {dt:.1f} s = {s['done'] / dt:.2f} files/s "
                    f"({1000 * per:.0f} ms/file; librosa per clip / this = {med['librosa'] / per:.1f}×)"
                )
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
