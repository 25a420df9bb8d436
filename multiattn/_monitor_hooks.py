"""The monitor's hooks: the streaming capture's attention hooks plus one pre/post hook per forward.

A forward pre-hook on the model reads the inputs (``input_ids`` / ``attention_mask``, or the
pixels) into a :class:`~multiattn._monitor_stats.Context`; the attention hooks of
:mod:`multiattn.adapters._stream` (Hugging Face, eager attention) or
:mod:`multiattn.adapters._timm_hooks` (timm, fused kernel kept) hand each layer to the
monitor; a forward hook turns the forward into requests.  With ``sample < 1`` a Hugging Face
model is switched to eager attention only for the forwards that are monitored.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from multiattn.errors import MultiattnValueError

from ._monitor_stats import Context
from .analysis.metrics import DELIMITERS

if TYPE_CHECKING:  # pragma: no cover
    from ._types import Model, Processor
    from .monitor import Monitor

__all__ = ["install", "special_ids", "text_context"]


def special_ids(model: Model, processor: Processor) -> dict[str, torch.Tensor | None]:
    """Token ids of the special, padding and delimiter tokens (from the tokenizer, else the config)."""
    config = getattr(model, "config", None)
    config = getattr(config, "text_config", None) or config  # CLIP: the text tower's ids
    ids = set(getattr(processor, "all_special_ids", None) or [])
    for name in ("pad_token_id", "bos_token_id", "eos_token_id", "sep_token_id", "cls_token_id"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            ids.add(value)
    pad = getattr(processor, "pad_token_id", None)
    pad = getattr(config, "pad_token_id", None) if pad is None else pad
    delimiters: set[int] = set()
    convert, unk = getattr(processor, "convert_tokens_to_ids", None), getattr(processor, "unk_token_id", None)
    if callable(convert):
        for token in DELIMITERS:
            for spelled in (token, "Ġ" + token, "▁" + token):
                found = convert(spelled)
                if isinstance(found, int) and found != unk:
                    delimiters.add(found)
    return {"special": torch.tensor(sorted(ids), dtype=torch.long),
            "pad": None if pad is None else torch.tensor([int(pad)]),
            "delimiter": torch.tensor(sorted(delimiters), dtype=torch.long)}


def _text_context(ids: dict, input_ids: torch.Tensor | None, attention_mask: torch.Tensor | None) -> Context:
    if input_ids is None:
        raise MultiattnValueError("the monitored text model was called without input_ids; "
                                  "pass input_ids= (inputs_embeds are not supported)")
    valid = torch.ones_like(input_ids, dtype=torch.bool) if attention_mask is None else attention_mask.bool()
    first = torch.zeros_like(valid)
    first[:, 0] = True
    masks = {"first": first, "special": torch.isin(input_ids, ids["special"])}
    if ids["pad"] is not None:
        masks["padding"] = torch.isin(input_ids, ids["pad"])
    if len(ids["delimiter"]):
        masks["delimiter"] = torch.isin(input_ids, ids["delimiter"])
    return Context(valid.cpu(), {k: v.cpu() for k, v in masks.items()})


def _image_context(monitor: Monitor, pixels: torch.Tensor | None) -> Context:
    from ._monitor_contexts import grid_context
    from .adapters._vit_layout import layout_of

    if pixels is None:
        raise MultiattnValueError("the monitored ViT was called without pixels (pixel_values= or x=)")
    layout = monitor.__dict__.setdefault("_layout", layout_of(monitor.model))
    (ph, pw) = layout.patch_size
    return grid_context(monitor, pixels.shape[0], len(layout.prefix),
                        (pixels.shape[-2] // ph, pixels.shape[-1] // pw))


def text_context(monitor: Monitor, input_ids: torch.Tensor | None,
                 attention_mask: torch.Tensor | None) -> Context:
    """The text context of a forward, with ``|i - j|`` distances cached per length."""
    from ._monitor_stats import token_distances

    ctx = _text_context(monitor._special, input_ids, attention_mask)
    cache = monitor.__dict__.setdefault("_token_distances", {})
    n = ctx.valid.shape[1]
    if n not in cache:
        cache[n] = token_distances(n)
    ctx.distances = cache[n]
    return ctx


def _contexts(monitor: Monitor, args: tuple, kwargs: dict, timm: bool) -> tuple[dict[str, Context], Any]:
    """Contexts of one forward by record label, and how layer names route to them."""
    from . import _monitor_contexts as mc

    kind = monitor.kind
    if kind == "graph":
        from ._monitor_graph import GraphContext

        return {"graph": GraphContext()}, None
    if kind == "text":
        return {"text": text_context(monitor, _argument(args, kwargs, "input_ids", 0),
                                     _argument(args, kwargs, "attention_mask", 1))}, None
    if kind == "video":
        return {"video": mc.video_context(monitor, _argument(args, kwargs, "pixel_values", 0))}, None
    if kind == "image-text":
        return mc.clip_contexts(monitor, args, kwargs), mc.clip_route
    if kind == "audio":
        from ._monitor_audio import whisper_contexts, whisper_route

        return whisper_contexts(monitor, args, kwargs), whisper_route
    pixels = _argument(args, kwargs, "x" if timm else "pixel_values", 0)
    return {"image": _image_context(monitor, pixels)}, None


def _argument(args: tuple, kwargs: dict, name: str, position: int) -> Any:
    return kwargs[name] if name in kwargs else (args[position] if len(args) > position else None)


def install(monitor: Monitor, stack: contextlib.ExitStack) -> None:
    """Install the monitor's hooks on its model; ``stack`` removes them again."""
    from .adapters._vit_layout import is_timm_vit

    model, timm = monitor.model, is_timm_vit(monitor.model)
    graph = monitor.kind == "graph"
    switch = _switch(monitor, stack) if not (timm or graph) else None

    def before(_module: Any, args: tuple, kwargs: dict) -> None:
        if monitor._forward is not None:  # the previous forward raised before its post-hook
            monitor._forward.close()
            monitor._forward = None
        if not monitor._sampled():
            monitor._state = None
            return
        if switch is not None and monitor.sample < 1.0:
            monitor._forward = contextlib.ExitStack()
            monitor._forward.enter_context(switch())
        monitor._begin(*_contexts(monitor, args, kwargs, timm))

    def after(_module: Any, _args: tuple, _output: Any) -> None:
        try:
            monitor._end()
        finally:
            if monitor._forward is not None:
                monitor._forward.close()
                monitor._forward = None

    stack.callback(model.register_forward_pre_hook(before, with_kwargs=True).remove)
    if monitor.kind == "audio":
        from ._monitor_audio import encoder_hooks

        encoder_before, encoder_after = encoder_hooks(monitor)
        encoder = model.get_encoder()
        stack.callback(encoder.register_forward_pre_hook(encoder_before, with_kwargs=True).remove)
        stack.callback(encoder.register_forward_hook(encoder_after).remove)
    if graph:
        from ._monitor_graph import install_graph

        install_graph(monitor, stack)
    elif timm:
        from .adapters._timm_hooks import timm_attention_hooks

        stack.enter_context(timm_attention_hooks(model, _TimmSink(monitor)))
    elif monitor.sample >= 1.0:
        stack.enter_context(switch())
    stack.callback(model.register_forward_hook(after).remove)


