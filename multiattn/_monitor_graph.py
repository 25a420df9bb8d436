"""PyG graph attention under the monitor: incoming-attention statistics per node, summarised per head.

The graph adapter's recorder (:func:`multiattn.adapters._graph_layers.recording`: ``GATConv``,
``GATv2Conv``, ``TransformerConv`` ... — the alpha each layer weights its messages with, on the
edges it really used, self-loops included) hands each layer call to the monitor.  Each target
node's incoming weights form one attention row; a head's statistics
(:data:`GRAPH_STATISTICS`) are means over the nodes that receive any edge:

- ``entropy``: incoming-attention entropy (nats); ``norm_entropy``: divided by
  ``log(in-degree)``, over nodes of in-degree ≥ 2 (1 = uniform over the neighbours);
- ``self_share``: weight on the node's own self-loop (0 without one);
- ``sink_share``: the largest share of all attention one source node receives
  (sum of its outgoing weights / the number of target nodes).

One record per forward (modality ``graph``, input length = nodes); layers with fewer heads
than the widest are padded with NaN.

Example
-------
>>> edges = np.array([[0, 1, 1, 0], [1, 0, 1, 0]])  # sources, targets (self-loops 1->1, 0->0)
>>> alpha = np.array([[0.5], [0.5], [0.5], [0.5]])
>>> graph_statistics(edges, alpha, 2, ("entropy", "self_share")).round(3).tolist()
[[0.693, 0.5]]
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .monitor import Monitor

__all__ = ["GRAPH_ONLY", "GRAPH_STATISTICS", "graph_statistics", "install_graph"]

#: Statistics of a graph attention layer, in order.
GRAPH_STATISTICS = ("entropy", "norm_entropy", "self_share", "sink_share")

#: Statistic names only graph layers give (with what they measure).
GRAPH_ONLY = {"self_share": "graph: weight on the node's own self-loop"}


def graph_statistics(edge_index: np.ndarray, alpha: np.ndarray, n_nodes: int,
                     names: Sequence[str]) -> np.ndarray:
    """Per-head statistics of one layer call: ``(H, S)`` float64 in the order of ``names``.

    ``edge_index (2, E)`` sources then targets, ``alpha (E, H)`` each edge's weight.
    """
    src, dst = edge_index[0].astype(np.int64), edge_index[1].astype(np.int64)
    a = alpha.astype(np.float64)
    heads = a.shape[1]
    degree = np.bincount(dst, minlength=n_nodes)
    targets = degree > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        plogp = np.where(a > 0, a * np.log(a), 0.0)
    cols: dict[str, np.ndarray] = {}

    def per_node(values: np.ndarray, index: np.ndarray) -> np.ndarray:
        """(n_nodes, H) sums of ``values (E, H)`` grouped by ``index``."""
        return np.stack([np.bincount(index, values[:, h], minlength=n_nodes) for h in range(heads)], -1)

    entropy = -per_node(plogp, dst)
    cols["entropy"] = entropy[targets].mean(0)
    wide = degree >= 2
    cols["norm_entropy"] = (entropy[wide] / np.log(degree[wide])[:, None]).mean(0) if wide.any() \
        else np.full(heads, np.nan)
    loops = (src == dst)[:, None]
    cols["self_share"] = per_node(np.where(loops, a, 0.0), dst)[targets].mean(0)
    cols["sink_share"] = per_node(a, src).max(0) / max(int(targets.sum()), 1)
    return np.stack([cols[n] for n in names], -1)


def install_graph(monitor: Monitor, stack: contextlib.ExitStack) -> None:
    """The recorder's hooks on the model's graph attention layers, feeding ``monitor``."""
    import torch

    from .adapters._graph_layers import recording
    from .adapters.graph import graph_layers

    modules = graph_layers(monitor.model)

    def on_call(call: Any) -> None:
        state = monitor._state
        if state is None:
            return
        group = state["groups"]["graph"]
        counts = group.setdefault("calls", {})  # a layer called twice in a forward: name#2
        counts[call.name] = counts.get(call.name, 0) + 1
        label = call.name if counts[call.name] == 1 else f"{call.name}#{counts[call.name]}"
        if group["names"] is None:
            group["names"] = tuple(n for n in GRAPH_STATISTICS if n in monitor.statistics)
        n_nodes = call.sizes[1] if call.sizes else int(call.edge_index.max()) + 1
        group["ctx"].n_nodes = max(group["ctx"].n_nodes, n_nodes)
        values = graph_statistics(call.edge_index, call.alpha, n_nodes, group["names"])
        group["layers"].append(label)
        group["stats"].append(torch.from_numpy(values.astype(np.float32))[None])  # (1, H, S)

    stack.enter_context(recording(modules, on_call))


def pad_heads(stats: list[Any]) -> list[Any]:
    """Layers' ``(1, H_l, S)`` tensors padded with NaN to the widest ``H``."""
    import torch

    width = max(s.shape[1] for s in stats)
    return [s if s.shape[1] == width else torch.cat(
        [s, torch.full((1, width - s.shape[1], s.shape[2]), float("nan"))], 1) for s in stats]


class GraphContext:
    """A graph forward: the node count seen so far (the record's input length)."""

    def __init__(self) -> None:
        self.n_nodes = 0

    @property
    def lengths(self) -> Any:
        import torch

        return torch.tensor([self.n_nodes])
