"""Diagnostics: failure patterns users debug, each with a score and a verdict in words.

Checks (each per head; a check's ``score`` is its worst head's value):

``collapse``
    ``max_j mean_i a_ij``: the share of every query's attention that lands on
    one common key.  Flagged at ``>= collapse_threshold``.
``uniform``
    Normalised row entropy (1 = uniform over the allowed keys). Flagged at
    ``>= uniform_threshold``.
``padding``
    Mean share of attention on padding keys (from ``padding_mask`` or
    ``[PAD]``-like labels of a TokenAxis). Flagged above ``padding_threshold``.
``position_bias``
    How well position alone explains the head (:func:`position_bias`: each
    row predicted from the head's mean attention per offset ``j - i`` or per
    key position; ``1 - mean total-variation distance``).  Flagged at
    ``>= position_threshold`` unless the head is uniform (self-attention only).
``redundant``
    Cosine :func:`~multiattn.analysis.head_similarity` of head pairs; heads
    linked by a similarity ``>= redundancy_threshold`` form a group (connected
    components), and the groups are reported.
``sinks``
    :func:`sink_tokens`: key positions that receive ``>= sink_ratio`` times a uniform
    share from nearly every query of a head, whatever the query (ViTs and LLMs alike).
    CLS / BOS / registers as sinks are normal; a *content* position acting as a sink is an
    artifact (DINOv2's high-norm background patches, Darcet et al. 2023, "Vision
    Transformers Need Registers"): one saturated patch that must not be read as "the object".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ..axes import TokenAxis
from ..labelled import LabelledArray
from ._arrays import as_distributions, axes_of, is_causal, label_heads, mean_over_rows, valid_rows
from .metrics import head_entropy, head_similarity, special_share

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput

__all__ = ["PAD_TOKENS", "diagnose", "position_bias", "sink_tokens"]

#: Labels treated as padding when no ``padding_mask`` is given.
PAD_TOKENS = frozenset({"[PAD]", "<pad>", "<|pad|>", "<PAD>"})


def _fit(arr: np.ndarray, predicted: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """``1 - mean TV distance`` between rows and their row-renormalised prediction."""
    sums = predicted.sum(-1, keepdims=True)
    predicted = np.divide(predicted, sums, out=np.zeros_like(predicted), where=sums > 0)
    tv = 0.5 * np.abs(arr - predicted).sum(-1)
    return 1.0 - mean_over_rows(tv, eligible)


_BIAS_KINDS = ("relative", "absolute", "max")


def position_bias(attn: AttentionInput, kind: str = "max",
                  query_mask: ArrayLike | None = None) -> np.ndarray | LabelledArray:
    """Share of each head's attention explained by position alone -> (L, H).

    ``relative``: the head's offset profile ``p(d)`` is its mean weight
    ``a[i, i+d]`` over eligible queries; row ``i`` is predicted as
    ``p(j - i)``.  ``absolute``: row ``i`` is predicted as the head's mean
    row (the same key positions for every query).  Predictions are zeroed on
    keys a causal query cannot see and renormalised per row; the score is
    ``1 - mean_i TV(a_i, prediction_i)`` (TV = half the L1 distance).
    ``max`` takes the better of the two.  1: content-independent (a
    fixed-offset, sink or uniform head); low: where the head looks depends on
    the content.

    Example
    -------
    >>> prev = np.eye(4, k=-1); prev[0, 0] = 1
    >>> position_bias(prev, "relative").round(3)
    array([[0.85]])
    """
    if kind not in _BIAS_KINDS:
        raise MultiattnValueError(f"kind must be one of {_BIAS_KINDS}, got {kind!r}")
    arr = as_distributions(attn)
    n_q, n = arr.shape[-2:]
    if n_q != n:
        raise MultiattnValueError(f"position bias needs square self-attention, got {n_q} x {n}")
    eligible = valid_rows(arr, query_mask)
    visible = np.tril(np.ones((n, n))) if is_causal(arr) else np.ones((n, n))
    scores = []
    if kind in ("relative", "max"):
        offsets = np.arange(-(n - 1), n)
        profile = np.zeros(arr.shape[:2] + (2 * n - 1,))
        for idx, d in enumerate(offsets):
            diag = np.diagonal(arr, offset=d, axis1=2, axis2=3)
            queries = np.arange(max(0, -d), n - max(0, d))
            profile[..., idx] = np.nan_to_num(mean_over_rows(diag, eligible[..., queries]))
        rel = np.arange(n)[None, :] - np.arange(n)[:, None] + (n - 1)
        scores.append(_fit(arr, profile[..., rel] * visible, eligible))
    if kind in ("absolute", "max"):
        mean_row = np.nan_to_num(mean_over_rows(np.moveaxis(arr, 3, 2), eligible[:, :, None, :]))
        scores.append(_fit(arr, mean_row[:, :, None, :] * visible, eligible))
    return label_heads(attn, np.fmax.reduce(scores), f"position_bias ({kind})")


def _sink_scores(arr: np.ndarray, eligible: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Per ``(L, H, K)``: mean times-uniform share received, and the share of queries giving >= ratio x."""
    allowed = np.maximum((arr > 0).sum(-1, keepdims=True), 1)  # keys each row may see (causal, padding)
    times = arr * allowed  # 1 = a uniform share of that row
    # rows that see too few keys (early causal rows) cannot give ratio x a uniform share: they abstain
    weight = (eligible[..., None] & (allowed > ratio)).astype(np.float64)
    n = np.maximum(weight.sum(2), 1)
    mean_times = (times * weight).sum(2) / n
    consistent = ((times >= ratio) * weight).sum(2) / n
    return mean_times, consistent


