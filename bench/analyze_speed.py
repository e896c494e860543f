"""Songs per second (per core) of ``trackscope analyze`` (no report) vs the obvious peer pipeline, same run.

Usage (run by hand; the clips are read, never copied; needs the peer's venv, see docs/speed.md)::

    python3 -m venv build/tfpeer && build/tfpeer/bin/pip install --no-deps musicnn==0.1.0 \\
      && build/tfpeer/bin/pip install tensorflow-cpu==2.16.2 "tf-keras==2.16.*" librosa soundfile "numpy<2" scikit-learn
    .venv/bin/python bench/analyze_speed.py [--n 60] [--data ../shared/data/audio/4q-dev] [--rounds 2] \\
      [--json-out /tmp/analyze_speed.json]

Clips: the first ``--n`` mp3s under ``--data`` in sorted path order (4Q: AllMusic 30-s previews, 16–44.1 kHz);
clip ``n + 1`` is the warm-up clip, never timed.

Pipelines, each in a fresh process per run (so every run starts from the same state):

* **trackscope, 1 process**: ``trackscope.api.analyze_songs(clips, workers=1)`` — what ``trackscope analyze CLIPS
  --no-report --workers 1`` does (decode, musicnn MSD embedding of every window, descriptors: tempo, key, loudness;
  the ``builtin:mood`` head, arousal/valence, per-window moods, the "why" of each song) — with one thread
  (OMP/BLAS/torch at 1). ``analyze`` computes every song's features afresh (it reads no feature cache); to be
  sure, ``TRACKSCOPE_FEATURE_CACHE`` and ``TRACKSCOPE_CACHE`` point at an empty folder for every run (the converted
  musicnn weights are linked in from the real cache, so no network) and the JSON records that it stayed empty.
* **peer, 1 process**: ``bench/_analyze_speed_peer.py`` under ``--peer-python`` (its own venv: musicnn 0.1.0,
  tensorflow-cpu 2.16.2, librosa, scikit-learn): musicnn's own ``batch_data`` (``librosa.load(sr=16000)`` + mel +
  patches), musicnn's graph built once and reused, mean-pooled penultimate + taggram, a scikit-learn scaler +
  logistic regression ``predict_proba``; TensorFlow intra/inter-op threads 1, OMP 1.
* **2 processes** (each side): the clips dealt alternately to two such processes, started together once both are
  warm; wall time until the last one is done.
* **Pinned**: every process of those rows runs on one core of its own (``sched_setaffinity``; ``--no-pin`` turns it
  off). Without it "one process, one thread" is not one core for the peer: TensorFlow runs the graph's parallel
  branches in its caller thread and its one inter-op thread at once (measured: two threads busy, ~1.5 cores, CPU time
  above wall time), so songs/s per process would overstate its per-core speed. Pinned, both sides get exactly one
  core per process; the same work (its CPU seconds do not change).
* **trackscope, workers="auto"**: ``analyze_songs(clips, workers="auto")`` in one process (it spawns one
  single-threaded worker per core — 2 here); its time *includes* starting those workers (~2 s each: torch and the
  model), which the warm "2 processes" rows do not pay.

Timing: each process imports, loads its model and analyses the warm-up clip, then says it is ready; the clock runs
from "go" to the last song's result (the peer's includes its ``predict_proba``). The start-up (process launch to
ready) is reported apart. The machine may be shared: every pipeline runs ``--rounds`` times, interleaved, the order
reversed every other round; the table gives the best (least disturbed) and the median run and the load average. Also
CPU seconds per song (user + system of every process of the side, analyze's worker processes included): on a shared
machine they move far less than wall time, so their ratio is the per-core comparison least disturbed by other work.
songs/s/core = songs/s ÷ processes (1 or 2). Ratio = trackscope's songs/s ÷ the peer's (1 process vs 1 process, 2 vs
2, auto vs the peer's 2). Sanity: every run must analyse every clip; the top musicnn tag per song is compared
between the two sides (same model, MSD_musicnn, taggram averaged over the song's 3-s patches).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"
DEFAULT_PEER = ROOT / "build" / "tfpeer" / "bin" / "python"
PEER_MODEL = "MSD_musicnn"  # the network behind builtin:mood's features
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def pick_clips(data: Path, n: int) -> tuple[list[Path], Path]:
    """The first ``n`` audio clips in sorted path order, and the next one for warming up."""
    clips = sorted(p for p in data.rglob("*") if p.suffix.lower() in (".mp3", ".wav", ".flac", ".ogg"))
    if len(clips) < n + 1:
        raise SystemExit(f"{data} holds {len(clips)} clips; --n {n} needs {n + 1} (one to warm up)")
    return clips[:n], clips[n]


# ---------------------------------------------------------------------------------------------------------------
# the trackscope child (this script run with --child)


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (analyze's worker processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def child(list_file: str, warm: str, workers: str) -> int:
    """Same protocol as the peer worker: warm up, print ready, wait for "go", analyse, print one JSON line."""
    from trackscope.api import analyze_songs

    paths = [line.strip() for line in Path(list_file).read_text(encoding="utf-8").splitlines() if line.strip()]
    analyze_songs([warm], workers=1)  # imports, mood head, musicnn weights, first-call costs
    import torch

    print(json.dumps({"ready": time.time(), "torch_threads": torch.get_num_threads()}), flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    t_go, cpu_go = time.time(), cpu_seconds()
    res = analyze_songs(paths, workers=int(workers) if workers.isdigit() else workers)
    t_done, cpu_done = time.time(), cpu_seconds()
    songs = res.result["songs"]
    print(
        json.dumps(
            {
                "t_go": t_go,
                "t_done": t_done,
                "cpu_s": cpu_done - cpu_go,
                "songs": len(songs),
                "failures": [f"{f['path']}: {f['reason']}" for f in res.result["failures"]],
                "top_tags": {s["path"]: s["top_tags"][0]["tag"] for s in songs if s.get("top_tags")},
                "torch_threads": torch.get_num_threads(),
            }
        ),
        flush=True,
    )
    return 0


# ---------------------------------------------------------------------------------------------------------------
# the parent


class Proc:
    """One child process of either side; ``ready()`` waits for its warm-up, ``finish()`` for its result."""

    def __init__(
        self,
        cmd: list[str],
        tail: list[str],
        env: dict[str, str],
        clips: list[Path],
        tmp: Path,
        tag: str,
        core: int | None,
    ) -> None:
        self.list_file = tmp / f"{tag}.txt"
        self.list_file.write_text("".join(f"{c}\n" for c in clips), encoding="utf-8")
        self.err = open(tmp / f"{tag}.err", "w+", encoding="utf-8")  # noqa: SIM115 — closed in finish()
        self.t_launch = time.time()
        self.proc = subprocess.Popen(
            [*cmd, str(self.list_file), *tail],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
            env=env,
            preexec_fn=None if core is None else (lambda: os.sched_setaffinity(0, {core})),
        )

    def _line(self) -> dict:
        line = self.proc.stdout.readline()
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            self.proc.kill()
            self.err.seek(0)
            raise SystemExit(f"a child failed ({self.proc.args}):\n{line}\n{self.err.read()[-3000:]}") from None

    def ready(self) -> dict:
        self.ready_msg = self._line()
        return self.ready_msg

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def finish(self) -> dict:
        out = self._line()
        self.proc.stdin.close()
        self.proc.wait(timeout=120)
        self.err.close()
        return out


def fresh_cache(tmp: Path, weights: Path) -> dict[str, str]:
    """An empty trackscope cache + feature cache, with the converted musicnn weights linked in."""
    cache, feats = tmp / "cache", tmp / "features"
    cache.mkdir()
    feats.mkdir()
    (cache / weights.name).symlink_to(weights, target_is_directory=True)
    return {"TRACKSCOPE_CACHE": str(cache), "TRACKSCOPE_FEATURE_CACHE": str(feats)}


def run_once(kind: str, procs: int, clips: list[Path], warm: Path, args: argparse.Namespace, weights: Path) -> dict:
    """One timed run of one pipeline; returns seconds, start-up, load average and the children's answers."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="analyze-speed-") as td:
        tmp = Path(td)
        env = dict(os.environ, **ONE_THREAD)
        if kind == "peer":
            env.update(TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
            cmd = [args.peer_python, str(ROOT / "bench" / "_analyze_speed_peer.py"), PEER_MODEL, "1"]
            tail = [str(warm)]  # the clip list goes between cmd and tail
        else:
            env.update(fresh_cache(tmp, weights))
            workers = "auto" if kind == "trackscope-auto" else "1"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
            tail = ["--warm", str(warm), "--workers", workers]
        shares = [clips[i::procs] for i in range(procs)]
        cores = sorted(os.sched_getaffinity(0))
        pin = [None if args.no_pin or kind == "trackscope-auto" else cores[i % len(cores)] for i in range(procs)]
        children = [Proc(cmd, tail, env, share, tmp, f"p{i}", pin[i]) for i, share in enumerate(shares)]
        readies = [c.ready() for c in children]
        t_go = time.time()
        for c in children:
            c.go()
        outs = [c.finish() for c in children]
        t_end = max(o["t_done"] for o in outs)
        feature_entries = len(list((tmp / "features").rglob("*.npz"))) if kind != "peer" else None
    songs = sum(o["songs"] for o in outs)
    failures = [f for o in outs for f in o["failures"]]
    seconds = t_end - t_go
    return {
        "kind": kind,
        "procs": procs,
        "pinned": pin,
        "songs": songs,
        "failures": failures,
        "seconds": seconds,
        "cpu_s": sum(o["cpu_s"] for o in outs),
        "startup_s": max(r["ready"] - c.t_launch for r, c in zip(readies, children, strict=True)),
        "load1_before": load_before,
        "load1_after": os.getloadavg()[0],
        "top_tags": {k: v for o in outs for k, v in o["top_tags"].items()},
        "feature_cache_entries": feature_entries,
        "child": {k: v for k, v in outs[0].items() if k not in ("top_tags", "failures", "t_go", "t_done")},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=60, help="clips to analyse (default 60)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of clips (default: the 4Q dev set)")
    ap.add_argument("--rounds", type=int, default=2, help="runs of every pipeline, interleaved (default 2)")
    ap.add_argument("--peer-python", default=str(DEFAULT_PEER), help="python of the peer's venv")
    ap.add_argument("--no-parallel", action="store_true", help="only the one-process rows")
    ap.add_argument("--no-pin", action="store_true", help="do not pin each process to its own core")
    ap.add_argument("--json-out", type=Path, help="also write the table and machine facts here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--warm", help=argparse.SUPPRESS)
    ap.add_argument("--workers", default="1", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.warm, args.workers)

    if not Path(args.peer_python).exists():
        raise SystemExit(f"no peer venv at {args.peer_python}: build it as the docstring says (or --peer-python)")
    from trackscope.audio.musicnn.weights import weights_dir

    weights = weights_dir()
    if not (weights / f"{PEER_MODEL}.safetensors").is_file():
        raise SystemExit(f"no converted musicnn weights in {weights}: run `trackscope analyze` on any song once")
    clips, warm = pick_clips(args.data, args.n)
    plan = [("trackscope", 1), ("peer", 1)]
    if not args.no_parallel:
        plan += [("trackscope", 2), ("peer", 2), ("trackscope-auto", 1)]
    print(f"{len(clips)} clips from {args.data} (warm-up: {warm.name}); load {os.getloadavg()}", file=sys.stderr)
    runs: list[dict] = []
    t_start = time.time()
    for rnd in range(args.rounds):
        for kind, procs in plan if rnd % 2 == 0 else plan[::-1]:
            r = run_once(kind, procs, clips, warm, args, weights)
            if r["songs"] != len(clips) or r["failures"]:
                raise SystemExit(f"{kind} x{procs} analysed {r['songs']} of {len(clips)}: {r['failures'][:3]}")
            runs.append({**r, "round": rnd})
            print(
                f"round {rnd} {kind:>15} x{procs}: {r['seconds']:6.1f} s ({len(clips) / r['seconds']:.2f} songs/s), "
                f"CPU {r['cpu_s'] / len(clips):.3f} s/song, start-up {r['startup_s']:.1f} s, "
                f"load {r['load1_before']:.2f} -> {r['load1_after']:.2f}",
                file=sys.stderr,
            )
    rows = summarise(runs, len(clips))
    agree = tag_agreement(runs)
    print_table(rows, agree)

    if args.json_out:
        from trackscope._machine import machine, versions

        peer_versions = next((r["child"].get("versions") for r in runs if r["kind"] == "peer"), None)
        doc = {
            "what": "songs/s of trackscope analyze (no report) vs librosa + original musicnn (graph once) + sklearn",
            "clips": len(clips),
            "data": str(args.data),
            "first_clip": clips[0].name,
            "last_clip": clips[-1].name,
            "warmup_clip": warm.name,
            "rounds": args.rounds,
            "pinned": not args.no_pin,
            "git_head": git_head(),
            "rows": rows,
            "top_tag_agreement": agree,
            "runs": [{k: v for k, v in r.items() if k != "top_tags"} for r in runs],
            "wall_s": time.time() - t_start,
            "load_average_end": os.getloadavg(),
            "machine": machine(),
            "versions": versions(),
            "peer_versions": peer_versions,
        }
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(doc, indent=1), encoding="utf-8")
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0


