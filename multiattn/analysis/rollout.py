"""Attention rollout (Abnar & Zuidema 2020): attention propagated through the layers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ..grid import AttentionGrid
from ..labelled import LabelledArray
from ._arrays import (
    as_dense,
    as_distributions,
    check_rows,
    label_layers,
    label_positions,
    require_self_attention,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import AttentionInput

__all__ = ["HEAD_FUSIONS", "rollout"]

#: How heads of one layer are fused before the residual mix.
HEAD_FUSIONS = ("mean", "max", "min")


def _discard_smallest(fused: np.ndarray, ratio: float, keep_cols: int) -> np.ndarray:
    """Zero the ``ratio`` smallest weights of one (N, N) layer, sparing the first ``keep_cols`` columns."""
    out = fused.copy()
    body = out[:, keep_cols:]
    n_drop = int(body.size * ratio)
    if n_drop:
        flat = body.reshape(-1)
        flat[np.argpartition(flat, n_drop - 1)[:n_drop]] = 0.0
        out[:, keep_cols:] = flat.reshape(body.shape)
    return out


def _protected_columns(attn: AttentionInput, keep_prefix: int | None) -> int:
    if keep_prefix is not None:
        if keep_prefix < 0:
            raise MultiattnValueError(f"keep_prefix must be >= 0, got {keep_prefix}")
        return int(keep_prefix)
    n_prefix = getattr(attn.key, "n_prefix", None) if isinstance(attn, AttentionGrid) else None
    return max(1, n_prefix or 0)


def rollout(
    attn: AttentionInput,
    head_fusion: str = "mean",
    residual: float = 0.5,
    start_layer: int = 0,
    discard_ratio: float = 0.0,
    keep_prefix: int | None = None,
) -> np.ndarray | LabelledArray:
    """Attention rollout: how much each output position draws on each input position.

    For every layer ``l >= start_layer`` the heads are fused (element-wise
    ``mean``, ``max`` or ``min``), optionally the ``discard_ratio`` smallest
    fused weights are set to zero, the residual connection is added as
    ``A' = residual * I + (1 - residual) * A`` and the rows of ``A'`` are
    renormalised to sum to one.  The result is the product from the top layer
    down, ``R = A'_{L-1} @ ... @ A'_{start_layer}``, so ``R[i, j]`` is the
    share of output position ``i`` that flows from input position ``j``.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention weights (rows sum to one). ``(H, N, N)`` and ``(N, N)`` are one layer.
    head_fusion : {"mean", "max", "min"}
        How to fuse the heads of a layer.
    residual : float in [0, 1]
        Weight of the identity (residual path); 0.5 as in the paper, 0 = raw attention product.
    start_layer : int
        First layer included (negative counts from the end).
    discard_ratio : float in [0, 1)
        Share of the smallest fused weights per layer set to zero (over the
        whole matrix, as in Gildenblat's ViT explainability code), never
        touching the first ``keep_prefix`` columns.
    keep_prefix : int, optional
        Number of leading key columns never discarded; default the key axis'
        ``n_prefix`` for grids (CLS, distillation, registers) and at least 1
        (the first token).

    Returns
    -------
    ndarray or LabelledArray (N, N)
        Row-stochastic rollout matrix (float64; float32 attention, as models capture it, is
        multiplied in float32 -- about 1e-7 relative, like vit-explain -- and its rows renormalised).
        For a grid a
        :class:`~multiattn.LabelledArray` with dims ``("query", "key")`` over the
        grid's axes (``result.row(q)`` is the AttentionMap of query ``q``); for an
        array an ndarray.  For layers that arrive one at a time use
        :class:`multiattn.stream.RolloutReducer`.

    Raises
    ------
    ValueError
        Cross-attention or non-square input, bad rows (NaN, negative, not
        summing to one), unknown fusion, parameters out of range.

    Example
    -------
    >>> attn = np.full((2, 3, 4, 4), 0.25)
    >>> r = rollout(attn)
    >>> r.shape, bool(np.allclose(r.sum(1), 1))
    ((4, 4), True)
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> labelled = rollout(AttentionGrid(attn, TokenAxis(list("abcd"))))
    >>> labelled.dims, labelled.coords["key"].labels, labelled.row("b").values.shape
    (('query', 'key'), ('a', 'b', 'c', 'd'), (4,))
    """
    layers = _residual_layers(attn, head_fusion, residual, discard_ratio, keep_prefix, native=True)
    n_layers = layers.shape[0]
    if not -n_layers <= start_layer < n_layers:
        raise MultiattnValueError(f"start_layer {start_layer} out of range for {n_layers} layers")
    result = None
    for mixed in layers[start_layer % n_layers:]:
        result = mixed if result is None else mixed @ result
    result = result.astype(np.float64)
    if layers.dtype != np.float64:  # float32 products: rows back to sum one exactly
        sums = result.sum(-1, keepdims=True)
        result = np.divide(result, sums, out=np.zeros_like(result), where=sums > 0)
    return label_positions(attn, result, "rollout")


def fused_operators(grid: AttentionGrid, head_fusion: str = "mean") -> list:
    """One ``(Q, K)`` operator per layer of ``grid``, heads fused: float64 arrays, or CSR matrices
    ``A[query, key]`` for a sparse grid (repeated edges summed).

    Example
    -------
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> grid = AttentionGrid(np.full((1, 2, 2, 2), 0.5), TokenAxis(["a", "b"]))
    >>> fused_operators(grid, "max")[0].tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """
    from scipy import sparse

    if head_fusion not in HEAD_FUSIONS:
        raise MultiattnValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
    fused = getattr(np, head_fusion)(grid.values, axis=1)
    if not grid.is_sparse:
        return list(fused.astype(np.float64))
    keys, queries = grid.edge_index
    shape = (len(grid.query), len(grid.key))
    return [sparse.csr_matrix((layer.astype(np.float64), (queries, keys)), shape=shape) for layer in fused]


def residual_layers(
    attn: AttentionInput,
    head_fusion: str = "mean",
    residual: float = 0.5,
    discard_ratio: float = 0.0,
    keep_prefix: int | None = None,
) -> np.ndarray | LabelledArray:
    """The per-layer matrices rollout multiplies (and attention flow uses as capacities).

    Each layer's heads are fused, the smallest weights optionally discarded,
    the identity mixed in as ``residual * I + (1 - residual) * A`` and the rows
    renormalised.  Parameters as in :func:`rollout`.

    Returns
    -------
    ndarray or LabelledArray (L, N, N)
        Row-stochastic residual-adjusted attention per layer (float64); for a grid
        a LabelledArray with dims ``("layer", "query", "key")`` (its layers and axes).

    Example
    -------
    >>> residual_layers(np.full((1, 2, 2, 2), 0.5))[0]
    array([[0.75, 0.25],
           [0.25, 0.75]])
    """
    layers = _residual_layers(attn, head_fusion, residual, discard_ratio, keep_prefix)
    return label_layers(attn, layers, "residual_layers", "query", "key")


def _float32_distributions(attn: AttentionInput) -> np.ndarray | None:
    """float32 ``(L, H, N, N)`` values of a float32 input, checked as :func:`as_distributions` does
    (its errors), without the float64 copy; None for any other input."""
    raw = attn.to_dense().values if isinstance(attn, AttentionGrid) else np.asarray(attn)
    if raw.dtype != np.float32 or raw.ndim != 4 or 0 in raw.shape[2:]:
        return None
    sums = raw.sum(-1)  # float32 pairwise sums: error ~1e-7, far inside ROW_TOL
    if not np.isfinite(sums).all():
        as_dense(raw)  # raises the NaN / inf error
    check_rows(bool(raw.min() < 0), sums)
    return raw


def _residual_layers(attn: AttentionInput, head_fusion: str, residual: float, discard_ratio: float,
                     keep_prefix: int | None, native: bool = False) -> np.ndarray:
    """:func:`residual_layers` as a plain float64 ``(L, N, N)`` array (``native``: float32 inputs stay
    float32, for rollout's products)."""
    if head_fusion not in HEAD_FUSIONS:
        raise MultiattnValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
    if not 0.0 <= residual <= 1.0:
        raise MultiattnValueError(f"residual must be in [0, 1], got {residual}")
    if not 0.0 <= discard_ratio < 1.0:
        raise MultiattnValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    keep_cols = _protected_columns(attn, keep_prefix)
    require_self_attention(attn, "rollout")
    arr = _float32_distributions(attn) if native else None
    arr = as_distributions(attn) if arr is None else arr
    eye = np.eye(arr.shape[-1], dtype=arr.dtype)
    layers = np.empty(arr.shape[:1] + arr.shape[2:], dtype=arr.dtype)
    for index, fused in enumerate(getattr(np, head_fusion)(arr, axis=1)):
        if discard_ratio:
            fused = _discard_smallest(fused, discard_ratio, keep_cols)
        mixed = residual * eye + (1.0 - residual) * fused
        sums = mixed.sum(-1, keepdims=True)
        layers[index] = np.divide(mixed, sums, out=np.zeros_like(mixed), where=sums > 0)
    return layers
