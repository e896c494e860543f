"""The workspace database: schema and migrations, adding songs (dedupe, bad files), listing, recording analyses,
deleting, exporting. No model runs here (rows are made up); see test_workspace_runner.py for real analyses."""

from __future__ import annotations

import csv
import sqlite3
import time

import pytest

from audio_synth import sine, write
from trackscope.constants import QUADRANT_WORDS
from trackscope.errors import TrackscopeError
from trackscope.workspace import Workspace, default_workspace
from trackscope.workspace.db import MIGRATIONS, SCHEMA_VERSION

CLASSES = ("Q1", "Q2", "Q3", "Q4")


def fake_row(i: int, mood: str = "Q1", **extra):
    probs = {c: (0.7 if c == mood else 0.1) for c in CLASSES}
    return {
        "path": f"/nowhere/{i}.wav",
        "name": f"{i}.wav",
        "duration": 30.0 + i,
        "silent": False,
        "mood": mood,
        "mood_words": QUADRANT_WORDS[mood],
        "confidence": 0.7,
        "arousal": 0.5 - i / 100,
        "valence": 0.1 * (i % 7) - 0.3,
        **{f"p_{c}": p for c, p in probs.items()},
        "novelty": (i % 10) / 10,
        "unusual": i % 10 == 9,
        "tempo": 80.0 + i,
        "tempo_confidence": 0.5,
        "key": "A# major",
        "key_confidence": 0.5,
        "loudness_lufs": -14.0 - i / 10,
        "top_tags": [{"tag": "rock", "score": 0.5}, {"tag": "pop", "score": 0.25}],
        "windows": [
            {
                "start": 0.0,
                "duration": 30.0,
                "mood": mood,
                "mood_words": "happy/energetic",
                "confidence": 0.7,
                "arousal": 0.5,
                "valence": 0.2,
                **{f"p_{c}": p for c, p in probs.items()},
                "novelty": 0.1,
                "unusual": False,
            },
        ],  # fmt: skip
        **extra,
    }