def git_head() -> str | None:
    """The commit measured (plus "+dirty" when the working tree differs from it)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


LABELS = {
    ("trackscope", 1): "trackscope analyze, 1 process, 1 thread",
    ("peer", 1): "peer (librosa + musicnn TF + sklearn), 1 process",
    ("trackscope", 2): "trackscope analyze, 2 warm processes",
    ("peer", 2): "peer, 2 warm processes",
    ("trackscope-auto", 1): 'trackscope analyze, workers="auto" (2)',
}
PEER_OF = {("trackscope", 1): ("peer", 1), ("trackscope", 2): ("peer", 2), ("trackscope-auto", 1): ("peer", 2)}


def summarise(runs: list[dict], n: int) -> list[dict]:
    rows = []
    for key, label in LABELS.items():
        mine = [r for r in runs if (r["kind"], r["procs"]) == key]
        if not mine:
            continue
        secs = [r["seconds"] for r in mine]
        cores = 2 if key[0] == "trackscope-auto" else key[1]
        best, med = min(secs), statistics.median(secs)
        rows.append(
            {
                "pipeline": label,
                "key": f"{key[0]}x{key[1]}",
                "kind": key[0],
                "procs": key[1],
                "songs": n,
                "runs": len(secs),
                "cores": cores,
                "seconds_best": best,
                "seconds_median": med,
                "seconds_all": secs,
                "songs_per_s_best": n / best,
                "songs_per_s_median": n / med,
                "songs_per_s_per_core_best": n / best / cores,
                "songs_per_s_per_core_median": n / med / cores,
                "cpu_s_per_song_best": min(r["cpu_s"] for r in mine) / n,
                "cpu_s_per_song_median": statistics.median(r["cpu_s"] for r in mine) / n,
                "startup_s_median": statistics.median(r["startup_s"] for r in mine),
                "load1_mean": statistics.mean((r["load1_before"] + r["load1_after"]) / 2 for r in mine),
            }
        )
    by_key = {r["key"]: r for r in rows}
    for r in rows:
        peer = PEER_OF.get((r["kind"], r["procs"]))
        p = by_key.get(f"{peer[0]}x{peer[1]}") if peer else None
        if p:
            r["ratio_vs"] = p["key"]
            r["ratio_best"] = r["songs_per_s_best"] / p["songs_per_s_best"]
            r["ratio_median"] = r["songs_per_s_median"] / p["songs_per_s_median"]
            r["cpu_ratio_best"] = p["cpu_s_per_song_best"] / r["cpu_s_per_song_best"]
            r["cpu_ratio_median"] = p["cpu_s_per_song_median"] / r["cpu_s_per_song_median"]
    return rows


def tag_agreement(runs: list[dict]) -> dict:
    """How often the two sides' top musicnn tag for a song is the same (first run of each)."""
    ts = next((r["top_tags"] for r in runs if r["kind"] == "trackscope"), {})
    peer = next((r["top_tags"] for r in runs if r["kind"] == "peer"), {})
    common = sorted(set(ts) & set(peer))
    return {"songs": len(common), "same_top_tag": sum(ts[p] == peer[p] for p in common)}


