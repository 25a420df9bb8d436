"""Heatmap of one attention head: queries on y, keys on x, labels from the grid's axes.

:func:`heatmap` is Axes-level (``ax=None`` in, Axes out).  A private
:class:`_HeatMapper` resolves the matrix, labels and colour scale first and
then draws, like seaborn's ``matrix.py``.  Inputs longer than ``max_labels``
are block-averaged to a readable size, and the title says so.

Example
-------
>>> import numpy as np
>>> from multiattn import AttentionGrid, TokenAxis
>>> weights = np.full((1, 2, 3, 3), 1 / 3, dtype=np.float32)
>>> grid = AttentionGrid(weights, TokenAxis(["[CLS]", "hi", "[SEP]"], [1, 0, 1]))
>>> ax = heatmap(grid, layer=0, head="mean")
>>> [t.get_text() for t in ax.get_xticklabels()]
['[CLS]', 'hi', '[SEP]']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes

from multiattn._index import resolve_index
from multiattn.axes import Axis, TokenAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid, AttentionMap

from ._style import ColorScale, add_colorbar, color_scale, get_axes
from .figure import plain_text

__all__ = ["heatmap"]

_SPECIAL_COLOR = "0.55"
_ROW_SUM_TOL = 1e-3
_MAX_TICKS_DOWNSAMPLED = 30


@dataclass(frozen=True)
class HeadMatrix:
    """One head's ``(Q, K)`` weights with the labels needed to draw them.

    Attributes
    ----------
    values : ndarray (Q, K)
        Attention weights (float64).
    query, key : Axis
        Axes of the rows and columns.
    layer, head : str
        Display labels of the chosen layer and head (``"mean(0..11)"`` for a head mean).
    normalised : str
        What the rows are, for colorbar labels: ``"rows sum to 1"`` or ``"rows not normalised"``.
    """

    values: np.ndarray
    query: Axis
    key: Axis
    layer: str
    head: str
    normalised: str


def dim_title(dim: str, label: str) -> str:
    """``"layer 3"`` for label ``"3"``, but ``"layer.3"`` / ``"layer 3"`` labels stay as they are.

    Example
    -------
    >>> dim_title("layer", "3"), dim_title("layer", "layer.3"), dim_title("head", "mean(0..11)")
    ('layer 3', 'layer.3', 'head mean(0..11)')
    """
    return label if label.lower().startswith(dim) else f"{dim} {label}"


def _rows_statement(values: np.ndarray) -> str:
    sums = values.sum(axis=-1)
    return "rows sum to 1" if np.allclose(sums, 1.0, atol=_ROW_SUM_TOL) else "rows not normalised"


def head_matrix(grid: AttentionGrid, layer: int | str = 0, head: int | str = 0) -> HeadMatrix:
    """Dense ``(Q, K)`` matrix of one layer and head (or ``head="mean"``) with its labels.

    Parameters
    ----------
    grid : AttentionGrid
        Dense or sparse grid (sparse grids are densified under the memory guard).
    layer : int or str
        Layer index (negative counts from the end) or label.
    head : int, str or "mean"
        Head index or label; ``"mean"`` averages all heads of the layer.

    Raises
    ------
    ValueError
        Empty grid.
    multiattn.errors.DimensionIndexError
        Layer/head out of range or unknown label (an ``IndexError`` and ``KeyError``).

    Example
    -------
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> grid = AttentionGrid(np.full((2, 4, 3, 3), 1 / 3, np.float32), TokenAxis(list("abc")))
    >>> m = head_matrix(grid, layer=-1, head="mean")
    >>> m.values.shape, m.layer, m.head, m.normalised
    ((3, 3), '1', 'mean(0..3)', 'rows sum to 1')
    """
    if not isinstance(grid, AttentionGrid):
        raise MultiattnTypeError(f"expected an AttentionGrid, got {type(grid).__name__}")
    if grid.n_layers == 0 or grid.n_heads == 0 or len(grid.query) == 0 or len(grid.key) == 0:
        raise MultiattnValueError(
            f"cannot draw an empty grid {grid.shape}: it has no layers, heads or positions")
    lay = resolve_index(layer, grid.layers, "layer")
    if isinstance(head, str) and head == "mean":
        picked = grid.select(layer=lay).reduce("mean", over="head")
    else:
        picked = grid.select(layer=lay, head=resolve_index(head, grid.heads, "head", also=("mean",)))
    values = picked.to_dense().values[0, 0].astype(np.float64)
    return HeadMatrix(values, grid.query, grid.key, picked.layers[0], picked.heads[0],
                      _rows_statement(values))


def _block_starts(n: int, block: int) -> np.ndarray:
    return np.arange(0, n, block)


def block_reduce(values: np.ndarray, query_block: int, key_block: int) -> np.ndarray:
    """Downsample a ``(Q, K)`` matrix: mean over blocks of queries, sum over blocks of keys.

    Summing keys and averaging queries keeps rows that sum to one summing to one,
    so a block value is "the share of attention a typical query of this block
    gives to this block of keys".  The last block may be shorter.

    Example
    -------
    >>> block_reduce(np.full((4, 4), 0.25), 2, 2)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    if query_block < 1 or key_block < 1:
        raise MultiattnValueError(f"block sizes must be >= 1, got {query_block}, {key_block}")
    q_starts = _block_starts(values.shape[0], query_block)
    k_starts = _block_starts(values.shape[1], key_block)
    summed = np.add.reduceat(np.add.reduceat(values, q_starts, axis=0), k_starts, axis=1)
    q_counts = np.diff(np.append(q_starts, values.shape[0]))
    return summed / q_counts[:, None]


