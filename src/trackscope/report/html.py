"""A self-contained HTML report: headings, text, tables and figures in one file, images embedded as base64 PNG.

The file needs nothing else — no network, no scripts, no sibling image files — so it can be mailed or archived as is.
The page around the blocks (head, title, table of contents) is the Jinja2 template
``trackscope/report/templates/report.html.j2``, styled by ``templates/studio.css`` (the look the studio shares) and
``templates/report.css``, both inlined. Build it top to bottom and write it atomically:

>>> rep = Report("Mood model")
>>> rep.add_heading("Data")
>>> rep.add_text("913 tracks, 5 moods.")
>>> html = rep.to_html()
>>> "<h2" in html and "913 tracks" in html
True

``add_table`` takes a pandas DataFrame (or a dict / list of dicts); ``add_figure`` takes a matplotlib Figure
(see :mod:`trackscope.report.plots`).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html as _html
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

TEMPLATE = "report.html.j2"
STYLESHEETS = ("studio.css", "report.css")


@lru_cache(maxsize=1)
def _template() -> Any:
    """The page template, from the package's ``templates`` folder (Jinja2, every value escaped unless marked)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("trackscope.report", "templates"),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template(TEMPLATE)


@lru_cache(maxsize=1)
def _css() -> str:
    """The page's style: ``studio.css`` (the look the studio shares) then ``report.css`` (the report's own rules),
    inlined so the file stays self-contained."""
    from importlib.resources import files

    folder = files("trackscope.report") / "templates"
    return "\n".join((folder / name).read_text(encoding="utf-8") for name in STYLESHEETS)


def _esc(text: Any) -> str:
    return _html.escape(str(text), quote=True)


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"
    slug, i = base, 2
    while slug in taken:
        slug, i = f"{base}-{i}", i + 1
    taken.add(slug)
    return slug


def _fmt(value: Any, float_format: str) -> tuple[str, bool]:
    """Cell text and whether it is numeric (right-aligned)."""
    import numbers

    if value is None:
        return "", True
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, numbers.Integral):
        return str(int(value)), True
    if isinstance(value, numbers.Real):
        v = float(value)
        return ("" if v != v else float_format.format(v)), True
    return _esc(value), False


