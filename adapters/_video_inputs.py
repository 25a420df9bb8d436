"""Video model families and their inputs: layouts, frame sampling and preprocessing, axes, meta."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError

from ..media import as_frames, sample_frame_indices

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch
    import transformers

    from .._types import Model, Processor
    from ..axes import VideoAxis

__all__ = [
    "FAMILIES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "axis",
    "check_memory",
    "family",
    "forward_kwargs",
    "frames_to_pixel_values",
    "inputs",
    "layout",
    "meta",
    "prediction",
    "preprocess",
]


IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def frames_to_pixel_values(
    frames: np.ndarray | Sequence[np.ndarray],
    size: int | tuple[int, int],
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
) -> torch.Tensor:
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

FAMILIES = ("videomae", "vivit", "timesformer", "vjepa2", "xclip")


def family(model: Model) -> str:
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in FAMILIES:
        raise MultiattnValueError(
            f"unsupported video model {type(model).__name__} (model_type={model_type!r}); "
            f"supported Hugging Face families: {', '.join(FAMILIES)}"
        )
    return model_type


def forward_kwargs(model: Model, family: str, pixels: torch.Tensor) -> dict[str, Any]:
    """The forward's keyword arguments for ``pixels``: V-JEPA 2 names them ``pixel_values_videos``
    and its bare model also runs the predictor unless told to skip it (the predictor is a training
    device; the encoder is what a downstream model reads)."""
    if family != "vjepa2":
        return {"pixel_values": pixels}
    skip = {"skip_predictor": True} if hasattr(model, "predictor") else {}
    return {"pixel_values_videos": pixels, **skip}


def layout(config: transformers.PretrainedConfig, family: str) -> dict:
    """Frames, input size, tubelet and prefix of a model, read from its config."""
    if family == "xclip":  # a CLIP ViT per frame; per-frame CLS and message tokens lead the axis
        from ._xclip import CLIP_MEAN, CLIP_STD, prefix

        vision = config.vision_config
        size, patch = int(vision.image_size), int(vision.patch_size)
        return {"frames": int(vision.num_frames), "size": (size, size), "tubelet": (1, patch, patch),
                "prefix": prefix(int(vision.num_frames)), "norm": (CLIP_MEAN, CLIP_STD)}
    if family == "vjepa2":  # tubelets t x p x p, time-major (Conv3d), no CLS; a square crop
        size = int(config.crop_size)
        return {"frames": int(config.frames_per_clip), "size": (size, size),
                "tubelet": (int(config.tubelet_size), int(config.patch_size), int(config.patch_size)),
                "prefix": ()}
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
            raise MultiattnValueError(
                f"TimeSformer attention_type {config.attention_type!r} is not supported; "
                "multiattn captures the 'divided_space_time' models"
            )
        tubelet = (1, int(config.patch_size), int(config.patch_size))
        prefix = ("CLS",)
    return {"frames": int(config.num_frames), "size": (int(height), int(width)),
            "tubelet": tubelet, "prefix": prefix}


def inputs(frames: np.ndarray | Sequence[np.ndarray] | torch.Tensor, processor: Processor, layout: dict,
           fps: float | None) -> tuple[torch.Tensor, VideoAxis]:
    """Model input ``(1, T, 3, H, W)`` and its VideoAxis (with the frames' resize / crop)."""
    import torch

    transform = None
    if isinstance(frames, torch.Tensor):
        pixels = frames if frames.ndim == 5 else frames[None]
        if pixels.ndim != 5:
            raise MultiattnValueError(
                f"pixel_values must be (1, T, 3, H, W) or (T, 3, H, W), got {tuple(frames.shape)}"
            )
    else:
        arr = as_frames(frames)
        need = layout["frames"]
        if arr.shape[0] < need:
            raise MultiattnValueError(
                f"the model needs {need} frames but the clip has {arr.shape[0]}; read a longer clip "
                f"or sample with repetition (sample_frame_indices(n, {need}) repeats frames)"
            )
        if arr.shape[0] > need:
            arr = arr[sample_frame_indices(arr.shape[0], need)]
        pixels, transform = preprocess(arr, processor, layout)
    if pixels.shape[1] != layout["frames"]:
        raise MultiattnValueError(
            f"the model needs {layout['frames']} frames, pixel_values has {pixels.shape[1]}")
    return pixels, axis(layout, pixels, fps, transform)


def preprocess(arr: np.ndarray, processor: Processor, layout: dict) -> tuple[torch.Tensor, dict]:
    """Run the processor (or the default resize) and record how a frame maps to the model input."""
    height, width = arr.shape[1:3]
    if processor is None:
        return (frames_to_pixel_values(arr, layout["size"], *layout.get("norm", ())),
                {"original_size": (height, width), "resize": layout["size"]})
    from ._image_input import hf_processor_plan

    pixels = processor(list(arr), return_tensors="pt")["pixel_values"]
    try:
        resized, crop = hf_processor_plan(processor, height, width)
    except (AttributeError, ValueError):
        resized, crop = None, None
    final = tuple(crop[2:]) if crop else resized
    if final != tuple(pixels.shape[-2:]):
        raise MultiattnValueError(
            f"cannot tell how {type(processor).__name__} mapped {height}x{width} frames to "
            f"{tuple(pixels.shape[-2:])}; maps would land on the wrong pixels. Preprocess the frames "
            "yourself and pass pixel_values (a tensor), or pass processor=None"
        )
    return pixels, {"original_size": (height, width), "resize": resized, "crop": crop}


def axis(layout: dict, pixels: torch.Tensor, fps: float | None, transform: dict | None = None) -> VideoAxis:
    from multiattn.axes import VideoAxis

    t, ph, pw = layout["tubelet"]
    height, width = pixels.shape[-2:]
    return VideoAxis(pixels.shape[1], height // ph, width // pw, tubelet=(t, ph, pw),
                     fps=1.0 if fps is None else fps, prefix=layout["prefix"], transform=transform)


def meta(model: Model, family: str, fps: float | None, **extra: Any) -> dict:  # extra: any meta values
    meta = {"model": getattr(model.config, "_name_or_path", "") or type(model).__name__,
            "family": family, "source": "multiattn.adapters.video.capture"}
    if fps is None:
        meta["fps"] = "unknown: times are in frame units (pass fps=...)"
    meta.update(extra)
    return meta


def check_memory(n_layers: int, n_heads: int, n_rows: int, n_cols: int, what: str) -> None:
    from multiattn._memory import check_fits

    # torch output + numpy copy
    check_fits(2 * 4 * n_layers * n_heads * n_rows * n_cols, what)


def prediction(model: Model, out: transformers.utils.ModelOutput) -> dict:
    """``{"predicted": index, "predicted_label": name}`` for classification outputs, else ``{}``."""
    logits = getattr(out, "logits", None)
    if logits is None:
        return {}
    index = int(logits[0].argmax())
    labels = getattr(model.config, "id2label", None) or {}
    return {"predicted": index, "predicted_label": str(labels.get(index, index))}
