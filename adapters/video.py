"""Video transformers: capture space-time attention as grids over a VideoAxis.

Supported Hugging Face models and their token layouts:

- **VideoMAE** (``VideoMAEModel`` / ``...ForVideoClassification``): tubelets
  ``t x p x p`` (base: 2x16x16), tokens time-major (time, row, col), no CLS.
- **ViViT** (``VivitModel`` / ``...ForVideoClassification``): tubelets
  (base: 2x16x16), one CLS token, then time-major tokens.
- **V-JEPA 2** (``VJEPA2Model`` / ``...ForVideoClassification``): the encoder's
  tubelets ``t x p x p`` (2x16x16), time-major, no CLS, rotary 3-D positions (the weights
  are those after RoPE).  Not mapped: the predictor (skipped: a training device) and the
  classifier's attentive pooler (its query token is not a position of the clip).
- **TimeSformer** (``TimesformerModel`` / ``...ForVideoClassification``),
  divided space-time attention: each layer first attends over *time* (per
  patch, frames x frames), then over *space* (per frame, (1 + N) x (1 + N)
  with a per-frame copy of CLS).  Hugging Face only returns the spatial step;
  the temporal step is captured with a forward hook.

Every grid is self-attention over one :class:`~multiattn.axes.VideoAxis` in
time-major order, so ``axis.to_volume(vec)`` gives ``(time, rows, cols)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnValueError

from ..analysis.spacetime import readout_attention, space_time_relevance, space_time_rollout
from ..grid import AttentionGrid, AttentionMap
from ..gridset import GridSet
from . import _timesformer as _tsf
from . import _video_inputs as _vin
from . import _xclip
from ._video_inputs import frames_to_pixel_values

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    from collections.abc import Sequence

    import torch

    from .._types import Model, Processor

__all__ = ["capture", "explain", "frames_to_pixel_values", "prepare"]

#: Explanation methods of :func:`explain`.
METHODS = ("raw", "rollout", "relevance")

# -- capture --------------------------------------------------------------------


def capture(
    model: Model,
    frames: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
    *,
    processor: Processor = None,
    fps: float | None = None,
) -> AttentionGrid | GridSet:
    """Run a video transformer on a clip and return its attention with a VideoAxis.

    Parameters
    ----------
    model : transformers VideoMAE, ViViT, TimeSformer, V-JEPA 2 or X-CLIP model
        A base model or a ``...ForVideoClassification`` head model (``XCLIPModel`` for X-CLIP).
    frames : array (T, H, W, 3) uint8, list of frames, or a pixel_values tensor
        The clip.  Longer clips are sampled uniformly to ``config.num_frames``
        (:func:`sample_frame_indices`); shorter clips raise ``ValueError``.
        Grayscale ``(T, H, W)`` frames are converted to RGB.
    processor : Hugging Face video processor, optional
        Used to build ``pixel_values`` when given; otherwise
        :func:`frames_to_pixel_values` (resize + ImageNet normalisation).
    fps : float, optional
        Frame rate of the frames given, so ``axis.times`` is in seconds.

    Returns
    -------
    AttentionGrid or GridSet
        **VideoMAE / ViViT**: one dense grid ``(L, H, N, N)`` over a
        ``VideoAxis(frames, rows, cols, tubelet=(t, p, p), prefix=())`` (VideoMAE)
        or ``prefix=("CLS",)`` (ViViT), ``N = len(axis)``.

        **TimeSformer**: a GridSet ``spatial`` / ``temporal``, both sparse
        grids over one ``VideoAxis(frames, rows, cols, tubelet=(1, p, p),
        prefix=("CLS",))`` (tokens re-ordered time-major; the model itself
        orders them patch-major).  ``spatial`` holds, per frame ``t``, the
        ``(1 + N) x (1 + N)`` attention among CLS and the patches of frame ``t``;
        as TimeSformer averages the per-frame CLS outputs, the CLS query row is
        the mean over frames (so every row still sums to 1).  ``temporal``
        holds, per patch ``(r, c)``, the ``T x T`` attention between that patch
        in every frame; CLS takes no part in the temporal step and its row is
        the identity.  ``grid.row(q)`` or ``grid.to_dense()`` give dense views.

        **V-JEPA 2**: as VideoMAE (tubelets, no CLS), the encoder only.

        **X-CLIP**: a GridSet ``spatial`` / ``message`` / ``mit`` of sparse grids over one
        ``VideoAxis(frames, rows, cols, tubelet=(1, p, p), prefix=("CLS.0", ..., "MSG.0", ...))``:
        per frame ``[CLS.t, patches, MSG.t]`` attention, the message tokens' cross-frame attention,
        and the MIT's attention between frames (on the ``CLS.t`` tokens); see
        :mod:`multiattn.adapters._xclip`.

    Raises
    ------
    ValueError
        Unsupported model, too few frames, bad frame arrays.

    Example
    -------
    >>> grid = capture(model, frames, fps=8)  # doctest: +SKIP
    >>> grid.shape, grid.query.to_volume(grid.row(0).values).shape  # doctest: +SKIP
    ((12, 12, 1568, 1568), (8, 14, 14))
    """
    import torch

    from multiattn.adapters._hf import eager_attention, eval_mode, require_attentions
    from multiattn.grid import AttentionGrid

    family = _vin.family(model)
    layout = _vin.layout(model.config, family)
    pixels, axis = _vin.inputs(frames, processor, layout, fps)
    if family == "timesformer":
        return _tsf.capture_timesformer(model, pixels, axis, fps)
    if family == "xclip":
        vision = model.config.vision_config
        width = 2 + axis.rows * axis.cols
        _vin.check_memory(vision.num_hidden_layers, vision.num_attention_heads, axis.n_time * width, width,
                          "X-CLIP per-frame attention")
        return _xclip.capture_xclip(model, pixels, axis, _vin.meta(model, family, fps, readout="mit mean"))
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    _vin.check_memory(n_layers, n_heads, len(axis), len(axis), f"{family} attention")
    with eval_mode(model), torch.no_grad(), eager_attention(model):
        out = model(**_vin.forward_kwargs(model, family, pixels), output_attentions=True)
    attentions = require_attentions(out.attentions, "self", model)
    values = np.stack([a[0].float().numpy() for a in attentions])
    meta = _vin.meta(model, family, fps, readout=_model_readout(model, family), **_vin.prediction(model, out))
    return AttentionGrid(values, axis, layers=[f"encoder.{i}" for i in range(len(attentions))], meta=meta)


def prepare(model: Model, frames: np.ndarray | Sequence[np.ndarray] | torch.Tensor, *,
            processor: Processor = None, fps: float | None = None) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments for a clip: ``{"pixel_values": (1, T, 3, H, W)}``.

    Example
    -------
    >>> prepare(model, clip.frames)["pixel_values"].shape  # doctest: +SKIP
    torch.Size([1, 16, 3, 224, 224])
    """
    family = _vin.family(model)
    pixels, _ = _vin.inputs(frames, processor, _vin.layout(model.config, family), fps)
    return _vin.forward_kwargs(model, family, pixels)


