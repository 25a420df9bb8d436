"""Lines view: one head as lines between two token columns (a static BertViz head view).

Queries sit in the left column, keys in the right one; a line joins a query to
a key with opacity and width proportional to the attention weight.  Special
tokens are greyed; one query can be highlighted.  Axes-level: ``ax=None`` in,
Axes out.

Example
-------
>>> import numpy as np
>>> from multiattn import AttentionGrid, TokenAxis
>>> grid = AttentionGrid(np.eye(3, dtype=np.float32)[None, None], TokenAxis(["[CLS]", "hi", "[SEP]"]))
>>> ax = lines_view(grid)
>>> len(ax.collections[0].get_segments())   # three lines of weight 1
3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from multiattn._index import resolve_index
from multiattn.errors import MultiattnValueError
from multiattn.grid import AttentionGrid

from ._style import get_axes
from .figure import plain_text
from .heatmap import HeadMatrix, block_labels, block_reduce, dim_title, head_matrix

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.typing import ColorType

__all__ = ["lines_view"]

_SPECIAL_COLOR = "0.55"
_MAX_WIDTH = 3.5
_MIN_WIDTH = 0.4
_FADED = 0.12
_LEGEND_WEIGHTS = (0.1, 0.5, 1.0)
_X_QUERY, _X_KEY, _GAP = 0.0, 1.0, 0.03


def _line_style(weights: np.ndarray, color: ColorType,
                fade: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """RGBA colours (opacity = weight, optionally faded) and widths for lines of ``weights``."""
    rgba = np.tile(to_rgba(color), (len(weights), 1))
    alpha = np.clip(weights, 0.0, 1.0)
    rgba[:, 3] = alpha if fade is None else alpha * fade
    return rgba, _MIN_WIDTH + (_MAX_WIDTH - _MIN_WIDTH) * alpha


@dataclass(frozen=True)
class _Columns:
    """What the two columns show: weights, labels, special flags, highlighted row, block note."""

    weights: np.ndarray
    q_labels: Sequence[str]
    k_labels: Sequence[str]
    q_special: np.ndarray
    k_special: np.ndarray
    focus: int | None
    note: str


def _columns(matrix: HeadMatrix, max_tokens: int, focus: int | None) -> _Columns:
    """Token columns, or blocks of positions when a side is longer than ``max_tokens``."""
    block = int(np.ceil(max(matrix.values.shape) / max_tokens))
    if block == 1:
        return _Columns(matrix.values, matrix.query.labels, matrix.key.labels,
                        matrix.query.special_mask, matrix.key.special_mask, focus, "")
    q_labels, k_labels = block_labels(matrix.query, block), block_labels(matrix.key, block)
    note = (f"\n{max(matrix.values.shape)} positions in blocks of {block} (queries mean, keys sum); "
            "label = first position of a block")
    return _Columns(block_reduce(matrix.values, block, block), q_labels, k_labels,
                    np.zeros(len(q_labels), bool), np.zeros(len(k_labels), bool),
                    None if focus is None else focus // block, note)


def _label_column(ax: Axes, labels: tuple[str, ...], special: np.ndarray, x: float, ha: str,
                  fontsize: float, bold: int | None = None) -> None:
    for i, (text, is_special) in enumerate(zip(labels, special)):
        ax.text(x, -i, text, ha=ha, va="center", fontsize=fontsize, parse_math=False,
                color=_SPECIAL_COLOR if is_special else "black",
                fontweight="bold" if i == bold else "normal",
                bbox={"fc": "#ffe9a8", "ec": "none", "pad": 1.0} if i == bold else None)


@plain_text
def lines_view(grid: AttentionGrid, layer: int | str = 0, head: int | str = 0, *, ax: Axes | None = None,
               min_weight: float = 0.02, query: int | str | None = None, max_tokens: int = 120,
               color: ColorType = "tab:blue", highlight_color: ColorType = "tab:orange") -> Axes:
    """Draw one head as weighted lines from query tokens (left) to key tokens (right).

    Parameters
    ----------
    grid : AttentionGrid
        Attention weights (non-negative; rows normally sum to 1).
    layer : int or str
        Layer index or label.
    head : int, str or "mean"
        Head index or label, or ``"mean"`` over heads.
    ax : Axes, optional
        Where to draw; default a new figure whose height grows with the tokens.
    min_weight : float
        Lines below this weight are not drawn (the title states the threshold).
    query : int or str, optional
        Highlight this query (index or label): its lines in ``highlight_color``,
        all other lines faded.
    max_tokens : int
        Longer inputs are drawn in blocks of consecutive positions (queries
        averaged, keys summed, so rows still sum to 1), at most ``max_tokens``
        per column; the title says so.
    color, highlight_color : matplotlib colour
        Line colours.

    Returns
    -------
    Axes
        The Axes drawn on; ``ax.collections[0]`` holds the lines.

    Raises
    ------
    ValueError
        Empty grid, negative weights, ``min_weight`` outside [0, 1), ``max_tokens`` < 2.
    multiattn.errors.DimensionIndexError
        Layer/head/query out of range or unknown label (an ``IndexError`` and ``KeyError``).

    Example
    -------
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> weights = np.array([[[[1.0, 0.0], [0.5, 0.5]]]], dtype=np.float32)
    >>> ax = lines_view(AttentionGrid(weights, TokenAxis(["a", "b"])), query="b")
    >>> [round(float(w), 2) for w in ax.collections[0].get_linewidths()]   # width grows with weight
    [3.5, 1.95, 1.95]
    """
    if not 0.0 <= float(min_weight) < 1.0:
        raise MultiattnValueError(f"min_weight must be in [0, 1), got {min_weight}")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, (int, np.integer)) or max_tokens < 2:
        raise MultiattnValueError(f"max_tokens must be an int >= 2, got {max_tokens!r}")
    matrix = head_matrix(grid, layer, head)
    weights = matrix.values
    if (weights < 0).any():
        raise MultiattnValueError(
            "lines_view draws attention weights, which are non-negative; these values have "
            f"negatives (min {weights.min():.3g}), e.g. relevance or differences: use heatmap() instead"
        )
    focus = None if query is None else resolve_index(query, matrix.query.labels, "query")
    cols = _columns(matrix, max_tokens, focus)
    weights, q_labels, k_labels, focus = cols.weights, cols.q_labels, cols.k_labels, cols.focus

    q_idx, k_idx = np.nonzero(weights >= min_weight)
    segments = np.stack([
        np.column_stack([np.full(len(q_idx), _X_QUERY + _GAP), -q_idx]),
        np.column_stack([np.full(len(k_idx), _X_KEY - _GAP), -k_idx]),
    ], axis=1).astype(np.float64)
    drawn = weights[q_idx, k_idx]
    if focus is None:
        colors, widths = _line_style(drawn, color)
    else:
        mine = q_idx == focus
        colors, widths = _line_style(drawn, color, fade=np.where(mine, 1.0, _FADED))
        colors[mine, :3] = to_rgba(highlight_color)[:3]
        order = np.argsort(mine, kind="stable")  # highlighted lines on top
        segments, colors, widths = segments[order], colors[order], widths[order]

    n_rows = max(len(q_labels), len(k_labels))
    _, ax = get_axes(ax, figsize=(5.5, float(np.clip(0.2 * n_rows + 1.6, 3.5, 40.0))))
    ax.add_collection(LineCollection(segments, colors=colors, linewidths=widths, capstyle="round"))
    fig_h = ax.get_figure().get_size_inches()[1]
    fontsize = float(np.clip(0.7 * ax.get_position().height * fig_h * 72.0 / n_rows, 3.0, 10.0))
    _label_column(ax, q_labels, cols.q_special, _X_QUERY, "right", fontsize, bold=focus)
    _label_column(ax, k_labels, cols.k_special, _X_KEY, "left", fontsize)
    ax.text(_X_QUERY, 1.0, "query", ha="right", va="bottom", fontsize=9, fontweight="bold")
    ax.text(_X_KEY, 1.0, "key", ha="left", va="bottom", fontsize=9, fontweight="bold")
    ax.set_xlim(-0.55, 1.55)
    ax.set_ylim(-n_rows, 1.8)
    ax.set_axis_off()

    handles = [Line2D([], [], color=c, linewidth=w, label=f"{v:g}")
               for v, c, w in zip(_LEGEND_WEIGHTS, *_line_style(np.array(_LEGEND_WEIGHTS), color))]
    ax.legend(handles=handles, title="attention weight", loc="upper center", bbox_to_anchor=(0.5, 0.0),
              ncol=len(handles), fontsize=8, title_fontsize=8, frameon=False)
    focus_note = f"; query '{q_labels[focus]}' highlighted" if focus is not None else ""
    ax.set_title(f"{dim_title('layer', matrix.layer)}, {dim_title('head', matrix.head)} "
                 f"({matrix.normalised})\n"
                 f"line opacity and width = weight; weights < {min_weight:g} hidden{focus_note}{cols.note}",
                 fontsize=9, pad=10, parse_math=False)
    return ax
