"""Training dynamics: head metrics across training checkpoints.

Capture the attention of one model at several training steps on the same input,
then :func:`metrics_by_step` stacks, for every step, the per-head entropy, mean
attention distance and head-type scores (induction, previous token) into
``(S, L, H)`` arrays; :func:`phase_change_step` finds the first step at which a
score crosses a threshold (e.g. the induction head forming).

Example
-------
>>> prev = np.eye(6, k=-1); prev[0, 0] = 1
>>> uniform = np.tril(np.ones((6, 6))); uniform /= uniform.sum(1, keepdims=True)
>>> m = metrics_by_step({0: uniform[None, None], 100: prev[None, None]})
>>> m["steps"].tolist(), m["previous_token"][:, 0, 0].round(2).tolist()
([0, 100], [0.29, 1.0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ._arrays import as_dense
from .heads import head_type_scores
from .metrics import attention_distance, head_entropy

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import AttentionInput
    from ..labelled import LabelledArray

__all__ = ["DYNAMICS_METRICS", "metrics_by_step", "phase_change_step"]

#: Names of the ``(S, L, H)`` arrays returned by :func:`metrics_by_step`.
DYNAMICS_METRICS = ("entropy", "distance", "induction", "previous_token")


def metrics_by_step(
    grids_by_step: Mapping[int, AttentionInput],
    tokens: Sequence | None = None,
    *,
    min_induction_queries: int = 3,
) -> dict[str, np.ndarray]:
    """Per-head metrics of the same input at every training step.

    Parameters
    ----------
    grids_by_step : mapping of int -> AttentionGrid or array (L, H, N, N)
        Self-attention of one input captured from each checkpoint, keyed by
        training step.  All must have the same shape.
    tokens : sequence, optional
        Tokens of the input (for the induction score); default the labels of
        each grid's TokenAxis.
    min_induction_queries : int
        Passed to :func:`~multiattn.analysis.head_type_scores`.

    Returns
    -------
    dict
        ``"steps"``: int array (S,), sorted; and for each name in
        :data:`DYNAMICS_METRICS` a float array ``(S, L, H)``: ``entropy``
        (normalised row entropy, 1 = uniform over the allowed keys),
        ``distance`` (mean attention distance, tokens), ``induction`` and
        ``previous_token`` (head-type scores in [0, 1]; NaN when undefined).

    Example
    -------
    >>> m = metrics_by_step({0: np.full((2, 4, 5, 5), 0.2)})
    >>> m["entropy"].shape, round(float(m["entropy"][0, 0, 0]), 6)
    ((1, 2, 4), 1.0)
    """
    if not grids_by_step:
        raise MultiattnValueError(
            "grids_by_step is empty: pass {step: attention} for at least one checkpoint")
    steps = sorted(grids_by_step)
    if any(not isinstance(step, (int, np.integer)) or step < 0 for step in steps):
        raise MultiattnValueError(f"training steps must be non-negative integers, got {steps}")
    rows: dict[str, list[np.ndarray | LabelledArray]] = {name: [] for name in DYNAMICS_METRICS}
    shape = None
    for step in steps:
        attn = grids_by_step[step]
        step_shape = as_dense(attn).shape
        if shape is not None and step_shape != shape:
            raise MultiattnValueError(
                f"attention at step {step} has shape {step_shape}, step {steps[0]} has {shape}: "
                "capture every checkpoint on the same input"
            )
        shape = step_shape
        scores = head_type_scores(attn, tokens, min_induction_queries=min_induction_queries)
        rows["entropy"].append(head_entropy(attn, normalized=True))
        rows["distance"].append(attention_distance(attn))
        rows["induction"].append(scores["induction"])
        rows["previous_token"].append(scores["previous_token"])
    return {"steps": np.asarray(steps, dtype=np.int64),
            **{name: np.stack(values).astype(np.float64) for name, values in rows.items()}}


def phase_change_step(
    metrics: Mapping[str, np.ndarray], score: str = "induction", threshold: float = 0.5
) -> int | None:
    """First step at which the best head's ``score`` reaches ``threshold`` (None if never).

    Example
    -------
    >>> phase_change_step({"steps": np.array([0, 10, 20]),
    ...                    "induction": np.array([[[0.1]], [[0.6]], [[0.9]]])})
    10
    """
    if score not in metrics or "steps" not in metrics:
        raise MultiattnValueError(f"metrics need 'steps' and {score!r} (the output of metrics_by_step)")
    best = np.nanmax(np.where(np.isnan(metrics[score]), -np.inf, metrics[score]), axis=(1, 2))
    reached = np.flatnonzero(best >= threshold)
    return int(metrics["steps"][reached[0]]) if reached.size else None
