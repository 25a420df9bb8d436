"""multiattn: where a model looks, in every modality.

One way in for every modality: ``capture(model, inputs, processor=...)`` gives an
:class:`AttentionGrid` (or a :class:`GridSet` of named grids), ``explain(...)`` one
:class:`AttentionMap`, ``capture_stream(...)`` per-layer summaries without the full tensor;
``load_model(spec)`` resolves embedded names, local Hugging Face folders and ``timm:NAME``.
:mod:`multiattn.analysis` computes on grids; :mod:`multiattn.renderers` draws them.
"""

from pathlib import Path as _Path

from ._api import capture, capture_stream, explain, modality
from ._layout import mount_checkout_folders as _mount
from .axes import NodeAxis, PatchAxis, TimeAxis, TokenAxis, VideoAxis
from .errors import AttentionTooLargeError, DimensionIndexError, MultiattnError
from .grid import AttentionGrid, AttentionMap, RowSumWarning
from .gridset import GridSet, load_grids
from .labelled import LabelledArray
from .models import load_model
from .monitor import monitor
from .profile import profile

_mount(_Path(__file__).resolve().parent)  # source checkout: adapters/ renderers/ beside multiattn/

__version__ = "0.1.0"

__all__ = [
    "AttentionGrid",
    "AttentionMap",
    "AttentionTooLargeError",
    "GridSet",
    "DimensionIndexError",
    "LabelledArray",
    "MultiattnError",
    "NodeAxis",
    "PatchAxis",
    "RowSumWarning",
    "TimeAxis",
    "TokenAxis",
    "VideoAxis",
    "capture",
    "capture_stream",
    "explain",
    "load_grids",
    "load_model",
    "modality",
    "monitor",
    "profile",
]

#: Sub-packages reachable as attributes (``multiattn.analysis.rollout``) without an explicit import.
_SUBPACKAGES = ("adapters", "analysis", "media", "media_samples", "renderers", "stream", "zoo")


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
