"""Hugging Face helpers shared by the adapters: eager attention and checks.

With transformers >= 5 the default SDPA / flash kernels return *no* attention
weights (only a warning).  :func:`eager_attention` switches a model to the
eager implementation for the capture and restores its setting afterwards;
:func:`require_attentions` turns an empty capture into a clear error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnRuntimeError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import torch
    import transformers

    from .._types import Model

__all__ = ["eager_attention", "eval_mode", "require_attentions"]


def _configs(model: Model) -> list[transformers.PretrainedConfig]:
    """The model's config and every nested sub-config (vision/text/encoder/decoder)."""
    seen: list[transformers.PretrainedConfig] = []
    stack = [getattr(model, "config", None)]
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
            if impl is not None and getattr(config, "_attn_implementation", None) != impl:
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
