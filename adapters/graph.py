"""Graph attention networks (PyTorch Geometric) and plain edge weights -> sparse AttentionGrid.

A graph grid stores ``edge_index (2, E)`` and ``values (L, H, E)``:
``edge_index[0]`` is the **source** (key) and ``edge_index[1]`` the **target**
(query) of each edge; the target attends to the source, and the weights of
each target's incoming edges sum to one (PyG's softmax over incoming edges).

- :func:`capture` records every attention layer of a PyG model (``GATConv``,
  ``GATv2Conv``, ``TransformerConv``, ``SuperGATConv``, ``RGATConv``, ``AGNNConv``,
  ``HGTConv``, ``GeneralConv(attention=True)``, ``GPSConv``'s attention block;
  ``HeteroConv`` / ``to_hetero`` of them): the recorded alpha is the tensor the
  layer itself weights its messages with, on the edge list it really used
  (self-loops added by the layer included).
  The model is called the way its forward takes the data (``edge_attr``,
  ``edge_type``, ``batch`` passed when the forward has them).  Heterogeneous
  graphs give a :class:`~multiattn.GridSet` with one grid per edge type; a batch
  of graphs records each node's graph (:func:`split_graphs`).  Layers without
  attention, attention this module cannot read exactly (fused kernels, Performer,
  unknown layers with an edge softmax) and layers run on other nodes than the
  data's (pooling) are refused with :class:`~multiattn.errors.UnsupportedModelError`
  and the reason.
- :func:`from_edges`, :func:`from_dense` and :func:`from_networkx` build the
  same kind of grid from weights you already have.

Self-loop edges are kept; :func:`multiattn.analysis.edges.self_loop_mask`
flags them and ``meta["self_loops"]`` counts them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn._index import select_named
from multiattn.adapters._hf import eval_mode
from multiattn.axes import NodeAxis
from multiattn.errors import MultiattnValueError, MultiattnWarning, UnsupportedModelError
from multiattn.grid import AttentionGrid

from ._graph_batch import batch_meta, split_graphs
from ._graph_build import from_dense, from_edges, from_networkx
from ._graph_call import call_model, is_hetero
from ._graph_files import graph_data, read_graph
from ._graph_layers import SUPPORTED_NAMES, LayerCall, check_sizes, recording, refusal, rows_sum_to_one, scan

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch / PyG are imported when a model runs)
    import torch

    from multiattn._types import GraphInput, Model
    from multiattn.gridset import GridSet

__all__ = ["capture", "from_edges", "from_dense", "from_networkx", "graph_data", "read_graph", "split_graphs"]

ATTENTION_LAYERS = SUPPORTED_NAMES
"""PyG layer classes whose attention :func:`capture` records."""


# -- PyTorch Geometric ---------------------------------------------------------------------------
def is_pyg_model(model: Model) -> bool:
    """True when ``model`` holds a PyTorch Geometric module (so the graph adapter reads it)."""
    named = getattr(model, "named_modules", None)
    return named is not None and any(type(m).__module__.startswith("torch_geometric") for _, m in named())


def graph_layers(model: Model) -> list[tuple[str, torch.nn.Module]]:
    """``(name, module)`` of every PyG attention layer in ``model`` (empty without PyG or such layers).

    For ``GPSConv`` the module is its ``attn`` block (named ``<gps>.attn``).
    """
    if not is_pyg_model(model):
        return []  # not a PyG model: no need to import torch_geometric (slow) at all
    return scan(model)[0]


def _attention_modules(model: Model, names: Sequence[str] | None) -> tuple[list, list]:
    if not is_pyg_model(model):
        raise UnsupportedModelError(
            f"{type(model).__name__} has no attention layer: it holds no PyTorch Geometric layer; the "
            f"graph adapter reads PyG attention layers ({', '.join(ATTENTION_LAYERS)})")
    found, refused, plain = scan(model)
    if not found:
        raise refusal(model, refused, plain)
    if names is not None:
        found = select_named(found, names, "attention layer")
    return found, refused


def _node_axis_of(data: GraphInput, num_nodes: int) -> NodeAxis:
    ids = getattr(data, "node_ids", None)
    labels = getattr(data, "node_labels", None)
    y = getattr(data, "y", None)
    groups = None
    if y is not None and getattr(y, "dim", lambda: 0)() == 1 and len(y) == num_nodes \
            and not y.is_floating_point():
        groups = y.tolist()
    return NodeAxis(range(num_nodes) if ids is None else list(ids), labels=labels, groups=groups)


def _num_nodes(data: GraphInput) -> int:
    if isinstance(data, (tuple, list)):
        return int(data[0].size(0))
    return int(data.num_nodes)


def _batch_of(data: GraphInput) -> np.ndarray | None:
    if isinstance(data, (tuple, list)) or "batch" not in data.keys():
        return None
    return data.batch.detach().cpu().numpy()


def capture(model: Model, data: GraphInput, *, layers: Sequence[str] | None = None,
            nodes: NodeAxis | None = None, limit_bytes: int | None = None) -> AttentionGrid | GridSet:
    """Run a PyG model once and record the attention of every graph attention layer.

    Parameters
    ----------
    model : torch.nn.Module
        A model containing attention layers (:data:`ATTENTION_LAYERS`, also inside
        ``HeteroConv`` or a ``to_hetero`` model), or one such layer.  It runs in
        ``eval()`` mode (dropout acts on alpha) under ``torch.no_grad()``; its
        training flag is restored afterwards.
    data : torch_geometric.data.Data, Batch, HeteroData or tuple
        The model is called as ``model(data)`` if its forward takes one argument;
        otherwise each forward parameter named like a field of the data gets it
        (``x``, ``edge_index``, ``edge_attr``, ``edge_type``, ``batch``...;
        ``x_dict``, ``edge_index_dict``... for a ``HeteroData``).  A tuple is the
        forward's positional arguments.
    layers : sequence of str, optional
        Module names (``model.named_modules()``) to record; default all.
    nodes : NodeAxis, optional
        Node ids / labels / groups (homogeneous graphs).  Default: ``data.node_ids``
        and ``data.node_labels`` when present, groups from an integer ``data.y``
        (named by ``data.group_names`` if set, kept in ``meta["group_names"]``).
    limit_bytes : int, optional
        Memory limit for dense attention blocks (GPSConv); default half the free memory.

    Returns
    -------
    AttentionGrid or GridSet
        Sparse: ``edge_index (2, E)`` as used by the layers (self-loops they added
        included), ``values (L, H, E)`` with one layer per recorded call.  A batch of
        graphs keeps each node's graph in ``meta["batch"]`` (see :func:`split_graphs`).
        Heterogeneous data gives a GridSet with one grid per edge type
        (``"src__rel__dst"``, query = ``dst`` nodes, key = ``src`` nodes).

    Raises
    ------
    UnsupportedModelError
        No attention layer (the message says what the layers are instead), or a layer
        whose attention cannot be read faithfully (with the reason).
        Also layers with different head counts or edge lists, which cannot share one grid
        (capture them separately with ``layers=``).
    ValueError
        A forward parameter the data lacks; the model failing on the data (the message
        names the call that was made).

    Example
    -------
    >>> grid = capture(model, data)  # doctest: +SKIP
    >>> grid.shape                   # doctest: +SKIP
    (2, 4, 190)
    """
    modules, refused = _attention_modules(model, layers)
    calls: list[LayerCall] = []
    _run(model, data, modules, calls.append, limit_bytes)
    if not calls:
        raise MultiattnValueError("the model ran but none of its attention layers was called")
    if refused:
        warnings.warn(f"{len(refused)} layer{'s' if len(refused) > 1 else ''} not captured: " + "; ".join(
            f"{name} ({cls}): {reason}" for name, cls, reason in refused), MultiattnWarning, stacklevel=2)
    if is_hetero(data):
        from ._graph_hetero import hetero_grids

        result = hetero_grids(calls, data, model)
        if refused:
            result.meta["skipped_layers"] = [name for name, _, _ in refused]
        return result
    grid = _stack(_labelled(calls), nodes, data, model)
    if refused:
        grid.meta["skipped_layers"] = [name for name, _, _ in refused]
    return grid


def _run(model: Model, data: GraphInput, modules: list[tuple[str, torch.nn.Module]],
         on_call: Callable[[LayerCall], None], limit_bytes: int | None = None) -> None:
    import torch

    with eval_mode(model), torch.no_grad(), recording(modules, on_call, limit_bytes):
        call_model(model, data)


def _labelled(calls: list[LayerCall]) -> list[tuple[str, LayerCall]]:
    counts: dict[str, int] = {}
    out = []
    for call in calls:
        counts[call.name] = counts.get(call.name, 0) + 1
        out.append((call.name if counts[call.name] == 1 else f"{call.name}#{counts[call.name]}", call))
    return out


def run_with_layer_hooks(model: Model, data: GraphInput, modules: list[tuple[str, torch.nn.Module]],
                         on_layer: Callable[[str, np.ndarray, np.ndarray], None]) -> None:
    """Run the model once (eval, no grad) and call ``on_layer(label, edge_index, alpha)`` per layer call.

    ``alpha`` is ``(E, H)`` as the layer computed it; a layer called twice is
    labelled ``name#2``.  Used by streaming capture (which summarises and drops each call).
    """
    if is_hetero(data):
        raise UnsupportedModelError("streaming a heterogeneous graph is not supported; use "
                                    "graph.capture, which returns one grid per edge type")
    counts: dict[str, int] = {}

    def on_call(call: LayerCall) -> None:
        counts[call.name] = counts.get(call.name, 0) + 1
        label = call.name if counts[call.name] == 1 else f"{call.name}#{counts[call.name]}"
        on_layer(label, call.edge_index, call.alpha)

    _run(model, data, modules, on_call)


def check_same_edges(labels: list[str], edges: list[np.ndarray], alphas: list[np.ndarray]) -> None:
    """Refuse stacking layer calls with different head counts or edge lists into one grid."""
    heads = [alpha.shape[1] for alpha in alphas]
    if len(set(heads)) != 1:
        raise UnsupportedModelError(
            f"layers have different head counts {heads} ({labels}); capture them separately with "
            "layers=[name]")
    for label, other in zip(labels[1:], edges[1:]):
        if other.shape != edges[0].shape or not np.array_equal(other, edges[0]):
            raise UnsupportedModelError(
                f"layer {label} used a different edge list than {labels[0]} ({other.shape[1]} vs "
                f"{edges[0].shape[1]} edges); capture them separately with layers=[name]")


def _stack(entries: list[tuple[str, LayerCall]], nodes: NodeAxis | None, data: GraphInput,
           model: Model) -> AttentionGrid:
    labels = [label for label, _ in entries]
    calls = [call for _, call in entries]
    axis = nodes if nodes is not None else _node_axis_of(data, _num_nodes(data))
    for label, call in entries:
        check_sizes(call, label, len(axis), len(axis))
    check_same_edges(labels, [c.edge_index for c in calls], [c.alpha for c in calls])
    values = np.stack([c.alpha.T for c in calls])
    meta = {
        "source": "torch_geometric",
        "model": type(model).__name__,
        "layer_types": [type(c.module).__name__ for c in calls],
        "self_loops_added": [bool(getattr(c.module, "add_self_loops", False)) for c in calls],
        "normalized": calls[0].normalized,
        **batch_meta(_batch_of(data), len(axis)),
    }
    if getattr(data, "group_names", None) is not None:
        meta["group_names"] = [str(name) for name in data.group_names]
    dims = {int(getattr(c.module, "dim", 1)) for c in calls if type(c.module).__name__ == "RGATConv"}
    if dims - {1}:
        meta["heads_are"] = f"RGATConv heads x dim {sorted(dims)}: head index = h * dim + d"
    mods = sorted({str(c.module.mod) for c in calls if getattr(c.module, "mod", None)})
    if mods:
        meta["notes"] = [f"RGATConv mod={mod!r} reweights alpha inside its messages; the grid holds the "
                         "softmax the layer returns with return_attention_weights" for mod in mods]
    return from_edges(calls[0].edge_index, values, nodes=axis, num_nodes=len(axis), multi_edges="keep",
                      layers=labels, meta=meta, check_rows=all(rows_sum_to_one(c.normalized) for c in calls))


def stack_records(records: list[tuple[str, np.ndarray, np.ndarray]],
                  modules: list[tuple[str, torch.nn.Module]], nodes: NodeAxis | None,
                  data: GraphInput, model: Model) -> AttentionGrid:
    """One grid from ``(label, edge_index, alpha (E, H))`` records of :func:`run_with_layer_hooks`."""
    by_name = dict(modules)
    entries = []
    for label, edges, alpha in records:
        module = by_name[label.split("#")[0]]
        note = LayerCall(label, module, edges, alpha).normalized
        if type(module).__name__ == "MultiheadAttention":
            from ._graph_layers import DENSE_NOTE

            note = DENSE_NOTE
        entries.append((label, LayerCall(label, module, edges, alpha, note)))
    return _stack(entries, nodes, data, model)
