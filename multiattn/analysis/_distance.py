"""How far attention reaches: mean query-key distance (tokens, patches, pixels, seconds) and locality."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ..axes import Axis, PatchAxis
from ..grid import AttentionGrid
from ..labelled import LabelledArray
from ._arrays import (
    as_distributions,
    axes_of,
    label_heads,
    mean_over_rows,
    require_self_attention,
    sparse_distributions,
    sparse_row_sums,
    sparse_unique,
    valid_rows,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Callable

    from .._types import ArrayLike, AttentionInput

__all__ = [
    "attention_distance",
    "content_weighted",
    "distances",
    "locality",
    "position_coords",
    "sparse_content_weighted",
]


def position_coords(attn: AttentionInput, axis: Axis | None, pixels: bool) -> np.ndarray:
    """(N, d) coordinates; NaN rows are positions without a place (prefix tokens)."""
    if axis is None:
        query_axis, _ = axes_of(attn)
        axis = query_axis
    if axis is None:
        n = np.shape(attn)[-1]
        return np.arange(n, dtype=np.float64)[:, None]
    coords = np.asarray(axis.coords(), dtype=np.float64)
    if pixels:
        if not isinstance(axis, PatchAxis):
            raise MultiattnValueError(
                f"pixels=True needs a PatchAxis (patch_size), got {type(axis).__name__}")
        coords = coords * np.asarray(axis.patch_size, dtype=np.float64)
    return coords


def distances(attn: AttentionInput, axis: Axis | None, pixels: bool,
              what: str) -> tuple[np.ndarray, np.ndarray]:
    """Attention array and the (N, N) Euclidean distance matrix (NaN next to prefix tokens)."""
    require_self_attention(attn, what)
    arr = as_distributions(attn)
    coords = position_coords(attn, axis, pixels)
    if coords.shape[0] != arr.shape[-1]:
        raise MultiattnValueError(
            f"axis has {coords.shape[0]} positions but attention has {arr.shape[-1]} keys")
    dist = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    return arr, dist


def content_weighted(arr: np.ndarray, dist: np.ndarray, per_key: np.ndarray,
                     query_mask: ArrayLike | None) -> np.ndarray:
    """Mean over content queries of sum_j a_ij f_ij / sum_j a_ij over content keys."""
    content = ~np.isnan(np.diag(dist))
    weights = arr * content[None, None, None, :]
    mass = weights.sum(-1)
    score = (weights * np.nan_to_num(per_key)).sum(-1)
    eligible = valid_rows(arr, query_mask) & content & (mass > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(mass > 0, score / np.where(mass > 0, mass, 1.0), 0.0)
    return mean_over_rows(ratio, eligible)


def sparse_content_weighted(grid: AttentionGrid, axis: Axis | None, pixels: bool,
                            per_edge: Callable[[np.ndarray], np.ndarray],
                             query_mask: ArrayLike | None, what: str) -> np.ndarray:
    """:func:`content_weighted` straight from a sparse grid's edges (no dense N x N arrays)."""
    require_self_attention(grid, what)
    keys, queries = grid.edge_index
    values, sums = sparse_distributions(grid)
    coords = position_coords(grid, axis, pixels)
    if coords.shape[0] != len(grid.key):
        raise MultiattnValueError(
            f"axis has {coords.shape[0]} positions but attention has {len(grid.key)} keys")
    dist = np.sqrt(((coords[queries] - coords[keys]) ** 2).sum(-1))  # NaN next to prefix tokens
    content = ~np.isnan(coords).any(-1)
    weights = values * content[keys]
    mass = sparse_row_sums(grid, weights)
    score = sparse_row_sums(grid, weights * np.nan_to_num(per_edge(dist)))
    eligible = valid_rows(sums[..., None], query_mask) & content & (mass > 0)
    ratio = np.divide(score, mass, out=np.zeros_like(score), where=mass > 0)
    return mean_over_rows(ratio, eligible)


def attention_distance(
    attn: AttentionInput,
    axis: Axis | None = None,
    *,
    pixels: bool = False,
    query_mask: ArrayLike | None = None,
) -> np.ndarray | LabelledArray:
    """Mean attention distance ``sum_j a_ij * d(i, j)`` of each head.

    ``d`` is ``|i - j|`` for plain arrays and token axes, the Euclidean
    distance of :meth:`Axis.coords` otherwise: patch units (row, col) for a
    :class:`PatchAxis` (pixels with ``pixels=True``, using ``patch_size``),
    (time, row, col) token units for a VideoAxis, seconds for a TimeAxis.
    Prefix tokens (CLS, registers) have no position: they are dropped as
    queries, and as keys, with the remaining weights renormalised per row
    (the "mean attention distance" of Dosovitskiy et al. 2021).

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention.
    axis : Axis, optional
        Positions; default the grid's query axis, or indices for arrays.
    pixels : bool
        PatchAxis only: distances in input pixels instead of patches.
    query_mask : bool array (N,), optional
        Queries to include.

    Returns
    -------
    ndarray or LabelledArray (L, H)
        Labelled by the grid's layers and heads for a grid input.

    Example
    -------
    >>> prev = np.eye(3, k=-1); prev[0, 0] = 1
    >>> attention_distance(prev).round(3)  # rows: 0, 1, 1
    array([[0.667]])
    """
    if sparse_unique(attn):
        result = sparse_content_weighted(attn, axis, pixels, lambda dist: dist, query_mask,
                                          "attention_distance")
    else:
        arr, dist = distances(attn, axis, pixels, "attention_distance")
        result = content_weighted(arr, dist, dist, query_mask)
    return label_heads(attn, result, "attention_distance")


def locality(
    attn: AttentionInput,
    k: float,
    axis: Axis | None = None,
    *,
    query_mask: ArrayLike | None = None,
) -> np.ndarray | LabelledArray:
    """Share of each row's attention within distance ``k`` of the query (``|i - j| <= k``).

    Distances as in :func:`attention_distance` (index for tokens, patch
    units for a PatchAxis, prefix tokens excluded and rows renormalised over
    the remaining keys).

    Example
    -------
    >>> locality(np.full((1, 1, 4, 4), 0.25), k=1)  # 2, 3, 3, 2 keys within 1
    array([[0.625]])
    """
    if k < 0:
        raise MultiattnValueError(f"k must be >= 0, got {k}")
    def _within(dist: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(dist), 0.0, (dist <= k + 1e-9).astype(np.float64))

    if sparse_unique(attn):
        result = sparse_content_weighted(attn, axis, False, _within, query_mask, "locality")
    else:
        arr, dist = distances(attn, axis, False, "locality")
        result = content_weighted(arr, dist, _within(dist), query_mask)
    return label_heads(attn, result, "locality")
