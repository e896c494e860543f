"""What ``trackscope analyze --out DIR`` writes: ``analysis.csv``, ``analysis.json`` and the HTML report (a summary
table, a valence–arousal map of the batch, and per song a waveform, a mel spectrogram (centre 30 s) and the
mood-over-time strip)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trackscope.constants import QUADRANT_WORDS

# The files written into the output folder (the api checks them before any work).
ANALYSIS_FILES = ("analysis.csv", "analysis.json")
REPORT_FILE = "report.html"

MOOD_COLOURS = {"Q1": "#f2b134", "Q2": "#d1495b", "Q3": "#3d5a80", "Q4": "#63a375"}
ENVELOPE_BINS = 1200
SONG_FIGURE_DPI = 72  # ~200 KB per song: a report of a whole album stays a few MB


def _colour(mood: str, i: int) -> str:
    palette = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
    return MOOD_COLOURS.get(mood, palette[i % len(palette)])


def _envelope(path: str) -> tuple[Any, Any, Any]:
    """Min/max envelope of the whole song (streamed window by window), for the waveform picture."""
    import numpy as np

    from trackscope.audio.io import iter_windows

    chunks = [w.samples for w in iter_windows(path, sr=8000, window=60.0)]
    y = np.concatenate(chunks) if chunks else np.zeros(1, dtype=np.float32)
    n = max(1, len(y) // ENVELOPE_BINS)
    usable = y[: (len(y) // n) * n].reshape(-1, n) if len(y) >= n else y.reshape(1, -1)
    t = np.arange(usable.shape[0]) * n / 8000.0
    return t, usable.min(axis=1), usable.max(axis=1)


def song_figure(song: dict[str, Any], classes: list[str]) -> Any:
    from trackscope.audio.io import load_audio
    from trackscope.audio.mel import melspectrogram, power_to_db
    from trackscope.report.plots import new_figure

    fig = new_figure(9.0, 5.2)
    gs = fig.add_gridspec(3, 1, height_ratios=[1.0, 2.0, 0.45], hspace=0.55)
    ax_w, ax_m, ax_s = (fig.add_subplot(gs[i]) for i in range(3))
    t, lo, hi = _envelope(song["path"])
    ax_w.fill_between(t, lo, hi, color="#555555", linewidth=0)
    ax_w.set_xlim(0, max(song["duration"], 1e-3))
    ax_w.set_title("Waveform", fontsize=9, loc="left")
    ax_w.set_yticks([])
    clip = load_audio(song["path"], sr=22050, duration=30.0, centre=True)
    mel = power_to_db(melspectrogram(clip.samples, sr=clip.sr))
    start = getattr(clip, "offset", 0.0) or 0.0
    ax_m.imshow(
        mel, origin="lower", aspect="auto", cmap="magma", extent=(start, start + clip.duration, 0, mel.shape[0])
    )
    ax_m.set_title("Mel spectrogram (centre 30 s, 128 bands, dB)", fontsize=9, loc="left")
    ax_m.set_ylabel("mel band")
    for w in song["windows"]:
        if w["mood"] is None:  # silent window
            ax_s.barh(0, w["duration"], left=w["start"], color="#dddddd")
            continue
        i = classes.index(w["mood"]) if w["mood"] in classes else 0
        ax_s.barh(0, w["duration"], left=w["start"], color=_colour(w["mood"], i), alpha=0.35 + 0.65 * w["confidence"])
        if w["duration"] >= 0.08 * max(song["duration"], 1e-3):
            ax_s.text(w["start"] + w["duration"] / 2, 0, w["mood"], ha="center", va="center", fontsize=8)
    ax_s.set_xlim(0, max(song["duration"], 1e-3))
    ax_s.set_yticks([])
    ax_s.set_xlabel("time (s)")
    ax_s.set_title("Mood over time (30-s windows; paler = less confident)", fontsize=9, loc="left")
    return fig


def va_map(songs: list[dict[str, Any]], classes: list[str]) -> Any:
    from trackscope.report.plots import new_figure

    fig = new_figure(6.0, 6.0)
    ax = fig.add_subplot()
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.axvline(0, color="#999999", linewidth=0.8)
    for q, (x, y) in {"Q1": (0.55, 0.9), "Q2": (-0.95, 0.9), "Q3": (-0.95, -0.95), "Q4": (0.55, -0.95)}.items():
        ax.text(x, y, f"{q} {QUADRANT_WORDS[q]}", fontsize=8, color=MOOD_COLOURS[q])
    for s in songs:
        if s.get("valence") is None:
            continue
        i = classes.index(s["mood"]) if s["mood"] in classes else 0
        ax.scatter(s["valence"], s["arousal"], color=_colour(s["mood"], i), s=40, edgecolor="black", linewidth=0.5)
        ax.annotate(
            Path(s["path"]).stem[:24],
            (s["valence"], s["arousal"]),
            fontsize=7,
            xytext=(4, 3),
            textcoords="offset points",
        )
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("valence (negative → positive)")
    ax.set_ylabel("arousal (calm → energetic)")
    ax.set_title("Valence–arousal map")
    return fig


def song_png(song: dict[str, Any], classes: list[str]) -> bytes:
    """:func:`song_figure` rendered to PNG (what the report embeds); workers render their songs' pictures with it."""
    from trackscope.report.plots import figure_png

    return figure_png(song_figure(song, classes), dpi=SONG_FIGURE_DPI)


