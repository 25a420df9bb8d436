"""Row packing of the HTML views: attention rows as uint8, dense or top-k, for the browser.

Each row ``(layer, head, query)`` is quantised to uint8 relative to its own
maximum (``scale``, float32).  When the dense rows would exceed the byte budget
each row keeps its largest keys until it holds ``mass`` (default 90 %) of its
attention, deflated within the budget (:mod:`._html_mass`); with ``top_k`` given,
exactly the ``k`` largest entries of each row are kept with their key indices
(uint16, or uint32 above 65 535 keys) and the mass dropped (uint8, x / 255).
``renderers/assets/core.js`` (``MultiattnCore.Weights``) decodes exactly this.
"""

from __future__ import annotations

import numpy as np

from ._encode import b64
from ._html_mass import DEFAULT_MASS, mass_note, pack_mass

__all__ = ["DEFAULT_MAX_BYTES", "pack_rows", "quantise", "weights_note"]

DEFAULT_MAX_BYTES = 6_000_000
"""Weight bytes kept: raw dense rows up to this, else deflated adaptive rows within it (base64: +1/3)."""

_MIN_TOP_K = 4
_ROW_OVERHEAD = 5  # float32 row scale + uint8 dropped mass
_CHUNK_CELLS = 4_000_000  # bound argpartition's temporary memory


def quantise(rows: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``rows`` (n, k) as uint8 of ``rows / scale * 255`` (a zero scale gives zeros)."""
    safe = np.where(scale > 0, scale, 1.0)[:, None]
    return np.clip(np.round(rows / safe * 255), 0, 255).astype(np.uint8)


def _max_error(q: np.ndarray, scale: np.ndarray, rows: np.ndarray) -> float:
    return float(np.abs(q * (scale[:, None] / 255) - rows).max()) if len(rows) else 0.0


def _dense(rows: np.ndarray, scale: np.ndarray) -> tuple[dict, dict]:
    q = quantise(rows, scale)
    n_key = rows.shape[1]
    weights = {"mode": "dense", "K": n_key, "k": n_key, "q": b64(q), "scale": b64(scale)}
    return weights, {"mode": "dense", "k": n_key, "bytes": q.nbytes + scale.nbytes,
                     "dropped_mean": 0.0, "dropped_max": 0.0,
                     "quant_error_max": _max_error(q, scale, rows)}


def _largest(rows: np.ndarray, k: int, idx_dtype: type) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of each row (any order), chunked."""
    n_rows, n_key = rows.shape
    idx = np.empty((n_rows, k), idx_dtype)
    kept = np.empty((n_rows, k), np.float32)
    chunk = max(1, _CHUNK_CELLS // max(n_key, 1))
    for start in range(0, n_rows, chunk):
        block = rows[start:start + chunk]
        if k < n_key:
            part = np.argpartition(-block, k - 1, axis=1)[:, :k]
        else:
            part = np.tile(np.arange(n_key), (block.shape[0], 1))
        idx[start:start + chunk] = part
        kept[start:start + chunk] = np.take_along_axis(block, part, axis=1)
    return idx, kept


def _topk(rows: np.ndarray, scale: np.ndarray, top_k: int | None, max_bytes: int) -> tuple[dict, dict]:
    n_rows, n_key = rows.shape
    idx_dtype = np.uint16 if n_key <= np.iinfo(np.uint16).max else np.uint32
    idx_bytes = np.dtype(idx_dtype).itemsize
    if top_k is None:
        top_k = max(_MIN_TOP_K, (max_bytes // max(n_rows, 1) - _ROW_OVERHEAD) // (1 + idx_bytes))
    k = int(min(n_key, top_k))
    idx, kept = _largest(rows, k, idx_dtype)
    dropped = np.clip(rows.sum(axis=1, dtype=np.float64) - kept.sum(axis=1, dtype=np.float64), 0, 1)
    q = quantise(kept, scale)
    dropped_q = np.round(dropped * 255).astype(np.uint8)
    weights = {"mode": "topk", "K": n_key, "k": k, "q": b64(q), "scale": b64(scale),
               "idx": b64(idx), "idx_bytes": idx_bytes, "dropped": b64(dropped_q),
               "dropped_mean": float(dropped.mean())}
    summary = {"mode": "topk", "k": k, "bytes": q.nbytes + idx.nbytes + scale.nbytes + dropped_q.nbytes,
               "dropped_mean": float(dropped.mean()), "dropped_max": float(dropped.max()),
               "quant_error_max": _max_error(q, scale, kept)}
    return weights, summary


def pack_rows(values: np.ndarray, *, max_bytes: int = DEFAULT_MAX_BYTES,
              top_k: int | None = None, mass: float = DEFAULT_MASS) -> tuple[dict, dict]:
    """Quantise ``(L, H, Q, K)`` attention rows for the browser.

    Each row is stored as uint8 relative to its maximum.  When the dense uint8
    rows exceed ``max_bytes`` each row keeps its largest keys until it holds
    ``mass`` of its sum (deflated, :func:`._html_mass.pack_mass`); when
    ``top_k`` is given exactly the ``k`` largest entries of each row are kept,
    with their key indices and the mass dropped.

    Parameters
    ----------
    values : array (L, H, Q, K)
        Non-negative attention weights.
    max_bytes : int
        Budget of stored bytes (raw dense, or deflated adaptive rows whose
        per-row cap is lowered until they fit).
    top_k : int, optional
        Force top-k storage with this ``k``.
    mass : float
        Share of each row's mass the adaptive rows keep (exact, before rounding).

    Returns
    -------
    weights : dict
        JSON-ready arrays (base64) read by the view's script.
    summary : dict
        ``mode`` (``dense``, ``mass`` or ``topk``), ``k``, ``bytes``, ``dropped_mean``,
        ``dropped_max`` (mass lost per row, before quantisation), ``quant_error_max``;
        ``mass`` adds the kept share per row and keys per row (:func:`._html_mass.pack_mass`).

    Example
    -------
    >>> values = np.random.default_rng(0).dirichlet(np.ones(64), size=(1, 2, 64)).astype(np.float32)
    >>> weights, summary = pack_rows(values, top_k=8)
    >>> summary["mode"], summary["k"], 0 < summary["dropped_mean"] < 1
    ('topk', 8, True)
    """
    n_key = values.shape[-1]
    rows = values.reshape(-1, n_key)
    scale = rows.max(axis=1).astype(np.float32) if rows.size else np.zeros(len(rows), np.float32)
    if top_k is None and len(rows) * (n_key + _ROW_OVERHEAD) <= max_bytes:
        return _dense(rows, scale)
    if top_k is None and rows.size:
        return pack_mass(rows, scale, target=mass, max_bytes=max_bytes)
    return _topk(rows, scale, top_k, max_bytes)


def weights_note(summary: dict, n_key: int) -> str:
    """The sentence a view shows about how its weights were stored (and what top-k dropped)."""
    if summary["mode"] == "mass":
        return mass_note(summary, n_key)
    text = ("Weights stored as uint8 per row, relative to the row's maximum "
            f"(largest rounding error {summary['quant_error_max']:.2g}).")
    if summary["mode"] == "topk":
        text += (f" Only the {summary['k']} largest of {n_key} keys per row are kept: mass dropped "
                 f"per row mean {summary['dropped_mean']:.3f}, max {summary['dropped_max']:.3f}.")
    return text
