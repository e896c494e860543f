"""Feature store and `trackscope extract`: caching by content + config, bad files, crash safety (a real kill -9)."""

from __future__ import annotations

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

from audio_synth import BAD_REASONS, SR, bad_input_corpus, music_like, sine, write
from trackscope.audio.io import load_audio
from trackscope.audio.mel import mel_db
from trackscope.errors import TrackscopeError
from trackscope.features.store import FeatureStore, extract, walk_audio

GOOD = ("mp3", "ogg", "flac", "short_ok", "silence", "hires_6ch", "unicode", "long_20min")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return bad_input_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def first_run(corpus, tmp_path_factory):
    store = tmp_path_factory.mktemp("store") / "features"
    calls = []
    summary = extract([corpus["mp3"].parent], store, progress=lambda d, t: calls.append((d, t)))
    return store, summary, calls


def test_batch_completes_with_a_result_or_error_per_file(corpus, first_run):
    store, summary, calls = first_run
    assert (summary["done"], summary["cached"], summary["failed"]) == (len(GOOD), 0, len(BAD_REASONS))
    fails = pd.read_csv(store / "failures.csv")
    reasons = dict(zip(fails["path"], fails["reason"], strict=True))
    for name, text in BAD_REASONS.items():
        assert text.lower() in reasons[os.path.abspath(corpus[name])].lower()
    idx = FeatureStore(store).index()
    assert sorted(idx["path"]) == sorted(os.path.abspath(corpus[n]) for n in GOOD)
    assert idx["path"].is_unique
    assert calls[-1][0] == calls[-1][1] == 13  # every file walked counts, failed ones too
    assert bool(idx.loc[idx["path"] == os.path.abspath(corpus["silence"]), "silent"].iloc[0])


def test_descriptor_table_parquet_and_csv_agree(first_run):
    store, _, _ = first_run
    fs = FeatureStore(store)
    d = fs.descriptors()
    assert list(d.columns[:2]) == ["path", "sha256"] and "tempo" in d and "loudness_lufs" in d
    assert len(d) == len(GOOD) and d.drop(columns=["path", "sha256"]).notna().all().all()
    csv = pd.read_csv(store / "descriptors.csv")
    # CSV holds decimal text of the float64 values (pandas writes ≥ 15 significant digits): 1e-9 relative
    np.testing.assert_allclose(csv["loudness_lufs"], d["loudness_lufs"], rtol=1e-9)
    assert (d["sha256"] == fs.index().set_index("path").loc[d["path"], "sha256"].values).all()


