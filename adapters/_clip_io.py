"""Dual-encoder inputs and the two towers' forward: checks, tokenising, pixels, embeddings + attention.

One code path for CLIP, SigLIP / SigLIP2, Chinese-CLIP, AltCLIP and VisionTextDualEncoder: the
towers run through the model's own ``get_image_features`` / ``get_text_features`` (projected
embeddings + attentions), the logit is ``logit_scale.exp() * cos + logit_bias`` (SigLIP's bias).
Where each tower reads out (:func:`eot_positions`, :func:`image_readout`) is the family's rule.
"""

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
    "image_and_texts", "image_readout", "logits", "meta", "pairs", "patch_axis", "pixels", "stack",
    "tokenize", "towers",
]

#: Text towers that pool the last position (SigLIP: padded to a fixed length, last token pooled).
_LAST_TOKEN = ("siglip", "siglip2")
#: Text towers that pool at the highest token id (OWL-ViT's CLIP-style end-of-text rule).
_ARGMAX = ("owlvit", "owlv2")
#: Text towers that pool the first position (BERT / RoBERTa: CLS).
_FIRST_TOKEN = ("chinese_clip", "altclip", "vision-text-dual-encoder")


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
    needed = ("vision_model", "text_model", "get_image_features", "get_text_features", "logit_scale")
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise MultiattnValueError(
            f"{type(model).__name__} is not a Hugging Face image-text dual encoder (missing "
            f"{', '.join(missing)}); supported: CLIPModel, SiglipModel, Siglip2Model, ChineseCLIPModel, "
            "AltCLIPModel, VisionTextDualEncoderModel, or multiattn.load_model('tiny-clip')"
        )


def family(model: Model) -> str:
    """The dual encoder's ``model_type`` (``clip``, ``siglip``, ``chinese_clip``...)."""
    return str(getattr(model.config, "model_type", "clip"))


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
    limit = int(model.config.text_config.max_position_embeddings)
    # SigLIP pools the last position of a fixed-length row (trained with padding="max_length"):
    # pad to that length so a caption's logit does not depend on the other captions of the batch
    padding = {"padding": "max_length", "max_length": limit} if family(model) in _LAST_TOKEN \
        else {"padding": True}
    enc = tokenizer(texts, return_tensors="pt", return_offsets_mapping=fast, **padding)
    if "attention_mask" not in enc:
        enc["attention_mask"] = torch.ones_like(enc["input_ids"])
    lengths = enc["attention_mask"].sum(1).tolist()
    if family(model) in _LAST_TOKEN:  # the pooled last position may be padding: keep the whole row
        lengths = [enc["input_ids"].shape[1]] * len(texts)
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
    """Where the text tower pools: CLIP's end-of-text rule, SigLIP's last position, BERT's CLS."""
    if family(model) in _LAST_TOKEN:
        return [input_ids.shape[1] - 1] * input_ids.shape[0]
    if family(model) in _FIRST_TOKEN:
        return [0] * input_ids.shape[0]
    eos = model.text_model.config.eos_token_id
    if eos == 2 or family(model) in _ARGMAX:  # legacy checkpoints pool at the highest token id
        return input_ids.argmax(-1).tolist()
    return (input_ids == eos).int().argmax(-1).tolist()


def _one_image(image_processor: Processor, image: ImageInput) -> tuple[dict, dict]:
    from ..media import to_rgb
    from ._image_input import run_image_processor

    if isinstance(image, torch.Tensor):
        x = image[None] if image.ndim == 3 else image
        if x.ndim != 4 or x.shape[:2] != (1, 3):
            raise MultiattnValueError(
                f"pixel tensor must be (1, 3, H, W) or (3, H, W), got {tuple(image.shape)}")
        h, w = (int(v) for v in x.shape[-2:])
        return {"pixel_values": x.float()}, {"original_size": (h, w), "resize": (h, w), "crop": None}
    rgb = to_rgb(image)
    if "spatial_shapes" in getattr(image_processor, "model_input_names", ()):  # SigLIP2 NaFlex
        out = image_processor(images=rgb, return_tensors="pt")
        rows, cols = (int(v) for v in out["spatial_shapes"][0])
        patch = int(image_processor.patch_size)
        resized = (rows * patch, cols * patch)
        return dict(out), {"original_size": rgb.shape[:2], "resize": resized, "crop": None}
    pixel_values, transform = run_image_processor(image_processor, rgb)
    return {"pixel_values": pixel_values}, transform


def pixels(processor: Processor, images: list[ImageInput]) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """The vision tower's keyword arguments for a batch of images, and each image's transform.

    Images are files / PIL / arrays (run through the processor) or ``(1, 3, H, W)`` pixel
    tensors the caller preprocessed (used as is; their transform is the identity).
    """
    image_processor = getattr(processor, "image_processor", processor)
    batch = [_one_image(image_processor, image) for image in images]
    keys = batch[0][0].keys()
    if any(b[0].keys() != keys or b[0]["pixel_values"].shape != batch[0][0]["pixel_values"].shape
           for b in batch):
        raise MultiattnValueError("images of one batch must give pixel tensors of one shape; "
                                  "pass them through the processor or one at a time")
    inputs = {k: torch.cat([b[0][k] for b in batch]) for k in keys}
    return inputs, [t for _, t in batch]


