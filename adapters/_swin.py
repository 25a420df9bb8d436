"""Swin / Swinv2 (Hugging Face and timm): windowed attention mapped back onto each stage's patch grid.

A Swin block attends inside ``ws x ws`` windows of its stage's token grid, every other block
after a cyclic shift by ``ws // 2`` (and after padding the grid to a multiple of ``ws``).  The
model returns ``(windows, heads, ws², ws²)``; here every window of every block is mapped back
to token positions by running the block's own pad / shift / partition on a grid of token
indices, so the shift is undone exactly.  Each stage becomes one **block-sparse** grid over a
:class:`~multiattn.PatchAxis` at that stage's resolution (no prefix token): its edges are the
union over the stage's blocks of the (key, query) pairs that share a window (zero where a block
does not pair them).  Attention a block gives to zero padding is not an image position: it is
dropped and its largest share is reported in ``meta["padding_mass"]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch

from multiattn.errors import MultiattnRuntimeError, UnsupportedModelError

from ..axes import PatchAxis
from ..grid import AttentionGrid
from ..gridset import GridSet
from ._hf import eager_attention, eval_mode

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ImageInput, Model, Processor
    from ..stream import Reducer

__all__ = ["is_swin", "swin_capture", "swin_prepare", "swin_stream"]

_HF_TYPES = ("swin", "swinv2", "donut-swin", "maskformer-swin")


def is_swin(model: object) -> bool:
    """True for Hugging Face Swin / Swinv2 and timm SwinTransformer(V2) models."""
    if type(model).__module__.startswith("timm."):
        return type(model).__name__.startswith("SwinTransformer")
    return getattr(getattr(model, "config", None), "model_type", None) in _HF_TYPES


def _is_timm(model: Model) -> bool:
    return type(model).__module__.startswith("timm.")


def _blocks(model: Model) -> list[tuple[int, torch.nn.Module]]:
    """``(stage, block)`` in forward order."""
    stages = model.layers if _is_timm(model) else model.base_model.encoder.layers
    return [(s, block) for s, stage in enumerate(stages) for block in stage.blocks]


def _pair(v: int | tuple | torch.Tensor) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def window_tokens(block: torch.nn.Module, h: int, w: int, *, shift_first: bool) -> np.ndarray:
    """Token index (row-major on the ``h x w`` grid, ``-1`` for padding) of each window position.

    ``shift_first``: timm rolls then pads; Hugging Face pads then rolls.

    Example
    -------
    >>> window_tokens(block, 8, 8, shift_first=False).shape  # doctest: +SKIP
    (4, 16)
    """
    ws, shift = _pair(block.window_size), _pair(block.shift_size)
    grid = torch.arange(h * w, dtype=torch.float32).view(1, h, w, 1) + 1  # 0 marks padding
    pad = (0, 0, 0, (ws[1] - w % ws[1]) % ws[1], 0, (ws[0] - h % ws[0]) % ws[0])
    if shift_first and any(shift):
        grid = torch.roll(grid, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    grid = torch.nn.functional.pad(grid, pad)
    if not shift_first and any(shift):
        grid = torch.roll(grid, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    hp, wp = grid.shape[1:3]
    windows = grid.view(hp // ws[0], ws[0], wp // ws[1], ws[1]).permute(0, 2, 1, 3).reshape(-1, ws[0] * ws[1])
    return windows.long().numpy() - 1


def _edges(tokens: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per window pair ``(query, key)``: flat id ``q * n + k`` and a validity mask (no padding)."""
    q, k = tokens[:, :, None], tokens[:, None, :]
    valid = (q >= 0) & (k >= 0)
    return (q * n + k), valid


def _union(ids: list[np.ndarray], size: int) -> np.ndarray:
    """Sorted unique flat ids (a flag array when it is small, else a sort)."""
    if size <= 50_000_000:
        seen = np.zeros(size, dtype=bool)
        for part in ids:
            seen[part] = True
        return np.flatnonzero(seen)
    return np.unique(np.concatenate(ids))


