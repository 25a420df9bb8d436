"""One JSON-ready report of every analysis on a grid (what ``multiattn analyze`` writes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..grid import AttentionGrid
from ..labelled import LabelledArray
from ._arrays import as_distributions, axes_of
from .diagnostics import diagnose
from .heads import head_types
from .metrics import (
    attention_distance,
    first_token_share,
    head_diversity,
    head_entropy,
    locality,
    special_share,
    topk_concentration,
)

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput

__all__ = ["analysis_report", "jsonable"]


def jsonable(value: Any) -> Any:
    """Arrays (plain or labelled) to nested lists, numpy scalars to Python, NaN/inf to None (valid JSON).

    A :class:`~multiattn.LabelledArray` becomes its nested list of values (its
    labels are not written; use its ``to_records()`` for a labelled table).

    Example
    -------
    >>> jsonable({"a": np.array([1.0, np.nan]), "b": np.int64(2)})
    {'a': [1.0, None], 'b': 2}
    >>> jsonable(LabelledArray([[0.5, np.inf]], ("layer", "head")))
    [[0.5, None]]
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, LabelledArray)):
        return jsonable(value.tolist())
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, (np.integer, np.bool_)):
        return value.item()
    return value


def analysis_report(
    attn: AttentionInput,
    *,
    tokens: Sequence | None = None,
    padding_mask: ArrayLike | None = None,
    query_mask: ArrayLike | None = None,
) -> dict:
    """Per-head metrics, head types, head diversity and diagnostics in one dict.

    Self-attention gets everything; cross-attention (or non-square arrays)
    gets the metrics that need no shared positions (entropy, top-1 weight,
    first-token and special-token share) and the diagnostics.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, Q, K)
    tokens : sequence, optional
        Token ids or labels for induction / delimiter scores (default: a TokenAxis' labels).
    padding_mask, query_mask : bool arrays, optional
        As in :func:`~multiattn.analysis.diagnose`.

    Returns
    -------
    dict
        JSON-ready: ``shape``, ``kind``, ``layers``, ``heads``, ``per_head``
        (name -> ``(L, H)`` nested lists, units in the names), ``head_types``
        (self-attention), ``head_diversity_by_layer`` and ``diagnostics``.

    Example
    -------
    >>> report = analysis_report(np.full((2, 3, 4, 4), 0.25))
    >>> report["per_head"]["entropy_normalized"][0]
    [1.0, 1.0, 1.0]
    >>> sorted(report)[:3]
    ['diagnostics', 'head_diversity_by_layer', 'head_types']
    """
    arr = as_distributions(attn)
    n_layers, n_heads, n_q, n_k = arr.shape
    query_axis, key_axis = axes_of(attn)
    is_self = n_q == n_k and not (isinstance(attn, AttentionGrid) and attn.kind == "cross")
    per_head = {
        "entropy_nats": head_entropy(arr, query_mask=query_mask),
        "entropy_normalized": head_entropy(arr, normalized=True, query_mask=query_mask),
        "top1_weight": topk_concentration(arr, 1, query_mask=query_mask),
        "first_token_share": first_token_share(arr, query_mask=query_mask),
    }
    if key_axis is not None and key_axis.special_mask.any():
        per_head["special_share"] = special_share(attn, query_mask=query_mask)
    report: dict[str, Any] = {
        "shape": list(arr.shape),
        "kind": "self" if is_self else "cross",
        "layers": list(attn.layers) if isinstance(attn, AttentionGrid) else list(range(n_layers)),
        "heads": list(attn.heads) if isinstance(attn, AttentionGrid) else list(range(n_heads)),
        "query_axis": None if query_axis is None else type(query_axis).__name__,
        "key_axis": None if key_axis is None else type(key_axis).__name__,
    }
    if is_self:
        unit = "positions" if query_axis is None else f"{type(query_axis).__name__} units"
        per_head[f"attention_distance ({unit})"] = attention_distance(attn, query_mask=query_mask)
        per_head[f"share_within_2 ({unit})"] = locality(attn, 2, query_mask=query_mask)
        report["head_types"] = head_types(attn, tokens, query_mask=query_mask)
    if n_heads > 1:
        report["head_diversity_by_layer"] = head_diversity(arr, by_layer=True, query_mask=query_mask)
    report["diagnostics"] = diagnose(attn, padding_mask=padding_mask, query_mask=query_mask)
    report["per_head"] = per_head
    return jsonable(report)
