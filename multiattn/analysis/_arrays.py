"""Accept a grid or a plain ``(L, H, Q, K)`` array in every analysis function."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..grid import AttentionGrid


def as_dense(attn: Any, min_ndim: int = 4) -> np.ndarray:
    """Return float64 ``(L, H, Q, K)`` values from a grid or an array.

    2-D ``(Q, K)`` and 3-D ``(H, Q, K)`` arrays gain leading dims of size one.
    """
    if isinstance(attn, AttentionGrid):
        arr = attn.to_dense().values
    else:
        arr = np.asarray(attn)
    if arr.ndim < 2 or arr.ndim > 4:
        raise ValueError(f"attention must be (L, H, Q, K), (H, Q, K) or (Q, K); got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("attention contains NaN or inf values")
    while arr.ndim < min_ndim:
        arr = arr[None]
    return arr.astype(np.float64, copy=False)
