"""The memory guard adapters call before a forward that returns every layer's attention.

The grid a capture returns is ``L × H × Q × K`` float32.  What the process holds on top of it
depends on how the layers reach the grid (``benchmarks/bench_text_memory.py`` measures both):

- written as they are made (:class:`multiattn.adapters._text_grid.LayerWriter`, text
  self-attention and the encoder / decoder / cross grids of encoder-decoders): the grid plus
  :data:`WRITTEN_LAYERS` layers of the eager softmax's temporaries (and :data:`SLACK_BYTES` for
  the allocator);
- copied from the model's ``output_attentions`` tuple after the forward (ViTs, MVP, LED):
  about :data:`PEAK_FACTOR` times the grid (the tuple, the grid, one layer's temporaries).

Both are known from the config and the input length before the forward runs, so a capture that
would not fit is refused in milliseconds, with what to do instead, rather than killed by the
operating system minutes later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch

    from .._types import Model
    from ._vit_layout import Layout

__all__ = ["PEAK_FACTOR", "SLACK_BYTES", "WRITTEN_LAYERS", "check_attention_memory", "check_image_memory",
           "layers_and_heads", "peak_bytes"]

#: Peak resident memory of a capture through the model's tuple divided by the grid's size: 2.07-2.59
#: measured on a small Llama at 512-2048 tokens (``benchmarks/bench_text_memory.py``), rounded up.
PEAK_FACTOR = 3.0
#: Layers of temporaries above the grid when layers are written as they are made: the eager
#: softmax holds two (scores and probabilities) while the grid holds the layers before it, and
#: the allocator may keep one more freed layer resident.  A small Llama (4 layers) measured 1.34×
#: the grid at 1024 and 2048 tokens, i.e. (4 + 1.4) / 4, as medians; single runs of a random BART
#: at 1024 tokens reached grid + 3.4 layers (333 MB where two layers estimated 320), so three.
WRITTEN_LAYERS = 3
#: Allocator and bookkeeping on top (the measured rise at 512 tokens: 55 MB for a 32 MB grid).
SLACK_BYTES = 32 * 2**20


def peak_bytes(grids: Sequence[tuple[int, int, int, int]], *, written: bool = False) -> int:
    """Estimated peak bytes of capturing ``grids`` ``(layers, heads, queries, keys)`` as float32.

    Example
    -------
    >>> peak_bytes([(4, 8, 1024, 1024)], written=True) / 2**20  # 128 MB grid + 3 layers + slack
    256.0
    >>> peak_bytes([(4, 8, 1024, 1024)]) / 2**20  # through the model's tuple
    384.0
    """
    grid = 4 * sum(layers * heads * q * k for layers, heads, q, k in grids)
    if not written:
        return int(grid * PEAK_FACTOR)
    layer = 4 * max((heads * q * k for _, heads, q, k in grids), default=0)
    return grid + WRITTEN_LAYERS * layer + SLACK_BYTES


def layers_and_heads(model: Model) -> tuple[int, int]:
    """``(layers, heads)`` of a Hugging Face config (its text config for composites) or a timm ViT.

    Example
    -------
    >>> from transformers import LlamaConfig, LlamaModel  # doctest: +SKIP
    >>> layers_and_heads(llama_8b)  # doctest: +SKIP
    (32, 32)
    """
    config = getattr(model, "config", None)
    if config is None and hasattr(model, "blocks"):  # timm
        blocks = list(model.blocks)
        attn = getattr(blocks[0], "attn", None) if blocks else None
        return len(blocks), int(getattr(attn, "num_heads", 0) or 0)

    def first(*names: str) -> int:
        for source in (config, getattr(config, "get_text_config", lambda: None)()):
            for name in names:
                value = getattr(source, name, None)
                if isinstance(value, int) and value > 0:
                    return value
        return 0

    return (first("num_hidden_layers", "encoder_layers", "num_layers", "n_layer", "n_layers"),
            first("num_attention_heads", "encoder_attention_heads", "num_heads", "n_head", "n_heads"))


def check_attention_memory(model: Model, grids: Sequence[tuple[int, int, int, int]], what: str,
                           advice: str, *, written: bool = False) -> None:
    """Refuse grids ``(layers, heads, queries, keys)`` whose capture would not fit, before the forward.

    ``written``: the layers are written into the grid as they are made (see :func:`peak_bytes`).

    Raises
    ------
    AttentionTooLargeError
        With the layout, the grid size, the peak and ``advice``.

    Example
    -------
    >>> check_attention_memory(model, [(32, 32, 2048, 2048)], "LlamaModel at 2048 tokens",
    ...                        "stream instead")  # doctest: +SKIP
    Traceback (most recent call last):
    AttentionTooLargeError: capturing LlamaModel at 2048 tokens (32 layers × 32 heads × 2048 × 2048 ...
    """
    from multiattn import _memory

    grid = 4 * sum(layers * heads * q * k for layers, heads, q, k in grids)
    peak = peak_bytes(grids, written=written)
    shapes = " + ".join(f"{layers} layers × {heads} heads × {q} × {k}" for layers, heads, q, k in grids)
    _memory.check_fits(peak, (
        f"capturing {what} ({shapes}, float32: {_memory.human(grid)}, peak ~{peak / max(grid, 1):.2f}×)"),
        advice=advice)


def check_image_memory(model: Model, layout: Layout, pixel_values: torch.Tensor) -> None:
    """The guard for a ViT capture: prefix tokens + patches of ``pixel_values`` ``(1, 3, H, W)``.

    Example
    -------
    >>> check_image_memory(vit, layout_of(vit), pixels)  # doctest: +SKIP
    """
    if pixel_values.dim() != 4:  # pre-patchified input (SigLIP2 NaFlex): (1, N, p*p*3)
        n_tokens = len(layout.prefix) + int(pixel_values.shape[1])
    else:
        (ph, pw), (height, width) = layout.patch_size, pixel_values.shape[-2:]
        n_tokens = len(layout.prefix) + (int(height) // ph) * (int(width) // pw)
    layers, heads = layers_and_heads(model)
    check_attention_memory(model, [(layers, heads, n_tokens, n_tokens)],
                           f"{type(model).__name__} at {n_tokens} tokens", advice=(
        "Stream summaries instead of the full grid: multiattn.capture_stream(model, image, "
        "{'rollout': multiattn.stream.RolloutReducer()}, processor=processor) keeps one layer at a "
        "time; or capture a smaller image (size=...)"))
