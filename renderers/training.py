"""Training-dynamics figure: head scores by training step, with the training loss.

One panel per score (from :func:`multiattn.analysis.dynamics.metrics_by_step`):
a thin line per head, coloured by layer, with a marker at every checkpoint;
the head with the highest score at the last step is drawn thick and named.  An
optional top panel shows the training loss per step (raw and smoothed).  A
dashed vertical line marks the phase change: the first checkpoint at which the
best head's induction score reaches ``phase_threshold``.

Example
-------
>>> import numpy as np
>>> metrics = {"steps": np.array([0, 50, 100]),
...            "induction": np.array([[[0.1, 0.0]], [[0.2, 0.1]], [[0.95, 0.1]]])}
>>> fig = dynamics_plot(metrics, scores=("induction",))
>>> fig.axes[0].get_ylabel()
'induction score'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from multiattn.analysis.dynamics import phase_change_step
from multiattn.errors import MultiattnValueError

from ._style import DPI
from .figure import plain_text

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.axes import Axes

__all__ = ["dynamics_plot"]

#: y-axis label (with its scale) of each score of metrics_by_step.
_SCORE_LABELS = {
    "induction": "induction score",
    "previous_token": "previous-token score",
    "entropy": "normalised entropy",
    "distance": "mean attention distance (tokens)",
}
_UNIT_INTERVAL = {"induction", "previous_token", "entropy"}
_SMOOTH_STEPS = 50


def _smoothed(loss: np.ndarray, width: int) -> np.ndarray:
    """Moving average over ``width`` steps (shorter at the start)."""
    cumsum = np.concatenate([[0.0], np.cumsum(loss)])
    idx = np.arange(1, len(loss) + 1)
    start = np.maximum(idx - width, 0)
    return (cumsum[idx] - cumsum[start]) / (idx - start)


def _plot_loss(ax: Axes, loss: np.ndarray) -> None:
    steps = np.arange(len(loss))
    ax.plot(steps, loss, color="0.75", lw=0.6, label="per step")
    ax.plot(steps, _smoothed(loss, _SMOOTH_STEPS), color="black", lw=1.5,
            label=f"mean of {_SMOOTH_STEPS} steps")
    ax.set_yscale("log")
    ax.set_ylabel("training loss\n(nats, log scale)")
    ax.legend(loc="upper right", fontsize=8, frameon=False)


def _plot_score(ax: Axes, steps: np.ndarray, values: np.ndarray, name: str) -> None:
    n_layers, n_heads = values.shape[1:]
    colors = plt.get_cmap("tab10")
    for layer in range(n_layers):
        for head in range(n_heads):
            ax.plot(steps, values[:, layer, head], color=colors(layer % 10), lw=0.9, alpha=0.6,
                    marker="o", ms=2.5, label=f"layer {layer}" if head == 0 else None)
    last = np.where(np.isfinite(values[-1]), values[-1], -np.inf)
    if np.isfinite(last).any():
        layer, head = np.unravel_index(int(np.argmax(last)), last.shape)
        ax.plot(steps, values[:, layer, head], color=colors(layer % 10), lw=2.6, marker="o", ms=4,
                label=f"highest at the end: L{layer} H{head}")
    ax.set_ylabel(_SCORE_LABELS.get(name, name))
    if name in _UNIT_INTERVAL:
        ax.set_ylim(-0.03, 1.03)
    ax.legend(loc="best", fontsize=8, frameon=False)


@plain_text
def dynamics_plot(
    metrics: Mapping[str, np.ndarray],
    loss: Sequence[float] | np.ndarray | None = None,
    *,
    scores: Sequence[str] = ("induction", "previous_token", "entropy"),
    phase_threshold: float = 0.5,
    title: str | None = None,
) -> Figure:
    """Small multiples of head scores by training step (and the loss, if given).

    Parameters
    ----------
    metrics : dict of str -> ndarray
        Output of :func:`~multiattn.analysis.dynamics.metrics_by_step`:
        ``"steps"`` (S,) and ``(S, L, H)`` arrays.
    loss : sequence of float, optional
        Training loss of every step (index = step), drawn in a top panel.
    scores : sequence of str
        Which arrays of ``metrics`` to draw, one panel each.
    phase_threshold : float
        Mark the first checkpoint where the best induction score reaches this.
    title : str, optional
        Figure title (default: what is plotted).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "steps" not in metrics:
        raise MultiattnValueError("metrics need 'steps': pass the output of metrics_by_step")
    missing = [name for name in scores if name not in metrics]
    if missing or not scores:
        raise MultiattnValueError(f"scores {missing or list(scores)} not in metrics (available: "
                         f"{sorted(k for k in metrics if k != 'steps')})")
    steps = np.asarray(metrics["steps"])
    loss_values = None if loss is None else np.asarray(loss, dtype=np.float64)
    if loss_values is not None and (loss_values.ndim != 1 or not np.isfinite(loss_values).all()):
        raise MultiattnValueError("loss must be a 1-D sequence of finite numbers, one per training step")
    n_panels = len(scores) + (loss_values is not None)
    fig, axes = plt.subplots(n_panels, 1, figsize=(7.5, 1.9 * n_panels + 0.6), dpi=DPI, sharex=True,
                             squeeze=False)
    panels = list(axes[:, 0])
    if loss_values is not None:
        _plot_loss(panels.pop(0), loss_values)
    for ax, name in zip(panels, scores):
        _plot_score(ax, steps, np.asarray(metrics[name], dtype=np.float64), name)
    phase = phase_change_step(metrics, "induction", phase_threshold) if "induction" in metrics else None
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
        if phase is not None:
            ax.axvline(phase, color="crimson", ls="--", lw=1)
    if phase is not None:
        axes[0, 0].annotate(f"best induction score ≥ {phase_threshold:g} from step {phase}", (phase, 0),
                            xycoords=("data", "axes fraction"), xytext=(-4, 4), textcoords="offset points",
                            ha="right", va="bottom", color="crimson", fontsize=8)
    axes[-1, 0].set_xlabel("training step")
    fig.suptitle(title or "Head scores across training checkpoints (mean over the queries of one input)",
                 fontsize=10)
    fig.tight_layout()
    return fig
