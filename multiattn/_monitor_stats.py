"""Per-head statistics of one layer of a batch, for the monitor and the profile.

With numba (extra ``fast``) a layer is one call of a compiled kernel (:mod:`._monitor_kernels`:
:func:`softmax_matrix` computes the softmax of the monitoring attention with the statistics,
:func:`fused_matrix` takes weights from the eager hooks); without it, torch and numpy.

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

    def _distances(self, n_queries: int, n_keys: int) -> torch.Tensor:
        """(Q, K) query -> key distances of a layer (zeros for a layer whose queries are not its keys)."""
        import torch

        distances = self.distances
        if distances is None or distances.shape != (n_queries, n_keys):
            distances = token_distances(n_keys) if n_queries == n_keys else torch.zeros(n_queries, n_keys)
        return distances

    def weighted_distances(self, batch: int, n_queries: int, n_keys: int) -> torch.Tensor:
        """(B, Q·K, 1) query-weighted distances: ``w.reshape(B, H, Q·K) @ this`` is the mean distance."""
        def make() -> torch.Tensor:
            weighted = self.query_weights(batch)[:, :, None] * self._distances(n_queries, n_keys)[None]
            return weighted.reshape(batch, n_queries * n_keys, 1)
        return self._cached(("dist", batch, n_queries, n_keys), make)

    def kernel_inputs(self, names: tuple[str, ...], batch: int, n_queries: int, n_keys: int) -> tuple:
        """``(qw, logk, dist_t, masks)`` numpy inputs of :func:`fused_matrix` for ``names``."""
        cache = self.__dict__.setdefault("_cache", {})
        key = ("kernel", names, batch, n_queries, n_keys)
        if key not in cache:
            masked = tuple(_MASKED[n] for n in names if n in _MASKED)
            dist_t = self._distances(n_queries, n_keys).mT.contiguous().numpy() \
                if "mean_distance" in names else None
            cache[key] = (self.query_weights(batch).numpy(), self.log_keys(batch).numpy(), dist_t,
                          self.key_masks(masked, batch).numpy() if masked else None)
        return cache[key]


def token_distances(n: int) -> torch.Tensor:
    """(N, N) ``|i - j|`` in tokens."""
    import torch

    idx = torch.arange(n, dtype=torch.float32)
    return (idx[None, :] - idx[:, None]).abs()


def _top_sum(w: torch.Tensor, k: int) -> torch.Tensor:
    """Sum of each row's ``k`` largest weights (numpy's SIMD ``partition``; ``torch.topk`` is 5× slower)."""
    import numpy as np
    import torch

    n = w.shape[-1]
    if k >= n:
        return w.sum(-1)
    rows = np.ascontiguousarray(w.numpy(), dtype=np.float32).reshape(-1, n)
    out = np.partition(rows, n - k, axis=-1)[:, n - k:].sum(-1, dtype=np.float32)
    return torch.from_numpy(out.reshape(w.shape[:-1]))


@functools.cache
def _kernels() -> tuple[Callable, Callable] | None:
    """The compiled ``(layer_kernel, softmax_kernel)`` of :mod:`._monitor_kernels` (``None``: no numba)."""
    if importlib.util.find_spec("numba") is None:
        return None
    from ._monitor_kernels import layer_kernel, softmax_kernel

    return layer_kernel, softmax_kernel


#: Statistics the compiled kernel gives besides the mask shares, in its ``slots`` order.
_KERNEL = ("entropy", "norm_entropy", "top5", "sink_share", "mean_distance")


def _transposed(x: torch.Tensor) -> np.ndarray:
    """``x (B, H, Q, K)`` as a C-contiguous float32 ``(B, H, K, Q)`` array (no copy when ``x`` is a
    transposed view, as the monitoring attention hands on)."""
    import torch

    t = x.detach().mT
    return (t if t.dtype == torch.float32 else t.float()).contiguous().numpy()


def _kernel_args(names: Sequence[str], batch: int, n_keys: int, dist_t: np.ndarray | None,
                 masks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dist_t, masks, slots)`` of a kernel call: empty stand-ins for the unused, each name's column."""
    slots = [-1] * len(_KERNEL)
    for i, name in enumerate(names):
        if name in _KERNEL:
            slots[_KERNEL.index(name)] = i
        else:
            slots.append(i)
    return (np.zeros((0, 0), np.float32) if dist_t is None else dist_t,
            np.zeros((batch, n_keys, 0), np.float32) if masks is None else masks,
            np.array(slots, np.int64))


