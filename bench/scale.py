"""Catalogue scale (#13): ``extract`` and ``analyze`` with the local engine and with ``--engine ray``, same run;
Ray with 1 actor and with 2; per-song seconds of ``analyze`` on one core (clips and full songs).

Usage (run by hand; the audio is read where it is, never copied)::

    .venv/bin/python bench/scale.py                      # 200 clips of ../shared/data/audio/4q-dev, twice
    .venv/bin/python bench/scale.py --n 40 --ray-address 10.0.0.5:6379   # a real cluster
    .venv/bin/python bench/scale.py --per-song --songs /work/musicbank   # seconds per song on one core
    .venv/bin/python bench/scale.py --noop 800           # Ray's own cost per job and per file

Engines (the default): each command runs on the same N clips (the first N in path order) into fresh temporary
outputs — the local engine with ``workers="auto"`` (one process per core, up to 4), Ray with one actor per CPU of
the cluster, and Ray with one actor only (the scaling from 1 to 2 actors, on the same cluster) — ``--repeats`` times,
interleaved (the order reversed every other round), so that other load on the machine falls on all of them alike.
The Ray cluster (joined with ``--ray-address``, else a local one on this machine) is started once before timing:
its start-up is reported apart, and the table shows Ray's time with and without it (a real cluster is already
running). Each run's time includes its own worker start-up (processes or actors loading musicnn and the mood head);
``first`` is the time to the first result, ``steady`` the songs/s after it. Checks that the engines gave the same
results (descriptors, moods, in the same order).

``--noop N``: Ray's own cost, without audio: the pool over N files whose work is nothing — the fixed cost of a job
(starting the actors and Ray Data's executor) and the wall time each more file adds (scheduling, the crash ledger).

``--nodes N``: a cluster of N worker nodes of 1 CPU each plus a head node with no CPU (so no work runs next to the
driver), all on this machine (``ray.cluster_utils.Cluster``: one raylet and one object store per node, on loopback):
``extract`` and ``analyze`` of the first ``--n`` clips on it against the local engine, the same results checked, and
the node every file was worked on (results travel between the nodes' object stores, as on a real cluster; the nodes
share this machine's disk and cores).

``--per-song``: ``analyze`` of each clip (the first ``min(N, 40)``) and each full song in one process on one thread
(as one worker or one actor runs it), after a warm-up: CPU seconds per song and per minute of audio, and the share of
musicnn, descriptors, loudness and the rest (decoding, windowing, the mood head) of that time — what a core-hour
estimate rests on.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a cluster of this machine: loopback only

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"
AUDIO = (".mp3", ".ogg", ".wav", ".flac", ".m4a")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder of clips (searched recursively)")
    ap.add_argument("--n", type=int, default=200, help="number of clips")
    ap.add_argument("--ray-address", default=None, help="a running cluster (default: a local one, started here)")
    ap.add_argument("--skip", default="", help="comma list of steps to leave out: extract, analyze, one-actor")
    ap.add_argument("--repeats", type=int, default=2, help="rounds of every engine, interleaved")
    ap.add_argument("--per-song", action="store_true", help="seconds per song on one core instead (see above)")
    ap.add_argument("--songs", type=Path, default=None, help="--per-song: a folder of full-length songs too")
    ap.add_argument("--noop", type=int, default=0, help="Ray's own cost: N no-op files through the pool instead")
    ap.add_argument("--nodes", type=int, default=0, help="a multi-node cluster on this machine instead (see above)")
    args = ap.parse_args()
    print(f"{cpu_name()}, {os.cpu_count()} cores; load average {load()} at the start")
    if args.per_song:
        per_song(args)
    elif args.noop:
        noop(args)
    elif args.nodes:
        nodes(args)
    else:
        engines(args)
    print(f"load average {load()} at the end")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def clips(folder: Path, n: int) -> list[Path]:
    from trackscope.sources.audio_dirs import walk_audio

    files, _ = walk_audio([folder])
    return sorted(files, key=str)[:n]


class Timed:
    """A progress callback that notes when the first result and the last arrived."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.n_first = 0

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done and self.first is None:
            self.first, self.n_first = now - self.t0, done
        if done:
            self.last = now - self.t0


