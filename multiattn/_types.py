"""Type aliases for public signatures (what each argument really is).

Only for annotations: heavy libraries (torch, transformers, PIL, matplotlib, networkx, PyG) are
imported under ``TYPE_CHECKING``, so importing this module costs nothing at run time.  With
``from __future__ import annotations`` in the using module, the aliases can be written directly
in signatures (``model: Model``, ``image: ImageInput``).
"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any, TypeAlias, Union

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import networkx
    import PIL.Image
    import torch
    import transformers
    from torch_geometric.data import Data

    from .grid import AttentionGrid

__all__ = [
    "ArrayLike",
    "AttentionInput",
    "AudioInput",
    "FramesInput",
    "GraphInput",
    "ImageInput",
    "Model",
    "NxGraph",
    "PathInput",
    "Processor",
]

#: Anything numpy turns into an array.
ArrayLike: TypeAlias = npt.ArrayLike
#: A file system path.
PathInput: TypeAlias = Union[str, "PathLike[str]"]
#: A torch module: a Hugging Face ``PreTrainedModel``, a timm model or a PyG model.
Model: TypeAlias = "torch.nn.Module"
#: What a model's preprocessing needs: a tokenizer, an image / feature processor or a processor.
Processor: TypeAlias = Union["transformers.PreTrainedTokenizerBase", "transformers.ProcessorMixin",
                  "transformers.ImageProcessingMixin", "transformers.FeatureExtractionMixin", None]
#: Attention as a grid or an ``(L, H, Q, K)`` / ``(H, Q, K)`` / ``(Q, K)`` array.
AttentionInput: TypeAlias = Union["AttentionGrid", np.ndarray]
#: An image: a path, a PIL image, an ``(H, W)`` / ``(H, W, 3|4)`` array, or a pixel tensor.
ImageInput: TypeAlias = Union[str, "PathLike[str]", "PIL.Image.Image", np.ndarray, "torch.Tensor"]
#: Audio: a file path or ``(waveform, sample_rate)``.
AudioInput: TypeAlias = Union[str, "PathLike[str]", tuple[Any, int]]
#: Video: a path, ``(T, H, W, 3)`` uint8 frames, a list of frames, or ``pixel_values``.
FramesInput: TypeAlias = Union[str, "PathLike[str]", np.ndarray, list, "torch.Tensor"]
#: A PyG ``Data`` (or the tuple of a model's forward arguments).
GraphInput: TypeAlias = Union["Data", tuple]
#: A networkx graph.
NxGraph: TypeAlias = "networkx.Graph"
