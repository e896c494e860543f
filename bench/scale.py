"""Catalogue scale (#13): ``extract`` and ``analyze`` with the local engine and with ``--engine ray``, same run.

Usage (run by hand; the clips are read where they are, never copied)::

    .venv/bin/python bench/scale.py                      # 200 clips of ../shared/data/audio/4q-dev
    .venv/bin/python bench/scale.py --n 40 --ray-address 10.0.0.5:6379   # a real cluster

Each command runs on the same N clips (the first N in path order) into fresh temporary outputs: local with
``workers="auto"`` (one process per core, up to 4), then Ray (a cluster joined with ``--ray-address``, else a local
one on this machine started once before timing, its start-up reported apart). Prints songs/s of each and the ratio
Ray / local, and checks that both engines gave the same results (descriptors, moods).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # a cluster of this machine: loopback only

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "audio" / "4q-dev"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA, help="folder of clips (searched recursively)")
    ap.add_argument("--n", type=int, default=200, help="number of clips")
    ap.add_argument("--ray-address", default=None, help="a running cluster (default: a local one, started here)")
    ap.add_argument("--skip", default="", help="comma list of steps to leave out: extract, analyze")
    args = ap.parse_args()

    import pandas as pd
    import ray

    from trackscope.api import analyze_songs, extract
    from trackscope.sources.audio_dirs import walk_audio

    files, _ = walk_audio([args.data])
    files = sorted(files, key=str)[: args.n]
    print(f"{len(files)} clips from {args.data}; {os.cpu_count()} cores")
    t0 = time.perf_counter()
    if args.ray_address:
        ray.init(address=args.ray_address, log_to_driver=False, logging_level="warning")
    else:
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="warning")
    print(f"ray: cluster ready in {time.perf_counter() - t0:.1f} s, {ray.cluster_resources().get('CPU', 0):.0f} CPUs")
    skip = set(filter(None, args.skip.split(",")))
    rows = []
    with tempfile.TemporaryDirectory(prefix="trackscope-scale-") as tmp:
        if "extract" not in skip:
            stores = {}
            for engine in ("local", "ray"):
                stores[engine] = Path(tmp) / f"store-{engine}"
                t = time.perf_counter()
                s = extract(files, stores[engine], workers="auto", engine=engine)
                dt = time.perf_counter() - t
                rows.append(("extract", engine, s["done"], s["failed"], dt))
            same = pd.read_csv(stores["local"] / "descriptors.csv").equals(
                pd.read_csv(stores["ray"] / "descriptors.csv")
            )
            print(f"extract: descriptors identical across engines: {same}")
        if "analyze" not in skip:
            moods = {}
            for engine in ("local", "ray"):
                t = time.perf_counter()
                a = analyze_songs(files, workers="auto", engine=engine)
                dt = time.perf_counter() - t
                moods[engine] = a.songs[["path", "mood"]].values.tolist()
                rows.append(("analyze", engine, len(a.songs), len(a.failures), dt))
            print(f"analyze: moods identical across engines, in the same order: {moods['local'] == moods['ray']}")
    ray.shutdown()
    print(f"\n{'command':8} {'engine':6} {'songs':>6} {'failed':>6} {'seconds':>8} {'songs/s':>8}")
    rate = {}
    for cmd, engine, n, failed, dt in rows:
        rate[cmd, engine] = n / dt if dt else float("nan")
        print(f"{cmd:8} {engine:6} {n:6d} {failed:6d} {dt:8.1f} {rate[cmd, engine]:8.2f}")
    for cmd in ("extract", "analyze"):
        if (cmd, "local") in rate:
            print(f"{cmd}: ray / local = {rate[cmd, 'ray'] / rate[cmd, 'local']:.2f}")


if __name__ == "__main__":
    main()