def engines(args: argparse.Namespace) -> None:
    import pandas as pd
    import ray

    from trackscope import _ray
    from trackscope.api import analyze_songs, extract

    files = clips(args.data, args.n)
    print(f"{len(files)} clips from {args.data}")
    t0 = time.perf_counter()
    kw = {"log_to_driver": False, "logging_level": "warning"}
    if args.ray_address:
        ray.init(address=args.ray_address, **kw)
    else:
        ray.init(include_dashboard=False, _node_ip_address=_ray.LOOPBACK, **kw)
    start = time.perf_counter() - t0
    cpus = int(ray.cluster_resources().get("CPU", 0))
    print(f"ray: cluster ready in {start:.1f} s, {cpus} CPUs")
    all_slots = _ray._cluster_slots

    def actors(n: int | None) -> None:
        """Cap the pool at n actors (None: one per CPU, as trackscope does) — this bench's knob, not an option."""
        _ray._cluster_slots = all_slots if n is None else (lambda use_gpus: (n, False))

    skip = set(filter(None, args.skip.split(",")))
    # one actor, and the local engine with workers=1 (in this process: extract on one thread, analyze with torch's
    # own thread count) too: the 1 → 2 scaling of Ray next to this machine's own (the driver, Ray's processes and the
    # OS share the same 2 cores, so neither reaches 2.0 here)
    runs = [("local", None), ("ray", None)] + ([] if "one-actor" in skip else [("ray", 1), ("local", 1)])
    rows: list[dict] = []
    same: dict[str, bool] = {}
    diff: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="trackscope-scale-") as tmp:
        for rnd in range(args.repeats):
            order = runs if rnd % 2 == 0 else runs[::-1]
            for cmd in ("extract", "analyze"):
                if cmd in skip:
                    continue
                outs = {}
                for engine, n_actors in order:
                    label = f"{engine}×{n_actors}" if n_actors else ("local" if engine == "local" else f"ray×{cpus}")
                    workers = n_actors if engine == "local" and n_actors else "auto"
                    actors(n_actors if engine == "ray" else None)
                    timed = Timed()
                    t = time.perf_counter()
                    if cmd == "extract":
                        store = Path(tmp) / f"store-{rnd}-{label}"
                        s = extract(files, store, workers=workers, engine=engine, progress=timed)
                        n, failed = s["done"], s["failed"]
                        outs[label] = pd.read_csv(store / "descriptors.csv")
                    else:
                        a = analyze_songs(files, workers=workers, engine=engine, progress=timed)
                        n, failed = len(a.songs), len(a.failures)
                        outs[label] = a.songs[["path", "mood", "p_Q1", "p_Q2", "p_Q3", "p_Q4"]]
                    dt = time.perf_counter() - t
                    actors(None)
                    rows.append(dict(round=rnd + 1, cmd=cmd, engine=label, songs=n, failed=failed, s=dt, t=timed))
                    print(f"  round {rnd + 1} {cmd:8} {label:6} {dt:6.1f} s  (load {load()})", flush=True)
                base = outs["local"]
                same[cmd] = same.get(cmd, True) and all(_same(o, base) for o in outs.values())
                diff[cmd] = max([diff.get(cmd, 0.0)] + [_max_diff(o, base) for o in outs.values()])
    ray.shutdown()
    report(rows, start, same, diff)


def _same(a, b) -> bool:
    """The same files in the same order with the same text columns (paths, moods), numbers within float32 rounding
    of a chain of operations (1e-6: one worker process or the library in-process with its own thread count sum in
    different orders)."""
    import numpy as np

    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for c in a.columns:
        if a[c].dtype.kind in "fc":
            if not np.allclose(a[c].to_numpy(float), b[c].to_numpy(float), rtol=1e-6, atol=1e-6, equal_nan=True):
                return False
        elif not a[c].equals(b[c]):
            return False
    return True


def _max_diff(a, b) -> float:
    import numpy as np

    cols = [c for c in a.columns if a[c].dtype.kind in "fc" and c in b.columns]
    if not cols or len(a) != len(b):
        return 0.0
    return float(np.nanmax(np.abs(a[cols].to_numpy(float) - b[cols].to_numpy(float)), initial=0.0))