@dataclass(frozen=True)
class _Ticks:
    positions: np.ndarray
    labels: list[str]
    special: list[bool]


def block_labels(axis: Axis, block: int) -> list[str]:
    """One label per block of ``block`` consecutive positions: the block's first position.

    Token blocks read ``"<index> <token>"`` (the token alone does not say where it
    is); positional labels (``r0c1``, ``0.35s``) are kept as they are.

    Example
    -------
    >>> block_labels(TokenAxis(list("abcde")), 2)
    ['0 a', '2 c', '4 e']
    """
    labels = axis.labels
    starts = _block_starts(len(axis), block)
    if isinstance(axis, TokenAxis):
        return [f"{i} {labels[i]}" for i in starts]
    return [labels[i] for i in starts]


def _axis_ticks(axis: Axis, block: int) -> _Ticks:
    if block == 1:
        return _Ticks(np.arange(len(axis)), list(axis.labels), axis.special_mask.tolist())
    names = block_labels(axis, block)
    shown = np.arange(0, len(names), int(np.ceil(len(names) / _MAX_TICKS_DOWNSAMPLED)))
    return _Ticks(shown, [names[i] for i in shown], [False] * len(shown))


def _axis_name(axis: Axis, role: str) -> str:
    kind = "token" if isinstance(axis, TokenAxis) else axis.kind
    return f"{role} ({kind})"


