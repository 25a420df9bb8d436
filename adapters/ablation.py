"""Head ablation, head importance (Michel et al. 2019) and pruning curves, by hooks.

Every head's output is scaled just before the attention output projection
(``attention.output.dense`` in BERT, ``attn.c_proj`` in GPT-2,
``self_attn.o_proj`` / ``out_proj`` in Llama / Whisper / BART, ``attn.proj`` in
timm ViTs; self-attention only): that projection's input is the concatenation of the heads'
outputs, ``(batch, tokens, heads * head_dim)``, so a forward pre-hook can
multiply head ``h`` by ``m_h``.  No ``head_mask`` argument is needed (newer
transformers versions dropped it).

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

#: Name suffixes of attention output projections, one module per layer.
OUTPUT_PROJECTIONS = ("attention.output.dense", "attn.c_proj", "self_attn.o_proj", "self_attn.out_proj",
                      "attention.out_lin", "attn.proj")


def _n_heads(model: Model, module: torch.nn.Module) -> int:
    config = getattr(model, "config", None)
    for source, name in ((config, "num_attention_heads"), (config, "n_head"), (module, "num_heads")):
        value = getattr(source, name, None)
        if isinstance(value, int) and value > 0:
            return value
    raise MultiattnValueError(
        f"cannot tell the number of heads of {type(model).__name__}: no config.num_attention_heads"
    )


def head_projections(model: Model) -> tuple[list[torch.nn.Module], int]:
    """The attention output projection of every layer (bottom first) and the heads per layer.

    Example
    -------
    >>> projections, n_heads = head_projections(model)  # doctest: +SKIP
    >>> len(projections), n_heads  # doctest: +SKIP
    (6, 12)
    """
    found = [module for name, module in model.named_modules()
             if name.endswith(OUTPUT_PROJECTIONS) and "crossattention" not in name]
    if not found:
        raise MultiattnValueError(
            f"found no attention output projection in {type(model).__name__} (looked for modules named "
            f"*{', *'.join(OUTPUT_PROJECTIONS)}); this architecture is not supported yet"
        )
    return found, _n_heads(model, found[0])


@contextmanager
def _scaled_heads(model: Model, scales: torch.Tensor) -> Iterator[None]:
    """Multiply head outputs by ``scales`` (torch tensor ``(L, H)``) inside the forward."""
    projections, n_heads = head_projections(model)
    if tuple(scales.shape) != (len(projections), n_heads):
        raise MultiattnValueError(
            f"head scales must have shape {(len(projections), n_heads)}, got {tuple(scales.shape)}"
        )

    def hook_for(layer: int) -> Callable:
        def hook(_module: torch.nn.Module, args: tuple) -> tuple:
            hidden = args[0]
            split = hidden.reshape(*hidden.shape[:-1], n_heads, hidden.shape[-1] // n_heads)
            return ((split * scales[layer][:, None]).reshape(hidden.shape), *args[1:])
        return hook

    handles = [proj.register_forward_pre_hook(hook_for(i)) for i, proj in enumerate(projections)]
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
