"""Image-text dual encoders: attention capture, relevance both ways, word grounding.

Hugging Face ``CLIPModel``, ``SiglipModel`` / ``Siglip2Model`` (no CLS: the image map mixes the
relevance rows by the attention-pooling head's weights; the text reads out at the last
position), ``ChineseCLIPModel`` / ``AltCLIPModel`` / ``VisionTextDualEncoderModel`` (text read
out at CLS).  Images may be ``(1, 3, H, W)`` pixel tensors the caller preprocessed.

Three entry points, all on a model + its ``CLIPProcessor``:

- :func:`capture` -- the vision tower's self-attention over a
  :class:`~multiattn.PatchAxis` (CLS first, resize / crop recorded) and the text tower's
  causal self-attention over a :class:`~multiattn.TokenAxis` per caption (the end-of-text
  position, whose state becomes the text embedding, is ``grid.meta["eot_index"]``).
- :func:`relevance` -- for each (image, text) pair, Chefer et al. (2021) relevance of the
  pair's similarity logit through *both* towers: an image map over patches (the CLS row of
  the vision relevance) and a token map over the caption (the end-of-text row of the text
  relevance).  One image with several texts, several images with one text, or equal-length
  lists paired element-wise.
- :func:`word_grounding` -- one image map per word of a caption (method in its docstring).

The towers run on eager attention (restored afterwards) so the attention weights are
materialised and sit in the autograd graph; gradients are taken with respect to them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..analysis.relevance import chefer_relevance
from ..grid import AttentionGrid, AttentionMap
from ..gridset import GridSet
from . import _clip_io as _io
from ._clip_words import CaptionGrounding, WordGrounding, word_grounding
from ._hf import eager_attention, eval_mode

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from .._types import ImageInput, Model, Processor

__all__ = [
    "PairRelevance",
    "WordGrounding",
    "CaptionGrounding",
    "capture",
    "prepare",
    "relevance",
    "word_grounding",
    "caption_grounding",
]


@dataclass(frozen=True)
class PairRelevance:
    """Relevance of one (image, text) pair.

    Attributes
    ----------
    image_map : AttentionMap
        Over the PatchAxis; the CLS row of the vision relevance (CLS entry set to 0).
    text_map : AttentionMap
        Over the TokenAxis; the end-of-text row of the text relevance (special tokens set to 0).
    logit : float
        The explained similarity logit ``logit_scale * cos(image, text)``.
    image_index, text_index : int
        Positions of the pair's image and text in the inputs.
    caption : str
        The text.
    """

    image_map: AttentionMap
    text_map: AttentionMap
    logit: float
    image_index: int
    text_index: int
    caption: str


# -- public API --------------------------------------------------------------------------
def capture(model: Model, inputs: tuple[ImageInput, str | Sequence[str]], *,
            processor: Processor = None) -> GridSet:
    """Self-attention of both towers for one image and one or several captions.

    Parameters
    ----------
    model : transformers.CLIPModel
    inputs : (image, texts)
        The image (path, PIL image or array: anything :func:`multiattn.media.to_rgb`
        accepts) and one caption or a sequence of captions (each non-empty and within the
        text context).
    processor : transformers.CLIPProcessor
        Required.  Its image processor's resize / crop is recorded on the PatchAxis.

    Returns
    -------
    GridSet
        ``vision`` ``(L, H, 1 + rows*cols, same)`` and one causal grid per caption,
        ``text.0``, ``text.1``... (``gs.group("text")``), each with ``meta["eot_index"]``;
        ``gs.meta["logits"]``: the image's similarity logit with each caption.

    Example
    -------
    >>> model, processor = load_tiny_clip()  # doctest: +SKIP
    >>> att = capture(model, (scene.image, ["a red circle"]), processor=processor)  # doctest: +SKIP
    >>> att.vision.shape, att["text.0"].shape, att["text.0"].meta["eot_index"]  # doctest: +SKIP
    ((4, 4, 65, 65), (2, 4, 9, 9), 8)
    """
    image, texts = _io.image_and_texts(inputs)
    _io.check_model(model)
    _io.check_processor(processor)
    texts = _io.check_texts(texts)
    text_inputs, token_axes = _io.tokenize(model, processor, texts)
    pixel_inputs, transforms = _io.pixels(processor, [image])
    patch_axis = _io.patch_axis(model, pixel_inputs, transforms[0])
    eots = _io.eot_positions(model, text_inputs["input_ids"])
    with torch.no_grad(), eval_mode(model), eager_attention(model):
        image_emb, text_emb, vis_att, txt_att, _ = _io.towers(model, pixel_inputs, text_inputs)
        logits = _io.logits(model, image_emb, text_emb)[0].float().numpy()
    layers_v = [f"vision.{i}" for i in range(len(vis_att))]
    vision = AttentionGrid(_io.stack(vis_att, 0, len(patch_axis)), patch_axis, layers=layers_v,
                           meta=_io.meta(model, tower="vision"), normalize=False)
    text_grids = []
    for row, (axis, eot, text) in enumerate(zip(token_axes, eots, texts)):
        layers_t = [f"text.{i}" for i in range(len(txt_att))]
        text_grids.append(AttentionGrid(
            _io.stack(txt_att, row, len(axis)), axis, layers=layers_t,
            meta=_io.meta(model, tower="text", causal=True, eot_index=int(eot), text=text),
        ))
    grids = {"vision": vision, **{f"text.{i}": grid for i, grid in enumerate(text_grids)}}
    return GridSet(grids, meta={**_io.meta(model), "captions": list(texts),
                                "logits": [float(v) for v in logits]})


def prepare(model: Model, inputs: tuple[ImageInput, str | Sequence[str]], *,
            processor: Processor = None) -> dict[str, torch.Tensor]:
    """The forward pass's keyword arguments: ``pixel_values``, ``input_ids``, ``attention_mask``.

    Example
    -------
    >>> sorted(prepare(model, ("cat.jpg", ["a cat", "a dog"]), processor=processor))  # doctest: +SKIP
    ['attention_mask', 'input_ids', 'pixel_values']
    """
    image, texts = _io.image_and_texts(inputs)
    _io.check_model(model)
    _io.check_processor(processor)
    text_inputs, _ = _io.tokenize(model, processor, _io.check_texts(texts))
    pixel_inputs, _ = _io.pixels(processor, [image])
    return {**pixel_inputs, "input_ids": text_inputs["input_ids"],
            "attention_mask": text_inputs["attention_mask"]}


def relevance(
    model: Model,
    inputs: tuple[ImageInput | Sequence[ImageInput], str | Sequence[str]],
    *,
    processor: Processor = None,
    start_layer: int = 0,
    text_start_layer: int = 0,
) -> list[PairRelevance]:
    """Chefer relevance of each (image, text) similarity logit through both towers.

    For the pair's logit ``s = logit_scale * cos(v(image), t(text))`` the gradients
    ``ds/dA`` of every attention matrix of both towers are taken;
    :func:`multiattn.analysis.relevance.chefer_relevance` accumulates
    ``R += mean_h((dA * A)^+) @ R`` per tower.  The image map is the CLS row of the vision
    relevance, the token map the end-of-text row of the text relevance.

    Parameters
    ----------
    model : transformers.CLIPModel
    inputs : (images, texts)
        One image (path, PIL, array) or a list, and one caption or a list.  Pairs: one
        image x all texts, all images x one text, or equally many of both paired in order.
    processor : transformers.CLIPProcessor
        Required.
    start_layer, text_start_layer : int
        First layer accumulated in the vision / text tower (negative counts from the end).
        The default ``0`` accumulates every layer, as Chefer et al.'s ``generate_relevance``
        does for ViTs; their CLIP notebook (Transformer-MM-Explainability, ``CLIP_explainability``)
        starts at the last layer: pass ``start_layer=-1, text_start_layer=-1`` to reproduce its
        figures.  All layers give smoother, more complete maps; the last layer alone is sharper
        and closer to what the final similarity reads.

    Returns
    -------
    list of PairRelevance
        One per pair, in pair order.

    Raises
    ------
    ValueError
        Not a CLIPModel, no text, an empty caption, a caption longer than the text
        context, or mismatched numbers of images and texts.

    Example
    -------
    >>> pairs = relevance(model, (image, ["a red circle", "a blue"]), processor=processor)  # doctest: +SKIP
    >>> pairs[0].image_map.to_image().shape, len(pairs[0].text_map)  # doctest: +SKIP
    ((8, 8), 5)
    """
    images, texts = _io.image_and_texts(inputs)
    _io.check_model(model)
    _io.check_processor(processor)
    texts = _io.check_texts(texts)
    images = _io.as_list(images, "image")
    pairs = _io.pairs(len(images), len(texts))
    text_inputs, token_axes = _io.tokenize(model, processor, texts)
    pixel_inputs, transforms = _io.pixels(processor, images)
    patch_axes = [_io.patch_axis(model, pixel_inputs, t, i) for i, t in enumerate(transforms)]
    eots = _io.eot_positions(model, text_inputs["input_ids"])
    out = []
    with _io.differentiable(model):
        image_emb, text_emb, vis_att, txt_att, probe = _io.towers(model, pixel_inputs, text_inputs)
        logits = _io.logits(model, image_emb, text_emb)
        for i, j in pairs:
            grads = torch.autograd.grad(logits[i, j], vis_att + txt_att, retain_graph=True)
            n_tok, n_img = len(token_axes[j]), len(patch_axes[i])
            r_img = chefer_relevance(_io.stack(vis_att, i, n_img), _io.stack(grads[: len(vis_att)], i, n_img),
                                     start_layer)
            r_txt = chefer_relevance(_io.stack(txt_att, j, n_tok), _io.stack(grads[len(vis_att):], j, n_tok),
                                     text_start_layer)
            image_values, row = _io.image_readout(np.asarray(r_img), patch_axes[i], probe, i)
            text_values = r_txt[eots[j]].copy()
            text_values[token_axes[j].special_mask] = 0.0
            meta = _io.meta(model, method="chefer", logit=logits[i, j].item(), caption=texts[j])
            zeroed = ", ".join(patch_axes[i].prefix) or "nothing"
            out.append(PairRelevance(
                AttentionMap(image_values, patch_axes[i], {**meta, "row": row, "zeroed": zeroed}),
                AttentionMap(text_values, token_axes[j],
                             {**meta, "row": "end-of-text", "zeroed": "special tokens"}),
                logits[i, j].item(), i, j, texts[j],
            ))
    return out


def caption_grounding(
    model: Model, inputs: tuple[ImageInput, str], *, processor: Processor = None,
    alternatives: Mapping[str, Sequence[str]] | None = None, start_layer: int = 0,
) -> CaptionGrounding:
    """:func:`relevance` of the (image, caption) pair and :func:`word_grounding` of every word.

    The inputs of :func:`multiattn.renderers.crossmodal.side_by_side`: ``word_matrix()`` as
    the weights, ``word_axis`` as the query axis, ``word_relevance()`` as token weights and
    ``pair.image_map.values`` as the map drawn on the image.

    Example
    -------
    >>> g = caption_grounding(model, (scene.image, scene.caption), processor=processor)  # doctest: +SKIP
    >>> g.word_matrix().shape, g.word_relevance().shape  # doctest: +SKIP
    ((7, 65), (7,))
    """
    (pair,) = relevance(model, inputs, processor=processor, start_layer=start_layer)
    words = word_grounding(model, inputs, processor=processor, alternatives=alternatives,
                           start_layer=start_layer)
    return CaptionGrounding(pair, words)
