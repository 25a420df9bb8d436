"""Per-head statistics of one layer of a batch, in torch, for the monitor and the profile.

Each statistic is a mean over a request's valid queries (padding queries left out) of one
per-row quantity, so a request gives one number per (layer, head, statistic).  Masks of the
keys (special tokens, padding, delimiters, ViT prefix tokens) and the key positions come
from :class:`Context`, built once per forward from the model's inputs.

Example
-------
>>> import torch
>>> w = torch.full((1, 2, 4, 4), 0.25)
>>> ctx = Context.plain(batch=1, n_tokens=4)
>>> stats = layer_statistics(w, ctx, ("entropy", "norm_entropy"))
>>> stats["norm_entropy"].shape, round(float(stats["norm_entropy"][0, 0]), 3)
(torch.Size([1, 2]), 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - torch is imported when a model runs
    import torch

__all__ = ["STATISTICS", "Context", "check_statistics", "layer_statistics", "patch_distances",
           "token_distances"]

#: Statistic name -> what it measures (per head; mean over a request's valid queries).
STATISTICS = {
    "entropy": "row entropy (nats)",
    "norm_entropy": "row entropy / log(valid keys), 1 = uniform",
    "top5": "share of a row held by its 5 largest weights",
    "first_share": "share on the first token ([CLS], <s>, an attention sink)",
    "special_share": "share on special tokens (text) or prefix tokens CLS/registers (ViT)",
    "padding_share": "share on padding tokens",
    "delimiter_share": "share on delimiters ([SEP], '.', ',' ...)",
    "sink_share": "share on the key that receives the most attention in the request",
    "mean_distance": "mean distance query -> key (tokens; patches for ViTs)",
}

#: Statistics the mask categories feed, with the Context mask each needs.
_MASKED = {"first_share": "first", "special_share": "special", "padding_share": "padding",
           "delimiter_share": "delimiter"}


def check_statistics(names: Sequence[str] | None) -> tuple[str, ...]:
    """``names`` checked against :data:`STATISTICS` (all of them when ``None``)."""
    chosen = tuple(STATISTICS) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in STATISTICS]
    if unknown or not chosen:
        raise MultiattnValueError(
            f"unknown statistics {unknown or list(chosen)}; choose from {', '.join(STATISTICS)}")
    return chosen


@dataclass
class Context:
    """What a forward's inputs say about its positions.

    ``valid (B, N)`` real (not padding) positions; ``masks`` name -> ``(B, N)`` bool keys;
    ``distances (N, N)`` query -> key distances (default ``|i - j|`` in tokens; ViTs pass
    patch-grid distances, 0 to and from prefix tokens); ``lengths (B,)`` valid positions.
    """

    valid: torch.Tensor
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    distances: torch.Tensor | None = None

    @classmethod
    def plain(cls, batch: int, n_tokens: int) -> Context:
        """No knowledge of the inputs: every position valid, the first one flagged."""
        import torch

        valid = torch.ones(batch, n_tokens, dtype=torch.bool)
        first = torch.zeros_like(valid)
        first[:, 0] = True
        return cls(valid, {"first": first})

    @property
    def lengths(self) -> torch.Tensor:
        return self.valid.sum(-1)

    def fit(self, n_queries: int, n_keys: int) -> Context:
        """This context if it matches a layer of ``(Q, K)``; a plain one otherwise (e.g. pooled layers)."""
        if self.valid.shape[1] == n_keys == n_queries:
            return self
        return Context.plain(self.valid.shape[0], n_keys)


def token_distances(n: int) -> torch.Tensor:
    """(N, N) ``|i - j|`` in tokens."""
    import torch

    idx = torch.arange(n, dtype=torch.float32)
    return (idx[None, :] - idx[:, None]).abs()


def patch_distances(n_prefix: int, rows: int, cols: int) -> torch.Tensor:
    """(N, N) Euclidean distances on the patch grid, in patches; 0 to and from prefix tokens."""
    import torch

    r, c = torch.meshgrid(torch.arange(rows, dtype=torch.float32), torch.arange(cols, dtype=torch.float32),
                          indexing="ij")
    grid = torch.stack([r.ravel(), c.ravel()], -1)
    out = torch.zeros(n_prefix + rows * cols, n_prefix + rows * cols)
    out[n_prefix:, n_prefix:] = torch.cdist(grid[None], grid[None])[0]
    return out


def _top_sum(w: torch.Tensor, k: int) -> torch.Tensor:
    """Sum of each row's ``k`` largest weights: ``k`` max-and-remove passes (1.5x torch.topk on CPU)."""
    rest = w.clone()
    total = rest.new_zeros(w.shape[:-1])
    for _ in range(k):
        value, index = rest.max(-1, keepdim=True)
        total += value[..., 0]
        rest.scatter_(-1, index, -1.0)
    return total


def layer_statistics(weights: torch.Tensor, ctx: Context, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """Per-head statistics of one layer ``weights (B, H, Q, K)``: name -> ``(B, H)`` float32.

    Statistics whose mask the context lacks (``padding_share`` without a pad token) are left out.
    """
    import torch

    w = weights.detach().float()
    b, _, q, k = w.shape
    ctx = ctx.fit(q, k)
    qv = ctx.valid[:b, None, :].float()  # (B, 1, Q)
    n_q = qv.sum(-1).clamp_min(1.0)

    def qmean(rows: torch.Tensor) -> torch.Tensor:
        return (rows * qv).sum(-1) / n_q

    out: dict[str, torch.Tensor] = {}
    if "entropy" in names or "norm_entropy" in names:
        entropy = qmean(-torch.nansum(w * torch.log(w), -1))  # 0 log 0 = nan, left out: 2x entr's speed
        if "entropy" in names:
            out["entropy"] = entropy
        if "norm_entropy" in names:
            n_keys = ctx.valid[:b].sum(-1).clamp_min(2).float().log()[:, None]
            out["norm_entropy"] = entropy / n_keys
    if "top5" in names:
        out["top5"] = qmean(_top_sum(w, min(5, k)))
    wanted = [(name, ctx.masks[m]) for name, m in _MASKED.items() if name in names and m in ctx.masks]
    if wanted:
        masks = torch.stack([mask[:b] for _, mask in wanted], -1).float()  # (B, K, C)
        shares = w @ masks[:, None]  # (B, H, Q, C)
        for i, (name, _) in enumerate(wanted):
            out[name] = qmean(shares[..., i])
    if "sink_share" in names:
        out["sink_share"] = ((w * qv[..., None]).sum(-2) / n_q[..., None]).max(-1).values
    if "mean_distance" in names:
        distances = ctx.distances
        if distances is None or distances.shape != (q, k):
            distances = ctx.distances = token_distances(k) if q == k else torch.zeros(q, k)
        out["mean_distance"] = qmean((w * distances).sum(-1))
    return out
