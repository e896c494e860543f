"""The feature store: per-song mel spectrograms and descriptors, computed once, cached by content, crash-safe.

Layout of a store folder ``STORE/``::

    store.json                         marks the folder as a trackscope feature store (format version)
    index.parquet, index.csv           one row per input file: path, sha256, size, mtime_ns, duration (s),
                                       source_sr, channels, silent, mel_file, desc_file, mel_config, desc_config
    descriptors.parquet, descriptors.csv
                                       one row per input file: path, sha256, then every descriptor
                                       (see trackscope.audio.descriptors.DESCRIPTORS)
    failures.csv                       path, reason — files that could not be used
    configs/<hash>.json                the configuration behind each config hash
    mel/<cfg>/<sha[:2]>/<sha>.npy      log-mel (dB, ref 1, top_db 80) of the song's centre window,
                                       float16, shape (n_mels, frames); load with FeatureStore.mel()
    desc/<cfg>/<sha[:2]>/<sha>.json    descriptors of the whole song + decode facts

Keys: ``sha`` is the SHA-256 of the file's bytes (so renaming or moving a file costs nothing, and two paths holding
the same bytes share one entry); ``cfg`` is a short hash of everything that shapes the numbers (sample rate, STFT,
mel window, feature version), so a changed configuration recomputes and never mixes with old results.

Crash safety: every entry is written to a temporary file in its own folder and renamed into place (``os.replace`` is
atomic), so after ``kill -9`` at any moment an entry is either complete or absent. The tables are derived from the
entries and rewritten (atomically) at the end of each run; a rerun after a crash re-hashes what the lost index would
have remembered, skips every finished entry and rebuilds the tables — each file appears exactly once. Leftover
temporary files are removed at the start of the next run.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackscope._atomic import TMP_PREFIX, write_bytes, write_frame
from trackscope._hash import config_hash, file_sha256
from trackscope.constants import AUDIO_SUFFIXES, HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE
from trackscope.errors import TrackscopeError
from trackscope.features.entries import HASH_ON_WORKER, compute, read_table
from trackscope.features.reader import FeatureStore

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["extract", "FeatureStore", "walk_audio", "FEATURE_VERSION", "WHAT"]

FORMAT_VERSION = 1
FEATURE_VERSION = 1  # bump when descriptor or mel code changes its numbers: every entry is recomputed
WHAT = ("mel", "descriptors")
CONFIG_KEY_LENGTH = 12  # hex digits of the configuration keys in entry paths (mel/<key>/...), as stores have them
MEL_WINDOW = 30.0  # seconds: the centre 30 s, the length of the previews the popularity study trained on
_INDEX_COLUMNS = (
    "path",
    "sha256",
    "size",
    "mtime_ns",
    "duration",
    "source_sr",
    "channels",
    "silent",
    "mel_file",
    "desc_file",
    "mel_config",
    "desc_config",
)


# ----------------------------------------------------------------------------------------------------------- helpers
def walk_audio(paths: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Audio files under ``paths`` (files as given; folders searched recursively for ``AUDIO_SUFFIXES``), in a
    stable order without duplicates, and ``(path, reason)`` for what cannot be used (missing paths, folders whose
    name looks like an audio file)."""
    files: list[Path] = []
    problems: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_file():
            add(p)
        elif p.is_dir():
            for root, dirs, names in os.walk(p):
                dirs.sort()
                for d in dirs:
                    if Path(d).suffix.lower() in AUDIO_SUFFIXES:
                        problems.append((str(Path(root) / d), "is a folder, not an audio file"))
                for name in sorted(names):
                    if Path(name).suffix.lower() in AUDIO_SUFFIXES and not name.startswith("._"):
                        add(Path(root) / name)
        else:
            problems.append((str(p), "file not found"))
    return files, problems


