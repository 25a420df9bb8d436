"""Graph attention networks (PyTorch Geometric) and plain edge weights -> sparse AttentionGrid.

A graph grid stores ``edge_index (2, E)`` and ``values (L, H, E)``:
``edge_index[0]`` is the **source** (key) and ``edge_index[1]`` the **target**
(query) of each edge; the target attends to the source, and the weights of
each target's incoming edges sum to one (PyG's softmax over incoming edges).

- :func:`capture` records every ``GATConv`` / ``GATv2Conv`` / ``TransformerConv``
  of a PyG model through a ``propagate`` forward hook: the recorded alpha is
  the tensor the layer itself multiplies its messages with, on the edge list
  it really used (self-loops added by the layer included).
- :func:`from_edges`, :func:`from_dense` and :func:`from_networkx` build the
  same kind of grid from weights you already have.

Self-loop edges are kept; :func:`multiattn.analysis.edges.self_loop_mask`
flags them and ``meta["self_loops"]`` counts them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn._index import select_named
from multiattn.adapters._hf import eval_mode
from multiattn.axes import NodeAxis
from multiattn.errors import MultiattnTypeError, MultiattnValueError
from multiattn.grid import AttentionGrid

from ._graph_build import from_dense, from_edges, from_networkx
from ._graph_files import graph_data, read_graph

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch / PyG are imported when a model runs)
    import torch

    from multiattn._types import GraphInput, Model

__all__ = ["capture", "from_edges", "from_dense", "from_networkx", "graph_data", "read_graph"]

ATTENTION_LAYERS = ("GATConv", "GATv2Conv", "TransformerConv")
"""PyG layer classes whose attention :func:`capture` records."""



# -- PyTorch Geometric ---------------------------------------------------------------------------
def graph_layers(model: Model) -> list[tuple[str, torch.nn.Module]]:
    """``(name, module)`` of every PyG attention layer in ``model`` (empty without PyG or such layers)."""
    named = getattr(model, "named_modules", None)
    if named is None or not any(type(m).__module__.startswith("torch_geometric") for _, m in named()):
        return []  # not a PyG model: no need to import torch_geometric (slow) at all
    from torch_geometric.nn import GATConv, GATv2Conv, TransformerConv

    kinds = (GATConv, GATv2Conv, TransformerConv)
    return [(name or type(m).__name__, m) for name, m in named() if isinstance(m, kinds)]


def _attention_modules(model: Model, names: Sequence[str] | None) -> list[tuple[str, torch.nn.Module]]:
    found = graph_layers(model)
    if names is not None:
        found = select_named(found, names, "attention layer")
    if not found:
        raise MultiattnValueError(
            f"{type(model).__name__} has no attention layer of the supported types {ATTENTION_LAYERS}"
        )
    return found


def _node_axis_of(data: GraphInput, num_nodes: int) -> NodeAxis:
    ids = getattr(data, "node_ids", None)
    labels = getattr(data, "node_labels", None)
    y = getattr(data, "y", None)
    groups = None
    if y is not None and getattr(y, "dim", lambda: 0)() == 1 and len(y) == num_nodes \
            and not y.is_floating_point():
        groups = y.tolist()
    return NodeAxis(range(num_nodes) if ids is None else list(ids), labels=labels, groups=groups)


def _call(model: Model, data: GraphInput) -> None:
    if isinstance(data, (tuple, list)):
        model(*data)
        return
    if not (hasattr(data, "x") and hasattr(data, "edge_index")):
        raise MultiattnTypeError("data must be a torch_geometric Data (with x and edge_index) or a tuple of "
                        f"forward arguments, got {type(data).__name__}")
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) == 1:
        model(data)
    else:
        model(data.x, data.edge_index)


def _num_nodes(data: GraphInput) -> int:
    if isinstance(data, (tuple, list)):
        return int(data[0].size(0))
    return int(data.num_nodes)


def capture(model: Model, data: GraphInput, *, layers: Sequence[str] | None = None,
            nodes: NodeAxis | None = None) -> AttentionGrid:
    """Run a PyG model once and record the attention of every graph attention layer.

    Parameters
    ----------
    model : torch.nn.Module
        A model containing ``GATConv``, ``GATv2Conv`` or ``TransformerConv`` layers
        (or one such layer).  It runs in ``eval()`` mode (dropout acts on alpha)
        under ``torch.no_grad()``; its training flag is restored afterwards.
    data : torch_geometric.data.Data or tuple
        A ``Data`` with ``x`` and ``edge_index`` (the model is called as
        ``model(data)`` if its forward takes one argument, else
        ``model(data.x, data.edge_index)``), or the tuple of forward arguments.
    layers : sequence of str, optional
        Module names (``model.named_modules()``) to record; default all.
    nodes : NodeAxis, optional
        Node ids / labels / groups.  Default: ``data.node_ids`` and
        ``data.node_labels`` when present, groups from an integer ``data.y``
        (named by ``data.group_names`` if set, kept in ``meta["group_names"]``).

    Returns
    -------
    AttentionGrid
        Sparse: ``edge_index (2, E)`` as used by the layers (self-loops they
        added included), ``values (L, H, E)`` with one layer per recorded call.

    Raises
    ------
    ValueError
        No supported layer; layers with different head counts or edge lists
        (capture them separately with ``layers=``); a sparse-tensor adjacency.

    Example
    -------
    >>> grid = capture(model, data)  # doctest: +SKIP
    >>> grid.shape                   # doctest: +SKIP
    (2, 4, 190)
    """
    modules = _attention_modules(model, layers)
    records: list[tuple[str, np.ndarray, np.ndarray]] = []
    run_with_layer_hooks(model, data, modules, lambda *record: records.append(record))
    if not records:
        raise MultiattnValueError("the model ran but none of its attention layers was called")
    return stack_records(records, modules, nodes, data, model)


def run_with_layer_hooks(model: Model, data: GraphInput, modules: list[tuple[str, torch.nn.Module]],
                         on_layer: Callable[[str, np.ndarray, np.ndarray], None]) -> None:
    """Run the model once (eval, no grad) and call ``on_layer(label, edge_index, alpha)`` per layer call.

    ``alpha`` is ``(E, H)`` as the layer computed it; a layer called twice is
    labelled ``name#2``.  Used by :func:`capture` (which keeps every call) and
    by streaming capture (which summarises and drops each call).
    """
    import torch

    calls: dict[str, int] = {}

    def _hook_for(name: str):
        def hook(module: torch.nn.Module, inputs: tuple, out: torch.Tensor) -> None:
            edge_index, _size, kwargs = inputs
            if not isinstance(edge_index, torch.Tensor) or edge_index.is_sparse:
                raise MultiattnValueError(f"layer {name} got a sparse adjacency; pass edge_index as a (2, E) "
                                 "LongTensor to capture attention")
            alpha = module._alpha if "alpha" not in kwargs else kwargs["alpha"]
            calls[name] = calls.get(name, 0) + 1
            label = name if calls[name] == 1 else f"{name}#{calls[name]}"
            on_layer(label, edge_index.detach().cpu().numpy(), alpha.detach().cpu().numpy())
        return hook

    handles = [m.register_propagate_forward_hook(_hook_for(name)) for name, m in modules]
    try:
        with eval_mode(model), torch.no_grad():
            _call(model, data)
    finally:
        for handle in handles:
            handle.remove()


def stack_records(records: list[tuple[str, np.ndarray, np.ndarray]],
                  modules: list[tuple[str, torch.nn.Module]], nodes: NodeAxis | None,
                  data: GraphInput, model: Model) -> AttentionGrid:
    labels = [label for label, _, _ in records]
    edges = records[0][1]
    heads = {alpha.shape[1] for _, _, alpha in records}
    if len(heads) != 1:
        raise MultiattnValueError(
            f"layers have different head counts {[a.shape[1] for _, _, a in records]} ({labels}); "
            "capture them separately with layers=[name]"
        )
    for label, other, _ in records[1:]:
        if other.shape != edges.shape or not np.array_equal(other, edges):
            raise MultiattnValueError(
                f"layer {label} used a different edge list than {labels[0]} ({other.shape[1]} vs "
                f"{edges.shape[1]} edges); capture them separately with layers=[name]"
            )
    values = np.stack([alpha.T for _, _, alpha in records])
    axis = nodes if nodes is not None else _node_axis_of(data, _num_nodes(data))
    by_name = dict(modules)
    meta = {
        "source": "torch_geometric",
        "model": type(model).__name__,
        "layer_types": [type(by_name[label.split("#")[0]]).__name__ for label in labels],
        "self_loops_added": [bool(getattr(by_name[label.split("#")[0]], "add_self_loops", False))
                             for label in labels],
        "normalized": "softmax over each target's incoming edges (computed by the layer)",
    }
    if getattr(data, "group_names", None) is not None:
        meta["group_names"] = [str(name) for name in data.group_names]
    return from_edges(edges, values, nodes=axis, num_nodes=len(axis), multi_edges="keep",
                      layers=labels, meta=meta)


