"""Per-head summary metrics: one number per (layer, head).

Every function takes an :class:`~multiattn.AttentionGrid` or a plain
``(L, H, Q, K)`` array (``(H, Q, K)`` and ``(Q, K)`` gain leading dims) whose
rows are distributions, and averages a per-query quantity over the *eligible*
queries: rows that are not all-zero (masked) and pass the optional boolean
``query_mask (Q,)`` (False on padding).  A head without eligible queries
gets NaN.

A grid gives a :class:`~multiattn.LabelledArray` with dims ``("layer", "head")``
labelled by ``grid.layers`` and ``grid.heads`` (``("layer",)`` for
``head_diversity(by_layer=True)``); a plain array gives a plain ndarray.

Example
-------
>>> from multiattn import AttentionGrid, TokenAxis
>>> grid = AttentionGrid(np.full((2, 3, 4, 4), 0.25), TokenAxis(list("abcd")), layers=["l0", "l1"])
>>> entropy = head_entropy(grid, normalized=True)
>>> entropy.dims, entropy.shape, entropy.sel(layer="l1", head=2)
(('layer', 'head'), (2, 3), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ..grid import AttentionGrid
from ..labelled import LabelledArray
from ._arrays import (
    as_distributions,
    axes_of,
    is_causal,
    label_heads,
    label_layers,
    mean_over_rows,
    sparse_distributions,
    sparse_row_sums,
    sparse_unique,
    token_labels,
    valid_rows,
)
from ._distance import attention_distance, locality

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput

__all__ = [
    "DELIMITERS",
    "head_entropy",
    "attention_distance",
    "locality",
    "topk_concentration",
    "special_share",
    "first_token_share",
    "delimiter_share",
    "delimiter_mask",
    "head_similarity",
    "head_diversity",
]

#: Token labels counted as delimiters (separators and punctuation).
DELIMITERS = frozenset(
    {"[SEP]", "</s>", "<sep>", "<|endoftext|>", ".", ",", ";", ":", "!", "?", "\n"}
)


def _plogp(arr: np.ndarray) -> np.ndarray:
    """``a log a`` elementwise, with ``0 log 0 = 0``."""
    return arr * np.log(arr, out=np.zeros_like(arr), where=arr > 0)


def _row_entropy(arr: np.ndarray) -> np.ndarray:
    """``-sum_j a_j log a_j`` over the last axis."""
    return -_plogp(arr).sum(-1)


def head_entropy(
    attn: AttentionInput,
    normalized: bool = False,
    query_mask: ArrayLike | None = None,
    causal: bool | None = None,
) -> np.ndarray | LabelledArray:
    """Mean entropy of the attention rows of each head, in nats.

    ``H_i = -sum_j a_ij log a_ij`` averaged over eligible queries.  With
    ``normalized=True`` each row is divided by ``log(n_i)``, the log of the
    number of keys query ``i`` may attend to: ``K`` for full attention,
    ``i + 1`` for causal attention.  1 means uniform over the allowed keys,
    0 means one-hot; rows with a single allowed key are skipped.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, Q, K)
    normalized : bool
        Divide by the log of the number of allowed keys.
    query_mask : bool array (Q,), optional
        Queries to include.
    causal : bool, optional
        Whether rows are causal (query ``i`` sees keys ``0..i``); default
        inferred: True when the strictly upper triangle is zero in every head.

    Returns
    -------
    ndarray or LabelledArray (L, H)
        Labelled by the grid's layers and heads for a grid input.

    Example
    -------
    >>> head_entropy(np.full((1, 1, 2, 4), 0.25)).round(4)
    array([[1.3863]])
    >>> head_entropy(np.full((1, 1, 2, 4), 0.25), normalized=True)
    array([[1.]])
    """
    if sparse_unique(attn):
        ent, sums, n_k = _sparse_row_entropy(attn)
        eligible = valid_rows(sums[..., None], query_mask)
        if normalized and causal is None:
            keys, queries = attn.edge_index
            causal = len(attn.query) == n_k > 1 and not (attn.values[..., keys > queries] > 0).any()
    else:
        arr = as_distributions(attn)
        ent, n_k = _row_entropy(arr), arr.shape[-1]
        eligible = valid_rows(arr, query_mask)
        if normalized and causal is None:
            causal = is_causal(arr)
    if normalized:
        n_q = ent.shape[-1]
        allowed = np.minimum(np.arange(n_q) + 1, n_k) if causal else np.full(n_q, n_k)
        eligible = eligible & (allowed > 1)
        ent = ent / np.log(np.maximum(allowed, 2))
    return label_heads(attn, mean_over_rows(ent, eligible), "head_entropy")


def _sparse_row_entropy(grid: AttentionGrid) -> tuple[np.ndarray, np.ndarray, int]:
    """Row entropy and row sums ``(L, H, Q)`` straight from the edges (no dense copy), and ``K``."""
    values, sums = sparse_distributions(grid)
    return -sparse_row_sums(grid, _plogp(values)), sums, len(grid.key)


def topk_concentration(attn: AttentionInput, k: int,
                       query_mask: ArrayLike | None = None) -> np.ndarray | LabelledArray:
    """Mean share of each row held by its ``k`` largest weights.

    1 for one-hot rows at ``k=1``; ``k / K`` for uniform rows.

    Example
    -------
    >>> topk_concentration(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), k=2)
    array([[0.85]])
    """
    arr = as_distributions(attn)
    if not 1 <= int(k) <= arr.shape[-1]:
        raise MultiattnValueError(f"k must be between 1 and the number of keys {arr.shape[-1]}, got {k}")
    top = -np.partition(-arr, int(k) - 1, axis=-1)[..., : int(k)]
    return label_heads(attn, mean_over_rows(top.sum(-1), valid_rows(arr, query_mask)), "topk_concentration")


def special_share(attn: AttentionInput, mask: ArrayLike | None = None,
                  query_mask: ArrayLike | None = None) -> np.ndarray | LabelledArray:
    """Mean share of attention that lands on the keys flagged by ``mask``.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, Q, K)
    mask : bool array (K,), optional
        Keys to count; default the grid's ``key.special_mask`` (CLS, SEP, prefix tokens).
    query_mask : bool array (Q,), optional
        Queries to include.

    Example
    -------
    >>> special_share(np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), mask=[True, False, True])
    array([[0.8]])
    """
    arr = as_distributions(attn)
    if mask is None:
        _, key_axis = axes_of(attn)
        if key_axis is None:
            raise MultiattnValueError(
                "pass mask= (one bool per key) for a plain array; grids use key.special_mask")
        mask = key_axis.special_mask
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (arr.shape[-1],):
        raise MultiattnValueError(
            f"mask must have shape ({arr.shape[-1]},) (one flag per key), got {mask.shape}")
    share = mean_over_rows(arr[..., mask].sum(-1), valid_rows(arr, query_mask))
    return label_heads(attn, share, "special_share")


def first_token_share(attn: AttentionInput,
                      query_mask: ArrayLike | None = None) -> np.ndarray | LabelledArray:
    """Mean share of attention on the first key (an attention sink / [CLS]).

    Example
    -------
    >>> first_token_share(np.array([[1.0, 0.0], [0.4, 0.6]]))
    array([[0.7]])
    """
    n_keys = as_distributions(attn).shape[-1]
    share = special_share(attn, np.arange(n_keys) == 0, query_mask)
    return label_heads(attn, share, "first_token_share")


def delimiter_mask(tokens: Sequence, delimiters: Sequence[str] = DELIMITERS) -> np.ndarray:
    """Boolean mask of tokens whose (stripped) label is a delimiter.

    Example
    -------
    >>> delimiter_mask(["[CLS]", "hi", ",", "you", "[SEP]"]).tolist()
    [False, False, True, False, True]
    """
    wanted = set(delimiters)
    return np.array([str(t).strip() in wanted or str(t) in wanted for t in tokens], dtype=bool)


def delimiter_share(
    attn: AttentionInput,
    tokens: Sequence | None = None,
    delimiters: Sequence[str] = DELIMITERS,
    query_mask: ArrayLike | None = None,
) -> np.ndarray | LabelledArray:
    """Mean share of attention on delimiter tokens ([SEP], ``.``, ``,`` ...).

    Token labels come from ``tokens`` or the grid's TokenAxis.

    Example
    -------
    >>> delimiter_share(np.array([[0.2, 0.8], [0.4, 0.6]]), tokens=["a", "."])
    array([[0.7]])
    """
    n_keys = as_distributions(attn).shape[-1]
    labels = token_labels(attn, tokens, n_keys)
    if labels is None:
        raise MultiattnValueError(
            "delimiter_share needs token labels: pass tokens= or a grid with a TokenAxis")
    share = special_share(attn, delimiter_mask(labels, delimiters), query_mask)
    return label_heads(attn, share, "delimiter_share")


_METRICS = ("cosine", "js")


def head_similarity(attn: AttentionInput, metric: str = "cosine",
                    query_mask: ArrayLike | None = None) -> np.ndarray:
    """Pairwise similarity of all heads, flattened layer-major to ``L * H``.

    ``cosine``: cosine of the two heads' attention matrices (eligible rows
    only) flattened to vectors.  ``js``: ``1 - JS / log 2`` averaged over
    the rows eligible in both heads, where JS is the Jensen-Shannon
    divergence of the two rows in nats (so 1 = identical rows, 0 = disjoint
    supports).  Head ``(l, h)`` is index ``l * H + h``.

    Returns
    -------
    ndarray (L*H, L*H), symmetric, ones on the diagonal (for heads with eligible rows).

    Example
    -------
    >>> a = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    >>> head_similarity(a, "js")
    array([[1., 0.],
           [0., 1.]])
    """
    if metric not in _METRICS:
        raise MultiattnValueError(f"metric must be one of {_METRICS}, got {metric!r}")
    arr = as_distributions(attn)
    n_l, n_h, n_q, n_k = arr.shape
    eligible = valid_rows(arr, query_mask).reshape(n_l * n_h, n_q)
    heads = arr.reshape(n_l * n_h, n_q, n_k) * eligible[..., None]
    if metric == "cosine":
        flat = heads.reshape(n_l * n_h, -1)
        norms = np.linalg.norm(flat, axis=1)
        norms = np.where(norms > 0, norms, 1.0)
        return (flat @ flat.T) / np.outer(norms, norms)
    row_ent = _row_entropy(heads)
    sim = np.empty((n_l * n_h, n_l * n_h))
    for i in range(n_l * n_h):
        js = _row_entropy(0.5 * (heads[i][None] + heads[i:])) - 0.5 * (row_ent[i][None] + row_ent[i:])
        both = eligible[i][None] & eligible[i:]
        with np.errstate(invalid="ignore"):
            sim[i, i:] = 1.0 - (np.where(both, js, 0.0).sum(-1) / both.sum(-1)) / np.log(2.0)
        sim[i:, i] = sim[i, i:]
    return np.clip(sim, 0.0, 1.0)


def head_diversity(
    attn: AttentionInput, metric: str = "cosine", by_layer: bool = False, query_mask: ArrayLike | None = None
) -> float | np.ndarray | LabelledArray:
    """``1 - mean off-diagonal`` :func:`head_similarity`.

    0 when all heads are identical; near 1 when they attend to disjoint keys.
    ``by_layer=True`` compares heads within each layer only and returns ``(L,)``.

    Example
    -------
    >>> a = np.array([[[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]]])
    >>> head_diversity(a)
    1.0
    """
    arr = as_distributions(attn)
    n_l, n_h = arr.shape[:2]
    if by_layer:
        if n_h < 2:
            raise MultiattnValueError("head diversity within a layer needs at least 2 heads")
        per_layer = [head_diversity(arr[l : l + 1], metric, query_mask=query_mask) for l in range(n_l)]
        return label_layers(attn, np.array(per_layer), "head_diversity")
    if n_l * n_h < 2:
        raise MultiattnValueError("head diversity needs at least 2 heads")
    sim = head_similarity(arr, metric, query_mask)
    off = ~np.eye(len(sim), dtype=bool)
    return float(1.0 - np.nanmean(sim[off]))
