"""The CLI as a musician meets it (#11 §3): help without programmer types, songs in natural order, durations as
m:ss, keys spelt as musicians spell them (with the Camelot code), tables that fit 80 columns and say what they leave
out, evaluate naming the labels it dropped with a --label-map to try, and plain messages for a missing input."""

from __future__ import annotations

import io
import json
import re

import pytest
from typer.testing import CliRunner

from trackscope._format import (
    camelot,
    format_column,
    format_duration,
    format_number,
    natural_key,
    spell_key,
)
from trackscope.cli import app

runner = CliRunner()
WIDE = {"COLUMNS": "100"}

HELP_COMMANDS = [
    [],
    ["analyze"],
    ["demo"],
    ["extract"],
    ["evaluate"],
    ["predict"],
    ["explain"],
    ["train"],
    ["train", "mood"],
    ["train", "popularity"],
    ["collect"],
    ["collect", "playlists"],
    ["serve"],
    ["export"],
    ["collect", "sample"],
]


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "trackscope")
def test_help_shows_flags_and_arguments_as_people_write_them(command):
    res = runner.invoke(app, [*command, "--help"], env=WIDE)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "<bool>" not in out
    assert not re.search(r"\{\w+\}", out), out  # no {paths}... in the usage line
    assert re.search(r"--help\s+Show this message", out)  # a flag: its help right after it, no type between
    usage = next(line for line in out.splitlines() if "Usage:" in line)
    if command and command[-1] != "train" and command[-1] != "collect" and command != ["demo"]:
        assert "[OPTIONS]" in usage


def test_usage_lines_name_the_arguments():
    usage = {
        tuple(c): next(ln for ln in runner.invoke(app, [*c, "--help"], env=WIDE).output.splitlines() if "Usage:" in ln)
        for c in (["analyze"], ["predict"], ["explain"], ["evaluate"], ["collect", "playlists"])
    }
    assert usage[("analyze",)].split()[-1] == "PATHS..."
    assert usage[("predict",)].split()[-2:] == ["MODEL", "[SONGS]..."]
    assert usage[("explain",)].split()[-2:] == ["MODEL", "[SONG]"]
    assert usage[("evaluate",)].split()[-1] == "MODEL"
    assert usage[("collect", "playlists")].split()[-1] == "[PLAYLIST]..."
    res = runner.invoke(app, ["--help"], env=WIDE)
    assert re.search(r"--version\s+Print trackscope's version", res.output)
    res = runner.invoke(app, ["analyze"], env=WIDE)  # a missing argument is named as the usage line names it
    assert res.exit_code == 2 and "Missing argument 'PATHS...'" in res.output


def test_flags_still_take_no_value():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.startswith("trackscope ")


ALL_KEYS = {  # pitch class -> (major, minor), as written on scores and on the Camelot wheel
    0: ("C major (8B)", "C minor (5A)"),
    1: ("D♭ major (3B)", "C♯ minor (12A)"),
    2: ("D major (10B)", "D minor (7A)"),
    3: ("E♭ major (5B)", "E♭ minor (2A)"),
    4: ("E major (12B)", "E minor (9A)"),
    5: ("F major (7B)", "F minor (4A)"),
    6: ("G♭ major (2B)", "F♯ minor (11A)"),
    7: ("G major (9B)", "G minor (6A)"),
    8: ("A♭ major (4B)", "G♯ minor (1A)"),
    9: ("A major (11B)", "A minor (8A)"),
    10: ("B♭ major (6B)", "B♭ minor (3A)"),
    11: ("B major (1B)", "B minor (10A)"),
}
SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # what the analysis writes


@pytest.mark.parametrize("pc", range(12))
def test_all_24_keys_are_spelt_as_musicians_spell_them(pc):
    major, minor = ALL_KEYS[pc]
    assert spell_key(f"{SHARP_NAMES[pc]} major") == major
    assert spell_key(f"{SHARP_NAMES[pc]} minor") == minor
    assert spell_key(pc, 1) == major and spell_key(pc, 0) == minor  # Spotify's key/mode numbers
    assert spell_key(major.split(" (")[0]) == major and spell_key(minor.split(" (")[0]) == minor  # idempotent