class Report:
    """A self-contained HTML page built from blocks, in order.

    Parameters
    ----------
    title : str
        Page title and top heading.
    subtitle : str, optional
        A line under the title (e.g. what data the report is about).
    toc : bool
        Add a table of contents of the level-2 headings.
    """

    def __init__(self, title: str, *, subtitle: str | None = None, toc: bool = True) -> None:
        self.title = title
        self.subtitle = subtitle
        self.toc = toc
        self._blocks: list[str] = []
        self._sections: list[tuple[str, str]] = []
        self._slugs: set[str] = set()
        self.created = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    # -- blocks -------------------------------------------------------------------------------------------------
    def add_heading(self, text: str, level: int = 2) -> Report:
        level = min(max(int(level), 2), 4)
        slug = _slug(text, self._slugs)
        if level == 2:
            self._sections.append((slug, text))
        self._blocks.append(f'<h{level} id="{slug}">{_esc(text)}</h{level}>')
        return self

    def add_text(self, text: str, *, note: bool = False) -> Report:
        """Plain text (escaped); blank lines separate paragraphs. ``note=True`` highlights it."""
        cls = ' class="note"' if note else ""
        for para in re.split(r"\n\s*\n", str(text).strip()):
            if para.strip():
                self._blocks.append(f"<p{cls}>{_esc(para.strip())}</p>")
        return self

    def add_html(self, html: str) -> Report:
        """Raw HTML, inserted as is (the caller is responsible for escaping)."""
        self._blocks.append(str(html))
        return self

    def add_list(self, items: list[Any]) -> Report:
        self._blocks.append("<ul>" + "".join(f"<li>{_esc(i)}</li>" for i in items) + "</ul>")
        return self

    def add_table(
        self,
        data: Any,
        caption: str | None = None,
        *,
        index: bool = False,
        float_format: str = "{:.3f}",
        max_rows: int = 200,
    ) -> Report:
        """A table from a DataFrame, a dict of columns, a list of row dicts, or a ``{key: value}`` dict.

        A flat ``{key: scalar}`` dict becomes a two-column key/value table. Floats use ``float_format``;
        more than ``max_rows`` rows are cut with a note.
        """
        if _is_rows(data) and not index:  # row dicts: no pandas needed (analyze's report stays light)
            columns = list(dict.fromkeys(k for row in data for k in row))
            body = [[row.get(c) for c in columns] for row in data[:max_rows]]
            numeric_cols = [all(_numeric_cell(r[i], float_format) for r in body) for i in range(len(columns))]
            cut = len(data) - max_rows
        else:
            import pandas as pd

            if isinstance(data, pd.DataFrame):
                frame = data
            elif isinstance(data, dict) and data and all(not isinstance(v, list | tuple | dict) for v in data.values()):
                frame = pd.DataFrame({"": [str(k) for k in data], "value": list(data.values())})
            else:
                frame = pd.DataFrame(data)
            if index:
                frame = frame.reset_index()
            cut = len(frame) - max_rows
            shown = frame.head(max_rows)
            columns = [str(c) for c in shown.columns]
            numeric_cols = [shown[c].dtype.kind in "fiu" for c in shown.columns]
            body = [list(row) for row in shown.itertuples(index=False)]
        parts = ["<table>"]
        if caption:
            parts.append(f"<caption>{_esc(caption)}</caption>")
        parts.append("<thead><tr>")
        for col, numeric in zip(columns, numeric_cols, strict=True):
            parts.append(f'<th class="{"num" if numeric else "text"}">{_esc(col)}</th>')
        parts.append("</tr></thead><tbody>")
        for row in body:
            parts.append("<tr>")
            for value, numeric_col in zip(row, numeric_cols, strict=True):
                text, numeric = _fmt(value, float_format)
                parts.append(f'<td class="{"num" if numeric or numeric_col else "text"}">{text}</td>')
            parts.append("</tr>")
        parts.append("</tbody></table>")
        if cut > 0:
            parts.append(f'<p class="meta">… {cut} more rows not shown.</p>')
        self._blocks.append("".join(parts))
        return self

    def add_png(self, png: bytes, caption: str | None = None, *, alt: str | None = None) -> Report:
        """An image from PNG bytes, embedded as base64."""
        return self.add_image(png, caption, alt=alt)

    def add_image(self, data: bytes, caption: str | None = None, *, alt: str | None = None) -> Report:
        """An image from PNG, WebP or JPEG bytes (told apart by their magic bytes), embedded as base64."""
        mime = "image/png"
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            mime = "image/webp"
        elif data[:3] == b"\xff\xd8\xff":
            mime = "image/jpeg"
        b64 = base64.b64encode(data).decode("ascii")
        cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
        alt_text = _esc(alt or caption or "figure")
        self._blocks.append(f'<figure><img alt="{alt_text}" src="data:{mime};base64,{b64}">{cap}</figure>')
        return self

    def add_figure(self, fig: Any, caption: str | None = None, *, dpi: int | None = None) -> Report:
        """A matplotlib Figure, rendered to PNG and embedded (the figure is not kept)."""
        from trackscope.report.plots import figure_png

        return self.add_png(figure_png(fig, dpi=dpi), caption)

    # -- output -------------------------------------------------------------------------------------------------
    def to_html(self) -> str:
        """The page: the blocks in order inside the page template (``templates/report.html.j2``)."""
        from trackscope import __version__

        return _template().render(
            title=self.title,
            subtitle=self.subtitle,
            css=Markup(_css()),
            version=__version__,
            created=self.created,
            sections=self._sections if self.toc and len(self._sections) > 1 else [],
            blocks=[Markup(b) for b in self._blocks],
        )

    def write(self, path: str | Path) -> Path:
        """Write the page atomically (temp file beside it, then rename). Returns the path."""
        from trackscope._atomic import write_text

        return write_text(path, self.to_html())


def _is_rows(data: Any) -> bool:
    """A non-empty list of plain dicts (one per row)."""
    return isinstance(data, list) and bool(data) and all(isinstance(r, dict) for r in data)


_NUMBER_TEXT = re.compile(r"^[+\-−]?[\d.,:]+ ?%?$|^–$")


def _numeric_cell(value: Any, float_format: str) -> bool:
    """Right-aligned: numbers, missing values, and numbers already written as text ("+0.37", "55%", "2:24", "–")."""
    if isinstance(value, str):
        return bool(_NUMBER_TEXT.match(value.strip()))
    return _fmt(value, float_format)[1]
