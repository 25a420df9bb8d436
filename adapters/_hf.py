"""Hugging Face helpers shared by the adapters: eager attention and checks.

With transformers >= 5 the default SDPA / flash kernels return *no* attention
weights (only a warning).  :func:`eager_attention` switches a model to the
eager implementation for the capture and restores its setting afterwards;
:func:`require_attentions` turns an empty capture into a clear error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnRuntimeError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch
    import transformers

    from .._types import Model

__all__ = ["attention_implementation", "attention_layers", "eager_attention", "eval_mode", "has_attention",
           "recorded_attentions", "registered_attention", "require_attentions"]


def _configs(model: Model) -> list[transformers.PretrainedConfig]:
    """Every config the model reads: its own, each sub-model's (``model.encoder.config`` of T5 is
    a copy) and every nested sub-config (``text_config``, ``vision_config``...)."""
    seen: list[transformers.PretrainedConfig] = []
    modules = model.modules() if hasattr(model, "modules") else ()
    stack = [getattr(model, "config", None)] + [getattr(m, "config", None) for m in modules]
    stack.reverse()  # pop the model's own config first
    while stack:
        config = stack.pop()
        if config is None or any(config is c for c in seen):
            continue
        seen.append(config)
        for name in getattr(config, "sub_configs", {}) or {}:
            stack.append(getattr(config, name, None))
    return seen


@contextmanager
def eval_mode(model: Model) -> Iterator[Model]:
    """Run a block with ``model.eval()`` (dropout off) and restore its training flag after.

    Example
    -------
    >>> with eval_mode(model):  # doctest: +SKIP
    ...     out = model(**inputs)
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def eager_attention(model: Model) -> Iterator[Model]:
    """Run a block with the model (and its sub-models) on eager attention.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        Any Hugging Face model.

    Yields
    ------
    model
        The same model, switched to ``attn_implementation="eager"``; the previous
        implementation of every config is restored on exit, even after an error.

    Example
    -------
    >>> with eager_attention(model):  # doctest: +SKIP
    ...     out = model(**inputs, output_attentions=True)
    """
    configs = _configs(model)
    saved = [getattr(c, "_attn_implementation", None) for c in configs]
    setter = getattr(model, "set_attn_implementation", None)
    try:
        if callable(setter):
            setter("eager")
        for config in configs:
            if getattr(config, "_attn_implementation", "eager") != "eager":
                config._attn_implementation = "eager"
        yield model
    finally:
        for config, impl in zip(configs, saved):
            _restore(config, impl)


@contextmanager
def attention_implementation(model: Model, name: str) -> Iterator[Model]:
    """Run a block with every config of ``model`` on the registered attention implementation ``name``.

    For implementations multiattn registers with transformers' ``AttentionInterface`` (the block
    path's ``"multiattn_blocks"``, the monitor's ``"multiattn_monitor"``); each config's previous
    implementation is restored on exit, even after an error.

    Example
    -------
    >>> with attention_implementation(model, "multiattn_blocks"):  # doctest: +SKIP
    ...     model(**inputs)
    """
    configs = _configs(model)
    saved = [getattr(c, "_attn_implementation", None) for c in configs]
    try:
        for config in configs:
            if hasattr(config, "_attn_implementation_internal"):
                config._attn_implementation_internal = name
            else:
                config._attn_implementation = name
        yield model
    finally:
        for config, impl in zip(configs, saved):
            _restore(config, impl)


@contextmanager
def registered_attention(model: Model, name: str, attention: Callable, mask: Callable, active: dict,
                         entries: Mapping) -> Iterator[Model]:
    """Run a block with ``model`` on ``attention`` and its ``mask``, registered with transformers as ``name``.

    ``entries`` are added to ``active`` (the registry the attention function reads, keyed by
    ``id(module)``) for the block and removed after it; every config's previous implementation is
    restored on exit (:func:`attention_implementation`), even after an error.

    Example
    -------
    >>> with registered_attention(model, "multiattn_grid", fn, eager_mask,
    ...                           ACTIVE, {id(m): w}):  # doctest: +SKIP
    ...     model(**inputs)
    """
    from transformers.masking_utils import AttentionMaskInterface
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(name, attention)
    AttentionMaskInterface.register(name, mask)
    active.update(entries)
    try:
        with attention_implementation(model, name):
            yield model
    finally:
        for key in entries:
            active.pop(key, None)


def _restore(config: transformers.PretrainedConfig, impl: str | None) -> None:
    """Put one config's implementation back, ``None`` included, without touching its sub-configs
    (the ``_attn_implementation`` setter would write the parent's value into all of them)."""
    if getattr(config, "_attn_implementation", None) == impl:
        return
    if hasattr(config, "_attn_implementation_internal"):
        config._attn_implementation_internal = impl
    elif impl is not None:
        config._attn_implementation = impl