# -------------------------------------------------------------------------------------------------------- extract
def extract(
    paths: Sequence[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike,
    *,
    what: Sequence[str] = WHAT,
    workers: int | str = 1,
    sr: int = SAMPLE_RATE,
    mel_window: float | None = MEL_WINDOW,
    progress: Callable[[int, int], None] | None = None,
    engine: str = "local",
    ray_address: str | None = "auto",
) -> dict[str, Any]:
    """Compute mel spectrograms and/or descriptors for every audio file under ``paths`` into the store ``out``.

    Finished entries (same bytes, same configuration) are skipped; bad files are listed in ``STORE/failures.csv``
    and never stop the batch. ``workers > 1`` uses that many processes of one thread each, ``"auto"`` one per core
    (see :func:`trackscope._workers.choose_workers`; call from under an ``if __name__ == "__main__":`` guard in
    scripts). ``mel_window`` seconds from the centre of each song (None or 0:
    the whole song). ``engine="ray"``: the missing entries are computed on a Ray cluster (``ray_address``; "auto"
    joins a running one or starts a local one; see :mod:`trackscope._ray`) and written here: the same store.
    Returns a summary: files, done, cached, failed, seconds, store, what, failures (first 20).
    """
    t0 = time.perf_counter()
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    what = tuple(dict.fromkeys(w.strip().lower() for w in what))
    bad = [w for w in what if w not in WHAT]
    if bad or not what:
        raise TrackscopeError(f"what (--what) must be a list of {', '.join(WHAT)}; got {', '.join(bad) or 'nothing'}")
    from trackscope._workers import choose_workers

    choose_workers(workers, 1, gpu_aware=False)  # validates: a whole number ≥ 1, or "auto"
    from trackscope._ray import check_engine

    check_engine(engine)  # "local" or "ray" (and Ray installed)
    if sr < 1000:
        raise TrackscopeError(f"sample rate {sr} Hz is too low (use e.g. 22050)")
    root = Path(out)
    if root.exists() and not root.is_dir():
        raise TrackscopeError("the store must be a folder", path=root)
    if root.is_dir() and any(root.iterdir()) and not (root / "store.json").is_file():
        raise TrackscopeError("folder exists and is not a trackscope feature store (no store.json)", path=root)
    root.mkdir(parents=True, exist_ok=True)
    write_bytes(
        root / "store.json",
        json.dumps({"format": "trackscope-feature-store", "version": FORMAT_VERSION}).encode(),
        fsync=True,
    )
    _clean_temp(root)

    base = {"sr": int(sr), "n_fft": N_FFT, "hop_length": HOP_LENGTH, "n_mels": N_MELS, "version": FEATURE_VERSION}
    mel_cfg = {"kind": "mel", **base, "window": float(mel_window or 0.0), "db": "power_to_db(ref=1,top_db=80)"}
    # "loudness": stereo files are measured on both channels (BS.1770), not on the downmix; a new value recomputes.
    desc_cfg = {"kind": "descriptors", **base, "loudness": "bs1770-channels"}
    mel_key, desc_key = config_hash(mel_cfg, CONFIG_KEY_LENGTH), config_hash(desc_cfg, CONFIG_KEY_LENGTH)
    for key, cfg in ((mel_key, mel_cfg), (desc_key, desc_cfg)):
        cfg_path = root / "configs" / f"{key}.json"
        if not cfg_path.is_file():
            write_bytes(cfg_path, json.dumps(cfg, indent=2).encode(), fsync=True)

    from trackscope._ray import s3_stat, split_inputs, unreadable

    local, objects, s3_problems = split_inputs(paths, AUDIO_SUFFIXES)  # s3:// prefixes listed
    files, problems = walk_audio(local)
    problems = [(os.path.abspath(p), r) for p, r in problems] + s3_problems
    files = [*files, *objects]  # S3 objects as their s3:// URIs
    failures: dict[str, str] = dict(problems)
    previous = read_table(root, "index")
    known = {}
    if previous is not None:
        for row in previous.itertuples(index=False):
            known[row.path] = (int(row.size), int(row.mtime_ns), row.sha256)
    hashes = None
    if engine == "ray" or objects:  # the hashes the workers compute, journaled as they arrive: a killed run's kept
        from trackscope._journal import Journal

        meta = {"kind": "extract-hashes", "version": 1}
        hashes = Journal(root / HASH_JOURNAL, meta, command="extract", run_noun="store", sync_every=1.0)
        for rec in hashes.of_type("hash"):
            known[rec["path"]] = (int(rec["size"]), int(rec["mtime_ns"]), rec["sha256"])
        hashes.records.clear()

    rows: dict[str, dict[str, Any]] = {}
    jobs: dict[str, dict[str, Any]] = {}
    # With engine="ray", files this store has not seen (or that changed) are hashed by the Ray worker that reads them
    # anyway, not here — the driver would otherwise read every file once before the job (~800 GB for 100,000 songs,
    # through the head node). s3:// objects, with either engine, are only ever read by the worker computing them.
    unhashed: dict[str, Any] = {}
    cached = 0

    def entry_files(sha: str) -> tuple[Path | None, Path | None]:
        part = "??" if sha == HASH_ON_WORKER else sha[:2]  # a template's folder: see fill_hash
        mel_file = root / "mel" / mel_key / part / f"{sha}.npy" if "mel" in what else None
        desc_file = root / "desc" / desc_key / part / f"{sha}.json" if "descriptors" in what else None
        return mel_file, desc_file

    def add_row(path: str, sha: str, st: Any) -> tuple[Path | None, Path | None]:
        mel_file, desc_file = entry_files(sha)
        rows[path] = {
            "path": path,
            "sha256": sha,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "mel_file": "" if mel_file is None else str(mel_file.relative_to(root)),
            "desc_file": "" if desc_file is None else str(desc_file.relative_to(root)),
            "mel_config": mel_key if mel_file else "",
            "desc_config": desc_key if desc_file else "",
        }
        return mel_file, desc_file

    for f in files:
        path = _key(f)
        try:
            st = s3_stat(f) if isinstance(f, str) else f.stat()
            if st.st_size == 0:
                failures[path] = "empty file (0 bytes)"
                continue
            hit = known.get(path)
            if hit and hit[:2] == (st.st_size, st.st_mtime_ns):
                sha = hit[2]
            elif engine == "ray" or isinstance(f, str):
                unhashed[path] = st
                continue
            else:
                sha = file_sha256(f)
        except OSError as err:
            failures[path] = unreadable(err)
            continue
        mel_file, desc_file = add_row(path, sha, st)
        need_mel = mel_file is not None and not mel_file.is_file()
        need_desc = desc_file is not None and not desc_file.is_file()
        if not need_mel and not need_desc:
            cached += 1
            continue
        if sha in jobs:  # same bytes under another path: computed once
            continue
        jobs[sha] = {
            "path": path,
            "sha256": sha,
            "sr": int(sr),
            "mel_window": float(mel_window or 0.0),
            "mel_file": str(mel_file) if need_mel else None,
            "desc_file": str(desc_file) if need_desc else None,
            "desc_config": desc_key,
        }

    for path in unhashed:  # entry paths with the worker's hash filled in (see HASH_ON_WORKER)
        mel_file, desc_file = entry_files(HASH_ON_WORKER)
        jobs[f"unhashed:{path}"] = {
            "path": path,
            "sha256": None,
            "sr": int(sr),
            "mel_window": float(mel_window or 0.0),
            "mel_file": None if mel_file is None else str(mel_file),
            "desc_file": None if desc_file is None else str(desc_file),
            "desc_config": desc_key,
        }

    total = len(files)
    done_count = [cached + sum(1 for f in files if _key(f) in failures)]
    if progress:
        progress(done_count[0], total)
    paths_by_sha: dict[str, list[str]] = {}
    for path, row in rows.items():
        paths_by_sha.setdefault(row["sha256"], []).append(path)
    failed_shas: dict[str, str] = {}

    def on_result(res: dict[str, Any]) -> None:
        path = res.get("path")
        if path in unhashed:  # a file its worker hashed: its row now
            if res["ok"]:
                st = unhashed[path]
                add_row(path, res["sha256"], st)
                record = {"t": "hash", "path": path, "sha256": res["sha256"]}
                hashes.append({**record, "size": st.st_size, "mtime_ns": st.st_mtime_ns}, keep=False)
            else:
                failures[path] = res["reason"]
            done_count[0] += 1
        else:
            if not res["ok"]:
                failed_shas[res["sha256"]] = res["reason"]
            done_count[0] += len(paths_by_sha[res["sha256"]])  # every path holding these bytes
        if progress:
            progress(min(done_count[0], total), total)

    workers = choose_workers(workers, len(jobs), gpu_aware=False)
    try:
        if engine == "ray":
            from trackscope.features.ray_extract import run_jobs_on_ray

            run_jobs_on_ray(list(jobs.values()), on_result, address=ray_address)
        else:
            _run_jobs(list(jobs.values()), workers, on_result)
    finally:
        if hashes is not None:
            hashes.close()

    for path in list(rows):
        sha = rows[path]["sha256"]
        if sha in failed_shas:
            failures[path] = failed_shas[sha]
            del rows[path]
    n_failed_files = len(failures)
    summary_rows = _finish_tables(root, rows, failures, previous, what)
    if hashes is not None:
        hashes.remove()  # the index holds them now
    computed = sum(1 for r in rows.values() if r["sha256"] in jobs or r["path"] in unhashed)
    return {
        "store": str(root),
        "what": list(what),
        "files": total + len(problems),
        "done": computed,
        "cached": len(rows) - computed,
        "failed": n_failed_files,
        "rows": summary_rows,
        "seconds": round(time.perf_counter() - t0, 3),
        "workers": workers,
        "failures": [{"path": p, "reason": r} for p, r in list(failures.items())[:20]],
    }


# The hashes the workers computed so far (a journal, :mod:`trackscope._journal`), removed once the index is
# written — so a run killed mid-job loses none of them.
HASH_JOURNAL = "index.partial"


def _key(f: Path | str) -> str:
    """A file's key in the store's tables: its absolute path, or its ``s3://`` URI."""
    return f if isinstance(f, str) else os.path.abspath(f)


def _clean_temp(root: Path) -> None:
    for sub in ("", "mel", "desc", "configs"):
        base = root / sub
        if not base.is_dir():
            continue
        for p in base.rglob(f"{TMP_PREFIX}*") if sub else base.glob(f"{TMP_PREFIX}*"):
            p.unlink(missing_ok=True)


def _run_jobs(jobs: list[dict[str, Any]], workers: int, on_result: Callable[[dict[str, Any]], None]) -> None:
    if not jobs:
        return
    if workers == 1 or len(jobs) == 1:
        from trackscope._threads import single_blas_thread

        with single_blas_thread():
            for job in jobs:
                on_result({**compute(job), "path": job["path"]})
        return
    from trackscope._workers import run_in_workers

    items = ((i, (job,)) for i, job in enumerate(jobs))
    run_in_workers(compute, items, workers, lambda i, res: on_result({**res, "path": jobs[i]["path"]}))


def _finish_tables(
    root: Path,
    rows: dict[str, dict[str, Any]],
    failures: dict[str, str],
    previous: pd.DataFrame | None,
    what: Sequence[str],
) -> int:
    """Write index, descriptors and failures tables from the entries (atomically). Rows of earlier runs for paths
    not in this run are kept while their entries exist."""
    import pandas as pd

    from trackscope.audio.descriptors import DESCRIPTORS

    if previous is not None:
        for rec in previous.to_dict(orient="records"):
            path = str(rec["path"])
            if path in rows or path in failures:
                continue
            files_ok = all(
                not isinstance(rec.get(col), str) or not rec.get(col) or (root / rec[col]).is_file()
                for col in ("mel_file", "desc_file")
            )
            if files_ok:
                rows[path] = {k: ("" if isinstance(v, float) and v != v else v) for k, v in rec.items()}
    old_failures = _read_failures(root)
    for path, reason in old_failures.items():
        if path not in rows and path not in failures and Path(path).exists():
            failures.setdefault(path, reason)

    desc_records = []
    for path, row in rows.items():
        facts: dict[str, Any] = {}
        desc = None
        if row.get("desc_file"):
            data = json.loads((root / row["desc_file"]).read_text())
            facts = {k: data.get(k) for k in ("duration", "source_sr", "channels", "silent")}
            desc = data["descriptors"]
        elif row.get("mel_file"):
            side = (root / row["mel_file"]).with_suffix(".json")
            if side.is_file():
                facts = json.loads(side.read_text())
        for k in ("duration", "source_sr", "channels", "silent"):
            if facts.get(k) is not None or k not in row:
                row[k] = facts.get(k)
        if desc is not None:
            desc_records.append({"path": path, "sha256": row["sha256"], **{k: desc.get(k) for k in DESCRIPTORS}})

    index = pd.DataFrame([{c: r.get(c) for c in _INDEX_COLUMNS} for r in rows.values()], columns=list(_INDEX_COLUMNS))
    index = index.sort_values("path", kind="stable").reset_index(drop=True)
    index["silent"] = index["silent"].astype("boolean")
    for name, frame in (("index", index),):
        write_frame(frame, root / f"{name}.parquet")
        write_frame(frame, root / f"{name}.csv")
    if desc_records or "descriptors" in what or (root / "descriptors.csv").exists():
        desc_frame = pd.DataFrame(desc_records, columns=["path", "sha256", *DESCRIPTORS])
        desc_frame = desc_frame.sort_values("path", kind="stable").reset_index(drop=True)
        write_frame(desc_frame, root / "descriptors.parquet")
        write_frame(desc_frame, root / "descriptors.csv")
    fail = pd.DataFrame(sorted(failures.items()), columns=["path", "reason"])
    write_frame(fail, root / "failures.csv")
    return len(index)


def _read_failures(root: Path) -> dict[str, str]:
    import csv

    p = root / "failures.csv"
    if not p.is_file():
        return {}
    with open(p, newline="") as fh:
        return {r["path"]: r["reason"] for r in csv.DictReader(fh) if r.get("path")}
