"""Per-head metrics by name, for :func:`multiattn.analysis.corpus.corpus_statistics`.

``multiattn corpus --metrics entropy,distance`` picks its functions here; each maps an
attention grid (or ``(L, H, Q, K)`` array) to an ``(L, H)`` table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import numpy as np

    from .._types import AttentionInput
    from ..labelled import LabelledArray

__all__ = ["CORPUS_METRICS", "corpus_metrics"]

#: Metrics by name -> what they are.
CORPUS_METRICS = {
    "entropy": "normalised row entropy (1 = uniform)",
    "distance": "mean attention distance (tokens)",
    "first_token": "share of attention on the first token",
    "previous_token": "share of attention on the previous token",
}


def _functions() -> dict[str, Callable[[AttentionInput], np.ndarray | LabelledArray]]:
    from .heads import head_type_scores
    from .metrics import attention_distance, first_token_share, head_entropy

    return {
        "entropy": lambda attn: head_entropy(attn, normalized=True),
        "distance": attention_distance,
        "first_token": first_token_share,
        "previous_token": lambda attn: head_type_scores(attn)["previous_token"],
    }


def corpus_metrics(
    names: str | Sequence[str],
) -> dict[str, Callable[[AttentionInput], np.ndarray | LabelledArray]]:
    """The metric functions for ``names`` (a comma-separated string or a sequence), in order.

    Raises
    ------
    ValueError
        An unknown or empty selection (the message lists :data:`CORPUS_METRICS`).

    Examples
    --------
    >>> list(corpus_metrics("entropy, previous_token"))
    ['entropy', 'previous_token']
    >>> corpus_metrics("speed")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    multiattn.errors.MultiattnValueError: unknown metrics ['speed']; choose from entropy, ..., previous_token
    """
    chosen = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    table = _functions()
    unknown = [name for name in chosen if name not in table]
    if unknown or not chosen:
        raise MultiattnValueError(
            f"unknown metrics {unknown or names!r}; choose from {', '.join(CORPUS_METRICS)}")
    return {name: table[name] for name in chosen}
