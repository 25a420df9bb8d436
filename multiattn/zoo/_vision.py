"""The embedded "shapes-vit": a tiny ViT trained offline on a synthetic task with known ground truth.

Each image (48x48 RGB) shows one red *target* shape -- circle, square or
triangle -- at a random place and size, among 2-3 distractor shapes of any
class in other colours, on a cluttered background (noise and lines).  The
label is the target's class, so an explanation of the predicted class should
point inside the target's box: :func:`make_shapes_image` returns that box.

The model is a Hugging Face ``ViTForImageClassification`` (8x8 patches, 3
layers, 4 heads, width 48) trained by :mod:`multiattn.zoo.train_shapes_vit`;
its weights ship in ``media_samples/vit/shapes_vit.safetensors``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from multiattn.errors import MultiattnFileNotFoundError

from .. import media_samples

__all__ = [
    "CLASSES",
    "IMAGE_SIZE",
    "WEIGHTS_PATH",
    "make_shapes_image",
    "make_shapes_dataset",
    "shapes_vit_config",
    "shapes_vit_processor",
    "load_shapes_vit",
    "sample_photos",
]

#: Class names, index = label.
CLASSES = ("circle", "square", "triangle")
#: Side of the square synthetic images, in pixels.
IMAGE_SIZE = 48
#: Where the trained weights live.
WEIGHTS_PATH = Path(media_samples.__file__).parent / "vit" / "shapes_vit.safetensors"

_DISTRACTOR_COLOURS = ((40, 90, 230), (30, 170, 60), (20, 170, 190), (150, 150, 150), (120, 60, 200))


def _draw_shape(draw: ImageDraw.ImageDraw, kind: int, box: tuple[int, int, int, int], colour) -> None:
    top, left, bottom, right = box
    if kind == 0:
        draw.ellipse((left, top, right - 1, bottom - 1), fill=colour)
    elif kind == 1:
        draw.rectangle((left, top, right - 1, bottom - 1), fill=colour)
    else:
        apex = ((left + right - 1) / 2, top)
        draw.polygon([apex, (left, bottom - 1), (right - 1, bottom - 1)], fill=colour)


def _overlaps(box, boxes, margin: int = 2) -> bool:
    t, l, b, r = box
    return any(t < bb + margin and tt < b + margin and l < rr + margin and ll < r + margin
               for tt, ll, bb, rr in boxes)


def _free_box(rng: np.random.Generator, side: int, taken: list, size: int) -> tuple[int, int, int, int]:
    for _ in range(50):
        top, left = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        box = (top, left, top + side, left + side)
        if not _overlaps(box, taken):
            return box
    return box


def make_shapes_image(rng: np.random.Generator, size: int = IMAGE_SIZE) -> tuple[np.ndarray, int, tuple]:
    """One synthetic image, its label and the target's box.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (seed it for reproducible data).
    size : int
        Image side in pixels.

    Returns
    -------
    image : numpy.ndarray
        ``uint8 (size, size, 3)`` RGB.
    label : int
        Index into :data:`CLASSES` of the red target shape.
    box : (top, left, bottom, right)
        Target's bounding box in pixels (bottom/right exclusive).

    Example
    -------
    >>> img, label, box = make_shapes_image(np.random.default_rng(0))
    >>> img.shape, CLASSES[label] in CLASSES
    ((48, 48, 3), True)
    """
    base = rng.integers(20, 70, size=3)
    noise = rng.normal(0, 12, size=(size, size, 3))
    canvas = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(2, 6))):  # clutter lines
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, size, size=4))
        grey = int(rng.integers(60, 140))
        draw.line((x0, y0, x1, y1), fill=(grey, grey, grey), width=1)
    label = int(rng.integers(len(CLASSES)))
    side = int(rng.integers(size // 3, size // 2 + 1))
    target = _free_box(rng, side, [], size)
    taken = [target]
    for _ in range(int(rng.integers(2, 4))):
        d_side = int(rng.integers(size // 6, size // 3 + 1))
        box = _free_box(rng, d_side, taken, size)
        if _overlaps(box, taken):
            continue
        taken.append(box)
        colour = _DISTRACTOR_COLOURS[int(rng.integers(len(_DISTRACTOR_COLOURS)))]
        _draw_shape(draw, int(rng.integers(len(CLASSES))), box, colour)
    red = (int(rng.integers(200, 256)), int(rng.integers(0, 50)), int(rng.integers(0, 50)))
    _draw_shape(draw, label, target, red)
    return np.asarray(canvas), label, target


def make_shapes_dataset(
    n: int, seed: int, size: int = IMAGE_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` images ``(n, size, size, 3)`` uint8, labels ``(n,)`` and boxes ``(n, 4)``.

    Example
    -------
    >>> images, labels, boxes = make_shapes_dataset(4, seed=1)
    >>> images.shape, labels.shape, boxes.shape
    ((4, 48, 48, 3), (4,), (4, 4))
    """
    rng = np.random.default_rng(seed)
    items = [make_shapes_image(rng, size) for _ in range(n)]
    images = np.stack([i[0] for i in items])
    labels = np.array([i[1] for i in items], dtype=np.int64)
    boxes = np.array([i[2] for i in items], dtype=np.int64)
    return images, labels, boxes


def shapes_vit_config() -> Any:
    """The tiny ``ViTConfig``: 48x48 input, 8x8 patches (6x6 grid), 3 layers, 4 heads, width 48, 3 classes."""
    from transformers import ViTConfig

    return ViTConfig(
        image_size=IMAGE_SIZE, patch_size=8, num_channels=3, hidden_size=48, num_hidden_layers=3,
        num_attention_heads=4, intermediate_size=96, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, num_labels=len(CLASSES),
        id2label=dict(enumerate(CLASSES)), label2id={c: i for i, c in enumerate(CLASSES)},
    )


def shapes_vit_processor() -> Any:
    """Image processor of the shapes-vit: resize to 48x48 (bilinear), scale to [-1, 1]."""
    from transformers import ViTImageProcessor

    return ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, resample=2,
                             image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])


def load_shapes_vit() -> tuple[Any, Any]:
    """The trained shapes-vit (eval mode) and its processor.

    Raises
    ------
    FileNotFoundError
        If the weights are missing (run ``python -m multiattn.zoo.train_shapes_vit``).

    Example
    -------
    >>> model, processor = load_shapes_vit()  # doctest: +SKIP
    >>> model.config.id2label[0]  # doctest: +SKIP
    'circle'
    """
    from safetensors.torch import load_file
    from transformers import ViTForImageClassification

    if not WEIGHTS_PATH.is_file():
        raise MultiattnFileNotFoundError(
            f"shapes-vit weights not found at {WEIGHTS_PATH}; train them with "
            "`python -m multiattn.zoo.train_shapes_vit`"
        )
    model = ViTForImageClassification(shapes_vit_config())
    model.load_state_dict(load_file(str(WEIGHTS_PATH)))
    return model.eval(), shapes_vit_processor()


def sample_photos() -> list[Path]:
    """Free-licence photographs shipped in ``media_samples/vit`` (sorted by name)."""
    return sorted(p for p in WEIGHTS_PATH.parent.glob("*") if p.suffix.lower() in (".jpg", ".png"))
