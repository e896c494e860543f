"""Store entries: the per-file worker that computes a song's entries, and reading the store's tables.

Used by :mod:`trackscope.features.store`; the worker runs in the main process or in ``spawn``-ed processes with one
thread each (:func:`trackscope._workers.init_single_thread`). It never raises: a bad file comes back as
``{"ok": False, "reason": ...}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trackscope._atomic import write_bytes
from trackscope._hash import file_sha256
from trackscope.constants import HOP_LENGTH, N_FFT, N_MELS

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["read_table", "compute", "compute_entries"]


def compute(job: dict[str, Any]) -> dict[str, Any]:
    """Decode one file and write the entries it lacks. Never raises: failures come back as a result."""
    res = compute_entries(job)
    for target, data in res.pop("entries", []):  # in order: the .npy last (its presence marks the entry done)
        write_bytes(Path(target), data, fsync=True)
    return res


def compute_entries(job: dict[str, Any]) -> dict[str, Any]:
    """:func:`compute` without writing: the entries come back as ``res["entries"]``, ``(path, bytes)`` pairs in
    the order to write them (a Ray worker sends them to the driver, which writes them). Never raises.

    An ``s3://`` job is read into a temporary copy first. A job without a hash (``sha256`` None: a file the store
    has not seen, hashed where it is read rather than by the process that lists the files) is hashed from the bytes
    read, and its entry paths (templates, see :func:`fill_hash`) completed with it."""
    from trackscope._ray import local_copy, unreadable
    from trackscope.errors import TrackscopeError as _Err

    try:
        with local_copy(job["path"]) as local:
            if job["sha256"] is None:
                job = with_hash(job, file_sha256(local))
            return _compute_unsafe({**job, "path": local})
    except OSError as err:
        return {"sha256": job["sha256"], "ok": False, "reason": unreadable(err)}
    except _Err as err:
        return {"sha256": job["sha256"], "ok": False, "reason": err.reason}
    except MemoryError:
        return {"sha256": job["sha256"], "ok": False, "reason": "out of memory while decoding or analysing"}
    except Exception as err:  # noqa: BLE001 — one bad file must not stop the batch
        return {"sha256": job["sha256"], "ok": False, "reason": f"internal error: {type(err).__name__}: {err}"}


def _compute_unsafe(job: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from trackscope.audio.descriptors import describe_with_mel
    from trackscope.audio.io import load_audio
    from trackscope.audio.mel import mel_db, power_to_db

    sr = job["sr"]
    # The side signal only when descriptors are asked for: it makes their loudness the exact stereo BS.1770 value.
    # (What libmpg123 prints on fd 2 for damaged mp3s is captured inside load_audio, around the decoding only.)
    audio = load_audio(job["path"], sr=sr, side=job["desc_file"] is not None)
    y = audio.samples
    facts = {
        "duration": audio.duration,
        "source_sr": audio.source_sr,
        "channels": audio.channels,
        "silent": bool(audio.silent),
    }
    entries: list[tuple[str, bytes]] = []
    mel_full = None
    if job["desc_file"] is not None:
        desc, mel_full = describe_with_mel(y, sr, side=audio.side)
        audio.side = None  # free it before the mel work
        payload = {"sha256": job["sha256"], "config": job["desc_config"], **facts, "descriptors": desc}
        entries.append((str(job["desc_file"]), json.dumps(payload).encode()))
    if job["mel_file"] is not None:
        window = job["mel_window"]
        n = y.size if not window else int(round(window * sr))
        if n >= y.size and mel_full is not None:
            db = power_to_db(mel_full)
        else:
            start = max(0, (y.size - n) // 2)
            db = mel_db(y[start : start + n], sr=sr, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS)
        import io

        buf = io.BytesIO()
        np.save(buf, db.astype(np.float16), allow_pickle=False)
        # a facts sidecar first (the .npy's presence is what marks the entry done), so the index of a mel-only
        # store can be rebuilt without decoding again
        entries.append((str(Path(job["mel_file"]).with_suffix(".json")), json.dumps(facts).encode()))
        entries.append((str(job["mel_file"]), buf.getvalue()))
    return {"sha256": job["sha256"], "ok": True, **facts, "entries": entries}


# The file name's stem in the entry paths of a job whose file is hashed where it is read (on the worker that reads
# it); :func:`fill_hash` puts the hash in there.
HASH_ON_WORKER = "{sha}"


def fill_hash(template: str, sha: str) -> str:
    """An entry path template (``…/<cfg>/??/{sha}.npy``) with the file's SHA-256 in place: ``…/<cfg>/ab/ab….npy``."""
    p = Path(template)
    return str(p.parent.parent / sha[:2] / p.name.replace(HASH_ON_WORKER, sha))


def with_hash(job: dict[str, Any], sha: str) -> dict[str, Any]:
    """A job without a hash, with ``sha`` and the entry paths it decides."""
    return {
        **job,
        "sha256": sha,
        "mel_file": job["mel_file"] and fill_hash(job["mel_file"], sha),
        "desc_file": job["desc_file"] and fill_hash(job["desc_file"], sha),
    }


def read_table(root: Path, name: str) -> pd.DataFrame | None:
    import pandas as pd

    pq, csv = root / f"{name}.parquet", root / f"{name}.csv"
    try:
        if pq.is_file():
            return pd.read_parquet(pq)
        if csv.is_file():
            return pd.read_csv(csv)
    except Exception:  # noqa: BLE001 — a damaged table is rebuilt from the entries
        return None
    return None
