"""Why this mood: which stretches of a song pull it toward each mood, by occlusion over time.

A window's features pool musicnn activations over its 3-s patches (mean and standard deviation per channel, see
:mod:`trackscope.features.song`). Leaving a stretch of patches out of that pooling — the window's descriptors
unchanged, the network not run again: the patch activations are kept in ``SongFeatures.extra`` — and asking the
head again gives the song's probabilities without that stretch. The effect of a stretch on mood ``c`` is
``p_c(song) − p_c(song without the stretch)``: positive means the stretch pulls the song toward ``c``. A song's
probabilities are the duration-weighted mean of its windows', and only the stretch's window changes, so the effect is
that window's change times its weight (a stretch of a long song moves the whole song less than one of a 30-s clip).

Stretches never cross a window. One patch (~3 s) each while a song has at most :data:`MAX_STRETCHES` patches (a
30-s clip: 10 stretches); longer songs group consecutive patches so they get at most :data:`MAX_STRETCHES` (a 4-min
song: 40 stretches of ~6 s, a 10-min one 40 of ~12 s). A window that cannot be split (a short tail of one patch), and
every window of a song too long for half-windows (over ~15 min), is left out whole instead: the effect is then the
song's mean against the mean of its other windows. A song under ~6 s is one patch: nothing to leave out, no
stretches. Cost: one head evaluation over all the occluded windows at once (a few ms on a 4-min song; the musicnn
pass that produced the patches is ~100× that).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from trackscope.constants import QUADRANT_WORDS

MAX_STRETCHES = 60
# An effect smaller than this (a hundredth of a percentage point) pulls toward nothing.
MIN_EFFECT = 1e-4
METHOD = (
    "occlusion over time: each stretch's musicnn patches left out of its window's pooled statistics (descriptors "
    "unchanged); effect = P(mood | song) − P(mood | song without the stretch); positive: pulls toward that mood"
)


def patches_per_stretch(counts: Sequence[int]) -> int:
    """Patches in a stretch for a song whose windows hold ``counts`` patches: 1 up to :data:`MAX_STRETCHES` patches,
    then as many as keep the song at about that many stretches."""
    return max(1, math.ceil(sum(counts) / MAX_STRETCHES))


def window_groups(n: int, k: int) -> list[list[int]]:
    """A window of ``n`` patches cut into consecutive stretches of ``k`` (fewer when the window is short, so it has at
    least two); a last stretch under half of ``k`` joins the one before. None for a single patch."""
    if n < 2:
        return []
    k = max(1, min(k, n // 2))
    groups = [list(range(i, min(i + k, n))) for i in range(0, n, k)]
    if len(groups) > 2 and len(groups[-1]) * 2 < k:
        groups[-2].extend(groups.pop())
    return groups


def plan(counts: Sequence[int]) -> list[tuple[list[int], list[int] | None]]:
    """The song's stretches, in time order, as ``(windows, patches)``: ``([w], [i, …])`` is patches of window ``w``
    (left out of its pooling), ``([w, …], None)`` whole windows (left out of the song's mean). Patches while that
    keeps the song at :data:`MAX_STRETCHES` or fewer; a window of one patch (a short tail) is a stretch of its own;
    a song too long for half-windows is cut into runs of whole windows. ``[]`` for a single one-patch window."""
    if len(counts) == 1 and counts[0] < 2:
        return []
    k = patches_per_stretch(counts)
    while True:
        out: list[tuple[list[int], list[int] | None]] = []
        for w, n in enumerate(counts):
            groups = window_groups(n, k)
            out.extend(([w], g) for g in groups) if groups else out.append(([w], None))
        if len(out) <= MAX_STRETCHES or k >= max(counts):
            break
        k += 1
    if len(out) <= MAX_STRETCHES:
        return out
    m = math.ceil(len(counts) / MAX_STRETCHES)
    return [(list(range(i, min(i + m, len(counts)))), None) for i in range(0, len(counts), m)]


def stretches(head: Any, classes: Sequence[str], sf: Any, window_proba: Any) -> list[dict[str, Any]] | None:
    """The song's stretches, in time order: ``{"start", "end", "effects": {class: Δp}, "toward": class or None}``
    (seconds; ``toward`` is the class with the largest positive effect, None when none is positive). ``head`` is
    the model's head (``predict_proba``, ``classes_``), ``sf`` the song's :class:`SongFeatures` and
    ``window_proba`` its windows' probabilities in ``classes`` order. None for a silent song; ``[]`` when there is
    nothing to leave out (a song under ~6 s: one patch)."""
    import numpy as np

    from trackscope.features.song import pooled_vector

    if sf.silent:
        return None
    patches = sf.extra.get("patches") or []
    if len(patches) != len(sf.durations):  # not kept (a very long song): whole windows only
        patches = [[] for _ in sf.durations]
    counts = [len(p[0]) if p else 0 for p in patches]
    patch_s = float(sf.extra.get("patch_s", 3.0))
    starts = [float(x) for x in sf.starts]
    ends = [a + float(d) for a, d in zip(starts, sf.durations, strict=True)]
    weights = np.asarray(sf.durations, dtype=np.float64) / max(float(sum(sf.durations)), 1e-9)
    base = np.asarray(window_proba, dtype=np.float64)
    song = weights @ base
    items = plan(counts)
    rows = [pooled_vector(sf.vectors[ws[0]], patches[ws[0]], g) for ws, g in items if g is not None]
    order = [list(head.classes_).index(c) for c in classes]
    occluded: Any = iter([])
    if rows:
        from trackscope._threads import single_blas_thread

        with single_blas_thread():  # small products: a second BLAS thread only spins (see trackscope._threads)
            occluded = iter(np.asarray(head.predict_proba(np.stack(rows)), dtype=np.float64)[:, order])
    out = []
    for ws, group in items:
        if group is not None:  # patches of one window: that window's probabilities change, weighted by its share
            w = ws[0]
            delta = (base[w] - next(occluded)) * weights[w]
            start = starts[w] + group[0] * patch_s
            end = min(starts[w] + (group[-1] + 1) * patch_s, ends[w])
        else:  # whole windows: the song's mean over the others
            rest = np.delete(np.arange(len(weights)), ws)
            delta = song - (weights[rest] @ base[rest]) / max(float(weights[rest].sum()), 1e-12)
            start, end = starts[ws[0]], ends[ws[-1]]
        best = int(np.argmax(delta))
        out.append(
            {
                "start": round(start, 3),
                "end": round(end, 3),
                "effects": {str(c): float(d) for c, d in zip(classes, delta, strict=True)},
                "toward": str(classes[best]) if delta[best] > MIN_EFFECT else None,
            }
        )
    return out


def mood_words(c: str) -> str:
    return QUADRANT_WORDS.get(c, c)


def decimals(largest: float) -> int:
    """Decimals that show effects up to ``largest`` (absolute) to people: 2 from 0.05 up ("+0.08"), 3 from 0.005,
    else 4 — effects are differences of probabilities, rounded only for display."""
    return 2 if largest >= 0.05 else 3 if largest >= 0.005 else 4


def signed(effect: float, places: int | None = None) -> str:
    """An effect for people: "+0.08"; "0" when it rounds to nothing at ``places`` (default: :func:`decimals`)."""
    places = decimals(abs(effect)) if places is None else places
    return f"{effect:+.{places}f}" if round(abs(effect), places) > 0 else "0"


def span(s: dict[str, Any]) -> str:
    """A stretch as m:ss–m:ss."""
    from trackscope._format import format_duration

    return f"{format_duration(s['start'])}–{format_duration(s['end'])}"


def strongest(why: Sequence[dict[str, Any]], c: str) -> dict[str, Any] | None:
    """The stretch that pulls most toward ``c`` (None when none pulls toward it)."""
    best = max(why, key=lambda s: s["effects"].get(c, 0.0), default=None)
    return best if best is not None and best["effects"].get(c, 0.0) > MIN_EFFECT else None


def summary(why: Sequence[dict[str, Any]] | None, mood: str | None, classes: Sequence[str]) -> str:
    """A sentence or two for people: the stretch that pulls most toward the song's mood (and toward the strongest
    other mood, when one pulls that way), e.g. "0:12–0:18 pulls most toward happy/energetic (+0.08)"."""
    if mood is None:
        return "Silent: no mood, so no stretch pulls toward one."
    if why is None:
        return "No stretches to compare: the song's patch activations were not kept."
    if not why:
        return "Too short to tell stretches apart: under ~6 s the whole song is one 3-s patch."
    parts = []
    top = strongest(why, mood)
    if top is None:
        parts.append(f"No single stretch pulls toward {mood_words(mood)}: the whole song carries it.")
    else:
        parts.append(_sentence(top, mood))
    others = [(s, c) for c in classes if c != mood for s in [strongest(why, c)] if s is not None]
    if others:
        s, c = max(others, key=lambda sc: sc[0]["effects"][sc[1]])
        parts.append(_sentence(s, c))
    return " ".join(parts)


def _sentence(s: dict[str, Any], c: str) -> str:
    return f"{span(s)} pulls most toward {mood_words(c)} ({signed(s['effects'][c])})."
