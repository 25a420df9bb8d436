"""Gradient attributions of Hugging Face text models, and the attention-vs-gradient table.

Both methods attribute one scalar output ``f`` to the input tokens through
their word embeddings ``e`` (position and segment embeddings are added by the
model itself and are not attributed):

- gradient x input: ``a_j = sum_d (e - b)_jd * df/de_jd`` at the input;
- integrated gradients (Sundararajan et al. 2017): ``a_j = sum_d (e - b)_jd *
  int_0^1 df/de_jd(b + t (e - b)) dt``, the integral by Gauss-Legendre
  quadrature with ``steps`` nodes.  Completeness, ``sum_j a_j = f(e) - f(b)``,
  is reported in ``meta`` so the user can check the quadrature converged.

The baseline ``b`` is the [PAD] embedding at content positions with special
tokens kept (``baseline="pad"``, attributions of special tokens are then 0),
or all zeros.

The scalar ``f`` explains output position ``target``: for models with logits,
the logit of the class the model predicts there; for encoders, the output
vector at ``target`` projected on its own (fixed) direction at the real input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnIndexError, MultiattnValueError

from ..analysis.attribution import attribution_agreement, layer_attention_maps
from ..grid import AttentionMap
from .text import capture

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    from collections.abc import Callable

    import torch

    from .._types import Model, Processor

__all__ = ["attention_vs_gradient", "gradient_x_input", "integrated_gradients"]

#: Baselines of the attribution path.
BASELINES = ("pad", "zeros")


def _prepare(model: Model, tokenizer: Processor, text: str, target: int, baseline: str) -> dict:
    """Token ids, embeddings, baseline, the scalar output function and the token axis."""
    import torch

    if baseline not in BASELINES:
        raise MultiattnValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if getattr(model.config, "is_encoder_decoder", False):
        raise MultiattnValueError(
            f"{type(model).__name__} is an encoder-decoder; attributions support encoders and decoders "
            "(BERT, GPT-2 families) only"
        )
    grid = capture(model, text, processor=tokenizer)
    axis = grid.query
    ids = list(tokenizer(text)["input_ids"])
    if len(ids) != len(axis):
        raise MultiattnValueError(
            f"text has {len(ids)} tokens, more than the model accepts ({len(axis)}); shorten it")
    if not -len(ids) <= target < len(ids):
        raise MultiattnIndexError(f"target {target} out of range for {len(ids)} tokens {list(axis.labels)}")
    input_ids = torch.tensor([ids])
    with torch.no_grad():
        embeds = model.get_input_embeddings()(input_ids)
    if baseline == "zeros":
        base = torch.zeros_like(embeds)
    else:
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else model.config.pad_token_id
        if pad is None:
            raise MultiattnValueError(
                "the tokenizer has no [PAD] token for baseline='pad'; use baseline='zeros'")
        special = torch.tensor(axis.special_mask)[None, :, None]
        with torch.no_grad():
            pad_embed = model.get_input_embeddings()(torch.tensor([[pad]]))
        base = torch.where(special, embeds, pad_embed.expand_as(embeds))
    position = target % len(ids)

    def forward(inputs_embeds: torch.Tensor) -> Any:  # the model's ModelOutput; its fields depend on the head
        mask = torch.ones(inputs_embeds.shape[:2], dtype=torch.long)
        return model(inputs_embeds=inputs_embeds, attention_mask=mask)

    with torch.no_grad():
        out = forward(embeds)
    if getattr(out, "logits", None) is not None:
        klass = int(out.logits[0, position].argmax())

        def scalar(inputs_embeds: torch.Tensor) -> torch.Tensor:
            return forward(inputs_embeds).logits[:, position, klass]

        what = f"logit of predicted class {klass} at position {position}"
    else:
        direction = out.last_hidden_state[0, position]
        direction = direction / direction.norm()

        def scalar(inputs_embeds: torch.Tensor) -> torch.Tensor:
            return forward(inputs_embeds).last_hidden_state[:, position] @ direction

        what = f"output vector at position {position} projected on its direction"
    return {"grid": grid, "axis": axis, "embeds": embeds, "base": base, "f": scalar, "what": what,
            "position": position}


def _gradient(scalar: Callable[[torch.Tensor], torch.Tensor], embeds: torch.Tensor,
              ) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    points = embeds.detach().requires_grad_(True)
    values = scalar(points)
    (grad,) = torch.autograd.grad(values.sum(), points)
    return values.detach(), grad


def gradient_x_input(
    model: Model, text: str, *, processor: Processor = None, target: int = 0, baseline: str = "pad"
) -> AttentionMap:
    """Gradient x (input - baseline) per token, for the output at position ``target``.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        A text model (encoder like ``BertModel`` or a model with logits).
    text : str
        The input.
    processor : transformers tokenizer
        Its tokenizer (required).
    target : int
        Output position explained (0 = [CLS]; negative counts from the end).
    baseline : {"pad", "zeros"}
        Reference input (see the module docstring).

    Returns
    -------
    AttentionMap
        Signed attribution per token over the model's TokenAxis; ``meta`` says
        the method, the explained scalar and its value.

    Example
    -------
    >>> model, tokenizer = multiattn.load_model("minilm")  # doctest: +SKIP
    >>> m = gradient_x_input(model, "The cat sat.", processor=tokenizer, target=0)  # doctest: +SKIP
    >>> m.values.shape  # doctest: +SKIP
    (6,)
    """
    return _gradient_x_input(_prepare(model, processor, text, target, baseline), baseline)


def _gradient_x_input(prep: dict, baseline: str) -> AttentionMap:
    import torch

    with torch.enable_grad():
        value, grad = _gradient(prep["f"], prep["embeds"])
    per_token = ((prep["embeds"] - prep["base"]) * grad).sum(-1)[0]
    meta = {"method": "gradient_x_input", "target": prep["what"], "f_input": float(value[0]),
            "baseline": baseline}
    return AttentionMap(per_token.numpy().astype(np.float64), prep["axis"], meta)


def integrated_gradients(
    model: Model, text: str, *, processor: Processor = None, target: int = 0, steps: int = 32,
    baseline: str = "pad",
) -> AttentionMap:
    """Integrated gradients per token (Gauss-Legendre quadrature with ``steps`` nodes).

    Parameters
    ----------
    model, text, processor, target, baseline
        As in :func:`gradient_x_input`.
    steps : int
        Quadrature nodes on the straight path from baseline to input (>= 1).

    Returns
    -------
    AttentionMap
        Signed attribution per token; ``meta`` holds ``f_input``, ``f_baseline``
        and ``completeness_error = |sum(attribution) - (f_input - f_baseline)|``.

    Example
    -------
    >>> m = integrated_gradients(model, "The cat sat.", processor=tokenizer, steps=32)  # doctest: +SKIP
    >>> m.meta["completeness_error"] < 1e-2 * abs(m.meta["f_input"])  # doctest: +SKIP
    True
    """
    return _integrated_gradients(_prepare(model, processor, text, target, baseline), steps, baseline)


def _integrated_gradients(prep: dict, steps: int, baseline: str) -> AttentionMap:
    import torch

    if not isinstance(steps, int) or steps < 1:
        raise MultiattnValueError(f"steps must be a positive int, got {steps!r}")
    embeds, base = prep["embeds"], prep["base"]
    nodes, weights = np.polynomial.legendre.leggauss(steps)
    alphas = torch.tensor((nodes + 1) / 2, dtype=embeds.dtype)[:, None, None]
    weights = torch.tensor(weights / 2, dtype=embeds.dtype)[:, None, None]
    path = base + alphas * (embeds - base)
    with torch.enable_grad():
        _, grads = _gradient(prep["f"], path)
    with torch.no_grad():  # the end points' values only (completeness check): no backward pass
        ends = prep["f"](torch.cat([embeds, base]))
    per_token = ((embeds - base)[0] * (weights * grads).sum(0)).sum(-1)
    f_input, f_base = float(ends[0]), float(ends[1])
    total = float(per_token.sum())
    meta = {"method": "integrated_gradients", "target": prep["what"], "steps": steps, "baseline": baseline,
            "f_input": f_input, "f_baseline": f_base,
            "completeness_error": abs(total - (f_input - f_base))}
    return AttentionMap(per_token.numpy().astype(np.float64), prep["axis"], meta)


def attention_vs_gradient(
    model: Model, text: str, *, processor: Processor = None, target: int = 0, steps: int = 32,
    baseline: str = "pad", exclude_special: bool = True,
) -> dict:
    """The "is attention explanation?" table for one input: attributions vs attention per layer.

    Parameters
    ----------
    model, text, processor, target, steps, baseline
        As in :func:`integrated_gradients`.
    exclude_special : bool
        Leave special tokens ([CLS], [SEP]) out of the rankings.

    Returns
    -------
    dict
        ``"table"``: rows of :func:`multiattn.analysis.attribution_agreement`
        (one per map: raw / rollout / flow at every layer, columns
        ``gradient_x_input`` and ``integrated_gradients``); ``"attributions"``:
        the two AttentionMaps; ``"maps"``: the attention vectors; ``"grid"``: the capture.

    Example
    -------
    >>> result = attention_vs_gradient(model, "The cat sat.", processor=tokenizer)  # doctest: +SKIP
    >>> result["table"][0]["map"]  # doctest: +SKIP
    'raw L0'
    """
    prep = _prepare(model, processor, text, target, baseline)
    gxi = _gradient_x_input(prep, baseline)
    ig = _integrated_gradients(prep, steps, baseline)
    grid = prep["grid"]
    maps = layer_attention_maps(grid, target)
    exclude = grid.query.special_mask if exclude_special and grid.query.special_mask.any() else None
    attributions = {"gradient_x_input": gxi, "integrated_gradients": ig}
    table = attribution_agreement({k: v.values for k, v in attributions.items()}, maps, exclude=exclude)
    return {"table": table, "attributions": attributions, "maps": maps, "grid": grid}