def fused_matrix(weights: torch.Tensor, scores: torch.Tensor | None, names: Sequence[str],
                 qw: np.ndarray, logk: np.ndarray, dist_t: np.ndarray | None = None,
                 masks: np.ndarray | None = None) -> np.ndarray | None:
    """``(B, H, len(names))`` statistics from the compiled kernel (``None`` without numba).

    ``names`` from :data:`_KERNEL` and mask shares, the ``c``-th other name being the share on
    column ``c`` of ``masks (B, K, C)``; ``qw (B, Q)`` query weights, ``logk (B,)`` the
    normalised entropy's divisor, ``dist_t (K, Q)`` the transposed distances.  Without
    ``scores`` the entropy comes from ``log w`` (one vectorised log pass).
    """
    import torch

    kernels = _kernels()
    if kernels is None:
        return None
    b, h, q, k = weights.shape
    wt = _transposed(weights)
    entropy = "entropy" in names or "norm_entropy" in names
    if not entropy:
        st = wt
    elif scores is None:
        st = torch.log(torch.from_numpy(wt)).numpy()
    else:
        st = _transposed(scores)
    dist_t, masks, slots = _kernel_args(names, b, k, dist_t, masks)
    out = np.zeros((b, h, len(names)), np.float32)
    kernels[0](wt, st, qw, logk, dist_t, masks, slots, out)
    return out


def softmax_matrix(scores_t: torch.Tensor, scale: float, ctx: Context, names: Sequence[str],
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the keys of transposed scores and the layer's statistics, in one compiled pass.

    ``scores_t (B, H, K, Q)`` are eager's ``q kᵀ`` transposed and not yet multiplied by
    ``scale``; returns ``weights_t (B, H, K, Q)`` = ``softmax(scores_t · scale, dim=-2)`` (within
    4 ulp of torch's) and the ``(B, H, S)`` statistics of :func:`layer_matrix`.  Without numba,
    for cross-attention and for half-precision scores: torch's softmax, then :func:`layer_matrix`.
    """
    import torch

    kernels = _kernels()
    b, h, k, q = scores_t.shape
    if kernels is None or ctx.cross or scores_t.dtype != torch.float32:
        s = scores_t * scale if scale != 1.0 else scores_t
        weights_t = torch.nn.functional.softmax(s, dim=-2, dtype=torch.float32).to(s.dtype)
        return weights_t, layer_matrix(weights_t.mT, ctx, names, s.mT)
    ctx = ctx.fit(q, k)
    wanted = present(names, ctx)
    qw, logk, dist_t, masks = ctx.kernel_inputs(wanted, b, q, k)
    dist_t, masks, slots = _kernel_args(wanted, b, k, dist_t, masks)
    raw = scores_t.detach().contiguous()
    weights_t = torch.empty_like(raw)
    out = np.zeros((b, h, len(wanted)), np.float32)
    kernels[1](raw.numpy(), scale, weights_t.numpy(), qw, logk, dist_t, masks, slots, out)
    return weights_t, torch.from_numpy(out)


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

    ``S`` follows :func:`present` (``names`` less those whose mask the context lacks).  With
    numba (extra ``fast``) one compiled call gives them all (:func:`fused_matrix`); without it,
    torch / numpy: the query-weighted column sums ``(B, H, K)`` (key shares, sink share), one
    matrix-vector product with the distances, the entropy from ``scores`` (or one log pass),
    the top-5 from one partition.
    """
    import torch

    if ctx.cross:
        from ._monitor_audio import cross_matrix

        return cross_matrix(weights, ctx.query_weights(weights.shape[0]), ctx.n_audio, names)
    w = weights.detach()
    b, h, q, k = w.shape
    ctx = ctx.fit(q, k)
    wanted = present(names, ctx)
    fused = fused_matrix(w, scores, wanted, *ctx.kernel_inputs(wanted, b, q, k))
    if fused is not None:
        return torch.from_numpy(fused)
    w = w if w.dtype == torch.float32 else w.float()
    qw = ctx.query_weights(b)  # (B, Q): 1 / n_valid on valid queries, 0 on padding
    qn = qw.numpy()[:, None, :]  # the small per-row results are combined in numpy (cheaper calls)
    cols: dict[str, np.ndarray] = {}
    if "entropy" in wanted or "norm_entropy" in wanted:
        cols["entropy"] = (_row_entropy(w, scores).numpy().reshape(b, h, q) * qn).sum(-1)
        cols["norm_entropy"] = cols["entropy"] / ctx.log_keys(b).numpy()[:, None]
    if "top5" in wanted:
        cols["top5"] = (_top_sum(w, 5).numpy().reshape(b, h, q) * qn).sum(-1)
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