def _switch(monitor: Monitor, stack: contextlib.ExitStack) -> Callable[[], contextlib.AbstractContextManager]:
    """How a monitored forward reaches the attention of a Hugging Face model.

    Families with the plain eager attention (:data:`~._monitor_attention.PLAIN_FAMILIES`) run
    on the monitoring implementation, whose softmax the monitor computes with the statistics
    (:meth:`~multiattn.monitor.Monitor._softmax_layer`); others run on eager
    attention with a forward hook on each attention module (installed on ``stack`` now).
    Returns the context manager that switches the model for one forward (or for the whole
    attachment when every forward is monitored).
    """
    from ._monitor_attention import monitor_attention, plain_eager
    from .adapters._hf import eager_attention
    from .adapters._stream import attention_modules, hf_attention_hooks

    model = monitor.model
    modules = attention_modules(model)
    if not modules:
        raise MultiattnValueError(f"found no attention modules in {type(model).__name__} to monitor")
    if monitor.fast_attention and plain_eager(modules):
        callbacks = {module: functools.partial(monitor._softmax_layer, name) for name, module, _ in modules}
        return lambda: monitor_attention(model, callbacks)
    stack.enter_context(hf_attention_hooks(modules, monitor._layer, strict=monitor.sample >= 1.0))
    return lambda: eager_attention(model)


class _TimmSink:
    """``append(weights)`` from the timm hooks -> the monitor's layer, named like the streaming capture."""

    def __init__(self, monitor: Monitor) -> None:
        self.monitor = monitor

    def append(self, weights: torch.Tensor) -> None:
        state = self.monitor._state
        if state is not None:
            self.monitor._layer(f"blocks.{len(state['groups']['image']['layers'])}.attn", weights)
