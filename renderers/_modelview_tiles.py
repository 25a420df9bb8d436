"""Small multiples as ONE image: tile ``(rows, cols, h, w)`` panels, colour them in numpy, draw once.

Drawing ``L x H`` thumbnails as one ``imshow`` on one Axes (with the separating grid, the row /
column labels and the corner numbers drawn over it as artists) costs one image resample instead
of ``L * H`` Axes, each with its own spines, ticks and layout pass; the labels and the numbers
are one :class:`~._text_batch.TextBatch` each instead of one ``Text`` (and box patch) per string.

Example
-------
>>> import numpy as np
>>> tile(np.arange(8.0).reshape(2, 2, 1, 2)).tolist()
[[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize

from ._style import ColorScale
from ._text_batch import TextBatch, edge_labels, value_strings

__all__ = ["annotate_tiles", "draw_tiles", "label_tiles", "tile", "tile_colors"]

GRID_COLOR = "white"
GRID_POINTS = 2.0
_LABEL_PAD = 2.0  # points between the tiles and their labels


def tile(panels: np.ndarray) -> np.ndarray:
    """``(R, C, h, w)`` panels -> one ``(R * h, C * w)`` array, panel ``(r, c)`` at rows ``r*h:(r+1)*h``.

    Example
    -------
    >>> tile(np.zeros((6, 12, 5, 7))).shape
    (30, 84)
    """
    rows, cols, height, width = panels.shape
    return panels.transpose(0, 2, 1, 3).reshape(rows * height, cols * width)


def tile_colors(panels: np.ndarray, scale: ColorScale) -> tuple[np.ndarray, ScalarMappable]:
    """The tiled panels as ``uint8`` RGBA on ``scale``, and a mappable for the colorbar.

    Example
    -------
    >>> rgba, mappable = tile_colors(np.zeros((2, 3, 4, 4)), ColorScale("viridis", 0.0, 1.0, False))
    >>> rgba.shape, rgba.dtype.name, mappable.norm.vmax
    ((8, 12, 4), 'uint8', 1.0)
    """
    mappable = ScalarMappable(Normalize(scale.vmin, scale.vmax), mpl.colormaps[scale.cmap])
    return mappable.to_rgba(tile(panels), bytes=True), mappable


def draw_tiles(ax: Axes, panels: np.ndarray, scale: ColorScale) -> ScalarMappable:
    """Draw ``(R, C, h, w)`` panels on ``ax`` as one image; panel ``(r, c)`` spans ``[c, c+1] x [r, r+1]``.

    White lines separate the panels; the y axis runs down (row 0 on top). Returns the mappable
    to pass to a colorbar.

    Example
    -------
    >>> import matplotlib.pyplot as plt
    >>> ax = plt.figure().add_subplot()
    >>> _ = draw_tiles(ax, np.zeros((2, 3, 4, 4)), ColorScale("viridis", 0.0, 1.0, False))
    >>> ax.images[0].get_array().shape, ax.get_xlim() == (0, 3), ax.get_ylim() == (2, 0)
    ((8, 12, 4), True, True)
    """
    rows, cols = panels.shape[:2]
    rgba, mappable = tile_colors(panels, scale)
    ax.imshow(rgba, extent=(0, cols, rows, 0), aspect="auto", interpolation="nearest")
    segments = [((c, 0), (c, rows)) for c in range(1, cols)] + [((0, r), (cols, r)) for r in range(1, rows)]
    ax.add_collection(LineCollection(segments, colors=GRID_COLOR, linewidths=GRID_POINTS))
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return mappable


def label_tiles(ax: Axes, row_labels: Sequence[str], col_labels: Sequence[str],
                fontsize: float = 8) -> tuple[TextBatch, TextBatch]:
    """Row labels on the left and column labels on top, centred on each panel (no ticks).

    Each set is one :class:`~._text_batch.TextBatch`, 2 points from the edge like tick labels of
    zero-length ticks, and measured by the tight box like them.

    Example
    -------
    >>> import matplotlib.pyplot as plt
    >>> ax = plt.figure().add_subplot()
    >>> rows, cols = label_tiles(ax, ["layer 0", "layer 1"], ["head 0"])
    >>> rows.strings, cols.positions.tolist()
    (['layer 0', 'layer 1'], [[0.5, 0.0]])
    """
    ax.set_xticks([])
    ax.set_yticks([])
    rows = edge_labels(ax, [(0, r + 0.5) for r in range(len(row_labels))], row_labels, "left",
                       fontsize=fontsize, pad=_LABEL_PAD, name="row labels")
    cols = edge_labels(ax, [(c + 0.5, 0) for c in range(len(col_labels))], col_labels, "top",
                       fontsize=fontsize, pad=_LABEL_PAD, name="column labels")
    return rows, cols


def annotate_tiles(ax: Axes, values: np.ndarray, fontsize: float = 6.5) -> TextBatch:
    """One number (``"n/a"`` for NaN) in the top-right corner of each panel, on a white box.

    All numbers are one :class:`~._text_batch.TextBatch` artist (one draw, not one ``Text`` and box
    patch per panel), in row-major order. They sit inside their panel, so they are left out of
    layout and tight-box measuring (``in_layout=False``).

    Example
    -------
    >>> import matplotlib.pyplot as plt
    >>> ax = plt.figure().add_subplot()
    >>> annotate_tiles(ax, np.array([[0.5, np.nan]])).strings
    ['0.50', 'n/a']
    """
    rows, cols = np.indices(values.shape)
    numbers = TextBatch(np.column_stack([cols.ravel() + 0.97, rows.ravel() + 0.04]), value_strings(values),
                       fontsize=fontsize, ha="right", va="top",
                       box={"facecolor": "white", "alpha": 0.8, "pad": 0.15})
    numbers.set_label("scores")
    numbers.set_in_layout(False)
    ax.add_artist(numbers)
    return numbers
