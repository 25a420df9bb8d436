"""One way in: ``capture`` / ``explain`` / ``capture_stream`` for every modality.

The model decides the modality (:func:`modality`); the medium a user holds goes in as
``inputs``; the adapter of that modality does the work, always called as
``adapter.capture(model, inputs, *, processor=None, ...)``.  Adapters (torch, transformers,
timm, PyG) are imported only when a call needs them, so ``import multiattn`` stays light.

| modality | ``inputs`` | ``capture`` returns |
|---|---|---|
| ``"text"`` | ``str`` or ``(text, pair)`` | AttentionGrid; encoder-decoders: GridSet encoder/decoder/cross |
| ``"image"`` | path, PIL image, ``(H, W, 3)`` array or pixel tensor | AttentionGrid over a PatchAxis |
| ``"image-text"`` | ``(image, caption or captions)`` | GridSet vision / text.0 ... |
| ``"audio"`` | path or ``(waveform, sr)`` | Whisper: GridSet encoder / decoder / cross; wav2vec2: a grid |
| ``"video"`` | path, frames, pixels | AttentionGrid; TimeSformer, X-CLIP: GridSet of steps |
| ``"graph"`` | PyG ``Data`` / ``Batch`` / ``HeteroData`` (or forward args) | sparse grid; hetero: GridSet |
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnIndexError, MultiattnTypeError, MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

    from ._types import AudioInput, FramesInput, GraphInput, ImageInput, Model, Processor
    from .grid import AttentionGrid, AttentionMap
    from .gridset import GridSet
    from .stream import Reducer

__all__ = ["MODALITIES", "capture", "capture_stream", "explain", "modality"]

#: The modalities :func:`modality` tells apart, with their adapter module.
MODALITIES = {"text": "text", "image": "vit", "image-text": "clip", "audio": "whisper",
              "video": "video", "graph": "graph"}

_VIDEO_TYPES = {"videomae", "vivit", "timesformer", "vjepa2", "xclip"}
_IMAGE_TEXT_TYPES = {"clip", "siglip", "siglip2", "chinese_clip", "altclip", "vision-text-dual-encoder",
                     "owlvit", "owlv2"}
#: Vision models whose config also has a vocabulary (masked-image-modelling codebooks) or no image_size.
_IMAGE_TYPES = {"beit", "data2vec-vision", "siglip2_vision_model", "convnext", "convnextv2", "resnet",
                "regnet", "efficientnet", "mobilenet_v2", "swin", "swinv2", "dinov3_vit"}
_AUDIO_TYPES = {"whisper"}
#: Speech encoders (no decoder): modality "audio", adapter :mod:`multiattn.adapters.speech`.
_SPEECH_TYPES = {"wav2vec2", "hubert", "wavlm", "data2vec-audio", "unispeech", "unispeech-sat",
                 "sew", "sew-d", "wav2vec2-conformer", "wav2vec2-bert"}  # the last four: refused, with why


def modality(model: Model) -> str:
    """Which adapter a model needs: one of :data:`MODALITIES`.

    Raises
    ------
    TypeError
        Not a model multiattn knows how to read (the message names the type).

    Examples
    --------
    >>> modality(model)  # doctest: +SKIP
    'text'
    """
    cls = type(model)
    if cls.__module__.startswith("timm."):
        return "image"
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    if model_type is None:
        from .adapters.graph import ATTENTION_LAYERS, is_pyg_model

        if is_pyg_model(model):  # the graph adapter refuses PyG models without attention, saying so
            return "graph"
        raise MultiattnTypeError(
            f"multiattn cannot tell the modality of a {cls.__name__}: expected a Hugging Face "
            "transformers model, a timm ViT or a model with PyG attention layers "
            f"({', '.join(ATTENTION_LAYERS)})"
        )
    if model_type in _IMAGE_TEXT_TYPES:
        return "image-text"
    if model_type in _AUDIO_TYPES or model_type in _SPEECH_TYPES:
        return "audio"
    if model_type in _VIDEO_TYPES:
        return "video"
    patches = hasattr(config, "image_size") and hasattr(config, "patch_size")
    if model_type in _IMAGE_TYPES or (patches and not hasattr(config, "vocab_size")):
        return "image"
    return "text"


def _adapter(model: Model) -> ModuleType:
    import importlib

    if getattr(getattr(model, "config", None), "model_type", None) in _SPEECH_TYPES:
        return importlib.import_module("multiattn.adapters.speech")
    return importlib.import_module(f"multiattn.adapters.{MODALITIES[modality(model)]}")


def _media(kind: str, inputs: Any) -> Any:
    """Read a path for the modalities whose adapter takes decoded media (video)."""
    if kind == "video" and isinstance(inputs, (str, Path)):
        from .media import read_video

        return read_video(inputs).frames
    return inputs


def capture(model: Model,
            inputs: str | tuple[str, str] | ImageInput | AudioInput | FramesInput | GraphInput, *,
            processor: Processor = None, **options: Any) -> AttentionGrid | GridSet:
    """Attention of every layer and head of ``model`` on ``inputs``, with coordinates.

    Parameters
    ----------
    model : transformers model, timm ViT or PyG model
        Its modality picks the adapter (see :func:`modality` and the table in this module).
    inputs : the medium
        Text, image, ``(image, captions)``, audio path or ``(waveform, sr)``, video path or
        frames, or a PyG ``Data``.
    processor : tokenizer / image processor / CLIP or Whisper processor, optional
        What the model's preprocessing needs; :func:`multiattn.load_model` returns it.
    **options
        Passed on to the adapter's ``capture`` (e.g. ``target=`` for encoder-decoders,
        ``text=`` for a Whisper transcript, ``fps=`` for video, ``layers=`` for graphs).

    Returns
    -------
    AttentionGrid or GridSet
        One grid ``(L, H, Q, K)`` with its axes, or named grids for models with several
        attentions (encoder / decoder / cross, vision / text.i, spatial / temporal).

    Examples
    --------
    >>> model, tokenizer = multiattn.load_model("minilm")  # doctest: +SKIP
    >>> multiattn.capture(model, "The cat sat.", processor=tokenizer).shape  # doctest: +SKIP
    (6, 12, 6, 6)
    """
    kind = modality(model)
    adapter = _adapter(model)
    if kind == "graph":
        if processor is not None:
            raise MultiattnValueError("graph models take no processor; pass the Data as inputs")
        return adapter.capture(model, inputs, **options)
    return adapter.capture(model, _media(kind, inputs), processor=processor, **options)


def explain(model: Model,
            inputs: str | tuple[str, str] | ImageInput | AudioInput | FramesInput | GraphInput, *,
            method: str | None = None, target: int | str | None = None,
            processor: Processor = None, **options: Any) -> AttentionMap:
    """One explanation map over the input's axis (patches, tokens, frames, nodes, time).

    Parameters
    ----------
    model, inputs, processor
        As in :func:`capture`.
    method : str, optional
        image: ``raw`` | ``rollout`` | ``grad-rollout`` | ``relevance`` (default; ``rollout`` for a
        backbone without a class head);
        video: ``raw`` (default) | ``rollout`` | ``relevance``;
        text: ``rollout`` (default) | ``flow`` | ``gradient-x-input`` | ``integrated-gradients``;
        image-text: ``relevance`` (the image map of one caption);
        audio: ``cross`` (mean cross-attention of one token over time);
        graph: ``raw`` (mean-of-heads attention a node receives... from its neighbours).
    target : int or str, optional
        What to explain: a class (image, video), the output token position (text, default
        0), a caption index or text (image-text, default the best-scoring caption), a
        decoder token position (audio, required) or a node index (graph, required).

    Returns
    -------
    AttentionMap
        ``meta["method"]`` and ``meta["values"]`` say what the numbers are.

    Examples
    --------
    >>> amap = multiattn.explain(vit, "cat.jpg", processor=proc, method="rollout")  # doctest: +SKIP
    >>> amap.to_image().shape  # doctest: +SKIP
    (14, 14)
    """
    kind = modality(model)
    return _EXPLAIN[kind](model, _media(kind, inputs), method, target, processor, options)


def _explain_image(model, inputs, method, target, processor, options):
    from .adapters import vit

    return vit.explain(model, inputs, processor=processor, method=method, target=target, **options)


def _explain_video(model, inputs, method, target, processor, options):
    from .adapters import video

    return video.explain(model, inputs, processor=processor, method=method or "raw", target=target,
                         **options)


_TEXT_METHODS = ("rollout", "flow", "gradient-x-input", "integrated-gradients")


def _explain_text(model, inputs, method, target, processor, options):
    method = method or "rollout"
    if method not in _TEXT_METHODS:
        raise MultiattnValueError(f"text method must be one of {_TEXT_METHODS}, got {method!r}")
    token = 0 if target is None else target
    if method in ("gradient-x-input", "integrated-gradients"):
        from .adapters import gradients

        func = (gradients.gradient_x_input if method == "gradient-x-input"
                else gradients.integrated_gradients)
        return func(model, inputs, processor=processor, target=int(token), **options)
    from .analysis import attention_flow, rollout
    from .grid import AttentionMap

    grid = capture(model, inputs, processor=processor, **options)
    if not hasattr(grid, "values"):
        raise MultiattnValueError(f"{method} needs one self-attention grid; {type(model).__name__} gives "
                         f"{', '.join(grid)}: capture() and analyse the part you want")
    row = int(grid.query.index(token)) if isinstance(token, str) else int(token)
    # only the explained token's row (flow: N max-flow problems instead of N^2; rollout: vector products)
    values = [float(v) for v in (rollout(grid, outputs=row) if method == "rollout"
                                 else attention_flow(grid, outputs=row))]
    what = f"{method} of token {grid.query.labels[row]!r} (position {row}) through all layers"
    return AttentionMap(values, grid.key, {**grid.meta, "method": method, "values": what})


def _explain_image_text(model, inputs, method, target, processor, options):
    from .adapters import clip

    if (method or "relevance") != "relevance":
        raise MultiattnValueError(f"image-text method must be 'relevance', got {method!r}")
    pairs = clip.relevance(model, inputs, processor=processor, **options)
    if target is None:
        best = max(pairs, key=lambda p: p.logit)
    elif isinstance(target, str):
        matches = [p for p in pairs if p.caption == target]
        if not matches:
            raise MultiattnValueError(f"target caption {target!r} is not among {[p.caption for p in pairs]}")
        best = matches[0]
    else:
        if not -len(pairs) <= int(target) < len(pairs):
            raise MultiattnIndexError(f"target {target} out of range for {len(pairs)} captions")
        best = pairs[int(target)]
    return best.image_map


def _explain_audio(model, inputs, method, target, processor, options):
    from .grid import AttentionMap

    if (method or "cross") != "cross":
        raise MultiattnValueError(f"audio method must be 'cross', got {method!r}")
    if getattr(model.config, "model_type", None) in _SPEECH_TYPES:
        raise MultiattnValueError(
            f"{type(model).__name__} is a speech encoder with no decoder, so there is no token to explain; "
            "use multiattn.capture(model, audio) for its encoder self-attention over time")
    if target is None:
        raise MultiattnValueError("audio explain needs target= (a decoder token position); for word "
                         "timings use multiattn.analysis.word_timings(capture(...)['cross'])")
    cross = capture(model, inputs, processor=processor, keep_encoder=False, **options)["cross"]
    heads = cross.meta.get("alignment_heads") or []
    values = cross.values[:, :, int(target)]
    curve = (sum(values[layer, head] for layer, head in heads) / len(heads) if heads
             else values.mean(axis=(0, 1)))
    label = cross.query.labels[int(target)]
    what = (f"cross-attention of token {label!r} over time, "
            + ("mean of the alignment heads" if heads else "mean of all layers and heads"))
    return AttentionMap(curve, cross.key, {**cross.meta, "method": "cross", "values": what})


def _explain_graph(model, inputs, method, target, processor, options):
    if (method or "raw") != "raw":
        raise MultiattnValueError(f"graph method must be 'raw', got {method!r}")
    if target is None:
        raise MultiattnValueError("graph explain needs target= (the node whose incoming attention to show)")
    from .gridset import GridSet

    grid = capture(model, inputs, **options)
    if isinstance(grid, GridSet):
        raise MultiattnValueError(
            f"explain on a heterogeneous graph needs one edge type ({', '.join(grid)}): use "
            "multiattn.capture(model, data)[name].row(node)")
    amap = grid.row(target, layer=-1, head="mean")
    amap.meta.update(method="raw", values=f"attention node {target} pays its neighbours, "
                     f"{grid.layers[-1]}, mean of heads")
    return amap


_EXPLAIN = {"image": _explain_image, "video": _explain_video, "text": _explain_text,
            "image-text": _explain_image_text, "audio": _explain_audio, "graph": _explain_graph}


def capture_stream(model: Model,
                   inputs: (str | tuple[str, str] | ImageInput | AudioInput | FramesInput | GraphInput
                            | Mapping[str, Any]),
                   reducers: Mapping[str, Reducer], *, processor: Processor = None,
                   include: str | None = None, block_rows: int | None = None,
                   **options: Any) -> dict[str, Any]:
    """Run ``model`` once on ``inputs`` and stream each layer's attention into ``reducers``.

    No ``(L, H, N, N)`` tensor is kept: each layer reaches the reducers as it is produced.

    Parameters
    ----------
    model, inputs, processor
        As in :func:`capture` (the medium, not processor outputs; a mapping of forward
        keyword arguments is accepted too).
    reducers : mapping of str to multiattn.stream.Reducer
        E.g. ``{"entropy": LayerMetric(head_entropy), "rollout": RolloutReducer()}``.
    include : str, optional
        Only attention modules whose name contains this text (e.g. ``"encoder_attn"`` for
        Whisper's cross-attention).
    block_rows : int, optional
        Long inputs on Hugging Face models with SDPA: each layer is recomputed from its queries
        and keys in blocks of this many query rows inside the reducers, so no ``N × N`` matrix
        per head is ever made (a 32k-token input); ``0`` picks the block size (16 MB of scores).
        The reducers must take row blocks: ``HeadMean``, ``TopK``, ``Entropy``, ``SinkShare``.
    **options
        For preparing the inputs: ``text=`` (Whisper transcript), ``target=`` (encoder-decoder
        target text), ``fps=``.

    Returns
    -------
    dict
        ``{name: reducer.result()}`` plus ``"layers"``: the layer names fed, in order.

    Examples
    --------
    >>> from multiattn.stream import HeadMean
    >>> out = multiattn.capture_stream(model, "The cat.", {"m": HeadMean()}, processor=tok)  # doctest: +SKIP
    >>> out["layers"][:2]  # doctest: +SKIP
    ['layer.0', 'layer.1']
    """
    from .adapters._stream import capture_stream as stream

    kind = modality(model)
    if getattr(getattr(model, "config", None), "model_type", None) == "wavlm":
        raise MultiattnValueError(
            "WavLM's attention modules return the mean over heads, so streaming would feed it as every "
            "head; use multiattn.capture(model, audio), which recomputes each head")
    if getattr(getattr(model, "config", None), "model_type", None) == "xclip":
        raise MultiattnValueError(
            "X-CLIP's video tower (per-frame attention with message tokens, then the MIT) is not streamed; "
            "use multiattn.capture(model, frames): a GridSet spatial / message / mit")
    if kind == "image-text" and include is None:
        raise MultiattnValueError(
            "CLIP's two towers give layers of different sizes: stream one at a time with "
                         "include='vision_model' or include='text_model'")
    forward_inputs = inputs if isinstance(inputs, Mapping) else _forward_inputs(
        kind, model, _media(kind, inputs), processor, options)
    return stream(model, forward_inputs, reducers, include=include, block_rows=block_rows)


def _forward_inputs(kind: str, model: Model, inputs: object, processor: Processor,
                    options: dict) -> Any:
    """The forward pass's keyword arguments for ``inputs`` (each adapter's ``prepare``)."""
    if kind == "graph":
        return inputs
    return _adapter(model).prepare(model, inputs, processor=processor, **options)
