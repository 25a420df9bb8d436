"""Streaming reducers: summarise attention layer by layer, never holding it all.

A model with 32 layers × 20 heads × 1500² positions has ~5.8 GB of attention
per input.  Adapters that support streaming call ``reducer.update(layer,
weights)`` with one layer's ``(H, Q, K)`` weights as the model runs and drop
the weights right after, so memory stays at one layer plus the summaries.

Attention that is sparse by construction (graph attention over edges,
TimeSformer's divided space-time steps) arrives as a one-layer *sparse*
:class:`~multiattn.grid.AttentionGrid` instead (values ``(1, H, E)`` with its
``edge_index``); every reducer handles it without densifying the layer,
except :class:`LayerMetric`, which hands the grid to its metric (graph
metrics work on edges; dense metrics densify one layer under the memory guard).

Reducers
--------
- :class:`LayerMetric` — any per-head analysis (entropy, distance, top-k
  concentration, head-type scores (a dict of (L, H) arrays)...) evaluated on
  each layer, stacked to (L, H, ...).
- :class:`HeadMean` — the head-averaged attention of every layer, (L, 1, Q, K)
  (sparse layers: a list of one-layer, one-head grids).
- :class:`RolloutReducer` — attention rollout as a running product, (N, N)
  (sparse layers: a ``scipy.sparse.csr_array``).
- :class:`TopK` — the k largest weights per head and query, with their indices.
- :class:`Entropy` — mean row entropy per head, (L, H) (= :func:`multiattn.analysis.head_entropy`).
- :class:`SinkShare` — each query's weight on one key (the first token by default), (L, H, Q).

Row blocks
----------
:class:`HeadMean`, :class:`TopK`, :class:`Entropy` and :class:`SinkShare` also take a layer as
blocks of query rows (``begin_layer``, ``update_rows``, ``end_layer``; :func:`feed_rows`), which is
how ``capture_stream(..., block_rows=...)`` recomputes a long input's attention from its queries
and keys without ever holding an ``N × N`` matrix per head.  A block may stop at its last key
(causal attention): the keys after it weigh 0.

Dense results are :class:`~multiattn.LabelledArray` objects (arrays that keep
their labels): the ``layer`` dim is labelled with the names passed to
:meth:`Reducer.update`, ``head`` with the heads (a fed grid's labels, else
``"0", "1", ...``) and ``query``/``key`` with a fed grid's axes.

Example
-------
>>> from multiattn.analysis import head_entropy
>>> reducers = {"entropy": LayerMetric(head_entropy), "rollout": RolloutReducer()}
>>> for name, weights in enumerate(layers):  # doctest: +SKIP
...     feed(reducers, str(name), weights)
>>> reducers["entropy"].result().shape  # doctest: +SKIP
(12, 12)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError

from .labelled import LabelledArray

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from scipy import sparse

    from ._types import ArrayLike
    from .grid import AttentionGrid

__all__ = ["Reducer", "LayerMetric", "HeadMean", "RolloutReducer", "TopK", "Entropy", "SinkShare"]


def _check_layer(weights: ArrayLike | AttentionGrid) -> np.ndarray | AttentionGrid:
    """One layer as a float32 ``(H, Q, K)`` array, or a one-layer sparse grid as is."""
    from .grid import AttentionGrid

    if isinstance(weights, AttentionGrid):
        if weights.n_layers != 1:
            raise MultiattnValueError(
                f"a reducer takes one layer at a time, got a grid with {weights.n_layers} "
                             "layers; feed grid.select(layer=i) for each layer")
        if weights.is_sparse:
            return weights  # values were checked finite when the grid was built
        weights = weights.values[0]
    arr = np.asarray(weights, dtype=np.float32)
    if arr.ndim != 3:
        raise MultiattnValueError(f"a reducer takes one layer of weights shaped (H, Q, K), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MultiattnValueError("layer weights contain NaN or inf")
    return arr


def _is_grid(weights: np.ndarray | AttentionGrid) -> bool:
    return not isinstance(weights, np.ndarray)


class Reducer:
    """Base class: consume layers in order with :meth:`update`, read :meth:`result`."""

    def __init__(self) -> None:
        self.layers: list[str] = []
        self._heads: tuple[str, ...] | None = None
        self._axes: dict[str, Any] = {}

    def update(self, layer: str, weights: ArrayLike | AttentionGrid) -> None:
        """Consume one layer: ``(H, Q, K)`` weights or a one-layer sparse AttentionGrid."""
        from .grid import AttentionGrid

        if isinstance(weights, AttentionGrid):
            self._heads, self._axes = weights.heads, {"query": weights.query, "key": weights.key}
        self.layers.append(str(layer))
        self._consume(_check_layer(weights))

    def _labelled(self, values: np.ndarray, dims: tuple[str, ...], name: str,
                  coords: Mapping[str, Any] | None = None) -> LabelledArray | np.ndarray:
        """``values`` labelled with the fed layer names, the heads and the fed axes where they fit."""
        known = {"layer": self.layers, "head": self._heads, **self._axes, **(coords or {})}
        if values.ndim != len(dims) or values.shape[0] != len(self.layers):
            return values
        fits = {dim: known[dim] for dim, n in zip(dims, values.shape)
                if known.get(dim) is not None and len(known[dim]) == n}
        return LabelledArray(values, dims, fits, name=name)

    def _consume(self, weights: np.ndarray | AttentionGrid) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _require_layers(self) -> None:
        if not self.layers:
            raise MultiattnValueError(f"{type(self).__name__} has seen no layer; did the capture run?")

    # -- row blocks (a layer recomputed from queries and keys, block by block) --------------
    def begin_layer(self, layer: str, n_heads: int, n_queries: int, n_keys: int) -> None:
        """Start a layer that arrives as blocks of query rows (:meth:`update_rows`)."""
        raise MultiattnValueError(
            f"{type(self).__name__} needs whole layers; row blocks (block_rows=...) feed HeadMean, TopK, "
            "Entropy and SinkShare: use those, or stream without block_rows")

    def update_rows(self, start: int, rows: np.ndarray) -> None:  # pragma: no cover - see begin_layer
        """Queries ``start .. start + b`` of the layer: ``rows`` float32 ``(H, b, K')``, ``K' <= K``."""
        raise NotImplementedError

    def end_layer(self) -> None:  # pragma: no cover - see begin_layer
        """The layer's rows are all in."""
        raise NotImplementedError

    def _whole(self, weights: np.ndarray) -> None:
        """A whole ``(H, Q, K)`` layer as one block (reducers that take rows)."""
        self._begin(*weights.shape)
        self.update_rows(0, weights)
        self.end_layer()

    def _begin(self, n_heads: int, n_queries: int, n_keys: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class _RowReducer(Reducer):
    """A reducer that takes a layer whole or as row blocks (subclasses: ``_begin``, ``update_rows``,
    ``end_layer``); sparse one-layer grids go to ``_sparse``."""

    def begin_layer(self, layer: str, n_heads: int, n_queries: int, n_keys: int) -> None:
        self.layers.append(str(layer))
        self._begin(n_heads, n_queries, n_keys)

    def _consume(self, weights: Any) -> None:
        if _is_grid(weights):
            self._sparse(weights)
        else:
            self._whole(weights)

    def _sparse(self, grid: AttentionGrid) -> None:
        self._whole(grid.to_dense().values[0])


class LayerMetric(Reducer):
    """Apply ``metric((1, H, Q, K)) -> (1, H, ...)`` to each layer and stack.

    Example
    -------
    >>> from multiattn.analysis import head_entropy
    >>> r = LayerMetric(head_entropy)
    >>> r.update("0", np.full((2, 3, 3), 1 / 3)); r.result().shape
    (1, 2)
    """

    def __init__(self, metric: Callable[..., np.ndarray], **kwargs: Any) -> None:
        super().__init__()
        self.metric, self.kwargs, self._rows = metric, kwargs, []

    def _consume(self, weights: Any) -> None:
        self._rows.append(self.metric(weights if _is_grid(weights) else weights[None], **self.kwargs))

    def result(self) -> LabelledArray | dict[str, LabelledArray | None]:
        """Stacked ``(L, H, ...)`` with dims ``("layer", "head", ...)``; a dict per key for
        metrics that return dicts (e.g. ``head_type_scores``), with ``None`` where a score
        was undefined."""
        self._require_layers()
        if isinstance(self._rows[0], dict):
            return {key: None if any(row[key] is None for row in self._rows)
                    else self._stack([row[key] for row in self._rows], key)
                    for key in self._rows[0]}
        return self._stack(self._rows, getattr(self.metric, "__name__", "metric"))

    def _stack(self, rows: list, name: str) -> LabelledArray | np.ndarray:
        """Concatenate per-layer rows; keep the dims and labels of labelled rows (e.g. a graph's nodes)."""
        stacked = np.concatenate([np.asarray(row) for row in rows])
        first = rows[0]
        if isinstance(first, LabelledArray) and first.dims[:1] == ("layer",):
            coords = {dim: first.coords[dim] for dim in first.dims[1:]}
            return self._labelled(stacked, first.dims, first.name or name, coords)
        dims = ("layer", "head") + tuple(f"dim_{i}" for i in range(2, stacked.ndim))
        return self._labelled(stacked, dims[: stacked.ndim], name)


class HeadMean(_RowReducer):
    """Head-averaged attention of each layer: (L, 1, Q, K) float32, or for sparse
    layers a list of one-layer, one-head sparse grids (edge lists may differ by layer).

    Example
    -------
    >>> r = HeadMean()
    >>> r.update("0", np.full((2, 3, 3), 1 / 3)); r.result().shape
    (1, 1, 3, 3)
    """

    def __init__(self) -> None:
        super().__init__()
        self._means: list[Any] = []
        self._cache: np.ndarray | None = None

    def _sparse(self, grid: AttentionGrid) -> None:
        self._means.append(grid.reduce("mean", "head"))

    def _begin(self, n_heads: int, n_queries: int, n_keys: int) -> None:
        from ._memory import check_fits, human

        check_fits(4 * n_queries * n_keys, f"the head mean of one layer ({n_queries} × {n_keys})", advice=(
            f"a {human(4 * n_queries * n_keys)} mean per layer is too large: summarise with Entropy, TopK "
            "or SinkShare instead, or shorten the input"))
        self._mean = np.zeros((1, n_queries, n_keys), dtype=np.float32)

    def update_rows(self, start: int, rows: np.ndarray) -> None:
        self._mean[0, start: start + rows.shape[1], : rows.shape[2]] = rows.mean(0)

    def end_layer(self) -> None:
        self._means.append(self._mean)
        del self._mean

    def result(self) -> LabelledArray | list:
        """Dims ``("layer", "head", "query", "key")``, head labelled ``"mean"``."""
        self._require_layers()
        if _is_grid(self._means[0]):
            return list(self._means)
        return self._labelled(self._stacked(), ("layer", "head", "query", "key"), "head_mean",
                              {"head": ("mean",)})

    def _stacked(self) -> np.ndarray:
        """The layers' means as one ``(L, 1, Q, K)`` array, each layer's own array freed once copied
        (a long input's means are most of its memory: never two copies of them all)."""
        if self._cache is not None and len(self._cache) == len(self._means):
            return self._cache
        stacked = np.empty((len(self._means), *self._means[0].shape), dtype=np.float32)
        for i in range(len(self._means)):
            stacked[i] = self._means[i]
            self._means[i] = stacked[i]
        self._cache = stacked
        return stacked


def _sparse_rollout_step(grid: AttentionGrid, head_fusion: str, residual: float) -> sparse.csr_array:
    """``residual * I + (1 - residual) * A`` with rows renormalised, as a CSR array (heads fused per edge)."""
    from scipy import sparse

    from .analysis.rollout import fused_operators

    if not 0.0 <= residual <= 1.0:
        raise MultiattnValueError(f"residual must be in [0, 1], got {residual}")
    if len(grid.query) != len(grid.key):
        raise MultiattnValueError("rollout needs self-attention (as many queries as keys)")
    attention = fused_operators(grid, head_fusion)[0]
    step = residual * sparse.identity(len(grid.query), format="csr") + (1.0 - residual) * attention
    sums = np.asarray(step.sum(axis=1)).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sparse.csr_array(sparse.diags_array(scale) @ step)


class RolloutReducer(Reducer):
    """Rollout as a running product: identical to :func:`multiattn.analysis.rollout`.

    Sparse layers (graphs, divided space-time steps fed in forward order) give
    a ``scipy.sparse.csr_array``: the product stays as sparse as the paths allow.
    """

    def __init__(self, head_fusion: str = "mean", residual: float = 0.5) -> None:
        super().__init__()
        self.head_fusion, self.residual = head_fusion, residual
        self._product: np.ndarray | None = None

    def _consume(self, weights: Any) -> None:
        from .analysis import rollout

        if _is_grid(weights):
            layer = _sparse_rollout_step(weights, self.head_fusion, self.residual)
        else:
            layer = rollout(weights[None], head_fusion=self.head_fusion, residual=self.residual)
        self._product = layer if self._product is None else layer @ self._product

    def result(self) -> LabelledArray | sparse.csr_array:
        """Dense: a LabelledArray with dims ``("query", "key")`` (a fed grid's axes); sparse: csr_array."""
        self._require_layers()
        if not isinstance(self._product, np.ndarray):
            return self._product
        known = {dim: axis for dim, axis in self._axes.items() if len(axis) == self._product.shape[0]}
        return LabelledArray(self._product, ("query", "key"), known, name="rollout")


class TopK(_RowReducer):
    """The ``k`` largest weights per (head, query) of each layer, with key indices.

    Example
    -------
    >>> r = TopK(k=1)
    >>> r.update("0", np.array([[[0.2, 0.8], [0.6, 0.4]]])); r.result()["indices"].values.ravel()
    array([1, 0])
    """

    def __init__(self, k: int = 5) -> None:
        super().__init__()
        if k < 1:
            raise MultiattnValueError(f"k must be >= 1, got {k}")
        self.k = k
        self._indices: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def _sparse(self, grid: AttentionGrid) -> None:
        indices, values = _sparse_top_k(grid, self.k)
        self._indices.append(indices)
        self._values.append(values)

    def _begin(self, n_heads: int, n_queries: int, n_keys: int) -> None:
        k = min(self.k, n_keys)
        self._idx = np.empty((n_heads, n_queries, k), dtype=np.int64)
        self._val = np.empty((n_heads, n_queries, k), dtype=np.float32)

    def update_rows(self, start: int, rows: np.ndarray) -> None:
        """Rows that stop before ``k`` keys take the next keys, weight 0 (as the full row has them)."""
        k, stop = self._idx.shape[-1], start + rows.shape[1]
        if rows.shape[-1] < k:
            pad = np.zeros((*rows.shape[:2], k - rows.shape[-1]), dtype=rows.dtype)
            rows = np.concatenate([rows, pad], axis=-1)
        self._idx[:, start:stop], self._val[:, start:stop] = _row_top_k(rows, k)

    def end_layer(self) -> None:
        self._indices.append(self._idx)
        self._values.append(self._val)
        del self._idx, self._val

    def result(self) -> dict[str, np.ndarray]:
        """``{"indices": (L, H, Q, k) int, "values": (L, H, Q, k) float32}``, dims
        ``("layer", "head", "query", "rank")``.

        For sparse layers a query with fewer than ``k`` incoming edges is padded
        with index ``-1`` and value ``NaN``; ``k`` is not cut to the key count.
        """
        self._require_layers()
        dims = ("layer", "head", "query", "rank")
        return {name: self._labelled(np.stack(parts), dims, f"top-{self.k} {name}")
                for name, parts in (("indices", self._indices), ("values", self._values))}


def _row_top_k(rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest of each row of ``(..., K)``, heaviest first: ``(indices, values)`` ``(..., k)``.

    Small ``k``: ``k`` passes of ``argmax`` over a copy (each pick set to -inf), several times
    faster than ``argpartition`` on long rows; large ``k``: ``argpartition``.
    """
    if k > 8:
        idx = np.argpartition(-rows, k - 1, axis=-1)[..., :k]
        vals = np.take_along_axis(rows, idx, -1)
        order = np.argsort(-vals, axis=-1, kind="stable")
        return np.take_along_axis(idx, order, -1), np.take_along_axis(vals, order, -1)
    work = np.array(rows, dtype=np.float32)
    idx = np.empty((*rows.shape[:-1], k), dtype=np.int64)
    for rank in range(k):
        idx[..., rank] = pick = work.argmax(-1)
        np.put_along_axis(work, pick[..., None], -np.inf, -1)
    return idx, np.take_along_axis(rows, idx, -1).astype(np.float32, copy=False)


class Entropy(_RowReducer):
    """Mean entropy of each head's rows, in nats: ``(L, H)``, as :func:`multiattn.analysis.head_entropy`.

    Rows are summed in float64; all-zero rows (no key allowed) are left out of the mean.

    Example
    -------
    >>> r = Entropy()
    >>> r.update("0", np.full((1, 2, 4), 0.25)); r.result().values.round(4)
    array([[1.3863]])
    """

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[np.ndarray] = []

    def _begin(self, n_heads: int, n_queries: int, n_keys: int) -> None:
        self._total = np.zeros(n_heads)
        self._count = np.zeros(n_heads, dtype=np.int64)

    def update_rows(self, start: int, rows: np.ndarray) -> None:
        logs = np.log(rows, out=np.zeros_like(rows), where=rows > 0)
        logs *= rows
        entropy = -logs.sum(-1, dtype=np.float64)  # (H, b)
        valid = rows.sum(-1, dtype=np.float64) > 0
        self._total += np.where(valid, entropy, 0.0).sum(-1)
        self._count += valid.sum(-1)

    def end_layer(self) -> None:
        with np.errstate(invalid="ignore", divide="ignore"):
            self._rows.append(np.where(self._count > 0, self._total / np.maximum(self._count, 1), np.nan))
        del self._total, self._count

    def result(self) -> LabelledArray | np.ndarray:
        """Dims ``("layer", "head")``."""
        self._require_layers()
        return self._labelled(np.stack(self._rows), ("layer", "head"), "head_entropy")


class SinkShare(_RowReducer):
    """Each query's weight on key ``token`` (default 0, the first token: the attention sink).

    Example
    -------
    >>> r = SinkShare()
    >>> r.update("0", np.array([[[1.0, 0.0], [0.25, 0.75]]])); r.result().values.tolist()
    [[[1.0, 0.25]]]
    """

    def __init__(self, token: int = 0) -> None:
        super().__init__()
        if token < 0:
            raise MultiattnValueError(f"token must be a key index >= 0, got {token}")
        self.token = token
        self._shares: list[np.ndarray] = []

    def _begin(self, n_heads: int, n_queries: int, n_keys: int) -> None:
        if self.token >= n_keys:
            raise MultiattnValueError(f"SinkShare(token={self.token}) but the layer has {n_keys} keys")
        self._share = np.zeros((n_heads, n_queries), dtype=np.float32)

    def update_rows(self, start: int, rows: np.ndarray) -> None:
        if self.token < rows.shape[-1]:
            self._share[:, start: start + rows.shape[1]] = rows[..., self.token]

    def end_layer(self) -> None:
        self._shares.append(self._share)
        del self._share

    def result(self) -> LabelledArray | np.ndarray:
        """Dims ``("layer", "head", "query")``."""
        self._require_layers()
        return self._labelled(np.stack(self._shares), ("layer", "head", "query"),
                              f"share on key {self.token}")


def feed_rows(reducers: Mapping[str, Reducer], layer: str, shape: tuple[int, int, int],
              blocks: Iterable[tuple[int, np.ndarray]]) -> None:
    """Give one layer of ``shape`` ``(H, Q, K)`` to every reducer as ``(start, rows (H, b, K'))`` blocks.

    Example
    -------
    >>> w = np.tril(np.ones((1, 4, 4))) / np.arange(1, 5)[:, None]
    >>> r = {"e": Entropy(), "m": HeadMean()}
    >>> feed_rows(r, "0", (1, 4, 4), [(0, w[:, :3, :3].astype(np.float32)), (3, w[:, 3:].astype(np.float32))])
    >>> bool(np.allclose(r["m"].result().values[0, 0], w[0]))
    True
    """
    for reducer in reducers.values():
        reducer.begin_layer(layer, *shape)
    for start, rows in blocks:
        for reducer in reducers.values():
            reducer.update_rows(start, rows)
    for reducer in reducers.values():
        reducer.end_layer()


def _sparse_top_k(grid: AttentionGrid, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per head and query, the ``k`` heaviest incoming edges: ``(H, Q, k)`` key indices and values."""
    keys, queries = grid.edge_index
    n_heads, n_queries = grid.n_heads, len(grid.query)
    indices = np.full((n_heads, n_queries, k), -1, dtype=np.int64)
    values = np.full((n_heads, n_queries, k), np.nan, dtype=np.float32)
    first = np.searchsorted(np.sort(queries), np.arange(n_queries))  # start of each query's run
    for head, weights in enumerate(grid.values[0]):
        order = np.lexsort((-weights, queries))  # by query, heaviest first
        rank = np.arange(len(order)) - first[queries[order]]
        keep = rank < k
        picked = order[keep]
        indices[head, queries[picked], rank[keep]] = keys[picked]
        values[head, queries[picked], rank[keep]] = weights[picked]
    return indices, values


def feed(reducers: Mapping[str, Reducer], layer: str, weights: ArrayLike | AttentionGrid) -> None:
    """Give one layer (``(H, Q, K)`` weights or a one-layer sparse grid) to every reducer."""
    for reducer in reducers.values():
        reducer.update(layer, weights)