def report(rows: list[dict], start: float, same: dict[str, bool], diff: dict[str, float]) -> None:
    print(
        f"\n{'round':>5} {'command':8} {'engine':6} {'songs':>5} {'failed':>6} {'seconds':>8} {'songs/s':>8}"
        f" {'+start':>7} {'first':>6} {'steady':>7}"
    )
    rate: dict[tuple, float] = {}
    steady_rate: dict[tuple, float] = {}
    for r in rows:
        t = r["t"]
        r["rate"] = r["songs"] / r["s"]
        steady = (r["songs"] - t.n_first) / (t.last - t.first) if t.first is not None and t.last > t.first else 0.0
        with_start = f"{r['songs'] / (r['s'] + start):7.2f}" if r["engine"].startswith("ray") else f"{'':7}"
        rate[r["round"], r["cmd"], r["engine"]] = r["rate"]
        steady_rate[r["round"], r["cmd"], r["engine"]] = steady
        print(
            f"{r['round']:5d} {r['cmd']:8} {r['engine']:6} {r['songs']:5d} {r['failed']:6d} {r['s']:8.1f}"
            f" {r['rate']:8.2f} {with_start} {t.first or 0:6.1f} {steady:7.2f}"
        )
    print(
        "\n(songs/s: the command's own time; +start: with the cluster's start-up too; first: seconds to the first"
        " result; steady: songs/s after it)\n"
    )
    for (rnd, cmd, engine), r in sorted(rate.items()):
        if engine == "local":
            continue
        local = rate[rnd, cmd, "local"]
        line = f"round {rnd} {cmd:8} {engine} / local = {r / local:.2f} (time ×{local / r:.2f})"
        s_local, s_this = steady_rate[rnd, cmd, "local"], steady_rate[rnd, cmd, engine]
        if s_local and s_this:  # the per-song rate once both run: the job's fixed start-up left out
            line += f"; steady ×{s_local / s_this:.2f}"
        one = rate.get((rnd, cmd, "ray×1"))
        if one and engine.startswith("ray") and engine != "ray×1":
            line += f";  {engine} / ray×1 = {r / one:.2f} (scaling)"
        if engine == "local×1":
            line += f";  local / local×1 = {local / r:.2f} (this machine's own scaling)"
        print(line)
    for cmd, ok in same.items():
        print(
            f"{cmd}: the same results across engines and rounds, in the same order (numbers within 1e-6): {ok}; "
            f"largest difference {diff.get(cmd, 0.0):.2g}"
        )


def _noop(_state, local_path: str, _path: str, _job) -> int:
    return os.path.getsize(local_path)  # defined in __main__: sent to the actors by value


def noop(args: argparse.Namespace) -> None:
    """What Ray itself costs: the pool over files whose work is nothing (a 1-kB file each), 40 files then N, on a
    started cluster: the fixed cost of a job (actors, executor) and the cost of each more file."""
    import ray

    from trackscope._ray import LOOPBACK, map_files

    kw = {"log_to_driver": False, "logging_level": "warning"}
    if args.ray_address:
        ray.init(address=args.ray_address, **kw)
    else:
        ray.init(include_dashboard=False, _node_ip_address=LOOPBACK, **kw)
    with tempfile.TemporaryDirectory(prefix="trackscope-noop-") as tmp:
        f = Path(tmp) / "one-kb.bin"
        f.write_bytes(b"x" * 1024)
        times = {}
        for n in (40, 40, args.noop):  # the first 40: a warm-up (Ray's own first-use costs)
            got: list[int] = []
            t = time.perf_counter()
            map_files([(str(f), None)] * n, _noop, lambda i, _r, got=got: got.append(i))
            times[n] = time.perf_counter() - t
            assert sorted(got) == list(range(n))
            print(f"{n:6d} no-op files: {times[n]:6.2f} s  (load {load()})", flush=True)
    ray.shutdown()
    n = args.noop
    per = (times[n] - times[40]) / (n - 40) if n > 40 else float("nan")
    print(f"fixed cost of a job ≈ {times[40] - 40 * per:.2f} s; each more file ≈ {1000 * per:.2f} ms of wall time")


def _node_of(_state, _local_path: str, _path: str, _job) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()  # defined in __main__: sent to the actors by value


