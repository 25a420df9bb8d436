"""Attention rollout (Abnar & Zuidema 2020): attention propagated through the layers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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
    one_hot_rows,
    output_rows,
    pick_outputs,
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
    *,
    outputs: int | Sequence[int] | None = None,
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
    outputs : int or sequence of int, optional
        Only these rows (output positions, e.g. ``0`` for a CLS map), as in
        :func:`~multiattn.analysis.attention_flow`: a plain ``(len(outputs), N)`` array
        (an int gives ``(N,)``), the same values as those rows of the full result
        (round-off only), computed as one vector-matrix product per layer
        (``O(L N^2)`` instead of ``O(L N^3)``).

    Returns
    -------
    ndarray or LabelledArray (N, N)
        Row-stochastic rollout matrix (float64; float32 attention, as models capture it, is
        multiplied in float32 -- about 1e-7 relative, like vit-explain -- and its rows renormalised).
        For a grid a
        :class:`~multiattn.LabelledArray` with dims ``("query", "key")`` over the
        grid's axes (``result.row(q)`` is the AttentionMap of query ``q``); for an
        array an ndarray.  With ``outputs``: those rows only, a plain array.  For layers that
        arrive one at a time use :class:`multiattn.stream.RolloutReducer`.

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
    >>> rollout(attn, outputs=0).shape, rollout(attn, outputs=[0, 3]).shape
    ((4,), (2, 4))
    """
    arr, check = _layer_values(attn, head_fusion, residual, discard_ratio, keep_prefix, native=True)
    n_layers = arr.shape[0]
    if not -n_layers <= start_layer < n_layers:
        raise MultiattnValueError(f"start_layer {start_layer} out of range for {n_layers} layers")
    rows = None if outputs is None else output_rows(outputs, arr.shape[-1])
    factors = _layer_factors(arr, head_fusion, residual, discard_ratio, _protected_columns(attn, keep_prefix),
                             start_layer % n_layers, check, reverse=rows is not None)
    result = _rolled(factors, rows, arr.shape[-1], arr.dtype)
    if rows is not None:
        return pick_outputs(result, outputs)
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


#: Each fusion as a reduction over the head axis (``mean`` as the head sum: its ``1 / H`` joins the
#: residual weight in :func:`_mix_factors`).
_HEAD_REDUCERS = {"mean": np.add.reduce, "max": np.maximum.reduce, "min": np.minimum.reduce}


class _RowCheck:
    """:func:`as_distributions`' checks of a float32 ``(L, H, N, N)`` input, one layer at a time
    (while :func:`_layer_factors` has it in cache: one pass over the input), its errors at the end."""

    def __init__(self, raw: np.ndarray) -> None:
        self.raw, self.ones = raw, np.ones(raw.shape[-1], raw.dtype)
        self.sums = np.empty(raw.shape[:-1], raw.dtype)
        self.lowest = np.empty(raw.shape[0], raw.dtype)

    def layer(self, index: int) -> None:
        heads = self.raw[index]
        # row sums by BLAS (float32 dot products: error <= N * 6e-8, far inside ROW_TOL)
        np.matmul(heads.reshape(-1, heads.shape[-1]), self.ones, out=self.sums[index].reshape(-1))
        self.lowest[index] = heads.min()

    def finish(self) -> None:
        if not np.isfinite(self.sums).all():
            as_dense(self.raw)  # raises the NaN / inf error
        check_rows(bool(self.lowest.min() < 0), self.sums)


def _layer_values(attn: AttentionInput, head_fusion: str, residual: float, discard_ratio: float,
                  keep_prefix: int | None, native: bool = False) -> tuple[np.ndarray, _RowCheck | None]:
    """The checked parameters and the ``(L, H, N, N)`` values: float64 and checked, or (``native``)
    a float32 input as it is with the :class:`_RowCheck` that :func:`_layer_factors` runs on it."""
    if head_fusion not in HEAD_FUSIONS:
        raise MultiattnValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")
    if not 0.0 <= residual <= 1.0:
        raise MultiattnValueError(f"residual must be in [0, 1], got {residual}")
    if not 0.0 <= discard_ratio < 1.0:
        raise MultiattnValueError(f"discard_ratio must be in [0, 1), got {discard_ratio}")
    _protected_columns(attn, keep_prefix)
    require_self_attention(attn, "rollout")
    raw = attn.to_dense().values if isinstance(attn, AttentionGrid) else np.asarray(attn)
    if native and raw.dtype == np.float32 and raw.ndim == 4 and 0 not in raw.shape[2:]:
        return raw, _RowCheck(raw)
    return as_distributions(attn), None


