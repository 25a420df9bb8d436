"""Everything ``metrics.json`` says about a text grid: per-head metrics, head types, diagnostics.

One JSON-ready dict per grid (:func:`text_metrics`), so the CLI, the report page and a
notebook read the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..grid import AttentionGrid
from .report import jsonable

__all__ = ["text_metrics"]


def _special_share_by_layer(grid: AttentionGrid) -> dict[str, np.ndarray]:
    """Mean (over heads and queries) share of attention on each special token label, per layer."""
    from .metrics import special_share

    labels = np.asarray(grid.key.labels)
    special = grid.key.special_mask
    out = {}
    for label in dict.fromkeys(labels[special]):
        share = special_share(grid, mask=special & (labels == label))
        out[str(label)] = np.nanmean(share, axis=1)
    return out


def text_metrics(grid: AttentionGrid) -> dict[str, Any]:
    """Per-head metrics, head types, special-token share by layer and diagnostics of a text grid.

    Parameters
    ----------
    grid : AttentionGrid
        Self-attention over a TokenAxis (cross-attention grids get the per-head metrics
        that need no positions: entropy, top-1 weight, first-token share).

    Returns
    -------
    dict
        JSON-ready (NaN as None): ``model``, ``kind``, ``layers``, ``query_tokens``,
        ``key_tokens``, ``special_share_by_layer`` (label -> one value per layer),
        ``per_head`` (name -> ``(L, H)`` nested lists) and, for self-attention,
        ``head_types``, ``head_diversity_by_layer`` and ``diagnostics``.

    Examples
    --------
    >>> import numpy as np
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> axis = TokenAxis(["[CLS]", "a", "b", "[SEP]"], [1, 0, 0, 1])
    >>> report = text_metrics(AttentionGrid(np.full((2, 3, 4, 4), 0.25), axis))
    >>> np.shape(report["per_head"]["entropy_nats"]), sorted(report["special_share_by_layer"])
    ((2, 3), ['[CLS]', '[SEP]'])
    """
    from .diagnostics import diagnose
    from .heads import head_types
    from .metrics import (
        attention_distance,
        first_token_share,
        head_diversity,
        head_entropy,
        locality,
        topk_concentration,
    )

    per_head = {
        "entropy_nats": head_entropy(grid),
        "entropy_normalized": head_entropy(grid, normalized=True),
        "top1_weight": topk_concentration(grid, 1),
        "first_token_share": first_token_share(grid),
    }
    report: dict[str, Any] = {
        "model": grid.meta.get("model"),
        "model_class": grid.meta.get("model_class"),
        "kind": grid.kind,
        "layers": list(grid.layers),
        "query_tokens": list(grid.query.labels),
        "key_tokens": list(grid.key.labels),
        "special_share_by_layer": _special_share_by_layer(grid),
    }
    if grid.kind == "self":
        per_head["attention_distance_tokens"] = attention_distance(grid)
        per_head["share_within_2_tokens"] = locality(grid, 2)
        report["head_types"] = head_types(grid)
        if grid.n_heads > 1:
            report["head_diversity_by_layer"] = head_diversity(grid, by_layer=True)
        report["diagnostics"] = diagnose(grid)
    report["per_head"] = per_head
    return jsonable(report)
