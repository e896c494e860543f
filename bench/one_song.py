"""One song answered at once (issue 14): ``trackscope predict``/``explain builtin:mood SONG`` wall time from a warm
cache, where that time goes, and the peak memory of one ``analyze`` process on a 10-minute song.

Run by hand::

    .venv/bin/python bench/one_song.py [--song FILE] [--rounds 3] [--before REV] [--skip-memory]

What it measures, all in this run:

1. **Wall and CPU time** of ``trackscope predict builtin:mood SONG`` and ``trackscope explain builtin:mood SONG``
   as subprocesses, best of ``--rounds`` after one warm-up run (weights cached, files in the page cache). With
   ``--before REV`` the same commands also run from that revision's ``src`` (``git archive`` into a temporary
   folder; nothing in the checkout changes), interleaved with ours so both see the same machine load, and the
   ratio is printed. CPU time (user + system) is printed beside wall time: on a shared 2-core machine it moves
   much less with the load than wall time does.
2. **The breakdown** of the same work in one Python process, timed with ``time.perf_counter``: interpreter start,
   imports (the CLI, numpy, torch, scipy's fft/sparse/ndimage, audio libraries), model load (the builtin model
   folder, its head, musicnn's weights and network), decode, embedding (musicnn's front end and network),
   descriptors (with loudness), head (the mood head and novelty), the explanation (explain only), printing and
   the interpreter's exit (its last garbage collection and teardown through torch's objects); best of
   ``--rounds`` fresh processes, per step. The remainder of the CLI's wall time over this sum is what the
   CLI adds (argument parsing, rich's console).
3. **Peak memory** (the kernel's high-water mark of resident memory, ``ru_maxrss`` from ``wait4``) of
   ``trackscope analyze LONG --no-report --workers 1`` and of the same with the report, LONG a 10-minute 44.1-kHz
   stereo WAV made in a temporary folder from real clips (``--data``, default ``../shared/data/audio/4q-dev``) or,
   without them, from synthetic music (never kept, never committed).
4. **What the imports that left the one-song path cost**: ``import scipy.signal`` (over the scipy parts still
   used), ``import pandas`` and ``import matplotlib.pyplot``, each in a fresh interpreter (best of ``--rounds``).

The one-song target is ≤ 3 s wall; the analyze target ≤ 450 MB. The load average is printed before and after:
on a busy machine read the CPU times and the before/after ratios rather than the absolute wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"
PYTHON = sys.executable
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", COLUMNS="100")

# The breakdown: run in a fresh interpreter (``python -c``), prints one JSON object of step → seconds.
BREAKDOWN = r"""
import json, os, sys, time
t_start = time.perf_counter()
steps = {}
def add(name, t):
    steps[name] = steps.get(name, 0.0) + t
command, song = sys.argv[1], sys.argv[2]
t = time.perf_counter()
import trackscope.cli  # typer, rich, the commands
add("imports: CLI (typer, rich)", time.perf_counter() - t)
t = time.perf_counter()
import numpy
add("imports: numpy", time.perf_counter() - t)
t = time.perf_counter()
import torch
add("imports: torch", time.perf_counter() - t)
t = time.perf_counter()
import scipy.fft, scipy.sparse, scipy.ndimage  # the descriptors' FFT, mel filterbank, onset filters
add("imports: scipy fft/sparse/ndimage", time.perf_counter() - t)
t = time.perf_counter()
import soundfile, soxr, safetensors.numpy, rich.table
from trackscope import api
import trackscope.tasks.mood.audio as mood_audio
import trackscope.features.song, trackscope.audio.descriptors, trackscope.audio.loudness, trackscope.audio.mel
import trackscope.audio.musicnn.embed, trackscope.audio.musicnn.model, trackscope.audio.musicnn.frontend
import trackscope.models.portable, trackscope.models.novelty, trackscope.tasks.mood.why
add("imports: trackscope, audio I/O", time.perf_counter() - t)
from trackscope._threads import keep_freed_memory
keep_freed_memory()  # as the CLI does