def patch_axis(model: Model, pixel_inputs: dict[str, torch.Tensor] | torch.Tensor, transform: dict,
               index: int = 0) -> PatchAxis:
    """The PatchAxis of image ``index``: the vision tower's prefix (CLS or none) and patch grid."""
    from ._vit_layout import layout_of

    layout = layout_of(model.vision_model)
    pixel_values = pixel_inputs["pixel_values"] if isinstance(pixel_inputs, dict) else pixel_inputs
    patch = layout.patch_size
    if isinstance(pixel_inputs, dict) and "spatial_shapes" in pixel_inputs:
        rows, cols = (int(v) for v in pixel_inputs["spatial_shapes"][index])
        h, w = rows * patch[0], cols * patch[1]
    else:
        h, w = (int(v) for v in pixel_values.shape[-2:])
    return PatchAxis(h // patch[0], w // patch[1], patch, (h, w), prefix=layout.prefix,
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


@contextmanager
def _pooling_probe(model: Model, store: list) -> Iterator[None]:
    """SigLIP's attention-pooling head: record its probe's weights over the patches ``(B, 1, N)``."""
    head = getattr(model.vision_model, "head", None)
    attention = getattr(head, "attention", None)
    if not isinstance(attention, torch.nn.MultiheadAttention):
        yield
        return

    def hook(_module, _args, output):
        store.append(output[1])

    handle = attention.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def image_features(model: Model, pixel_inputs: dict[str, torch.Tensor],
                   ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """Normalised image embeddings, vision attentions and (SigLIP) the pooling probe's weights."""
    probe: list[torch.Tensor] = []
    with _pooling_probe(model, probe):
        vis = model.get_image_features(**pixel_inputs, output_attentions=True)
    emb = vis.pooler_output
    return emb / emb.norm(dim=-1, keepdim=True), require_attentions(vis.attentions, "vision", model), \
        (probe[0] if probe else None)


def text_features(model: Model, text_inputs: dict[str, torch.Tensor],
                  ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Normalised text embeddings and the text tower's attentions."""
    inputs = dict(text_inputs)
    if family(model) in _LAST_TOKEN:  # SigLIP's text tower is trained without a padding mask
        inputs.pop("attention_mask", None)
    txt = model.get_text_features(**inputs, output_attentions=True)
    emb = txt.pooler_output
    return emb / emb.norm(dim=-1, keepdim=True), require_attentions(txt.attentions, "text", model)


def towers(model: Model, pixel_inputs: dict[str, torch.Tensor], text_inputs: dict[str, torch.Tensor],
           ) -> tuple[torch.Tensor, torch.Tensor, list, list, torch.Tensor | None]:
    """Normalised embeddings, attention tuples of both towers (inside the graph), pooling probe."""
    image_emb, vis_att, probe = image_features(model, pixel_inputs)
    text_emb, txt_att = text_features(model, text_inputs)
    return image_emb, text_emb, vis_att, txt_att, probe


def logits(model: Model, image_emb: torch.Tensor, text_emb: torch.Tensor) -> torch.Tensor:
    """``(images, texts)`` similarity logits as the model computes them (SigLIP adds its bias)."""
    out = model.logit_scale.exp() * image_emb @ text_emb.T
    bias = getattr(model, "logit_bias", None)
    return out if bias is None else out + bias


def image_readout(relevance: np.ndarray, axis: PatchAxis, probe: torch.Tensor | None, index: int,
                  ) -> tuple[np.ndarray, str]:
    """The image map from a vision relevance ``(N, N)``: the CLS row, or (no CLS) the pooling probe's mix.

    SigLIP pools with one learned query attending over the patches; its weights combine the rows.
    """
    if axis.n_prefix:
        values = relevance[0].copy()
        values[: axis.n_prefix] = 0.0
        return values, axis.prefix[0]
    n = len(axis)
    if probe is None:
        return relevance[:n].mean(0), "mean of all patch rows (no CLS token)"
    weights = probe[index, 0, :n].detach().float().cpu().numpy()
    return weights @ relevance[:n], "rows mixed by the attention-pooling head's weights (no CLS token)"


def meta(model: Model, **extra: Any) -> dict:  # extra: any meta values
    return {"model": str(getattr(model.config, "name_or_path", "") or type(model).__name__), **extra}


def stack(attentions: Sequence[torch.Tensor], row: int, n: int | None = None) -> np.ndarray:
    arr = torch.stack([a[row] for a in attentions]).detach().float().numpy()
    return arr if n is None else arr[:, :, :n, :n]