class _HeatMapper:
    """Resolve matrix, labels, downsampling and colour scale, then draw on an Axes."""

    def __init__(self, data: AttentionGrid | AttentionMap, layer: int | str, head: int | str,
                 max_labels: int, cmap: str | None, limits: tuple[float, float] | None) -> None:
        if isinstance(max_labels, bool) or not isinstance(max_labels, (int, np.integer)) or max_labels < 2:
            raise MultiattnValueError(f"max_labels must be an int >= 2, got {max_labels!r}")
        if isinstance(data, AttentionMap):
            self._from_map(data)
        elif isinstance(data, AttentionGrid):
            m = head_matrix(data, layer, head)
            self.values, self.query, self.key = m.values, m.query, m.key
            self.query_name = _axis_name(m.query, "query")
            self.title = f"{dim_title('layer', m.layer)}, {dim_title('head', m.head)}"
            signed = bool((m.values < 0).any())
            self.value_label, self.normalised = ("value" if signed else "attention weight"), m.normalised
        else:
            raise MultiattnTypeError(
                f"heatmap needs an AttentionGrid or AttentionMap, got {type(data).__name__}")
        self.q_block = int(np.ceil(self.values.shape[0] / max_labels))
        self.k_block = int(np.ceil(self.values.shape[1] / max_labels))
        if self.q_block > 1 or self.k_block > 1:
            self.values = block_reduce(self.values, self.q_block, self.k_block)
            self.title += (
                f"\ndownsampled {len(self.query)}x{len(self.key)} -> {self.values.shape[0]}x"
                f"{self.values.shape[1]}: blocks of {self.q_block} queries (mean) x "
                f"{self.k_block} keys (sum); tick = first position of a block"
            )
        self.scale: ColorScale = color_scale(self.values, cmap=cmap, limits=limits)

    def _from_map(self, amap: AttentionMap) -> None:
        if len(amap) == 0:
            raise MultiattnValueError("cannot draw an empty AttentionMap (0 positions)")
        self.values = amap.values.astype(np.float64)[None, :]
        q = amap.meta.get("query")
        self.query = TokenAxis([f"query {q}" if q is not None else "map"])
        self.query_name = ""
        self.key = amap.axis
        where = ", ".join(f"{k} {amap.meta[k]}" for k in ("layer", "head") if k in amap.meta)
        self.title = f"attention map ({where})" if where else "attention map"
        total = float(self.values.sum())
        self.value_label = "value" if amap.signed else "attention weight"
        self.normalised = amap.meta.get("normalized") or (
            "sums to 1" if abs(total - 1.0) < _ROW_SUM_TOL else "not normalised")

    def figsize(self) -> tuple[float, float]:
        n_rows, n_cols = self.values.shape
        width = float(np.clip(3.0 + 0.11 * n_cols, 5.0, 14.0))
        height = float(np.clip(1.8 + 0.11 * n_rows, 2.2, 13.0))
        return (width, height)

    def _font_size(self, ax: Axes, n: int, along: str) -> float:
        box = ax.get_position()
        fig_w, fig_h = ax.get_figure().get_size_inches()
        length_pt = (box.height * fig_h if along == "y" else box.width * fig_w) * 72.0
        return float(np.clip(0.8 * length_pt / max(n, 1), 4.0, 10.0))

    def _decorate(self, ax: Axes, ticks: _Ticks, along: str) -> None:
        size = self._font_size(ax, len(ticks.positions), along)
        if along == "x":
            ax.set_xticks(ticks.positions, ticks.labels, rotation=90, fontsize=size, parse_math=False)
            tick_labels = ax.get_xticklabels()
        else:
            ax.set_yticks(ticks.positions, ticks.labels, fontsize=size, parse_math=False)
            tick_labels = ax.get_yticklabels()
        for text, special in zip(tick_labels, ticks.special):
            if special:
                text.set_color(_SPECIAL_COLOR)

    def plot(self, ax: Axes, colorbar: bool) -> Axes:
        image = ax.imshow(self.values, aspect="auto", interpolation="nearest",
                          **self.scale.imshow_kwargs())
        self._decorate(ax, _axis_ticks(self.key, self.k_block), "x")
        self._decorate(ax, _axis_ticks(self.query, self.q_block), "y")
        ax.set_xlabel(_axis_name(self.key, "key"))
        ax.set_ylabel(self.query_name)
        ax.set_title(self.title, fontsize=10, parse_math=False)
        if colorbar:
            notes = "; ".join(n for n in (self.normalised, self.scale.centre_note) if n)
            add_colorbar(image, ax, self.value_label, normalised=notes, scale=self.scale,
                         fraction=0.046, pad=0.02)
        return ax


@plain_text
def heatmap(grid: AttentionGrid | AttentionMap, layer: int | str = 0, head: int | str = 0, *,
            ax: Axes | None = None, cmap: str | None = None, max_labels: int = 100,
            limits: tuple[float, float] | None = None, colorbar: bool = True) -> Axes:
    """Draw one attention head as a query x key heatmap (Axes-level).

    Parameters
    ----------
    grid : AttentionGrid or AttentionMap
        A grid (one layer/head is drawn) or a single map (drawn as one row).
    layer : int or str
        Layer index or label (grids only).
    head : int, str or "mean"
        Head index or label, or ``"mean"`` for the mean over heads (grids only).
    ax : Axes, optional
        Where to draw; default a new figure sized to the number of tokens.
    cmap : str, optional
        Colormap; default ``None`` picks viridis for non-negative values and, for
        signed values (relevance, differences), RdBu_r centred on 0 with symmetric
        limits (the colorbar notes "signed: centred on 0").
    max_labels : int
        Above this many positions per side the matrix is block-reduced to at most
        ``max_labels`` blocks (queries averaged, keys summed, so rows still sum
        to 1), tick labels become sparse and the title states the block size.
    limits : (vmin, vmax), optional
        Colour limits; default robust (2nd-98th percentile; for signed values
        ``±`` the 98th percentile of ``|values|``), arrows on the colorbar mark
        clipped values.
    colorbar : bool
        Add a colorbar labelled with what the values are and how rows are normalised.

    Returns
    -------
    Axes
        The Axes drawn on.

    Raises
    ------
    ValueError
        Empty grid, bad ``max_labels`` or ``limits``.
    multiattn.errors.DimensionIndexError
        Layer/head out of range or unknown label (an ``IndexError`` and ``KeyError``).

    Example
    -------
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> grid = AttentionGrid(np.full((1, 1, 300, 300), 1 / 300, np.float32),
    ...                      TokenAxis([f"t{i}" for i in range(300)]))
    >>> ax = heatmap(grid, max_labels=100)
    >>> ax.images[0].get_array().shape   # 300 tokens in blocks of 3
    (100, 100)
    """
    mapper = _HeatMapper(grid, layer, head, max_labels, cmap, limits)
    _, ax = get_axes(ax, figsize=mapper.figsize())
    return mapper.plot(ax, colorbar)