# -- space-time explanations ---------------------------------------------------

def _explainable(model: Model) -> str:
    """The family of a model whose classifier reads a position of the clip (CLS, mean, token 0)."""
    family = _vin.family(model)
    if family == "xclip":
        raise MultiattnValueError(
            "X-CLIP scores captions against the clip (no classifier, no readout row): use capture(model, "
            "frames) for its spatial / message / mit attention")
    if family == "vjepa2":
        raise MultiattnValueError(
            "V-JEPA 2 classifies through an attentive pooler whose query is not a token of the clip, so "
            "raw / rollout / relevance have no readout row; use capture(model, frames) for its attention")
    return family


def _model_readout(model: Model, family: str) -> str | int:
    """How the classifier reads the sequence: CLS, mean pooling, or token 0 (VideoMAE without pooling)."""
    if family == "vjepa2":
        return "attentive pooler (not a position of the clip)"
    if family != "videomae":
        return "cls"
    return "mean" if getattr(model.config, "use_mean_pooling", True) else 0


def relevance(
    model: Model,
    frames: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
    *,
    processor: Processor = None,
    target: int | None = None,
    fps: float | None = None,
    readout: str | int | None = None,
) -> AttentionMap:
    """Class relevance over space-time tokens (Chefer et al., 2021), for joint and divided attention.

    The gradient of the ``target`` logit with respect to every attention
    matrix gives ``Abar = mean_h((dA * A)^+)`` per step; relevance is the
    readout row of ``R = prod_l (I + Abar_l)`` (last layer on the left), the
    rule of :func:`multiattn.analysis.relevance.chefer_relevance`.  For
    TimeSformer each layer contributes ``(I + Abar_spatial)(I + Abar_temporal)``
    on the time-major axis (temporal first, as in the forward pass).

    Parameters
    ----------
    model : a ``...ForVideoClassification`` model (VideoMAE, ViViT, TimeSformer)
    frames, processor, fps
        As for :func:`capture`.
    target : int, optional
        Class to explain; default the predicted class.
    readout : "cls", "mean" or int, optional
        Row of ``R`` to return; default the row the classifier reads (see
        :func:`readout_attention`).

    Returns
    -------
    AttentionMap
        Non-negative relevance over the VideoAxis; ``meta["target"]`` is the class explained.

    Example
    -------
    >>> amap = relevance(model, clip.frames, fps=8)  # doctest: +SKIP
    >>> amap.axis.to_volume(amap.values).shape  # doctest: +SKIP
    (4, 8, 8)
    """
    import torch

    from multiattn.adapters._hf import eager_attention, eval_mode, require_attentions
    from multiattn.grid import AttentionGrid

    family = _explainable(model)
    if not hasattr(model, "classifier"):
        raise MultiattnValueError(
            f"relevance needs a ...ForVideoClassification model, got {type(model).__name__}"
        )
    layout = _vin.layout(model.config, family)
    pixels, axis = _vin.inputs(frames, processor, layout, fps)
    with eval_mode(model), torch.enable_grad():
        if family == "timesformer":
            out, spatial, temporal = _tsf.run_timesformer(model, pixels)
            tensors = spatial + temporal
        else:
            with eager_attention(model):
                out = model(pixel_values=pixels, output_attentions=True)
            tensors = require_attentions(out.attentions, "self", model)
        for tensor in tensors:
            tensor.retain_grad()
        logits = out.logits[0]
        n_classes = logits.shape[0]
        target = int(logits.argmax()) if target is None else int(target)
        if not 0 <= target < n_classes:
            raise MultiattnValueError(f"target class {target} out of range for {n_classes} classes")
        model.zero_grad(set_to_none=True)
        logits[target].backward()
    cams = [(t.grad * t).clamp(min=0).detach() for t in tensors]
    meta = _vin.meta(model, family, fps, readout=_model_readout(model, family))
    if family == "timesformer":
        n_layers = len(spatial)
        for cam in cams[:n_layers]:
            cam[:, :, 0, :] *= axis.n_time  # undo the CLS mean over frames: dL/dA_eff = T dL/dA_t
        steps = _tsf.timesformer_grids(cams[:n_layers], cams[n_layers:], axis, meta, cls_self=0.0)
    else:
        values = np.stack([c[0].float().numpy() for c in cams])
        steps = AttentionGrid(values, axis, check_rows=False, meta=meta)
    amap = space_time_relevance(steps, readout)
    amap.meta["target"] = target
    return amap


