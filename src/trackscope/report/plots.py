"""Plots for reports: small functions that return a matplotlib ``Figure`` (Agg, no pyplot state).

Every function builds its own :class:`matplotlib.figure.Figure` with an Agg canvas, so nothing here depends on a
display or on pyplot's global figure list, and figures are garbage-collected like any other object. Pass the result
to :meth:`trackscope.report.html.Report.add_figure` (or :func:`figure_png`).

Example
-------
>>> fig = bar_chart(["a", "b"], [1.0, 2.0], title="Counts")
>>> figure_png(fig)[:4]
b'\\x89PNG'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def new_figure(width: float = 7.0, height: float = 4.0, dpi: int = 100):  # -> matplotlib.figure.Figure
    """An empty figure on the Agg canvas (no GUI backend, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Any, *, dpi: int | None = None) -> bytes:
    """Render a figure to PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, bbox_inches="tight")
    return buf.getvalue()


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    horizontal: bool = False,
    errors: Sequence[float] | None = None,
    color: str = "#4C72B0",
):
    """One bar per label (``horizontal=True`` for long labels, listed top to bottom)."""
    fig = new_figure(7.0, max(2.5, 0.35 * len(labels) + 1.0) if horizontal else 4.0)
    ax = fig.add_subplot()
    pos = list(range(len(labels)))
    if horizontal:
        ax.barh(pos, values, xerr=errors, color=color)
        ax.set_yticks(pos, [str(lab) for lab in labels])
        ax.invert_yaxis()
    else:
        ax.bar(pos, values, yerr=errors, color=color)
        ax.set_xticks(pos, [str(lab) for lab in labels], rotation=30 if len(labels) > 6 else 0, ha="right")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    fig.tight_layout()
    return fig


def grouped_bars(frame: Any, *, title: str = "", ylabel: str = "", xlabel: str = ""):
    """Grouped bars of a DataFrame: one group per row (index), one bar per column."""
    import numpy as np

    rows, cols = list(frame.index), list(frame.columns)
    fig = new_figure(max(6.0, 0.5 * len(rows) * max(1, len(cols)) / 2 + 3), 4.0)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(cols))
    x = np.arange(len(rows))
    for i, col in enumerate(cols):
        ax.bar(x + (i - (len(cols) - 1) / 2) * width, frame[col].to_numpy(dtype=float), width, label=str(col))
    ax.set_xticks(
        x, [str(r) for r in rows], rotation=30 if len(rows) > 6 else 0, ha="right" if len(rows) > 6 else "center"
    )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", ncols=min(len(cols), 5))
    fig.tight_layout()
    return fig


def heatmap(
    matrix: Any,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    fmt: str = "{:.2f}",
    cmap: str = "Blues",
    center: float | None = None,
):
    """A matrix with its values written in the cells (``center`` for a diverging colour scale around a value)."""
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    fig = new_figure(max(4.0, 0.8 * len(col_labels) + 2.5), max(3.0, 0.5 * len(row_labels) + 1.5))
    ax = fig.add_subplot()
    kw: dict[str, Any] = {}
    if center is not None and np.isfinite(m).any():
        span = float(np.nanmax(np.abs(m - center))) or 1.0
        kw = {"vmin": center - span, "vmax": center + span}
    im = ax.imshow(m, cmap=cmap, aspect="auto", **kw)
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(len(col_labels)), [str(c) for c in col_labels], rotation=30, ha="right")
    ax.set_yticks(range(len(row_labels)), [str(r) for r in row_labels])
    finite = m[np.isfinite(m)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if np.isfinite(m[i, j]):
                dark = m[i, j] > mid if center is None else abs(m[i, j] - center) > 0.5 * (kw["vmax"] - center)
                ax.text(
                    j, i, fmt.format(m[i, j]), ha="center", va="center", fontsize=8, color="white" if dark else "black"
                )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def line_with_band(
    x: Sequence[float],
    series: dict[str, tuple[Sequence[float], Sequence[float] | None]],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
):
    """Lines with an optional ±band each: ``series = {name: (mean, sd_or_None)}`` (e.g. a learning curve)."""
    import numpy as np

    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    xs = np.asarray(x, dtype=float)
    for name, (mean, sd) in series.items():
        mean = np.asarray(mean, dtype=float)
        (line,) = ax.plot(xs, mean, marker="o", label=name)
        if sd is not None:
            sd = np.asarray(sd, dtype=float)
            ax.fill_between(xs, mean - sd, mean + sd, alpha=0.2, color=line.get_color())
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def scatter(
    x: Sequence[float],
    y: Sequence[float],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    diagonal: bool = False,
):
    """A scatter plot (``diagonal=True`` adds the y = x line, e.g. predicted vs true)."""
    import numpy as np

    fig = new_figure(5.0, 5.0 if diagonal else 4.0)
    ax = fig.add_subplot()
    ax.scatter(x, y, s=8, alpha=0.5)
    if diagonal and len(x):
        lo = float(min(np.min(x), np.min(y)))
        hi = float(max(np.max(x), np.max(y)))
        ax.plot([lo, hi], [lo, hi], color="grey", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