t = time.perf_counter()
model = api.load_model("builtin:mood")
md = model._md
mood_audio._load(md)  # the head (portable arrays)
mood_audio._novelty(md)
add("model load: builtin:mood folder, head", time.perf_counter() - t)
t = time.perf_counter()
from trackscope.audio.musicnn.embed import get_model, live_channels
get_model("MSD_musicnn")
live_channels("MSD_musicnn")
add("model load: musicnn weights + network", time.perf_counter() - t)

def timed(module, attr, name):
    inner = getattr(module, attr)
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return inner(*a, **k)
        finally:
            add(name, time.perf_counter() - t)
    setattr(module, attr, wrapper)

import trackscope.audio.io as audio_io
inner_windows = audio_io.iter_windows
def iter_windows(*a, **k):
    it = inner_windows(*a, **k)
    while True:
        t = time.perf_counter()
        try:
            w = next(it)
        except StopIteration:
            add("decode", time.perf_counter() - t)
            return
        add("decode", time.perf_counter() - t)
        yield w
audio_io.iter_windows = iter_windows
frontend = sys.modules["trackscope.audio.musicnn.frontend"]
embed_module = sys.modules["trackscope.audio.musicnn.embed"]  # the package's `embed` is the function
timed(frontend, "load", "embedding: front end (16 kHz, log-mel)")
timed(frontend, "spectrogram_patches", "embedding: front end (16 kHz, log-mel)")
timed(embed_module, "embed_patches", "embedding: musicnn network")
import trackscope.audio.descriptors as descriptors
timed(descriptors, "describe", "descriptors (incl. loudness)")
import trackscope.audio.loudness as loudness
timed(loudness, "integrated_loudness", "descriptors (incl. loudness)")
from trackscope.models.portable import PortableHead
timed(PortableHead, "predict_proba", "head (mood head, novelty)")
import trackscope.models.novelty as novelty
timed(novelty, "distance", "head (mood head, novelty)")

import io, contextlib
from trackscope.cli import models as cli_models
t = time.perf_counter()
if command == "predict":
    rows = mood_audio.predict_rows(md, songs=[song])
    total = time.perf_counter() - t
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        cli_models.print_frame(cli_models.in_natural_order(rows), title="Predictions")
    add("printing", time.perf_counter() - t)
else:
    timed(mood_audio, "why_song", "explanation (stretches)")
    result = mood_audio.explain(md, song=song).result
    total = time.perf_counter() - t
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        cli_models.print_why(result)
    add("printing", time.perf_counter() - t)
timed_parts = sum(v for k, v in steps.items() if not k.startswith(("imports", "model load", "printing")))
steps["other (windows, pooling, rows)"] = max(0.0, total - timed_parts)
steps["in-process total"] = time.perf_counter() - t_start
steps["_end"] = time.time()  # the parent's clock at our exit minus this: the interpreter's teardown
print(json.dumps(steps), flush=True)
"""


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def run_child(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> tuple[float, float, float, str]:
    """(wall s, CPU s, peak RSS MB, stdout) of one subprocess: CPU time from its rusage (wait4); the peak from its
    own memory's high-water mark (``VmHWM`` in /proc, read every 20 ms until it exits). Not wait4's ``ru_maxrss``:
    Linux carries the parent's high-water mark into a child across fork/exec, so after this script has grown
    (torch, scikit-learn in the breakdowns) every child reported this script's own peak."""
    import threading

    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, text=True)
    peak = [0]
    done = threading.Event()

    def watch() -> None:
        status = Path(f"/proc/{proc.pid}/status")
        while not done.is_set():
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]))
            except OSError:
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    out, err = proc.stdout.read(), proc.stderr.read()
    _, status, ru = os.wait4(proc.pid, 0)
    done.set()
    watcher.join()
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, (peak[0] or ru.ru_maxrss) / 1024, out


