"""Space-time explanations on video grids: raw readout attention and rollout (numpy only).

Grids come from :func:`multiattn.adapters.video.capture`: self-attention over one
:class:`~multiattn.axes.VideoAxis` in time-major order, either one joint grid
(VideoMAE, ViViT) or TimeSformer's divided attention as ``{"spatial": grid,
"temporal": grid}`` on the same axis.  The *readout* is the row the classifier
reads: the CLS token (``"cls"``), the mean of the content tokens (``"mean"``,
mean pooling) or one token index.  Only that row is propagated through the
layers (vector-matrix products), so no ``N x N`` product is ever formed and
sparse steps stay sparse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError

from ..grid import AttentionMap
from .rollout import fused_operators

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from ..grid import AttentionGrid

__all__ = ["readout_attention", "space_time_relevance", "space_time_rollout"]


def _readout_vector(axis: Any, readout: str | int | None,
                    default: str | int | None = None) -> tuple[np.ndarray, str | int]:
    """Start row vector: CLS (``"cls"``), mean over content tokens (``"mean"``) or one token."""
    if readout is None:
        readout = default if default is not None else ("cls" if axis.n_prefix else "mean")
    start = np.zeros(len(axis))
    if readout == "cls":
        if not axis.n_prefix:
            raise MultiattnValueError(
                "this axis has no CLS token; use readout='mean' (mean pooling) or a token index")
        start[0] = 1.0
    elif readout == "mean":
        start[axis.n_prefix:] = 1.0 / (len(axis) - axis.n_prefix)
    elif isinstance(readout, (int, np.integer)) and -len(axis) <= readout < len(axis):
        readout = int(readout) % len(axis)
        start[readout] = 1.0
    else:
        raise MultiattnValueError(
            f"readout must be 'cls', 'mean' or a token index < {len(axis)}, got {readout!r}")
    return start, readout


def _readout_map(values: np.ndarray, axis: Any, readout: str | int, meta: dict) -> AttentionMap:
    """AttentionMap of a readout row; a content readout token's own entry is zeroed (like a dropped CLS)."""
    values = np.array(values, dtype=np.float64)
    if isinstance(readout, int) and readout >= axis.n_prefix:
        values[readout] = 0.0
        meta = {**meta, "readout_zeroed": "the readout token's own entry is set to 0"}
    return AttentionMap(values, axis, {**meta, "readout": readout})


def _steps(attention: AttentionGrid | dict[str, AttentionGrid]) -> list[AttentionGrid]:
    """The grids applied within one layer, in forward order (temporal before spatial)."""
    if isinstance(attention, dict):
        missing = {"spatial", "temporal"} - set(attention)
        if missing:
            raise MultiattnValueError(
                f"divided attention needs 'spatial' and 'temporal' grids; missing {sorted(missing)}"
            )
        steps = [attention["temporal"], attention["spatial"]]
        if steps[0].query != steps[1].query or steps[0].layers != steps[1].layers:
            raise MultiattnValueError("the spatial and temporal grids must share their VideoAxis and layers")
        return steps
    return [attention]


def _propagate(
    start: np.ndarray, per_layer: list[list], identity: float, mixing: float, normalise: bool
) -> np.ndarray:
    """``start^T M_L ... M_1``, ``M_l`` the product of ``identity * I + mixing * A`` over its steps.

    Steps applied later in the forward pass multiply first.  With ``normalise``
    each ``identity * I + mixing * A`` has its rows rescaled to sum to one.
    """
    row = start
    for layer in reversed(per_layer):
        for operator in reversed(layer):
            if normalise:
                sums = identity + mixing * np.asarray(operator.sum(axis=1)).ravel()
                row = np.divide(row, sums, out=np.zeros_like(row), where=sums > 0)
            row = identity * row + mixing * np.asarray(row @ operator).ravel()
    return row


def readout_attention(
    attention: AttentionGrid | dict[str, AttentionGrid],
    *,
    layer: int = -1,
    readout: str | int | None = None,
    head_fusion: str = "mean",
) -> AttentionMap:
    """Raw attention one layer's readout pays to every space-time token.

    The default readout is the one the model's classifier uses (recorded by
    :func:`~multiattn.adapters.video.capture` in ``grid.meta["readout"]``): ``"cls"`` (ViViT,
    TimeSformer) is the CLS query row; ``"mean"`` (mean-pooling VideoMAE)
    averages the rows of all tokens, i.e. the attention the pooled output pays
    to each key; an int (VideoMAE without mean pooling reads token 0) is that
    token's row, with its own entry set to 0 as a CLS entry would be dropped.
    For TimeSformer pass the capture dict: the spatial step is used (CLS row =
    mean over frames of each frame's CLS attention).

    Returns
    -------
    AttentionMap over the grid's VideoAxis.

    Example
    -------
    >>> from multiattn import AttentionGrid, VideoAxis
    >>> axis = VideoAxis(8, 3, 4, tubelet=(2, 16, 16), prefix=("CLS",))  # 1 + 4 x 3 x 4 tokens
    >>> grid = AttentionGrid(np.full((2, 3, 49, 49), 1 / 49), axis)  # (layer, head, query, key)
    >>> amap = readout_attention(grid)  # the CLS row of the last layer
    >>> amap.axis.to_volume(amap.values).shape  # (time, rows, cols)
    (4, 3, 4)
    """

    grid = attention["spatial"] if isinstance(attention, dict) else attention
    operator = fused_operators(grid.select(layer=layer), head_fusion)[0]
    start, name = _readout_vector(grid.query, readout, grid.meta.get("readout"))
    values = np.asarray(start @ operator).ravel()
    meta = {"method": "raw attention", "layer": grid.select(layer=layer).layers[0],
            "head_fusion": head_fusion}
    return _readout_map(values, grid.key, name, meta)


