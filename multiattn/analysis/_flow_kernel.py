"""Compiled exact max-flow on the dense layered attention graph (helper of :mod:`.flow`).

The graph is implicit: node ``(l, i)`` is token ``i`` at layer ``l`` (``0..L``); the arc
``(l, q) → (l − 1, k)`` has capacity ``caps[l − 1, q, k]``.  Residual capacities live in two
dense ``(L, N, N)`` arrays (forward residual, and flow = reverse residual), so no edge list,
reverse-edge table or sparse matrix is built per ``(u, v)`` problem — the per-call set-up
that dominates scipy's solver on these graphs.

The solver is Dinic's algorithm in float64 (no integer scaling).  Its first phase needs no
breadth-first search: before any flow exists the level of node ``(l, i)`` is ``L − l``.  A
problem stops as soon as its flow reaches the smaller of the two trivial cuts (all arcs out
of the source, all arcs into the sink) — the common case on attention graphs — otherwise
Dinic phases run until no augmenting path is left.  Each flow value is exact up to float64
rounding (``≈ 1e-15`` relative) and the early stop's tolerance ``tol`` (absolute).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _bfs(rf, rr, s, t, level, queue, n_tok):  # pragma: no cover - compiled
    n_layers = rf.shape[0]
    level[:] = -1
    level[s] = 0
    head, tail = 0, 1
    queue[0] = s
    while head < tail:
        x = queue[head]
        head += 1
        if level[t] >= 0 and level[x] >= level[t]:
            break
        lx, i = x // n_tok, x % n_tok
        if lx >= 1:
            for k in range(n_tok):
                y = (lx - 1) * n_tok + k
                if level[y] < 0 and rf[lx - 1, i, k] > 0.0 and (lx > 1 or y == t):
                    level[y] = level[x] + 1
                    queue[tail] = y
                    tail += 1
        if lx < n_layers:
            for q in range(n_tok):
                y = (lx + 1) * n_tok + q
                if level[y] < 0 and rr[lx, q, i] > 0.0 and (lx + 1 < n_layers or y == s):
                    level[y] = level[x] + 1
                    queue[tail] = y
                    tail += 1
    return level[t] >= 0


@njit(cache=True, nogil=True)
def _residual(rf, rr, a, b, n_tok):  # pragma: no cover - compiled
    la, ia, lb, ib = a // n_tok, a % n_tok, b // n_tok, b % n_tok
    return rf[la - 1, ia, ib] if lb == la - 1 else rr[la, ib, ia]


@njit(cache=True, nogil=True)
def _push(rf, rr, a, b, d, n_tok):  # pragma: no cover - compiled
    """Send ``d`` along arc ``a → b``; return the arc's residual left."""
    la, ia, lb, ib = a // n_tok, a % n_tok, b // n_tok, b % n_tok
    if lb == la - 1:
        rf[la - 1, ia, ib] -= d
        rr[la - 1, ia, ib] += d
        return rf[la - 1, ia, ib]
    rr[la, ib, ia] -= d
    rf[la, ib, ia] += d
    return rr[la, ib, ia]


@njit(cache=True, nogil=True)
def _next_arc(rf, rr, x, level, ptr, n_tok, forward_only):  # pragma: no cover - compiled
    """Advance ``x``'s current arc to an admissible one; return its head or -1."""
    n_layers = rf.shape[0]
    lx, i = x // n_tok, x % n_tok
    arcs = n_tok if forward_only else 2 * n_tok
    while ptr[x] < arcs:
        a = ptr[x]
        if a < n_tok:
            y = (lx - 1) * n_tok + a
            if lx >= 1 and level[y] == level[x] + 1 and rf[lx - 1, i, a] > 0.0:
                return y
        elif lx < n_layers:
            y = (lx + 1) * n_tok + a - n_tok
            if level[y] == level[x] + 1 and rr[lx, a - n_tok, i] > 0.0:
                return y
        ptr[x] += 1
    return -1


@njit(cache=True, nogil=True)
def _blocking_flow(rf, rr, s, t, level, ptr, stack, n_tok, forward_only, total, bound, tol):
    # pragma: no cover - compiled
    ptr[:] = 0
    depth = 0
    stack[0] = s
    while total < bound - tol:
        x = stack[depth]
        if x == t:
            d = np.inf
            for j in range(depth):
                d = min(d, _residual(rf, rr, stack[j], stack[j + 1], n_tok))
            cut = depth
            for j in range(depth):
                if _push(rf, rr, stack[j], stack[j + 1], d, n_tok) <= 0.0 and j < cut:
                    cut = j
            total += d
            depth = cut
            continue
        y = _next_arc(rf, rr, x, level, ptr, n_tok, forward_only)
        if y >= 0:
            depth += 1
            stack[depth] = y
        elif depth == 0:
            break
        else:
            level[x] = -2  # dead end for the rest of this phase
            depth -= 1
            ptr[stack[depth]] += 1
    return total


