"""The background runner: queued songs analysed in worker processes and recorded with their media; wake, stop,
status; and a process holding a runner killed with SIGKILL mid-analysis: after a restart every song is analysed
exactly once and the database passes its integrity check."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from audio_synth import music_like, write
from trackscope.workspace import Workspace
from trackscope.workspace.runner import Runner


def wait_for(check, timeout: float = 60.0, every: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s")


def test_queued_songs_are_analysed_in_workers_and_recorded_with_media(tmp_path):
    folder = tmp_path / "ws"
    ws = Workspace(folder)
    good = [ws.add_file(write(tmp_path / f"song{i}.wav", music_like(6.0, seed=i)))["id"] for i in range(2)]
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(b"RIFF" + bytes(range(256)) * 8)  # a WAV by its first bytes, nothing decodable after
    bad = ws.add_file(damaged)["id"]
    assert ws.get_song(bad)["status"] == "queued"  # only the decoder can tell
    runner = Runner(folder, workers=1, poll_s=60.0)  # long poll: only wake() and finished songs move it
    runner.start()
    try:
        wait_for(lambda: ws.counts()["done"] + ws.counts()["failed"] == 3)
        st = runner.status()
        assert st["running"] and st["workers"] == 1 and st["queued"] == 0 and st["analysing"] == 0
        assert st["mood_model"] == "builtin:mood"
        for sid in good:
            song = ws.get_song(sid)
            assert song["status"] == "done" and song["error"] is None, song["error"]
            assert song["mood"] in {"happy/energetic", "aggressive/tense", "sad/dark", "calm/relaxing"}
            assert song["quadrant"] in {"Q1", "Q2", "Q3", "Q4"}
            assert abs(sum(song["probabilities"].values()) - 1.0) < 1e-6
            assert song["duration"] == pytest.approx(6.0, abs=0.05) and song["tempo"] > 0
            assert song["key"].endswith(")") and song["windows"] and song["tags"]
            wave = song["waveform"]
            assert 100 < wave["points"] <= 1000 and len(wave["lo"]) == len(wave["hi"]) == wave["points"]
            assert max(wave["hi"]) == 1.0 or min(wave["lo"]) == -1.0
            assert all(-1 <= lo <= hi <= 1 for lo, hi in zip(wave["lo"], wave["hi"], strict=True))
            mel = ws.mel_image(sid)
            assert mel[:4] == b"RIFF" and mel[8:12] == b"WEBP"
            assert song["analyses"][0]["mood_model"] == "builtin:mood"
        failed = ws.get_song(bad)
        assert failed["status"] == "failed" and "WAV" in failed["error"] and "\n" not in failed["error"]
        # a new song is noticed at once with wake(), not at the next poll
        late = ws.add_file(write(tmp_path / "late.wav", music_like(6.0, seed=9)))["id"]
        runner.wake()
        wait_for(lambda: ws.get_song(late)["status"] == "done", timeout=30)
        # a worker killed mid-song (e.g. for memory): that song fails with a reason, fresh workers take the next
        doomed = ws.add_file(write(tmp_path / "doomed.wav", music_like(40.0, seed=4)))["id"]
        runner.wake()
        wait_for(lambda: ws.get_song(doomed)["status"] == "analysing", timeout=10)
        for p in list(runner._pool._processes.values()):
            os.kill(p.pid, signal.SIGKILL)
        wait_for(lambda: ws.get_song(doomed)["status"] == "failed", timeout=20)
        assert "worker died" in ws.get_song(doomed)["error"]
        # stop() with a song in flight: it goes back to the queue, the workers are gone
        long = ws.add_file(write(tmp_path / "long.wav", music_like(40.0, seed=3)))["id"]
        runner.wake()
        wait_for(lambda: ws.get_song(long)["status"] == "analysing", timeout=10)
        assert runner.status()["running"] and runner.status()["error"] is None
        procs = list(runner._pool._processes.values())
    finally:
        runner.stop()
    assert ws.get_song(long)["status"] == "queued"
    assert not runner.status()["running"] and all(not p.is_alive() for p in procs)
    ws.close()


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    """Running (a zombie that its new parent has not reaped yet is not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


CHILD = """
import sys, time
from trackscope.workspace.runner import Runner
Runner(sys.argv[1], workers=1).start()
time.sleep(600)
"""


def test_sigkill_mid_analysis_then_restart_analyses_every_song_exactly_once(tmp_path):
    folder = tmp_path / "ws"
    ws = Workspace(folder)
    ids = [ws.add_file(write(tmp_path / f"s{i}.wav", music_like(8.0, seed=20 + i)))["id"] for i in range(3)]
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(folder)],
        start_new_session=True,  # its own process group, so that the test can clean up whatever happens
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parent)},
    )
    try:
        wait_for(lambda: ws.counts()["done"] >= 1 and ws.counts()["analysing"] >= 1, timeout=90, every=0.02)
        workers = children(child.pid)
        assert workers
        os.kill(child.pid, signal.SIGKILL)  # kill -9 of the process holding the runner, mid-analysis
        child.wait()
        wait_for(lambda: not any(alive(p) for p in workers), timeout=10)  # its workers leave with it
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of it, were the test to fail
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    before = dict(ws._query("SELECT song_id, created FROM analyses"))
    assert before and ws.counts()["analysing"] >= 1  # died mid-analysis
    db = sqlite3.connect(ws.db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()

    runner = Runner(folder, workers=1).start()  # recover(): the interrupted song is queued again
    try:
        wait_for(lambda: ws.counts()["done"] == 3, timeout=90)
    finally:
        runner.stop()
    per_song = dict(ws._query("SELECT song_id, COUNT(*) FROM analyses GROUP BY song_id"))
    assert per_song == {i: 1 for i in ids}
    after = dict(ws._query("SELECT song_id, created FROM analyses"))
    assert all(after[i] == created for i, created in before.items())  # what finished before the kill is not redone
    assert all(s["status"] == "done" and s["mood"] for s in ws.list_songs())
    db = sqlite3.connect(ws.db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()
    ws.close()