@pytest.fixture
def songs(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    return [write(folder / f"song{i}.wav", sine(220.0 * (i + 1), 1.0)) for i in range(3)]


@pytest.fixture
def ws(tmp_path):
    w = Workspace(tmp_path / "ws")
    yield w
    w.close()


def test_a_new_workspace_is_wal_with_foreign_keys_and_the_latest_schema(ws):
    assert ws.schema_version() == SCHEMA_VERSION >= 2
    db = sqlite3.connect(ws.db_path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert {"songs", "analyses", "media", "songs_status", "songs_added", "analyses_song_created"} <= names
    assert ws._query("PRAGMA foreign_keys")[0][0] == 1
    db.close()


def test_a_version_1_database_migrates_forward_keeping_its_songs(tmp_path):
    folder = tmp_path / "old"
    folder.mkdir()
    db = sqlite3.connect(folder / "trackscope.sqlite")
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO songs (id, sha256, name, suffix, size, stored, added, status, updated) "
        "VALUES (1, 'ab', 'old.wav', '.wav', 10, 0, '2026-01-01T00:00:00+00:00', 'done', '2026-01-01T00:00:00+00:00')"
    )
    for created, model in (("2026-01-01T00:00:00+00:00", "m1"), ("2026-01-02T00:00:00+00:00", "m2")):
        db.execute(
            "INSERT INTO analyses (song_id, mood_model, created, mood, mood_words) VALUES (1, ?, ?, 'Q3', 'sad/dark')",
            (model, created),
        )
    db.commit()
    db.close()
    with Workspace(folder) as ws:
        assert ws.schema_version() == SCHEMA_VERSION
        song = ws.get_song(1)
        assert song["name"] == "old.wav" and song["mood"] == "sad/dark" and song["quadrant"] == "Q3"
        assert song["mood_model"] == "m2"  # the newest analysis is the shown one
        assert [a["mood_model"] for a in song["analyses"]] == ["m2", "m1"]
    # a database from a newer trackscope is refused, not damaged
    db = sqlite3.connect(folder / "trackscope.sqlite")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(TrackscopeError, match="newer trackscope"):
        Workspace(folder)


def test_the_same_audio_twice_is_one_song_stored_by_its_hash(ws, songs, tmp_path):
    a = ws.add_file(songs[0])
    assert a["new"] and a["status"] == "queued" and a["name"] == "song0.wav"
    copy = tmp_path / "renamed.WAV"
    copy.write_bytes(songs[0].read_bytes())
    b = ws.add_file(copy)
    assert b == {**a, "new": False}
    stored = ws.audio_path(a["id"])
    assert stored.read_bytes() == songs[0].read_bytes()
    assert stored.parent.parent == ws.audio_dir and stored.name == f"{ws.get_song(a['id'])['sha256']}.wav"
    assert songs[0].exists() and copy.exists()  # the originals are untouched
    up = ws.temp_path(".wav")
    up.write_bytes(songs[1].read_bytes())
    c = ws.add_upload(up, "../../etc/passwd\n.wav")
    assert c["new"] and c["name"] == "passwd .wav" and not up.exists()
    up2 = ws.temp_path()
    up2.write_bytes(songs[1].read_bytes())
    assert ws.add_upload(up2, "again.wav")["id"] == c["id"] and not up2.exists()
    elsewhere = tmp_path / "upload.wav"  # not one of the workspace's temporary files: copied, never removed
    elsewhere.write_bytes(songs[2].read_bytes())
    assert ws.add_upload(elsewhere, "third.wav")["new"] and elsewhere.exists()
    assert ws.count_songs() == 3
    assert not any(ws.tmp_dir.iterdir())


def test_bad_files_become_failed_rows_with_one_line_reasons(ws, songs, tmp_path):
    bad = {
        "text.mp3": b"this is not audio\n" * 10,
        "empty.wav": b"",
        "notes.txt": songs[0].read_bytes(),
        "noext": songs[1].read_bytes(),
    }
    rows = {}
    for name, data in bad.items():
        p = tmp_path / name
        p.write_bytes(data)
        rows[name] = ws.add_file(p)
    rows["huge.wav"] = ws.add_failed("huge.wav", "over the upload size limit\n(200 MB)", size=10**9)
    good = ws.add_file(songs[2])
    for name, r in rows.items():
        assert r["status"] == "failed", name
        song = ws.get_song(r["id"])
        assert song["error"] and "\n" not in song["error"]
        assert ws.audio_path(r["id"]) is None  # nothing kept of a file that is not audio
    assert "text" in ws.get_song(rows["text.mp3"]["id"])["error"]
    assert "empty" in ws.get_song(rows["empty.wav"]["id"])["error"]
    assert ".txt" in ws.get_song(rows["notes.txt"]["id"])["error"]
    assert ws.get_song(rows["huge.wav"]["id"])["error"] == "over the upload size limit (200 MB)"
    assert ws.get_song(good["id"])["status"] == "queued"
    assert ws.claim(10) == [(good["id"], ws.audio_path(good["id"]))]  # failed rows are never queued
    with pytest.raises(TrackscopeError, match="file not found"):
        ws.add_file(tmp_path / "missing.wav")


def test_claim_record_fail_recover(ws, songs):
    ids = [ws.add_file(p)["id"] for p in songs]
    claimed = ws.claim(2)
    assert [i for i, _ in claimed] == ids[:2] and all(p.is_file() for _, p in claimed)
    assert ws.counts() == {"queued": 1, "analysing": 2, "done": 0, "failed": 0}
    ws.record(ids[0], fake_row(0), mood_model="builtin:mood", media={"waveform": {"points": 1, "lo": [-1],
              "hi": [1]}, "mel_webp": b"RIFFxxxxWEBP"})  # fmt: skip
    ws.fail(ids[1], "unreadable or truncated audio\n(decoder: bad frame)")
    assert ws.recover() == 0
    assert ws.claim(5) == [(ids[2], ws.audio_path(ids[2]))]
    assert ws.recover() == 1  # the process analysing it died
    assert ws.counts() == {"queued": 1, "analysing": 0, "done": 1, "failed": 1}
    song = ws.get_song(ids[0])
    assert song["status"] == "done" and song["mood"] == "happy/energetic" and song["quadrant"] == "Q1"
    assert song["key"] == "B♭ major (6B)" and song["duration"] == 30.0
    assert song["probabilities"] == {"Q1": 0.7, "Q2": 0.1, "Q3": 0.1, "Q4": 0.1}
    assert song["tags"][0] == {"tag": "rock", "score": 0.5}
    w = song["windows"][0]
    assert w["mood"] == "happy/energetic" and w["quadrant"] == "Q1" and w["probabilities"]["Q1"] == 0.7
    assert song["waveform"] == {"points": 1, "lo": [-1], "hi": [1]}
    assert ws.mel_image(ids[0]) == b"RIFFxxxxWEBP" and ws.mel_image(ids[1]) is None
    assert ws.get_song(ids[1])["error"] == "unreadable or truncated audio (decoder: bad frame)"
    # a deleted song's late result is dropped, not an error
    ws.delete_song(ids[1])
    assert ws.record(ids[1], fake_row(1), mood_model="builtin:mood") is None


def test_another_model_keeps_both_analyses_and_the_newest_is_shown(ws, songs):
    sid = ws.add_file(songs[0])["id"]
    ws.record(sid, fake_row(0, "Q1"), mood_model="builtin:mood")
    ws.record(sid, fake_row(0, "Q3", why=[{"start": 0, "end": 10, "mood": "Q3"}]), mood_model="/models/mine")
    song = ws.get_song(sid)
    assert song["mood_model"] == "/models/mine" and song["quadrant"] == "Q3" and song["why"][0]["end"] == 10
    assert [(a["mood_model"], a["quadrant"], a["current"]) for a in song["analyses"]] == [
        ("/models/mine", "Q3", True),
        ("builtin:mood", "Q1", False),
    ]
    ws.record(sid, fake_row(0, "Q4"), mood_model="builtin:mood")  # the same model again replaces its analysis
    song = ws.get_song(sid)
    assert len(song["analyses"]) == 2 and song["quadrant"] == "Q4" and song["mood_model"] == "builtin:mood"


def test_list_filter_sort_and_page(ws, songs):
    for i in range(40):  # songs need distinct content: their rows only
        r = ws.add_failed(f"Track {i}.wav", "x")
        ws._query("UPDATE songs SET status = 'analysing' WHERE id = ?", (r["id"],))
        ws.record(r["id"], fake_row(i, CLASSES[i % 4]), mood_model="builtin:mood")
    ws.add_failed("broken_100%.mp3", "empty file (0 bytes)")
    assert ws.count_songs() == 41
    assert ws.count_songs(status="failed") == 1
    assert ws.count_songs(mood="sad/dark") == 10 == ws.count_songs(mood="Q3")
    assert ws.count_songs(unusual=True) == 4 and ws.count_songs(unusual=False) == 37
    assert [s["name"] for s in ws.list_songs(search="100%")] == ["broken_100%.mp3"]
    assert ws.count_songs(search="_") == 1  # LIKE wildcards are plain characters
    by_tempo = ws.list_songs(sort="tempo", descending=True, limit=5, offset=2)
    assert [s["tempo"] for s in by_tempo] == [117.0, 116.0, 115.0, 114.0, 113.0]
    asc = ws.list_songs(sort="tempo")
    assert asc[0]["tempo"] == 80.0 and asc[-1]["tempo"] is None  # missing values last in both orders
    assert ws.list_songs(sort="tempo", descending=True)[-1]["tempo"] is None
    page = [s["id"] for p in range(5) for s in ws.list_songs(sort="added", limit=10, offset=10 * p)]
    assert page == sorted(page) and len(set(page)) == 41
    s = ws.list_songs(limit=1)[0]
    assert set(s) >= {"id", "name", "status", "error", "mood", "quadrant", "probabilities", "arousal", "valence",
                      "novelty", "unusual", "tempo", "key", "loudness_lufs", "duration", "hit_potential", "added",
                      "size", "sha256"}  # fmt: skip
    with pytest.raises(TrackscopeError, match="sort must be one of"):
        ws.list_songs(sort="name; DROP TABLE songs")
    with pytest.raises(TrackscopeError, match="status must be one of"):
        ws.list_songs(status="nope")


def test_listing_2000_songs_pages_sorts_and_filters_consistently(ws):
    """Paging through a large workspace: every page is the matching slice of the whole sorted list, filters count
    what they list. (How fast: bench/serve_load.py — timings belong in benchmarks, not in tests.)"""
    import random

    rng = random.Random(3)
    for i in range(2000):
        r = ws.add_failed(f"{i}.wav", "x")
        ws.record(r["id"], fake_row(i, rng.choice(CLASSES)), mood_model="builtin:mood")
    for sort in ("added", "name", "tempo", "mood", "hit_potential", "valence"):
        whole = [row["id"] for row in ws.list_songs(sort=sort, descending=True)]
        page = [row["id"] for row in ws.list_songs(sort=sort, descending=True, limit=500, offset=1000)]
        assert len(whole) == 2000 and len(set(whole)) == 2000 and page == whole[1000:1500], sort
    calm = ws.list_songs(mood="calm/relaxing")
    assert 0 < len(calm) == ws.count_songs(mood="calm/relaxing") < 2000
    assert all(row["mood"] == "calm/relaxing" for row in calm)
    indices = {row[1] for row in ws._query("PRAGMA index_list('songs')")}
    assert {"songs_status", "songs_added"} <= indices
    # the default listing walks the songs_added index and stops at the page (no sort of every song)
    statements: list[str] = []
    ws._db.set_trace_callback(statements.append)
    ws.list_songs(limit=50)
    ws._db.set_trace_callback(None)
    listing = next(q for q in statements if q.lstrip().startswith("SELECT") and "LIMIT" in q)
    plan = " | ".join(row[3] for row in ws._query("EXPLAIN QUERY PLAN " + listing))
    assert "USING INDEX songs_added" in plan and "TEMP B-TREE" not in plan, plan


def test_delete_removes_only_the_workspaces_own_files(ws, songs, tmp_path):
    a = ws.add_file(songs[0])
    b = ws.add_file(songs[1])
    ws.record(a["id"], fake_row(0), mood_model="builtin:mood", media={"waveform": None, "mel_webp": b"x"})
    stored = ws.audio_path(a["id"])
    foreign = ws.audio_dir / "mine.txt"
    foreign.write_text("the user's own file")
    assert ws.delete_song(a["id"]) is True
    assert not stored.exists() and songs[0].exists() and foreign.exists()
    assert ws.get_song(a["id"]) is None and ws.delete_song(a["id"]) is False
    assert ws._query("SELECT COUNT(*) FROM analyses")[0][0] == 0  # cascaded
    assert ws._query("SELECT COUNT(*) FROM media")[0][0] == 0
    assert ws.audio_path(b["id"]).exists()
    again = ws.add_file(songs[0])  # deleted content comes back as a new song
    assert again["new"] and ws.audio_path(again["id"]).exists()


def test_stale_temporary_files_are_swept_at_open_and_only_ours(tmp_path):
    import os

    folder = tmp_path / "ws"
    Workspace(folder).close()
    ours_old = folder / "tmp" / ".tmp-crashed.wav"
    ours_new = folder / "tmp" / ".tmp-uploading.wav"
    theirs = folder / "tmp" / "keep.wav"
    for p in (ours_old, ours_new, theirs):
        p.write_bytes(b"x")
    os.utime(ours_old, (time.time() - 7200, time.time() - 7200))
    os.utime(theirs, (time.time() - 7200, time.time() - 7200))
    Workspace(folder).close()
    assert not ours_old.exists() and ours_new.exists() and theirs.exists()


def test_export_csv_round_trip(ws, songs, tmp_path):
    ids = [ws.add_file(p)["id"] for p in songs]
    ws.record(ids[0], fake_row(0, "Q2"), mood_model="builtin:mood")
    ws.fail(ids[1], "not an audio file")
    out = ws.export_csv(tmp_path / "out" / "songs.csv")
    with open(out, newline="", encoding="utf-8") as fh:
        back = list(csv.DictReader(fh))
    rows = ws.export_rows()
    assert len(back) == 3 == len(rows)
    for want, got in zip(rows, back, strict=True):
        assert list(got) == list(want)
        for k, v in want.items():
            assert got[k] == ("" if v is None else str(v)), k
    first = back[0]
    assert first["mood"] == "aggressive/tense" and first["quadrant"] == "Q2" and first["p_Q2"] == "0.7"
    assert first["key"] == "B♭ major (6B)" and first["top_tags"] == "rock; pop"
    assert back[1]["status"] == "failed" and back[1]["error"] == "not an audio file"
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".tmp-")]