def test_camelot_wheel_neighbours_and_other_spellings():
    for pc in range(12):
        # relative keys share a number (A minor 8A / C major 8B); a fifth up is one step round the wheel
        assert camelot(pc, False)[:-1] == camelot((pc + 9) % 12, True)[:-1]
        step = int(camelot((pc + 7) % 12, False)[:-1]) - int(camelot(pc, False)[:-1])
        assert step % 12 == 1
    assert spell_key("Bb minor") == "B♭ minor (3A)" and spell_key("F#m") == "F♯ minor (11A)"
    assert spell_key("Db") == "D♭ major (3B)" and spell_key("a# minor") == "B♭ minor (3A)"
    assert spell_key(None) == "–" and spell_key(-1, 1) == "–" and spell_key(float("nan")) == "–"
    assert spell_key("atonal") == "atonal"  # unknown text is shown as it is


def test_natural_sort():
    names = ["track10.wav", "Track2.wav", "track1.wav", "track02b.wav", "intro.wav", "track2.flac"]
    assert sorted(names, key=natural_key) == [
        "intro.wav",
        "track1.wav",
        "track2.flac",
        "Track2.wav",  # case is ignored
        "track02b.wav",  # 02 is 2; then ".wav" before "b.wav"
        "track10.wav",
    ]


def test_durations_and_numbers_for_people():
    assert [format_duration(s) for s in (0, 4.0, 59.6, 75.2, 245.6, 3725)] == [
        "0:00",
        "0:04",
        "1:00",
        "1:15",
        "4:06",
        "1:02:05",
    ]
    assert format_duration(None) == format_duration(float("nan")) == format_duration(-1) == "–"
    assert format_number(128.4) == "128" and format_number(-25.32) == "-25.3" and format_number(0.82431) == "0.824"
    assert format_column("confidence", [0.82431, 1.0, None]) == ["0.824", "1.000", "–"]  # one precision a column
    assert format_column("support", [30.0, 29.0]) == ["30", "29"]
    assert format_column("duration_ms", [245_600, None]) == ["4:06", "–"]
    assert format_column("tempo", [127.6]) == ["128"] and format_column("loudness", [-7.234]) == ["-7.2"]
    assert format_column("key", [10, 1], modes=[1, 0]) == ["B♭ major (6B)", "C♯ minor (12A)"]


def _song(name, words, code, **extra):
    return {"path": f"/music/{name}", "name": name, "duration": 245.6, "mood": code, "mood_words": words,
            "confidence": 0.8243, "arousal": 0.75, "valence": -0.67, "tempo": 127.6, "key": "A# major",
            "loudness_lufs": -9.31, "unusual": False, "top_tags": [{"tag": "rock"}, {"tag": "guitar"}],
            **extra}  # fmt: skip


def _header(out):
    """The column names of a rendered analysis table (names are separated by two spaces or more)."""
    line = next(line for line in out.splitlines() if line.lstrip().startswith("song"))
    return re.split(r"\s{2,}", line.strip())


def _render(songs, width):
    from rich.console import Console

    from trackscope.cli.analyze import analysis_table

    con = Console(width=width, file=io.StringIO(), highlight=False)
    table, hidden = analysis_table(songs, con)
    con.print(table)
    return con.file.getvalue(), hidden


def test_analysis_table_fits_and_names_what_it_leaves_out():
    from rich.cells import cell_len

    songs = [_song("a rather long song title, live.wav", "aggressive/tense", "Q2"),
             _song("b.wav", "happy/energetic", "Q1", unusual=True)]  # fmt: skip
    wide, hidden = _render(songs, 160)
    assert hidden == [] and "top tags" in wide and "aggressive/tense (Q2)" in wide and "B♭ major (6B)" in wide
    assert "4:06" in wide and "128" in wide and "-9.3" in wide and "0.82" in wide
    for width in (100, 80, 60, 40):
        out, hidden = _render(songs, width)
        assert all(cell_len(line) <= width for line in out.splitlines()), out
        header = _header(out)
        for name in hidden:
            assert name not in header, (name, out)
        assert set(header) | set(hidden) >= {"song", "mood", "conf", "arousal", "valence", "BPM", "key", "LUFS",
                                             "length", "top tags"}  # fmt: skip
        assert "aggressive/tense" in out and "? happy/energetic" in out  # mood words whole
    _, hidden80 = _render(songs, 80)
    assert hidden80 and hidden80[0] == "top tags" and "song" not in hidden80 and "mood" not in hidden80
    narrow, _ = _render(songs, 28)  # too narrow even for song + mood: the mood wraps at its "/", never in a word
    assert "aggressive/" in narrow and "tense" in narrow and "energetic" in narrow
    assert "aggressiv…" not in narrow and "energet…" not in narrow


