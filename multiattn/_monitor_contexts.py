"""What the monitor knows of a forward's positions, per modality beyond text and ViTs.

- **video** (VideoMAE / V-JEPA 2 tubelets, ViViT): treated as a ViT over the tubelet grid —
  ``prefix`` tokens first (none for VideoMAE / V-JEPA 2, CLS for ViViT), then
  ``(T / t) × (H / p) × (W / p)`` tubelets, time-major; ``special_share`` is the prefix share
  and ``mean_distance`` is in tubelets on the (time, row, column) grid.
- **CLIP** (both towers): the text tower's layers get a text context (its tokenizer's special /
  padding tokens; ``first_share`` is the start token), the vision tower's an image context
  (CLS prefix, patch grid); records are labelled ``clip-text`` / ``clip-image`` and their
  layer names keep the tower (``text_model.encoder.layers.0.self_attn``).

Example
-------
>>> grid_distances(1, (2, 2, 2)).shape  # CLS + 2 x 2 x 2 tubelets
torch.Size([9, 9])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from multiattn.errors import MultiattnValueError

from ._monitor_stats import Context

if TYPE_CHECKING:  # pragma: no cover
    from .monitor import Monitor

__all__ = ["clip_contexts", "grid_context", "grid_distances", "video_context"]


def grid_distances(n_prefix: int, shape: tuple[int, ...]) -> torch.Tensor:
    """(N, N) Euclidean distances on a patch / tubelet grid of ``shape``; 0 to and from prefix tokens."""
    axes = torch.meshgrid(*(torch.arange(n, dtype=torch.float32) for n in shape), indexing="ij")
    grid = torch.stack([a.ravel() for a in axes], -1)
    n = n_prefix + grid.shape[0]
    out = torch.zeros(n, n)
    out[n_prefix:, n_prefix:] = torch.cdist(grid[None], grid[None])[0]
    return out


def grid_context(monitor: Monitor, batch: int, n_prefix: int, shape: tuple[int, ...]) -> Context:
    """Every position valid; ``special`` = the prefix tokens; grid distances (cached per shape)."""
    n = n_prefix + int(torch.tensor(shape).prod())
    valid = torch.ones(batch, n, dtype=torch.bool)
    prefix = torch.zeros_like(valid)
    prefix[:, :n_prefix] = True
    first = torch.zeros_like(valid)
    first[:, 0] = True
    cache = monitor.__dict__.setdefault("_distances", {})
    if (n_prefix, shape) not in cache:
        cache[(n_prefix, shape)] = grid_distances(n_prefix, shape)
    return Context(valid, {"first": first, "special": prefix}, cache[(n_prefix, shape)])


def video_context(monitor: Monitor, pixels: torch.Tensor | None) -> Context:
    """Context of a video transformer's ``pixel_values (B, T, C, H, W)``."""
    from .adapters import _video_inputs as vin

    if pixels is None or pixels.dim() != 5:
        raise MultiattnValueError("the monitored video model was called without pixel_values= "
                                  "(B, frames, channels, height, width)")
    layout = monitor.__dict__.get("_video_layout")
    if layout is None:
        layout = vin.layout(monitor.model.config, vin.family(monitor.model))
        monitor.__dict__["_video_layout"] = layout
    t, ph, pw = layout["tubelet"]
    shape = (pixels.shape[1] // t, pixels.shape[-2] // ph, pixels.shape[-1] // pw)
    return grid_context(monitor, pixels.shape[0], len(layout["prefix"]), shape)


def clip_contexts(monitor: Monitor, args: tuple, kwargs: dict[str, Any]) -> dict[str, Context]:
    """``clip-text`` / ``clip-image`` contexts of a CLIP forward (either tower may be absent)."""
    from ._monitor_hooks import text_context

    out: dict[str, Context] = {}
    input_ids = kwargs.get("input_ids", args[0] if args else None)
    if input_ids is not None:
        out["clip-text"] = text_context(monitor, input_ids, kwargs.get("attention_mask"))
    pixels = kwargs.get("pixel_values", args[1] if len(args) > 1 else None)
    if pixels is not None:
        vision = monitor.model.config.vision_config
        patch = int(vision.patch_size)
        out["clip-image"] = grid_context(monitor, pixels.shape[0], 1,
                                         (pixels.shape[-2] // patch, pixels.shape[-1] // patch))
    return out


def clip_route(name: str) -> str:
    """The record label of a CLIP attention module: its tower."""
    return "clip-text" if name.startswith("text_model") else "clip-image"
