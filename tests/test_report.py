"""The generic HTML report builder and its plots."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd

from trackscope.report import plots
from trackscope.report.html import Report


def test_report_is_self_contained_with_tables_and_figures(tmp_path):
    rep = Report("A <title>", subtitle="about data")
    rep.add_heading("Data")
    rep.add_text("first para\n\nsecond <b>para</b>")
    rep.add_table(pd.DataFrame({"name": ["a", "b"], "x": [0.12345, np.nan], "n": [1, 2]}), "Numbers")
    rep.add_table({"rows": 10, "sha256": "abc"}, "Key/values")
    rep.add_heading("Plots")
    rep.add_figure(plots.bar_chart(["a", "b"], [1.0, 2.0], title="bars"), "A bar chart")
    rep.add_figure(plots.heatmap(np.eye(2), ["r1", "r2"], ["c1", "c2"], fmt="{:.0f}"), "Heat")
    rep.add_figure(plots.line_with_band([1, 2, 3], {"train": ([1, 2, 3], [0.1, 0.1, 0.1]), "val": ([1, 1, 1], None)}))
    rep.add_figure(plots.grouped_bars(pd.DataFrame({"u": [1, 2], "v": [3, 4]}, index=["p", "q"])))
    rep.add_figure(plots.scatter([1, 2], [2, 1], diagonal=True))
    out = rep.write(tmp_path / "sub" / "report.html")
    text = out.read_text()
    assert "<title>A &lt;title&gt;</title>" in text
    assert "second &lt;b&gt;para&lt;/b&gt;" in text  # text is escaped
    assert "0.123" in text and "Key/values" in text and "sha256" in text
    assert 'href="#data"' in text and 'href="#plots"' in text  # table of contents
    # Every image is embedded as a valid PNG; nothing is loaded from elsewhere.
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 5
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    assert not re.search(r'src="(?!data:)', text) and "<script" not in text
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["report.html"]  # no temp file left behind


def test_table_cuts_long_frames():
    rep = Report("t")
    rep.add_table(pd.DataFrame({"x": range(30)}), max_rows=10)
    assert "20 more rows" in rep.to_html()


# Draws every plot of trackscope.report.plots on small data in a fresh interpreter, then reports whether pyplot was
# ever imported (pyplot keeps global figures and picks a GUI backend: the report plots must not need it).
# ``--import-pyplot`` imports it on purpose: the control that shows the check can fail.
_PLOTS_SCRIPT = """
import json, sys
import numpy as np
import pandas as pd
if "--import-pyplot" in sys.argv:
    import matplotlib.pyplot
from trackscope.report import plots
figures = [
    plots.bar_chart(["a", "b"], [1.0, 2.0], title="bars", errors=[0.1, 0.2]),
    plots.bar_chart(["a"], [1.0], horizontal=True),
    plots.heatmap(np.eye(2), ["r1", "r2"], ["c1", "c2"], fmt="{:.0f}"),
    plots.heatmap(np.eye(2) - 0.5, ["r1", "r2"], ["c1", "c2"], center=0.0),
    plots.line_with_band([1, 2, 3], {"train": ([1, 2, 3], [0.1, 0.1, 0.1]), "val": ([1, 1, 1], None)}),
    plots.grouped_bars(pd.DataFrame({"u": [1, 2], "v": [3, 4]}, index=["p", "q"])),
    plots.scatter([1, 2], [2, 1], diagonal=True),
]
pngs = [plots.figure_png(f) for f in figures]
print(json.dumps({"pngs": sum(p[:4] == b"\\x89PNG" for p in pngs), "pyplot": "matplotlib.pyplot" in sys.modules}))
"""


def _draw_plots(*runs: tuple[str, ...]) -> list[dict]:
    """Run the script once per flag tuple, side by side; their reports in order."""
    import json
    import subprocess
    import sys

    procs = [
        subprocess.Popen([sys.executable, "-c", _PLOTS_SCRIPT, *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for flags in runs
    ]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports


def test_plots_do_not_use_pyplot():
    drawn, control = _draw_plots((), ("--import-pyplot",))
    assert drawn == {"pngs": 7, "pyplot": False}
    assert control["pyplot"] is True  # the control: an import of pyplot is seen


def test_spectrogram_colours_are_magma_without_matplotlib():
    """The report's and the studio's mel pictures use magma from 17 stored points: within 3 of 255 of matplotlib's."""
    import numpy as np
    from matplotlib import colormaps

    from trackscope.report.analyze import _magma

    lut = _magma()
    real = colormaps["magma"](np.linspace(0.0, 1.0, 256))[:, :3] * 255
    assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert np.abs(lut.astype(float) - real).max() <= 3.0


def test_every_picture_drawer_takes_what_the_analysis_hands_it(tmp_path):
    """analyze_song draws a song's picture (report) or media (workspace) from the audio it decoded for the features;
    a drawer that raises is swallowed there (the report draws again), so each drawer is checked to give bytes."""
    import pickle

    from audio_synth import music_like, write
    from trackscope.models.persist import load_model_dir
    from trackscope.report.analyze import song_picture
    from trackscope.report.media import media_and_picture_draw, media_draw
    from trackscope.tasks.analyze import analyze_song

    md = load_model_dir("builtin:mood")
    song = write(tmp_path / "song.wav", music_like(40.0, seed=5))
    kind, row, html = analyze_song(md, song, song_picture)
    assert kind == "song" and html is not None and b"data:image/webp;base64," in html
    for draw in (media_draw, media_and_picture_draw):
        _, _, blob = analyze_song(md, song, draw)
        assert blob is not None and pickle.loads(blob)["media"]["waveform"]["points"] > 0
