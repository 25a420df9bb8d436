"""Streaming reducers: summarise attention layer by layer, never holding it all.

A model with 32 layers × 20 heads × 1500² positions has ~5.8 GB of attention
per input.  Adapters that support streaming call ``reducer.update(layer,
weights)`` with one layer's ``(H, Q, K)`` weights as the model runs and drop
the weights right after, so memory stays at one layer plus the summaries.

Reducers
--------
- :class:`LayerMetric` — any per-head analysis (entropy, distance, top-k
  concentration, head-type scores (a dict of (L, H) arrays)...) evaluated on
  each layer, stacked to (L, H, ...).
- :class:`HeadMean` — the head-averaged attention of every layer, (L, 1, Q, K).
- :class:`RolloutReducer` — attention rollout as a running product, (N, N).
- :class:`TopK` — the k largest weights per head and query, with their indices.

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

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = ["Reducer", "LayerMetric", "HeadMean", "RolloutReducer", "TopK", "feed"]


def _check_layer(weights: Any) -> np.ndarray:
    arr = np.asarray(weights, dtype=np.float32)
    if arr.ndim != 3:
        raise ValueError(f"a reducer takes one layer of weights shaped (H, Q, K), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("layer weights contain NaN or inf")
    return arr


class Reducer:
    """Base class: consume layers in order with :meth:`update`, read :meth:`result`."""

    def __init__(self) -> None:
        self.layers: list[str] = []

    def update(self, layer: str, weights: np.ndarray) -> None:
        """Consume one layer's ``(H, Q, K)`` weights."""
        self.layers.append(str(layer))
        self._consume(_check_layer(weights))

    def _consume(self, weights: np.ndarray) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def result(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _require_layers(self) -> None:
        if not self.layers:
            raise ValueError(f"{type(self).__name__} has seen no layer; did the capture run?")


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

    def _consume(self, weights: np.ndarray) -> None:
        self._rows.append(self.metric(weights[None], **self.kwargs))

    def result(self) -> np.ndarray | dict[str, np.ndarray | None]:
        """Stacked ``(L, H, ...)``; a dict per key for metrics that return dicts
        (e.g. ``head_type_scores``), with ``None`` where a score was undefined."""
        self._require_layers()
        if isinstance(self._rows[0], dict):
            return {key: None if any(row[key] is None for row in self._rows)
                    else np.concatenate([np.asarray(row[key]) for row in self._rows])
                    for key in self._rows[0]}
        return np.concatenate([np.asarray(row) for row in self._rows])


class HeadMean(Reducer):
    """Head-averaged attention of each layer, (L, 1, Q, K) float32."""

    def __init__(self) -> None:
        super().__init__()
        self._means: list[np.ndarray] = []

    def _consume(self, weights: np.ndarray) -> None:
        self._means.append(weights.mean(0, keepdims=True))

    def result(self) -> np.ndarray:
        self._require_layers()
        return np.stack(self._means)


class RolloutReducer(Reducer):
    """Rollout as a running product: identical to :func:`multiattn.analysis.rollout`."""

    def __init__(self, head_fusion: str = "mean", residual: float = 0.5) -> None:
        super().__init__()
        self.head_fusion, self.residual = head_fusion, residual
        self._product: np.ndarray | None = None

    def _consume(self, weights: np.ndarray) -> None:
        from .analysis import rollout

        layer = rollout(weights[None], head_fusion=self.head_fusion, residual=self.residual)
        self._product = layer if self._product is None else layer @ self._product

    def result(self) -> np.ndarray:
        self._require_layers()
        return self._product


class TopK(Reducer):
    """The ``k`` largest weights per (head, query) of each layer, with key indices."""

    def __init__(self, k: int = 5) -> None:
        super().__init__()
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k = k
        self._indices: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def _consume(self, weights: np.ndarray) -> None:
        k = min(self.k, weights.shape[-1])
        idx = np.argpartition(-weights, k - 1, axis=-1)[..., :k]
        vals = np.take_along_axis(weights, idx, -1)
        order = np.argsort(-vals, axis=-1, kind="stable")
        self._indices.append(np.take_along_axis(idx, order, -1))
        self._values.append(np.take_along_axis(vals, order, -1))

    def result(self) -> dict[str, np.ndarray]:
        """``{"indices": (L, H, Q, k) int, "values": (L, H, Q, k) float32}``."""
        self._require_layers()
        return {"indices": np.stack(self._indices), "values": np.stack(self._values)}


def feed(reducers: Mapping[str, Reducer], layer: str, weights: np.ndarray) -> None:
    """Give one layer's ``(H, Q, K)`` weights to every reducer."""
    for reducer in reducers.values():
        reducer.update(layer, weights)
