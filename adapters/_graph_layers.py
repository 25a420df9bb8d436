"""Which PyG layers carry attention, how each layer's weights are read, and why the others are refused.

Each supported layer class has one *reading*:

- ``"kwarg"`` (GATConv, GATv2Conv): the alpha the layer passes to ``propagate``;
- ``"stored"`` (TransformerConv, RGATConv): the ``_alpha`` the layer keeps for
  ``return_attention_weights``, read right after ``propagate``;
- ``"softmax"`` (SuperGATConv, AGNNConv, HGTConv, GeneralConv(attention=True)): the one
  ``softmax`` the layer's ``message`` computes during ``propagate`` (they do not return alpha);
- ``"dense"`` (GPSConv): its ``torch.nn.MultiheadAttention`` block, dense over the nodes
  of each graph, recomputed with ``need_weights=True`` beside the real call (whose
  output is left untouched).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError, UnsupportedModelError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from multiattn._types import Model

__all__ = ["LayerCall", "READINGS", "REFUSED", "SUPPORTED_NAMES", "check_sizes", "recording", "refusal",
           "rows_sum_to_one", "scan"]

READINGS = {"GATConv": "kwarg", "GATv2Conv": "kwarg", "TransformerConv": "stored", "RGATConv": "stored",
            "SuperGATConv": "softmax", "AGNNConv": "softmax", "HGTConv": "softmax", "GPSConv": "dense"}
"""Supported PyG layer classes and how their attention is read."""

SUPPORTED_NAMES = (*READINGS, "GeneralConv(attention=True)")
"""The supported layers as a user would name them (in messages and docs)."""

REFUSED = {
    "FusedGATConv": "its dgNN kernel computes alpha inside one fused operator and never returns it; "
                    "load its weights into a GATConv (same parameters) to capture",
    "HANConv": "its node-level attention per metapath is mixed by a semantic attention that is not one "
               "weight per edge; not read yet",
    "HEATConv": "its edge-type-aware attention is not read yet",
    "PointTransformerConv": "vector attention: one softmax per feature channel, not one weight per edge",
    "DNAConv": "its attention is over the layer history of each node, not over edges",
    "FAConv": "its coefficients are tanh scores (signed, not a softmax over neighbours)",
    "PerformerAttention": "Performer attention is a linear kernel approximation that never forms the "
                          "N x N attention weights; use attn_type='multihead'",
}
"""Layer classes that compute something attention-like multiattn cannot read faithfully, with why."""

_NORMALISED = "softmax over each target's incoming edges (computed by the layer)"
DENSE_NOTE = "softmax over all nodes of the target's graph (GPSConv's dense MultiheadAttention)"


def rows_sum_to_one(note: str) -> bool:
    """Whether a layer's weights over each target's incoming edges sum to one (by its ``normalized``)."""
    return note in (_NORMALISED, DENSE_NOTE)


@dataclass
class LayerCall:
    """One call of one attention layer: ``alpha (E, H)`` over ``edge_index (2, E)`` (source, target)."""

    name: str
    module: Any
    edge_index: np.ndarray
    alpha: np.ndarray
    normalized: str = _NORMALISED
    edge_type: tuple | None = None
    sizes: tuple[int, int] | None = None  # (source, target) node counts the layer ran on


#: Layers whose attention is an option: (attribute that switches it on, reading or refusal reason).
_OPTIONAL = {
    "GeneralConv": ("attention", "softmax"),
    "HypergraphConv": ("use_attention", "its attention is over node-hyperedge incidences, not node-node "
                                        "edges; not read yet"),
}


def _reading(module: torch.nn.Module) -> tuple[str | None, str | None]:
    """``(reading, None)``, ``(None, reason)`` for a refused class, or ``(None, None)``."""
    name = type(module).__name__
    if name in _OPTIONAL and type(module).__module__.startswith("torch_geometric"):
        switch, what = _OPTIONAL[name]
        if not getattr(module, switch, False):
            return None, None
        return (what, None) if what in ("softmax",) else (None, what)
    for cls in type(module).__mro__:
        if not cls.__module__.startswith("torch_geometric"):
            continue
        if cls.__name__ in REFUSED:
            return None, REFUSED[cls.__name__]
        if cls.__name__ in READINGS:
            return READINGS[cls.__name__], None
    if _uses_edge_softmax(module):
        return None, ("it computes a softmax over each node's edges (attention-like) that multiattn does not "
                      "read yet; only the layers listed are read exactly")
    return None, None


def _uses_edge_softmax(module: torch.nn.Module) -> bool:
    """True for a message-passing layer whose source module calls PyG's edge ``softmax`` (attention-like)."""
    try:
        from torch_geometric.nn.conv import MessagePassing
        from torch_geometric.utils import softmax
    except ImportError:  # pragma: no cover - PyG is present whenever a PyG layer is
        return False
    if not isinstance(module, MessagePassing):
        return False
    for cls in type(module).__mro__:
        if cls is MessagePassing:
            break
        for func in vars(cls).values():
            code = getattr(func, "__code__", None)
            if code is None:
                continue
            named = (func.__globals__.get(name) for name in code.co_names)
            closed = (cell.cell_contents for cell in (func.__closure__ or ()))
            if any(obj is softmax for obj in (*named, *closed)):
                return True
    return False


