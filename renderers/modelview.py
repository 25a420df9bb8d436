"""Model view: every layer x head of a grid as thumbnails on one shared colour scale.

:func:`model_view` is figure-level (small multiples): it returns a Figure.
Rows are layers, columns are heads; each thumbnail can carry a per-head score
(entropy, a head-type score...) so the eye finds the interesting heads fast.
The thumbnails are tiled into ONE image (coloured in numpy on the shared scale) on one
Axes, with the separating grid, the layer / head labels and the scores drawn over it:
72 heads cost one image, not 72 Axes, and 72 scores one text artist (:mod:`._modelview_tiles`).

Example
-------
>>> import numpy as np
>>> from multiattn import AttentionGrid, TokenAxis
>>> grid = AttentionGrid(np.full((2, 3, 4, 4), 0.25, np.float32), TokenAxis(list("abcd")))
>>> fig = model_view(grid, scores=np.ones((2, 3)), score_name="entropy")
>>> len(fig.axes), fig.axes[0].images[0].get_array().shape  # tiles + colorbar; 2 x 3 tiles of 4 x 4
(2, (8, 12, 4))
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid

from ._modelview_tiles import annotate_tiles, draw_tiles, label_tiles
from ._style import DPI, add_colorbar, color_scale
from .figure import plain_text
from .heatmap import block_reduce, dim_title

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import ArrayLike

__all__ = ["model_view"]

_THUMB_INCHES = 1.05


def _thumbnails(grid: AttentionGrid, max_size: int) -> tuple[np.ndarray, str]:
    """``(L, H, q, k)`` thumbnails, block-reduced to at most ``max_size`` per side, and a note."""
    values = grid.to_dense().values.astype(np.float64)
    n_q, n_k = values.shape[2:]
    q_block, k_block = int(np.ceil(n_q / max_size)), int(np.ceil(n_k / max_size))
    if q_block == 1 and k_block == 1:
        return values, ""
    reduced = np.stack([
        np.stack([block_reduce(head, q_block, k_block) for head in layer]) for layer in values
    ])
    note = (f"thumbnails downsampled {n_q}x{n_k} -> {reduced.shape[2]}x{reduced.shape[3]} "
            f"(blocks of {q_block}x{k_block}: queries mean, keys sum)")
    return reduced, note


def _title(grid: AttentionGrid, score_name: str | None, note: str, width_inches: float) -> str:
    """Suptitle lines (model, layout, score, downsampling), wrapped to the figure width."""
    model = grid.meta.get("model") or grid.meta.get("model_id")
    lines = [str(model)] if model else []
    lines.append("attention by layer (rows) and head (columns), query down, key across; "
                 "one colour scale for all heads")
    if score_name is not None:
        lines.append(f"corner number = {score_name or 'per-head score'}")
    if note:
        lines.append(note)
    chars = max(int(width_inches * 13), 30)
    return "\n".join(textwrap.fill(line, chars) for line in lines)


def _check_scores(scores: ArrayLike | None, shape: tuple[int, int]) -> np.ndarray | None:
    if scores is None:
        return None
    arr = np.asarray(scores, dtype=np.float64)
    if arr.shape != shape:
        raise MultiattnValueError(
            f"scores must have one value per head, shape (layers, heads) = {shape}, got {arr.shape}; "
            "e.g. multiattn.analysis.head_entropy(grid)"
        )
    return arr


@plain_text
def model_view(grid: AttentionGrid, scores: ArrayLike | None = None, score_name: str = "", *,
               cmap: str | None = None, limits: tuple[float, float] | None = None,
               max_size: int = 48) -> Figure:
    """Layer x head grid of attention thumbnails (figure-level: returns a Figure).

    Parameters
    ----------
    grid : AttentionGrid
        Attention ``(L, H, Q, K)`` (sparse grids are densified under the memory guard).
    scores : array (L, H), optional
        One number per head, printed in the thumbnail's corner (NaN prints as "n/a").
    score_name : str
        What ``scores`` are, stated in the title (e.g. ``"entropy (nats)"``).
    cmap : str, optional
        Colormap; default ``None`` picks viridis for non-negative weights and RdBu_r
        centred on 0 with symmetric limits for signed values.
    limits : (vmin, vmax), optional
        Shared colour limits; default robust (2nd-98th percentile over all heads).
    max_size : int
        Thumbnails longer than this many positions per side are block-reduced
        (queries averaged, keys summed); the title says so.

    Returns
    -------
    Figure
        One Axes holding the ``L * H`` thumbnails as one ``(L * Q, H * K, 4)`` RGBA image
        (thumbnail ``(l, h)`` spans data ``[h, h+1] x [l, l+1]``, y down; the layer / head labels
        at the centres and the scores in row-major order are one
        :class:`~._text_batch.TextBatch` each in ``ax.artists``) plus one shared colorbar.

    Raises
    ------
    ValueError
        Empty grid, ``scores`` not of shape ``(L, H)``, bad ``max_size``.

    Example
    -------
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> grid = AttentionGrid(np.full((6, 12, 5, 5), 0.2, np.float32), TokenAxis(list("abcde")))
    >>> fig = model_view(grid, np.zeros((6, 12)), "entropy")
    >>> rows, cols, scores = fig.axes[0].artists  # one TextBatch each: labels, scores
    >>> rows.strings[0], cols.strings[11], len(scores.strings)
    ('layer 0', 'head 11', 72)
    """
    if not isinstance(grid, AttentionGrid):
        raise MultiattnTypeError(f"model_view needs an AttentionGrid, got {type(grid).__name__}")
    if grid.n_layers == 0 or grid.n_heads == 0 or len(grid.query) == 0 or len(grid.key) == 0:
        raise MultiattnValueError(
            f"cannot draw an empty grid {grid.shape}: it has no layers, heads or positions")
    if isinstance(max_size, bool) or not isinstance(max_size, (int, np.integer)) or max_size < 2:
        raise MultiattnValueError(f"max_size must be an int >= 2, got {max_size!r}")
    score_grid = _check_scores(scores, (grid.n_layers, grid.n_heads))
    thumbs, note = _thumbnails(grid, max_size)
    scale = color_scale(thumbs, cmap=cmap, limits=limits)

    n_layers, n_heads = grid.n_layers, grid.n_heads
    width = n_heads * _THUMB_INCHES + 1.4
    title = _title(grid, score_name if score_grid is not None else None, note, width)
    height = max(n_layers * _THUMB_INCHES, 2.0) + 0.35 + 0.16 * title.count("\n")
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    fig.suptitle(title, fontsize=9, y=1 - 0.06 / height, va="top", parse_math=False)
    top = 1 - (0.45 + 0.16 * title.count("\n")) / height
    ax = fig.add_axes((0.55 / width, 0.1 / height, 1 - 1.4 / width, top - 0.1 / height))
    mappable = draw_tiles(ax, thumbs, scale)
    label_tiles(ax, [dim_title("layer", lab) for lab in grid.layers],
                [dim_title("head", lab) for lab in grid.heads])
    if score_grid is not None:
        annotate_tiles(ax, score_grid)
    rows_note = "rows sum to 1" if np.allclose(thumbs.sum(-1), 1.0, atol=1e-3) else "rows not normalised"
    label = "value" if scale.signed else "attention weight"
    notes = "; ".join(n for n in (rows_note, scale.centre_note) if n)
    colorbar = add_colorbar(mappable, ax, label, normalised=notes, scale=scale, fraction=0.03, pad=0.015)
    colorbar.ax.yaxis.label.set_fontsize(8 if n_layers >= 3 else 6.5)
    return fig
