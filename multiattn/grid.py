"""AttentionGrid and AttentionMap: attention weights with named dims and axes.

``AttentionGrid`` holds weights with dimensions ``(layer, head, query, key)``
plus the axes that say what each query and key position means.  Dense grids
store ``values`` of shape ``(L, H, Q, K)``; sparse (graph) grids store
``edge_index`` of shape ``(2, E)`` (row 0 = source/key, row 1 = target/query:
the target attends to the source) and ``values`` of shape ``(L, H, E)``.

Operations return new objects and never mutate (like xarray).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnTypeError, MultiattnValueError, MultiattnWarning

from . import _attention_map as _amap
from ._attention_map import AttentionMap
from ._grid_io import check_header, read_npz
from ._index import resolve_index, resolve_indices
from ._memory import check_fits
from ._repr import grid_html, grid_png
from .axes import Axis, axis_from_dict

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ._types import ArrayLike

__all__ = ["AttentionGrid", "AttentionMap", "RowSumWarning"]

_FORMAT_VERSION = 1
_ROW_TOL = 1e-3


class RowSumWarning(MultiattnWarning):
    """Attention rows do not sum to one."""


def _labels(labels: Iterable | None, n: int, name: str) -> tuple[str, ...]:
    if labels is None:
        return tuple(str(i) for i in range(n))
    out = tuple(str(v) for v in labels)
    if len(out) != n:
        raise MultiattnValueError(f"{len(out)} {name} labels for {n} {name}s in values")
    repeated = sorted({label for label in out if out.count(label) > 1})
    if repeated:
        raise MultiattnValueError(f"{name} labels must be unique (selecting by label would be ambiguous); "
                         f"repeated: {repeated}")
    return out


def _sum_by_target(values: np.ndarray, target: np.ndarray, n_nodes: int) -> np.ndarray:
    """``(L, H, n_nodes)`` float64 sums of edge values ``(L, H, E)`` per target node (one bincount).

    Examples
    --------
    >>> _sum_by_target(np.ones((1, 1, 3)), np.array([0, 0, 2]), 3)
    array([[[2., 0., 1.]]])
    """
    n_maps = values.shape[0] * values.shape[1]
    index = (np.arange(n_maps)[:, None] * n_nodes + target[None, :]).ravel()
    sums = np.bincount(index, weights=values.reshape(n_maps, -1).ravel().astype(np.float64),
                       minlength=n_maps * n_nodes)
    return sums.reshape(values.shape[0], values.shape[1], n_nodes)


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class AttentionGrid:
    """Attention weights ``(layer, head, query, key)`` with axes.

    Parameters
    ----------
    values : array
        Dense ``(L, H, Q, K)``; or ``(L, H, E)`` together with ``edge_index``.
    query : Axis
        Axis of the query positions (rows).
    key : Axis, optional
        Axis of the key positions (columns); default ``query`` (self-attention).
    layers, heads : sequence, optional
        Labels for each layer (e.g. ``"encoder.3"``) and head; default indices.
    kind : {"self", "cross"}
        Self-attention (query and key are the same sequence) or cross-attention.
    meta : dict, optional
        Free-form JSON-serialisable provenance (model id, source, notes).
    edge_index : array (2, E), optional
        Sparse grids only: ``edge_index[0]`` = source (key), ``edge_index[1]`` = target (query).
    normalize : bool
        Renormalise rows to sum to one (recorded in ``meta["normalized"]``).
        Otherwise rows that do not sum to one only raise a :class:`RowSumWarning`.
    check_rows : bool
        Set False for values that are not row distributions (e.g. relevance).

    Example
    -------
    >>> from multiattn.axes import TokenAxis
    >>> weights = np.full((2, 3, 4, 4), 0.25, dtype=np.float32)
    >>> grid = AttentionGrid(weights, TokenAxis(list("abcd")))
    >>> grid.shape, grid.select(layer=1, head=[0, 2]).shape
    ((2, 3, 4, 4), (1, 2, 4, 4))
    """

    def __init__(
        self,
        values: ArrayLike,
        query: Axis,
        key: Axis | None = None,
        *,
        layers: Sequence | None = None,
        heads: Sequence | None = None,
        kind: str = "self",
        meta: dict | None = None,
        edge_index: ArrayLike | None = None,
        normalize: bool = False,
        check_rows: bool = True,
    ) -> None:
        if not isinstance(query, Axis) or (key is not None and not isinstance(key, Axis)):
            raise MultiattnTypeError("query and key must be Axis objects (TokenAxis, PatchAxis, ...)")
        if kind not in ("self", "cross"):
            raise MultiattnValueError(f"kind must be 'self' or 'cross', got {kind!r}")
        key = query if key is None else key
        arr = _amap.finite_float32(values, "attention values")
        self.meta: dict = dict(meta or {})
        self.kind = kind
        self.query, self.key = query, key
        self.edge_index = None if edge_index is None else self._check_edges(edge_index, arr)
        if self.edge_index is None:
            self._check_dense(arr)
        self.layers = _labels(layers, arr.shape[0], "layer")
        self.heads = _labels(heads, arr.shape[1], "head")
        if normalize:
            arr = self._normalised(arr)
            self.meta["normalized"] = "rows renormalised to sum to 1 at construction"
        elif check_rows:
            self._warn_rows(arr)
        self.values = arr
        self.values.setflags(write=False)

    # -- validation -------------------------------------------------------
    def _check_dense(self, arr: np.ndarray) -> None:
        want = (len(self.query), len(self.key))
        if arr.ndim != 4 or arr.shape[2:] != want:
            hint = " (add missing dims with values[None, None])" if arr.ndim < 4 else ""
            raise MultiattnValueError(
                f"dense attention must have shape (layers, heads, {want[0]}, {want[1]}) to match "
                f"query axis of {want[0]} and key axis of {want[1]} positions, got {arr.shape}{hint}"
            )

    def _check_edges(self, edge_index: ArrayLike, arr: np.ndarray) -> np.ndarray:
        edges = np.asarray(edge_index)
        if edges.ndim != 2 or edges.shape[0] != 2 or not np.issubdtype(edges.dtype, np.integer):
            raise MultiattnValueError(
                f"edge_index must be an integer array of shape (2, E), got {edges.shape}")
        if arr.ndim != 3 or arr.shape[2] != edges.shape[1]:
            raise MultiattnValueError(
                f"sparse attention values must have shape (layers, heads, {edges.shape[1]}) "
                f"for {edges.shape[1]} edges, got {arr.shape}"
            )
        if edges.size and (edges.min() < 0 or edges[0].max() >= len(self.key)
                           or edges[1].max() >= len(self.query)):
            raise MultiattnValueError(
                f"edge_index refers to nodes outside the axes ({len(self.key)} sources, "
                f"{len(self.query)} targets)"
            )
        edges = edges.astype(np.int64)
        edges.setflags(write=False)
        return edges

    def _row_sums(self, arr: np.ndarray) -> np.ndarray:
        if self.edge_index is None:
            return arr.sum(axis=-1, dtype=np.float64)
        sums = _sum_by_target(arr, self.edge_index[1], len(self.query))
        has_in = np.bincount(self.edge_index[1], minlength=len(self.query)) > 0
        return sums[..., has_in]

    def _warn_rows(self, arr: np.ndarray) -> None:
        low = float(arr.min()) if arr.size else 0.0
        if low < -_ROW_TOL:
            at = tuple(int(i) for i in np.unravel_index(np.argmin(arr), arr.shape))
            raise MultiattnValueError(
                f"attention weights are never negative, but these have {low:.4g} at {at} "
                f"(shape {arr.shape}); for signed values (gradients, relevance) pass check_rows=False")
        sums = self._row_sums(arr)
        off = np.abs(sums - 1.0) > _ROW_TOL
        if off.any():
            worst = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(sums - 1)), sums.shape))
            warnings.warn(
                f"{int(off.sum())} of {off.size} attention rows do not sum to 1 (worst at "
                f"(layer, head, query)={worst}: {float(sums[worst]):.4f}); pass normalize=True "
                "to renormalise, or check_rows=False for values that are not distributions",
                RowSumWarning,
                stacklevel=3,
            )

    def _normalised(self, arr: np.ndarray) -> np.ndarray:
        if (arr < 0).any():
            raise MultiattnValueError("cannot renormalise rows with negative values")
        if self.edge_index is None:
            sums = arr.sum(axis=-1, keepdims=True)
            return np.divide(arr, sums, out=np.zeros_like(arr), where=sums > 0)
        sums = _sum_by_target(arr, self.edge_index[1], len(self.query)).astype(np.float32)
        per_edge = sums[..., self.edge_index[1]]
        return np.divide(arr, per_edge, out=np.zeros_like(arr), where=per_edge > 0)

    # -- description ------------------------------------------------------
    @property
    def is_sparse(self) -> bool:
        """True for edge-list (graph) grids."""
        return self.edge_index is not None

    @property
    def shape(self) -> tuple[int, ...]:
        """``(L, H, Q, K)`` for dense grids, ``(L, H, E)`` for sparse ones."""
        return tuple(self.values.shape)

    @property
    def n_layers(self) -> int:
        return self.values.shape[0]

    @property
    def n_heads(self) -> int:
        return self.values.shape[1]

    @property
    def dense_nbytes(self) -> int:
        """Bytes a dense float32 ``(L, H, Q, K)`` array of this grid takes."""
        return 4 * self.n_layers * self.n_heads * len(self.query) * len(self.key)

    def __repr__(self) -> str:
        store = f"sparse, {self.values.shape[2]} edges" if self.is_sparse else "dense"
        return (
            f"AttentionGrid({self.kind}, layers={self.n_layers}, heads={self.n_heads}, "
            f"query={type(self.query).__name__}[{len(self.query)}], "
            f"key={type(self.key).__name__}[{len(self.key)}], {store})"
        )

    def _replace(self, values: np.ndarray, **changes: Any) -> AttentionGrid:
        args = dict(
            query=self.query, key=self.key, layers=self.layers, heads=self.heads,
            kind=self.kind, meta=dict(self.meta), edge_index=self.edge_index,
        )
        args.update(changes)
        return AttentionGrid(values, check_rows=False, **args)

    # -- selection and reduction ------------------------------------------
    def select(self, layer: int | str | Sequence[int | str] | np.ndarray | None = None,
               head: int | str | Sequence[int | str] | np.ndarray | None = None) -> AttentionGrid:
        """Keep some layers and/or heads (by index or label); dims are kept.

        Example
        -------
        >>> grid.select(layer="encoder.3", head=[0, 1])  # doctest: +SKIP
        """
        lay = list(range(self.n_layers)) if layer is None else resolve_indices(layer, self.layers, "layer")
        hed = list(range(self.n_heads)) if head is None else resolve_indices(head, self.heads, "head")
        values = self.values[np.ix_(lay, hed)] if self.is_sparse else self.values[lay][:, hed]
        return self._replace(
            np.ascontiguousarray(values),
            layers=[self.layers[i] for i in lay],
            heads=[self.heads[i] for i in hed],
        )

    def reduce(self, how: str = "mean", over: str = "head") -> AttentionGrid:
        """Fuse heads or layers with ``mean``, ``max`` or ``min``; the dim is kept with size 1."""
        funcs = {"mean": np.mean, "max": np.max, "min": np.min}
        if how not in funcs:
            raise MultiattnValueError(f"how must be one of {sorted(funcs)}, got {how!r}")
        dims = {"layer": 0, "head": 1}
        if over not in dims:
            raise MultiattnValueError(f"over must be 'layer' or 'head', got {over!r}")
        values = funcs[how](self.values, axis=dims[over], keepdims=True).astype(np.float32)
        labels = self.layers if over == "layer" else self.heads
        name = [f"{how}({labels[0]}..{labels[-1]})"]
        change = {"layers": name} if over == "layer" else {"heads": name}
        return self._replace(values, **change)

    def row(self, query: int | str, layer: int | str = -1, head: int | str = "mean") -> AttentionMap:
        """Attention of one query position over the key axis.

        ``head="mean"`` averages the heads of that layer; pass an index or label for one head.
        """
        q = resolve_index(query, self.query.labels, "query")
        grid = self.select(layer=layer)
        grid = grid.reduce("mean", "head") if head == "mean" else grid.select(head=head)
        if grid.is_sparse:  # the query's incoming edges only: a 200k-node graph is never densified
            dense = np.zeros(len(self.key), np.float32)
            incoming = grid.edge_index[1] == q
            np.add.at(dense, grid.edge_index[0][incoming], grid.values[0, 0][incoming])
        else:
            dense = grid.values[0, 0, q]
        meta = {"layer": grid.layers[0], "head": grid.heads[0], "query": q}
        return AttentionMap(dense, self.key, meta)

    def to_dense(self, limit_bytes: int | None = None) -> AttentionGrid:
        """Dense ``(L, H, Q, K)`` grid; refuses sizes above the memory guard."""
        if not self.is_sparse:
            return self
        dims = (self.n_layers, self.n_heads, len(self.query), len(self.key))
        check_fits(self.dense_nbytes, f"dense grid {dims}",
                   limit_bytes)
        dense = np.zeros((self.n_layers, self.n_heads, len(self.query), len(self.key)), np.float32)
        # repeated (source, target) pairs accumulate, as message passing would
        np.add.at(dense, (slice(None), slice(None), self.edge_index[1], self.edge_index[0]), self.values)
        return AttentionGrid(dense, self.query, self.key, layers=self.layers, heads=self.heads,
                             kind=self.kind, meta=dict(self.meta), check_rows=False)

    def _repr_html_(self) -> str:
        """Notebooks: a summary and a thumbnail (multiattn._repr); interactive: renderers.html.repr_html."""
        return grid_html(self)

    _repr_png_ = grid_png

    # -- persistence ------------------------------------------------------
    def _header(self) -> dict:
        return {
            "format": "multiattn.AttentionGrid",
            "version": _FORMAT_VERSION,
            "kind": self.kind,
            "layers": list(self.layers),
            "heads": list(self.heads),
            "query": self.query.to_dict(),
            "key": None if self.key is self.query else self.key.to_dict(),
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` with the arrays and a JSON header (no pickle).

        Example
        -------
        >>> grid.save("attn.npz"); AttentionGrid.load("attn.npz")  # doctest: +SKIP
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        arrays = self._arrays()
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        return path

    def _arrays(self) -> dict[str, np.ndarray]:
        """The arrays :meth:`save` writes: values, JSON header, edge_index when sparse."""
        try:
            header = json.dumps(self._header())
        except (TypeError, ValueError) as err:
            bad = [k for k, v in self.meta.items() if not _json_ok(v)]
            raise MultiattnTypeError(
                f"grid.meta must be JSON-serialisable to be saved: {err} (keys {bad}); "
                "store plain numbers, strings, lists or dicts, e.g. meta[key] = str(value)") from None
        arrays = {"values": self.values, "header": np.array(header)}
        if self.is_sparse:
            arrays["edge_index"] = self.edge_index
        return arrays

    @classmethod
    def load(cls, path: str | Path) -> AttentionGrid:
        """Read a grid written by :meth:`save` (``allow_pickle=False``)."""
        arrays = read_npz(path)
        if "gridset" in arrays:
            raise MultiattnValueError(f"{path} holds several grids (a GridSet): read it with "
                             "multiattn.GridSet.load or multiattn.load")
        return cls._from_arrays(arrays, source=str(path))

    @classmethod
    def _from_arrays(cls, arrays: dict[str, np.ndarray], source: str) -> AttentionGrid:
        """Rebuild a grid from the arrays of :meth:`_arrays` (``source`` names it in errors)."""
        if "header" not in arrays or "values" not in arrays:
            raise MultiattnValueError(
                f"{source} is not a readable multiattn grid (it has no header/values arrays)")
        try:
            header = json.loads(str(arrays["header"]))
        except json.JSONDecodeError:
            raise MultiattnValueError(
                f"{source} is not a readable multiattn grid (its header is not JSON)") from None
        header = check_header(header, source, _FORMAT_VERSION)
        values = arrays["values"]
        edge_index = arrays.get("edge_index")
        try:
            query = axis_from_dict(header["query"])
            key = query if header["key"] is None else axis_from_dict(header["key"])
        except (TypeError, ValueError, KeyError) as err:
            raise MultiattnValueError(f"{source} is not a readable multiattn grid (bad axis in its header: "
                             f"{str(err).splitlines()[0]})") from None
        return cls(values, query, key, layers=header["layers"], heads=header["heads"],
                   kind=header["kind"], meta=header["meta"], edge_index=edge_index,
                   check_rows=False)
