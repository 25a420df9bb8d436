"""Head ablation, head importance (Michel et al. 2019) and pruning curves, by hooks.

Every head's output is scaled just before the attention output projection, the Linear
(or GPT-2 ``Conv1D``) that consumes the concatenated heads ``(batch, tokens, heads * head_dim)``,
so a forward pre-hook can multiply head ``h`` by ``m_h``.  It is found the same way in every
family: from each self-attention module (where the model's own ``output_attentions`` reads it,
else the innermost ``*Attention`` class), the attention block of that layer (the path up to the
component after the layer index: ``encoder.layer.3.attention``, ``block.3.layer.0``,
``h.3.self_attention``) holds q/k/v first and the output projection last, so it is the block's
last-defined projection whose input splits into the heads (``attention.output.dense`` in BERT,
``attn.c_proj`` in GPT-2, ``attention.dense`` in GPT-NeoX / ALBERT, ``self_attention.dense`` in
Falcon / Bloom, ``attn.out_proj`` in GPT-J, ``attn.Wo`` in ModernBERT, ``SelfAttention.o`` in T5,
``self_attn.o_proj`` in Llama, ``attn.proj`` in timm ViTs; self-attention only; ALBERT's one
shared layer is hooked once per use).  No ``head_mask`` argument is needed (newer transformers
versions dropped it).

- :func:`ablate_heads`: ``m_h = 0`` for chosen heads inside a ``with`` block.
- :func:`head_importance`: ``I_h = mean over inputs of |dL/dm_h|`` at ``m = 1``
  (Michel, Levy & Neubig 2019, "Are Sixteen Heads Really Better than One?").
- :func:`pruning_curve`: a metric while heads are removed from least to most
  important, against random orders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import ArrayLike, Model

#: What ``loss_fn`` / ``metric_fn`` take besides the model: a dict of model inputs, a tensor of ids...
Batch = TypeVar("Batch")

__all__ = ["ablate_heads", "head_importance", "pruning_curve"]

def _n_heads(model: Model, module: torch.nn.Module) -> int:
    config = getattr(model, "config", None)
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for source, name in ((config, "num_attention_heads"), (config, "n_head"), (config, "num_heads"),
                         (module, "num_heads")):
        value = getattr(source, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise MultiattnValueError(
        f"cannot tell the number of heads of {type(model).__name__}: no config.num_attention_heads"
    )


def _self_attentions(model: Model) -> list[tuple[str, torch.nn.Module]]:
    """Each self-attention module (cross-attention left out), bottom first."""
    from ._hf import recorded_attentions
    from ._stream import attention_modules

    if hasattr(model, "config"):
        recorded = [(name, module) for key, name, module, _ in recorded_attentions(model)
                    if key == "attentions"]
        if recorded:
            return recorded
    cross = ("cross", "encoder_attn", "encdec")
    return [(name, module) for name, module, _ in attention_modules(model)
            if not any(word in name.lower() or word in type(module).__name__.lower() for word in cross)]


def _widths(module: torch.nn.Module) -> tuple[int, int] | None:
    """``(in, out)`` of a Linear or of GPT-2's Conv1D (weight ``(in, out)``), else None."""
    import torch

    if isinstance(module, torch.nn.Linear):
        return module.in_features, module.out_features
    if type(module).__name__ == "Conv1D" and getattr(module, "weight", None) is not None:
        return int(module.weight.shape[0]), int(module.weight.shape[1])
    return None


def _attention_block(model: Model, name: str) -> torch.nn.Module:
    """The layer's attention block: the path up to the component after the last layer index."""
    parts = name.split(".")
    numbers = [i for i, part in enumerate(parts) if part.isdigit()]
    keep = parts[: numbers[-1] + 2] if numbers else parts
    return model.get_submodule(".".join(keep))


def _output_projection(model: Model, name: str, n_heads: int) -> torch.nn.Module | None:
    """The last-defined projection of the attention block that maps the heads back to the model width.

    Its input splits into ``n_heads`` and its output is the hidden size (a fused ``qkv_proj``
    is wider); among several such (q/k/v of the same width) the output projection is defined last.
    """
    hidden = _hidden_size(model)
    candidates = []
    for module in _attention_block(model, name).modules():
        widths = _widths(module)
        if widths and widths[0] >= n_heads and widths[0] % n_heads == 0 and hidden in (None, widths[1]):
            candidates.append(module)
    return candidates[-1] if candidates else None