def space_time_rollout(
    attention: AttentionGrid | dict[str, AttentionGrid],
    *,
    readout: str | int | None = None,
    residual: float = 0.5,
    head_fusion: str = "mean",
) -> AttentionMap:
    """Attention rollout (Abnar & Zuidema, 2020) through joint or divided space-time attention.

    Each attention step ``A`` (heads fused) becomes ``residual * I + (1 - residual) * A``
    with rows renormalised to sum to one (as :func:`multiattn.analysis.rollout`),
    and the layers are multiplied, last layer on the left.  For TimeSformer's
    divided attention one layer is ``S~ T~``: the temporal step ``T~`` acts
    first, then the spatial step ``S~`` (both on the time-major axis, see
    :func:`~multiattn.adapters.video.capture`), so ``R = S~_L T~_L ... S~_1 T~_1``.  Only the readout row
    ``r^T R`` is computed, by vector-matrix products from the last layer down,
    which never materialises an ``N x N`` product (sparse steps stay sparse).

    Parameters
    ----------
    attention : AttentionGrid or {"spatial": grid, "temporal": grid}
        Output of :func:`~multiattn.adapters.video.capture`.
    readout : "cls", "mean" or int, optional
        Row to explain; default the model's readout (``grid.meta["readout"]``),
        see :func:`readout_attention`.
    residual : float
        Weight of the identity (skip connection), in [0, 1).
    head_fusion : {"mean", "max", "min"}

    Returns
    -------
    AttentionMap
        Over the VideoAxis; ``axis.to_volume(map.values)`` is ``(time, rows, cols)``.

    Example
    -------
    >>> from multiattn import AttentionGrid, VideoAxis
    >>> axis = VideoAxis(8, 3, 4, tubelet=(2, 16, 16))  # VideoMAE-like: no CLS, mean readout
    >>> grid = AttentionGrid(np.full((2, 3, 48, 48), 1 / 48), axis)
    >>> amap = space_time_rollout(grid)
    >>> amap.values.shape, round(float(amap.values.sum()), 6)  # one value per token; rows stay stochastic
    ((48,), 1.0)
    """

    if not 0.0 <= residual < 1.0:
        raise MultiattnValueError(f"residual must be in [0, 1), got {residual}")
    steps = _steps(attention)
    operators = [fused_operators(step, head_fusion) for step in steps]
    per_layer = [list(ops) for ops in zip(*operators)]
    start, name = _readout_vector(steps[0].query, readout, steps[0].meta.get("readout"))
    values = _propagate(start, per_layer, residual, 1.0 - residual, normalise=True)
    meta = {"method": "rollout", "residual": residual, "head_fusion": head_fusion,
            "steps": "temporal then spatial" if len(steps) > 1 else "joint"}
    return _readout_map(values, steps[0].query, name, meta)


def space_time_relevance(cams: AttentionGrid | dict[str, AttentionGrid],
                         readout: str | int | None = None) -> AttentionMap:
    """Chefer relevance over space-time tokens from per-step ``(dA * A)^+`` grids.

    ``R = prod_l (I + mean_h cam_l)`` (last layer on the left; TimeSformer: temporal then
    spatial step of each layer, as in the forward pass), read out at the classifier's row: the
    rule of :func:`multiattn.analysis.chefer_relevance` for joint and divided attention.  The
    gradients come from the adapter (``multiattn.adapters.video`` computes them); this part is
    numpy.

    Parameters
    ----------
    cams : AttentionGrid or {"spatial": grid, "temporal": grid}
        Positive part of gradient x attention per layer and head, over one VideoAxis.
    readout : "cls", "mean" or int, optional
        Row of ``R``; default ``meta["readout"]`` of the grid (the row the classifier reads).

    Returns
    -------
    AttentionMap
        Non-negative relevance over the VideoAxis.

    Examples
    --------
    >>> from multiattn import AttentionGrid, VideoAxis
    >>> axis = VideoAxis(frames=2, rows=1, cols=2, tubelet=(1, 1, 1), fps=1.0, prefix=("CLS",))
    >>> cam = np.zeros((1, 1, 5, 5)); cam[0, 0, 0, 3] = 1.0
    >>> amap = space_time_relevance(AttentionGrid(cam, axis, check_rows=False, meta={"readout": "cls"}))
    >>> amap.values.round(2).tolist()  # CLS keeps the identity; relevance on token 3
    [1.0, 0.0, 0.0, 1.0, 0.0]
    """
    steps = _steps(cams)
    axis, meta = steps[0].query, dict(steps[0].meta)
    per_layer = [list(ops) for ops in zip(*(fused_operators(step, "mean") for step in steps))]
    start, name = _readout_vector(axis, readout, meta.get("readout"))
    row = _propagate(start, per_layer, 1.0, 1.0, normalise=False)
    return _readout_map(row, axis, name, {**meta, "method": "relevance (Chefer 2021)"})
