"""Call a PyG model the way its forward takes it: forward arguments matched to ``Data`` fields by name."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnError, MultiattnTypeError, MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn._types import GraphInput, Model

__all__ = ["call_model", "forward_arguments", "is_hetero"]

#: Forward parameter names that mean "the whole graph object" when the forward takes one argument.
_WHOLE = ("data", "batch_data", "graph", "g", "inputs", "sample")
#: Parameter names that show a forward takes the graph's fields one by one.
_GRAPH_ARGS = {"x", "edge_index", "x_dict", "edge_index_dict", "adj", "adj_t"}


def is_hetero(data: GraphInput) -> bool:
    """True for a ``HeteroData`` or a forward tuple that starts with a node-type dict (``x_dict``)."""
    if isinstance(data, (tuple, list)):
        return bool(data) and isinstance(data[0], dict)
    return hasattr(data, "node_types") and hasattr(data, "edge_types")


def _field(data: Any, name: str) -> tuple[bool, Any]:
    """``(found, value)`` of a forward parameter ``name`` in a ``Data`` / ``HeteroData``."""
    if is_hetero(data):
        key = name[:-5] if name.endswith("_dict") else name
        try:
            value = data.collect(key)
        except (KeyError, AttributeError):
            return False, None
        return bool(value), value
    if name in getattr(data, "keys", lambda: [])():
        return True, data[name]
    return False, None


def _parameters(model: Model) -> list[inspect.Parameter]:
    try:
        params = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):  # builtins / compiled forwards without a signature
        return []
    return [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def forward_arguments(model: Model, data: GraphInput) -> tuple[tuple, dict, str]:
    """``(args, kwargs, description)`` for calling ``model`` on ``data``.

    A tuple is the forward's positional arguments as given.  A ``Data`` / ``HeteroData``
    is passed whole to a forward of one parameter; otherwise every forward parameter
    whose name is a field of the data (``x``, ``edge_index``, ``edge_attr``, ``edge_type``,
    ``batch``...; ``x_dict`` / ``edge_index_dict``... for heterogeneous data) gets that
    field, so ``edge_attr`` is never dropped when the forward takes it.

    Examples
    --------
    >>> args, kwargs, how = forward_arguments(model, data)  # doctest: +SKIP
    >>> how  # doctest: +SKIP
    'model(x=data.x, edge_index=data.edge_index, edge_attr=data.edge_attr)'
    """
    if isinstance(data, (tuple, list)):
        return tuple(data), {}, f"model(*inputs) with {len(data)} positional arguments"
    if not (is_hetero(data) or (hasattr(data, "x") and hasattr(data, "edge_index"))):
        raise MultiattnTypeError(
            "data must be a torch_geometric Data / Batch (with x and edge_index), a HeteroData, or "
            f"a tuple of forward arguments, got {type(data).__name__}")
    params = _parameters(model)
    if not params:  # forward(*args, **kwargs), e.g. HeteroConv: features and edges by position
        return _by_position(data)
    required = [p for p in params if p.default is p.empty]
    names = {p.name for p in params}
    if len(params) == 1 or (len(required) == 1 and (required[0].name in _WHOLE or not names & _GRAPH_ARGS)):
        return (data,), {}, "model(data)"
    suffix = "_dict" if is_hetero(data) else ""
    kwargs, missing = {}, []
    for p in params:
        found, value = _field(data, p.name)
        if found and p.name == "edge_attr" and not _uses_edge_attr(model):
            continue
        if found:
            kwargs[p.name] = value
        elif p.name == "batch" and p.default is p.empty and not is_hetero(data):  # one graph: all in graph 0
            import torch

            kwargs[p.name] = torch.zeros(int(data.num_nodes), dtype=torch.long, device=data.x.device)
        elif p.default is p.empty:
            missing.append(p.name)
    if missing and not kwargs and len(required) == 2:  # forward(feats, adj): the classic order
        args = (data.collect("x"), data.collect("edge_index")) if suffix else (data.x, data.edge_index)
        return args, {}, f"model(data.x{suffix}, data.edge_index{suffix}) by position"
    kwargs.update(_inner_conv_fields(model, data, kwargs))
    if missing:
        raise MultiattnValueError(
            f"{type(model).__name__}.forward takes {', '.join(missing)} but the {type(data).__name__} has "
            f"no such field (it has {sorted(_keys(data))}); add it to the data or pass the forward's "
            "arguments as a tuple")
    how = ", ".join(f"{name}=data.{name}" for name in kwargs)
    return (), kwargs, f"model({how})"


def _uses_edge_attr(layer: Any) -> bool:
    """False for a PyG layer built without ``edge_dim`` (``lin_edge`` is None): it must not get edge_attr."""
    return getattr(layer, "lin_edge", "absent") is not None


def _inner_conv_fields(model: Model, data: Any, taken: dict) -> dict:
    """Fields for a wrapper's ``**kwargs`` that its inner ``conv`` takes (GPSConv(GINEConv): edge_attr)."""
    try:
        outer = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return {}
    conv = getattr(model, "conv", None)
    if conv is None or not any(p.kind == p.VAR_KEYWORD for p in outer) or is_hetero(data):
        return {}
    extra = {}
    for p in _parameters(conv)[2:]:
        found, value = _field(data, p.name)
        if found and p.name not in taken and (p.name != "edge_attr" or _uses_edge_attr(conv)):
            extra[p.name] = value
    return extra


def _by_position(data: Any) -> tuple[tuple, dict, str]:
    if not is_hetero(data):
        return (data.x, data.edge_index), {}, "model(data.x, data.edge_index)"
    args = (data.collect("x"), data.collect("edge_index"))
    found, attrs = _field(data, "edge_attr_dict")
    if found:
        return args, {"edge_attr_dict": attrs}, \
            "model(data.x_dict, data.edge_index_dict, edge_attr_dict=data.edge_attr_dict)"
    return args, {}, "model(data.x_dict, data.edge_index_dict)"


def _keys(data: Any) -> set[str]:
    if is_hetero(data):
        names: set[str] = set()
        for store in list(data.node_stores) + list(data.edge_stores):
            names.update(f"{key}_dict" for key in store.keys())
        return names
    return set(data.keys())


def call_model(model: Model, data: GraphInput) -> Any:
    """Run ``model`` on ``data`` (see :func:`forward_arguments`); a failure inside names the call made.

    Examples
    --------
    >>> out = call_model(model, data)  # doctest: +SKIP
    """
    args, kwargs, how = forward_arguments(model, data)
    try:
        return model(*args, **kwargs)
    except MultiattnError:
        raise
    except (RuntimeError, ValueError, TypeError, AssertionError, KeyError, IndexError, AttributeError) as err:
        raise MultiattnValueError(
            f"{type(model).__name__} failed on this input, called as {how}: {type(err).__name__}: "
            f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}; check that the data fits "
            "the model (feature sizes, edge_dim, edge types), or pass the forward's arguments as a "
            "tuple") from err