def test_a_workspace_that_is_a_file_or_holds_no_database_is_refused(tmp_path):
    f = tmp_path / "ws"
    f.write_text("x")
    with pytest.raises(TrackscopeError, match="existing file"):
        Workspace(f)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "trackscope.sqlite").write_bytes(b"not a database, " * 100)
    with pytest.raises(TrackscopeError, match="not a trackscope workspace database"):
        Workspace(junk)
    assert str(default_workspace()).endswith("workspace")


def test_cli_analyze_into_a_workspace_then_export(tmp_path):
    """`trackscope analyze PATHS --workspace DIR` (then again with another model: both analyses kept), then
    `trackscope export` as CSV and Parquet; a missing workspace is one line."""
    import shutil

    import pandas as pd
    from typer.testing import CliRunner

    from audio_synth import music_like
    from trackscope.cli import app
    from trackscope.models.persist import resolve_model_path

    runner = CliRunner()
    songs = tmp_path / "songs"
    songs.mkdir()
    for i in range(2):
        write(songs / f"take{i}.wav", music_like(6.0, seed=40 + i))
    (songs / "notes.mp3").write_text("lyrics, not audio\n")
    folder = tmp_path / "ws"
    res = runner.invoke(app, ["analyze", str(songs), "--workspace", str(folder), "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "Workspace: " in res.stdout and "3 songs (3 new), 2 analysed" in res.stdout
    assert not (tmp_path / "trackscope-analysis").exists() and not list(tmp_path.glob("trackscope-analysis"))
    with Workspace(folder) as ws:
        assert ws.counts() == {"queued": 0, "analysing": 0, "done": 2, "failed": 1}
        done = ws.list_songs(status="done", sort="name")
        assert [s["name"] for s in done] == ["take0.wav", "take1.wav"]
        first = ws.get_song(done[0]["id"])
        assert first["waveform"]["points"] <= 1000 and ws.mel_image(first["id"])[8:12] == b"WEBP"
        assert first["mood_model"] == "builtin:mood"
        assert "text" in ws.list_songs(status="failed")[0]["error"]

    # again with another mood model (a copy of the shipped one: another name)
    other = tmp_path / "my-mood-model"
    shutil.copytree(resolve_model_path("builtin:mood"), other)
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["analyze", str(songs), "--workspace", str(folder), "--workers", "1", "--mood-model", str(other),
              "--out", str(out), "--no-report"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 songs (0 new), 2 analysed" in res.stdout and (out / "analysis.csv").is_file()
    with Workspace(folder) as ws:
        song = ws.get_song(done[0]["id"])
        assert [a["mood_model"] for a in song["analyses"]] == [str(other), "builtin:mood"]
        assert song["mood_model"] == str(other) and song["waveform"]["points"] > 100

    csv_out = tmp_path / "export" / "songs.csv"
    res = runner.invoke(app, ["export", "--workspace", str(folder), "--out", str(csv_out)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(csv_out)
    assert len(table) == 3 and set(table["status"]) == {"done", "failed"}
    assert set(table.loc[table["status"] == "done", "mood_model"]) == {str(other)}
    assert {"mood", "quadrant", "arousal", "valence", "tempo", "key", "p_Q1", "top_tags"} <= set(table.columns)
    res = runner.invoke(app, ["export", "--workspace", str(folder), "--out", str(tmp_path / "songs.parquet")])
    assert res.exit_code == 0 and len(pd.read_parquet(tmp_path / "songs.parquet")) == 3
    res = runner.invoke(app, ["export", "--workspace", str(tmp_path / "nowhere"), "--out", str(csv_out)])
    assert res.exit_code == 2 and "no workspace here" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "nowhere").exists()


def test_worker_media_for_the_analysis_workers(tmp_path):
    """What `analyze --workspace` has its worker processes draw: the media, and the report picture when asked."""
    import pickle

    from trackscope.report.media import media_and_picture_draw, media_draw

    path = write(tmp_path / "a.wav", sine(330.0, 3.0))
    row = {"path": str(path), "duration": 3.0, "windows": []}
    drawn = pickle.loads(media_draw(row, ["Q1"]))
    assert drawn["picture"] is None and drawn["media"]["mel_webp"][8:12] == b"WEBP"
    assert drawn["media"]["waveform"]["points"] == len(drawn["media"]["waveform"]["hi"]) <= 1000
    both = pickle.loads(media_and_picture_draw(row, ["Q1"]))
    assert both["picture"] and both["media"]["waveform"] == drawn["media"]["waveform"]


def test_a_worker_job_adds_hit_potential_and_media_and_bad_models_are_refused(tmp_path, monkeypatch):
    """The runner's per-song job, called here in process (the runner calls it in its workers): the analysis row,
    hit potential when a popularity model is set, the media; the runner refuses models of the wrong kind."""
    import trackscope.tasks.analyze as tasks_analyze
    from audio_synth import music_like
    from trackscope.models.persist import load_model_dir
    from trackscope.workspace import runner as runner_mod

    def fake_hit(songs, model):
        assert model == "a popularity model"
        for s in songs:
            s["hit_potential"] = 0.42

    monkeypatch.setattr(tasks_analyze, "_add_hit_potential", fake_hit)
    monkeypatch.setattr(
        runner_mod, "_MODELS", {"mood": load_model_dir("builtin:mood"), "popularity": "a popularity model"}
    )
    ws = Workspace(tmp_path / "ws")
    sid = ws.add_file(write(tmp_path / "hit.wav", music_like(6.0, seed=77)))["id"]
    kind, row, media = runner_mod._analyse(str(ws.audio_path(sid)))
    assert kind == "song" and row["hit_potential"] == 0.42 and media["mel_webp"][8:12] == b"WEBP"
    ws.record(sid, row, mood_model="builtin:mood", popularity_model="/models/hits", media=media)
    song = ws.list_songs()[0]
    assert song["hit_potential"] == 0.42 and song["popularity_model"] == "/models/hits"
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(b"RIFF" + bytes(200))
    kind, item, media = runner_mod._analyse(str(damaged))
    assert kind == "failure" and "WAV" in item["reason"] and media is None
    ws.close()
    with pytest.raises(TrackscopeError, match="popularity model"):
        runner_mod.Runner(tmp_path / "ws", popularity_model="builtin:mood")
    with pytest.raises(TrackscopeError, match="at least 1"):
        runner_mod.Runner(tmp_path / "ws", workers=0)


def test_studio_media_from_the_analysis_decode_match_a_fresh_decode(tmp_path):
    """The studio's waveform and mel made from what the analysis kept of its decode (no second decode) picture the
    same song as a decode of its own — including the edges the window rule leaves out (64 s: 2 s at each end)."""
    import io
    import pickle

    import numpy as np
    from PIL import Image

    from audio_synth import music_like
    from trackscope.models.persist import load_model_dir
    from trackscope.report.media import media_draw, song_media
    from trackscope.tasks.analyze import analyze_song

    y = music_like(64.0, seed=5)
    y[: 22050 // 2] *= 0.05  # a quiet first half second: the head edge must show it
    path = write(tmp_path / "song.wav", y)
    kind, row, blob = analyze_song(load_model_dir("builtin:mood"), path, media_draw)
    assert kind == "song" and blob is not None
    ours, fresh = pickle.loads(blob)["media"], song_media(path)
    a, b = np.array(ours["waveform"]["hi"]), np.array(fresh["waveform"]["hi"])
    assert abs(len(a) - len(b)) <= 2
    n = min(len(a), len(b))
    # the bins' edges differ (blocks of 512 samples from each window's start vs 256 from the file's), and a bin's
    # peak with them: compared over 9 points (~0.6 s) the two envelopes agree within 0.1 of the song's peak
    smooth = np.ones(9) / 9
    assert np.abs(np.convolve(a[:n], smooth, "valid") - np.convolve(b[:n], smooth, "valid")).max() < 0.1
    assert a[:5].max() < 0.2 and b[:5].max() < 0.2  # the quiet start is there in both
    img = [np.asarray(Image.open(io.BytesIO(m["mel_webp"])).convert("L"), dtype=float) for m in (ours, fresh)]
    assert img[0].shape[0] == img[1].shape[0] == 128 and abs(img[0].shape[1] - img[1].shape[1]) <= 3
    w = min(img[0].shape[1], img[1].shape[1])
    ours_mel, fresh_mel = img[0][:, :w], img[1][:, :w]
    # the same picture (grey levels of 255): the same level in every band, and over time within a few levels once
    # ~0.4 s are averaged (the columns' frame groups start at different places, and each decode has its own window
    # joins: single columns differ by up to ~40 there, 7 on average); the quiet start dark in both
    assert np.abs(ours_mel.mean(axis=1) - fresh_mel.mean(axis=1)).max() < 2.0
    profile = [np.convolve(m.mean(axis=0), smooth, "valid") for m in (ours_mel, fresh_mel)]
    assert np.abs(profile[0] - profile[1]).max() < 10.0 and np.abs(profile[0] - profile[1]).mean() < 2.0
    assert ours_mel[:, :5].mean() < ours_mel[:, 600:620].mean() - 20
