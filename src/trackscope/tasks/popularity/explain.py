"""Why an audio model scores a song: occlusion over time–frequency regions of its mel spectrogram.

Each region (a band of mels × a stretch of frames) is replaced by the clip's mean level and the song is scored
again; the drop in the log-odds of a hit is that region's importance (positive: the region pushes toward
"popular"). Log-odds rather than probability, because a confident model's probability saturates near 0 or 1.
Whole 3-s stretches are occluded the same way to say which part of the song drives the score. The report layer draws
the map over the spectrogram (:func:`trackscope.report.popularity.draw_occlusion`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trackscope.errors import ModelError, TrackscopeError
from trackscope.tasks.results import Explanation

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


def occlusion(md: Any, *, song: Any) -> Explanation:
    """Occlusion map and the most important 3-s stretch of one song; ``picture`` holds the spectrogram and the map
    (none for the dummy model)."""
    from trackscope.features.clips import clip_mel
    from trackscope.models.nets import load_net
    from trackscope.models.training import predict_logits

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
        return Explanation(
            {"song": str(song), "hit_probability": p, "note": "the dummy model scores every song the same"}
        )
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
    return Explanation(result, {"mel": mel, "grid": grid, "t_edges": t_edges, "f_edges": f_edges, "fps": fps})
