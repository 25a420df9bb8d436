"""Compact notebook display of grids, grid sets and maps: a summary table and a small PNG thumbnail.

Jupyter calls ``_repr_html_`` / ``_repr_png_`` on every result left at the end of a cell, so they
must be cheap and small: a few KB (at most :data:`MAX_BYTES`), numpy and PIL only (no matplotlib,
no renderer import).  The interactive view is one explicit call away and the summary says which:
``IPython.display.HTML(multiattn.renderers.html.repr_html(grid))`` (or ``renderers.html.save``).

The thumbnail of a dense grid is one panel per layer (up to :data:`MAX_PANELS`, heads averaged),
each the ``query x key`` matrix box-downsampled to at most :data:`PANEL` pixels and scaled to its
own 99th percentile (white = 0, dark = high); a sparse (graph) grid gets the summary only.

Examples
--------
>>> from multiattn import AttentionGrid, TokenAxis
>>> grid = AttentionGrid(np.full((2, 1, 3, 3), 1 / 3), TokenAxis(list("abc")))
>>> html = grid_html(grid)
>>> "2 layers" in html and "<img" in html and len(html) < MAX_BYTES
True
"""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ._attention_map import AttentionMap
    from .grid import AttentionGrid

#: Upper bound of one repr's size in bytes (the issue's budget: a summary and a thumbnail).
MAX_BYTES = 100_000
#: Side of one thumbnail panel in pixels, and the most panels (layers) drawn.
PANEL = 64
MAX_PANELS = 12
_HINT = ("interactive view: <code>IPython.display.HTML(multiattn.renderers.html.repr_html(x))</code> "
         "(or <code>renderers.html.save(x, path)</code>)")


def _palette() -> list[int]:
    """256-entry RGB palette, white (0) -> dark blue (255): a sequential ramp."""
    unit = np.linspace(0.0, 1.0, 256)[:, None]
    dark = np.array([25.0, 35.0, 110.0])
    return np.round(255.0 + unit * (dark - 255.0)).astype(np.uint8).ravel().tolist()


def _panel(matrix: np.ndarray) -> np.ndarray:
    """A 2-D array as ``<= PANEL`` px uint8 levels, box-downsampled, scaled to its 99th percentile."""
    from PIL import Image

    values = np.abs(np.nan_to_num(np.asarray(matrix, dtype=np.float32)))
    top = float(np.percentile(values, 99)) or float(values.max()) or 1.0
    img = Image.fromarray(np.clip(values / top, 0, 1).astype(np.float32), mode="F")
    scale = PANEL / max(img.size)
    size = (max(1, round(img.size[0] * scale)), max(1, round(img.size[1] * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.NEAREST
    return np.round(np.asarray(img.resize(size, resample)) * 255).astype(np.uint8)


def _png(panels: list[np.ndarray]) -> bytes:
    """Panels side by side (2 px white gaps) as a palette PNG (one byte per pixel)."""
    from PIL import Image

    height = max(p.shape[0] for p in panels)
    width = sum(p.shape[1] for p in panels) + 2 * (len(panels) - 1)
    canvas = np.zeros((height, width), np.uint8)
    x = 0
    for p in panels:
        canvas[: p.shape[0], x : x + p.shape[1]] = p
        x += p.shape[1] + 2
    image = Image.frombytes("P", (width, height), np.ascontiguousarray(canvas).tobytes())
    image.putpalette(_palette())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def grid_png(grid: AttentionGrid) -> bytes | None:
    """Thumbnail PNG of a dense grid (one panel per layer, heads averaged); None for sparse grids."""
    if grid.is_sparse:
        return None
    layers = np.linspace(0, grid.n_layers - 1, min(grid.n_layers, MAX_PANELS)).round().astype(int)
    return _png([_panel(grid.values[i].mean(axis=0)) for i in np.unique(layers)])


def map_png(amap: AttentionMap) -> bytes:
    """Thumbnail PNG of a map: the patch image for a PatchAxis, else a one-row strip."""
    values = amap.to_image() if hasattr(amap.axis, "to_image") else amap.values[None, :]
    return _png([_panel(values)])


def _img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" '
            'style="image-rendering:pixelated">')


def _axis_text(axis: Any) -> str:
    labels = list(getattr(axis, "labels", ()))
    shown = ", ".join(str(label) for label in labels[:6]) + (", …" if len(labels) > 6 else "")
    return f"{type(axis).__name__}[{len(axis)}]" + (f": {shown}" if shown else "")


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                    f"<td style='text-align:left'>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def _grid_rows(grid: AttentionGrid) -> list[tuple[str, str]]:
    store = (f"sparse, {grid.values.shape[2]} edges" if grid.is_sparse
             else f"dense float32, {grid.values.nbytes / 2**20:.1f} MB")
    rows = [("kind", grid.kind),
            ("layers", f"{grid.n_layers} layers ({grid.layers[0]} … {grid.layers[-1]})"),
            ("heads", str(grid.n_heads)), ("query", _axis_text(grid.query))]
    if grid.key is not grid.query:
        rows.append(("key", _axis_text(grid.key)))
    rows.append(("values", store))
    if grid.meta.get("model"):
        rows.append(("model", str(grid.meta["model"])))
    return rows


def grid_html(grid: AttentionGrid) -> str:
    """Summary table + thumbnail of one grid (a few KB)."""
    caption = ("" if grid.is_sparse else
               "<div style='font-size:smaller'>head mean per layer, bottom first</div>")
    return (f"<div><b>AttentionGrid</b>{_table(_grid_rows(grid))}{_img(grid_png(grid), 'grid thumbnail')}"
            f"{caption}<div style='font-size:smaller'>{_HINT}</div></div>")


def gridset_html(grids: dict) -> str:
    """One summary line and a thumbnail per grid of a GridSet, within :data:`MAX_BYTES`."""
    parts, size = [], 0
    for name, grid in grids.items():
        line = (f"<tr><th style='text-align:left;vertical-align:top'>{html.escape(str(name))}</th>"
                f"<td style='text-align:left'>{html.escape(repr(grid))}<br>"
                f"{_img(grid_png(grid), str(name))}</td></tr>")
        if size + len(line) > MAX_BYTES - 2_000:
            parts.append(f"<tr><td colspan=2>… {len(grids) - len(parts)} more grids</td></tr>")
            break
        parts.append(line)
        size += len(line)
    return f"<div><b>GridSet</b> ({len(grids)} grids)<table>{''.join(parts)}</table>" \
           f"<div style='font-size:smaller'>{_HINT}</div></div>"


def map_html(amap: AttentionMap) -> str:
    """Summary (axis, range, top positions) + thumbnail of a map."""
    top = ", ".join(f"{label} {value:.3g}" for _, label, value in amap.top(3))
    rows = [("axis", _axis_text(amap.axis)),
            ("values", f"min {float(amap.values.min()):.3g}, max {float(amap.values.max()):.3g}, "
                       f"sum {float(amap.values.sum()):.3g}"),
            ("top", top)]
    rows += [(str(k), str(v)) for k, v in amap.meta.items() if isinstance(v, (str, int, float))][:4]
    return f"<div><b>AttentionMap</b>{_table(rows)}{_img(map_png(amap), 'map thumbnail')}</div>"