def explain(
    model: Model,
    frames: np.ndarray | Sequence[np.ndarray] | torch.Tensor,
    *,
    processor: Processor = None,
    method: str = "raw",
    target: int | None = None,
    fps: float | None = None,
) -> AttentionMap:
    """One map over the clip's VideoAxis: the classifier's readout attention, rollout or relevance.

    Parameters
    ----------
    model, frames, processor, fps
        As for :func:`capture`.
    method : {"raw", "rollout", "relevance"}
        ``raw``: the last layer's attention of the row the classifier reads
        (:func:`multiattn.analysis.readout_attention`); ``rollout``:
        :func:`multiattn.analysis.space_time_rollout`; ``relevance``: :func:`relevance`.
    target : int, optional
        Class to explain (``relevance`` only); default the predicted class.

    Returns
    -------
    AttentionMap
        ``meta`` names the predicted class when the model has a head.

    Example
    -------
    >>> amap = explain(model, clip.frames, method="rollout", fps=clip.fps)  # doctest: +SKIP
    >>> amap.axis.to_volume(amap.values).shape  # doctest: +SKIP
    (8, 8, 8)
    """
    if method not in METHODS:
        raise MultiattnValueError(f"method must be one of {METHODS}, got {method!r}")
    _explainable(model)
    if method == "relevance":
        return relevance(model, frames, processor=processor, target=target, fps=fps)
    if target is not None:
        raise MultiattnValueError(f"method {method!r} does not depend on a target class; drop target=")
    grid = capture(model, frames, processor=processor, fps=fps)
    amap = readout_attention(grid) if method == "raw" else space_time_rollout(grid)
    head = grid["spatial"] if isinstance(grid, dict) else grid
    amap.meta.update({k: head.meta[k] for k in ("predicted", "predicted_label") if k in head.meta})
    return amap
