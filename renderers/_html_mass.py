"""Adaptive top-k rows of the HTML views: each row keeps keys until it holds a mass target, deflated.

Each row ``(layer, head, query)`` keeps its largest keys, in descending order,
until the kept (exact, float64) mass reaches ``target`` of the row's sum, with
at most ``cap`` keys; ``cap`` is lowered only when the compressed rows would
exceed the byte budget.  The kept keys of a row are stored in ascending order
as index deltas, their values as uint8 relative to the row's maximum, and every
array is split into byte planes (low bytes, then high bytes) and deflated
(zlib, which the browser's ``DecompressionStream('deflate')`` reads).
``renderers/assets/core.js`` (``MultiattnCore.inflate`` then ``Weights``)
decodes exactly this.

Example
-------
>>> import numpy as np
>>> rows = np.random.default_rng(0).dirichlet(np.ones(64) * 0.1, size=32).astype(np.float32)
>>> weights, summary = pack_mass(rows, rows.max(axis=1), target=0.9, max_bytes=10**6)
>>> weights["mode"], bool(summary["kept_min"] >= 0.9), summary["k_max"] <= 64
('mass', True, True)
"""

from __future__ import annotations

import zlib

import numpy as np

from ._encode import b64

__all__ = ["DEFAULT_MASS", "keys_for_mass", "pack_mass", "mass_note"]

DEFAULT_MASS = 0.9
"""Share of each row's attention mass kept by default."""

_MIN_CAP = 4
_CHUNK_CELLS = 4_000_000  # bound the sort's temporary memory
_LEVEL = 6
_FIRST = 64  # keys found by partition before falling back to a full sort of a row


