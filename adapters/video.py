"""Video transformers: capture space-time attention as grids over a VideoAxis.

Supported Hugging Face models and their token layouts:

- **VideoMAE** (``VideoMAEModel`` / ``...ForVideoClassification``): tubelets
  ``t x p x p`` (base: 2x16x16), tokens time-major (time, row, col), no CLS.
- **ViViT** (``VivitModel`` / ``...ForVideoClassification``): tubelets
  (base: 2x16x16), one CLS token, then time-major tokens.
- **TimeSformer** (``TimesformerModel`` / ``...ForVideoClassification``),
  divided space-time attention: each layer first attends over *time* (per
  patch, frames x frames), then over *space* (per frame, (1 + N) x (1 + N)
  with a per-frame copy of CLS).  Hugging Face only returns the spatial step;
  the temporal step is captured with a forward hook.

Every grid is self-attention over one :class:`~multiattn.axes.VideoAxis` in
time-major order, so ``axis.to_volume(vec)`` gives ``(time, rows, cols)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis.rollout import fused_operators
from ..analysis.spacetime import (
    _propagate,
    _readout_map,
    _readout_vector,
    _steps,
    readout_attention,
    space_time_rollout,
)
from ..media import as_frames, sample_frame_indices

__all__ = [
    "capture",
    "frames_to_pixel_values",
    "readout_attention",
    "relevance",
    "space_time_rollout",
]

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def frames_to_pixel_values(
    frames: Any,
    size: int | tuple[int, int],
    mean: Sequence[float] = _IMAGENET_MEAN,
    std: Sequence[float] = _IMAGENET_STD,
) -> Any:
    """Resize and normalise RGB frames into a ``(1, T, 3, H, W)`` float tensor.

    This is the preprocessing used when no Hugging Face processor is given
    (and the one the moving-shapes model was trained with): antialiased
    bilinear resize to ``size``, scale to [0, 1], subtract ``mean`` and divide
    by ``std`` per channel (ImageNet statistics by default, as VideoMAE).

    Parameters
    ----------
    frames : array (T, H, W, 3) uint8, or a list of frames
        Already sampled to the model's number of frames.
    size : int or (height, width)
        Model input size.

    Example
    -------
    >>> frames_to_pixel_values(np.zeros((8, 90, 120, 3), np.uint8), 64).shape
    torch.Size([1, 8, 3, 64, 64])
    """
    import torch

    arr = as_frames(frames)
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    resized = []
    for frame in arr:  # one frame at a time: a float copy of a whole 4K clip would not fit
        image = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1)[None].float() / 255.0
        if image.shape[-2:] != (height, width):
            image = torch.nn.functional.interpolate(image, size=(height, width), mode="bilinear",
                                                    antialias=True, align_corners=False)
        resized.append(image[0])
    video = torch.stack(resized)
    mean_t = torch.tensor(mean, dtype=video.dtype)[None, :, None, None]
    std_t = torch.tensor(std, dtype=video.dtype)[None, :, None, None]
    return ((video - mean_t) / std_t)[None]


# -- model layouts ------------------------------------------------------------

_FAMILIES = ("videomae", "vivit", "timesformer")


def _family(model: Any) -> str:
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in _FAMILIES:
        raise ValueError(
            f"unsupported video model {type(model).__name__} (model_type={model_type!r}); "
            f"supported Hugging Face families: {', '.join(_FAMILIES)}"
        )
    return model_type


def _layout(config: Any, family: str) -> dict:
    """Frames, input size, tubelet and prefix of a model, read from its config."""
    size = config.image_size
    height, width = (size, size) if np.isscalar(size) else tuple(size)
    if family == "videomae":
        tubelet = (int(config.tubelet_size), int(config.patch_size), int(config.patch_size))
        prefix: tuple[str, ...] = ()
    elif family == "vivit":
        tubelet = tuple(int(v) for v in config.tubelet_size)
        prefix = ("CLS",)
    else:
        if config.attention_type != "divided_space_time":
            raise ValueError(
                f"TimeSformer attention_type {config.attention_type!r} is not supported; "
                "multiattn captures the 'divided_space_time' models"
            )
        tubelet = (1, int(config.patch_size), int(config.patch_size))
        prefix = ("CLS",)
    return {"frames": int(config.num_frames), "size": (int(height), int(width)),
            "tubelet": tubelet, "prefix": prefix}


def _inputs(frames: Any, processor: Any, layout: dict, fps: float | None) -> tuple[Any, Any]:
    """Model input ``(1, T, 3, H, W)`` and its VideoAxis (with the frames' resize / crop)."""
    import torch

    transform = None
    if isinstance(frames, torch.Tensor):
        pixels = frames if frames.ndim == 5 else frames[None]
        if pixels.ndim != 5:
            raise ValueError(
                f"pixel_values must be (1, T, 3, H, W) or (T, 3, H, W), got {tuple(frames.shape)}"
            )
    else:
        arr = as_frames(frames)
        need = layout["frames"]
        if arr.shape[0] < need:
            raise ValueError(
                f"the model needs {need} frames but the clip has {arr.shape[0]}; read a longer clip "
                f"or sample with repetition (sample_frame_indices(n, {need}) repeats frames)"
            )
        if arr.shape[0] > need:
            arr = arr[sample_frame_indices(arr.shape[0], need)]
        pixels, transform = _preprocess(arr, processor, layout)
    if pixels.shape[1] != layout["frames"]:
        raise ValueError(f"the model needs {layout['frames']} frames, pixel_values has {pixels.shape[1]}")
    return pixels, _axis(layout, pixels, fps, transform)


def _preprocess(arr: np.ndarray, processor: Any, layout: dict) -> tuple[Any, dict]:
    """Run the processor (or the default resize) and record how a frame maps to the model input."""
    height, width = arr.shape[1:3]
    if processor is None:
        return (frames_to_pixel_values(arr, layout["size"]),
                {"original_size": (height, width), "resize": layout["size"]})
    from .vit import _hf_processor_plan

    pixels = processor(list(arr), return_tensors="pt")["pixel_values"]
    try:
        resized, crop = _hf_processor_plan(processor, height, width)
    except (AttributeError, ValueError):
        resized, crop = None, None
    final = tuple(crop[2:]) if crop else resized
    if final != tuple(pixels.shape[-2:]):
        raise ValueError(
            f"cannot tell how {type(processor).__name__} mapped {height}x{width} frames to "
            f"{tuple(pixels.shape[-2:])}; maps would land on the wrong pixels. Preprocess the frames "
            "yourself and pass pixel_values (a tensor), or pass processor=None"
        )
    return pixels, {"original_size": (height, width), "resize": resized, "crop": crop}


def _axis(layout: dict, pixels: Any, fps: float | None, transform: dict | None = None) -> Any:
    from multiattn.axes import VideoAxis

    t, ph, pw = layout["tubelet"]
    height, width = pixels.shape[-2:]
    return VideoAxis(pixels.shape[1], height // ph, width // pw, tubelet=(t, ph, pw),
                     fps=1.0 if fps is None else fps, prefix=layout["prefix"], transform=transform)


def _meta(model: Any, family: str, fps: float | None, **extra: Any) -> dict:
    meta = {"model": getattr(model.config, "_name_or_path", "") or type(model).__name__,
            "family": family, "source": "multiattn.adapters.video.capture"}
    if fps is None:
        meta["fps"] = "unknown: times are in frame units (pass fps=...)"
    meta.update(extra)
    return meta


def _check_memory(n_layers: int, n_heads: int, n_rows: int, n_cols: int, what: str) -> None:
    from multiattn._memory import check_fits

    # torch output + numpy copy
    check_fits(2 * 4 * n_layers * n_heads * n_rows * n_cols, what)


def _prediction(model: Any, out: Any) -> dict:
    """``{"predicted": index, "predicted_label": name}`` for classification outputs, else ``{}``."""
    logits = getattr(out, "logits", None)
    if logits is None:
        return {}
    index = int(logits[0].argmax())
    labels = getattr(model.config, "id2label", None) or {}
    return {"predicted": index, "predicted_label": str(labels.get(index, index))}


# -- capture --------------------------------------------------------------------


def capture(
    model: Any,
    frames: Any,
    processor: Any = None,
    *,
    fps: float | None = None,
) -> Any:
    """Run a video transformer on a clip and return its attention with a VideoAxis.

    Parameters
    ----------
    model : transformers VideoMAE, ViViT or TimeSformer model
        A base model or a ``...ForVideoClassification`` head model.
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
    AttentionGrid or dict of AttentionGrid
        **VideoMAE / ViViT**: one dense grid ``(L, H, N, N)`` over a
        ``VideoAxis(frames, rows, cols, tubelet=(t, p, p), prefix=())`` (VideoMAE)
        or ``prefix=("CLS",)`` (ViViT), ``N = len(axis)``.

        **TimeSformer**: ``{"spatial": grid, "temporal": grid}``, both sparse
        grids over one ``VideoAxis(frames, rows, cols, tubelet=(1, p, p),
        prefix=("CLS",))`` (tokens re-ordered time-major; the model itself
        orders them patch-major).  ``spatial`` holds, per frame ``t``, the
        ``(1 + N) x (1 + N)`` attention among CLS and the patches of frame ``t``;
        as TimeSformer averages the per-frame CLS outputs, the CLS query row is
        the mean over frames (so every row still sums to 1).  ``temporal``
        holds, per patch ``(r, c)``, the ``T x T`` attention between that patch
        in every frame; CLS takes no part in the temporal step and its row is
        the identity.  ``grid.row(q)`` or ``grid.to_dense()`` give dense views.

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

    from multiattn.adapters._hf import eager_attention, require_attentions
    from multiattn.grid import AttentionGrid

    family = _family(model)
    layout = _layout(model.config, family)
    pixels, axis = _inputs(frames, processor, layout, fps)
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    if family == "timesformer":
        return _capture_timesformer(model, pixels, axis, fps)
    _check_memory(n_layers, n_heads, len(axis), len(axis), f"{family} attention")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), eager_attention(model):
            out = model(pixel_values=pixels, output_attentions=True)
    finally:
        model.train(was_training)
    attentions = require_attentions(out.attentions, "self", model)
    values = np.stack([a[0].float().numpy() for a in attentions])
    meta = _meta(model, family, fps, readout=_model_readout(model, family), **_prediction(model, out))
    return AttentionGrid(values, axis, layers=[f"encoder.{i}" for i in range(len(attentions))], meta=meta)


def _temporal_hook(store: list) -> Any:
    """Forward hook for a TimeSformer temporal ``TimesformerSelfAttention``.

    It recomputes the step exactly (``softmax(q k^T * scale) @ v``, dropout is
    off in eval) and returns that output, so the stored probabilities are the
    ones the model used and stay in the autograd graph (for relevance).
    """

    def hook(module: Any, args: tuple, output: Any) -> Any:
        hidden = args[0]  # (B * patches, frames, C)
        batch, seq, channels = hidden.shape
        qkv = (module.qkv(hidden).reshape(batch, seq, 3, module.num_heads, channels // module.num_heads)
               .permute(2, 0, 3, 1, 4))
        probs = ((qkv[0] @ qkv[1].transpose(-2, -1)) * module.scale).softmax(dim=-1)
        store.append(probs)
        context = (probs @ qkv[2]).transpose(1, 2).reshape(batch, seq, channels)
        return (context,) + tuple(output[1:])

    return hook


def _run_timesformer(model: Any, pixels: Any) -> tuple[Any, list, list]:
    """Forward with spatial attentions returned and temporal ones hooked."""
    from multiattn.adapters._hf import eager_attention, require_attentions

    temporal: list = []
    layers = model.base_model.encoder.layer
    handles = [layer.temporal_attention.attention.register_forward_hook(_temporal_hook(temporal))
               for layer in layers]
    try:
        with eager_attention(model):
            out = model(pixel_values=pixels, output_attentions=True)
    finally:
        for handle in handles:
            handle.remove()
    spatial = require_attentions(out.attentions, "spatial", model)
    return out, spatial, require_attentions(temporal, "temporal", model)


def _divided_edges(axis: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edge lists (query, key) of the spatial and temporal steps in time-major order.

    Spatial edges enumerate, per frame, the ``(1 + N)^2`` (query, key) pairs in
    the model's per-frame order except CLS->CLS, which is one shared edge
    appended last.  Temporal edges enumerate ``(patch, t_query, t_key)`` then
    the CLS self-edge.
    """
    n_t, n_p = axis.n_time, axis.rows * axis.cols
    local = np.concatenate([np.zeros((n_t, 1), np.int64),
                            1 + np.arange(n_t)[:, None] * n_p + np.arange(n_p)[None]], axis=1)
    sq = np.broadcast_to(local[:, :, None], (n_t, n_p + 1, n_p + 1)).reshape(-1)
    sk = np.broadcast_to(local[:, None, :], (n_t, n_p + 1, n_p + 1)).reshape(-1)
    keep = ~((sq == 0) & (sk == 0))
    spatial = (np.append(sq[keep], 0), np.append(sk[keep], 0))
    patch = np.arange(n_p)[:, None, None]
    tq = np.arange(n_t)[None, :, None]
    tk = np.arange(n_t)[None, None, :]
    shape = (n_p, n_t, n_t)
    temporal = (np.append(np.broadcast_to(1 + tq * n_p + patch, shape).reshape(-1), 0),
                np.append(np.broadcast_to(1 + tk * n_p + patch, shape).reshape(-1), 0))
    return spatial + temporal


def _timesformer_grids(spatial: list, temporal: list, axis: Any, meta: dict, cls_self: float = 1.0) -> dict:
    """Build the sparse spatial and temporal grids from per-layer torch tensors.

    ``cls_self`` is the CLS row of the temporal step (1: identity for attention;
    0 for gradient-weighted maps, where CLS takes no part in that step).
    """
    from multiattn.grid import AttentionGrid

    n_t = axis.n_time
    sq, sk, tq, tk = _divided_edges(axis)
    keep = ~((np.arange(spatial[0].shape[-1]) == 0)[:, None] & (np.arange(spatial[0].shape[-1]) == 0)[None])
    s_values, t_values = [], []
    for s_layer, t_layer in zip(spatial, temporal):
        s = s_layer.detach().float().numpy().transpose(1, 0, 2, 3).copy()  # (H, T, 1+N, 1+N)
        s[:, :, 0, :] /= n_t  # the CLS output is the mean over frames
        cls_cls = s[:, :, 0, 0].sum(axis=1, keepdims=True)
        s_values.append(np.concatenate([s[:, :, keep].reshape(s.shape[0], -1), cls_cls], axis=1))
        t = t_layer.detach().float().numpy().transpose(1, 0, 2, 3)  # (H, N, T, T)
        cls_row = np.full((t.shape[0], 1), cls_self)
        t_values.append(np.concatenate([t.reshape(t.shape[0], -1), cls_row], axis=1))
    layers = [f"encoder.{i}" for i in range(len(spatial))]
    return {
        "spatial": AttentionGrid(np.stack(s_values), axis, layers=layers, edge_index=np.stack([sk, sq]),
                                 meta={**meta, "step": "spatial"}, check_rows=False),
        "temporal": AttentionGrid(np.stack(t_values), axis, layers=layers, edge_index=np.stack([tk, tq]),
                                  meta={**meta, "step": "temporal"}, check_rows=False),
    }


def _capture_timesformer(model: Any, pixels: Any, axis: Any, fps: float | None) -> dict:
    import torch

    config = model.config
    n_p = axis.rows * axis.cols
    _check_memory(config.num_hidden_layers, config.num_attention_heads, axis.n_time * (n_p + 1), n_p + 1,
                  "TimeSformer spatial attention")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out, spatial, temporal = _run_timesformer(model, pixels)
    finally:
        model.train(was_training)
    meta = _meta(model, "timesformer", fps, readout="cls", **_prediction(model, out))
    return _timesformer_grids(spatial, temporal, axis, meta)


# -- space-time explanations ---------------------------------------------------

def _model_readout(model: Any, family: str) -> str | int:
    """How the classifier reads the sequence: CLS, mean pooling, or token 0 (VideoMAE without pooling)."""
    if family != "videomae":
        return "cls"
    return "mean" if getattr(model.config, "use_mean_pooling", True) else 0


def relevance(
    model: Any,
    frames: Any,
    target: int | None = None,
    processor: Any = None,
    *,
    fps: float | None = None,
    readout: str | int | None = None,
) -> Any:
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

    from multiattn.adapters._hf import eager_attention, require_attentions
    from multiattn.grid import AttentionGrid

    family = _family(model)
    if not hasattr(model, "classifier"):
        raise ValueError(
            f"relevance needs a ...ForVideoClassification model, got {type(model).__name__}"
        )
    layout = _layout(model.config, family)
    pixels, axis = _inputs(frames, processor, layout, fps)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            if family == "timesformer":
                out, spatial, temporal = _run_timesformer(model, pixels)
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
                raise ValueError(f"target class {target} out of range for {n_classes} classes")
            model.zero_grad(set_to_none=True)
            logits[target].backward()
    finally:
        model.train(was_training)
    cams = [(t.grad * t).clamp(min=0).detach() for t in tensors]
    meta = _meta(model, family, fps, readout=_model_readout(model, family))
    if family == "timesformer":
        n_layers = len(spatial)
        for cam in cams[:n_layers]:
            cam[:, :, 0, :] *= axis.n_time  # undo the CLS mean over frames: dL/dA_eff = T dL/dA_t
        grids = _timesformer_grids(cams[:n_layers], cams[n_layers:], axis, meta, cls_self=0.0)
        steps = _steps(grids)
    else:
        values = np.stack([c[0].float().numpy() for c in cams])
        steps = [AttentionGrid(values, axis, check_rows=False)]
    per_layer = [list(ops) for ops in zip(*(fused_operators(step, "mean") for step in steps))]
    start, name = _readout_vector(axis, readout, meta["readout"])
    row = _propagate(start, per_layer, 1.0, 1.0, normalise=False)
    return _readout_map(row, axis, name, {**meta, "method": "relevance (Chefer 2021)", "target": target})