def require_attentions(attentions: Sequence[torch.Tensor | None] | None, what: str,
                       model: Model | None = None) -> list[torch.Tensor]:
    """Check a captured ``attentions`` tuple is complete; return it as a list.

    Raises
    ------
    RuntimeError
        If nothing was returned or a layer returned ``None`` (the kernel did not
        materialise weights), naming the model class and the fix.
    """
    name = type(model).__name__ if model is not None else "the model"
    if not attentions or any(a is None for a in attentions):
        raise MultiattnRuntimeError(
            f"{name} returned no {what} attention weights. multiattn switches Hugging Face models "
            "to eager attention for the capture; this model may use a custom kernel that never "
            "materialises weights. Load it with attn_implementation='eager' or use a model "
            "whose attention class supports output_attentions."
        )
    return list(attentions)  # type: ignore[arg-type]  # None entries were refused above


def _record_specs(owner: torch.nn.Module) -> list[tuple[str, type | None, str | None, str | None, int]]:
    """``(key, target_class, class_name, layer_name, index)`` of a sub-model's attention recorders."""
    from transformers.utils.output_capturing import OutputRecorder

    specs = []
    for key, entries in (getattr(owner, "_can_record_outputs", None) or {}).items():
        if "attention" not in key:
            continue
        for spec in entries if isinstance(entries, list) else [entries]:
            if isinstance(spec, OutputRecorder):
                specs.append((key, spec.target_class, spec.class_name, spec.layer_name, spec.index))
            else:
                named = isinstance(spec, str)
                specs.append((key, None if named else spec, spec if named else None, None, 1))
    return specs


def _matches(module: torch.nn.Module, name: str, spec: tuple) -> bool:
    _key, target, class_name, layer_name, _index = spec
    if not ((target is not None and isinstance(module, target))
            or (class_name is not None and name.endswith(class_name))):
        return False
    return layer_name is None or f".{layer_name.strip('.')}." in f".{name}."


def recorded_attentions(model: Model) -> list[tuple[str, str, torch.nn.Module, int]]:
    """Where the model's own output recorders read attention weights, in module order.

    Transformers >= 5 collects ``output_attentions`` by hooking the modules named in each
    sub-model's ``_can_record_outputs``; this lists the same places: ``(key, dotted name, module,
    index into the module's output tuple)`` with ``key`` ``"attentions"`` / ``"cross_attentions"``.
    Empty for models without recorders (older-style code).

    Example
    -------
    >>> [(key, name, index) for key, name, _, index in recorded_attentions(t5)][:1]  # doctest: +SKIP
    [('attentions', 'encoder.block.0.layer.0', -1)]
    """
    from transformers import PreTrainedModel

    found: list[tuple[str, str, torch.nn.Module, int]] = []

    def walk(module: torch.nn.Module, name: str, specs: list) -> None:
        for child_name, child in module.named_children():
            path = f"{name}.{child_name}" if name else child_name
            walk(child, path, _record_specs(child) if isinstance(child, PreTrainedModel) else specs)
        for spec in specs:
            if _matches(module, name, spec):
                found.append((spec[0], name, module, spec[4]))

    walk(model, "", _record_specs(model))
    order = {id(m): i for i, m in enumerate(model.modules())}
    return sorted(found, key=lambda item: order[id(item[2])])


def attention_layers(model: Model, n_captured: int) -> list[int] | None:
    """The model's own layer index of each captured self-attention (None: plain ``0..L-1``).

    Hybrid models (Qwen3-Next, LFM2, Jamba...) interleave attention with linear-attention,
    convolution or state-space layers; their ``output_attentions`` holds only the attention
    layers, so ``layer.1`` must stay model layer 1.  The index is the first integer in the
    attention module's dotted path (``model.layers.3.self_attn`` -> 3).

    Example
    -------
    >>> attention_layers(qwen3_next_model, 1)  # doctest: +SKIP
    [1]
    """
    import re

    names = [name for key, name, _, _ in recorded_attentions(model) if key == "attentions"]
    indices = []
    for name in names:
        match = re.search(r"(?:^|\.)(\d+)(?:\.|$)", name)
        if match is None:
            return None
        indices.append(int(match.group(1)))
    if len(indices) != n_captured or any(b <= a for a, b in zip(indices, indices[1:])):
        return None
    return indices


def has_attention(model: Model) -> bool:
    """Whether any module of the model computes attention (recorded, or a class named *Attention*).

    Example
    -------
    >>> has_attention(mamba_model)  # doctest: +SKIP
    False
    """
    if recorded_attentions(model):
        return True
    return any("attention" in type(m).__name__.lower() for m in model.modules()) if hasattr(
        model, "modules") else False