def _descending(block: np.ndarray, m: int) -> np.ndarray:
    """Indices of the ``m`` largest entries of each row of ``block``, largest first."""
    if m < block.shape[1]:
        part = np.argpartition(-block, m - 1, axis=1)[:, :m]
        order = np.argsort(-np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
        return np.take_along_axis(part, order, axis=1)
    return np.argsort(-block, axis=1, kind="stable")


def _share(block: np.ndarray, m: int) -> np.ndarray:
    """Exact (float64) cumulative share of each row's sum held by its ``m`` largest entries, ``(n, m)``."""
    cum = np.cumsum(np.take_along_axis(block, _descending(block, m), axis=1), axis=1, dtype=np.float64)
    total = block.sum(axis=1, dtype=np.float64)[:, None]
    return np.divide(cum, total, out=np.ones_like(cum), where=total > 0)


def keys_for_mass(rows: np.ndarray, target: float) -> np.ndarray:
    """Per row of ``rows`` (n, K): the fewest largest keys whose exact share of the row is ``>= target``.

    The ``_FIRST`` largest keys are found by partition; only the rows they do not
    satisfy are fully sorted.

    Example
    -------
    >>> keys_for_mass(np.array([[0.1, 0.6, 0.3], [0.0, 0.0, 0.0]]), 0.8).tolist()
    [2, 1]
    """
    n_rows, n_key = rows.shape
    k = np.empty(n_rows, np.int64)
    first = min(n_key, _FIRST)
    for start, block in _chunks(rows):
        share = _share(block, first)
        short = share[:, -1] < target - 1e-12
        got = (share < target - 1e-12).sum(axis=1) + 1
        if short.any():
            got[short] = (_share(block[short], n_key) < target - 1e-12).sum(axis=1) + 1
        k[start:start + len(block)] = got
    return np.minimum(k, n_key)


def _chunks(rows: np.ndarray):
    step = max(1, _CHUNK_CELLS // max(rows.shape[1], 1))
    for start in range(0, len(rows), step):
        yield start, rows[start:start + step]


def _planes(array: np.ndarray) -> bytes:
    """Little-endian bytes of ``array`` split into byte planes (all first bytes, then all second, ...)."""
    little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return little.view(np.uint8).reshape(-1, array.dtype.itemsize).T.tobytes()


def _kept_entries(rows: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and key (ascending within each row) of the ``k[r]`` largest entries of each row, chunked."""
    row_parts, col_parts = [], []
    arange = np.arange(rows.shape[1])[None, :]
    for start, block in _chunks(rows):
        keep = np.zeros(block.shape, bool)
        k_block = k[start:start + len(block)]
        m = int(k_block.max())
        np.put_along_axis(keep, _descending(block, m), arange[:, :m] < k_block[:, None], axis=1)
        row_of, cols = np.nonzero(keep)
        row_parts.append(row_of + start)
        col_parts.append(cols)
    return np.concatenate(row_parts), np.concatenate(col_parts)


def _blob(rows: np.ndarray, scale: np.ndarray, k: np.ndarray, idx_dtype: type) -> tuple[bytes, dict]:
    """The kept entries as byte planes of scale, counts, key deltas, uint8 values and dropped mass."""
    n_rows = len(rows)
    row_of, cols = _kept_entries(rows, k)
    values = rows[row_of, cols]
    deltas = cols.copy()
    starts = np.concatenate([[0], np.cumsum(k)[:-1]])
    same_row = np.ones(len(cols), bool)
    same_row[starts] = False
    deltas[same_row] = np.diff(cols)[same_row[1:]]
    safe = np.where(scale > 0, scale, 1.0)
    q = np.clip(np.round(values / safe[row_of] * 255), 0, 255).astype(np.uint8)
    total = rows.sum(axis=1, dtype=np.float64)
    kept = np.bincount(row_of, weights=values, minlength=n_rows)
    share = np.divide(kept, total, out=np.ones_like(kept), where=total > 0)
    sections = [("scale", scale.astype(np.float32)), ("counts", k.astype(idx_dtype)),
                ("deltas", deltas.astype(idx_dtype)), ("q", q),
                ("dropped", np.round(np.clip(total - kept, 0, 1) * 255).astype(np.uint8))]
    info = {"layout": [[name, array.dtype.itemsize, len(array)] for name, array in sections],
            "share": share,
            "error": float(np.abs(q * (safe[row_of] / 255) - values).max()) if len(values) else 0.0}
    return b"".join(_planes(array) for _, array in sections), info


def _cap_for(k: np.ndarray, entries: float) -> int:
    """The largest per-row cap ``c`` with ``sum(min(k, c)) <= entries`` (at least ``_MIN_CAP``)."""
    lo, hi = _MIN_CAP, int(k.max())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if np.minimum(k, mid).sum() <= entries else (lo, mid - 1)
    return lo


def pack_mass(rows: np.ndarray, scale: np.ndarray, *, target: float = DEFAULT_MASS,
              max_bytes: int) -> tuple[dict, dict]:
    """Rows ``(n, K)`` keeping ``target`` of each row's mass, deflated within ``max_bytes``.

    ``rows`` must be non-empty.  Returns the JSON-ready ``weights`` (``mode="mass"``, ``codec="deflate"``,
    ``blob`` base64, ``layout``) and a ``summary`` with the exact kept mass per
    row (``kept_min``, ``kept_median``, ``kept_mean``), keys per row
    (``k_mean``, ``k_min``, ``k_max``), ``cap``, ``rows_capped``, ``bytes``
    (compressed) and ``raw_bytes``.
    """
    n_rows, n_key = rows.shape
    idx_dtype = np.uint16 if n_key <= np.iinfo(np.uint16).max else np.uint32
    wanted = keys_for_mass(rows, target)
    cap = n_key
    for _ in range(6):
        k = np.minimum(wanted, cap)
        raw, info = _blob(rows, scale, k, idx_dtype)
        packed = zlib.compress(raw, _LEVEL)
        if len(packed) <= max_bytes or cap <= _MIN_CAP:
            break
        cap = min(cap - 1, _cap_for(wanted, k.sum() * max_bytes / len(packed) * 0.97))
    kept, error = info["share"], info["error"]
    weights = {"mode": "mass", "K": n_key, "codec": "deflate", "blob": b64(np.frombuffer(packed, np.uint8)),
               "layout": info["layout"], "target": target}
    summary = {"mode": "mass", "target": target, "k": int(k.max()), "cap": int(cap),
               "k_mean": float(k.mean()), "k_min": int(k.min()), "k_max": int(k.max()),
               "rows_capped": int((wanted > k).sum()), "kept_min": float(kept.min()),
               "kept_median": float(np.median(kept)), "kept_mean": float(kept.mean()),
               "dropped_mean": float(1 - kept.mean()), "dropped_max": float(1 - kept.min()),
               "bytes": len(packed), "raw_bytes": len(raw), "quant_error_max": error}
    return weights, summary


def mass_note(summary: dict, n_key: int) -> str:
    """The sentence a view shows about what the adaptive rows kept (exact, before uint8 rounding)."""
    pct = f"{summary['target'] * 100:.0f} %"
    text = (f"Each row keeps its largest keys until it holds \u2265 {pct} of its attention mass: "
            f"{summary['k_mean']:.1f} of {n_key} keys on average (min {summary['k_min']}, "
            f"max {summary['k_max']}); kept mass per row min {summary['kept_min']:.3f}, "
            f"median {summary['kept_median']:.3f}.")
    if summary["rows_capped"]:
        text += (f" {summary['rows_capped']} rows were capped at {summary['cap']} keys by the size "
                 "budget and keep less.")
    return text + (f" Values as uint8 per row relative to its maximum (largest rounding error "
                   f"{summary['quant_error_max']:.2g}), deflated ({summary['bytes'] / 1e6:.2f} MB).")
