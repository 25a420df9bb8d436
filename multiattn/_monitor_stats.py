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

import functools
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - torch is imported when a model runs
    import torch

__all__ = ["STATISTICS", "Context", "check_statistics", "layer_matrix", "layer_statistics", "present",
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

#: Statistics of cross-attention layers only (Whisper; :mod:`multiattn._monitor_audio`).
CROSS_ONLY = {
    "audio_share": "cross-attention: share on the frames of the real audio (the rest is on padding)",
    "monotonicity": "cross-attention: share of consecutive tokens whose attention centroid moves on",
    "coverage": "cross-attention: span of the tokens' attention centroids / the real audio's frames",
}

#: Statistics the mask categories feed, with the Context mask each needs.
_MASKED = {"first_share": "first", "special_share": "special", "padding_share": "padding",
           "delimiter_share": "delimiter"}


def check_statistics(names: Sequence[str] | None) -> tuple[str, ...]:
    """``names`` checked against :data:`STATISTICS` (all of them when ``None``)."""
    from ._monitor_graph import GRAPH_ONLY

    chosen = (*STATISTICS, *CROSS_ONLY, *GRAPH_ONLY) if names is None else tuple(names)
    unknown = [n for n in chosen if n not in STATISTICS and n not in CROSS_ONLY and n not in GRAPH_ONLY]
    if unknown or not chosen:
        known = ", ".join([*STATISTICS, *CROSS_ONLY, *GRAPH_ONLY])
        raise MultiattnValueError(f"unknown statistics {unknown or list(chosen)}; choose from {known}")
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
    cross = False  # a cross-attention context (queries and keys of different sequences)

    def names_for(self, names: Sequence[str], n_queries: int) -> tuple[str, ...]:
        """The statistics of ``names`` a layer with this context gives, in order."""
        return present(names, self)

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
        cache = self.__dict__.setdefault("_plain", {})
        if (n_queries, n_keys) not in cache:  # e.g. a decoding step: 1 query, the cached keys
            plain = Context.plain(self.valid.shape[0], n_keys)
            plain.query_valid = plain.valid.new_ones(self.valid.shape[0], n_queries)
            cache[(n_queries, n_keys)] = plain
        return cache[(n_queries, n_keys)]

    # -- per-forward constants of the fused statistics (built on first use, kept for the forward) --
    def _cached(self, key: tuple, make: Callable[[], torch.Tensor]) -> torch.Tensor:
        cache = self.__dict__.setdefault("_cache", {})
        if key not in cache:
            cache[key] = make()
        return cache[key]

    def query_weights(self, batch: int) -> torch.Tensor:
        """(B, Q) ``1 / n_valid`` on valid queries, 0 on padding: a dot product is the query mean."""
        def make() -> torch.Tensor:
            valid = self.__dict__.get("query_valid", self.valid)[:batch].float()
            return valid / valid.sum(-1, keepdim=True).clamp_min(1.0)
        return self._cached(("qw", batch), make)

    def log_keys(self, batch: int) -> torch.Tensor:
        """(B,) ``log(valid keys)`` (at least log 2): the normalised entropy's divisor."""
        return self._cached(("logk", batch), lambda: self.valid[:batch].sum(-1).clamp_min(2).float().log())

    def key_masks(self, names: tuple[str, ...], batch: int) -> torch.Tensor:
        """(B, K, C) float masks of the keys, one column per mask name."""
        import torch

        return self._cached(("masks", names, batch),
                            lambda: torch.stack([self.masks[m][:batch] for m in names], -1).float())

    def weighted_distances(self, batch: int, n_queries: int, n_keys: int) -> torch.Tensor:
        """(B, Q·K, 1) query-weighted distances: ``w.reshape(B, H, Q·K) @ this`` is the mean distance."""
        def make() -> torch.Tensor:
            import torch

            distances = self.distances
            if distances is None or distances.shape != (n_queries, n_keys):
                distances = token_distances(n_keys) if n_queries == n_keys else torch.zeros(n_queries, n_keys)
            weighted = self.query_weights(batch)[:, :, None] * distances[None]
            return weighted.reshape(batch, n_queries * n_keys, 1)
        return self._cached(("dist", batch, n_queries, n_keys), make)


def token_distances(n: int) -> torch.Tensor:
    """(N, N) ``|i - j|`` in tokens."""
    import torch

    idx = torch.arange(n, dtype=torch.float32)
    return (idx[None, :] - idx[:, None]).abs()


def _top_sum(w: torch.Tensor, k: int) -> torch.Tensor:
    """Sum of each row's ``k`` largest weights.

    ``k = 5`` with numba (extra ``fast``): the compiled kernel of :mod:`._monitor_kernels`
    (0.26 ms for MiniLM's 1 536 rows of 128); else numpy's SIMD ``partition`` (0.37 ms;
    ``torch.topk`` takes 1.9 ms).
    """
    import numpy as np
    import torch

    n = w.shape[-1]
    if k >= n:
        return w.sum(-1)
    rows = np.ascontiguousarray(w.numpy(), dtype=np.float32).reshape(-1, n)
    kernel = _kernel() if k == 5 else None
    if kernel is not None:  # the fused kernel with s = w: its top-5, the entropy ignored
        out, scratch = np.empty(rows.shape[0], np.float32), np.empty(rows.shape[0], np.float32)
        kernel(rows, rows, out, scratch)
    else:
        out = np.partition(rows, n - k, axis=-1)[:, n - k:].sum(-1, dtype=np.float32)
    return torch.from_numpy(out.reshape(w.shape[:-1]))


@functools.cache
def _kernel() -> Callable | None:
    """The compiled top-5 + entropy kernel, or ``None`` without numba."""
    if importlib.util.find_spec("numba") is None:
        return None
    from ._monitor_kernels import top5_entropy_rows

    return top5_entropy_rows


def _top5_entropy(w: torch.Tensor, scores: torch.Tensor) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows' top-5 sums and entropies ``(B·H·Q,)`` in one compiled pass (``None``: no numba, or no
    finite entropy, e.g. a fully masked row)."""
    import torch

    kernel = _kernel()
    n = w.shape[-1]
    if kernel is None or n <= 5 or scores.dtype != torch.float32:
        return None
    rows = np.ascontiguousarray(w.numpy()).reshape(-1, n)
    top5, entropy = np.empty(rows.shape[0], np.float32), np.empty(rows.shape[0], np.float32)
    kernel(rows, np.ascontiguousarray(scores.numpy()).reshape(-1, n), top5, entropy)
    if not np.isfinite(entropy).all():  # a fully masked row, or an exp underflow at the max
        return None
    return top5, entropy


def _row_entropy(w: torch.Tensor, scores: torch.Tensor | None) -> torch.Tensor:
    """``-sum(w log w)`` per row; from the pre-softmax ``scores`` when given (no log pass).

    With ``w = softmax(s)``, ``log w = s - max(s) + log max(w)``, so the entropy is
    ``max(s) - log max(w) - sum(w s)``: two max reductions and one dot product per row.
    """
    import torch

    if scores is not None:
        s = scores if scores.dtype == torch.float32 else scores.float()
        base = s.amax(-1) - w.amax(-1).log()
        entropy = base - torch.linalg.vecdot(w, s)
        if torch.isnan(entropy).any():  # -inf masked scores: 0 * -inf
            entropy = base - torch.linalg.vecdot(w, torch.where(w > 0, s, 0.0))
        if not torch.isnan(entropy).any():
            return entropy
    plogp = torch.linalg.vecdot(w, w.log())
    if torch.isnan(plogp).any():  # exact zeros (padding keys, underflow): 0 log 0 = 0
        plogp = torch.xlogy(w, w).sum(-1)
    return -plogp


def present(names: Sequence[str], ctx: Context) -> tuple[str, ...]:
    """The statistics of ``names`` this context can give (``padding_share`` needs a pad mask)."""
    from ._monitor_graph import GRAPH_ONLY

    return tuple(n for n in names if n not in CROSS_ONLY and n not in GRAPH_ONLY
                 and (n not in _MASKED or _MASKED[n] in ctx.masks))


def layer_matrix(weights: torch.Tensor, ctx: Context, names: Sequence[str],
                 scores: torch.Tensor | None = None) -> torch.Tensor:
    """Per-head statistics of one layer ``weights (B, H, Q, K)`` as one ``(B, H, S)`` float32 tensor.

    ``S`` follows :func:`present` (``names`` less those whose mask the context lacks).  The
    linear statistics share two products: the query-weighted column sums ``(B, H, K)`` (key
    shares, sink share) and one matrix-vector product with the distances; the entropy takes
    one log pass (or none, from ``scores``), the top-5 one partition.
    """
    import torch

    if ctx.cross:
        from ._monitor_audio import cross_matrix

        return cross_matrix(weights, ctx.query_weights(weights.shape[0]), ctx.n_audio, names)
    w = weights.detach()
    w = w if w.dtype == torch.float32 else w.float()
    b, h, q, k = w.shape
    ctx = ctx.fit(q, k)
    wanted = present(names, ctx)
    qw = ctx.query_weights(b)  # (B, Q): 1 / n_valid on valid queries, 0 on padding
    qn = qw.numpy()[:, None, :]  # the small per-row results are combined in numpy (cheaper calls)
    cols: dict[str, np.ndarray] = {}
    need_entropy = "entropy" in wanted or "norm_entropy" in wanted
    fused = _top5_entropy(w, scores) if scores is not None and (need_entropy or "top5" in wanted) else None
    if need_entropy:
        rows = fused[1] if fused else _row_entropy(w, scores).numpy()
        cols["entropy"] = (rows.reshape(b, h, q) * qn).sum(-1)
        cols["norm_entropy"] = cols["entropy"] / ctx.log_keys(b).numpy()[:, None]
    if "top5" in wanted:
        rows = fused[0] if fused else _top_sum(w, 5).numpy()
        cols["top5"] = (rows.reshape(b, h, q) * qn).sum(-1)
    masked = [n for n in wanted if n in _MASKED]
    if masked or "sink_share" in wanted:
        cols.update(_key_shares(w, qw, ctx, masked, "sink_share" in wanted))
    if "mean_distance" in wanted:
        cols["mean_distance"] = _mean_distance(w, ctx).numpy()
    out = np.empty((b, h, len(wanted)), np.float32)
    for i, name in enumerate(wanted):
        out[..., i] = cols[name]
    return torch.from_numpy(out)


def _key_shares(w: torch.Tensor, qw: torch.Tensor, ctx: Context, masked: Sequence[str],
                sink: bool) -> dict[str, np.ndarray]:
    """Shares on the masked keys and the sink share, from one query-weighted column sum."""
    b = w.shape[0]
    column = (qw[:, None, None, :] @ w)[:, :, 0].numpy()  # (B, H, K): mean attention each key receives
    out: dict[str, np.ndarray] = {}
    if masked:
        shares = column @ ctx.key_masks(tuple(_MASKED[n] for n in masked), b).numpy()  # (B, H, C)
        out.update({n: shares[..., i] for i, n in enumerate(masked)})
    if sink:
        out["sink_share"] = column.max(-1)
    return out


def _mean_distance(w: torch.Tensor, ctx: Context) -> torch.Tensor:
    """(B, H) mean query -> key distance: one matrix-vector product with the weighted distances."""
    b, h, q, k = w.shape
    return (w.reshape(b, h, q * k) @ ctx.weighted_distances(b, q, k))[..., 0]


def layer_statistics(weights: torch.Tensor, ctx: Context, names: Sequence[str],
                     scores: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-head statistics of one layer ``weights (B, H, Q, K)``: name -> ``(B, H)`` float32.

    Statistics whose mask the context lacks (``padding_share`` without a pad token) are left out.
    """
    values = layer_matrix(weights, ctx, names, scores)
    return {n: values[..., i] for i, n in enumerate(present(names, ctx.fit(*weights.shape[-2:])))}