def scan(model: Model) -> tuple[list[tuple[str, Any]], list[tuple[str, str, str]], list[tuple[str, str]]]:
    """``(supported, refused, plain)`` layers of a PyG model.

    ``supported`` are ``(name, module)`` to hook (for GPSConv its ``attn`` block), ``refused``
    ``(name, class, reason)``, ``plain`` the message-passing layers without attention.
    """
    from torch_geometric.nn.conv import MessagePassing

    supported, refused, plain = [], [], []
    inside: set[int] = set()  # the attention blocks of GPSConvs, reported with their layer
    for name, module in model.named_modules():
        name = name or type(module).__name__
        reading, reason = _reading(module)
        if id(module) in inside:
            continue
        if reading == "dense":
            attn = getattr(module, "attn", None)
            inside.add(id(attn))
            if isinstance(attn, _mha()):
                supported.append((f"{name}.attn", attn))
            else:
                refused.append((name, type(module).__name__,
                                REFUSED.get(type(attn).__name__, f"its attention {type(attn).__name__} "
                                            "is not a torch.nn.MultiheadAttention")))
        elif reading is not None:
            supported.append((name, module))
        elif reason is not None:
            refused.append((name, type(module).__name__, reason))
        elif isinstance(module, MessagePassing) and not isinstance(getattr(module, "attn", None), _mha()):
            plain.append((name, type(module).__name__))
    return supported, refused, plain


def _mha() -> type:
    import torch

    return torch.nn.MultiheadAttention


def refusal(model: Model, refused: list, plain: list) -> UnsupportedModelError:
    """The error for a model with no readable attention layer, saying what it has instead."""
    supported = ", ".join(SUPPORTED_NAMES)
    if refused:
        name, cls, reason = refused[0]
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        return UnsupportedModelError(
            f"{type(model).__name__}: layer {name} ({cls}){more} cannot be captured: {reason}. "
            f"multiattn reads {supported}")
    if plain:
        kinds = sorted({cls for _, cls in plain})
        return UnsupportedModelError(
            f"{type(model).__name__} has no attention: its layers ({', '.join(kinds)}) aggregate neighbours "
            f"with fixed or learned weights, not attention weights; multiattn reads {supported}")
    return UnsupportedModelError(
        f"{type(model).__name__} has no PyG attention layer ({supported}); nothing to capture")


# -- recording ---------------------------------------------------------------------------------
def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy() if t.is_floating_point() else t.detach().cpu().numpy()


def _edges(name: str, edge_index: Any) -> np.ndarray:
    import torch

    if not isinstance(edge_index, torch.Tensor) or edge_index.layout != torch.strided:
        raise UnsupportedModelError(f"layer {name} got a sparse adjacency; pass edge_index as a (2, E) "
                                    "LongTensor to capture attention")
    return edge_index.detach().cpu().numpy().astype(np.int64)


