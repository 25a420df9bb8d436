"""Tens of thousands of thin translucent edges, rasterized with OpenCV's antialiased lines.

Agg strokes every edge of a compound path and sorts the coverage cells of all of them per
scanline, so 10^5 long edges take about a second.  :class:`RasterEdges` keeps the vector
paths (PDF / SVG output, and a canvas without OpenCV, draw them as before) but on an Agg
canvas draws its thin paths (at most :data:`_MAX_RASTER_WIDTH` pixels at the canvas's DPI:
every bin of a large graph at the default 120 dpi) as one RGBA image made at the canvas's
resolution when the figure is drawn: each path (one strength bin) is stroked into a coverage
mask by ``cv2.polylines(LINE_AA)`` and composited over the previous bins with the path's colour
and alpha, as Agg fills one compound path (overlaps inside a bin do not darken twice).  Wider
paths (the strongest bins of a smaller graph) follow as Agg strokes, on top as before.
tests/test_graph_draw_raster.py compares the pixels with Agg's own strokes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.collections import PathCollection

#: Ink of a ``thickness=1`` ``cv2.LINE_AA`` line per unit length, in pixels: 1.24 (45 degrees) to 1.40
#: (along an axis) for a lone line; 1.15 gives Agg's ink on dense bins (overlaps blend as
#: ``1 - (1 - a)(1 - b)``), at the cost of ~20 % more ink than Agg on an isolated line.  A path of
#: width ``w`` pixels is drawn with coverage ``w / 1.15`` (at most 1).
_CV2_LINE_WIDTH = 1.15
_SUBPIXEL_BITS = 4


#: Widest stroke rasterized, in pixels: a ``thickness=1`` antialiased line spreads its ink over about
#: this width.  Wider bins (the strongest edges, or a high DPI) are left to Agg, drawn after (on top).
_MAX_RASTER_WIDTH = 1.5


class RasterEdges(PathCollection):
    """A PathCollection of stroked edge paths, weak to strong, whose thin paths an Agg canvas draws
    as one OpenCV-rasterized image (the wider ones as Agg strokes on top)."""

    def draw(self, renderer: Any) -> None:
        if not self.get_visible():
            return
        n_thin = _thin_paths(self, renderer) if isinstance(renderer, RendererAgg) else 0
        placed = _rasterize(self, renderer, n_thin) if n_thin else None
        if placed is None:
            super().draw(renderer)
            return
        image, x0, y0 = placed
        renderer.open_group("edges", gid=self.get_gid())
        gc = renderer.new_gc()
        self._set_gc_clip(gc)
        renderer.draw_image(gc, x0, y0, image)
        gc.restore()
        if n_thin < len(self.get_paths()):
            _vector_part(self, n_thin).draw(renderer)
        renderer.close_group("edges")
        self.stale = False


def _thin_paths(edges: RasterEdges, renderer: RendererAgg) -> int:
    """How many leading paths are at most :data:`_MAX_RASTER_WIDTH` pixels wide."""
    widths = np.broadcast_to(edges.get_linewidth(), len(edges.get_paths()))
    wide = np.flatnonzero(np.asarray(widths) * renderer.points_to_pixels(1.0) > _MAX_RASTER_WIDTH)
    return int(wide[0]) if len(wide) else len(widths)


def _vector_part(edges: RasterEdges, start: int) -> PathCollection:
    """The paths ``start:`` as a plain PathCollection with the same style, transform and clip."""
    part = PathCollection(edges.get_paths()[start:])
    part.update_from(edges)
    part.set_figure(edges.figure)
    part.set_array(None)
    n = len(edges.get_paths())
    part.set_edgecolor(np.broadcast_to(edges.get_edgecolor(), (n, 4))[start:])
    part.set_linewidth(np.broadcast_to(edges.get_linewidth(), n)[start:])
    part.set_facecolor("none")
    return part


def _rasterize(edges: RasterEdges, renderer: RendererAgg, n_paths: int) -> tuple[np.ndarray, int, int] | None:
    """``(RGBA uint8 image, x0, y0)`` of the first ``n_paths`` paths over the Axes box in display
    pixels, or None (no OpenCV, nothing to draw)."""
    try:
        import cv2
    except ImportError:  # pragma: no cover - cv2 ships with the graph extra
        return None
    box = edges.axes.bbox if edges.axes is not None else edges.get_figure().bbox
    x0, y0 = max(int(np.floor(box.x0)), 0), max(int(np.floor(box.y0)), 0)
    x1, y1 = min(int(np.ceil(box.x1)), int(renderer.width)), min(int(np.ceil(box.y1)), int(renderer.height))
    if x1 <= x0 or y1 <= y0 or not edges.get_paths():
        return None
    shape = (y1 - y0, x1 - x0)
    canvas = np.zeros((shape[0] * shape[1], 4), np.float32)  # premultiplied RGB and alpha
    mask = np.empty(shape, np.uint8)
    colours = edges.get_edgecolor()
    widths = edges.get_linewidth()
    transform = edges.get_transform()
    for index, path in enumerate(edges.get_paths()[:n_paths]):
        colour = np.array(colours[index % len(colours)], np.float32)
        width_px = renderer.points_to_pixels(float(widths[index % len(widths)]))
        xy = transform.transform(path.vertices)
        # cv2 pixel centres sit on integers, Agg's on half-integers; image rows run down from y1
        points = np.column_stack([xy[:, 0] - x0 - 0.5, y1 - xy[:, 1] - 0.5])
        points = np.rint(points.reshape(-1, 2, 2) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
        mask.fill(0)
        cv2.polylines(mask, points, False, 255, 1, cv2.LINE_AA, _SUBPIXEL_BITS)
        covered = np.flatnonzero(mask)  # composite only where this bin has ink
        cover = mask.reshape(-1)[covered] * np.float32(colour[3] * min(width_px / _CV2_LINE_WIDTH, 1.0) / 255)
        colour[3] = 1.0
        canvas[covered] = canvas[covered] * (1 - cover)[:, None] + cover[:, None] * colour
    alpha = canvas[:, 3:]
    rgb = np.divide(canvas[:, :3], alpha, out=np.zeros_like(canvas[:, :3]), where=alpha > 0)
    image = np.hstack([rgb, alpha]).reshape(shape + (4,))[::-1]  # Agg's draw_image takes the bottom row first
    return np.ascontiguousarray(np.rint(image * 255.0).astype(np.uint8)), x0, y0
