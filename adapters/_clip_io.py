"""CLIP inputs and the two towers' forward: checks, tokenising, pixels, embeddings + attention."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import torch

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ..axes import PatchAxis, TokenAxis
from ._hf import eager_attention, eval_mode, require_attentions
from .text import clean_token

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ImageInput, Model, Processor

_Image = TypeVar("_Image")
_Texts = TypeVar("_Texts")

__all__ = [
    "as_list", "check_model", "check_processor", "check_texts", "differentiable", "eot_positions",
    "image_and_texts", "meta", "pairs", "patch_axis", "pixels", "stack", "tokenize", "towers",
]


# -- checks -------------------------------------------------------------------------------
def image_and_texts(inputs: tuple[_Image, _Texts]) -> tuple[_Image, _Texts]:
    """Split ``(image, texts)``; anything else gets an error that shows the expected shape."""
    if isinstance(inputs, (tuple, list)) and len(inputs) == 2:
        return inputs[0], inputs[1]
    raise MultiattnTypeError(
        "image-text inputs must be a pair (image, captions), e.g. (\"photo.jpg\", [\"a cat\", \"a dog\"]); "
        f"got {type(inputs).__name__}"
    )


def check_processor(processor: Processor) -> None:
    if processor is None:
        raise MultiattnValueError(
            "CLIP needs its processor (tokenizer + image processor): pass processor=...; "
                         "multiattn.load_model(...) returns it with the model")


def check_model(model: Model) -> None:
    needed = ("vision_model", "text_model", "visual_projection", "text_projection", "logit_scale")
    missing = [name for name in needed if not hasattr(model, name)]
    if not missing and getattr(model.vision_model.embeddings, "class_embedding", None) is None:
        missing.append("vision_model.embeddings.class_embedding")
    if missing:
        raise MultiattnValueError(
            f"{type(model).__name__} is not a Hugging Face CLIPModel (missing {', '.join(missing)}); "
            "load one with transformers.CLIPModel.from_pretrained(...) or use "
            "multiattn.load_model('tiny-clip')"
        )


def as_list(value: object, what: str) -> list:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        return [value]
    if len(value) == 0:
        raise MultiattnValueError(f"no {what} given: pass at least one")
    return list(value)


def check_texts(texts: object) -> list[str]:
    if texts is None:
        raise MultiattnValueError("no text given: pass a caption or a list of captions")
    out = as_list(texts, "text")
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise MultiattnValueError(f"text {i} must be a string, got {type(text).__name__}")
        if not text.strip():
            raise MultiattnValueError(f"text {i} is empty; give every caption at least one word")
    return out


def pairs(n_images: int, n_texts: int) -> list[tuple[int, int]]:
    if n_images == 1 or n_texts == 1 or n_images == n_texts:
        n = max(n_images, n_texts)
        return [(0 if n_images == 1 else k, 0 if n_texts == 1 else k) for k in range(n)]
    raise MultiattnValueError(
        f"mismatched batch sizes: {n_images} images and {n_texts} texts; pass one image with "
        "several texts, several images with one text, or equally many of both (paired in order)"
    )


# -- inputs ------------------------------------------------------------------------------
def tokenize(model: Model, processor: Processor, texts: list[str],
             ) -> tuple[dict[str, torch.Tensor], list[TokenAxis]]:
    tokenizer = getattr(processor, "tokenizer", processor)
    fast = bool(getattr(tokenizer, "is_fast", False))
    enc = tokenizer(texts, padding=True, return_tensors="pt", return_offsets_mapping=fast)
    limit = int(model.config.text_config.max_position_embeddings)
    lengths = enc["attention_mask"].sum(1).tolist()
    for text, n in zip(texts, lengths):
        if n > limit:
            raise MultiattnValueError(
                f"caption {text[:40]!r}... has {n} tokens but the text encoder holds at most {limit} "
                "(max_position_embeddings); shorten the caption"
            )
    special_ids = set(tokenizer.all_special_ids)
    axes = []
    for row, n in enumerate(lengths):
        ids = enc["input_ids"][row, :n].tolist()
        labels = [clean_token(t).replace("</w>", "") for t in tokenizer.convert_ids_to_tokens(ids)]
        spans = enc["offset_mapping"][row, :n].tolist() if fast else None
        axes.append(TokenAxis(labels, [i in special_ids for i in ids], spans))
    inputs = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}
    return inputs, axes


def eot_positions(model: Model, input_ids: torch.Tensor) -> list[int]:
    """Where the text tower pools (the same rule as ``CLIPTextTransformer``)."""
    eos = model.text_model.config.eos_token_id
    if eos == 2:  # legacy checkpoints pool at the highest token id
        return input_ids.argmax(-1).tolist()
    return (input_ids == eos).int().argmax(-1).tolist()


def pixels(processor: Processor, images: list[ImageInput]) -> tuple[torch.Tensor, list[dict]]:
    from ..media import to_rgb
    from ._image_input import run_image_processor

    image_processor = getattr(processor, "image_processor", processor)
    batch = [run_image_processor(image_processor, to_rgb(image)) for image in images]
    return torch.cat([pv for pv, _ in batch]), [t for _, t in batch]


def patch_axis(model: Model, pixel_values: torch.Tensor, transform: dict) -> PatchAxis:
    patch = int(model.config.vision_config.patch_size)
    h, w = pixel_values.shape[-2:]
    return PatchAxis(h // patch, w // patch, patch, (h, w), prefix=("CLS",),
                     transform={k: v for k, v in transform.items() if v is not None})


@contextmanager
def differentiable(model: Model) -> Iterator[None]:
    """Eager attention, eval mode, gradients on (parameters may be frozen by the caller)."""
    frozen = [p for p in model.parameters() if not p.requires_grad]
    with eval_mode(model):
        try:
            for p in frozen:
                p.requires_grad_(True)
            with eager_attention(model), torch.enable_grad():
                yield
        finally:
            for p in frozen:
                p.requires_grad_(False)


def towers(model: Model, pixel_values: torch.Tensor, text_inputs: dict[str, torch.Tensor],
           ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Normalised embeddings and attention tuples of both towers (inside the graph)."""
    vis = model.vision_model(pixel_values=pixel_values, output_attentions=True)
    txt = model.text_model(**text_inputs, output_attentions=True)
    vis_att = require_attentions(vis.attentions, "vision", model)
    txt_att = require_attentions(txt.attentions, "text", model)
    image_emb = model.visual_projection(vis.pooler_output)
    text_emb = model.text_projection(txt.pooler_output)
    image_emb = image_emb / image_emb.norm(dim=-1, keepdim=True)
    text_emb = text_emb / text_emb.norm(dim=-1, keepdim=True)
    return image_emb, text_emb, vis_att, txt_att


def meta(model: Model, **extra: Any) -> dict:  # extra: any meta values
    return {"model": str(getattr(model.config, "name_or_path", "") or type(model).__name__), **extra}


def stack(attentions: Sequence[torch.Tensor], row: int, n: int | None = None) -> np.ndarray:
    arr = torch.stack([a[row] for a in attentions]).detach().float().numpy()
    return arr if n is None else arr[:, :, :n, :n]
