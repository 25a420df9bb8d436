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

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from multiattn.errors import MultiattnValueError

from . import _axis_base as _base
from ._axis_base import Axis
from ._spatial_axes import PatchAxis, VideoAxis

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Sequence

__all__ = [
    "Axis",
    "TokenAxis",
    "PatchAxis",
    "TimeAxis",
    "NodeAxis",
    "VideoAxis",
    "axis_from_dict",
]


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

    def __init__(self, labels: Sequence[str], special_mask: Sequence[bool] | np.ndarray | None = None,
                 char_spans: Sequence[tuple[int, int]] | None = None) -> None:
        labels = tuple(str(t) for t in _base.as_tuple(labels))
        if special_mask is None:
            specials = (False,) * len(labels)
        else:
            specials = tuple(bool(s) for s in _base.as_tuple(special_mask))
        if len(specials) != len(labels):
            raise MultiattnValueError(
                f"special_mask has {len(specials)} entries but there are {len(labels)} labels"
            )
        spans = None
        if char_spans is not None:
            spans = tuple((int(a), int(b)) for a, b in char_spans)
            if len(spans) != len(labels):
                raise MultiattnValueError(
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
            raise MultiattnValueError(
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

    def __init__(self, ids: Sequence[int | str] | np.ndarray, labels: Sequence[str] | None = None,
                 groups: Sequence[int] | np.ndarray | None = None) -> None:
        ids = tuple(i.item() if isinstance(i, np.generic) else i for i in _base.as_tuple(ids))
        if len(set(ids)) != len(ids):
            raise MultiattnValueError("NodeAxis ids must be unique")
        if labels is not None:
            labels = tuple(str(v) for v in labels)
            if len(labels) != len(ids):
                raise MultiattnValueError(f"{len(labels)} labels for {len(ids)} nodes")
        if groups is not None:
            groups = tuple(int(g) for g in groups)
            if len(groups) != len(ids):
                raise MultiattnValueError(f"{len(groups)} groups for {len(ids)} nodes")
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
        raise MultiattnValueError(f"unknown axis type {kind!r}; known: {sorted(_AXIS_TYPES)}")
    return _AXIS_TYPES[kind](**data)

