"""Heterogeneous graphs: the layer calls of one forward as one grid per edge type, in a GridSet.

An edge type ``(src, rel, dst)`` gets the grid named ``"src__rel__dst"`` (PyG's own
spelling of an edge type as a module key): ``query`` is the NodeAxis of the ``dst`` nodes,
``key`` that of the ``src`` nodes (``kind="cross"`` when they differ), ``edge_index`` local
to each node type, and one layer per ``HeteroConv`` / ``to_hetero`` layer / ``HGTConv``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.axes import NodeAxis
from multiattn.errors import UnsupportedModelError
from multiattn.grid import AttentionGrid
from multiattn.gridset import GridSet

from ._graph_batch import batch_meta
from ._graph_build import DIRECTION
from ._graph_layers import LayerCall, check_sizes, rows_sum_to_one

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import GraphInput, Model

__all__ = ["edge_type_map", "grid_name", "hetero_axes", "hetero_grids"]


def grid_name(edge_type: tuple) -> str:
    """``("author", "writes", "paper")`` -> ``"author__writes__paper"``."""
    return "__".join(str(part) for part in edge_type)


def edge_type_map(model: Model, edge_types: list[tuple]) -> dict[int, tuple[str, tuple]]:
    """``id(module) -> (layer label, edge type)`` for the layers of ``HeteroConv`` s and ``to_hetero``.

    A ``HeteroConv`` named ``conv1`` labels its per-edge-type layers ``conv1``; a ``to_hetero``
    model's ``c1.author__writes__paper`` is labelled ``c1``.
    """
    from torch_geometric.nn import HeteroConv

    by_key = {grid_name(et): tuple(et) for et in edge_types}
    found: dict[int, tuple[str, tuple]] = {}
    for name, module in model.named_modules():
        if isinstance(module, HeteroConv):
            for edge_type, conv in module.convs.items():
                for sub in conv.modules():
                    found[id(sub)] = (name or "HeteroConv", tuple(edge_type))
        else:
            parent, _, last = name.rpartition(".")
            if last in by_key:
                for sub in module.modules():
                    found.setdefault(id(sub), (parent or last, by_key[last]))
    return found


def _axis(store: Any, n: int) -> NodeAxis:
    ids = getattr(store, "node_ids", None) if hasattr(store, "keys") and "node_ids" in store.keys() else None
    y = store["y"] if hasattr(store, "keys") and "y" in store.keys() else None
    groups = None
    if y is not None and y.dim() == 1 and len(y) == n and not y.is_floating_point():
        groups = y.tolist()
    return NodeAxis(range(n) if ids is None else list(ids), groups=groups)


def hetero_axes(data: GraphInput) -> dict[str, NodeAxis]:
    """One NodeAxis per node type, from a ``HeteroData`` or a forward tuple ``(x_dict, ...)``."""
    if isinstance(data, (tuple, list)):
        return {nt: NodeAxis(range(int(x.size(0)))) for nt, x in data[0].items()}
    return {nt: _axis(data[nt], int(data[nt].num_nodes)) for nt in data.node_types}


def _group(calls: list[LayerCall], owners: dict[int, tuple[str, tuple]]) -> dict[tuple, list]:
    groups: dict[tuple, list] = {}
    counts: dict[tuple, int] = {}
    for call in calls:
        label, edge_type = owners.get(id(call.module), (call.name, call.edge_type))
        if call.edge_type is not None:
            label, edge_type = call.name, call.edge_type
        if edge_type is None:
            raise UnsupportedModelError(
                f"layer {call.name} ({type(call.module).__name__}) ran on a heterogeneous graph outside a "
                "HeteroConv / to_hetero / HGTConv, so its edges have no edge type; capture a "
                "homogeneous graph (data.to_homogeneous()) instead")
        counts[(label, edge_type)] = counts.get((label, edge_type), 0) + 1
        n = counts[(label, edge_type)]
        groups.setdefault(edge_type, []).append((label if n == 1 else f"{label}#{n}", call))
    return groups


def _batch_of_types(batches: dict[str, np.ndarray], src: str, dst: str) -> dict:
    """``meta["batch"]`` (target nodes' graphs) and ``meta["source_batch"]`` of a batched HeteroData."""
    if src not in batches or dst not in batches:
        return {}
    info = batch_meta(batches[dst], len(batches[dst]))
    info["source_batch"] = batches[src].astype(np.int64).tolist()
    info["num_graphs"] = max(info["num_graphs"], int(batches[src].max()) + 1 if batches[src].size else 0)
    return info


def _batches(data: GraphInput) -> dict[str, np.ndarray]:
    if isinstance(data, (tuple, list)):
        return {}
    return {nt: data[nt].batch.detach().cpu().numpy() for nt in data.node_types if "batch" in data[nt].keys()}


def _grid(edge_type: tuple, entries: list, axes: dict[str, NodeAxis], model: Model,
          batches: dict[str, np.ndarray]) -> AttentionGrid:
    from .graph import check_same_edges

    labels = [label for label, _ in entries]
    calls = [call for _, call in entries]
    src, _, dst = edge_type
    for label, call in entries:
        check_sizes(call, label, len(axes[src]), len(axes[dst]))
    check_same_edges(labels, [c.edge_index for c in calls], [c.alpha for c in calls])
    edges = calls[0].edge_index
    sums_to_one = all(rows_sum_to_one(c.normalized) for c in calls)
    meta = {
        "source": "torch_geometric", "model": type(model).__name__, "direction": DIRECTION,
        "edge_type": list(edge_type), "source_type": src, "target_type": dst,
        "layer_types": [type(c.module).__name__ for c in calls],
        "normalized": calls[0].normalized,
        "self_loops": int((edges[0] == edges[1]).sum()) if src == dst else 0,
    }
    meta.update(_batch_of_types(batches, src, dst))
    values = np.stack([c.alpha.T for c in calls])
    return AttentionGrid(values, axes[dst], axes[src], layers=labels, kind="self" if src == dst else "cross",
                         edge_index=edges, meta=meta, check_rows=sums_to_one)


def hetero_grids(calls: list[LayerCall], data: GraphInput, model: Model) -> GridSet:
    """The calls of one forward on heterogeneous data as a GridSet, one grid per edge type.

    Examples
    --------
    >>> grids = hetero_grids(calls, hetero_data, model)  # doctest: +SKIP
    >>> list(grids)  # doctest: +SKIP
    ['author__writes__paper', 'paper__rev_writes__author']
    """
    edge_types = [tuple(et) for et in (data[1] if isinstance(data, (tuple, list)) else data.edge_types)]
    axes = hetero_axes(data)
    groups = _group(calls, edge_type_map(model, edge_types))
    order = [et for et in edge_types if et in groups] + [et for et in groups if et not in edge_types]
    missing = [et[0] for et in order if et[0] not in axes] + [et[2] for et in order if et[2] not in axes]
    if missing:
        raise UnsupportedModelError(f"node type {missing[0]!r} of an attended edge type has no features in "
                                    f"the input (node types: {sorted(axes)})")
    batches = _batches(data)
    grids = {grid_name(et): _grid(et, groups[et], axes, model, batches) for et in order}
    meta = {"source": "torch_geometric", "model": type(model).__name__, "heterogeneous": True,
            "node_types": {nt: len(axis) for nt, axis in axes.items()},
            "edge_types": [list(et) for et in order]}
    return GridSet(grids, meta=meta)
