"""Axes: what each attention position *means* in its medium.

An axis is an immutable description of one side of an attention matrix
(the queries or the keys).  It knows how many positions it has, a display
label for each, and how positions map back onto the medium (token text,
image patches, audio seconds, graph nodes, video tubelets).  Axes travel
with the data, so no renderer ever guesses a reshape or a prefix offset.

Every axis serialises to a plain JSON dict with :meth:`to_dict` and back
with :func:`axis_from_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

__all__ = [
    "Axis",
    "TokenAxis",
    "PatchAxis",
    "TimeAxis",
    "NodeAxis",
    "VideoAxis",
    "axis_from_dict",
]


def _as_tuple(value: Any) -> tuple:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        return (value,)
    return tuple(value)


def _pair(value: Any, name: str) -> tuple[int, int]:
    if np.isscalar(value):
        return (int(value), int(value))
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a (height, width) pair, got {value!r}")
    return pair


def _check_vector(vec: Any, axis: Axis) -> np.ndarray:
    arr = np.asarray(vec)
    if arr.ndim != 1 or arr.shape[0] != len(axis):
        raise ValueError(
            f"expected a vector of length {len(axis)} for {type(axis).__name__}, "
            f"got shape {arr.shape}; pass one row of the attention matrix"
        )
    return arr


@dataclass(frozen=True)
class Axis:
    """Base class: a sequence of positions with display labels."""

    kind: ClassVar[str] = "axis"

    def __len__(self) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def labels(self) -> tuple[str, ...]:
        """One short display label per position."""
        raise NotImplementedError  # pragma: no cover

    @property
    def special_mask(self) -> np.ndarray:
        """Boolean mask of positions that are not content (CLS, SEP, registers...)."""
        return np.zeros(len(self), dtype=bool)

    def coords(self) -> np.ndarray:
        """Position coordinates used for attention distance, shape (N, d).

        Rows of non-content positions (prefix tokens) are NaN.
        """
        return np.arange(len(self), dtype=np.float64)[:, None]

    def to_dict(self) -> dict:
        """JSON-ready description; inverse of :func:`axis_from_dict`."""
        out = {"type": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = _jsonable(value)
        return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class TokenAxis(Axis):
    """Text tokens.

    Parameters
    ----------
    labels : sequence of str
        Display text of each token (already cleaned of ``##``, ``Ġ``, ``▁``).
    special_mask : sequence of bool, optional
        True where the token is a special token ([CLS], [SEP], <s>, </s>...).
    char_spans : sequence of (start, end), optional
        Character span of each token in the source text (``(0, 0)`` for specials).

    Example
    -------
    >>> axis = TokenAxis(["[CLS]", "hello", "[SEP]"], special_mask=[1, 0, 1])
    >>> len(axis), axis.special_mask.tolist()
    (3, [True, False, True])
    """

    kind: ClassVar[str] = "token"
    token_labels: tuple[str, ...] = ()
    specials: tuple[bool, ...] = ()
    char_spans: tuple[tuple[int, int], ...] | None = None

    def __init__(self, labels, special_mask=None, char_spans=None):
        labels = tuple(str(t) for t in _as_tuple(labels))
        if special_mask is None:
            specials = (False,) * len(labels)
        else:
            specials = tuple(bool(s) for s in _as_tuple(special_mask))
        if len(specials) != len(labels):
            raise ValueError(
                f"special_mask has {len(specials)} entries but there are {len(labels)} labels"
            )
        spans = None
        if char_spans is not None:
            spans = tuple((int(a), int(b)) for a, b in char_spans)
            if len(spans) != len(labels):
                raise ValueError(
                    f"char_spans has {len(spans)} entries but there are {len(labels)} labels"
                )
        object.__setattr__(self, "token_labels", labels)
        object.__setattr__(self, "specials", specials)
        object.__setattr__(self, "char_spans", spans)

    def __len__(self) -> int:
        return len(self.token_labels)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.token_labels

    @property
    def special_mask(self) -> np.ndarray:
        return np.asarray(self.specials, dtype=bool)

    def to_dict(self) -> dict:
        return {
            "type": self.kind,
            "labels": list(self.token_labels),
            "special_mask": list(self.specials),
            "char_spans": None if self.char_spans is None else [list(s) for s in self.char_spans],
        }


class _Prefixed:
    """Axes whose content positions follow ``prefix`` tokens (CLS, distillation, registers)."""

    prefix: tuple[str, ...]

    @property
    def n_prefix(self) -> int:
        """Number of prefix tokens before the first content position."""
        return len(self.prefix)

    @property
    def special_mask(self) -> np.ndarray:
        mask = np.zeros(len(self), dtype=bool)
        mask[: self.n_prefix] = True
        return mask


@dataclass(frozen=True)
class PatchAxis(_Prefixed, Axis):
    """ViT patches laid out row-major after ``len(prefix)`` prefix tokens.

    Parameters
    ----------
    rows, cols : int
        Patch grid size (non-square grids are fine: 224x320 at /16 gives 14x20).
    patch_size : int or (int, int)
        Patch height and width in model-input pixels.
    image_size : (int, int)
        Model input (height, width) in pixels.
    prefix : sequence of str
        Names of the tokens before the patches, e.g. ``("CLS",)``,
        ``("CLS", "DIST")`` or ``("CLS", "REG0", ..., "REG3")``.
    transform : dict, optional
        How the original image became the model input, so maps land on the
        original pixels: ``{"original_size": (H, W), "resize": (h, w),
        "crop": (top, left, height, width)}`` (crop in resized coordinates).

    Example
    -------
    >>> axis = PatchAxis(2, 3, 16, (32, 48), prefix=("CLS",))
    >>> len(axis), axis.to_image(np.arange(7)).shape
    (7, (2, 3))
    """

    kind: ClassVar[str] = "patch"
    rows: int = 0
    cols: int = 0
    patch_size: tuple[int, int] = (16, 16)
    image_size: tuple[int, int] = (0, 0)
    prefix: tuple[str, ...] = ("CLS",)
    transform: dict = field(default_factory=dict)

    def __init__(self, rows, cols, patch_size, image_size, prefix=("CLS",), transform=None):
        rows, cols = int(rows), int(cols)
        if rows <= 0 or cols <= 0:
            raise ValueError(f"patch grid must be positive, got rows={rows}, cols={cols}")
        object.__setattr__(self, "rows", rows)
        object.__setattr__(self, "cols", cols)
        object.__setattr__(self, "patch_size", _pair(patch_size, "patch_size"))
        object.__setattr__(self, "image_size", _pair(image_size, "image_size"))
        object.__setattr__(self, "prefix", tuple(str(p) for p in _as_tuple(prefix)))
        object.__setattr__(self, "transform", _normalise_transform(transform))

    def __hash__(self) -> int:
        return hash((self.rows, self.cols, self.patch_size, self.image_size, self.prefix))

    def __len__(self) -> int:
        return len(self.prefix) + self.rows * self.cols

    @property
    def labels(self) -> tuple[str, ...]:
        grid = (f"r{r}c{c}" for r in range(self.rows) for c in range(self.cols))
        return self.prefix + tuple(grid)

    def coords(self) -> np.ndarray:
        """(row, col) of each patch in patch units; NaN for prefix tokens."""
        out = np.full((len(self), 2), np.nan)
        r, c = np.divmod(np.arange(self.rows * self.cols), self.cols)
        out[self.n_prefix :, 0] = r
        out[self.n_prefix :, 1] = c
        return out

    def to_image(self, vec: Any) -> np.ndarray:
        """Drop the prefix and reshape a length-N vector to ``(rows, cols)``."""
        arr = _check_vector(vec, self)
        return arr[self.n_prefix :].reshape(self.rows, self.cols)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["transform"] = _jsonable(self.transform)
        return out


def _normalise_transform(transform: dict | None) -> dict:
    if not transform:
        return {}
    allowed = {"original_size", "resize", "crop"}
    unknown = set(transform) - allowed
    if unknown:
        raise ValueError(f"unknown transform keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return {k: tuple(int(v) for v in transform[k]) for k in transform if transform[k] is not None}


@dataclass(frozen=True)
class TimeAxis(Axis):
    """Audio frames at a fixed hop.

    Parameters
    ----------
    n_frames : int
        Number of frames.
    hop_s : float
        Seconds between frame starts (Whisper's encoder: 0.02).
    offset_s : float
        Start time of frame 0 in seconds.

    Example
    -------
    >>> TimeAxis(3, 0.02).times
    array([0.01, 0.03, 0.05])
    """

    kind: ClassVar[str] = "time"
    n_frames: int = 0
    hop_s: float = 0.02
    offset_s: float = 0.0

    def __post_init__(self):
        if int(self.n_frames) < 0 or not self.hop_s > 0:
            raise ValueError(
                f"TimeAxis needs n_frames >= 0 and hop_s > 0, got {self.n_frames}, {self.hop_s}"
            )
        object.__setattr__(self, "n_frames", int(self.n_frames))
        object.__setattr__(self, "hop_s", float(self.hop_s))
        object.__setattr__(self, "offset_s", float(self.offset_s))

    def __len__(self) -> int:
        return self.n_frames

    @property
    def times(self) -> np.ndarray:
        """Frame centres in seconds, shape (n_frames,)."""
        return self.offset_s + (np.arange(self.n_frames) + 0.5) * self.hop_s

    @property
    def edges(self) -> np.ndarray:
        """Frame boundaries in seconds, shape (n_frames + 1,)."""
        return self.offset_s + np.arange(self.n_frames + 1) * self.hop_s

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(f"{t:.2f}s" for t in self.times)

    def coords(self) -> np.ndarray:
        return self.times[:, None]


@dataclass(frozen=True)
class NodeAxis(Axis):
    """Graph nodes.

    Parameters
    ----------
    ids : sequence
        Node identifiers (ints or strings), in index order.
    labels : sequence of str, optional
        Display labels; default ``str(id)``.
    groups : sequence of int, optional
        A group (class, community) per node, used by group metrics and colouring.

    Example
    -------
    >>> NodeAxis([0, 1, 2], groups=[0, 0, 1]).labels
    ('0', '1', '2')
    """

    kind: ClassVar[str] = "node"
    ids: tuple = ()
    node_labels: tuple[str, ...] | None = None
    groups: tuple[int, ...] | None = None

    def __init__(self, ids, labels=None, groups=None):
        ids = tuple(i.item() if isinstance(i, np.generic) else i for i in _as_tuple(ids))
        if len(set(ids)) != len(ids):
            raise ValueError("NodeAxis ids must be unique")
        if labels is not None:
            labels = tuple(str(v) for v in labels)
            if len(labels) != len(ids):
                raise ValueError(f"{len(labels)} labels for {len(ids)} nodes")
        if groups is not None:
            groups = tuple(int(g) for g in groups)
            if len(groups) != len(ids):
                raise ValueError(f"{len(groups)} groups for {len(ids)} nodes")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "node_labels", labels)
        object.__setattr__(self, "groups", groups)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.node_labels if self.node_labels is not None else tuple(map(str, self.ids))

    def to_dict(self) -> dict:
        return {
            "type": self.kind,
            "ids": list(self.ids),
            "labels": None if self.node_labels is None else list(self.node_labels),
            "groups": None if self.groups is None else list(self.groups),
        }


@dataclass(frozen=True)
class VideoAxis(_Prefixed, Axis):
    """Space-time tokens in the model's (time-major) order.

    Parameters
    ----------
    frames : int
        Number of input video frames the model saw.
    rows, cols : int
        Spatial patch grid.
    tubelet : (t, h, w)
        Tubelet size: frames per temporal token, patch height and width.
    fps : float
        Frames per second of the sampled frames, for seconds on the time axis.
    prefix : sequence of str
        Tokens before the space-time tokens (e.g. ``("CLS",)``).
    transform : dict, optional
        How each original frame became the model input, as for
        :class:`PatchAxis`: ``{"original_size", "resize", "crop"}``, so maps land
        on the original pixels even when the processor centre-crops.

    Example
    -------
    >>> axis = VideoAxis(16, 14, 14, tubelet=(2, 16, 16), fps=8)
    >>> len(axis), axis.to_volume(np.zeros(len(axis))).shape
    (1568, (8, 14, 14))
    """

    kind: ClassVar[str] = "video"
    frames: int = 0
    rows: int = 0
    cols: int = 0
    tubelet: tuple[int, int, int] = (1, 16, 16)
    fps: float = 25.0
    prefix: tuple[str, ...] = ()
    transform: dict = field(default_factory=dict)

    def __init__(self, frames, rows, cols, tubelet=(1, 16, 16), fps=25.0, prefix=(), transform=None):
        tubelet = tuple(int(v) for v in tubelet)
        if len(tubelet) != 3 or min(tubelet) <= 0:
            raise ValueError(f"tubelet must be (t, h, w) positive ints, got {tubelet}")
        if int(frames) <= 0 or int(frames) % tubelet[0]:
            raise ValueError(
                f"frames={frames} must be a positive multiple of the tubelet length {tubelet[0]}"
            )
        if int(rows) <= 0 or int(cols) <= 0 or not float(fps) > 0:
            raise ValueError(f"rows, cols and fps must be positive, got {rows}, {cols}, {fps}")
        object.__setattr__(self, "frames", int(frames))
        object.__setattr__(self, "rows", int(rows))
        object.__setattr__(self, "cols", int(cols))
        object.__setattr__(self, "tubelet", tubelet)
        object.__setattr__(self, "fps", float(fps))
        object.__setattr__(self, "prefix", tuple(str(p) for p in _as_tuple(prefix)))
        object.__setattr__(self, "transform", _normalise_transform(transform))

    def __hash__(self) -> int:
        return hash((self.frames, self.rows, self.cols, self.tubelet, self.fps, self.prefix))

    @property
    def frame_axis(self) -> PatchAxis:
        """The patch grid of one frame (no prefix), with the frames' resize / crop.

        Example
        -------
        >>> VideoAxis(8, 2, 3, tubelet=(2, 16, 16)).frame_axis
        PatchAxis(rows=2, cols=3, patch_size=(16, 16), image_size=(32, 48), prefix=(), transform={})
        """
        _, height, width = self.tubelet
        return PatchAxis(self.rows, self.cols, (height, width), (self.rows * height, self.cols * width),
                         prefix=(), transform=self.transform)

    @property
    def n_time(self) -> int:
        """Number of temporal token positions (frames // tubelet length)."""
        return self.frames // self.tubelet[0]

    def __len__(self) -> int:
        return self.n_prefix + self.n_time * self.rows * self.cols

    @property
    def times(self) -> np.ndarray:
        """Centre in seconds of each temporal token position, shape (n_time,)."""
        t = self.tubelet[0]
        return (np.arange(self.n_time) * t + t / 2.0) / self.fps

    @property
    def labels(self) -> tuple[str, ...]:
        body = (
            f"t{t}r{r}c{c}"
            for t in range(self.n_time)
            for r in range(self.rows)
            for c in range(self.cols)
        )
        return self.prefix + tuple(body)

    def coords(self) -> np.ndarray:
        """(time, row, col) in token units; NaN for prefix tokens."""
        out = np.full((len(self), 3), np.nan)
        idx = np.arange(self.n_time * self.rows * self.cols)
        t, rest = np.divmod(idx, self.rows * self.cols)
        r, c = np.divmod(rest, self.cols)
        out[self.n_prefix :] = np.stack([t, r, c], axis=1)
        return out

    def to_volume(self, vec: Any) -> np.ndarray:
        """Drop the prefix and reshape a length-N vector to ``(n_time, rows, cols)``."""
        arr = _check_vector(vec, self)
        return arr[self.n_prefix :].reshape(self.n_time, self.rows, self.cols)


_AXIS_TYPES: dict[str, type[Axis]] = {
    cls.kind: cls for cls in (TokenAxis, PatchAxis, TimeAxis, NodeAxis, VideoAxis)
}


def axis_from_dict(data: dict) -> Axis:
    """Rebuild an axis from :meth:`Axis.to_dict` output.

    Example
    -------
    >>> axis_from_dict(TimeAxis(4, 0.02).to_dict())
    TimeAxis(n_frames=4, hop_s=0.02, offset_s=0.0)
    """
    data = dict(data)
    kind = data.pop("type", None)
    if kind not in _AXIS_TYPES:
        raise ValueError(f"unknown axis type {kind!r}; known: {sorted(_AXIS_TYPES)}")
    return _AXIS_TYPES[kind](**data)

