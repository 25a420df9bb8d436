"""Tiny CLIP: synthetic two-shape scenes with captions, tokenizer, config and default loader.

Every scene holds two non-overlapping objects of *different* colour and *different*
shape on a noisy grey background, captioned ``"a red circle and a blue square"``.
Because no colour or shape word names both objects, each content word points at
exactly one object, whose pixel mask is returned: the ground truth of the pointing
game in ``benchmarks/bench_clip.py``.

The model (a Hugging Face ``CLIPModel`` with a small config) is trained by
``multiattn/zoo/train_tiny_clip.py``; its weights live in
``multiattn/media_samples/clip/tiny_clip.safetensors``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

__all__ = [
    "COLOURS",
    "SHAPES",
    "IMAGE_SIZE",
    "Scene",
    "make_scene",
    "make_scenes",
    "scene_captions",
    "build_tokenizer",
    "build_processor",
    "tiny_clip_config",
    "load_tiny_clip",
    "weights_path",
    "word_alternatives",
]

#: Colour name -> RGB used to paint objects.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "green": (44, 160, 44),
    "blue": (31, 90, 220),
    "yellow": (240, 200, 20),
}
#: Shape names the generator draws.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")
#: Side of the square scenes in pixels (the model input size; patches are 8x8).
IMAGE_SIZE = 64
PATCH_SIZE = 8
MAX_TEXT_LEN = 16
IMAGE_MEAN = (0.5, 0.5, 0.5)
IMAGE_STD = (0.25, 0.25, 0.25)
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
VOCAB: tuple[str, ...] = SPECIAL_TOKENS + ("a", "and", *COLOURS, *SHAPES)

_RADIUS = (9.0, 13.0)


@dataclass(frozen=True)
class Scene:
    """One synthetic scene.

    Attributes
    ----------
    image : ndarray (IMAGE_SIZE, IMAGE_SIZE, 3) uint8
        RGB picture.
    objects : tuple of (colour, shape)
        The two objects, in caption order.
    masks : ndarray (2, IMAGE_SIZE, IMAGE_SIZE) bool
        Pixel mask of each object, same order as ``objects``.
    caption : str
        ``"a <colour> <shape> and a <colour> <shape>"``.
    """

    image: np.ndarray
    objects: tuple[tuple[str, str], ...]
    masks: np.ndarray
    caption: str

    def word_mask(self, word: str) -> np.ndarray:
        """Pixel mask of the object a colour or shape word names.

        Example
        -------
        >>> scene = make_scene(np.random.default_rng(0))
        >>> scene.word_mask(scene.objects[0][0]).shape
        (64, 64)
        """
        for obj, mask in zip(self.objects, self.masks):
            if word in obj:
                return mask
        raise MultiattnValueError(f"{word!r} names no object of this scene ({self.caption!r})")


def _shape_mask(shape: str, cy: float, cx: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] + 0.5
    dy, dx = yy - cy, xx - cx
    if shape == "circle":
        return dy**2 + dx**2 <= radius**2
    if shape == "square":
        half = 0.85 * radius
        return (np.abs(dy) <= half) & (np.abs(dx) <= half)
    # upward triangle inscribed in the circle: apex at the top, flat base
    top, base = -radius, 0.6 * radius
    frac = (dy - top) / (base - top)
    return (dy >= top) & (dy <= base) & (np.abs(dx) <= frac * 0.95 * radius)


def _place(rng: np.random.Generator) -> list[tuple[float, float, float]]:
    """Two (cy, cx, radius) placements whose bounding circles do not touch."""
    while True:
        radii = rng.uniform(*_RADIUS, size=2)
        centres = [rng.uniform(r + 1, IMAGE_SIZE - r - 1, size=2) for r in radii]
        if np.hypot(*(centres[0] - centres[1])) > radii.sum() + 3:
            return [(c[0], c[1], r) for c, r in zip(centres, radii)]


def scene_captions() -> list[str]:
    """Every distinct scene description (order-normalised): 36 captions.

    Example
    -------
    >>> len(scene_captions())
    36
    """
    objects = list(itertools.product(COLOURS, SHAPES))
    out = []
    for a, b in itertools.combinations(objects, 2):
        if a[0] != b[0] and a[1] != b[1]:
            out.append(f"a {a[0]} {a[1]} and a {b[0]} {b[1]}")
    return out


def make_scene(rng: np.random.Generator) -> Scene:
    """Draw one random scene (two objects, distinct colours and shapes).

    Example
    -------
    >>> scene = make_scene(np.random.default_rng(0))
    >>> scene.image.shape, scene.masks.shape
    ((64, 64, 3), (2, 64, 64))
    """
    colours = rng.choice(list(COLOURS), size=2, replace=False)
    shapes = rng.choice(list(SHAPES), size=2, replace=False)
    grey = rng.uniform(90, 160)
    image = grey + rng.normal(0, 8, size=(IMAGE_SIZE, IMAGE_SIZE, 3))
    masks = []
    for (cy, cx, radius), colour, shape in zip(_place(rng), colours, shapes):
        mask = _shape_mask(str(shape), cy, cx, radius)
        image[mask] = np.asarray(COLOURS[str(colour)]) + rng.normal(0, 6, size=(int(mask.sum()), 3))
        masks.append(mask)
    objects = tuple((str(c), str(s)) for c, s in zip(colours, shapes))
    caption = " and ".join(f"a {c} {s}" for c, s in objects)
    return Scene(np.clip(image, 0, 255).astype(np.uint8), objects, np.stack(masks), caption)


def make_scenes(n: int, seed: int) -> list[Scene]:
    """``n`` scenes from one seeded generator (deterministic)."""
    rng = np.random.default_rng(seed)
    return [make_scene(rng) for _ in range(n)]


def word_alternatives() -> dict[str, list[str]]:
    """Counterfactual replacements for grounding: each colour -> the other colours, shapes alike.

    Example
    -------
    >>> word_alternatives()["red"]
    ['green', 'blue', 'yellow']
    """
    groups = (list(COLOURS), list(SHAPES))
    return {word: [w for w in group if w != word] for group in groups for word in group}


def build_tokenizer() -> Any:
    """Word-level fast tokenizer over the caption vocabulary, ``[BOS] ... [EOS]`` around each text.

    Unknown words map to ``[UNK]``; text is lower-cased, punctuation dropped, split on whitespace.

    Example
    -------
    >>> tok = build_tokenizer()
    >>> tok("a red circle")["input_ids"]
    [2, 4, 6, 10, 3]
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(VOCAB)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.normalizer = normalizers.Sequence(
        [normalizers.Lowercase(), normalizers.Replace(Regex(r"[^\w\s]"), " ")]
    )
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(
        single="[BOS] $A [EOS]", special_tokens=[("[BOS]", vocab["[BOS]"]), ("[EOS]", vocab["[EOS]"])]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]",
        unk_token="[UNK]", model_max_length=MAX_TEXT_LEN,
    )