@njit(cache=True, nogil=True)
def _layered_phase(rf, u, v, bound, tol, tok, ptr, dead, log, mark):  # pragma: no cover - compiled
    """Blocking flow of the untouched layered graph (levels are the layers), forward arcs only.

    Every path has one node per layer, so the path is a token per layer (``tok[j]`` at layer
    ``L − j``); layer 1 goes straight to the sink.  Arcs written are logged in ``log`` (flat
    indices, once each thanks to ``mark``) so the caller restores only those.  Returns the
    flow value and the number of logged arcs.
    """
    n_layers, n_tok = rf.shape[0], rf.shape[1]
    flat = rf.reshape(-1)
    ptr[:] = 0
    dead[:] = False
    n_log = 0
    total = 0.0
    depth = 0
    tok[0] = u
    while total < bound - tol:
        layer, i = n_layers - depth, tok[depth]
        if layer == 1:
            if rf[0, i, v] > 0.0:
                tok[depth + 1] = v
                d = np.inf
                for m in range(depth + 1):
                    d = min(d, rf[n_layers - 1 - m, tok[m], tok[m + 1]])
                cut = depth + 1
                for m in range(depth + 1):
                    idx = ((n_layers - 1 - m) * n_tok + tok[m]) * n_tok + tok[m + 1]
                    if not mark[idx]:
                        mark[idx] = True
                        log[n_log] = idx
                        n_log += 1
                    flat[idx] -= d
                    if flat[idx] <= 0.0 and m < cut:
                        cut = m
                total += d
                depth = cut
                continue
        else:
            k = ptr[layer, i]
            while k < n_tok and (dead[layer - 1, k] or rf[layer - 1, i, k] <= 0.0):
                k += 1
            ptr[layer, i] = k
            if k < n_tok:
                depth += 1
                tok[depth] = k
                continue
        dead[layer, i] = True
        if depth == 0:
            break
        depth -= 1
    return total, n_log


@njit(cache=True, nogil=True)
def _general_phases(caps, rf, u, v, total, bound, tol, level, ptr, queue, stack):  # pragma: no cover
    """Dinic phases from the residual ``rf`` (flow = caps − rf) until no augmenting path is left."""
    n_layers, n_tok = caps.shape[0], caps.shape[1]
    rr = np.maximum(caps - rf, 0.0)
    s, t = n_layers * n_tok + u, v
    while total < bound - tol and _bfs(rf, rr, s, t, level, queue, n_tok):
        total = _blocking_flow(rf, rr, s, t, level, ptr, stack, n_tok, False, total, bound, tol)
    return total


@njit(cache=True, nogil=True)
def _pair_flow(caps, u, v, rf, work, tol):  # pragma: no cover - compiled
    """Max-flow value ``u → v``; ``rf`` equals ``caps`` on entry and on exit."""
    tok, ptr, dead, log, mark, level, ptr2, queue, stack = work
    bound = min(caps[-1, u].sum(), caps[0, :, v].sum())
    total, n_log = _layered_phase(rf, u, v, bound, tol, tok, ptr, dead, log, mark)
    if total < bound - tol:
        total = _general_phases(caps, rf, u, v, total, bound, tol, level, ptr2, queue, stack)
        rf[:] = caps
        mark[:] = False
        return total
    flat, src = rf.reshape(-1), caps.reshape(-1)
    for j in range(n_log):
        flat[log[j]] = src[log[j]]
        mark[log[j]] = False
    return total


@njit(cache=True, nogil=True)
def flow_rows(caps, rows, tol):  # pragma: no cover - compiled
    """Max-flow values from each output token in ``rows`` to every input token.

    ``caps`` is ``(L, N, N)`` float64 C-contiguous (layer 1 first); returns ``(len(rows), N)``.
    """
    n_layers, n_tok = caps.shape[0], caps.shape[1]
    n_nodes = (n_layers + 1) * n_tok
    rf = caps.copy()
    work = (np.empty(n_layers + 2, np.int64), np.empty((n_layers + 1, n_tok), np.int64),
            np.empty((n_layers + 1, n_tok), np.bool_), np.empty(caps.size, np.int64),
            np.zeros(caps.size, np.bool_), np.empty(n_nodes, np.int64), np.empty(n_nodes, np.int64),
            np.empty(n_nodes, np.int64), np.empty(n_nodes + 1, np.int64))
    out = np.empty((rows.size, n_tok))
    for r in range(rows.size):
        for v in range(n_tok):
            out[r, v] = _pair_flow(caps, rows[r], v, rf, work, tol)
    return out
