"""Many short strings drawn by ONE artist: cell numbers, row / column labels of tiled panels.

A matplotlib ``Text`` costs about a millisecond to lay out and draw (font look-ups, property
copies, its own graphics context), so the 288 cell numbers of a per-head summary cost more
than the panels they sit on (0.30 s CPU). :class:`TextBatch` draws ``n`` strings at data positions
through the renderer's ``draw_text`` with one font, one graphics context and one measurement per
string: the same pixels as ``Text`` (same font, size, colour, alignment and line box) in about
half the time (~0.14 s for those 288; the rest is matplotlib rendering each glyph). Strings are
always drawn as plain text (never mathtext).

Example
-------
>>> import matplotlib.pyplot as plt
>>> ax = plt.figure().add_subplot()
>>> batch = ax.add_artist(TextBatch([(0, 0), (1, 0)], ["0.10", "n/a"], fontsize=7, colors=["k", "w"]))
>>> batch.strings, batch.positions.shape
(['0.10', 'n/a'], (2, 2))
>>> ax.figure.canvas.draw(); [round(b.width) > 0 for b in batch.boxes()]
[True, True]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.colors import to_rgba_array
from matplotlib.font_manager import FontProperties, findfont, get_font
from matplotlib.patches import BoxStyle
from matplotlib.path import Path
from matplotlib.transforms import Bbox, IdentityTransform

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase

__all__ = ["TextBatch", "edge_labels", "value_strings"]

_HA = {"left": 0.0, "center": 0.5, "right": 1.0}
_VA = {"bottom": 0.0, "center": 0.5, "top": 1.0}
#: side of a panel -> (ha, va, unit offset) of labels drawn outside that edge
_SIDES = {"left": ("right", "center", (-1, 0)), "top": ("center", "bottom", (0, 1)),
          "bottom": ("center", "top", (0, -1))}


class TextBatch(Artist):
    """Strings at data positions, aligned like ``Text`` (``ha`` / ``va`` on the text's box).

    Parameters
    ----------
    positions : sequence of (x, y)
        Anchor of each string in the artist's transform (data coordinates once added to an Axes).
    strings : sequence of str
        One string per position, drawn verbatim.
    fontsize : float
        Points.
    colors : colour or sequence of colours
        One colour for all, or one per string.
    ha, va : str
        ``"left" / "center" / "right"`` and ``"bottom" / "center" / "top"`` of each string's box
        (its width by the font's ascent + descent, as ``Text`` measures it).
    offset : (dx, dy)
        Shift of every string in points (e.g. labels a few points left of the panel edge).
    box : dict, optional
        ``{"facecolor": ..., "alpha": ..., "pad": ...}``: a rounded box behind each string,
        ``pad`` in fractions of the font size (as ``bbox={"boxstyle": "round,pad=..."}``).

    Examples
    --------
    >>> TextBatch([(0.5, 1.0)], ["layer 0"], fontsize=8, ha="right").strings
    ['layer 0']
    """

    def __init__(self, positions: Sequence[Sequence[float]] | np.ndarray, strings: Sequence[str], *,
                 fontsize: float, colors: Any = "black", ha: str = "center", va: str = "center",
                 offset: tuple[float, float] = (0.0, 0.0), box: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.positions = np.asarray(positions, dtype=float).reshape(-1, 2)
        self.strings = [str(s) for s in strings]
        rgba = to_rgba_array(colors)
        self.colors = np.broadcast_to(rgba, (len(self.strings), 4)) if len(rgba) == 1 else rgba
        if not len(self.positions) == len(self.strings) == len(self.colors):
            raise MultiattnValueError(f"{len(self.positions)} positions, {len(self.strings)} strings and "
                             f"{len(self.colors)} colours: give one of each per string")
        self.font = FontProperties(size=fontsize)
        self.align = (_HA[ha], _VA[va])
        self.offset = offset
        self.box = box

    def _font_extent(self, renderer: RendererBase) -> tuple[float, float]:
        """Ascent and descent (pixels) every line box has at least, from the font's tables as
        ``Text`` takes them (OS/2 typo metrics, else hhea), else measured on ``"lp"``."""
        font = get_font(findfont(self.font))
        pixels = renderer.points_to_pixels(self.font.get_size_in_points())
        for table_name, ascent, descent in (("OS/2", "sTypoAscender", "sTypoDescender"),
                                            ("hhea", "ascent", "descent")):
            table = font.get_sfnt_table(table_name)
            if table is not None:
                scale = pixels / font.get_sfnt_table("head")["unitsPerEm"]
                return table[ascent] * scale, -table[descent] * scale
        _, height, depth = renderer.get_text_width_height_descent("lp", self.font, ismath=False)
        return height - depth, depth

    def _layout(self, renderer: RendererBase) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lower-left corners ``(n, 2)`` and sizes ``(n, 2)`` of the strings' boxes and each
        string's descent ``(n,)`` (baseline above the box's bottom), display pixels."""
        min_ascent, min_descent = self._font_extent(renderer)
        metrics: dict[str, tuple[float, float, float]] = {}
        for text in self.strings:
            if text not in metrics:
                width, height, depth = renderer.get_text_width_height_descent(text, self.font, ismath=False)
                metrics[text] = (width, max(height - depth, min_ascent), max(depth, min_descent))
        wad = np.array([metrics[text] for text in self.strings]).reshape(-1, 3)
        sizes = np.column_stack([wad[:, 0], wad[:, 1] + wad[:, 2]])
        anchors = self.get_transform().transform(self.positions)
        anchors = anchors + renderer.points_to_pixels(np.asarray(self.offset, dtype=float))
        return anchors - sizes * np.asarray(self.align), sizes, wad[:, 2]

    def boxes(self, renderer: RendererBase | None = None) -> list[Bbox]:
        """Each string's box in display pixels, its background box (``box``) included."""
        renderer = renderer or self.figure._get_renderer()
        corners, sizes, _ = self._layout(renderer)
        pad = renderer.points_to_pixels(self.font.get_size_in_points()) * self.box["pad"] if self.box else 0.0
        return [Bbox.from_bounds(x - pad, y - pad, w + 2 * pad, h + 2 * pad)
                for (x, y), (w, h) in zip(corners, sizes)]

    def get_window_extent(self, renderer: RendererBase | None = None) -> Bbox:
        """Union of :meth:`boxes` (what tight-box measuring and the layout see)."""
        boxes = self.boxes(renderer)
        return Bbox.union(boxes) if boxes else Bbox.null()

    def _draw_boxes(self, renderer: RendererBase, corners: np.ndarray, sizes: np.ndarray) -> None:
        style = BoxStyle("round", pad=self.box["pad"])
        scale = renderer.points_to_pixels(self.font.get_size_in_points())
        path = Path.make_compound_path(*(style(x, y, w, h, scale) for (x, y), (w, h) in zip(corners, sizes)))
        gc = renderer.new_gc()
        gc.set_linewidth(0)
        gc.set_foreground((0, 0, 0, 0), isRGBA=True)
        face = to_rgba_array(self.box["facecolor"])[0]
        face[3] *= self.box.get("alpha", 1.0)
        renderer.draw_path(gc, path, IdentityTransform(), tuple(face))
        gc.restore()

    def draw(self, renderer: RendererBase) -> None:
        """Draw every string (and its box) with one graphics context."""
        if not self.get_visible() or not self.strings:
            return
        renderer.open_group("textgrid", self.get_gid())
        corners, sizes, descents = self._layout(renderer)
        if self.box:
            self._draw_boxes(renderer, corners, sizes)
        gc = renderer.new_gc()
        gc.set_alpha(self.get_alpha())
        height = renderer.get_canvas_width_height()[1]
        for (x, y), depth, text, color in zip(corners, descents, self.strings, self.colors):
            gc.set_foreground(tuple(color), isRGBA=True)
            baseline = y + depth
            renderer.draw_text(gc, x, height - baseline if renderer.flipy() else baseline, text,
                               self.font, 0.0, ismath=False)
        gc.restore()
        renderer.close_group("textgrid")
        self.stale = False


def value_strings(values: np.ndarray) -> list[str]:
    """``values`` in row-major order as two-decimal strings, ``"n/a"`` for NaN.

    Example
    -------
    >>> value_strings(np.array([[0.5, np.nan]]))
    ['0.50', 'n/a']
    """
    return ["n/a" if np.isnan(v) else f"{v:.2f}" for v in np.asarray(values, dtype=float).ravel()]


def edge_labels(ax: Axes, positions: Sequence[Sequence[float]], labels: Sequence[str], side: str, *,
                fontsize: float, pad: float, name: str) -> TextBatch:
    """Tick-like labels outside one edge of ``ax``: ``pad`` points out from ``positions`` (data).

    Unlike tick labels they cost one artist, not one ``Tick`` (two lines, two texts) each; they
    are measured by the layout and the tight box (``in_layout``) and never clipped.

    Example
    -------
    >>> import matplotlib.pyplot as plt
    >>> ax = plt.figure().add_subplot()
    >>> edge_labels(ax, [(0, 0.5)], ["layer 0"], "left", fontsize=8, pad=2, name="rows").get_label()
    'rows'
    """
    ha, va, (dx, dy) = _SIDES[side]
    artist = TextBatch(positions, labels, fontsize=fontsize, ha=ha, va=va, offset=(dx * pad, dy * pad))
    artist.set_label(name)
    artist.set_clip_on(False)
    ax.add_artist(artist)
    return artist