def sink_tokens(attn: AttentionInput, *, ratio: float = 5.0, consistency: float = 0.9, min_heads: int = 2,
                dominant: float = 0.5, query_mask: ArrayLike | None = None) -> list[dict]:
    """Attention sinks / artifact tokens: keys that soak up attention whatever the query.

    A key ``k`` is a sink in head ``(l, h)`` when at least ``consistency`` of the head's
    queries give it ``>= ratio`` times a uniform share (``1 / keys the row can see``, so
    causal and padded rows are fair).  The content of the query does not matter to such a
    key, which is what separates a sink from a key that is merely relevant to some queries.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, Q, K)
    ratio : float
        Times a uniform share a query must give the key.
    consistency : float
        Share of the head's (eligible) queries that must do so.
    min_heads : int
        Heads (over all layers) in which a key must be a sink to be reported (with one
        head, a lone positional head would count; 1 reports every such head) ...
    dominant : float
        ... unless in one head it takes at least this mean share of every query's attention.
    query_mask : bool array (Q,), optional
        Queries to include.

    Returns
    -------
    list of dict
        One per sink key, most heads first: ``{"position", "label", "prefix"`` (True for
        CLS / registers / special tokens), ``"times_uniform"`` (the largest mean over heads),
        ``"share"`` (the largest mean share of a query's attention), ``"heads"``
        (``[layer, head]`` where it is a sink), ``"layers"``}.

    Example
    -------
    >>> a = np.full((1, 2, 6, 6), 0.02); a[..., 3] = 0.9
    >>> [(s["position"], s["heads"]) for s in sink_tokens(a)]
    [(3, [[0, 0], [0, 1]])]
    """
    if ratio <= 1 or not 0 < consistency <= 1 or min_heads < 1:
        raise MultiattnValueError(f"need ratio > 1, 0 < consistency <= 1 and min_heads >= 1, got {ratio}, "
                                  f"{consistency}, {min_heads}")
    arr = as_distributions(attn)
    _, key_axis = axes_of(attn)
    labels = key_axis.labels if key_axis is not None else tuple(str(i) for i in range(arr.shape[-1]))
    special = np.asarray(key_axis.special_mask) if key_axis is not None else np.zeros(arr.shape[-1], bool)
    mean_times, consistent = _sink_scores(arr, valid_rows(arr, query_mask), ratio)
    flags = (consistent >= consistency) & (mean_times >= ratio)
    mean_share = mean_times / np.maximum((arr > 0).sum(-1).max(-1), 1)[..., None]
    out = []
    strong = (flags & (mean_share >= dominant)).any(axis=(0, 1))
    for k in np.flatnonzero((flags.sum(axis=(0, 1)) >= min_heads) | strong):
        heads = _pairs(flags[..., k])
        out.append({"position": int(k), "label": str(labels[k]), "prefix": bool(special[k]),
                    "times_uniform": float(mean_times[..., k].max()),
                    "share": float(mean_share[..., k].max()),
                    "heads": heads, "layers": sorted({h[0] for h in heads})})
    return sorted(out, key=lambda s: (-len(s["heads"]), s["position"]))


