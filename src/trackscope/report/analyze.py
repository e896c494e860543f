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


def _colour(mood: str, i: int) -> str:
    palette = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860"]
    return MOOD_COLOURS.get(mood, palette[i % len(palette)])


class MinMaxEnvelope:
    """The min/max of every ``block`` samples of audio handed over in pieces of any length (a streamed decode)."""

    def __init__(self, block: int) -> None:
        self.block = block
        self.mins: list[Any] = []
        self.maxs: list[Any] = []
        self.carry: Any = None

    def add(self, y: Any) -> None:
        import numpy as np

        buf = np.concatenate([self.carry, y]) if self.carry is not None and self.carry.size else np.asarray(y)
        m = len(buf) // self.block
        if m:
            blk = buf[: m * self.block].reshape(m, self.block)
            self.mins.append(blk.min(axis=1))
            self.maxs.append(blk.max(axis=1))
        self.carry = buf[m * self.block :]

    def result(self) -> tuple[Any, Any]:
        """``(lo, hi)``; a last partial block counts as one."""
        import numpy as np

        mins, maxs = list(self.mins), list(self.maxs)
        if self.carry is not None and self.carry.size:
            mins.append(self.carry.min(keepdims=True))
            maxs.append(self.carry.max(keepdims=True))
        if not mins:
            return np.zeros(1, dtype=np.float32), np.zeros(1, dtype=np.float32)
        return np.concatenate(mins), np.concatenate(maxs)


