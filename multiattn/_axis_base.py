"""The base of every axis and the small validators the axes share."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Iterable, Sequence

    from ._types import ArrayLike

__all__ = [
    "Axis",
    "as_tuple",
    "check_vector",
    "jsonable",
    "pair",
]


def as_tuple(value: Iterable[object] | str | bytes | None) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        return (value,)
    return tuple(value)


def pair(value: int | Sequence[int], name: str) -> tuple[int, int]:
    if np.isscalar(value):
        return (int(value), int(value))
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise MultiattnValueError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    return pair


def check_vector(vec: ArrayLike, axis: Axis) -> np.ndarray:
    arr = np.asarray(vec)
    if arr.ndim != 1 or arr.shape[0] != len(axis):
        raise MultiattnValueError(
            f"expected a vector of length {len(axis)} for {type(axis).__name__}, "
            f"got shape {arr.shape}; pass one row of the attention matrix"
        )
    return arr


@dataclass(frozen=True)
class Axis:
    """Base class: a sequence of positions with display labels."""

    kind: ClassVar[str] = "axis"

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def labels(self) -> tuple[str, ...]:
        """One short display label per position."""
        raise NotImplementedError  # pragma: no cover

    @property
    def special_mask(self) -> np.ndarray:
        """Boolean mask of positions that are not content (CLS, SEP, registers...)."""
        return np.zeros(len(self), dtype=bool)

    def coords(self) -> np.ndarray:
        """Position coordinates used for attention distance, shape (N, d).

        Rows of non-content positions (prefix tokens) are NaN.
        """
        return np.arange(len(self), dtype=np.float64)[:, None]

    def to_dict(self) -> dict:
        """JSON-ready description; inverse of :func:`axis_from_dict`."""
        out = {"type": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = jsonable(value)
        return out


def jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value