def nodes(args: argparse.Namespace) -> None:
    """A multi-node cluster on this machine: the same results as the local engine, work spread over the nodes."""
    import pandas as pd
    import ray
    from ray.cluster_utils import Cluster

    from trackscope import _ray
    from trackscope._ray import map_files
    from trackscope.api import analyze_songs, extract

    files = clips(args.data, args.n)
    t = time.perf_counter()
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "node_ip_address": _ray.LOOPBACK, "include_dashboard": False},
    )
    for _ in range(args.nodes):
        cluster.add_node(num_cpus=1, node_ip_address=_ray.LOOPBACK)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False, logging_level="warning")
    workers = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU")}
    print(
        f"{len(files)} clips; cluster of {len(ray.nodes())} nodes ({len(workers)} with a CPU) in "
        f"{time.perf_counter() - t:.1f} s"
    )
    try:
        with tempfile.TemporaryDirectory(prefix="trackscope-nodes-") as tmp:
            where: dict[int, str] = {}
            map_files([(str(f), None) for f in files], _node_of, where.__setitem__, address=cluster.address)
            per_node = pd.Series(list(where.values())).value_counts()
            print(f"files per worker node: {sorted(per_node.tolist())} (nodes used: {len(per_node)} of {len(workers)})")
            for cmd in ("extract", "analyze"):
                out = {}
                for engine in ("local", "ray"):
                    t = time.perf_counter()
                    if cmd == "extract":
                        store = Path(tmp) / f"store-{engine}"
                        extract(files, store, workers="auto", engine=engine, ray_address=cluster.address)
                        out[engine] = pd.read_csv(store / "descriptors.csv")
                    else:
                        a = analyze_songs(files, workers="auto", engine=engine, ray_address=cluster.address)
                        out[engine] = a.songs[["path", "mood", "p_Q1", "p_Q2", "p_Q3", "p_Q4"]]
                    print(f"  {cmd:8} {engine:6} {time.perf_counter() - t:6.1f} s", flush=True)
                print(
                    f"  {cmd}: the same results on {args.nodes} nodes as the local engine (within 1e-6): "
                    f"{_same(out['ray'], out['local'])}; largest difference {_max_diff(out['ray'], out['local']):.2g}"
                )
    finally:
        ray.shutdown()
        cluster.shutdown()


def per_song(args: argparse.Namespace) -> None:
    """Seconds per song of analyze on one thread, and where they go."""
    from trackscope._workers import init_single_thread

    init_single_thread()  # as a worker or an actor: one thread for torch, BLAS and FFT
    import trackscope.audio.descriptors as descriptors
    import trackscope.audio.loudness as loudness
    import trackscope.audio.musicnn as musicnn
    from trackscope.tasks.analyze import analyze_song
    from trackscope.tasks.ray_analyze import open_model

    spent: dict[str, float] = {"musicnn": 0.0, "descriptors": 0.0, "loudness": 0.0}

    def timer(name: str, fn):
        def timed(*a, **k):
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                spent[name] += time.process_time() - t

        return timed

    # the names the analysis looks up when it runs (imported inside its functions)
    musicnn.embed = timer("musicnn", musicnn.embed)
    descriptors.describe = timer("descriptors", descriptors.describe)
    loudness.integrated_loudness = timer("loudness", loudness.integrated_loudness)

    md = open_model("builtin:mood")
    sets = [("30-s clips", clips(args.data, min(args.n, 40)))]
    if args.songs:
        songs = sorted((p for p in args.songs.rglob("*") if p.suffix.lower() in AUDIO), key=str)
        sets.append(("full songs", songs))
    analyze_song(md, sets[0][1][0])  # warm-up: the first call pays for lazy imports and allocations
    print(
        f"\n{'set':11} {'songs':>5} {'audio s':>8} {'s/song':>7} {'s/audio min':>11} {'wall s':>7} {'musicnn':>8} "
        f"{'descr.':>7} {'loudn.':>7} {'rest':>6}"
    )
    for name, files in sets:
        for k in spent:
            spent[k] = 0.0
        total = wall = audio = 0.0
        n = 0
        for f in files:
            t, w = time.process_time(), time.perf_counter()
            kind, row, _ = analyze_song(md, f)
            total += time.process_time() - t
            wall += time.perf_counter() - w
            if kind == "song":
                audio += row["duration"] or 0.0
                n += 1
        rest = total - sum(spent.values())
        shares = [100 * v / total for v in (*spent.values(), rest)]
        print(
            f"{name:11} {n:5d} {audio / n:8.1f} {total / n:7.3f} {60 * total / audio:11.3f} {wall / n:7.3f} "
            + " ".join(f"{s:6.0f}%" for s in shares),
            flush=True,
        )
    print(
        "\n(CPU seconds of the one thread, so that other load on the machine does not count; audio s: mean length;"
        " s/audio min: per minute of audio; wall s: wall-clock seconds per song, for comparison; the shares: of the"
        " CPU time)"
    )


if __name__ == "__main__":
    main()
