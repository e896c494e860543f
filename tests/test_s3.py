"""s3:// inputs with the local engine: a real S3-compatible server (moto) on 127.0.0.1, objects read by the local
worker that computes them; the same store entries and analysis as the same bytes read from local files."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from audio_synth import music_like, write
from s3_server import free_port, s3_bucket, s3_env
from trackscope.api import analyze_songs
from trackscope.features.store import extract


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    d = tmp_path_factory.mktemp("songs")
    for i in range(2):
        write(d / f"song{i}.wav", music_like(4.0, seed=i))
    (d / "notes.mp3").write_text("these are notes, not audio\n" * 40)
    return d


def test_local_engine_reads_s3_objects_as_it_reads_files(songs, tmp_path, monkeypatch):
    port = free_port()
    for key, value in s3_env(port).items():
        monkeypatch.setenv(key, value)
    names = ("song0.wav", "song1.wav", "notes.mp3")
    local = extract([songs], tmp_path / "store", workers=1)
    here = analyze_songs([songs], workers=1).to_dict()
    with s3_bucket(port, "catalogue", {f"in/{n}": songs / n for n in names}) as s3:
        remote = extract(["s3://catalogue/in/"], tmp_path / "s3store", workers=1)
        first = pd.read_csv(tmp_path / "s3store" / "descriptors.csv")
        again = extract(["s3://catalogue/in/"], tmp_path / "s3store", workers=1)
        analysis = analyze_songs(["s3://catalogue/in/"], workers=1).to_dict()
        missing = extract(["s3://catalogue/nothing/"], tmp_path / "none", workers=1)
        # the object replaced (another size: S3's modification times have whole seconds): computed again
        longer = write(tmp_path / "longer.wav", music_like(5.0, seed=7))
        with s3.open_output_stream("catalogue/in/song1.wav") as f:
            f.write(longer.read_bytes())
        changed = extract(["s3://catalogue/in/"], tmp_path / "s3store", workers=1)

    assert (remote["done"], remote["failed"]) == (local["done"], local["failed"]) == (2, 1)
    assert [f["reason"] for f in remote["failures"]] == [f["reason"] for f in local["failures"]]
    assert list(first.path) == ["s3://catalogue/in/song0.wav", "s3://catalogue/in/song1.wav"]
    b = pd.read_csv(tmp_path / "store" / "descriptors.csv")
    pd.testing.assert_frame_equal(first.drop(columns="path"), b.drop(columns="path"))  # same bytes: same numbers
    assert (again["done"], again["cached"]) == (0, 2)  # resumed from the index: no object read again
    assert (changed["done"], changed["cached"]) == (1, 1)
    index = pd.read_csv(tmp_path / "s3store" / "index.csv").set_index("path")
    assert index.sha256["s3://catalogue/in/song1.wav"] == hashlib.sha256(longer.read_bytes()).hexdigest()
    assert not list((tmp_path / "s3store").glob("*.partial"))  # the hash journal is gone with the run

    assert [(s["path"], s["name"]) for s in analysis["songs"]] == [
        ("s3://catalogue/in/song0.wav", "song0.wav"),
        ("s3://catalogue/in/song1.wav", "song1.wav"),
    ]
    assert [s["mood"] for s in analysis["songs"]] == [s["mood"] for s in here["songs"]]
    assert [s[k] for s in analysis["songs"] for k in s if k.startswith("p_")] == pytest.approx(
        [s[k] for s in here["songs"] for k in s if k.startswith("p_")], abs=1e-6
    )
    assert [f["path"] for f in analysis["failures"]] == ["s3://catalogue/in/notes.mp3"]
    assert missing["failures"] == [{"path": "s3://catalogue/nothing/", "reason": "no such S3 object or prefix"}]