def _decode_once(path: str, duration: float) -> tuple[Any, Any, Any, Any, float]:
    """One streamed pass over the song at 22.05 kHz: the min/max envelope of the whole song (``ENVELOPE_BINS``
    bins: times, minima, maxima) and the samples of its centre 30 s with their start time. Decoding is most of a
    picture's cost, and it used to happen twice (once for each)."""
    import numpy as np

    from trackscope.audio.io import iter_windows

    sr = 22050
    per_bin = max(1, int(duration * sr) // ENVELOPE_BINS)
    start = max(0.0, (duration - 30.0) / 2.0)
    lo_s, hi_s = int(round(start * sr)), int(round((start + 30.0) * sr))
    env = MinMaxEnvelope(per_bin)
    centre = []
    pos = 0
    for w in iter_windows(path, sr=sr, window=30.0):
        y = w.samples
        a, b = max(lo_s - pos, 0), min(hi_s - pos, len(y))
        if a < b:
            centre.append(y[a:b])
        pos += len(y)
        env.add(y)
    lo, hi = env.result()
    t = np.arange(len(lo)) * per_bin / sr
    clip = np.concatenate(centre) if centre else np.zeros(sr, dtype=np.float32)
    return t, lo, hi, clip, start


def va_map(songs: list[dict[str, Any]], classes: list[str]) -> str:
    """The batch on the valence–arousal plane as inline SVG: a dot per song (hover: its name and mood), quadrant
    names, the song's name beside its dot where there is room (names that would overlap an earlier one are left to
    the hover), unusual songs drawn hollow."""
    from html import escape

    size, pad = 520, 40

    def xy(v: float, a: float) -> tuple[float, float]:
        return pad + (v + 1) / 2 * (size - 2 * pad), pad + (1 - a) / 2 * (size - 2 * pad)

    parts = [
        f'<svg viewBox="0 0 {size} {size}" style="width:100%;max-width:{size}px;display:block" role="img" '
        'aria-label="valence–arousal map" font-family="sans-serif">',
        f'<rect x="{pad}" y="{pad}" width="{size - 2 * pad}" height="{size - 2 * pad}" fill="#fafafa" stroke="#ccc"/>',
        f'<line x1="{size / 2}" y1="{pad}" x2="{size / 2}" y2="{size - pad}" stroke="#999" stroke-width="0.8"/>',
        f'<line x1="{pad}" y1="{size / 2}" x2="{size - pad}" y2="{size / 2}" stroke="#999" stroke-width="0.8"/>',
        f'<text x="{size / 2}" y="{size - 8}" font-size="12" text-anchor="middle">valence (negative → positive)</text>',
        f'<text x="12" y="{size / 2}" font-size="12" text-anchor="middle" '
        f'transform="rotate(-90 12 {size / 2})">arousal (calm → energetic)</text>',
    ]
    for q, (v, a, anchor) in {"Q1": (0.97, 0.95, "end"), "Q2": (-0.97, 0.95, "start"),
                              "Q3": (-0.97, -0.92, "start"), "Q4": (0.97, -0.92, "end")}.items():  # fmt: skip
        x, y = xy(v, a)
        parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="{MOOD_COLOURS[q]}" text-anchor="{anchor}">'
            f"{q} {escape(QUADRANT_WORDS[q])}</text>"
        )
    placed: list[tuple[float, float, float, float]] = []
    for s in songs:
        if s.get("valence") is None:
            continue
        i = classes.index(s["mood"]) if s["mood"] in classes else 0
        x, y = xy(float(s["valence"]), float(s["arousal"]))
        colour = _colour(s["mood"], i)
        fill = "none" if s.get("unusual") else colour
        name = Path(s["path"]).stem
        tip = escape(f"{name}: {s['mood']} ({s.get('mood_words', '')}), confidence {s['confidence']:.2f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{fill}" stroke="{colour if fill == "none" else "#222"}" '
            f'stroke-width="1.2"><title>{tip}</title></circle>'
        )
        label = name[:22]
        box = (x + 7, y - 9, x + 7 + 6.2 * len(label), y + 3)  # ~6.2 px a character at 10 px
        if box[2] <= size - 4 and not any(
            box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed
        ):
            placed.append(box)
            parts.append(f'<text x="{box[0]:.1f}" y="{y + 1:.1f}" font-size="10" fill="#333">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


# A song's picture in the report: the waveform and the mood strip as inline SVG (vectors: a few KB, crisp at any
# size, no rasterising), and only the mel spectrogram as pixels — the centre 30 s at its own resolution halved in
# time (646 × 128), colour-mapped with numpy and encoded as WebP (~15 KB). Drawing one took 0.25 s through a
# matplotlib figure (ticks and a tight-bbox pass dominate); this takes ~0.05 s, most of it decoding.
MEL_COLUMNS = 646
WAVE_POINTS = 600


# matplotlib's magma at 17 evenly spaced points (0, 1/16, ..., 1): interpolated, within 2.5 of 255 of the real map
# everywhere, without loading matplotlib (~40 MB) in every process that draws a spectrogram.
_MAGMA_ANCHORS = (
    (0, 0, 4), (10, 8, 34), (29, 17, 71), (54, 16, 107), (81, 18, 124), (106, 28, 129), (131, 38, 129),
    (156, 46, 127), (183, 55, 121), (208, 65, 111), (231, 82, 99), (245, 107, 92), (252, 137, 97), (254, 167, 114),
    (254, 196, 136), (253, 226, 163), (252, 253, 191),
)  # fmt: skip


def _magma() -> Any:
    """The magma colour map as a 256 × 3 uint8 table (computed once)."""
    import numpy as np

    if not _LUT:
        anchors = np.asarray(_MAGMA_ANCHORS, dtype=np.float64)
        x, xa = np.linspace(0.0, 1.0, 256), np.linspace(0.0, 1.0, len(anchors))
        _LUT.append(np.stack([np.interp(x, xa, anchors[:, c]) for c in range(3)], axis=1).round().astype(np.uint8))
    return _LUT[0]


_LUT: list[Any] = []


def _mel_webp(mel_db: Any) -> bytes:
    """A (bands × frames) dB mel as a WebP image: low bands at the bottom, time halved by averaging, 80 dB range."""
    import io

    import numpy as np
    from PIL import Image

    m = np.asarray(mel_db, dtype=np.float32)
    step = max(1, int(np.ceil(m.shape[1] / MEL_COLUMNS)))
    cols = m.shape[1] // step
    if cols:
        m = m[:, : cols * step].reshape(m.shape[0], cols, step).mean(axis=2)
    top = float(m.max()) if m.size else 0.0
    idx = np.clip((m - (top - 80.0)) / 80.0 * 255.0, 0, 255).astype(np.uint8)[::-1]
    buf = io.BytesIO()
    Image.fromarray(_magma()[idx], mode="RGB").save(buf, format="WEBP", quality=80, method=1)
    return buf.getvalue()


def _ticks(duration: float) -> list[float]:
    for step in (5, 10, 15, 30, 60, 120, 300, 600, 1800):
        if duration / step <= 8:
            return [float(t) for t in range(0, int(duration) + 1, step)]
    return [0.0, duration]


def song_picture(song: dict[str, Any], classes: list[str], decoded: dict[str, Any] | None = None) -> bytes:
    """One song's visual as a self-contained HTML fragment (UTF-8 bytes): waveform (SVG), mel spectrogram of 30 s
    around the middle (WebP, placed under its stretch of the timeline), the mood-over-time strip (SVG) and a time
    axis. ``decoded``: the envelope and middle window the analysis gathered while decoding the song for its features
    (``SongFeatures.extra["picture"]``), so the song is not decoded again; without it, one streamed decode."""
    import base64
    from html import escape

    import numpy as np

    from trackscope.audio.mel import melspectrogram, power_to_db

    dur = max(float(song["duration"]), 1e-3)
    if decoded is not None and decoded.get("clip") is not None and decoded.get("sr") == 22050:
        t, lo, hi = decoded["t"], decoded["lo"], decoded["hi"]
        centre, start = decoded["clip"], float(decoded["start"])
    else:
        t, lo, hi, centre, start = _decode_once(song["path"], dur)
    if len(t) > WAVE_POINTS:  # min/max envelope of the envelope: peaks survive
        k = int(np.ceil(len(t) / WAVE_POINTS))
        n = len(t) // k
        t, lo, hi = t[: n * k : k], lo[: n * k].reshape(n, k).min(1), hi[: n * k].reshape(n, k).max(1)
    peak = max(float(np.abs(np.concatenate([lo, hi])).max()) if len(t) else 0.0, 1e-6)
    xs = (np.asarray(t) / dur * 1000.0).round(1)
    top = " ".join(f"{x:g},{30 - 28 * v / peak:.1f}" for x, v in zip(xs, hi, strict=True))
    bottom = " ".join(f"{x:g},{30 - 28 * v / peak:.1f}" for x, v in zip(xs[::-1], lo[::-1], strict=True))
    wave = (
        '<svg viewBox="0 0 1000 60" preserveAspectRatio="none" style="width:100%;height:60px;display:block" '
        f'role="img" aria-label="waveform"><polygon points="{top} {bottom}" fill="#555"/></svg>'
    )
    mel = power_to_db(melspectrogram(centre, sr=22050))
    clip_s = len(centre) / 22050
    img = base64.b64encode(_mel_webp(mel)).decode("ascii")
    left, width = 100.0 * start / dur, 100.0 * min(clip_s, dur) / dur
    mel_html = (
        '<div style="position:relative;height:128px;background:#000">'
        f'<img alt="mel spectrogram, {start:.0f}–{start + clip_s:.0f} s" src="data:image/webp;base64,{img}" '
        f'style="position:absolute;left:{left:.2f}%;width:{width:.2f}%;height:128px;image-rendering:auto"></div>'
    )
    rects = []
    for w in song["windows"]:
        x, wd = 1000.0 * w["start"] / dur, 1000.0 * w["duration"] / dur
        if w["mood"] is None:
            rects.append(
                f'<rect x="{x:.1f}" y="0" width="{wd:.1f}" height="24" fill="#ddd"><title>silent</title></rect>'
            )
            continue
        i = classes.index(w["mood"]) if w["mood"] in classes else 0
        tip = escape(f"{w['start']:.0f}–{w['start'] + w['duration']:.0f} s: {w['mood']} ({w['confidence']:.2f})")
        rects.append(
            f'<rect x="{x:.1f}" y="0" width="{wd:.1f}" height="24" fill="{_colour(w["mood"], i)}" '
            f'fill-opacity="{0.35 + 0.65 * w["confidence"]:.2f}"><title>{tip}</title></rect>'
        )
        if wd >= 80:
            rects.append(
                f'<text x="{x + wd / 2:.1f}" y="16" font-size="11" text-anchor="middle">{escape(w["mood"])}</text>'
            )
    strip = (
        '<svg viewBox="0 0 1000 24" preserveAspectRatio="none" style="width:100%;height:24px;display:block" '
        f'role="img" aria-label="mood over time">{"".join(rects)}</svg>'
    )
    marks = "".join(
        f'<span style="position:absolute;left:{100 * v / dur:.2f}%;transform:translateX(-50%)">{int(v) // 60}:'
        f"{int(v) % 60:02d}</span>"
        for v in _ticks(dur)
    )
    axis = f'<div style="position:relative;height:16px;font-size:11px;color:#666">{marks}</div>'
    label = 'style="font-size:12px;color:#444;margin:6px 0 2px"'
    html = (
        '<figure class="song-visual" style="margin:8px 0 24px">'
        f"<div {label}>Waveform</div>{wave}"
        f"<div {label}>Mel spectrogram (30 s around the middle, 128 bands, 80 dB range)</div>{mel_html}"
        f"<div {label}>Mood over time (30-s windows; paler = less confident)</div>{strip}{axis}</figure>"
    )
    return html.encode("utf-8")


def build_report(result: dict[str, Any], figures: dict[str, bytes] | None = None) -> Any:
    """The analysis report; ``figures`` may hold each song's picture already rendered (by path), e.g. by workers."""
    from trackscope.report.html import Report
    from trackscope.tasks.mood.why import summary as why_summary

    classes = result["classes"]
    rep = Report("trackscope analysis", subtitle=f"{result['n']} songs analysed with {result['mood_model']}")
    rep.add_heading("Summary")
    rows = summary_rows(result["songs"])
    if rows:
        rep.add_table(rows)
    if result["failures"]:
        rep.add_heading("Files that could not be analysed")
        rep.add_table(list(result["failures"]))
    if any(s.get("valence") is not None for s in result["songs"]):
        rep.add_heading("Valence–arousal map")
        rep.add_html(va_map(result["songs"], classes))
    rep.add_heading("Songs")
    for s in result["songs"]:
        rep.add_heading(s["name"], level=3)
        tags = ", ".join(t["tag"] for t in s["top_tags"])
        if s["mood"] is None:
            rep.add_text(f"silent: no mood; top tags: {tags}")
        else:
            rep.add_text(f"{s['mood_words']} ({s['mood']}), {s['confidence']:.0%} confident; top tags: {tags}")
            if s.get("why"):
                rep.add_text(f"Why this mood: {why_summary(s['why'], s['mood'], classes)}")
            if s.get("unusual"):
                rep.add_text(
                    f"This audio is unlike the music the mood model learnt from (novelty {s['novelty']:.3f}): "
                    "treat the mood as a guess.",
                    note=True,
                )
        try:
            picture = (figures or {}).get(s["path"])
            rep.add_html((picture if picture is not None else song_picture(s, classes)).decode("utf-8"))
        except Exception as err:  # noqa: BLE001 — a picture must never sink the report
            rep.add_text(f"(picture unavailable: {err})", note=True)
    return rep


def summary_rows(songs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary table as people read it (the studio's columns): mood in words, keys spelt with their Camelot code,
    m:ss, rounded numbers, unusual songs marked; ``analysis.csv``/``analysis.json`` keep every value as computed."""
    from trackscope._format import format_duration, spell_key

    def num(v: Any, places: int, signed: bool = False) -> str:
        return "–" if v is None else f"{v:+.{places}f}" if signed else f"{v:.{places}f}"

    rows = []
    for s in songs:
        row = {
            "song": s["name"],
            "mood": s.get("mood_words") or "–",
            "confident": "–" if s.get("confidence") is None else f"{s['confidence']:.0%}",
            "arousal": num(s.get("arousal"), 2, True),
            "valence": num(s.get("valence"), 2, True),
            "BPM": "–" if s.get("tempo") is None else f"{s['tempo']:.0f}",
            "key": spell_key(s.get("key")),
            "LUFS": num(s.get("loudness_lufs"), 1),
            "length": format_duration(s.get("duration")),
            "novelty": num(s.get("novelty"), 2) + (" unusual" if s.get("unusual") else ""),
        }
        if any(x.get("hit_potential") is not None for x in songs):
            row["hit"] = num(s.get("hit_potential"), 2)
        row["top tags"] = ", ".join(t["tag"] for t in (s.get("top_tags") or [])[:3])
        rows.append(row)
    return rows


def flat_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per song for ``analysis.csv``."""
    rows = []
    for s in result["songs"]:
        row = {k: v for k, v in s.items() if k not in ("windows", "top_tags", "why")}
        row["top_tags"] = "; ".join(t["tag"] for t in s["top_tags"])
        row["n_windows"] = len(s["windows"])
        rows.append(row)
    return rows


def write_outputs(
    result: dict[str, Any], out: Path, *, report: bool = True, figures: dict[str, bytes] | None = None
) -> dict[str, str]:
    """``analysis.csv`` (a row per song), ``analysis.json`` (``result``) and ``report.html`` (unless not ``report``;
    ``figures``: song pictures already drawn, by path) in folder ``out``; returns their paths."""
    from trackscope._atomic import output_folder
    from trackscope._json import write_json_atomic

    output_folder(out)
    csv_path, json_path = out / ANALYSIS_FILES[0], out / ANALYSIS_FILES[1]
    write_rows_csv(flat_rows(result), csv_path)
    write_json_atomic(json_path, {k: v for k, v in result.items() if k != "outputs"})
    outputs = {"csv": str(csv_path), "json": str(json_path)}
    if report:
        outputs["report"] = str(build_report(result, figures).write(out / REPORT_FILE))
    return outputs


def write_rows_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    """Row dicts as a CSV file, atomically, with the standard library (no pandas in analyze's process): columns in
    first-seen order, missing values and NaN empty, floats at full precision — what ``DataFrame.to_csv`` writes."""
    import csv
    import math

    from trackscope._atomic import atomic_path

    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(v: Any) -> Any:
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else v

    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(c)) for c in columns])
    return path
