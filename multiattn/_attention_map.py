"""``AttentionMap``: one distribution over an axis, and the finite-float32 check grids share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ._memory import check_fits
from .axes import Axis

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ._types import ArrayLike

__all__ = ["AttentionMap", "finite_float32"]


def _chunks(arr: np.ndarray, size: int = 1 << 24):
    """Views of ``arr`` of at most ``size`` elements along its leading axes (no copies)."""
    if arr.ndim == 0 or arr.size <= size:
        yield arr
        return
    for part in arr:
        yield from _chunks(part, size)


def finite_float32(values: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise MultiattnTypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.size and (arr.dtype != np.float32 or 0 in arr.strides):  # a copy, or a broadcast to materialise
        check_fits(arr.size * 4, f"{name} of shape {arr.shape} as float32")
    arr = arr.astype(np.float32, copy=False)
    if not all(np.isfinite(part).all() for part in _chunks(arr)):  # no full-size mask
        bad = ~np.isfinite(arr)
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise MultiattnValueError(
            f"{name} contains {int(bad.sum())} non-finite values (NaN/inf), first at index "
            f"{first}; check the model's dtype (fp16 overflow) or the mask you applied"
        )
    return arr


@dataclass(frozen=True, eq=False)
class AttentionMap:
    """One distribution (or signed relevance) over an axis.

    Parameters
    ----------
    values : array (K,)
        One value per position of ``axis``.
    axis : Axis
        What the positions mean.
    meta : dict
        Provenance: which layer/head/method produced it, normalisation.

    Example
    -------
    >>> from multiattn.axes import TokenAxis
    >>> m = AttentionMap([0.2, 0.8], TokenAxis(["a", "b"]))
    >>> m.top(1)
    [(1, 'b', 0.800000011920929)]
    """

    values: np.ndarray
    axis: Axis
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        arr = finite_float32(self.values, "AttentionMap values")
        if arr.ndim != 1 or arr.shape[0] != len(self.axis):
            raise MultiattnValueError(
                f"AttentionMap values must have shape ({len(self.axis)},) to match its "
                f"{type(self.axis).__name__}, got {arr.shape}"
            )
        object.__setattr__(self, "values", arr)
        object.__setattr__(self, "meta", dict(self.meta))

    def __len__(self) -> int:
        return self.values.shape[0]

    @property
    def signed(self) -> bool:
        """True when the map has negative values (relevance, differences)."""
        return bool((self.values < 0).any())

    def top(self, k: int = 5) -> list[tuple[int, str, float]]:
        """The ``k`` largest positions as ``(index, label, value)``."""
        order = np.argsort(-self.values, kind="stable")[:k]
        labels = self.axis.labels
        return [(int(i), labels[i], float(self.values[i])) for i in order]

    def normalized(self) -> AttentionMap:
        """Divide by the sum of absolute values (a distribution for non-negative maps)."""
        total = float(np.abs(self.values).sum())
        if total == 0:
            raise MultiattnValueError("cannot normalise an all-zero map")
        meta = {**self.meta, "normalized": "divided by sum of |values|"}
        return AttentionMap(self.values / total, self.axis, meta)

    def _repr_html_(self) -> str:
        """Notebooks: a summary and a thumbnail (multiattn._repr)."""
        from ._repr import map_html

        return map_html(self)

    def _repr_png_(self) -> bytes:
        from ._repr import map_png

        return map_png(self)

    def to_image(self) -> np.ndarray:
        """``(rows, cols)`` patch image (PatchAxis only; prefix dropped)."""
        if not hasattr(self.axis, "to_image"):
            raise MultiattnTypeError(
                f"to_image needs a PatchAxis, this map is over {type(self.axis).__name__}")
        return self.axis.to_image(self.values)