def test_predictions_table_in_natural_order_with_human_numbers():
    import pandas as pd
    from rich.console import Console

    import trackscope.cli.models as models

    frame = pd.DataFrame({"path": ["/m/track10.wav", "/m/track2.wav", "/m/track1.wav"],
                          "mood": ["Q1", "Q2", "Q3"], "confidence": [0.61234, 0.5, 0.999999]})  # fmt: skip
    shown = models.in_natural_order(frame)
    assert shown["path"].tolist() == ["/m/track1.wav", "/m/track2.wav", "/m/track10.wav"]
    assert frame["path"].tolist()[0] == "/m/track10.wav"  # the predictions themselves keep their order
    rows = pd.DataFrame({"row": [0, 1], "id": ["b", "a"]})
    assert models.in_natural_order(rows) is rows  # table rows are not songs: their order is kept
    buffer = io.StringIO()
    original = models.console
    models.console = lambda stderr=False: Console(width=100, file=buffer, highlight=False)
    try:
        models.print_frame(shown, title="Predictions")
    finally:
        models.console = original
    text = buffer.getvalue()
    assert text.index("track1.wav") < text.index("track2.wav") < text.index("track10.wav")
    assert "0.612" in text and "1.000" in text and "0.61234" not in text


def test_a_single_missing_input_is_one_plain_line_with_no_progress_bar(tmp_path):
    missing = tmp_path / "nope.wav"
    res = runner.invoke(app, ["analyze", str(missing), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert res.stderr.strip() == f"trackscope: error: no such file or folder: {missing}"
    assert "Analysing" not in res.output and not (tmp_path / "out").exists()
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["analyze", str(missing), str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert res.stderr.strip() == (
        f"trackscope: error: no such file or folder: {missing}; no audio files in: {tmp_path / 'empty'}"
    )


def test_no_progress_bar_before_bad_input_is_found(tmp_path):
    res = runner.invoke(app, ["train", "mood", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m")])
    assert res.exit_code == 2 and "nope.csv" in res.stderr
    assert "Training" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_the_bar_shows_once_the_work_reports_progress():
    from trackscope.cli import _app

    calls = []

    class Fake:
        def __init__(self, *a, **k):
            calls.append("made")

        def start(self):
            calls.append("start")

        def add_task(self, *a, **k):
            return 0

        def update(self, *a, **k):
            calls.append("update")

        def stop(self):
            calls.append("stop")

    import rich.progress

    original = rich.progress.Progress
    rich.progress.Progress = Fake
    try:
        with pytest.raises(ValueError), _app.progress_bar("Work"):
            raise ValueError("bad input, found before any progress")
        assert calls == ["made"]  # nothing shown, nothing to stop
        calls.clear()
        with _app.progress_bar("Work") as update:
            update(0, 0)  # nothing to do yet: no empty bar
            update(0, 3)
            update(1, 3)
        assert calls == ["made", "start", "update", "update", "stop"]
    finally:
        rich.progress.Progress = original


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    from trackscope.sources.example_audio import style_clip, write_wav

    folder = tmp_path_factory.mktemp("clips")
    for name, style in (("track10", "energetic"), ("track2", "calm"), ("track1", "dark")):
        write_wav(folder / f"{name}.wav", style_clip(style, 4.0, seed=len(name)))
    return folder


def test_analyze_at_80_columns(clips, tmp_path):
    from rich.cells import cell_len

    from trackscope._format import MAJOR_SPELLING, MINOR_SPELLING

    out = tmp_path / "out"
    res = runner.invoke(app, ["analyze", str(clips), "--out", str(out), "--workers", "1", "--no-report"],
                        env={"COLUMNS": "80"})  # fmt: skip
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    table_and_notes = [line for line in lines if not line.startswith(("Results: ", "Report: "))]  # paths: whole
    assert all(cell_len(line) <= 80 for line in table_and_notes), res.stdout
    header = _header(res.stdout)
    note = " ".join(res.stdout.split())
    match = re.search(r"\(not shown at 80 columns: ([^—]+) —", note)
    assert match, res.stdout
    left_out = [c.strip() for c in match.group(1).split(",")]
    assert "top tags" in left_out
    assert "song" in header and "mood" in header
    for name in left_out:
        assert name not in header
    rows = [line for line in lines if re.match(r"^\s*track\d+\.wav", line)]
    assert [r.split()[0] for r in rows] == ["track1.wav", "track2.wav", "track10.wav"]  # natural order
    words = {"happy/energetic", "aggressive/tense", "sad/dark", "calm/relaxing"}
    tonics = "|".join(sorted(set(MAJOR_SPELLING) | set(MINOR_SPELLING), key=len, reverse=True))
    for row in rows:
        assert any(w in row for w in words), row  # the mood words whole
        assert re.search(rf"(?:{tonics}) (?:major|minor) \(\d{{1,2}}[AB]\)|–", row), row
        assert "#" not in row
        assert re.search(r"\b0:04\b", row), row  # 4-s clips: m:ss
    assert "Analysing" in res.stderr  # the bar shows for the real work
    # the files keep every value as computed, in input order
    saved = json.loads((out / "analysis.json").read_text())
    assert [s["name"] for s in saved["songs"]] == ["track1.wav", "track10.wav", "track2.wav"]
    assert any(s["confidence"] != round(s["confidence"], 2) for s in saved["songs"])
    assert all(s["key"] is None or "♭" not in s["key"] for s in saved["songs"])


def test_evaluate_names_unknown_labels_and_suggests_a_label_map(tmp_path, mood_frame):
    model = tmp_path / "model"
    table = tmp_path / "moods.csv"
    mood_frame.to_csv(table, index=False)
    res = runner.invoke(app, ["train", "mood", "--data", str(table), "--models", "logreg", "--out", str(model)])
    assert res.exit_code == 0, res.output
    renamed = mood_frame.assign(mood=mood_frame["mood"].replace({"Dark": "Sad", "Relaxing": "Calm"}))
    renamed.to_csv(tmp_path / "sad_calm.csv", index=False)
    n_renamed = int(renamed["mood"].isin(["Sad", "Calm"]).sum())

    res = runner.invoke(app, ["evaluate", str(model), "--data", str(tmp_path / "sad_calm.csv"), "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)  # still exactly one JSON object on stdout
    assert result["excluded"] == n_renamed
    note = " ".join(res.stderr.split())
    assert f"{n_renamed} of {len(renamed)} rows left out" in note
    assert "Sad" in note and "Calm" in note
    suggested = re.search(r'--label-map "([^"]+)"', note)
    assert suggested, note
    assert set(suggested.group(1).split(",")) == {"Sad=Dark", "Calm=Relaxing"}

    res = runner.invoke(app, ["evaluate", str(model), "--data", str(tmp_path / "sad_calm.csv")])
    assert res.exit_code == 0 and "--label-map" in res.stderr  # the table view says so too

    res = runner.invoke(app, ["evaluate", str(model), "--data", str(tmp_path / "sad_calm.csv"), "--json",
                              "--label-map", suggested.group(1)])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["excluded"] == 0 and "--label-map" not in res.stderr


def test_label_map_guesses_for_quadrant_models():
    from trackscope.cli._labels import excluded_hint, guess_label_map

    assert guess_label_map(["happy", "Angry", "sad", "calm", "weird"], ["Q1", "Q2", "Q3", "Q4"]) == {
        "happy": "Q1",
        "Angry": "Q2",
        "sad": "Q3",
        "calm": "Q4",
    }
    five = ["Aggressive", "Dark", "Energetic", "Happy", "Relaxing"]
    assert guess_label_map(["tense", "energetic", "Q4"], five) == {
        "tense": "Aggressive",
        "energetic": "Energetic",
        "Q4": "Relaxing",
    }
    hint = excluded_hint({"n": 4, "excluded": 2, "excluded_labels": {"weird": 2}, "confusion": {"labels": five}})
    assert hint and "weird (2)" in hint and '--label-map "weird=CLASS' in hint
    assert excluded_hint({"n": 4, "excluded": 0, "excluded_labels": {}, "confusion": {"labels": five}}) is None
    assert excluded_hint({"n": 4, "excluded": 3, "roc_auc": 0.7}) is None  # popularity: rows without a score