def _layer_factors(arr: np.ndarray, head_fusion: str, residual: float, discard_ratio: float,
                   keep_cols: int, start: int = 0, check: _RowCheck | None = None,
                   reverse: bool = False) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each residual-mixed layer ``l >= start`` of ``arr (L, H, N, N)`` as ``(fused, scale, diagonal)``:
    ``M_l = diag(scale) @ fused + diag(diagonal)`` (rows sum to one), first layer first or
    (``reverse``) last first; ``fused`` is one buffer reused for each layer (copy what you keep).

    ``check`` runs on every layer and raises after the last; for the mean of float32 heads its
    per-head row sums also give the fused row sums (no second pass over the layer).
    """
    n_layers, n_heads, n, _ = arr.shape
    weight = arr.dtype.type(residual)
    scale = arr.dtype.type((1.0 - residual) / (n_heads if head_fusion == "mean" else 1))
    reduce, buffer, ones = _HEAD_REDUCERS[head_fusion], np.empty((n, n), arr.dtype), np.ones(n, arr.dtype)
    reuse_sums = check is not None and head_fusion == "mean" and not discard_ratio
    for index in range(n_layers - 1, -1, -1) if reverse else range(n_layers):
        if check is not None:
            check.layer(index)
        if index < start:
            continue
        fused = reduce(arr[index], axis=0, out=buffer)
        if discard_ratio:
            fused[...] = _discard_smallest(fused, discard_ratio, keep_cols)
        sums = check.sums[index].sum(0) if reuse_sums else fused @ ones
        yield fused, *_mix_factors(sums, weight, scale)
    if check is not None:
        check.finish()


def _mixed(factors: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> Iterator[np.ndarray]:
    """Each layer of :func:`_layer_factors` as its ``(N, N)`` matrix ``M_l``, mixed in place in the
    fused buffer (copy what you keep)."""
    for fused, scale, diagonal in factors:
        fused *= scale[:, None]
        fused.reshape(-1)[:: fused.shape[-1] + 1] += diagonal
        yield fused


def _residual_layers(attn: AttentionInput, head_fusion: str, residual: float, discard_ratio: float,
                     keep_prefix: int | None) -> np.ndarray:
    """:func:`residual_layers` as a plain float64 ``(L, N, N)`` array."""
    arr, _ = _layer_values(attn, head_fusion, residual, discard_ratio, keep_prefix)
    layers = _layer_factors(arr, head_fusion, residual, discard_ratio, _protected_columns(attn, keep_prefix))
    return np.stack([layer.copy() for layer in _mixed(layers)])


def _mix_factors(sums: np.ndarray, residual: np.floating,
                 scale: np.floating) -> tuple[np.ndarray, np.ndarray]:
    """Row scale and diagonal of ``residual * I + scale * fused`` with rows renormalised to sum one,
    from the fused row ``sums`` (all-zero rows stay zero)."""
    sums = sums * scale
    sums += residual
    if not residual:
        sums[sums == 0] = 1  # an all-zero (masked) row: 0 / 1
    return scale / sums, residual / sums


def _row_product(factors: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]], rows: np.ndarray,
                 n: int, dtype: np.dtype) -> np.ndarray:
    """Rows ``e_rows^T M_last ... M_first`` of the product, from :func:`_layer_factors` last layer
    first: one vector-matrix product per layer, ``v M = (v * scale) @ fused + v * diagonal``."""
    result = one_hot_rows(rows, n, dtype)
    for fused, scale, diagonal in factors:
        result = (result * scale) @ fused + result * diagonal
    return result


def _rolled(factors: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]], rows: np.ndarray | None,
            n: int, dtype: np.dtype) -> np.ndarray:
    """The float64 rollout product of :func:`_layer_factors` (last layer first when ``rows`` are
    asked for, then only those rows); float32 products get their rows renormalised to sum one."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # NaN / inf: the check raises
        if rows is None:
            result = _product(_mixed(factors)).astype(np.float64)
        else:
            result = _row_product(factors, rows, n, dtype).astype(np.float64)
    if dtype != np.float64:
        sums = result.sum(-1, keepdims=True)
        np.divide(result, sums, out=result, where=sums > 0)
    return result


def _product(layers: Iterator[np.ndarray]) -> np.ndarray:
    """``M_last @ ... @ M_first`` of layers that arrive one at a time (each may reuse one buffer)."""
    result = next(layers).copy()
    spare = np.empty_like(result)
    for mixed in layers:
        np.matmul(mixed, result, out=spare)
        result, spare = spare, result
    return result
