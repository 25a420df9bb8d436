"""Synthetic heads of known type: ground truth for head-type detection.

Example
-------
>>> values, tokens, types = synthetic_heads()
>>> values.shape, len(tokens), types[:2]
((1, 10, 8, 8), 8, ['previous_token', 'next_token'])
"""

from __future__ import annotations

import numpy as np

__all__ = ["SYNTHETIC_TOKENS", "synthetic_heads"]

#: 8 tokens whose second half repeats the first (for induction), with delimiters at 2 and 6.
SYNTHETIC_TOKENS = ("a", "b", ".", "d", "a", "b", ".", "d")


def _one_hot(targets: np.ndarray) -> np.ndarray:
    head = np.zeros((len(targets), len(targets)))
    head[np.arange(len(targets)), targets] = 1.0
    return head


def synthetic_heads() -> tuple[np.ndarray, tuple[str, ...], list[str]]:
    """One ideal head per type on :data:`SYNTHETIC_TOKENS`.

    Returns
    -------
    values : ndarray (1, 10, 8, 8)
        Row-stochastic float32 attention, one head per type.
    tokens : tuple of str
        The 8 tokens.
    types : list of str
        The true type of each head: previous_token, next_token, self,
        first_token, offset (k = -2, not the period), broad (uniform),
        delimiter (half on each '.'), local (uniform within +-2), peaked (0.7
        on a content-like target with no fixed offset, rest spread) and
        induction (second half: the token after the earlier occurrence;
        first half: token 0).
    """
    n = len(SYNTHETIC_TOKENS)
    idx = np.arange(n)
    heads = {
        "previous_token": _one_hot(np.maximum(idx - 1, 0)),
        "next_token": _one_hot(np.minimum(idx + 1, n - 1)),
        "self": np.eye(n),
        "first_token": _one_hot(np.zeros(n, int)),
        "offset": _one_hot(np.where(idx >= 2, idx - 2, idx)),
        "broad": np.full((n, n), 1 / n),
    }
    delimiter = np.zeros((n, n))
    delimiter[:, [2, 6]] = 0.5
    heads["delimiter"] = delimiter
    local = (np.abs(idx[:, None] - idx[None]) <= 2).astype(float)
    heads["local"] = local / local.sum(1, keepdims=True)
    peaked = np.full((n, n), 0.3 / (n - 1))
    peaked[idx, (3 * idx + 5) % n] = 0.7
    heads["peaked"] = peaked
    heads["induction"] = _one_hot(np.array([0, 0, 0, 0, 1, 2, 3, 4]))
    values = np.stack(list(heads.values()))[None].astype(np.float32)
    return values, SYNTHETIC_TOKENS, list(heads)
