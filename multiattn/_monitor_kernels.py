"""One compiled pass per layer for the monitor's statistics (numba; helper of :mod:`._monitor_stats`).

``softmax_kernel(raw_t, scale, wt, qw, logk, dist_t, masks, slots, out)`` is the monitoring
attention's softmax: it writes ``wt = softmax(raw_t · scale)`` over the keys (scale, column
maximum, Cephes' ``expf`` in SIMD lanes, normalise: within 4 ulp of torch's softmax; ``exp``
below float32's range is 0, so masked keys get exactly 0) and the layer's statistics in the
same call, the entropy from ``log Σ exp`` and the scores.  ``layer_kernel(wt, st, qw, logk,
dist_t, masks, slots, out)`` takes weights that exist already (the eager-hooks path,
``st = log wt``).  Both take the layer *transposed*, ``(B, H, K, Q)``: the monitor's
attention (:mod:`._monitor_attention`) computes its scores as ``k qᵀ``, so the query rows lie
in the SIMD lanes and every per-row
quantity (maximum, entropy dot product, distance, the top-5 insertion network) is a
vertical, branch-free accumulation over the keys; the column sums (what each key receives)
are the horizontal dot products.  Per ``(b, h)``, with ``a = qw[b]`` the query weights
(``1 / n_valid`` on real queries, 0 on padding queries, whose rows are never read into a
result):

- entropy ``Σ_q a_q H_q`` with ``H_q = −log max_k w − Σ_k w (s − max_k s)`` from the
  pre-softmax scores ``st`` (no log per element: ``log w = s − logsumexp s`` and
  ``logsumexp s = max s − log max w``); ``st = log wt`` gives the same formula for weights
  without scores.  Terms ``w (s − max s) ≤ 0`` are summed in float32 (no cancellation:
  relative error ~1e-7 of the entropy); ``w = 0`` keys (masked, ``s = −inf``) add 0;
- normalised entropy: the entropy ``/ logk[b]``;
- top-5 concentration (sum of each row's 5 largest weights; ties are kept: the network holds
  duplicates);
- key shares: the query-weighted column sums ``c_k = Σ_q a_q w_qk`` times ``masks (B, K, C)``,
  and the sink share ``max_k c_k``;
- mean distance ``Σ_q a_q Σ_k w_qk d_qk`` with ``dist_t (K, Q)`` the transposed distances.

``slots`` (int64, ``5 + C``) gives the output column of entropy, normalised entropy, top-5,
sink share, mean distance and each mask's share; ``−1`` skips a statistic and its loop.
On MiniLM's ``(1, 12, 128, 128)`` layers (one core): the softmax with all nine statistics
~0.21 ms, where torch's softmax alone takes ~0.19 ms and the statistics from existing weights
~0.12 ms (the previous row-major kernel took 0.26 ms for the top-5 and entropy alone).

Example
-------
>>> import numpy as np
>>> w = np.full((1, 1, 6, 2), 1 / 6, np.float32)  # 2 queries, 6 keys, uniform
>>> out = np.zeros((1, 1, 2), np.float32)
>>> slots = np.array([0, -1, 1, -1, -1])  # entropy and top-5
>>> layer_kernel(w, np.log(w), np.full((1, 2), 0.5, np.float32), np.ones(1, np.float32),
...              np.zeros((0, 0), np.float32), np.zeros((1, 6, 0), np.float32), slots, out)
>>> [round(float(v), 4) for v in out[0, 0]]  # log 6, 5 / 6
[1.7918, 0.8333]
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["layer_kernel", "softmax_kernel"]

#: LLVM may reorder sums (SIMD partial sums) but keeps IEEE infinities and NaNs (masked keys).
_FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _row_max(w, s, m, high):  # pragma: no cover - compiled
    m[:] = -np.inf
    high[:] = 0.0
    for j in range(w.shape[0]):
        wj, sj = w[j], s[j]
        for q in range(w.shape[1]):
            m[q] = max(m[q], sj[q])
            high[q] = max(high[q], wj[q])


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _shifted_dot(w, s, m, acc):  # pragma: no cover - compiled
    acc[:] = 0.0
    for j in range(w.shape[0]):
        wj, sj = w[j], s[j]
        for q in range(w.shape[1]):
            x = wj[q]
            acc[q] += x * (sj[q] - m[q]) if x > 0 else np.float32(0.0)


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _top5(w, top):  # pragma: no cover - compiled
    top[:] = -np.inf
    for j in range(w.shape[0]):
        wj = w[j]
        for q in range(w.shape[1]):
            x = wj[q]
            for i in range(4):  # insertion: each level keeps the larger, passes the smaller on
                v = top[i, q]
                top[i, q] = max(v, x)
                x = min(v, x)
            top[4, q] = max(top[4, q], x)


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _columns(w, a, col):  # pragma: no cover - compiled
    for j in range(w.shape[0]):
        wj = w[j]
        c = np.float32(0.0)
        for q in range(w.shape[1]):
            c += a[q] * wj[q] if a[q] > 0 else np.float32(0.0)
        col[j] = c


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def _distance(w, dist_t, d):  # pragma: no cover - compiled
    d[:] = 0.0
    for j in range(w.shape[0]):
        wj, dj = w[j], dist_t[j]
        for q in range(w.shape[1]):
            d[q] += wj[q] * dj[q]


@njit(cache=True, nogil=True)
def _weighted(a, v):  # pragma: no cover - compiled
    """``Σ_q a_q v_q`` over the real queries (padding rows' values, even NaN, are never read)."""
    total = 0.0
    for q in range(a.shape[0]):
        if a[q] > 0:
            total += np.float64(a[q]) * v[q]
    return total


@njit(cache=True, nogil=True)
def _others(w, a, dist_t, masks_b, slots, out_bh, top, row, col):  # pragma: no cover - compiled
    """Top-5, mean distance, key shares and sink share of one head ``w (K, Q)`` into ``out_bh``."""
    n_keys = w.shape[0]
    if slots[2] >= 0:
        _top5(w, top)
        for q in range(w.shape[1]):
            row[q] = top[0, q]
            for i in range(1, min(5, n_keys)):
                row[q] += top[i, q]
        out_bh[slots[2]] = _weighted(a, row)
    if slots[4] >= 0:
        _distance(w, dist_t, row)
        out_bh[slots[4]] = _weighted(a, row)
    if slots[3] >= 0 or masks_b.shape[1] > 0:
        _columns(w, a, col)
        if slots[3] >= 0:
            out_bh[slots[3]] = col.max()
        for c in range(masks_b.shape[1]):
            share = 0.0
            for j in range(n_keys):
                share += col[j] * masks_b[j, c]
            out_bh[slots[5 + c]] = share


@njit(cache=True, nogil=True)
def _entropy_out(a, row, logk_b, slots, out_bh):  # pragma: no cover - compiled
    value = _weighted(a, row)
    if slots[0] >= 0:
        out_bh[slots[0]] = value
    if slots[1] >= 0:
        out_bh[slots[1]] = value / logk_b


@njit(cache=True, nogil=True)
def layer_kernel(wt, st, qw, logk, dist_t, masks, slots, out):  # pragma: no cover - compiled
    n_batch, n_heads, n_keys, n_queries = wt.shape
    m, high = np.empty(n_queries, np.float32), np.empty(n_queries, np.float32)
    row = np.empty(n_queries, np.float32)
    top = np.empty((5, n_queries), np.float32)
    col = np.empty(n_keys, np.float32)
    for b in range(n_batch):
        for h in range(n_heads):
            w = wt[b, h]
            if slots[0] >= 0 or slots[1] >= 0:
                _row_max(w, st[b, h], m, high)
                _shifted_dot(w, st[b, h], m, row)
                for q in range(n_queries):
                    row[q] = -np.log(high[q]) - row[q]
                _entropy_out(qw[b], row, logk[b], slots, out[b, h])
            _others(w, qw[b], dist_t, masks[b], slots, out[b, h], top, row, col)


#: ``exp(x)`` is 0 below this (float32 underflow; masked keys' ``−inf`` / ``finfo.min`` scores).
_LOW = np.float32(-87.33654)


@njit(cache=True, nogil=True)
def _exp_pass(raw, scale, m, e, z, bits):  # pragma: no cover - compiled
    """``e = exp(raw · scale − m)`` per column and ``z += e``: Cephes' ``expf`` (Cody–Waite
    reduction, degree-6 polynomial, ``2^n`` from its bits) in SIMD lanes, ≤ 4 ulp from torch's
    softmax (no fastmath: the reduction's two constants must stay apart)."""
    fbits = bits.view(np.float32)
    z[:] = 0.0
    for j in range(raw.shape[0]):
        rj, ej = raw[j], e[j]
        for q in range(raw.shape[1]):
            x = rj[q] * scale - m[q]
            keep = x > np.float32(-87.33654)
            x = max(x, np.float32(-87.33654))
            n = np.floor(x * np.float32(1.44269504) + np.float32(0.5))
            r = x - n * np.float32(0.693359375)
            r = r - n * np.float32(-2.12194440e-4)
            p = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
            p = p * r + np.float32(8.3334519073e-3)
            p = p * r + np.float32(4.1665795894e-2)
            p = p * r + np.float32(1.6666665459e-1)
            p = p * r + np.float32(5.0000001201e-1)
            ej[q] = p * r * r + r + np.float32(1.0) if keep else np.float32(0.0)
            bits[q] = (np.int32(n) + 127) << 23
        for q in range(raw.shape[1]):
            x = ej[q] * fbits[q]
            ej[q] = x
            z[q] += x


@njit(cache=True, nogil=True)
def _softmax_head(raw, scale, w, m, z, bits, row):  # pragma: no cover - compiled
    """``w = softmax(raw · scale)`` over the keys (axis 0) of one head (eager's scaled scores,
    ``raw · scale`` in float32); ``row`` = each query's ``Σ_k w (s − max s)``, so the entropy is
    ``log Σ exp − row``."""
    m[:] = -np.inf
    for j in range(raw.shape[0]):
        rj = raw[j]
        for q in range(raw.shape[1]):
            m[q] = max(m[q], rj[q])
    for q in range(raw.shape[1]):
        m[q] *= scale  # = max(raw · scale): rounding is monotone and the scale positive
    _exp_pass(raw, scale, m, w, z, bits)
    for q in range(raw.shape[1]):
        z[q] = np.float32(1.0) / z[q]
    row[:] = 0.0
    for j in range(raw.shape[0]):
        rj, wj = raw[j], w[j]
        for q in range(raw.shape[1]):
            x = wj[q] * z[q]
            wj[q] = x
            row[q] += x * (rj[q] * scale - m[q]) if x > 0 else np.float32(0.0)


@njit(cache=True, nogil=True)
def softmax_kernel(raw_t, scale, wt, qw, logk, dist_t, masks, slots, out):  # pragma: no cover - compiled
    n_batch, n_heads, n_keys, n_queries = raw_t.shape
    m, z = np.empty(n_queries, np.float32), np.empty(n_queries, np.float32)
    row = np.empty(n_queries, np.float32)
    bits = np.empty(n_queries, np.int32)
    top = np.empty((5, n_queries), np.float32)
    col = np.empty(n_keys, np.float32)
    for b in range(n_batch):
        for h in range(n_heads):
            _softmax_head(raw_t[b, h], np.float32(scale), wt[b, h], m, z, bits, row)
            if slots[0] >= 0 or slots[1] >= 0:
                for q in range(n_queries):
                    row[q] = -np.log(z[q]) - row[q]  # z holds 1 / Σ exp
                _entropy_out(qw[b], row, logk[b], slots, out[b, h])
            _others(wt[b, h], qw[b], dist_t, masks[b], slots, out[b, h], top, row, col)