def print_table(rows: list[dict], agree: dict) -> None:
    head = "| pipeline | songs | seconds best / median | songs/s best / median | songs/s/core best / median | "
    head += "ratio trackscope/peer best / median | CPU s/song best / median | CPU ratio | start-up s | load |"
    print(head)
    print("|" + "---|" * 10)
    for r in rows:
        ratio = f"{r['ratio_best']:.2f}× / {r['ratio_median']:.2f}×" if "ratio_best" in r else "—"
        cpu_ratio = f"{r['cpu_ratio_best']:.2f}× / {r['cpu_ratio_median']:.2f}×" if "cpu_ratio_best" in r else "—"
        print(
            f"| {r['pipeline']} | {r['songs']} | {r['seconds_best']:.1f} / {r['seconds_median']:.1f} | "
            f"{r['songs_per_s_best']:.2f} / {r['songs_per_s_median']:.2f} | "
            f"{r['songs_per_s_per_core_best']:.2f} / {r['songs_per_s_per_core_median']:.2f} | {ratio} | "
            f"{r['cpu_s_per_song_best']:.3f} / {r['cpu_s_per_song_median']:.3f} | {cpu_ratio} | "
            f"{r['startup_s_median']:.1f} | {r['load1_mean']:.1f} |"
        )
    print(f"\ntop musicnn tag the same on both sides: {agree['same_top_tag']} of {agree['songs']} songs")


if __name__ == "__main__":
    sys.exit(main())
