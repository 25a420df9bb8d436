"""multiattn: where a model looks, in every modality.

Adapters turn raw attention into an :class:`AttentionGrid`; :mod:`multiattn.analysis`
computes on grids (or plain ``(L, H, Q, K)`` arrays); :mod:`multiattn.renderers`
draws them onto the media they came from.
"""

from ._memory import AttentionTooLargeError
from .axes import NodeAxis, PatchAxis, TimeAxis, TokenAxis, VideoAxis
from .grid import AttentionGrid, AttentionMap, RowSumWarning

__version__ = "0.1.0"

__all__ = [
    "AttentionGrid",
    "AttentionMap",
    "AttentionTooLargeError",
    "NodeAxis",
    "PatchAxis",
    "RowSumWarning",
    "TimeAxis",
    "TokenAxis",
    "VideoAxis",
]
