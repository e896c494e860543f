"""``--engine ray`` (#13) on a real local Ray cluster (no mocking): the same feature store and the same analysis as
the local engine, resumable, bad files reported, a killed worker's files done exactly once, loopback only."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

# Read when Ray is imported: without it Ray reaches its own node through the machine's network address even when told
# 127.0.0.1 (the subprocesses get it too).
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'trackscope[ray]')")
pytest.importorskip("ray.data")

from audio_synth import music_like, write  # noqa: E402
from s3_server import free_port, s3_bucket, s3_env  # noqa: E402
from trackscope._ray import map_files  # noqa: E402
from trackscope.features.reader import FeatureStore  # noqa: E402
from trackscope.features.store import extract  # noqa: E402

N_SONGS = 4


# An S3 server (moto) on loopback for the s3:// test; the workers read it with these settings (inherited from the
# environment the cluster starts in).
S3_PORT = free_port()
S3_ENV = s3_env(S3_PORT)


@pytest.fixture(scope="module")
def cluster():
    """A two-CPU Ray cluster on loopback for this module, stopped after it; its GCS address."""
    if ray.is_initialized():
        ray.shutdown()
    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ctx = ray.init(
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        logging_level="warning",
    )
    # the test module's own helpers travel by value: the workers cannot import tests/
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ctx.address_info["gcs_address"]
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("songs")
    for i in range(N_SONGS):
        write(d / f"song{i}.wav", music_like(4.0, seed=i))
    (d / "notes.mp3").write_text("these are notes, not audio\n" * 40)
    (d / "broken.wav").write_bytes(b"RIFF" + bytes(range(256)) * 12)
    return d


def _tables(store: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(store / f"{name}.csv") for name in ("index", "descriptors", "failures")}


def test_extract_on_ray_makes_the_local_store(cluster, songs, tmp_path, monkeypatch):
    local = extract([songs], tmp_path / "local", workers=1)
    seen: list[tuple[int, int]] = []
    import trackscope.features.store as store_module

    def refused(path):
        raise AssertionError(f"the driver hashed {path}: the worker that reads it does")

    monkeypatch.setattr(store_module, "file_sha256", refused)  # the driver reads no audio
    remote = extract([songs], tmp_path / "ray", engine="ray", progress=lambda d, t: seen.append((d, t)))
    monkeypatch.undo()
    for key in ("done", "cached", "failed", "files"):
        assert remote[key] == local[key], key
    assert remote["done"] == N_SONGS and remote["failed"] == 2
    assert seen[-1] == (N_SONGS + 2, N_SONGS + 2)  # the bar is fed by the job, to the end
    a, b = _tables(tmp_path / "local"), _tables(tmp_path / "ray")
    pd.testing.assert_frame_equal(a["descriptors"], b["descriptors"])  # the same numbers, the same order
    pd.testing.assert_frame_equal(a["failures"], b["failures"])  # the same reasons
    assert dict(zip(b["failures"].path.map(lambda p: Path(p).name), b["failures"].reason, strict=True)) == {
        "broken.wav": "damaged or unsupported WAV file (soundfile: Format not recognised)",
        "notes.mp3": "not an audio file: it holds text (soundfile: Format not recognised)",
    }
    pd.testing.assert_frame_equal(a["index"].drop(columns=[]), b["index"])
    sa, sb = FeatureStore(tmp_path / "local"), FeatureStore(tmp_path / "ray")
    for path in a["index"].path:
        np.testing.assert_array_equal(sa.mel(path), sb.mel(path))  # float16 mels, bit for bit

    again = extract([songs], tmp_path / "ray", engine="ray")  # resumable by content hash: nothing new
    assert (again["done"], again["cached"], again["failed"]) == (0, N_SONGS, 2)
    pd.testing.assert_frame_equal(_tables(tmp_path / "ray")["descriptors"], b["descriptors"])


def test_analyze_on_ray_gives_the_local_analysis(cluster, songs, tmp_path):
    from trackscope.tasks.analyze import analyze

    local = analyze([songs], workers=1).result
    # a run interrupted after two songs left them in its journal: the Ray run does only the others (and the bad files)
    files = sorted(songs.glob("song*.wav"))
    analyze(files[:2], workers=1, journal=tmp_path / "journal")
    seen: list[tuple[int, int]] = []
    remote = analyze(
        [songs], engine="ray", journal=tmp_path / "journal", progress=lambda d, t: seen.append((d, t))
    ).result
    assert seen[0] == (2, N_SONGS + 2) and len(seen) == 1 + N_SONGS  # 2 resumed, then one per file Ray did
    assert [s["path"] for s in remote["songs"]] == [s["path"] for s in local["songs"]]
    assert remote["failures"] == local["failures"] and len(remote["failures"]) == 2
    for a, b in zip(local["songs"], remote["songs"], strict=True):
        assert a["mood"] == b["mood"] and a["name"] == b["name"] and a["key"] == b["key"]
        probs_a = [a[k] for k in a if k.startswith("p_")]
        probs_b = [b[k] for k in b if k.startswith("p_")]
        assert probs_a and np.allclose(probs_a, probs_b, rtol=0, atol=1e-6)
        assert a["tempo"] == pytest.approx(b["tempo"]) and a["loudness_lufs"] == pytest.approx(b["loudness_lufs"])
        assert [t["tag"] for t in a["top_tags"]] == [t["tag"] for t in b["top_tags"]]


def _ray_workers() -> list[int]:
    """PIDs of this session's Ray Data actors (their process title names the actor class): children of a raylet
    that this test process started (the cluster fixture's), never another job's on the same machine."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
            if b"_FileActor" in title and b"MapWorker" in title and _parent(_parent(int(entry.name))) == os.getpid():
                pids.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _parent(pid: int) -> int:
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("clips")
    for i in range(6):
        write(folder / f"clip{i}.wav", music_like(3.0, seed=10 + i))
    return folder


def test_a_killed_worker_still_gives_every_file_exactly_once(cluster, clips, tmp_path):
    folder = clips
    killed: list[int] = []

    def progress(done: int, total: int) -> None:
        if done >= 1 and not killed:  # mid-job: the first result is in, others are being computed
            pids = _ray_workers()
            assert pids, "no Ray Data worker found to kill"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    out = extract([folder], tmp_path / "store", engine="ray", progress=progress)
    assert killed
    assert (out["done"], out["failed"]) == (6, 0)
    index = pd.read_csv(tmp_path / "store" / "index.csv")
    assert sorted(Path(p).name for p in index.path) == [f"clip{i}.wav" for i in range(6)]  # each exactly once
    assert len(pd.read_csv(tmp_path / "store" / "descriptors.csv")) == 6


def _crash_on_poison(_state, local_path: str, path: str, job):
    """A decoder that takes its whole process down on one file (as a segfault would)."""
    if Path(path).name == "poison.wav":
        os._exit(139)
    return {"name": Path(path).name, "size": os.path.getsize(local_path)}


def test_a_file_that_kills_its_worker_is_reported_and_the_batch_goes_on(cluster, tmp_path):
    names = ["a.wav", "poison.wav", "b.wav", "c.wav"]
    for n in names:
        (tmp_path / n).write_bytes(n.encode() * 10)
    results: dict[int, object] = {}

    def arrived(i: int, res: object) -> None:
        assert i not in results  # exactly once
        results[i] = res

    map_files([(str(tmp_path / n), None) for n in names], _crash_on_poison, arrived)
    assert sorted(results) == [0, 1, 2, 3]
    assert results[1] == {"__failure__": "the worker process died 2 times while decoding or analysing it"}
    assert results[0] == {"name": "a.wav", "size": 50} and results[3] == {"name": "c.wav", "size": 50}


def test_cli_extract_joins_the_cluster_by_address_and_stays_on_loopback(cluster, songs, tmp_path):
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "trackscope", "extract", str(songs), "--out", str(tmp_path / "s"), "--json"]
    proc = subprocess.Popen(
        [*cmd, "--engine", "ray", "--ray-address", cluster], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    peers: set[tuple[str, int]] = set()
    while proc.poll() is None:  # every TCP connection of the machine while the job runs, and its process
        peers |= _tcp_peers()
        time.sleep(0.2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    summary = json.loads(out)
    assert (summary["done"], summary["failed"]) == (N_SONGS, 2)
    ours = _descendants(os.getpid())  # this test's processes: the cluster (started by the fixture) and the CLI
    mine = {peer for peer, pid in peers if pid in ours}
    assert mine and all(p.startswith(("127.", "[::1]", "[::ffff:127.")) for p in mine), mine


def _descendants(root: int) -> set[int]:
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:  # /proc/PID/stat: "PID (name) STATE PPID ..."; the name may hold spaces
                parent[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, grew = {root}, True
    while grew:
        new = {pid for pid, ppid in parent.items() if ppid in found and pid not in found}
        found |= new
        grew = bool(new)
    return found


def _tcp_peers() -> set[tuple[str, int]]:
    """(peer address, pid) of every TCP connection of the machine (``ss -tnp``)."""
    import re

    try:
        lines = subprocess.run(["ss", "-tnpH"], capture_output=True, text=True, timeout=5).stdout.splitlines()
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("ss is not available")
    # "ESTAB 0 0 LOCAL:PORT PEER:PORT users:(("raylet",pid=6990,fd=45))"
    out = set()
    for line in lines:
        f = line.split()
        if len(f) >= 5:
            for pid in re.findall(r"pid=(\d+)", line):
                out.add((f[4].rsplit(":", 1)[0], int(pid)))
    return out


def test_engine_ray_without_ray_or_cluster_says_why(monkeypatch, songs, tmp_path):
    from typer.testing import CliRunner

    from trackscope.cli import app

    res = CliRunner().invoke(
        app, ["extract", str(songs), "--out", str(tmp_path / "s"), "--engine", "ray", "--ray-address", "127.0.0.1:1"]
    )  # nothing listens there: at once, not minutes
    assert res.exit_code == 2 and "cannot reach the Ray cluster at 127.0.0.1:1" in res.output, res.output

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    res = CliRunner().invoke(app, ["extract", str(songs), "--out", str(tmp_path / "s"), "--engine", "ray"])
    assert res.exit_code == 2
    assert "pip install 'trackscope[ray]'" in res.output
    assert not (tmp_path / "s").exists()
    res = CliRunner().invoke(app, ["analyze", str(songs), "--out", str(tmp_path / "a"), "--engine", "warp"])
    assert res.exit_code == 2 and "must be one of local, ray" in res.output


class _ListOnly:
    """The driver's S3 filesystem, with reading an object refused: objects are read (and hashed) by the workers."""

    def __init__(self, real):
        self.real = real

    def __getattr__(self, name):
        if name.startswith("open_input"):
            raise AssertionError(f"the driver read an S3 object ({name})")
        return getattr(self.real, name)

    def get_file_info(self, what):
        _ListOnly.asked.append(what)
        return self.real.get_file_info(what)

    asked: list = []


def test_s3_inputs_through_a_local_s3_server(cluster, songs, tmp_path, monkeypatch):
    from trackscope import _ray as ray_module

    real_fs = ray_module._s3_filesystem
    monkeypatch.setattr(ray_module, "_s3_filesystem", lambda: _ListOnly(real_fs()))
    names = ("song0.wav", "song1.wav", "notes.mp3")
    with s3_bucket(S3_PORT, "catalogue", {f"in/{n}": songs / n for n in names}):
        _ListOnly.asked.clear()
        out = extract(["s3://catalogue/in/"], tmp_path / "s3store", engine="ray")
        assert (out["done"], out["failed"]) == (2, 1)
        # the prefix, then its listing: no request per object (a catalogue's objects are stat-ed from the listing)
        assert [type(a).__name__ for a in _ListOnly.asked] == ["str", "FileSelector"]
        # keyed by the bytes' SHA-256, computed by the workers that read the objects (the driver reads none)
        index = pd.read_csv(tmp_path / "s3store" / "index.csv")
        assert dict(zip(index.path, index.sha256, strict=True)) == {
            f"s3://catalogue/in/{n}": hashlib.sha256((songs / n).read_bytes()).hexdigest()
            for n in ("song0.wav", "song1.wav")
        }
        again = extract(["s3://catalogue/in/"], tmp_path / "s3store", engine="ray")
        assert (again["done"], again["cached"], again["failed"]) == (0, 2, 1)  # resumed: nothing read again
        assert out["failures"] == [
            {
                "path": "s3://catalogue/in/notes.mp3",
                "reason": "not an audio file: it holds text (soundfile: Format not recognised)",
            }
        ]
        local = extract([songs / "song0.wav", songs / "song1.wav"], tmp_path / "local", workers=1)
        assert local["done"] == 2
        a = pd.read_csv(tmp_path / "local" / "descriptors.csv")
        b = pd.read_csv(tmp_path / "s3store" / "descriptors.csv")
        assert list(b.path) == ["s3://catalogue/in/song0.wav", "s3://catalogue/in/song1.wav"]
        pd.testing.assert_frame_equal(a.drop(columns="path"), b.drop(columns="path"))  # the same numbers

        from typer.testing import CliRunner

        from trackscope.cli import app

        res = CliRunner().invoke(
            app,
            [
                "analyze",
                "s3://catalogue/in/",
                "--engine",
                "ray",
                "--json",
                "--no-report",
                "--out",
                str(tmp_path / "analysis"),
            ],
        )
        assert res.exit_code == 0, res.output
        result = json.loads(res.stdout)
        assert [(x["path"], x["name"]) for x in result["songs"]] == [
            ("s3://catalogue/in/song0.wav", "song0.wav"),
            ("s3://catalogue/in/song1.wav", "song1.wav"),
        ]
        assert [x["path"] for x in result["failures"]] == ["s3://catalogue/in/notes.mp3"]


def test_a_driver_killed_mid_job_resumes_where_it_stopped(cluster, clips, tmp_path):
    store = tmp_path / "store"
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "trackscope", "extract", str(clips), "--out", str(store), "--json"]
    proc = subprocess.Popen(
        [*cmd, "--engine", "ray", "--ray-address", cluster],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline and not list(store.glob("mel/*/*/*.npy")):
        time.sleep(0.02)
    proc.kill()  # kill -9 of the driver as soon as its first entry is written
    proc.wait(timeout=30)
    # an entry is complete when both its files are in place (the driver may die between writing the two)
    mels = {p.stem for p in store.glob("mel/*/*/*.npy")}
    written = len(mels & {p.stem for p in store.glob("desc/*/*/*.json")})
    assert mels
    again = extract([clips], store, engine="ray")
    assert again["done"] + again["cached"] == 6 and again["cached"] >= written and again["failed"] == 0
    index = pd.read_csv(store / "index.csv")
    assert sorted(Path(p).name for p in index.path) == [f"clip{i}.wav" for i in range(6)]  # each exactly once
    assert len(list(store.glob("mel/*/*/*.npy"))) == 6 and not list(store.rglob(".tmp*"))


def test_training_clip_features_on_ray_match_the_local_engine(cluster, songs, tmp_path):
    """The per-clip features of ``train popularity --audio`` (and its cache) computed by Ray workers: the same
    arrays as in this process, the bad files reported with their reasons, the cache filled by the driver."""
    from trackscope.features.clips import mel_config, mels_for

    paths = sorted(songs.iterdir())
    cfg = mel_config(clip_seconds=4.0)
    local, ok_local, bad_local = mels_for(paths, cfg, store=None)
    remote, ok_remote, bad_remote = mels_for(paths, cfg, store=tmp_path / "cache", engine="ray", ray_address=cluster)
    assert ok_remote == ok_local and len(ok_local) == N_SONGS
    assert [p for p, _ in bad_remote] == [p for p, _ in bad_local] and len(bad_local) == 2
    assert [r for _, r in bad_remote] == [r for _, r in bad_local]
    assert np.allclose(remote.astype(np.float32), local.astype(np.float32), atol=0.05)  # float16 dB, one CPU path
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == N_SONGS


def test_mood_training_features_on_ray_match_the_local_engine(cluster, songs, tmp_path):
    """``train mood --audio --engine ray``'s per-clip window rows: those of the local engine, failures alike."""
    from trackscope.features.cache import ClipCache
    from trackscope.features.song import clip_matrix, feature_config

    paths = sorted(songs.iterdir())
    config = feature_config()
    local = clip_matrix(paths, config, cache=ClipCache(tmp_path / "local"))
    remote = clip_matrix(paths, config, cache=ClipCache(tmp_path / "ray"), engine="ray", ray_address=cluster)
    assert remote.kept == local.kept and len(local.kept) == N_SONGS
    assert remote.failures == local.failures and len(local.failures) == 2
    assert remote.names == local.names
    scale = np.abs(local.x).max(axis=0) + 1e-6  # musicnn statistics in float32: one CPU path, a few ulp apart at most
    assert np.all(np.abs(remote.x - local.x) <= 1e-4 * scale)
