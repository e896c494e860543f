"""`analyze --out` resumes: the journal of finished songs, and a real kill -9 mid-batch followed by a rerun that
analyses only what is missing and writes what an uninterrupted run writes."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import trackscope
import trackscope.tasks.analyze as analyze_module
from trackscope._journal import Journal, remove
from trackscope.errors import TrackscopeError
from trackscope.sources.example_audio import style_clip, write_wav


def test_journal_keeps_numbers_exactly_and_removes_only_its_own_files(tmp_path):
    folder = tmp_path / "out" / "run.partial"
    book = Journal(folder, {"kind": "test", "sizes": (1, 2)}, command="test", run_noun="test run")
    book.append({"t": "row", "p": np.float32(0.25), "nan": float("nan"), "v": np.arange(3), "x": 0.1 + 0.2})
    book.append({"t": "row", "big": "x" * 1000}, keep=False)  # durable, but not held in memory
    assert len(book.of_type("row")) == 1
    book.close()
    again = Journal(folder, {"kind": "test", "sizes": [1, 2]}, command="test", run_noun="test run")  # same meta
    rows = again.of_type("row")
    assert again.resumed and len(rows) == 2 and rows[1]["big"] == "x" * 1000
    assert rows[0]["p"] == 0.25 and math.isnan(rows[0]["nan"]) and rows[0]["v"] == [0, 1, 2]
    assert rows[0]["x"] == 0.1 + 0.2  # floats written with every digit
    with pytest.raises(TrackscopeError, match="another trackscope test is writing"):
        Journal(folder, {"kind": "test", "sizes": [1, 2]}, command="test", run_noun="test run")
    again.close()
    with pytest.raises(TrackscopeError, match="different test run"):
        Journal(folder, {"kind": "other"}, command="test", run_noun="test run")
    in_the_way = tmp_path / "file.partial"
    in_the_way.write_text("a file of the user's")
    with pytest.raises(TrackscopeError, match="a file is where this run keeps its journal"):
        Journal(in_the_way, {"kind": "test"}, command="test", run_noun="test run")
    assert in_the_way.read_text() == "a file of the user's"
    (folder / "mine.txt").write_text("not the journal's")
    remove(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]  # what is not ours stays
    (folder / "mine.txt").unlink()
    remove(folder)
    assert not folder.exists() and folder.parent.is_dir()


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    root = tmp_path_factory.mktemp("songs")
    styles = ["energetic", "tense", "dark", "calm"]
    for i in range(8):
        write_wav(root / f"song {i}.wav", style_clip(styles[i % 4], 8.0, seed=i))
    (root / "broken.mp3").write_text("not audio")
    return root


def _lines(path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_analyze_killed_mid_batch_resumes_and_writes_what_one_run_writes(songs, tmp_path, monkeypatch):
    out = tmp_path / "out"
    journal = out / analyze_module.JOURNAL_DIR / "progress.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "trackscope", "analyze", str(songs), "--out", str(out), "--workers", "1", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    deadline = time.time() + 120
    while time.time() < deadline and _lines(journal) < 4:  # the settings, then 3 songs
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = _lines(journal) - 1
    assert 3 <= finished < 8, "the batch should have been killed part-way"
    assert not (out / "analysis.json").exists()  # the outputs are written at the end
    # a rerun with other settings (no pictures) would mix two runs: refused, saying what to do
    with pytest.raises(TrackscopeError, match="different analysis.*rerun with the same settings"):
        trackscope.analyze(songs, out=out, report=False)

    analysed: list[str] = []
    real = analyze_module.analyze_song

    def counting(md, f, draw=None):
        analysed.append(f.name)
        return real(md, f, draw)

    monkeypatch.setattr(analyze_module, "analyze_song", counting)
    progress: list[tuple[int, int]] = []
    resumed = trackscope.analyze(songs, out=out, progress=lambda d, t: progress.append((d, t)))
    assert len(analysed) == 8 - finished + 1  # the songs not journaled, and the file that is not audio (again)
    assert progress[0] == (finished, 9) and progress[-1] == (9, 9)
    assert not journal.parent.exists()  # removed once the outputs are written
    assert set(resumed.figures) == set(resumed.songs["path"])  # the journaled songs' pictures came back too
    assert (out / "report.html").is_file()

    analysed.clear()
    whole = trackscope.analyze(songs, out=tmp_path / "whole")
    assert len(analysed) == 9  # a finished run leaves no journal: a new run starts from scratch
    a = json.loads((out / "analysis.json").read_text())
    b = json.loads((tmp_path / "whole" / "analysis.json").read_text())
    for d in (a, b):
        d.pop("outputs", None)
    assert a == b  # the same songs, numbers and order as one uninterrupted run
    assert (out / "analysis.csv").read_text() == (tmp_path / "whole" / "analysis.csv").read_text()
    assert resumed.figures == whole.figures  # pictures drawn from the same audio: the same PNG bytes
