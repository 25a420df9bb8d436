"""LabelledArray: an analysis result that keeps its coordinates (a tiny ``xarray.DataArray``).

Analyses of an :class:`~multiattn.AttentionGrid` return one: a ``(9, 9)``
rollout knows its tokens, a ``(6, 12)`` entropy table knows its layer names,
and both still behave like the numpy array they used to be.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from multiattn.errors import MultiattnIndexError, MultiattnKeyError, MultiattnTypeError, MultiattnValueError

from .axes import Axis

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from numpy.typing import DTypeLike

    from ._attention_map import AttentionMap
    from ._types import ArrayLike
    from .grid import AttentionGrid

__all__ = ["LabelledArray"]

#: ndarray attributes read straight from ``values`` (results are plain numpy).
_ARRAY_ATTRIBUTES = frozenset({
    "T", "all", "any", "argmax", "argmin", "argsort", "astype", "clip", "conj", "cumprod", "cumsum",
    "diagonal", "dot", "fill", "flat", "flatten", "imag", "item", "itemsize", "max", "mean", "min",
    "nbytes", "nonzero", "prod", "ravel", "real", "repeat", "reshape", "round", "squeeze", "std",
    "strides", "sum", "swapaxes", "take", "tobytes", "trace", "transpose", "var",
})

_SHOWN_LABELS = 6


def _coord(labels: Any, n: int, dim: str) -> Axis | tuple[str, ...]:
    """Check one coordinate: an Axis of ``n`` positions or ``n`` labels (default ``"0".."n-1"``)."""
    if labels is None:
        return tuple(str(i) for i in range(n))
    if isinstance(labels, Axis):
        if len(labels) != n:
            raise MultiattnValueError(f"dim {dim!r} has {n} positions but its {type(labels).__name__} "
                             f"has {len(labels)}")
        return labels
    out = tuple(str(v) for v in labels)
    if len(out) != n:
        raise MultiattnValueError(f"dim {dim!r} has {n} positions but {len(out)} labels were given")
    return out


def _position(item: Any, labels: tuple[str, ...], dim: str) -> int:
    """One position along ``dim`` from an index (negative counts from the end) or a label."""
    if isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)):
        if not -len(labels) <= int(item) < len(labels):
            raise MultiattnIndexError(f"{dim} {int(item)} out of range for {len(labels)} positions")
        return int(item) % len(labels)
    if str(item) in labels:
        return labels.index(str(item))
    shown = list(labels[:10]) + (["..."] if len(labels) > 10 else [])
    raise MultiattnKeyError(f"no {dim} {item!r}; labels: {shown}")


def _positions(index: Any, labels: tuple[str, ...], dim: str) -> int | list[int]:
    """An int for one index or label; a list for a slice, list, tuple, range or array of them."""
    if isinstance(index, slice):
        return list(range(len(labels)))[index]
    if isinstance(index, (list, tuple, range, np.ndarray)):
        return [_position(item, labels, dim) for item in index]
    return _position(index, labels, dim)


def _plain(value: Any) -> Any:
    return value.values if isinstance(value, LabelledArray) else value


def _short(labels: Sequence[str]) -> str:
    shown = [repr(s) for s in labels]
    if len(shown) > _SHOWN_LABELS:
        shown = shown[: _SHOWN_LABELS - 2] + ["..."] + shown[-2:]
    return " ".join(shown)


class LabelledArray(NDArrayOperatorsMixin):
    """An ndarray with named dims and coordinates: what analyses of a grid return.

    Parameters
    ----------
    values : array
        The numbers; kept as given (no copy).
    dims : sequence of str
        One name per dimension, e.g. ``("layer", "head")`` or ``("query", "key")``.
    coords : mapping dim -> Axis or sequence, optional
        Labels of each dim: an :class:`~multiattn.axes.Axis` (positions keep their
        meaning: tokens, patches, frames) or one label per position (stored as a
        tuple of str).  Missing dims get ``"0", "1", ...``.
    name : str
        What the values are (``"rollout"``, ``"head_entropy"``), shown in the repr.

    Notes
    -----
    Why an array-compatible object and not an :class:`~multiattn.AttentionGrid`:
    a grid is fixed to ``(layer, head, query, key)`` attention weights, while
    results have other dims (``(layer, head)`` tables, ``(layer,)`` scores, one
    ``(query, key)`` matrix that is no single head's attention), and callers
    use results as arrays: ``rollout(grid)[0]``, ``entropy[2, 3]``,
    ``np.testing.assert_allclose(result, expected)``, ``imshow(result)``,
    ``np.savez(path, r=result)``.  So this class *is* an array wherever code
    treats it as one and adds labels on top:

    - ``__array__`` (numpy 2 ``copy=`` keyword), ufuncs and operators
      (:class:`numpy.lib.mixins.NDArrayOperatorsMixin`), ``[...]`` indexing,
      iteration, ``tolist()`` and the common ndarray methods and attributes
      (``max``, ``sum``, ``mean``, ``argmax``, ``round``, ``T``...) all return
      **plain numpy**: an operation that reshapes or mixes values cannot know
      what the labels would become.  ``==`` is element-wise, as in numpy.
    - Labelled operations keep or use the labels: :meth:`sel`, :meth:`row`,
      :meth:`to_grid`, :meth:`to_records`, :meth:`copy`.
    - Item assignment writes through to ``values`` (``result[0, 0] = 0``),
      and in-place operators (``result *= 2``) change ``values`` and keep the
      labels: the result owns its array and the shape, hence the labels,
      cannot change that way.  Code that assigned into results keeps working.
    - ``json.dumps`` refuses it, as it refused ndarrays: use
      ``result.tolist()``, :meth:`to_records` or ``analysis.report.jsonable``.

    Examples
    --------
    >>> from multiattn import TokenAxis
    >>> table = LabelledArray(np.arange(6.0).reshape(2, 3), ("layer", "head"),
    ...                       {"layer": ["enc.0", "enc.1"]}, name="entropy")
    >>> table.shape, table.dims, table.coords["head"]
    ((2, 3), ('layer', 'head'), ('0', '1', '2'))
    >>> table.sel(layer="enc.1")
    <LabelledArray 'entropy' (head: 3) float64>
    array([3., 4., 5.])
    Coordinates:
      head  '0' '1' '2'
    >>> table.sel(layer="enc.1", head=2), table[1, 2], float(table.max())
    (5.0, np.float64(5.0), 5.0)
    >>> (table * 2).shape, type(table + 1).__name__
    ((2, 3), 'ndarray')
    >>> tokens = TokenAxis(["a", "b"])
    >>> r = LabelledArray(np.eye(2), ("query", "key"), {"query": tokens, "key": tokens})
    >>> r.row("b").values.tolist(), r.to_grid().shape
    ([0.0, 1.0], (1, 1, 2, 2))
    """

    def __init__(self, values: ArrayLike, dims: Sequence[str],
                 coords: Mapping[str, Axis | Sequence[str] | None] | None = None,
                 *, name: str = "") -> None:
        arr = np.asarray(values)
        dims = (dims,) if isinstance(dims, str) else tuple(str(d) for d in dims)
        if len(dims) != arr.ndim:
            raise MultiattnValueError(f"{len(dims)} dims {dims} for an array of shape {arr.shape}")
        if len(set(dims)) != len(dims):
            raise MultiattnValueError(f"dims must be distinct, got {dims}")
        coords = dict(coords or {})
        unknown = set(coords) - set(dims)
        if unknown:
            raise MultiattnValueError(f"coords for unknown dims {sorted(unknown)}; dims are {dims}")
        self.values = arr
        self.dims = dims
        self.coords = {dim: _coord(coords.get(dim), n, dim) for dim, n in zip(dims, arr.shape)}
        self.name = str(name)

    # -- the array protocol -------------------------------------------------
    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        if copy is False and dtype is not None and np.dtype(dtype) != self.values.dtype:
            raise MultiattnValueError(
                f"cannot convert {self.values.dtype} to {np.dtype(dtype)} without a copy")
        arr = self.values if dtype is None else self.values.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, out: Any = None, **kwargs: Any):
        """Ufuncs and operators run on the plain values; results are ndarrays, except ``out=``
        targets (in-place operators), which are returned as given."""
        args = [_plain(x) for x in inputs]
        if out is None:
            return getattr(ufunc, method)(*args, **kwargs)
        getattr(ufunc, method)(*args, out=tuple(_plain(o) for o in out), **kwargs)
        return out[0] if len(out) == 1 else out

    def __getattr__(self, name: str) -> Any:
        if name in _ARRAY_ATTRIBUTES and "values" in self.__dict__:
            return getattr(self.values, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r} "
                             "(.values is the plain ndarray)")

    def __getitem__(self, key: Any) -> Any:
        return self.values[_plain(key)]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.values[_plain(key)] = _plain(value)

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self):
        return iter(self.values)

    def __contains__(self, item: Any) -> bool:
        return item in self.values

    def __bool__(self) -> bool:
        return bool(self.values)

    def __float__(self) -> float:
        return float(self.values)

    def __int__(self) -> int:
        return int(self.values)

    def __complex__(self) -> complex:
        return complex(self.values)

    def __index__(self) -> int:
        return operator.index(self.values)

    def __format__(self, spec: str) -> str:
        return format(self.values[()] if self.ndim == 0 else self.values, spec)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    @property
    def ndim(self) -> int:
        return self.values.ndim

    @property
    def size(self) -> int:
        return self.values.size

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def tolist(self) -> Any:
        """Nested Python lists (a Python scalar for 0-d), as ``ndarray.tolist``."""
        return self.values.tolist()

    def copy(self) -> LabelledArray:
        """A copy of the values with the same dims and coordinates."""
        return LabelledArray(self.values.copy(), self.dims, self.coords, name=self.name)

    # -- labels ---------------------------------------------------------------
    def labels(self, dim: str) -> tuple[str, ...]:
        """Display labels of ``dim`` (an Axis' ``labels``, or the stored tuple).

        Examples
        --------
        >>> LabelledArray(np.zeros(2), ("layer",), {"layer": ["a", "b"]}).labels("layer")
        ('a', 'b')
        """
        self._check_dim(dim)
        coord = self.coords[dim]
        return tuple(coord.labels) if isinstance(coord, Axis) else coord

    def _check_dim(self, dim: str) -> None:
        if dim not in self.dims:
            raise MultiattnKeyError(f"no dim {dim!r}; dims are {self.dims}")

    def sel(self, **indexers: int | str | Sequence[int | str] | slice | np.ndarray
            ) -> LabelledArray | int | float | complex:
        """Select along named dims by label or index (ints are indices, strings labels).

        A single index or label drops its dim; a list, range or slice keeps it
        (an Axis coordinate then becomes the tuple of the selected labels).
        Selecting every dim away returns a Python scalar.

        Examples
        --------
        >>> table = LabelledArray(np.arange(6.0).reshape(2, 3), ("layer", "head"),
        ...                       {"layer": ["enc.0", "enc.1"]})
        >>> table.sel(head=[0, 2]).shape, table.sel(layer=-1, head="1")
        ((2, 2), 4.0)
        """
        for dim in indexers:
            self._check_dim(dim)
        values, dims, coords = self.values, list(self.dims), dict(self.coords)
        for axis in reversed(range(self.ndim)):
            dim = self.dims[axis]
            if dim not in indexers:
                continue
            picked = _positions(indexers[dim], self.labels(dim), dim)
            values = np.take(values, picked, axis=axis)
            if isinstance(picked, int):
                del dims[axis], coords[dim]
            elif picked != list(range(self.shape[axis])):
                coords[dim] = tuple(self.labels(dim)[i] for i in picked)
        if not dims:
            return values.item()
        return LabelledArray(values, dims, coords, name=self.name)

    def _axes(self, what: str) -> tuple[Axis, Axis]:
        if self.dims != ("query", "key"):
            raise MultiattnValueError(f"{what} needs dims ('query', 'key'), this result has {self.dims}")
        query, key = self.coords["query"], self.coords["key"]
        if not isinstance(key, Axis):
            raise MultiattnTypeError(f"{what} needs an Axis on 'key' (results of an AttentionGrid have one); "
                            "this result has plain labels")
        return query, key

    def row(self, query: int | str) -> AttentionMap:
        """One query's row as an :class:`~multiattn.AttentionMap` over the key axis.

        Examples
        --------
        >>> from multiattn import TokenAxis
        >>> tokens = TokenAxis(["a", "b", "c"])
        >>> r = LabelledArray(np.full((3, 3), 1 / 3), ("query", "key"), {"query": tokens, "key": tokens})
        >>> m = r.row(0)
        >>> m.values.shape, m.axis is tokens
        ((3,), True)
        """
        from .grid import AttentionMap

        _, key_axis = self._axes("row")
        q = _position(query, self.labels("query"), "query")
        meta = {"method": self.name, "query": q, "query_label": self.labels("query")[q]}
        return AttentionMap(self.values[q], key_axis, meta)

    def to_grid(self, layer: str | None = None, head: str = "0") -> AttentionGrid:
        """A ``(query, key)`` result as an AttentionGrid with one layer and one head.

        The layer is labelled ``layer`` (default the result's name); rows are not
        checked (relevance need not sum to one).  Renderers that take grids draw it.

        Examples
        --------
        >>> from multiattn import TokenAxis
        >>> tokens = TokenAxis(["a", "b"])
        >>> r = LabelledArray(np.eye(2), ("query", "key"), {"query": tokens, "key": tokens}, name="rollout")
        >>> grid = r.to_grid()
        >>> grid.shape, grid.layers, grid.kind
        ((1, 1, 2, 2), ('rollout',), 'self')
        """
        from .grid import AttentionGrid

        query_axis, key_axis = self._axes("to_grid")
        if not isinstance(query_axis, Axis):
            raise MultiattnTypeError("to_grid needs an Axis on 'query'; this result has plain labels")
        kind = "self" if query_axis is key_axis or bool(query_axis == key_axis) else "cross"
        return AttentionGrid(self.values[None, None], query_axis, key_axis,
                             layers=[layer or self.name or "0"], heads=[head], kind=kind,
                             meta={"method": self.name}, check_rows=False)

    def to_records(self, value: str = "value", *, index: bool = False) -> list[dict]:
        """One dict per element, ``{dim: label, ..., value: number}``, row-major (for tables).

        ``index=True`` adds ``"<dim>_index"`` positions (labels may repeat, e.g. tokens).

        Examples
        --------
        >>> table = LabelledArray([[0.5, 1.0]], ("layer", "head"), {"layer": ["enc.0"]})
        >>> table.to_records()
        [{'layer': 'enc.0', 'head': '0', 'value': 0.5}, {'layer': 'enc.0', 'head': '1', 'value': 1.0}]
        """
        labels = [self.labels(dim) for dim in self.dims]
        records = []
        for where in np.ndindex(self.shape):
            record: dict[str, Any] = {dim: labels[i][j] for i, (dim, j) in enumerate(zip(self.dims, where))}
            if index:
                record.update({f"{dim}_index": j for dim, j in zip(self.dims, where)})
            record[value] = self.values[where].item()
            records.append(record)
        return records

    # -- display --------------------------------------------------------------
    def _coord_line(self, dim: str, width: int) -> str:
        coord = self.coords[dim]
        earlier = [d for d in self.dims[: self.dims.index(dim)] if self.coords[d] is coord]
        if isinstance(coord, Axis) and earlier:
            text = f"same axis as {earlier[0]}"
        elif isinstance(coord, Axis):
            text = f"{type(coord).__name__}[{len(coord)}]: {_short(coord.labels)}"
        else:
            text = _short(coord)
        return f"  {dim:<{width}}  {text}"

    def __repr__(self) -> str:
        name = f" {self.name!r}" if self.name else ""
        sizes = ", ".join(f"{d}: {n}" for d, n in zip(self.dims, self.shape))
        lines = [f"<LabelledArray{name} ({sizes}) {self.dtype}>", repr(self.values)]
        if self.dims:
            width = max(len(d) for d in self.dims)
            lines += ["Coordinates:"] + [self._coord_line(d, width) for d in self.dims]
        return "\n".join(lines)