def _alpha_2d(name: str, alpha: Any, n_edges: int) -> np.ndarray:
    if alpha is None:
        raise UnsupportedModelError(f"layer {name} ran without computing attention (alpha is None)")
    arr = _numpy(alpha).reshape(alpha.shape[0], -1)
    if arr.shape[0] != n_edges:
        raise UnsupportedModelError(
            f"layer {name}: alpha has {arr.shape[0]} rows for {n_edges} edges; cannot pair"
            " weights with edges")
    return arr


def _note(module: Any) -> str:
    if type(module).__name__ == "RGATConv" and module.attention_mechanism == "within-relation":
        return ("softmax over each target's incoming edges of one relation (RGATConv within-relation): "
                "a target's weights sum to 1 per relation")
    if type(module).__name__ == "HGTConv":
        return ("softmax over each target's incoming edges of all edge types together (HGTConv): in one "
                "edge type's grid a target's weights sum to that type's share")
    return _NORMALISED


@contextmanager
def _softmax_tap(modules: list[Any], stack: list[list]) -> Iterator[None]:
    """Wrap the ``softmax`` the layers' source modules call; outputs go to ``stack[-1]``."""
    patched: dict[str, Callable] = {}
    for module in modules:
        for cls in type(module).__mro__:
            source = sys.modules.get(cls.__module__)
            if source is not None and callable(getattr(source, "softmax", None)) \
                    and cls.__module__ not in patched:
                patched[cls.__module__] = source.softmax
    def _wrap(original: Callable) -> Callable:
        def softmax(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            if stack:
                stack[-1].append(out)
            return out
        return softmax
    try:
        for mod_name, original in patched.items():
            sys.modules[mod_name].softmax = _wrap(original)
        yield
    finally:
        for mod_name, original in patched.items():
            sys.modules[mod_name].softmax = original


class _Recorder:
    """Hooks on every supported layer; ``on_call(LayerCall)`` per layer call."""

    def __init__(self, modules: list[tuple[str, Any]], on_call: Callable[[LayerCall], None],
                 limit_bytes: int | None = None):
        self.modules, self.on_call, self.limit_bytes = modules, on_call, limit_bytes
        self.taps: list[list] = []
        self.hetero_args: dict[int, dict] = {}
        self.sizes: dict[int, tuple[int, int] | None] = {}
        self.handles: list[Any] = []

    def __enter__(self) -> _Recorder:
        for name, module in self.modules:
            if isinstance(module, _mha()):
                self.handles.append(module.register_forward_hook(self._dense(name), with_kwargs=True))
                continue
            self.handles.append(module.register_forward_pre_hook(self._keep_sizes, with_kwargs=True))
            self.handles.append(module.register_propagate_forward_pre_hook(self._pre))
            self.handles.append(module.register_propagate_forward_hook(self._post(name)))
            if type(module).__name__ == "HGTConv":
                self.handles.append(module.register_forward_pre_hook(self._keep_dict, with_kwargs=True))
        return self

    def __exit__(self, *exc: Any) -> None:
        for handle in self.handles:
            handle.remove()

    def softmax_modules(self) -> list[Any]:
        return [m for _, m in self.modules if _reading(m)[0] == "softmax"]

    def _keep_dict(self, module: Any, args: tuple, kwargs: dict) -> None:
        self.hetero_args[id(module)] = args[1] if len(args) > 1 else kwargs.get("edge_index_dict")

    def _keep_sizes(self, module: Any, args: tuple, kwargs: dict) -> None:
        self.sizes[id(module)] = _node_counts(args[0] if args else kwargs.get("x"))

    def _pre(self, module: Any, inputs: tuple) -> None:
        self.taps.append([])

    def _post(self, name: str) -> Callable:
        def hook(module: Any, inputs: tuple, out: Any) -> None:
            tapped = self.taps.pop() if self.taps else []
            edge_index, _size, kwargs = inputs
            edges = _edges(name, edge_index)
            reading = _reading(module)[0]
            if reading == "softmax":
                if len(tapped) != 1:
                    raise UnsupportedModelError(
                        f"layer {name} ({type(module).__name__}) computed {len(tapped)} softmaxes in one "
                        "message pass; multiattn reads a layer with exactly one")
                alpha = tapped[0]
            else:
                alpha = kwargs.get("alpha") if reading == "kwarg" else getattr(module, "_alpha", None)
            arr = _alpha_2d(name, alpha, edges.shape[1])
            if type(module).__name__ == "HGTConv":
                for call in _split_hgt(name, module, edges, arr, self.hetero_args.pop(id(module), None)):
                    self.on_call(call)
                return
            self.on_call(LayerCall(name, module, edges, arr, _note(module), sizes=self.sizes.get(id(module))))
        return hook

    def _dense(self, name: str) -> Callable:
        def hook(module: Any, args: tuple, kwargs: dict, out: Any) -> None:
            from ._graph_dense import dense_call

            self.on_call(dense_call(name, module, args, kwargs, self.limit_bytes))
        return hook


def _node_counts(x: Any) -> tuple[int, int] | None:
    """``(source, target)`` node counts of a layer's ``x`` (a tensor, or PyG's bipartite pair)."""
    if isinstance(x, (tuple, list)) and len(x) == 2:
        src, dst = (getattr(part, "shape", None) for part in x)
        if src is None or dst is None:
            return None
        return int(src[0]), int(dst[0])
    shape = getattr(x, "shape", None)
    return None if shape is None or len(shape) == 0 else (int(shape[0]), int(shape[0]))


def check_sizes(call: LayerCall, label: str, n_source: int, n_target: int) -> None:
    """Refuse a layer that ran on other nodes than the axes name (pooling, sampling inside the model)."""
    if call.sizes is not None and call.sizes != (n_source, n_target):
        raise UnsupportedModelError(
            f"layer {label} ran on {call.sizes[0]} source / {call.sizes[1]} target nodes but the data has "
            f"{n_source} / {n_target} (pooling, sampling or a bipartite call inside the model): its node "
            "indices are not the data's; capture the layers before it with layers=[...]")


def _split_hgt(name: str, module: Any, edges: np.ndarray, alpha: np.ndarray,
               edge_index_dict: dict | None) -> list[LayerCall]:
    """HGTConv's one message pass over all edge types, cut back into one call per edge type."""
    if not edge_index_dict:
        raise UnsupportedModelError(f"layer {name} (HGTConv) ran without an edge_index_dict")
    calls, start = [], 0
    for edge_type, local in edge_index_dict.items():
        local = _edges(name, local)
        stop = start + local.shape[1]
        shift = edges[:, start:stop] - local
        if shift.size and not (shift == shift[:, :1]).all():
            raise UnsupportedModelError(f"layer {name} (HGTConv): the edges of {edge_type} are not where "
                                        "HGTConv puts them; cannot split its attention by edge type")
        calls.append(LayerCall(name, module, local, alpha[start:stop], _note(module), tuple(edge_type)))
        start = stop
    if start != edges.shape[1]:
        raise MultiattnValueError(f"layer {name} (HGTConv) used {edges.shape[1]} edges, its edge_index_dict "
                                  f"has {start}")
    return calls


@contextmanager
def recording(modules: list[tuple[str, Any]], on_call: Callable[[LayerCall], None],
              limit_bytes: int | None = None) -> Iterator[None]:
    """Hook ``modules`` for one forward; ``on_call`` gets a :class:`LayerCall` per layer call.

    Examples
    --------
    >>> calls = []
    >>> with recording(graph_modules, calls.append):  # doctest: +SKIP
    ...     model(data.x, data.edge_index)
    """
    recorder = _Recorder(modules, on_call, limit_bytes)
    with recorder, _softmax_tap(recorder.softmax_modules(), recorder.taps):
        yield
