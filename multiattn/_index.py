"""Resolve a layer / head / position given by index or label (one rule for core and renderers).

An index is an ``int`` (negative counts from the end) or one of the dim's labels.
Anything else raises :class:`DimensionIndexError`, whose one-line message names
the valid range and labels.  It subclasses both ``IndexError`` and ``KeyError``
(so ``except LookupError`` catches it too).

Example
-------
>>> resolve_index(-1, ("layer.0", "layer.1"), "layer")
1
>>> resolve_index(7, ("layer.0", "layer.1"), "layer")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
multiattn.errors.DimensionIndexError: layer 7 out of range: the grid has 2 layers (layer.0, layer.1); ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from multiattn.errors import DimensionIndexError, MultiattnValueError

__all__ = ["DimensionIndexError", "resolve_index", "resolve_indices", "select_named"]

_SHOW_ALL = 8  # list every label up to this many; beyond, first … last


def _plural(name: str) -> str:
    return f"{name[:-1]}ies" if name.endswith("y") else f"{name}s"


def _describe(labels: tuple[str, ...], name: str) -> str:
    """``"6 layers (layer.0 … layer.5)"`` / ``"3 heads (0, 1, 2)"``."""
    n = len(labels)
    if n == 0:
        return f"no {_plural(name)}"
    shown = ", ".join(labels) if n <= _SHOW_ALL else f"{labels[0]} … {labels[-1]}"
    return f"{n} {name if n == 1 else _plural(name)} ({shown})"


def resolve_index(index: Any, labels: tuple[str, ...] | list[str], name: str, *,
                  also: tuple[str, ...] = ()) -> int:
    """Position (``0 <= pos < len(labels)``) of ``index``: an int (negative from the end) or a label.

    ``also`` names words the caller handles itself (e.g. ``("mean",)``), for the error message.

    Raises
    ------
    DimensionIndexError
        Out-of-range int, or a value that is neither an int nor one of ``labels``.
    """
    labels = labels if isinstance(labels, tuple) else tuple(str(v) for v in labels)
    n = len(labels)
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        pos = int(index)
        if not -n <= pos < n:
            valid = f"; valid: 0..{n - 1} or -{n}..-1" if n else ""
            raise DimensionIndexError(
                f"{name} {pos} out of range: the grid has {_describe(labels, name)}{valid}")
        return pos % n
    if isinstance(index, (str, np.str_)) and str(index) in labels:
        return labels.index(str(index))
    words = "".join(f" or {w!r}" for w in also)
    raise DimensionIndexError(
        f"no {name} {index!r}: the grid has {_describe(labels, name)}; "
        f"pass an int index, one of the labels{words}")


def resolve_indices(index: Any, labels: tuple[str, ...] | list[str], name: str) -> list[int]:
    """Like :func:`resolve_index` for one index or a list / tuple / range / array of them.

    A boolean mask with one entry per label selects where it is True; an empty selection is refused
    (a grid with no layers or heads is never what was meant).

    Examples
    --------
    >>> resolve_indices(np.array([True, False, True]), ("a", "b", "c"), "head")
    [0, 2]
    """
    labels = labels if isinstance(labels, tuple) else tuple(str(v) for v in labels)
    mask = np.asarray(index) if isinstance(index, (list, tuple, np.ndarray)) else None
    if mask is not None and mask.dtype == bool:
        if mask.shape != (len(labels),):
            raise DimensionIndexError(
                f"a boolean {name} mask needs one entry per {name}: shape ({len(labels)},), got {mask.shape}")
        index = np.flatnonzero(mask).tolist()
    items = index if isinstance(index, (list, tuple, range, np.ndarray)) else [index]
    positions = [resolve_index(item, labels, name) for item in items]
    if not positions:
        raise DimensionIndexError(
            f"an empty {name} selection: the grid has {_describe(labels, name)}; pick at least one")
    return positions


def select_named(items: list[tuple[str, Any]], names: Any, what: str, *,
                 message: str = "no {what} named {missing}; {what}s: {have}") -> list[tuple[str, Any]]:
    """The ``(name, item)`` pairs whose name is in ``names``, in ``items`` order.

    ``message`` is formatted with ``what``, ``missing`` and ``have`` when a name is absent.

    Raises
    ------
    ValueError
        A requested name is absent; the message lists the names there are.

    Examples
    --------
    >>> select_named([("a", 1), ("b", 2), ("c", 3)], ["c", "a"], "layer")
    [('a', 1), ('c', 3)]
    """
    wanted = list(names)
    have = [name for name, _ in items]
    missing = [n for n in wanted if n not in set(have)]
    if missing:
        raise MultiattnValueError(message.format(what=what, missing=missing, have=have))
    return [(name, item) for name, item in items if name in wanted]