@contextmanager
def _recorded(model: Model, sizes: list[tuple[int, int]], weights: list[torch.Tensor]) -> Iterator[None]:
    """Record each block's input grid size; timm: also each window attention's weights."""
    from ._timm_hooks import timm_attention_hooks

    def hf_hook(_module, args, kwargs):
        dims = args[1] if len(args) > 1 else kwargs["input_dimensions"]
        sizes.append(_pair(dims))

    def timm_hook(_module, args):
        sizes.append((int(args[0].shape[1]), int(args[0].shape[2])))

    def hf_weights(_module, _args, output):
        weights.append(output[1])
        return (output[0], None) + tuple(output[2:])  # the store keeps them, not the model's output

    handles = []
    for _, block in _blocks(model):
        if _is_timm(model):
            handles.append(block.register_forward_pre_hook(timm_hook))
        else:
            handles.append(block.register_forward_pre_hook(hf_hook, with_kwargs=True))
            handles.append(block.attention.register_forward_hook(hf_weights))
    try:
        if _is_timm(model):
            with timm_attention_hooks(model, weights):
                yield
        else:
            with eager_attention(model):
                yield
    finally:
        for handle in handles:
            handle.remove()


def _check_timm(model: Model) -> None:
    if _is_timm(model) and not all(hasattr(b.attn, "fused_attn") for _, b in _blocks(model)):
        raise UnsupportedModelError(
            f"timm {type(model).__name__}: its window attention (cosine attention of SwinV2) is computed "
            "without torch's attention kernel, so multiattn cannot read it; use Hugging Face Swinv2Model"
        )


def _run(model: Model, pixel_values: torch.Tensor,
         ) -> tuple[list[torch.Tensor], list[tuple[int, int]], torch.Tensor | None]:
    _check_timm(model)
    sizes: list[tuple[int, int]] = []
    weights: list[torch.Tensor] = []
    with eval_mode(model), torch.no_grad(), _recorded(model, sizes, weights):
        if _is_timm(model):
            out = model(pixel_values)
            logits = out if getattr(model, "num_classes", 0) else None
        else:
            out = model(pixel_values=pixel_values, output_attentions=True)
            logits = getattr(out, "logits", None)
    if len(weights) != len(sizes):
        raise MultiattnRuntimeError(f"{type(model).__name__}: {len(weights)} attention tensors for "
                                    f"{len(sizes)} Swin blocks; unsupported variant")
    return weights, sizes, logits


