"""Word grounding: one image map per word of a caption, by counterfactual word contribution."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from .._index import select_named
from ..analysis.relevance import chefer_relevance
from ..axes import TokenAxis
from ..grid import AttentionMap
from . import _clip_io as _io

if TYPE_CHECKING:  # pragma: no cover
    from .._types import ImageInput, Model, Processor
    from .clip import PairRelevance

__all__ = ["CaptionGrounding", "WordGrounding", "word_grounding"]


@dataclass(frozen=True)
class WordGrounding:
    """Where one word of a caption is in the image.

    Attributes
    ----------
    word : str
        The word as written in the caption.
    char_span : (start, end)
        Its characters in the caption.
    image_map : AttentionMap
        Relevance over the PatchAxis (CLS entry 0) of the word's share of the logit.
    contribution : float
        ``logit(image, caption) - mean logit(image, counterfactual captions)`` (the word
        deleted, or replaced by an alternative).
    """

    word: str
    char_span: tuple[int, int]
    image_map: AttentionMap
    contribution: float
    meta: dict = field(default_factory=dict)


def _words(caption: str) -> list[tuple[str, tuple[int, int]]]:
    return [(m.group(), m.span()) for m in re.finditer(r"\S+", caption)]


def _counterfactuals(caption: str, word: str, span: tuple[int, int],
                     alternatives: Mapping[str, Sequence[str]] | None) -> list[str]:
    """The caption with ``word`` deleted, then with it replaced by each alternative."""
    start, end = span
    out = [" ".join((caption[:start] + caption[end:]).split())]
    for alt in (alternatives or {}).get(word, ()):
        if not isinstance(alt, str) or not alt.strip():
            raise MultiattnValueError(f"alternatives for {word!r} must be non-empty strings, got {alt!r}")
        if alt != word:
            out.append(caption[:start] + alt + caption[end:])
    return out


def word_grounding(
    model: Model,
    inputs: tuple[ImageInput, str],
    *,
    processor: Processor = None,
    words: Sequence[str] | None = None,
    alternatives: Mapping[str, Sequence[str]] | None = None,
    start_layer: int = 0,
) -> list[WordGrounding]:
    """One image map per word of a caption: relevance of the word's share of the similarity.

    Method (counterfactual word contribution): let ``t`` be the normalised text embedding
    of the caption and ``t_cf`` the mean normalised embedding of its counterfactuals for
    word ``w`` -- the caption with ``w`` deleted, plus the caption with ``w`` replaced by
    each of ``alternatives[w]`` when given.  The word's share of the logit is
    ``s_w = logit_scale * <v(image), t - t_cf>`` = ``logit(caption) - mean logit(counterfactuals)``.
    Text embeddings are held fixed, so ``s_w`` depends on the image only through the vision
    tower; its Chefer relevance (CLS row) is the word's map.  It shows the image evidence
    that makes the caption *with* the word fit better than without it (or than with another
    colour / shape) -- for "red" in "a red circle and a blue square", the red object.  Unlike
    a gradient with respect to the word's input embedding (one number per token, not a map),
    this explains the image side; unlike scoring the word on its own, the word keeps its
    caption context.  A word whose counterfactuals score like the caption gets a weak, noisy
    map; ``contribution`` says how much the word mattered.  Replacements make a sharper
    contrast than deletion alone (on the tiny CLIP the pointing game rises from 0.84 to 0.9).

    Parameters
    ----------
    model : transformers.CLIPModel
    inputs : (image, caption)
        The image (path, PIL image or array) and one caption; words are
        whitespace-separated (punctuation stays with its word).
    processor : transformers.CLIPProcessor
        Required.
    words : sequence of str, optional
        Ground only these words (each must occur in the caption); default all words.
    alternatives : mapping of str to sequence of str, optional
        Replacement words per word (e.g. the other colours for a colour word), used as extra
        counterfactuals; words not in the mapping are contrasted with their deletion only.
        :func:`multiattn.zoo.word_alternatives` gives them for the tiny CLIP.
    start_layer : int
        First vision layer accumulated by Chefer relevance.

    Returns
    -------
    list of WordGrounding
        In caption order.

    Example
    -------
    >>> maps = word_grounding(model, (image, "a red circle"), processor=processor)  # doctest: +SKIP
    >>> [(g.word, g.image_map.to_image().shape) for g in maps][:2]  # doctest: +SKIP
    [('a', (8, 8)), ('red', (8, 8))]
    """
    image, caption = _io.image_and_texts(inputs)
    _io.check_model(model)
    _io.check_processor(processor)
    if not isinstance(caption, str):
        raise MultiattnTypeError(f"word_grounding explains one caption (a str), got {type(caption).__name__}")
    (caption,) = _io.check_texts([caption])
    all_words = _words(caption)
    if len(all_words) < 2:
        raise MultiattnValueError(
            f"caption {caption!r} has one word: deleting it leaves no text to compare with; "
            "use relevance() for single-word captions"
        )
    chosen = all_words if words is None else select_named(
        all_words, words, "word", message="words {missing} do not occur in the caption " + repr(caption))
    counterfactuals = [_counterfactuals(caption, word, span, alternatives) for word, span in chosen]
    flat = [text for group in counterfactuals for text in group]
    text_inputs, _ = _io.tokenize(model, processor, [caption, *flat])
    bounds = np.cumsum([1] + [len(group) for group in counterfactuals])
    pixel_inputs, transforms = _io.pixels(processor, [image])
    patch_axis = _io.patch_axis(model, pixel_inputs, transforms[0])
    n_img = len(patch_axis)
    out = []
    with _io.differentiable(model):
        with torch.no_grad():
            text_emb, _ = _io.text_features(model, text_inputs)
        image_emb, vis_att, probe = _io.image_features(model, pixel_inputs)
        scale = model.logit_scale.exp()
        attn = _io.stack(vis_att, 0, n_img)
        for k, (word, span) in enumerate(chosen):
            contrast = text_emb[0] - text_emb[bounds[k] : bounds[k + 1]].mean(0)
            share = scale * (image_emb[0] @ contrast)  # a logit difference: SigLIP's bias cancels
            grads = torch.autograd.grad(share, vis_att, retain_graph=True)
            relevance = np.asarray(chefer_relevance(attn, _io.stack(grads, 0, n_img), start_layer))
            values, row = _io.image_readout(relevance, patch_axis, probe, 0)
            meta = _io.meta(model, method="counterfactual word contribution + chefer", word=word,
                            caption=caption, counterfactuals=counterfactuals[k], row=row,
                            zeroed=", ".join(patch_axis.prefix) or "nothing")
            out.append(WordGrounding(word, span, AttentionMap(values, patch_axis, meta), share.item(), meta))
    return out


@dataclass(frozen=True)
class CaptionGrounding:
    """A caption explained on one image: pair relevance plus one map per word.

    Attributes
    ----------
    pair : PairRelevance
        Chefer relevance of the caption's logit (image map and token map).
    words : list of WordGrounding
        One per word, in caption order.
    """

    pair: PairRelevance
    words: list[WordGrounding]

    @property
    def word_axis(self) -> TokenAxis:
        """The words as a TokenAxis (labels = words, char spans in the caption)."""
        return TokenAxis([w.word for w in self.words], char_spans=[w.char_span for w in self.words])

    def word_matrix(self) -> np.ndarray:
        """``(n_words, n_patch_positions)``: row ``k`` is word ``k``'s image map."""
        return np.stack([w.image_map.values for w in self.words])

    def word_relevance(self) -> np.ndarray:
        """``(n_words,)``: the pair's token relevance summed over each word's tokens.

        Tokens are matched to words by character span (fast tokenizers); without spans the
        words' ``contribution`` (positive part) is returned instead.
        """
        axis = self.pair.text_map.axis
        if axis.char_spans is None:
            return np.clip([w.contribution for w in self.words], 0, None)
        values = self.pair.text_map.values
        return np.array([
            sum(float(v) for v, (a, b) in zip(values, axis.char_spans) if b > a and a >= s and b <= e)
            for s, e in (w.char_span for w in self.words)
        ])