def _check_sinks(attn, query_mask, ratio) -> dict:
    sinks = sink_tokens(attn, ratio=ratio, query_mask=query_mask)
    content = [s for s in sinks if not s["prefix"]]
    if not sinks:
        verdict = f"ok: no key receives >= {ratio:g}x a uniform share from nearly every query"
    else:
        named = ", ".join(f"{s['label']!r} ({len(s['heads'])} heads)" for s in sinks[:6])
        verdict = f"{len(sinks)} attention sink(s): {named}" + (
            f"; {len(content)} are content positions that nearly every query attends to: candidate "
            "artifact tokens (high-norm patches as in 'Vision Transformers Need Registers'); mark or "
            "mask them before reading a map as the object"
            if content else "; all are prefix / special tokens, which is normal")
    result = _result("sinks", max((s["times_uniform"] for s in sinks), default=None), verdict,
                     sorted({tuple(h) for s in sinks for h in s["heads"]}), ratio)
    result["heads"] = [list(h) for h in result["heads"]]
    result["tokens"] = sinks
    return result


def _worst(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else None


def _pairs(flags: np.ndarray) -> list[list[int]]:
    return [[int(l), int(h)] for l, h in np.argwhere(flags)]


def _result(check: str, score: float | None, verdict: str, heads: list, threshold: float) -> dict:
    return {"check": check, "score": score, "threshold": threshold, "verdict": verdict, "heads": heads}


def _count(flags: np.ndarray) -> str:
    return f"{int(flags.sum())} of {flags.size} heads"


def _padding_keys(attn: AttentionInput, padding_mask: ArrayLike | None, n_keys: int) -> np.ndarray | None:
    if padding_mask is None:
        _, key_axis = axes_of(attn)
        if not isinstance(key_axis, TokenAxis):
            return None
        mask = np.array([label in PAD_TOKENS for label in key_axis.labels])
        return mask if mask.any() else None
    mask = np.asarray(padding_mask, dtype=bool)
    if mask.shape != (n_keys,):
        raise MultiattnValueError(
            f"padding_mask must have shape ({n_keys},) (True on padding keys), got {mask.shape}")
    return mask


def _check_collapse(arr, eligible, labels, threshold) -> dict:
    counts = np.maximum(eligible.sum(-1), 1)[..., None]
    mean_cols = (arr * eligible[..., None]).sum(2) / counts  # (L, H, K): mean row per head
    score, target = mean_cols.max(-1), mean_cols.argmax(-1)
    flags = score >= threshold
    if not flags.any():
        verdict = f"ok: no head puts >= {threshold:.0%} of every query's attention on one token"
    else:
        common = np.bincount(target[flags]).argmax()
        verdict = (
            f"{_count(flags)} collapse onto one token (mostly {labels[common]!r}, position {common}): "
            "a no-op 'sink' in a few heads is normal; in most heads it means the layer passes "
            "little information (check masking, scaling and training)"
        )
    return _result("collapse", _worst(score), verdict, _pairs(flags), threshold)


def _check_uniform(entropy, threshold) -> dict:
    flags = np.nan_to_num(entropy) >= threshold
    if not flags.any():
        verdict = f"ok: no head is near-uniform (normalised entropy < {threshold})"
    else:
        verdict = (
            f"{_count(flags)} are near-uniform (they average all tokens): normal in a few heads; "
            "many uniform heads suggest missing training, a too-large softmax temperature or "
            "queries/keys that carry no information"
        )
    return _result("uniform", _worst(entropy), verdict, _pairs(flags), threshold)


def _check_padding(arr, attn, padding_mask, query_mask, threshold) -> dict:
    pad = _padding_keys(attn, padding_mask, arr.shape[-1])
    if pad is None:
        return _result("padding", None, "not checked: pass padding_mask (no [PAD] tokens found)", [],
                       threshold)
    queries = ~pad if arr.shape[-2] == arr.shape[-1] else np.ones(arr.shape[-2], bool)
    if query_mask is not None:
        queries = queries & np.asarray(query_mask, dtype=bool)
    share = special_share(arr, pad, queries)
    flags = np.nan_to_num(share) > threshold
    if not flags.any():
        verdict = f"ok: real tokens put <= {threshold:.0%} of their attention on padding"
    else:
        verdict = (
            f"{_count(flags)} put more than {threshold:.0%} of their attention on padding: "
            "the attention mask is probably not applied (pass attention_mask to the model)"
        )
    return _result("padding", _worst(share), verdict, _pairs(flags), threshold)


def _check_position(arr, is_self, query_mask, uniform_flags, threshold) -> dict:
    if not is_self:
        return _result("position_bias", None, "not checked: cross-attention has no relative position",
                       [], threshold)
    score = position_bias(arr, query_mask=query_mask)
    flags = (np.nan_to_num(score) >= threshold) & ~uniform_flags
    if not flags.any():
        verdict = "ok: every non-uniform head depends on content, not on position alone"
    else:
        verdict = (
            f"{_count(flags)} attend by position alone (a fixed offset or fixed key positions, "
            "whatever the content), e.g. previous-token or sink heads: expected in some heads; "
            "in most heads it suggests the model ignores the content"
        )
    worst = _worst(np.where(uniform_flags, np.nan, score))
    return _result("position_bias", worst, verdict, _pairs(flags), threshold)


def _check_redundant(arr, query_mask, threshold) -> dict:
    from scipy.sparse.csgraph import connected_components  # slow import, needed only here

    n_l, n_h = arr.shape[:2]
    if n_l * n_h < 2:
        return _result("redundant", None, "not checked: a single head", [], threshold)
    sim = head_similarity(arr, "cosine", query_mask)
    upper = np.triu(np.ones_like(sim, dtype=bool), k=1)
    close = upper & (sim >= threshold)
    _, component = connected_components(close, directed=False)
    groups = [np.flatnonzero(component == c) for c in np.unique(component)]
    groups = sorted((g for g in groups if g.size > 1), key=len, reverse=True)
    heads = [[[int(i // n_h), int(i % n_h)] for i in g] for g in groups]
    if not heads:
        verdict = f"ok: no two heads have cosine similarity >= {threshold}"
    else:
        largest = ", ".join(f"L{l}H{h}" for l, h in heads[0][:6]) + (", ..." if len(heads[0]) > 6 else "")
        verdict = (
            f"{sum(map(len, heads))} heads fall into {len(heads)} group(s) of near-duplicates "
            f"(cosine >= {threshold}; largest: {largest}): candidates for pruning, or heads that "
            "did not specialise (groups of sink heads are common)"
        )
    return _result("redundant", _worst(sim[upper]), verdict, heads, threshold)


def diagnose(
    attn: AttentionInput,
    *,
    padding_mask: ArrayLike | None = None,
    query_mask: ArrayLike | None = None,
    collapse_threshold: float = 0.7,
    uniform_threshold: float = 0.95,
    padding_threshold: float = 0.01,
    position_threshold: float = 0.9,
    redundancy_threshold: float = 0.95,
    sink_ratio: float = 5.0,
) -> list[dict]:
    """Run every check (see the module docstring) on a grid or ``(L, H, Q, K)`` array.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, Q, K)
    padding_mask : bool array (K,), optional
        True on padding keys; default ``[PAD]``-like labels of a TokenAxis.
    query_mask : bool array (Q,), optional
        Queries to include (padding queries are dropped automatically).
    collapse_threshold, uniform_threshold, padding_threshold, position_threshold, redundancy_threshold
        Flagging thresholds of the checks.
    sink_ratio : float
        Times a uniform share that makes a key a sink (:func:`sink_tokens`).

    Returns
    -------
    list of dict
        One per check: ``{"check", "score", "threshold", "verdict", "heads"}``;
        ``score`` is the worst head's value (None when not checked),
        ``heads`` lists flagged ``[layer, head]`` (for ``redundant``: groups,
        each a list of ``[layer, head]``, largest first); ``sinks`` adds ``"tokens"``
        (:func:`sink_tokens`' records).

    Example
    -------
    >>> report = diagnose(np.full((1, 2, 4, 4), 0.25))
    >>> [(r["check"], len(r["heads"])) for r in report][:2]
    [('collapse', 0), ('uniform', 2)]
    """
    arr = as_distributions(attn)
    _, key_axis = axes_of(attn)
    labels = key_axis.labels if key_axis is not None else tuple(str(i) for i in range(arr.shape[-1]))
    eligible = valid_rows(arr, query_mask)
    entropy = head_entropy(arr, normalized=True, query_mask=query_mask)
    uniform_flags = np.nan_to_num(entropy) >= uniform_threshold
    is_self = arr.shape[-2] == arr.shape[-1] and getattr(attn, "kind", "self") == "self"
    return [
        _check_collapse(arr, eligible, labels, collapse_threshold),
        _check_uniform(entropy, uniform_threshold),
        _check_padding(arr, attn, padding_mask, query_mask, padding_threshold),
        _check_position(arr, is_self, query_mask, uniform_flags, position_threshold),
        _check_redundant(arr, query_mask, redundancy_threshold),
        _check_sinks(attn, query_mask, sink_ratio),
    ]
