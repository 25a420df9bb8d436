"""Moving-shapes video: synthetic clips with known object boxes and the tiny model trained on them.

A clip shows one square tile moving in a straight line (right, left, down
or up) over static clutter (random plain-coloured rectangles and discs) and
pixel noise; the top-left patch is plain grey (the model's readout tubelet,
see below).  The tile is shaded with colour gradients (red grows left to
right, green top to bottom), so its motion shows on every patch it covers: a
plain square would only show motion along its outline, and a model reading
2-frame tubelets would then look at outline tubelets, which straddle the
object's border and leave its box within the tubelet.
Because the generator knows where the object is in every frame, attention
maps can be *scored*: does the map's peak fall inside the moving object's
box?  :func:`load_moving_shapes` returns the tiny VideoMAE classifier
trained on these clips by :mod:`multiattn.zoo.train_moving_shapes`.  It has
no mean pooling, so its classifier reads the first token (the grey top-left
tubelet): the class can only reach it through attention, which makes the
attention maps of that token a meaningful, testable explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

__all__ = [
    "DIRECTIONS",
    "MovingShapesClip",
    "gradient_tile",
    "moving_shapes_clip",
    "load_moving_shapes",
    "sample_clip_path",
    "weights_path",
]

#: Class index -> direction of motion.
DIRECTIONS: tuple[str, ...] = ("right", "left", "down", "up")
_STEP = {"right": (0, 1), "left": (0, -1), "down": (1, 0), "up": (-1, 0)}  # (dy, dx)


@dataclass(frozen=True)
class MovingShapesClip:
    """One synthetic clip and its ground truth.

    Attributes
    ----------
    frames : ndarray, uint8, shape (T, H, W, 3)
        RGB frames.
    boxes : ndarray, float, shape (T, 4)
        Object box per frame as ``(x0, y0, x1, y1)`` in pixels (x1, y1 exclusive).
    label : int
        Index into :data:`DIRECTIONS`.
    fps : float
        Nominal frame rate.
    """

    frames: np.ndarray
    boxes: np.ndarray
    label: int
    fps: float

    @property
    def direction(self) -> str:
        """Name of the motion direction."""
        return DIRECTIONS[self.label]


def _media_dir() -> Path:
    import multiattn.media_samples as media

    return Path(media.__file__).parent / "video"


def weights_path() -> Path:
    """Path of the committed moving-shapes weights (safetensors, config in its metadata)."""
    return _media_dir() / "moving_shapes.safetensors"


def sample_clip_path() -> Path:
    """Path of the committed sample clip (MP4, 16 frames at 8 fps, 128x128)."""
    return _media_dir() / "moving_shapes.mp4"


def _paint_clutter(canvas: np.ndarray, rng: np.random.Generator, n_items: int) -> None:
    size = canvas.shape[0]
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(n_items):
        colour = rng.integers(40, 256, size=3)
        cy, cx = rng.uniform(0, size, size=2)
        half = rng.uniform(0.04, 0.10) * size
        if rng.random() < 0.5:
            mask = (np.abs(yy - cy) < half) & (np.abs(xx - cx) < half * rng.uniform(0.3, 1.0))
        else:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < half**2
        canvas[mask] = colour


def gradient_tile(side: int) -> np.ndarray:
    """The moving object's texture, float32 ``(side, side, 3)`` on the 0-255 scale.

    Red ramps from 0 to 255 left to right, green top to bottom, blue is
    ``255 -`` their mean: every pixel of the tile differs from its neighbours,
    so a shift of the tile changes every patch it covers.

    Example
    -------
    >>> tile = gradient_tile(16)
    >>> tile.shape, tile[0, -1].tolist(), tile[-1, 0].tolist()
    ((16, 16, 3), [255.0, 0.0, 127.5], [0.0, 255.0, 127.5])
    """
    ramp = np.linspace(0.0, 255.0, side, dtype=np.float32)
    tile = np.empty((side, side, 3), dtype=np.float32)
    tile[..., 0] = ramp[None, :]
    tile[..., 1] = ramp[:, None]
    tile[..., 2] = 255.0 - (ramp[None, :] + ramp[:, None]) / 2
    return tile


def moving_shapes_clip(
    direction: int | str | None = None,
    *,
    frames: int = 8,
    size: int = 64,
    seed: int | None = 0,
    clutter: int = 6,
    noise: float = 12.0,
    fps: float = 8.0,
    readout_patch: bool = True,
) -> MovingShapesClip:
    """Render one clip of a gradient-shaded square tile moving over static clutter.

    Parameters
    ----------
    direction : int or str, optional
        Class index or name from :data:`DIRECTIONS`; random when None.
    frames : int
        Number of frames.
    size : int
        Frame height and width in pixels; geometry scales with it.
    seed : int, optional
        Seed of the clip (layout, colours, noise); None for fresh randomness.
    clutter : int
        Number of static distractor shapes.
    noise : float
        Standard deviation of the per-pixel Gaussian noise (0-255 scale).
    fps : float
        Frame rate recorded on the clip.
    readout_patch : bool
        Paint the top-left ``size/8`` square plain grey in every frame.  The
        moving-shapes model reads its class from that tubelet (VideoMAE without
        mean pooling reads token 0), so it plays the role of a CLS token.

    Returns
    -------
    MovingShapesClip

    Example
    -------
    >>> clip = moving_shapes_clip("up", frames=8, size=64, seed=1)
    >>> clip.frames.shape, clip.boxes.shape, clip.direction
    ((8, 64, 64, 3), (8, 4), 'up')
    """
    if frames < 2 or size < 16:
        raise MultiattnValueError(f"need frames >= 2 and size >= 16, got frames={frames}, size={size}")
    rng = np.random.default_rng(seed)
    if direction is None:
        label = int(rng.integers(len(DIRECTIONS)))
    elif isinstance(direction, str):
        if direction not in DIRECTIONS:
            raise MultiattnValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
        label = DIRECTIONS.index(direction)
    else:
        label = int(direction)
        if not 0 <= label < len(DIRECTIONS):
            raise MultiattnValueError(f"direction index must be in [0, {len(DIRECTIONS)}), got {label}")
    background = rng.integers(0, 60, size=3)
    canvas = np.empty((size, size, 3), dtype=np.float32)
    canvas[:] = background
    _paint_clutter(canvas, rng, clutter)
    side = 0.25 * size
    travel = 0.35 * size  # about a third of the frame: under a side length per 2-frame tubelet
    dy, dx = _STEP[DIRECTIONS[label]]
    margin = 0.02 * size
    lo, hi = margin, size - margin - side
    # start so that the whole path stays inside the frame
    start = rng.uniform(lo, hi, size=2)
    for axis, step in enumerate((dy, dx)):
        if step > 0:
            start[axis] = rng.uniform(lo, hi - travel)
        elif step < 0:
            start[axis] = rng.uniform(lo + travel, hi)
    n_side = int(round(side))
    tile = gradient_tile(n_side)
    progress = np.linspace(0.0, 1.0, frames)
    out = np.empty((frames, size, size, 3), dtype=np.uint8)
    boxes = np.empty((frames, 4))
    for t, p in enumerate(progress):
        y0 = start[0] + dy * travel * p
        x0 = start[1] + dx * travel * p
        frame = canvas.copy()
        r0, c0 = int(round(y0)), int(round(x0))
        r1, c1 = r0 + n_side, c0 + n_side
        frame[r0:r1, c0:c1] = tile
        frame += rng.normal(0.0, noise, size=frame.shape)
        if readout_patch:
            frame[: size // 8, : size // 8] = 128.0
        out[t] = np.clip(frame, 0, 255).astype(np.uint8)
        boxes[t] = (c0, r0, c1, r1)
    return MovingShapesClip(out, boxes, label, float(fps))


def load_moving_shapes(path: str | Path | None = None) -> Any:
    """Load the tiny moving-shapes VideoMAE classifier (eval mode, CPU).

    Parameters
    ----------
    path : str or Path, optional
        A safetensors file written by :mod:`multiattn.zoo.train_moving_shapes`;
        default the committed :func:`weights_path`.

    Returns
    -------
    transformers.VideoMAEForVideoClassification
        ``config.num_frames`` frames of ``config.image_size`` pixels; labels are
        :data:`DIRECTIONS`.

    Example
    -------
    >>> model = load_moving_shapes()  # doctest: +SKIP
    >>> model.config.num_frames, model.config.image_size  # doctest: +SKIP
    (8, 64)
    """
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    path = Path(path) if path is not None else weights_path()
    if not path.is_file():
        raise MultiattnFileNotFoundError(
            f"moving-shapes weights not found at {path}; run "
            "`python -m multiattn.zoo.train_moving_shapes` to train them"
        )
    with safe_open(str(path), framework="pt") as fh:
        metadata = fh.metadata() or {}
    if "config" not in metadata:
        raise MultiattnValueError(
            f"{path} has no 'config' metadata; it was not written by train_moving_shapes")
    config = VideoMAEConfig(**json.loads(metadata["config"]))
    model = VideoMAEForVideoClassification(config)
    model.load_state_dict(load_file(str(path)))
    return model.eval()