def _hidden_size(model: Model) -> int | None:
    config = getattr(model, "config", None)
    config = config.get_text_config() if hasattr(config, "get_text_config") else config
    for name in ("hidden_size", "d_model", "n_embd", "dim"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def head_projections(model: Model) -> tuple[list[torch.nn.Module], int]:
    """The attention output projection of every layer (bottom first) and the heads per layer.

    A layer shared by several depths (ALBERT) appears once per depth.

    Example
    -------
    >>> projections, n_heads = head_projections(model)  # doctest: +SKIP
    >>> len(projections), n_heads  # doctest: +SKIP
    (6, 12)
    """
    attentions = _self_attentions(model)
    if not attentions:
        raise MultiattnValueError(
            f"found no attention output projection in {type(model).__name__}: it has no self-attention "
            "modules (Hugging Face attention layers or classes named *Attention); this architecture is "
            "not supported")
    n_heads = _n_heads(model, attentions[0][1])
    found = [_output_projection(model, name, n_heads) for name, _ in attentions]
    missing = [name for (name, _), proj in zip(attentions, found) if proj is None]
    if missing:
        raise MultiattnValueError(
            f"found no attention output projection in {type(model).__name__} under {missing[0]} (no Linear "
            f"whose input splits into its {n_heads} heads; e.g. XLNet projects with raw parameters); "
            "this architecture is not supported")
    n_layers = _n_layers(model)
    if _shares_layers(model, n_layers) and n_layers % len(found) == 0:  # ALBERT: one layer, every depth
        found = [proj for proj in found for _ in range(n_layers // len(found))]
    return found, n_heads


def _n_layers(model: Model) -> int:
    config = getattr(model, "config", None)
    value = getattr(config, "num_hidden_layers", None)
    return value if isinstance(value, int) and value > 0 else 0


def _shares_layers(model: Model, n_layers: int) -> bool:
    """Fewer layer modules than depths: every ``ModuleList`` is shorter than ``num_hidden_layers``.

    True for ALBERT (one shared layer group); False for hybrids (Qwen3-Next: ``layers`` has every
    depth, only some of them attention).
    """
    import torch

    lists = [len(m) for m in model.modules() if isinstance(m, torch.nn.ModuleList)]
    return n_layers > 0 and bool(lists) and max(lists) < n_layers


@contextmanager
def _scaled_heads(model: Model, scales: torch.Tensor) -> Iterator[None]:
    """Multiply head outputs by ``scales`` (torch tensor ``(L, H)``) inside the forward."""
    projections, n_heads = head_projections(model)
    if tuple(scales.shape) != (len(projections), n_heads):
        raise MultiattnValueError(
            f"head scales must have shape {(len(projections), n_heads)}, got {tuple(scales.shape)}"
        )

    depths: dict[int, list[int]] = {}
    for depth, proj in enumerate(projections):
        depths.setdefault(id(proj), []).append(depth)
    calls = {key: 0 for key in depths}

    def hook_for(key: int) -> Callable:
        def hook(_module: torch.nn.Module, args: tuple) -> tuple:
            layers = depths[key]
            layer = layers[calls[key] % len(layers)]  # a shared layer's n-th use is its n-th depth
            calls[key] += 1
            hidden = args[0]
            split = hidden.reshape(*hidden.shape[:-1], n_heads, hidden.shape[-1] // n_heads)
            return ((split * scales[layer][:, None]).reshape(hidden.shape), *args[1:])
        return hook

    def reset(_module: torch.nn.Module, _args: tuple) -> None:
        calls.update(dict.fromkeys(calls, 0))

    unique = {id(proj): proj for proj in projections}
    handles = [proj.register_forward_pre_hook(hook_for(key)) for key, proj in unique.items()]
    handles.append(model.register_forward_pre_hook(reset))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _check_heads(heads: Iterable[tuple[int, int]], shape: tuple[int, int]) -> list[tuple[int, int]]:
    out = []
    for item in heads:
        try:
            layer, head = (int(v) for v in item)
        except (TypeError, ValueError) as err:
            raise MultiattnValueError(f"heads must be (layer, head) pairs, got {item!r}") from err
        if not (0 <= layer < shape[0] and 0 <= head < shape[1]):
            raise MultiattnValueError(
                f"head {(layer, head)} out of range for {shape[0]} layers x {shape[1]} heads")
        out.append((layer, head))
    return out


@contextmanager
def ablate_heads(model: Model, heads: Iterable[tuple[int, int]], scale: float = 0.0) -> Iterator[Model]:
    """Within the block, multiply the output of each ``(layer, head)`` by ``scale`` (0 = removed).

    Parameters
    ----------
    model : torch.nn.Module
        A transformer with one attention output projection per layer (see the module docstring).
    heads : iterable of (layer, head)
        Heads to ablate, 0-based.
    scale : float
        Factor applied to their outputs.

    Yields
    ------
    model
        The same model; the hooks are removed on exit, even after an error.

    Example
    -------
    >>> with ablate_heads(model, [(1, 3)]):  # doctest: +SKIP
    ...     loss = model(**inputs, labels=inputs["input_ids"]).loss
    """
    import torch

    projections, n_heads = head_projections(model)
    scales = torch.ones(len(projections), n_heads)
    for layer, head in _check_heads(heads, (len(projections), n_heads)):
        scales[layer, head] = scale
    with _scaled_heads(model, scales):
        yield model


def _as_batches(inputs: list[Batch] | tuple[Batch, ...] | Batch) -> list[Batch]:
    batches = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not batches:
        raise MultiattnValueError("inputs is empty: give a dict of model inputs or a list of them")
    return batches


def head_importance(
    model: Model, inputs: list[Batch] | tuple[Batch, ...] | Batch,
    loss_fn: Callable[[Model, Batch], torch.Tensor], *, normalize_layers: bool = False,
) -> np.ndarray:
    """Michel et al. (2019) head importance: mean ``|dL/dm_h|`` of a head-mask variable at ``m = 1``.

    Parameters
    ----------
    model : torch.nn.Module
        The transformer (kept in its current train/eval mode; use ``eval()``).
    inputs : object or list of objects
        What ``loss_fn`` takes (a dict of model inputs, a tensor of ids...); with a
        list, importance is averaged over its elements (one gradient each).
    loss_fn : callable ``(model, inputs) -> scalar tensor``
        The loss whose sensitivity is measured, e.g.
        ``lambda m, x: m(**x, labels=x["input_ids"]).loss``.
    normalize_layers : bool
        Divide each layer's scores by their L2 norm (as in the paper's pruning experiments).

    Returns
    -------
    ndarray (L, H)
        Importance per layer and head (float64, >= 0).

    Example
    -------
    >>> def loss_fn(m, x):  # doctest: +SKIP
    ...     return m(**x, labels=x["input_ids"]).loss
    >>> scores = head_importance(model, batch, loss_fn)  # doctest: +SKIP
    >>> scores.shape  # doctest: +SKIP
    (2, 4)
    """
    import torch

    projections, n_heads = head_projections(model)
    total = np.zeros((len(projections), n_heads))
    batches = _as_batches(inputs)
    for batch in batches:
        mask = torch.ones(len(projections), n_heads, requires_grad=True)
        with torch.enable_grad(), _scaled_heads(model, mask):
            loss = loss_fn(model, batch)
            if not torch.is_tensor(loss) or loss.numel() != 1:
                raise MultiattnValueError("loss_fn must return a scalar tensor (one number with a gradient)")
            (grad,) = torch.autograd.grad(loss, mask)
        total += grad.abs().numpy()
    scores = total / len(batches)
    if normalize_layers:
        norms = np.linalg.norm(scores, axis=1, keepdims=True)
        scores = np.divide(scores, norms, out=np.zeros_like(scores), where=norms > 0)
    return scores


def pruning_curve(
    model: Model,
    inputs: Batch,
    metric_fn: Callable[[Model, Batch], float],
    importance: ArrayLike,
    *,
    n_random: int = 5,
    points: int | None = None,
    seed: int = 0,
) -> dict:
    """A metric as heads are removed least-important first, and in random orders.

    Parameters
    ----------
    model : torch.nn.Module
        The transformer.
    inputs : dict or list of dict
        Passed to ``metric_fn`` as given.
    metric_fn : callable ``(model, inputs) -> float``
        The quantity to track (loss, accuracy...), computed without gradients.
    importance : array (L, H)
        Head importance, e.g. from :func:`head_importance`.
    n_random : int
        Random removal orders for the baseline.
    points : int, optional
        Number of pruning levels from 0 to all heads; default every count.
    seed : int
        Seed of the random orders.

    Returns
    -------
    dict
        ``"fraction"`` ``(P,)`` share of heads removed, ``"by_importance"`` ``(P,)``,
        ``"random"`` ``(n_random, P)`` metric values, ``"order"``: the (layer, head)
        removal order by importance.

    Example
    -------
    >>> curve = pruning_curve(model, batch, loss_of, scores, n_random=3)  # doctest: +SKIP
    >>> curve["fraction"][0], curve["fraction"][-1]  # doctest: +SKIP
    (0.0, 1.0)
    """
    import torch

    projections, n_heads = head_projections(model)
    scores = np.asarray(importance, dtype=np.float64)
    if scores.shape != (len(projections), n_heads):
        raise MultiattnValueError(
            f"importance must have shape {(len(projections), n_heads)}, got {scores.shape}")
    if not np.isfinite(scores).all():
        raise MultiattnValueError("importance contains NaN or inf")
    if n_random < 0:
        raise MultiattnValueError(f"n_random must be >= 0, got {n_random}")
    n_total = scores.size
    counts = np.arange(n_total + 1) if points is None else np.unique(np.linspace(0, n_total, points).round())
    counts = counts.astype(int)
    all_heads = [divmod(int(i), n_heads) for i in range(n_total)]

    def curve(order: Sequence[tuple[int, int]]) -> np.ndarray:
        values = []
        for k in counts:
            with torch.no_grad(), ablate_heads(model, order[:k]):
                values.append(float(metric_fn(model, inputs)))
        return np.asarray(values)

    by_importance = [all_heads[i] for i in np.argsort(scores.ravel(), kind="stable")]
    rng = np.random.default_rng(seed)
    random = np.stack([curve([all_heads[i] for i in rng.permutation(n_total)]) for _ in range(n_random)]) \
        if n_random else np.zeros((0, counts.size))
    return {"fraction": counts / n_total, "by_importance": curve(by_importance), "random": random,
            "order": by_importance}