def build_report(result: dict[str, Any], figures: dict[str, bytes] | None = None) -> Any:
    """The analysis report; ``figures`` may hold each song's picture already rendered (by path), e.g. by workers."""
    import pandas as pd

    from trackscope.report.html import Report

    classes = result["classes"]
    rep = Report("trackscope analysis", subtitle=f"{result['n']} songs analysed with {result['mood_model']}")
    rep.add_heading("Summary")
    cols = [
        "name",
        "mood",
        "mood_words",
        "confidence",
        "novelty",
        "arousal",
        "valence",
        "hit_potential",
        "tempo",
        "key",
        "loudness_lufs",
        "duration",
        "top_tags",
    ]
    frame = pd.DataFrame(flat_rows(result))
    if not frame.empty:
        rep.add_table(frame[[c for c in cols if c in frame.columns]])
    if result["failures"]:
        rep.add_heading("Files that could not be analysed")
        rep.add_table(pd.DataFrame(result["failures"]))
    if any(s.get("valence") is not None for s in result["songs"]):
        rep.add_heading("Valence–arousal map")
        rep.add_figure(va_map(result["songs"], classes))
    rep.add_heading("Songs")
    for s in result["songs"]:
        rep.add_heading(s["name"], level=3)
        tags = ", ".join(t["tag"] for t in s["top_tags"])
        if s["mood"] is None:
            rep.add_text(f"silent: no mood; top tags: {tags}")
        else:
            rep.add_text(f"{s['mood']} ({s['mood_words']}), confidence {s['confidence']:.2f}; top tags: {tags}")
            if s.get("unusual"):
                rep.add_text(
                    f"This audio is unlike the music the mood model learnt from (novelty {s['novelty']:.3f}): "
                    "treat the mood as a guess.",
                    note=True,
                )
        try:
            png = (figures or {}).get(s["path"])
            rep.add_png(png if png is not None else song_png(s, classes))
        except Exception as err:  # noqa: BLE001 — a picture must never sink the report
            rep.add_text(f"(picture unavailable: {err})", note=True)
    return rep


def flat_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per song for ``analysis.csv``."""
    rows = []
    for s in result["songs"]:
        row = {k: v for k, v in s.items() if k not in ("windows", "top_tags")}
        row["top_tags"] = "; ".join(t["tag"] for t in s["top_tags"])
        row["n_windows"] = len(s["windows"])
        rows.append(row)
    return rows


def write_outputs(
    result: dict[str, Any], out: Path, *, report: bool = True, figures: dict[str, bytes] | None = None
) -> dict[str, str]:
    """``analysis.csv`` (a row per song), ``analysis.json`` (``result``) and ``report.html`` (unless not ``report``;
    ``figures``: song pictures already drawn, by path) in folder ``out``; returns their paths."""
    import pandas as pd

    from trackscope._atomic import output_folder, write_frame
    from trackscope._json import write_json_atomic

    output_folder(out)
    csv_path, json_path = out / ANALYSIS_FILES[0], out / ANALYSIS_FILES[1]
    write_frame(pd.DataFrame(flat_rows(result)), csv_path)
    write_json_atomic(json_path, {k: v for k, v in result.items() if k != "outputs"})
    outputs = {"csv": str(csv_path), "json": str(json_path)}
    if report:
        outputs["report"] = str(build_report(result, figures).write(out / REPORT_FILE))
    return outputs
