"""Analysis in depth of one text input: attributions vs attention, head clusters, head pruning.

:func:`text_depth` runs the model for everything ``multiattn depth`` and ``multiattn report``
show, and returns numbers only (the renderers in :mod:`multiattn.renderers.writers`
draw them):

- the "is attention explanation?" table (:func:`multiattn.adapters.gradients.attention_vs_gradient`),
- heads clustered by the similarity of their attention over one or more inputs
  (:mod:`multiattn.analysis.clustering`), with their detected types,
- for language models (a ``lm_head``): Michel et al. (2019) head importance for the
  next-token loss and the pruning curve against random orders (:mod:`multiattn.adapters.ablation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only (torch is imported when a model runs)
    import torch

    from .._types import Model, Processor
    from ..grid import AttentionGrid

__all__ = ["lm_pruning", "text_depth"]


def text_depth(model: Model, text: str, *, processor: Processor = None, target: int = 0, steps: int = 32,
               extra_texts: Sequence[str] = ()) -> dict[str, Any]:
    """Attribution agreement, head clusters and (language models) head pruning for ``text``.

    Parameters
    ----------
    model, processor
        A Hugging Face encoder or decoder and its tokenizer.
    text : str
        The input explained.
    target : int
        Output token position explained (negative counts from the end).
    steps : int
        Integrated-gradients quadrature nodes.
    extra_texts : sequence of str
        More inputs for the head clustering (and the pruning loss, where their length matches).

    Returns
    -------
    dict
        ``"text"``, ``"target"``; ``"agreement"``: the
        :func:`~multiattn.adapters.gradients.attention_vs_gradient` result (``table``,
        ``attributions``, ``maps``, ``grid``); ``"clusters"``: ``similarity``, ``clusters``,
        ``redundant_pairs`` (cosine >= 0.9), ``coords`` + ``explained`` (PCA), ``types``,
        ``inputs``; ``"pruning"``: :func:`lm_pruning` or ``None`` without a ``lm_head``.

    Raises
    ------
    ValueError
        Empty text, or ``target`` outside the input's tokens.

    Examples
    --------
    >>> depth = text_depth(model, "The cat sat.", processor=tokenizer, steps=8)  # doctest: +SKIP
    >>> depth["agreement"]["table"][0]["map"], depth["clusters"]["similarity"].shape  # doctest: +SKIP
    ('raw L0', (72, 72))
    """
    from .gradients import attention_vs_gradient
    from .text import capture

    if not isinstance(text, str) or not text.strip():
        raise MultiattnValueError("the input text is empty; give a sentence")
    grid = capture(model, text, processor=processor)
    if not hasattr(grid, "values"):
        raise MultiattnValueError(
            "analysis in depth covers encoders and decoders; encoder-decoder models are "
                         "not supported (use multiattn text with --target)")
    if not -len(grid.query) <= target < len(grid.query):
        raise MultiattnValueError(f"token {target} is outside the {len(grid.query)} tokens of the input")
    agreement = attention_vs_gradient(model, text, processor=processor, target=target, steps=steps)
    grids = [agreement["grid"]] + [capture(model, t, processor=processor) for t in extra_texts]
    pruning = None
    if getattr(model, "lm_head", None) is not None:
        pruning = lm_pruning(model, [text, *extra_texts], processor=processor)
    return {"text": text, "target": target, "agreement": agreement, "clusters": _clusters(grids),
            "pruning": pruning}


def _clusters(grids: list[AttentionGrid]) -> dict[str, Any]:
    from ..analysis import head_types
    from ..analysis.clustering import cluster_heads, mean_head_similarity, project_heads, redundant_heads

    similarity = mean_head_similarity(grids)
    coords, explained = project_heads(similarity)
    n_heads = grids[0].n_heads
    return {"similarity": similarity, "clusters": cluster_heads(similarity), "n_heads": n_heads,
            "redundant_pairs": redundant_heads(similarity, n_heads, threshold=0.9),
            "coords": coords, "explained": explained, "inputs": len(grids),
            "types": [row["type"] for row in head_types(grids[0])]}


def _lm_loss(model: Model, ids: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids, labels=ids).loss


def _lm_metric(model: Model, ids: torch.Tensor) -> float:
    import torch

    with torch.no_grad():
        return float(_lm_loss(model, ids))


def lm_pruning(model: Model, texts: Sequence[str], *, processor: Processor = None,
               n_random: int = 5) -> dict[str, Any]:
    """Head importance for the next-token loss and the pruning curve of a language model.

    Parameters
    ----------
    model, processor
        A causal language model (with ``labels=`` loss) and its tokenizer.
    texts : sequence of str
        Inputs of the loss; those with as many tokens as the first are batched with it.
    n_random : int
        Random pruning orders of the baseline.

    Returns
    -------
    dict
        ``"importance"`` ``(L, H)`` (:func:`~multiattn.adapters.ablation.head_importance`) and
        ``"curve"`` (:func:`~multiattn.adapters.ablation.pruning_curve`: ``fraction``,
        ``by_importance``, ``random``, ``order``).

    Examples
    --------
    >>> out = lm_pruning(model, ["cat dog cat dog"], processor=tokenizer)  # doctest: +SKIP
    >>> out["importance"].shape  # doctest: +SKIP
    (2, 4)
    """
    import torch

    from .ablation import head_importance, pruning_curve

    encoded = [processor(t)["input_ids"] for t in texts]
    ids = torch.tensor([e for e in encoded if len(e) == len(encoded[0])])
    scores = head_importance(model, list(ids[:, None]), _lm_loss)
    return {"importance": scores, "curve": pruning_curve(model, ids, _lm_metric, scores, n_random=n_random)}
