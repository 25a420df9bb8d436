"""Head-type detection: what kind of pattern each attention head implements.

Every score is in [0, 1] and is the mean, over eligible queries (not
masked, see :mod:`multiattn.analysis.metrics`), of the attention mass a
query puts on the position the pattern predicts:

==================  ==========================================================
type                score
==================  ==========================================================
``previous_token``  ``a[i, i-1]`` over queries ``i >= 1``
``next_token``      ``a[i, i+1]`` over queries ``i <= N-2``
``self``            ``a[i, i]`` (causal attention: over queries ``i >= 1``)
``first_token``     ``a[i, 0]`` over queries ``i >= 1`` (attention sink / [CLS])
``delimiter``       mass on delimiter keys ([SEP], ``.``, ``,`` ...; needs tokens)
``offset``          ``a[i, i+k]`` for the best fixed offset ``2 <= |k| <= max_offset``
                    over queries where ``i+k`` exists (``k`` is reported)
``induction``       ``a[i, p+1]`` where ``p < i`` is the previous occurrence of
                    token ``i`` and ``p+1 < i``, over queries with such a ``p``
                    (needs tokens with a repeated part: at least
                    ``min_induction_queries`` such queries, else NaN)
``duplicate_token`` mass on every earlier position ``p < i`` holding the same token
                    as ``i``, over queries with such a ``p`` (at least
                    ``min_induction_queries`` of them, else NaN); TransformerLens's
                    third detector, scored per query like the others
``broad``           normalised row entropy (1 = uniform over the allowed keys)
``peaked``          largest weight of the row (top-1 concentration)
``local``           share within ``window`` positions (patch units on a PatchAxis)
==================  ==========================================================

A score that cannot be computed (no tokens, no repeats, no delimiter) is NaN.

Verdict: among the *specific* types (previous, next, self, first-token,
delimiter, offset, induction, duplicate-token) the highest score wins if it
reaches ``threshold``; an induction or duplicate-token score within ``margin``
of the offset score beats it, because on a periodic sequence both are also
fixed-offset heads.  Otherwise the head is ``broad`` if its normalised entropy
reaches ``broad_threshold``, else the higher of ``local`` and ``peaked`` if
it reaches ``threshold``, else ``mixed`` (score: its highest score of any type).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from ._arrays import (
    as_distributions,
    is_causal,
    label_heads,
    mean_over_rows,
    require_self_attention,
    token_labels,
    valid_rows,
)
from .metrics import delimiter_mask, head_entropy, locality, topk_concentration

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput
    from ..labelled import LabelledArray

__all__ = ["HEAD_TYPES", "SPECIFIC_TYPES", "head_type_scores", "head_types"]

#: Specific (positional or token-defined) types, in order of precedence on ties.
SPECIFIC_TYPES = ("induction", "duplicate_token", "previous_token", "next_token", "self", "first_token",
                  "delimiter", "offset")
#: Every type a head can be assigned.
HEAD_TYPES = SPECIFIC_TYPES + ("broad", "local", "peaked", "mixed")


def _offset_score(arr: np.ndarray, offset: int, eligible: np.ndarray) -> np.ndarray:
    """Mean ``a[i, i+offset]`` over eligible queries where ``i+offset`` exists -> (L, H)."""
    n = arr.shape[-1]
    diag = np.diagonal(arr, offset=offset, axis1=2, axis2=3)
    queries = np.arange(max(0, -offset), n - max(0, offset))
    return mean_over_rows(diag, eligible[..., queries])


def _induction_targets(tokens: list) -> np.ndarray:
    """For each position the index right after the previous occurrence of its token; -1 if none."""
    last: dict = {}
    targets = np.full(len(tokens), -1)
    for i, tok in enumerate(tokens):
        if tok in last and last[tok] + 1 < i:
            targets[i] = last[tok] + 1
        last[tok] = i
    return targets


def _duplicate_mask(tokens: list) -> np.ndarray:
    """``(N, N)`` bool: ``[i, p]`` is True where ``p < i`` holds the same token as ``i``.

    Examples
    --------
    >>> _duplicate_mask(["a", "b", "a", "a"]).astype(int)[3]
    array([1, 0, 1, 0])
    """
    codes = np.unique(np.asarray([str(t) for t in tokens]), return_inverse=True)[1]
    same = codes[:, None] == codes[None, :]
    return np.tril(same, k=-1)


def head_type_scores(
    attn: AttentionInput,
    tokens: Sequence | None = None,
    *,
    window: int = 2,
    max_offset: int | None = None,
    min_induction_queries: int = 3,
    query_mask: ArrayLike | None = None,
) -> dict[str, np.ndarray | LabelledArray]:
    """Score of every head for every type (the full table behind :func:`head_types`).

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention.
    tokens : sequence, optional
        Token ids or labels, one per position (induction and delimiter
        scores); default the labels of a grid's TokenAxis.
    window : int
        Half-width of the ``local`` window.
    max_offset : int, optional
        Largest ``|k|`` tried for the ``offset`` type; default ``N // 2``.
    min_induction_queries : int
        Fewest queries with an earlier occurrence of their token for an
        induction score (one repeated word in a sentence is too little evidence).
    query_mask : bool array (N,), optional
        Queries to include (False on padding).

    Returns
    -------
    dict
        Type name -> ``(L, H)`` float array of scores (see the module
        docstring), plus ``"offset_k"`` -> ``(L, H)`` int array, the best offset.
        For a grid each is a LabelledArray over its layers and heads.

    Example
    -------
    >>> prev = np.eye(4, k=-1); prev[0, 0] = 1
    >>> head_type_scores(prev)["previous_token"]
    array([[1.]])
    """
    require_self_attention(attn, "head-type detection")
    arr = as_distributions(attn)
    n = arr.shape[-1]
    eligible = valid_rows(arr, query_mask)
    scores = {
        "previous_token": _offset_score(arr, -1, eligible),
        "next_token": _offset_score(arr, 1, eligible),
        # a causal query 0 can only attend to itself: no evidence for any type
        "self": _offset_score(arr, 0, eligible & ~((np.arange(n) == 0) & is_causal(arr))),
        "first_token": mean_over_rows(arr[..., 0], eligible & (np.arange(n) >= 1)),
    }
    max_offset = n // 2 if max_offset is None else int(max_offset)
    offsets = [k for k in range(-max_offset, max_offset + 1) if abs(k) >= 2 and abs(k) < n]
    if offsets:
        table = np.stack([_offset_score(arr, k, eligible) for k in offsets])
        best = np.nanargmax(np.nan_to_num(table, nan=-1.0), axis=0)
        scores["offset"] = np.take_along_axis(table, best[None], 0)[0]
        offset_k = np.asarray(offsets)[best]
    else:
        scores["offset"] = np.full(arr.shape[:2], np.nan)
        offset_k = np.zeros(arr.shape[:2], dtype=int)
    labels = token_labels(attn, tokens, n)
    nan = np.full(arr.shape[:2], np.nan)
    scores["delimiter"] = nan.copy()
    scores["induction"] = nan.copy()
    scores["duplicate_token"] = nan.copy()
    if labels is not None:
        delim = delimiter_mask(labels)
        if delim.any():
            scores["delimiter"] = mean_over_rows(arr[..., delim].sum(-1), eligible)
        targets = _induction_targets(labels)
        has = targets >= 0
        if has.sum() >= max(1, min_induction_queries):
            on_target = np.zeros(arr.shape[:3])
            q = np.flatnonzero(has)
            on_target[..., q] = arr[..., q, targets[q]]
            scores["induction"] = mean_over_rows(on_target, eligible & has)
        duplicates = _duplicate_mask(labels)
        has_dup = duplicates.any(-1)
        if has_dup.sum() >= max(1, min_induction_queries):
            on_duplicates = np.where(duplicates, arr, 0.0).sum(-1)
            scores["duplicate_token"] = mean_over_rows(on_duplicates, eligible & has_dup)
    scores["broad"] = head_entropy(arr, normalized=True, query_mask=query_mask)
    scores["peaked"] = topk_concentration(arr, 1, query_mask=query_mask)
    scores["local"] = locality(attn, window, query_mask=query_mask)
    scores["offset_k"] = offset_k
    return {name: label_heads(attn, table, name) for name, table in scores.items()}


def _verdict(
    scores: dict[str, float], threshold: float, broad_threshold: float, margin: float
) -> tuple[str, float]:
    specific = {t: scores[t] for t in SPECIFIC_TYPES if np.isfinite(scores[t])}
    if specific:
        best = max(specific, key=lambda t: (specific[t], -SPECIFIC_TYPES.index(t)))
        if best == "offset":  # a periodic sequence makes induction / duplicate heads fixed-offset heads
            token_defined = [t for t in ("induction", "duplicate_token") if t in specific]
            rival = max(token_defined, key=specific.get, default=None)
            if rival is not None and specific[rival] >= specific["offset"] - margin:
                best = rival
        if specific[best] >= threshold:
            return best, specific[best]
    if np.isfinite(scores["broad"]) and scores["broad"] >= broad_threshold:
        return "broad", scores["broad"]
    shape = {t: scores[t] for t in ("local", "peaked") if np.isfinite(scores[t])}
    if shape and max(shape.values()) >= threshold:
        best = max(shape, key=shape.get)
        return best, shape[best]
    finite = [v for v in scores.values() if np.isfinite(v)]
    return "mixed", max(finite) if finite else 0.0


def head_types(
    attn: AttentionInput,
    tokens: Sequence | None = None,
    *,
    threshold: float = 0.5,
    broad_threshold: float = 0.8,
    margin: float = 0.1,
    window: int = 2,
    max_offset: int | None = None,
    min_induction_queries: int = 3,
    query_mask: ArrayLike | None = None,
) -> list[dict]:
    """Classify every head: one row per head with its dominant type and all scores.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention.
    tokens : sequence, optional
        Token ids or labels (default: a grid's TokenAxis labels) for the
        induction and delimiter types.
    threshold : float
        Minimum score for a specific type, ``local`` or ``peaked``.
    broad_threshold : float
        Minimum normalised entropy for ``broad``.
    margin : float
        Induction wins over an offset head scoring at most this much higher.
    window, max_offset, min_induction_queries, query_mask
        As in :func:`head_type_scores`.

    Returns
    -------
    list of dict
        ``{"layer": int, "head": int, "type": str, "score": float,
        "offset": int | None, "scores": {type: float | None}}``, layer-major.
        ``offset`` is the best ``k`` for offset heads, None otherwise;
        uncomputable scores are None (JSON-ready).

    Example
    -------
    >>> prev = np.eye(4, k=-1); prev[0, 0] = 1
    >>> row = head_types(prev)[0]
    >>> row["type"], row["score"]
    ('previous_token', 1.0)
    """
    table = head_type_scores(attn, tokens, window=window, max_offset=max_offset,
                             min_induction_queries=min_induction_queries, query_mask=query_mask)
    offset_k = table.pop("offset_k")
    n_layers, n_heads = offset_k.shape
    rows = []
    for layer in range(n_layers):
        for head in range(n_heads):
            scores = {t: float(table[t][layer, head]) for t in table}
            kind, score = _verdict(scores, threshold, broad_threshold, margin)
            rows.append({
                "layer": layer,
                "head": head,
                "type": kind,
                "score": float(score),
                "offset": int(offset_k[layer, head]) if kind == "offset" else None,
                "scores": {t: (v if np.isfinite(v) else None) for t, v in scores.items()},
            })
    return rows
