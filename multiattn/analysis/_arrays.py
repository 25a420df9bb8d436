"""Accept a grid or a plain ``(L, H, Q, K)`` array in every analysis function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnIndexError, MultiattnTypeError, MultiattnValueError

from ..axes import Axis, TokenAxis
from ..grid import AttentionGrid
from ..labelled import LabelledArray

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from typing import TypeGuard

    from .._types import ArrayLike, AttentionInput

#: Largest accepted deviation of a row sum from one.
ROW_TOL = 1e-3


def as_dense(attn: AttentionGrid | ArrayLike, min_ndim: int = 4) -> np.ndarray:
    """Return float64 ``(L, H, Q, K)`` values from a grid or an array.

    2-D ``(Q, K)`` and 3-D ``(H, Q, K)`` arrays gain leading dims of size one.
    """
    if isinstance(attn, AttentionGrid):
        arr = attn.to_dense().values
    else:
        arr = np.asarray(attn)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise MultiattnTypeError(
            f"attention must be a numeric array or an AttentionGrid, got dtype {arr.dtype}")
    if arr.ndim < 2 or arr.ndim > 4:
        raise MultiattnValueError(
            f"attention must be (L, H, Q, K), (H, Q, K) or (Q, K); got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise MultiattnValueError(
            f"attention contains {int(bad.sum())} NaN or inf values (first at index {first}); "
            "check the model's dtype (fp16 overflow) or the mask applied before the softmax"
        )
    while arr.ndim < min_ndim:
        arr = arr[None]
    return arr.astype(np.float64, copy=False)


def as_distributions(attn: AttentionGrid | ArrayLike) -> np.ndarray:
    """Like :func:`as_dense`, but also check that every row is a distribution.

    Rows must be non-negative and sum to one (within ``ROW_TOL``).  All-zero
    rows are allowed: they stand for masked queries (padding) and every
    analysis skips them.

    Example
    -------
    >>> as_distributions(np.full((2, 2), 0.5)).shape
    (1, 1, 2, 2)
    """
    arr = as_dense(attn)
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise MultiattnValueError(f"attention has no queries or no keys: shape {arr.shape}")
    check_rows(bool((arr < 0).any()), arr.sum(-1))
    return arr


def check_rows(has_negative: bool, sums: np.ndarray) -> None:
    """Refuse negative weights and rows (``sums (L, H, Q)``) that are neither 0 nor 1."""
    if has_negative:
        raise MultiattnValueError(
            "attention has negative values; analyses need attention weights "
            "(softmax outputs), not scores or signed relevance"
        )
    bad = (np.abs(sums - 1.0) > ROW_TOL) & (sums > 0)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise MultiattnValueError(
            f"{int(bad.sum())} attention rows do not sum to 1 (first at (layer, head, query)="
            f"{where}: {sums[where]:.4f}); renormalise with attn / attn.sum(-1, keepdims=True) "
            "or build the grid with normalize=True"
        )


def sparse_distributions(grid: AttentionGrid) -> tuple[np.ndarray, np.ndarray]:
    """The sparse twin of :func:`as_distributions`: edge values ``(L, H, E)`` float64 and row sums
    ``(L, H, Q)``, after the same checks (queries and keys exist, no negative weight, rows 0 or 1).

    Example
    -------
    >>> from multiattn.axes import TokenAxis
    >>> grid = AttentionGrid(np.ones((1, 1, 2)), TokenAxis(list("ab")), edge_index=[[0, 1], [0, 1]])
    >>> sparse_distributions(grid)[1].tolist()
    [[[1.0, 1.0]]]
    """
    if len(grid.query) == 0 or len(grid.key) == 0:
        raise MultiattnValueError(f"attention has no queries or no keys: {len(grid.query)} x {len(grid.key)}")
    values = grid.values.astype(np.float64)
    sums = sparse_row_sums(grid, values)
    check_rows(bool((values < 0).any()), sums)
    return values, sums


def sparse_row_sums(grid: AttentionGrid, per_edge: np.ndarray) -> np.ndarray:
    """Sum ``per_edge (L, H, E)`` over each query's incoming edges -> ``(L, H, Q)`` float64.

    Example
    -------
    >>> from multiattn.axes import TokenAxis
    >>> grid = AttentionGrid(np.ones((1, 1, 3)), TokenAxis(list("ab")),
    ...                      edge_index=[[0, 1, 1], [0, 0, 1]], check_rows=False)
    >>> sparse_row_sums(grid, grid.values).tolist()
    [[[2.0, 1.0]]]
    """
    n_layers, n_heads, n_edges = per_edge.shape
    n_q = len(grid.query)
    rows = (np.arange(n_layers * n_heads)[:, None] * n_q + grid.edge_index[1][None]).ravel()
    sums = np.bincount(rows, weights=per_edge.reshape(-1).astype(np.float64),
                       minlength=n_layers * n_heads * n_q)
    return sums.reshape(n_layers, n_heads, n_q)


def axes_of(attn: AttentionInput) -> tuple[Axis | None, Axis | None]:
    """``(query_axis, key_axis)`` of a grid, ``(None, None)`` for a plain array."""
    if isinstance(attn, AttentionGrid):
        return attn.query, attn.key
    return None, None


def label_heads(attn: AttentionInput, values: np.ndarray | LabelledArray,
                name: str) -> np.ndarray | LabelledArray:
    """An ``(L, H)`` result of a grid as a LabelledArray over its layers and heads; arrays pass through.

    Example
    -------
    >>> from multiattn.axes import TokenAxis
    >>> grid = AttentionGrid(np.ones((2, 1, 1, 1)), TokenAxis(["a"]), layers=["x", "y"])
    >>> label_heads(grid, np.zeros((2, 1)), "score").coords
    {'layer': ('x', 'y'), 'head': ('0',)}
    >>> type(label_heads(grid.values, np.zeros((2, 1)), "score")).__name__
    'ndarray'
    """
    if not isinstance(attn, AttentionGrid):
        return values
    return LabelledArray(values, ("layer", "head"), {"layer": attn.layers, "head": attn.heads}, name=name)


def label_layers(attn: AttentionInput, values: np.ndarray | LabelledArray, name: str,
                 *extra: str) -> np.ndarray | LabelledArray:
    """A ``(L, ...)`` result of a grid labelled by its layers (``extra`` names the other dims,
    ``query``/``key`` get the grid's axes); arrays pass through."""
    if not isinstance(attn, AttentionGrid):
        return values
    coords: dict[str, Axis | Sequence[str]] = {"layer": attn.layers, "query": attn.query, "key": attn.key}
    dims = ("layer", *extra)
    return LabelledArray(values, dims, {d: coords[d] for d in dims if d in coords}, name=name)


def label_positions(attn: AttentionInput, values: np.ndarray | LabelledArray,
                    name: str) -> np.ndarray | LabelledArray:
    """A ``(Q, K)`` result of a grid as a LabelledArray over its query and key axes; arrays pass through.

    Example
    -------
    >>> from multiattn.axes import TokenAxis
    >>> grid = AttentionGrid(np.ones((1, 1, 1, 1)), TokenAxis(["a"]))
    >>> label_positions(grid, np.eye(1), "rollout").coords["key"].labels
    ('a',)
    """
    if not isinstance(attn, AttentionGrid):
        return values
    return LabelledArray(values, ("query", "key"), {"query": attn.query, "key": attn.key}, name=name)


def valid_rows(arr: np.ndarray, query_mask: ArrayLike | None = None) -> np.ndarray:
    """Boolean ``(L, H, Q)``: rows that are not all-zero and pass ``query_mask``.

    ``query_mask`` is a boolean ``(Q,)`` array, True for queries to include
    (e.g. False on padding).
    """
    valid = arr.sum(-1) > 0
    if query_mask is not None:
        mask = np.asarray(query_mask)
        if mask.shape != (arr.shape[2],):
            raise MultiattnValueError(
                f"query_mask must have shape ({arr.shape[2]},) (one flag per query), got {mask.shape}"
            )
        valid = valid & mask.astype(bool)
    return valid


def mean_over_rows(per_row: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Mean of ``per_row (L, H, Q)`` over ``eligible`` rows -> ``(L, H)``; NaN if none."""
    eligible = np.broadcast_to(eligible, per_row.shape)
    count = eligible.sum(-1)
    total = np.where(eligible, per_row, 0.0).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def require_self_attention(attn: AttentionGrid | ArrayLike, what: str) -> None:
    """Refuse cross-attention grids and non-square arrays for position-based analyses."""
    if isinstance(attn, AttentionGrid) and attn.kind == "cross":
        raise MultiattnValueError(
            f"{what} needs self-attention (query and key are the same sequence); this grid is "
            "cross-attention: analyse each attention row instead"
        )
    if isinstance(attn, AttentionGrid):
        q, k = len(attn.query), len(attn.key)
    else:
        shape = np.shape(attn)
        if len(shape) < 2:
            return  # as_dense names the shape problem
        q, k = shape[-2], shape[-1]
    if q != k:
        raise MultiattnValueError(f"{what} needs square (N, N) self-attention, got query x key = {q} x {k}")


def token_labels(attn: AttentionInput, tokens: Sequence | None, n: int) -> list | None:
    """Token identities from ``tokens`` or a grid's TokenAxis; None when there are none."""
    if tokens is None:
        _, key_axis = axes_of(attn)
        if not isinstance(key_axis, TokenAxis):
            return None
        tokens = key_axis.labels
    tokens = list(np.asarray(tokens).tolist())
    if len(tokens) != n:
        raise MultiattnValueError(f"{len(tokens)} tokens given for {n} positions; pass one token per key")
    return tokens


def is_causal(arr: np.ndarray) -> bool:
    """True for square attention whose strictly upper triangle is zero in every head."""
    n_q, n_k = arr.shape[-2:]
    return n_q == n_k and n_q > 1 and not np.triu(arr, k=1).any()


def sparse_unique(attn: AttentionInput) -> TypeGuard[AttentionGrid]:
    """A sparse grid without repeated (key, query) pairs: its edges are the non-zero entries."""
    if not isinstance(attn, AttentionGrid) or not attn.is_sparse:
        return False
    keys, queries = attn.edge_index
    return len(np.unique(queries.astype(np.int64) * len(attn.key) + keys)) == len(keys)


def output_rows(outputs: int | Sequence[int], n: int) -> np.ndarray:
    """Validated row positions ``(k,)`` (negative counts from the end) of ``outputs``: an int or
    1-D ints, as the ``outputs=`` argument of rollout, relevance and flow takes them.

    Example
    -------
    >>> output_rows(-1, 4).tolist(), output_rows([0, 2], 4).tolist()
    ([3], [0, 2])
    """
    rows = np.atleast_1d(np.asarray(outputs))
    if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer) or rows.dtype == bool:
        raise MultiattnValueError(f"outputs must be token indices (an int or 1-D ints), got {outputs!r}")
    if rows.size and not (-n <= rows.min() and rows.max() < n):
        raise MultiattnIndexError(f"outputs {rows.tolist()} out of range for {n} tokens")
    return rows % max(n, 1)


def one_hot_rows(rows: np.ndarray, n: int, dtype: np.dtype) -> np.ndarray:
    """``(k, n)`` rows of the identity: the start of a product read from the left, ``e_rows^T M ...``.

    Example
    -------
    >>> one_hot_rows(np.array([1]), 3, np.float32).tolist()
    [[0.0, 1.0, 0.0]]
    """
    start = np.zeros((len(rows), n), dtype)
    start[np.arange(len(rows)), rows] = 1
    return start


def pick_outputs(rows: np.ndarray, outputs: int | Sequence[int]) -> np.ndarray:
    """``rows (k, N)`` as the caller asked: ``(N,)`` for an int ``outputs``, else ``(k, N)``.

    Example
    -------
    >>> pick_outputs(np.zeros((1, 3)), 0).shape, pick_outputs(np.zeros((1, 3)), [0]).shape
    ((3,), (1, 3))
    """
    return rows[0] if np.ndim(outputs) == 0 else rows
