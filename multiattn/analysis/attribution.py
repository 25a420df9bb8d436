"""Attention vs gradient attribution: the "is attention explanation?" table.

Jain & Wallace (2019) and Wiegreffe & Pinter (2019) ask whether attention
weights rank input tokens like gradient-based attributions do.  This module
compares per-token vectors by Spearman rank correlation (numpy only); the
gradients themselves come from :mod:`multiattn.adapters.gradients`.

Per-layer attention maps of one query (the output token being explained) are
built from a grid by :func:`layer_attention_maps`: the raw head-mean attention
of each layer, the rollout up to that layer and the attention flow up to that
layer (Abnar & Zuidema 2020).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnIndexError, MultiattnValueError

from ._arrays import as_distributions
from .flow import attention_flow
from .rollout import rollout

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ArrayLike, AttentionInput

__all__ = ["MAP_KINDS", "attribution_agreement", "layer_attention_maps", "spearman"]

#: Kinds of attention map built per layer by :func:`layer_attention_maps`.
MAP_KINDS = ("raw", "rollout", "flow")


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..N with ties given their average rank."""
    order = np.argsort(values, kind="stable")
    sorted_vals = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_vals[1:] != sorted_vals[:-1]])
    ends = np.r_[starts[1:], values.size]
    mean_rank = (starts + ends + 1) / 2.0  # average of 1-based ranks start+1 .. end
    ranks = np.empty(values.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _vector(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise MultiattnValueError(f"{name} must be a 1-D vector (one value per token), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise MultiattnValueError(f"{name} contains NaN or inf; check the gradients / attention it came from")
    return arr


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Spearman rank correlation of two vectors (ties get average ranks).

    Parameters
    ----------
    a, b : array_like (N,)
        Scores of the same ``N`` positions.

    Returns
    -------
    float
        In [-1, 1]; NaN when either vector is constant (no ranking to compare).

    Raises
    ------
    ValueError
        Vectors that are not 1-D, differ in length, have fewer than 2 values or contain NaN.

    Example
    -------
    >>> spearman([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 40.0, 30.0])
    0.8
    """
    x, y = _vector(a, "a"), _vector(b, "b")
    if x.shape != y.shape:
        raise MultiattnValueError(
            f"spearman needs vectors of equal length, got {x.shape[0]} and {y.shape[0]}")
    if x.size < 2:
        raise MultiattnValueError(f"spearman needs at least 2 values, got {x.size}")
    rx, ry = _ranks(x) - (x.size + 1) / 2.0, _ranks(y) - (y.size + 1) / 2.0
    denom = np.sqrt((rx @ rx) * (ry @ ry))
    return float(np.clip((rx @ ry) / denom, -1.0, 1.0)) if denom > 0 else float("nan")


def attribution_agreement(
    attributions: Mapping[str, ArrayLike],
    attention_maps: Mapping[str, ArrayLike],
    *,
    absolute: bool = True,
    exclude: ArrayLike | None = None,
) -> list[dict]:
    """Spearman correlation of every attribution with every attention map.

    Parameters
    ----------
    attributions : dict name -> (N,)
        Per-token attributions (gradient x input, integrated gradients...).
    attention_maps : dict name -> (N,)
        Per-token attention of the same output token (raw, rollout, flow per layer).
    absolute : bool
        Rank attributions by magnitude ``|a|`` (default): attention is
        non-negative and says how much, not in which direction.
    exclude : bool array (N,), optional
        Positions left out of every ranking (e.g. special tokens, which draw
        most attention while carrying no content).

    Returns
    -------
    list of dict
        One row per attention map, in the given order:
        ``{"map": name, <attribution name>: rho, ...}``.

    Raises
    ------
    ValueError
        Empty inputs, vectors of different lengths, a bad ``exclude`` mask or
        fewer than 2 positions left after excluding.

    Example
    -------
    >>> rows = attribution_agreement({"grad": [0.1, -0.5, 0.9]}, {"raw L0": [0.2, 0.5, 0.3]})
    >>> rows
    [{'map': 'raw L0', 'grad': 0.5}]
    """
    if not attributions or not attention_maps:
        raise MultiattnValueError(
            "attribution_agreement needs at least one attribution and one attention map")
    attrs = {name: _vector(v, f"attribution {name!r}") for name, v in attributions.items()}
    maps = {name: _vector(v, f"attention map {name!r}") for name, v in attention_maps.items()}
    lengths = {v.size for v in [*attrs.values(), *maps.values()]}
    if len(lengths) != 1:
        raise MultiattnValueError(
            f"attributions and attention maps must cover the same tokens, got lengths {sorted(lengths)}"
        )
    n = lengths.pop()
    keep = np.ones(n, dtype=bool)
    if exclude is not None:
        mask = np.asarray(exclude)
        if mask.dtype != bool or mask.shape != (n,):
            raise MultiattnValueError(
                f"exclude must be a boolean mask of shape ({n},), got {mask.dtype} {mask.shape}")
        keep = ~mask
    if keep.sum() < 2:
        raise MultiattnValueError(f"only {int(keep.sum())} positions left after excluding; need at least 2")
    rows = []
    for map_name, weights in maps.items():
        row: dict = {"map": map_name}
        for attr_name, attr in attrs.items():
            scores = np.abs(attr) if absolute else attr
            row[attr_name] = spearman(scores[keep], weights[keep])
        rows.append(row)
    return rows


def layer_attention_maps(
    attn: AttentionInput, query: int, *, kinds: tuple[str, ...] = MAP_KINDS, residual: float = 0.5
) -> dict[str, np.ndarray]:
    """Attention of one query, per layer: raw head-mean, rollout and flow up to that layer.

    Parameters
    ----------
    attn : AttentionGrid or array (L, H, N, N)
        Self-attention of all layers, bottom first.
    query : int
        The output position explained (0 = [CLS] for BERT; negative counts from the end).
    kinds : tuple of {"raw", "rollout", "flow"}
        Which maps to build.
    residual : float
        Identity weight of rollout and flow (0.5 as in Abnar & Zuidema).

    Returns
    -------
    dict
        ``"raw L3"``, ``"rollout L3"``, ``"flow L3"``... -> ``(N,)`` float64
        (each sums to one), kind-major then layer order.

    Example
    -------
    >>> maps = layer_attention_maps(np.full((2, 1, 3, 3), 1 / 3), 0)
    >>> list(maps)
    ['raw L0', 'raw L1', 'rollout L0', 'rollout L1', 'flow L0', 'flow L1']
    """
    unknown = set(kinds) - set(MAP_KINDS)
    if unknown or not kinds:
        raise MultiattnValueError(f"kinds must be a non-empty subset of {MAP_KINDS}, got {kinds}")
    arr = as_distributions(attn)
    n_layers, n_tok = arr.shape[0], arr.shape[-1]
    if not -n_tok <= query < n_tok:
        raise MultiattnIndexError(f"query {query} out of range for {n_tok} tokens")
    q = query % n_tok
    builders = {
        "raw": lambda layer: arr[layer].mean(0)[q],
        "rollout": lambda layer: rollout(arr[: layer + 1], residual=residual)[q],
        "flow": lambda layer: attention_flow(arr[: layer + 1], residual=residual, outputs=q),
    }
    return {f"{kind} L{layer}": builders[kind](layer) for kind in kinds for layer in range(n_layers)}
