"""Why an audio model scores a song: occlusion over time–frequency regions of its mel spectrogram.

Each region (a band of mels × a stretch of frames) is replaced by the clip's mean level and the song is scored
again; the drop in the log-odds of a hit is that region's importance (positive: the region pushes toward
"popular"). Log-odds rather than probability, because a confident model's probability saturates near 0 or 1.
Whole 3-s stretches are occluded the same way to say which part of the song drives the score. The map is drawn over
the spectrogram in a PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trackscope.errors import ModelError, TrackscopeError

BANDS = 8  # frequency bands of the map
REGION_SECONDS = 1.0  # time width of a map cell
STRETCH_SECONDS = 3.0  # "which 3-s stretch drives the score" (musicnn's patch length)


def _occluded_scores(net: Any, mel: np.ndarray, boxes: list[tuple[int, int, int, int]]) -> np.ndarray:
    from trackscope.models.training import predict_logits

    fill = float(mel.mean())
    batch = np.repeat(mel[None, None], len(boxes), axis=0)
    for k, (f0, f1, t0, t1) in enumerate(boxes):
        batch[k, 0, f0:f1, t0:t1] = fill
    return predict_logits(net, batch, batch_size=32)


def occlusion(md: Any, *, song: Any, out: Any = None) -> dict[str, Any]:
    """Occlusion map and the most important 3-s stretch of one song; writes ``<stem>_occlusion.png`` into ``out``."""
    from trackscope.models.training import predict_logits
    from trackscope.tasks.popularity_audio import clip_mel, load_net

    if md.meta["model"] == "embedding":
        raise ModelError("occlusion maps need a spectrogram network; this model reads musicnn embeddings", path=md.path)
    song = Path(song)
    if not song.is_file():
        raise TrackscopeError("no such audio file", path=song)
    cfg = md.meta["mel"]
    mel = clip_mel(song, cfg)
    net = load_net(md)
    if net is None:
        p = float(md.meta["prior"])
        return {"song": str(song), "hit_probability": p, "note": "the dummy model scores every song the same"}
    z = float(predict_logits(net, mel[None, None])[0])
    p = float(1 / (1 + np.exp(-z)))
    n_mels, n_frames = mel.shape
    fps = cfg["sr"] / cfg["hop_length"]
    width = max(1, int(round(REGION_SECONDS * fps)))
    f_edges = np.linspace(0, n_mels, BANDS + 1).astype(int)
    t_edges = np.linspace(0, n_frames, max(1, round(n_frames / width)) + 1).astype(int).tolist()
    boxes = [
        (f_edges[i], f_edges[i + 1], t_edges[j], t_edges[j + 1]) for i in range(BANDS) for j in range(len(t_edges) - 1)
    ]
    drops = z - _occluded_scores(net, mel, boxes)
    grid = drops.reshape(BANDS, len(t_edges) - 1)
    stretch = max(1, int(round(STRETCH_SECONDS * fps)))
    # 3-s stretches every 1.5 s, the last one ending at the end of the clip
    n_starts = 1 + max(0, int(np.ceil((n_frames - stretch) / max(1, stretch // 2))))
    starts = np.linspace(0, max(0, n_frames - stretch), n_starts).astype(int).tolist()
    s_drops = z - _occluded_scores(net, mel, [(0, n_mels, t, min(n_frames, t + stretch)) for t in starts])
    best = int(np.argmax(np.abs(s_drops)))  # the stretch with the largest effect, either sign
    regions = sorted(
        (
            {
                "band": i,
                "mel_from": int(f_edges[i]),
                "mel_to": int(f_edges[i + 1]),
                "start_s": round(t_edges[j] / fps, 2),
                "end_s": round(t_edges[j + 1] / fps, 2),
                "effect": float(grid[i, j]),
            }
            for i in range(BANDS)
            for j in range(grid.shape[1])
        ),
        key=lambda r: -abs(r["effect"]),
    )
    result: dict[str, Any] = {
        "song": str(song),
        "model": md.meta["model"],
        "hit_probability": p,
        "driving_stretch": {
            "start_s": round(starts[best] / fps, 2),
            "end_s": round(min(n_frames, starts[best] + stretch) / fps, 2),
            "effect": float(s_drops[best]),
        },
        "stretches": [
            {"start_s": round(t / fps, 2), "end_s": round(min(n_frames, t + stretch) / fps, 2), "effect": float(d)}
            for t, d in zip(starts, s_drops, strict=True)
        ],
        "regions": regions[:10],
        "note": "times are within the analysed centre clip; effect = drop in log-odds of a hit when hidden",
    }
    if out is not None:
        png = Path(out) / f"{song.stem}_occlusion.png"
        _draw(mel, grid, t_edges, f_edges, fps, result, png)
        result["picture"] = str(png)
    return result


def _draw(mel, grid, t_edges, f_edges, fps, result, png: Path) -> None:
    import os
    import tempfile

    from trackscope.report.plots import figure_png, new_figure

    fig = new_figure(10.0, 4.0)
    ax = fig.add_subplot()
    n_mels, n_frames = mel.shape
    ax.imshow(mel, origin="lower", aspect="auto", cmap="magma", extent=(0, n_frames / fps, 0, n_mels))
    span = float(np.abs(grid).max()) or 1e-9
    im = ax.pcolormesh(
        np.asarray(t_edges) / fps, np.asarray(f_edges), grid, cmap="coolwarm", alpha=0.55, vmin=-span, vmax=span
    )
    s = result["driving_stretch"]
    ax.axvspan(s["start_s"], s["end_s"], fill=False, edgecolor="lime", linewidth=2, label="driving 3-s stretch")
    fig.colorbar(im, ax=ax, label="drop in log-odds of a hit when hidden")
    ax.set_xlabel("seconds (centre clip)")
    ax.set_ylabel("mel band")
    ax.set_title(f"{Path(result['song']).name}: hit probability {result['hit_probability']:.2f}")
    ax.legend(loc="upper right", fontsize="small")
    from trackscope._atomic import output_folder

    output_folder(png.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{png.name}.", dir=png.parent)
    with os.fdopen(fd, "wb") as fh:
        fh.write(figure_png(fig))
    os.replace(tmp, png)