def build_processor() -> Any:
    """``CLIPProcessor`` for the tiny model: 64-pixel resize + centre crop, word-level tokenizer."""
    from transformers import CLIPImageProcessor, CLIPProcessor

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        image_mean=list(IMAGE_MEAN), image_std=list(IMAGE_STD), do_convert_rgb=True,
    )
    return CLIPProcessor(image_processor=image_processor, tokenizer=build_tokenizer())


def tiny_clip_config() -> Any:
    """The small ``CLIPConfig``: 8x8 patches of 64-pixel images, 4+2 layers, width 64."""
    from transformers import CLIPConfig

    ids = {tok: i for i, tok in enumerate(VOCAB)}
    return CLIPConfig(
        text_config=dict(
            vocab_size=len(VOCAB), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=MAX_TEXT_LEN,
            pad_token_id=ids["[PAD]"], bos_token_id=ids["[BOS]"], eos_token_id=ids["[EOS]"],
        ),
        vision_config=dict(
            hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
            image_size=IMAGE_SIZE, patch_size=PATCH_SIZE,
        ),
        projection_dim=64,
    )


def weights_path() -> Path:
    """Path of the committed tiny-CLIP weights (safetensors)."""
    import multiattn.media_samples

    return Path(multiattn.media_samples.__file__).parent / "clip" / "tiny_clip.safetensors"


def load_tiny_clip() -> tuple[Any, Any]:
    """The embedded default: trained tiny ``CLIPModel`` (eval mode) and its processor.

    Example
    -------
    >>> model, processor = load_tiny_clip()  # doctest: +SKIP
    >>> processor(text=["a red circle"], return_tensors="pt")["input_ids"].shape  # doctest: +SKIP
    torch.Size([1, 5])
    """
    from safetensors.torch import load_file
    from transformers import CLIPModel

    path = weights_path()
    if not path.is_file():
        raise MultiattnFileNotFoundError(
            f"tiny CLIP weights not found at {path}; run `python -m multiattn.zoo.train_tiny_clip`"
        )
    model = CLIPModel(tiny_clip_config())
    model.load_state_dict(load_file(str(path)))
    return model.eval(), build_processor()
