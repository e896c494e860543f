"""Finding labelled audio under a folder, reading label files, mapping labels."""

from __future__ import annotations

import pytest

from trackscope.errors import TrackscopeError
from trackscope.sources.audio_dirs import find_labelled_audio, walk_audio


def _touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_walk_audio_recurses_skips_non_audio_and_reports_missing(tmp_path):
    a = _touch(tmp_path / "d" / "a.mp3")
    b = _touch(tmp_path / "d" / "sub" / "b.FLAC")
    _touch(tmp_path / "d" / "notes.txt")
    _touch(tmp_path / "d" / ".hidden.mp3")
    (tmp_path / "d" / "folder.mp3").mkdir()
    files, problems = walk_audio([tmp_path / "d", a, tmp_path / "nope.wav"])
    assert files == [a, b]
    assert problems == [(str(tmp_path / "nope.wav"), "no such file or folder")]


def test_walk_audio_reports_a_folder_named_like_a_song(tmp_path):
    (tmp_path / "song.mp3").mkdir()
    files, problems = walk_audio([tmp_path / "song.mp3"])
    assert files == []
    assert problems == [(str(tmp_path / "song.mp3"), "is a folder, not an audio file")]


def test_find_labelled_audio_matches_ids_recursively_and_counts_missing(tmp_path):
    _touch(tmp_path / "audio" / "Q1" / "s1.mp3")
    _touch(tmp_path / "audio" / "Q2" / "s2.ogg")
    labels = tmp_path / "labels.csv"
    labels.write_text("Song_ID,quadrant,artist\ns1,Q1,A\ns2,Q2,B\ns3,Q3,C\n")
    data = find_labelled_audio(tmp_path / "audio", labels, id_column="song_id", label="quadrant", group_column="artist")
    assert data.ids == ["s1", "s2"]
    assert [p.name for p in data.paths] == ["s1.mp3", "s2.ogg"]
    assert data.labels == ["Q1", "Q2"]
    assert data.groups == ["A", "B"]
    assert data.missing == ["s3"]


def test_label_file_errors_name_the_file_and_reason(tmp_path):
    (tmp_path / "audio").mkdir()
    labels = tmp_path / "labels.csv"
    labels.write_text("song_id,quadrant\nx,Q1\n")
    with pytest.raises(TrackscopeError, match=r"labels\.csv: no column 'mood'"):
        find_labelled_audio(tmp_path / "audio", labels, label="mood")
    with pytest.raises(TrackscopeError, match=r"none of the 1 ids in column 'song_id' matched"):
        find_labelled_audio(tmp_path / "audio", labels)
    with pytest.raises(TrackscopeError, match="label file not found"):
        find_labelled_audio(tmp_path / "audio", tmp_path / "missing.csv")
    with pytest.raises(TrackscopeError, match="audio folder not found"):
        find_labelled_audio(tmp_path / "nowhere", labels)