def before_tree(rev: str, tmp: Path) -> Path:
    """``rev``'s src folder, unpacked under ``tmp`` (git archive: the checkout is left alone)."""
    dest = tmp / "before"
    dest.mkdir()
    archive = tmp / "before.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "src"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def env_for(src: Path | None) -> dict[str, str]:
    env = dict(ENV)
    if src is not None:  # ahead of the editable install's path
        env["PYTHONPATH"] = str(src) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cli(*args: str) -> list[str]:
    return [PYTHON, "-m", "trackscope", *args]


def time_commands(song: Path, rounds: int, before: Path | None) -> dict[str, dict[str, list[float]]]:
    """Best-of wall and CPU seconds per (command, tree), the trees interleaved round by round."""
    trees = {"after": None} if before is None else {"before": before, "after": None}
    results: dict[str, dict[str, list[float]]] = {}
    for command in ("predict", "explain"):
        for src in trees.values():  # warm-up: page cache, weights, .pyc files
            run_child(cli(command, "builtin:mood", str(song)), env_for(src))
        for _ in range(rounds):
            for name, src in trees.items():
                wall, cpu, rss, _ = run_child(cli(command, "builtin:mood", str(song)), env_for(src))
                r = results.setdefault(f"{command} ({name})", {"wall": [], "cpu": [], "rss": []})
                r["wall"].append(wall)
                r["cpu"].append(cpu)
                r["rss"].append(rss)
    return results


def breakdown(song: Path, command: str, rounds: int) -> dict[str, float]:
    """Per step, the fastest of ``rounds`` fresh processes (each step's least disturbed run)."""
    best: dict[str, float] = {}
    for _ in range(rounds):
        _, _, _, out = run_child([PYTHON, "-c", BREAKDOWN, command, str(song)], env_for(None))
        steps = json.loads(out.strip().splitlines()[-1])
        steps["exit (interpreter teardown)"] = time.time() - steps.pop("_end")
        for k, v in steps.items():
            best[k] = min(best.get(k, v), v)
    start = min(run_child([PYTHON, "-c", "pass"], env_for(None))[0] for _ in range(rounds))
    return {"interpreter start": start, **best}


def import_costs(rounds: int) -> dict[str, tuple[float, float]]:
    """(best wall s, RSS MB) of fresh interpreters importing each set; the differences are what left the path."""
    sets = {
        "numpy": "import numpy",
        "scipy fft/sparse/ndimage (still used)": "import scipy.fft, scipy.sparse, scipy.ndimage",
        "… + scipy.signal (gone)": "import scipy.fft, scipy.sparse, scipy.ndimage, scipy.signal",
        "pandas (gone from predict/explain)": "import pandas",
        "matplotlib.pyplot (never on the path)": "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot",
        "sklearn + skops (never on the path)": "import sklearn.pipeline, skops.io",
    }
    out = {}
    for name, code in sets.items():
        runs = [run_child([PYTHON, "-c", code], env_for(None)) for _ in range(rounds)]
        out[name] = (min(r[0] for r in runs), min(r[2] for r in runs))
    return out