def _stage_grid(stage: int, blocks: list, image_hw: tuple[int, int], patch: tuple[int, int],
                transform: dict, meta: dict) -> AttentionGrid:
    """One block-sparse grid over the stage's patch grid from ``[(block, (h, w), weights)]``."""
    h, w = blocks[0][1]
    n = h * w
    per_block = []
    for block, _, att in blocks:
        tokens = window_tokens(block, h, w, shift_first=meta["family"] == "timm")
        ids, valid = _edges(tokens, n)
        a = att.detach().float().cpu().numpy()  # (windows, heads, ws², ws²)
        if a.shape[0] != tokens.shape[0]:
            raise MultiattnRuntimeError(f"stage {stage}: {a.shape[0]} windows, expected {tokens.shape[0]}")
        per_block.append((ids[valid], a.transpose(1, 0, 2, 3)[:, valid]))
    union = _union([ids for ids, _ in per_block], n * n)
    values = np.zeros((len(blocks), per_block[0][1].shape[0], len(union)), dtype=np.float32)
    for layer, (ids, vals) in enumerate(per_block):
        values[layer][:, np.searchsorted(union, ids)] = vals
    edge_index = np.stack([union % n, union // n])  # key -> query
    flat = values.reshape(-1, len(union))
    sums = np.stack([np.bincount(edge_index[1], weights=row, minlength=n) for row in flat])
    lost = float(np.max(1.0 - sums))
    scale = (patch[0] * 2 ** stage, patch[1] * 2 ** stage)
    axis = PatchAxis(h, w, scale, image_hw, prefix=(), transform=transform)
    labels = [f"stage.{stage}.block.{b}" for b in range(len(blocks))]
    windows = [_pair(b.window_size) for b, _, _ in blocks]
    shifts = [_pair(b.shift_size) for b, _, _ in blocks]
    grid_meta = {**meta, "stage": stage, "window_size": windows, "shift_size": shifts,
                 "padding_mass": max(lost, 0.0),
                 "values": "window attention mapped onto the stage grid (shifts undone; block-sparse)"}
    return AttentionGrid(values, axis, layers=labels, meta=grid_meta, edge_index=edge_index,
                         check_rows=lost < 1e-4)


def _grids(model: Model, pixel_values: torch.Tensor, transform: dict, meta: dict) -> GridSet:
    weights, sizes, logits = _run(model, pixel_values)
    patch = _pair(model.patch_embed.patch_size if _is_timm(model) else model.config.patch_size)
    by_stage: dict[int, list] = {}
    for (stage, block), size, att in zip(_blocks(model), sizes, weights):
        by_stage.setdefault(stage, []).append((block, size, att))
    image_hw = tuple(int(v) for v in pixel_values.shape[-2:])
    meta = {**meta, "family": "timm" if _is_timm(model) else "hf"}
    if logits is not None and logits.ndim == 2:
        pred = int(logits[0].argmax())
        id2label = getattr(getattr(model, "config", None), "id2label", None) or {}
        meta.update(predicted=pred, predicted_label=str(id2label.get(pred, pred)))
    else:
        meta["head"] = "none (backbone: no class scores)"
    grids = {f"stage.{s}": _stage_grid(s, blocks, image_hw, patch, transform, meta)
             for s, blocks in by_stage.items()}
    return GridSet(grids, meta=meta)


def swin_capture(model: Model, image: ImageInput, *, processor: Processor = None,
                 size: int | tuple[int, int] | None = None, transform: dict | None = None) -> GridSet:
    """Window attention of every block of every stage, one block-sparse grid per stage.

    Returns
    -------
    GridSet
        ``stage.0``, ``stage.1``...: sparse ``(blocks, heads, E)`` over a PatchAxis of the stage's
        ``rows x cols`` tokens (patch size ``patch * 2**stage``); ``grid.to_dense()`` gives
        ``(blocks, heads, rows*cols, rows*cols)`` with zeros outside the windows.

    Example
    -------
    >>> gs = swin_capture(model, "cat.jpg")  # doctest: +SKIP
    >>> gs["stage.0"].query.rows, gs["stage.0"].is_sparse  # doctest: +SKIP
    (56, True)
    """
    from ._image_input import prepare_image

    pixel_values, record = prepare_image(model, image, processor, size=size, transform=transform)
    axis_transform = {k: v for k, v in record.items() if k != "preprocessed"}
    meta = {"model": type(model).__name__, "source": "multiattn.adapters.vit (swin)"}
    if "preprocessed" in record:
        meta["notes"] = [record["preprocessed"]]
    return _grids(model, pixel_values, axis_transform, meta)


def swin_prepare(model: Model, image: ImageInput, *, processor: Processor = None,
                 size: int | tuple[int, int] | None = None, transform: dict | None = None,
                 ) -> dict[str, torch.Tensor]:
    """The forward's keyword arguments (``pixel_values``; ``x`` for timm)."""
    from ._image_input import prepare_image

    pixel_values, _ = prepare_image(model, image, processor, size=size, transform=transform)
    return {"x": pixel_values} if _is_timm(model) else {"pixel_values": pixel_values}


def swin_stream(model: Model, inputs: dict[str, torch.Tensor], reducers: dict[str, Reducer]) -> list[str]:
    """Feed every block (all its windows, mapped onto its stage grid) to the reducers, one at a time.

    Each block reaches the reducers as a one-layer sparse grid named ``stage.{s}.block.{b}``.
    """
    from ..stream import feed

    pixel_values = inputs.get("x", inputs.get("pixel_values"))
    _check_timm(model)
    sizes: list[tuple[int, int]] = []
    seen: list[str] = []
    blocks = _blocks(model)
    patch = _pair(model.patch_embed.patch_size if _is_timm(model) else model.config.patch_size)
    meta = {"model": type(model).__name__, "family": "timm" if _is_timm(model) else "hf"}
    image_hw = tuple(int(v) for v in pixel_values.shape[-2:])

    class _Sink(list):
        def append(self, att: torch.Tensor) -> None:
            index = len(seen)
            stage, block = blocks[index]
            grid = _stage_grid(stage, [(block, sizes[index], att)], image_hw, patch, {}, meta)
            b = sum(1 for s, _ in blocks[:index] if s == stage)
            seen.append(f"stage.{stage}.block.{b}")
            feed(reducers, seen[-1], grid)

    sink = _Sink()
    with eval_mode(model), torch.no_grad(), _recorded(model, sizes, sink):
        if _is_timm(model):
            model(pixel_values)
        else:
            model(pixel_values=pixel_values, output_attentions=True)
    return seen