def test_mels_are_float16_on_disk_and_float32_out(corpus, first_run):
    store, _, _ = first_run
    fs = FeatureStore(store)
    row = fs.index().set_index("path").loc[os.path.abspath(corpus["flac"])]
    assert np.load(store / row["mel_file"]).dtype == np.float16
    mel = fs.mel(corpus["flac"])
    assert mel.dtype == np.float32
    ref = mel_db(load_audio(corpus["flac"]).samples)
    np.testing.assert_allclose(mel, ref, atol=0.06)  # float16 step at |x| < 64 dB is <= 0.03
    np.testing.assert_array_equal(fs.mel(row["sha256"]), mel)  # the same stored array, read again: exact
    long = fs.mel(corpus["long_20min"])
    assert long.shape == (128, 1 + int(30 * SR) // 512)  # the centre 30 s of a 20-minute song
    got = {p: m.shape for p, _, m in fs.iter_mels(shuffle=True, seed=1)}
    assert len(got) == len(GOOD)
    assert {m.shape for _, _, m in fs.iter_mels(frames=200)} == {(128, 200)}  # fixed width for batches
    short = fs.mel(corpus["short_ok"], frames=100)  # 44 frames, padded both sides with its minimum
    assert short.shape == (128, 100) and short[:, 0].max() == short.min()
    np.testing.assert_array_equal(fs.mel(corpus["long_20min"], frames=1000), long[:, 146:1146])  # a slice: exact
    with pytest.raises(TrackscopeError, match="not in the feature store"):
        fs.mel("nope.mp3")


def test_rerun_is_cached_and_config_change_recomputes(corpus, first_run, tmp_path):
    store, _, _ = first_run
    again = extract([corpus["mp3"].parent], store)
    assert (again["done"], again["cached"], again["failed"]) == (0, len(GOOD), len(BAD_REASONS))
    other = tmp_path / "s2"
    small = [corpus["flac"], corpus["short_ok"]]
    assert extract(small, other, what=["descriptors"])["done"] == 2
    assert extract(small, other, what=["descriptors"])["cached"] == 2
    assert extract(small, other, what=["descriptors"], sr=16000)["done"] == 2  # new config
    both = extract(small, other, what=["mel", "descriptors"], sr=16000)  # descriptors cached, mel missing
    assert both["done"] == 2
    assert extract(small, other, what=["mel"], sr=16000, mel_window=10.0)["done"] == 2
    idx = FeatureStore(other).index()  # a mel-only run still knows each file's duration (from a sidecar)
    assert idx["duration"].notna().all() and (idx["desc_file"].fillna("") == "").all()
    assert FeatureStore(other).mel(small[0]).shape == (128, 1 + 16000 * 4 // 512)  # the 4-s file, whole


def test_same_bytes_two_paths_computed_once(tmp_path):
    a = write(tmp_path / "a.wav", sine(440, 1.0))
    b = tmp_path / "copy of a.wav"
    b.write_bytes(a.read_bytes())
    s = extract([tmp_path], tmp_path / "store", what=["descriptors"])
    assert s["done"] == 2 and s["failed"] == 0
    idx = FeatureStore(tmp_path / "store").index()
    assert len(idx) == 2 and idx["sha256"].nunique() == 1


def test_bad_arguments(tmp_path):
    with pytest.raises(TrackscopeError, match="--what"):
        extract([tmp_path], tmp_path / "s", what=["spectrum"])
    (tmp_path / "notastore").mkdir()
    (tmp_path / "notastore" / "x.txt").write_text("mine")
    with pytest.raises(TrackscopeError, match="not a trackscope feature store"):
        extract([tmp_path], tmp_path / "notastore")
    with pytest.raises(TrackscopeError, match="not a trackscope feature store"):
        FeatureStore(tmp_path)


def test_walk_reports_missing_paths_and_audio_named_folders(corpus, tmp_path):
    files, problems = walk_audio([corpus["mp3"].parent, tmp_path / "missing.mp3"])
    assert corpus["unicode"] in files
    assert (str(tmp_path / "missing.mp3"), "file not found") in problems
    assert any(p.endswith("song.mp3") and "folder" in r for p, r in problems)


def test_two_worker_processes(tmp_path):
    for i in range(3):
        write(tmp_path / "in" / f"s{i}.wav", music_like(2.0, seed=i))
    s = extract([tmp_path / "in"], tmp_path / "store", workers=2)
    assert (s["done"], s["failed"]) == (3, 0)
    assert len(FeatureStore(tmp_path / "store").descriptors()) == 3


def test_extract_never_imports_torch(tmp_path):
    """``extract`` uses no torch (musicnn is not in it): importing it would cost every run ~1 s. Checked in a fresh
    interpreter, with ``workers="auto"`` (whose validation once imported torch to look for a GPU)."""
    write(tmp_path / "in" / "s.wav", music_like(2.0, seed=1))
    code = (
        "import sys; from trackscope.api import extract; "
        f"s = extract([{str(tmp_path / 'in')!r}], {str(tmp_path / 'store')!r}, workers='auto'); "
        "print(s['done'], 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["1", "False"]


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "trackscope", "extract", *map(str, args)], **kw)


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def test_kill_9_mid_batch_then_rerun_finishes_exactly_once(tmp_path):
    src = tmp_path / "in"
    n = 10  # killed after 3: the rerun still has most of the batch to do
    for i in range(n):
        write(src / f"song {i:02d}.wav", music_like(12.0, seed=i), subtype="PCM_16")
    store = tmp_path / "store"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackscope", "extract", str(src), "--out", str(store), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.time() + 60
    while time.time() < deadline and len(list(store.glob("desc/*/*/*.json"))) < 3:
        time.sleep(0.01)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert workers, "the batch ran in worker processes"
    deadline = time.time() + 20  # its workers leave with it (no idle orphans holding musicnn)
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.05)
    assert not [w for w in workers if Path(f"/proc/{w}").exists()], "orphaned worker processes"
    finished = len(list(store.glob("desc/*/*/*.json")))
    assert 3 <= finished < n, "the batch should have been killed part-way"
    assert not (store / "index.parquet").exists()  # tables are written at the end
    # a write interrupted at the worst moment leaves only a temp file
    stray = next(store.glob("mel/*/*")) / ".tmp-interrupted"
    stray.write_bytes(b"\x93NUMPY half")
    out = _cli(src, "--out", store, "--json", capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["failed"] == 0 and summary["done"] + summary["cached"] == n
    assert summary["cached"] >= finished - 1  # a mel can be missing for the entry written last
    assert not stray.exists()
    fs = FeatureStore(store)
    idx = fs.index()
    assert len(idx) == n and idx["path"].is_unique and idx["sha256"].is_unique
    assert len(fs.descriptors()) == n
    for _, _, mel in fs.iter_mels():
        assert mel.shape == (128, 517) and np.isfinite(mel).all()
    assert not list(store.rglob(".tmp-*"))


def test_cli_json_and_exit_codes(corpus, tmp_path):
    out = _cli(
        corpus["flac"], "--out", tmp_path / "s", "--what", "descriptors", "--json", capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["done"] == 1 and summary["what"] == ["descriptors"]
    bad = _cli(corpus["empty"], corpus["text_mp3"], "--out", tmp_path / "s2", capture_output=True, text=True)
    assert bad.returncode == 2
    assert "empty file" in bad.stderr