def long_song(tmp: Path, data: Path, seconds: float = 600.0) -> Path:
    """A 10-minute 44.1-kHz stereo WAV in ``tmp``: real clips end to end (from ``data``), else synthetic music."""
    import numpy as np
    import soundfile as sf
    import soxr

    sr = 44_100
    n = int(seconds * sr)
    parts, got = [], 0
    clips = sorted(data.glob("*/*.mp3")) if data.is_dir() else []
    for clip in clips[:: max(1, len(clips) // 40)]:
        y, clip_sr = sf.read(str(clip), dtype="float32", always_2d=True)
        y = np.repeat(y[:, :1], 2, axis=1) if y.shape[1] == 1 else y[:, :2]
        if clip_sr != sr:
            y = soxr.resample(y, clip_sr, sr)
        parts.append(y)
        got += len(y)
        if got >= n:
            break
    if got < n:  # no real clips here: synthetic music (tests/audio_synth.py), made stereo by a small delay
        sys.path.insert(0, str(ROOT / "tests"))
        from audio_synth import music_like

        mono = music_like(seconds, sr=sr)
        parts = [np.stack([mono, np.roll(mono, 40)], axis=1)]
    y = np.concatenate(parts)[:n]
    path = tmp / "ten-minutes.wav"
    sf.write(str(path), y, sr, subtype="PCM_16")
    return path


def peak_memory(song: Path, tmp: Path, before: Path | None) -> dict[str, tuple[float, float]]:
    """(peak RSS MB, wall s) of one analyze process, without and with the report, per tree."""
    trees = {"after": None} if before is None else {"before": before, "after": None}
    out = {}
    for report in (False, True):
        for name, src in trees.items():
            dest = tmp / f"analysis-{name}-{int(report)}"
            args = ["analyze", str(song), "--out", str(dest), "--workers", "1", *([] if report else ["--no-report"])]
            wall, _, rss, _ = run_child(cli(*args), env_for(src))
            out[f"analyze {'with' if report else 'without'} report ({name})"] = (rss, wall)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--song", type=Path, help="a ~30-s song (default: a 4Q clip, else synthetic music)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of real clips (4Q layout)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--before", help="a git revision to measure beside the checkout (e.g. the commit before a change)")
    ap.add_argument("--skip-memory", action="store_true", help="leave out the 10-minute analyze")
    args = ap.parse_args()
    print(f"load average at start: {load_average()} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="trackscope-one-song-") as name:
        tmp = Path(name)
        song = args.song
        if song is None:
            clips = sorted(args.data.glob("*/*.mp3")) if args.data.is_dir() else []
            if clips:
                song = clips[0]
            else:
                import soundfile as sf

                sys.path.insert(0, str(ROOT / "tests"))
                from audio_synth import music_like

                song = tmp / "song.wav"
                sf.write(str(song), music_like(30.0), 22_050)
        before = before_tree(args.before, tmp) if args.before else None
        print(f"song: {song}")

        print(f"\n## Wall and CPU time (best of {args.rounds}, warm cache)")
        results = time_commands(song, args.rounds, before)
        print("| command | wall s | CPU s | peak RSS MB |\n|---|---|---|---|")
        for key, r in results.items():
            print(f"| {key} | {min(r['wall']):.2f} | {min(r['cpu']):.2f} | {min(r['rss']):.0f} |")
        if before is not None:
            for command in ("predict", "explain"):
                b, a = results[f"{command} (before)"], results[f"{command} (after)"]
                print(
                    f"{command}: after/before wall {min(a['wall']) / min(b['wall']):.2f}, "
                    f"CPU {min(a['cpu']) / min(b['cpu']):.2f}"
                )

        for command in ("predict", "explain"):
            print(f"\n## Breakdown of `{command}` (one process, best of {args.rounds} per step)")
            steps = breakdown(song, command, args.rounds)
            total = steps.pop("in-process total")
            print("| step | s |\n|---|---|")
            for k, v in steps.items():
                print(f"| {k} | {v:.3f} |")
            print(f"| **sum of steps** | {sum(steps.values()):.3f} |")
            cli_best = min(results[f"{command} (after)"]["wall"])
            print(f"in-process {total:.2f} s (+ start and exit above); the CLI's best wall {cli_best:.2f} s")

        print(f"\n## What the imports that left the path cost (fresh interpreter, best of {args.rounds})")
        print("| import | wall s | RSS MB |\n|---|---|---|")
        for k, (wall, rss) in import_costs(args.rounds).items():
            print(f"| {k} | {wall:.2f} | {rss:.0f} |")

        if not args.skip_memory:
            print("\n## Peak memory of one analyze process on a 10-minute song")
            long = long_song(tmp, args.data)
            print("| run | peak RSS MB | wall s |\n|---|---|---|")
            for k, (rss, wall) in peak_memory(long, tmp, before).items():
                print(f"| {k} | {rss:.0f} | {wall:.1f} |")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"\nload average at end: {load_average()}; this script's own peak RSS {usage.ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
