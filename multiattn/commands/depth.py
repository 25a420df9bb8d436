"""``multiattn depth "a sentence" --out DIR``: analysis in depth for one input.

Writes:

- ``flow.png``: Sankey-style flow of attention through the layers into one output token,
- ``agreement.png`` + ``agreement.json``: Spearman correlation of gradient x input
  and integrated gradients with raw attention, rollout and flow at every layer,
- ``dendrogram.png``, ``clusters.json`` and ``projection.png``: heads clustered by the
  similarity of their attention (cluster per head, redundant pairs with cosine
  similarity >= 0.9) and projected to 2-D (PCA), coloured by layer and detected type,
- with a language model (logits), ``pruning.png`` + ``importance.json``: Michel et al.
  head importance for next-token loss and the pruning curve against random orders.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from . import GalleryItem

__all__ = ["GALLERY_ORDER", "gallery", "register", "run", "write_depth_report"]

GALLERY_ORDER = 80

_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "She sold the old car because it kept breaking down.",
    "Paris is the capital of France, and Rome is the capital of Italy.",
    "After the rain stopped, the children ran outside to play.",
    "The committee will meet on Monday to discuss the budget.",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("depth", help="flow diagram, attention-vs-gradient table, head clustering (+ pruning)")
    p.add_argument("text", help="the input text")
    p.add_argument("--model", default="minilm",
                   help="'minilm' (default, embedded), 'induction' (embedded) or a local Hugging Face folder")
    p.add_argument("--token", type=int, default=0, help="output token explained (default 0 = [CLS] / first)")
    p.add_argument("--steps", type=int, default=32, help="integrated-gradients quadrature nodes")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .text import load_text_model

    model, tokenizer = load_text_model(args.model)
    for path in write_depth_report(model, tokenizer, args.text, Path(args.out), token=args.token,
                                   steps=args.steps):
        print(path)
    return 0


def _lm_loss(model: Any, ids: Any) -> Any:
    return model(input_ids=ids, labels=ids).loss


def _lm_metric(model: Any, ids: Any) -> float:
    import torch

    with torch.no_grad():
        return float(_lm_loss(model, ids))


def write_depth_report(model: Any, tokenizer: Any, text: str, out_dir: Path, *, token: int = 0,
                       steps: int = 32, extra_texts: tuple[str, ...] = ()) -> list[Path]:
    """Write the depth pictures for one input (head clustering over ``text`` + ``extra_texts``).

    Example
    -------
    >>> write_depth_report(*load_minilm(), "The cat sat.", Path("out"))  # doctest: +SKIP
    """
    import torch

    from ..adapters.ablation import head_importance, pruning_curve
    from ..adapters.attribution import attention_vs_gradient
    from ..adapters.text import capture
    from ..analysis import head_types
    from ..analysis.clustering import cluster_heads, mean_head_similarity, project_heads, redundant_heads
    from ..renderers._style import save_figure
    from ..renderers.flow_diagram import flow_diagram
    from ..renderers.heads import agreement_table, head_dendrogram, head_projection, pruning_plot

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = attention_vs_gradient(model, tokenizer, text, target=token, steps=steps)
    grid = result["grid"]
    written = [save_figure(flow_diagram(grid, token).figure, out_dir / "flow.png")]
    ax = agreement_table(result["table"])
    ig = result["attributions"]["integrated_gradients"]
    ax.set_title(f"{ax.get_title()}\nexplaining {ig.meta['target']}; special tokens excluded", fontsize=8)
    written.append(save_figure(ax.figure, out_dir / "agreement.png"))
    summary = {"text": text, "table": result["table"],
               "attributions": {k: {"values": v.values.tolist(), "meta": v.meta}
                                for k, v in result["attributions"].items()},
               "tokens": list(grid.query.labels)}
    (out_dir / "agreement.json").write_text(json.dumps(summary, indent=1))
    written.append(out_dir / "agreement.json")

    grids = [grid] + [capture(model, tokenizer, t) for t in extra_texts]
    similarity = mean_head_similarity(grids)
    clusters = cluster_heads(similarity)
    written.append(save_figure(head_dendrogram(clusters, grid.n_heads).figure, out_dir / "dendrogram.png"))
    (out_dir / "clusters.json").write_text(json.dumps({
        "inputs": len(grids), "cluster_of_head": clusters["labels"].tolist(),
        "redundant_pairs": redundant_heads(similarity, grid.n_heads, threshold=0.9)}, indent=1))
    written.append(out_dir / "clusters.json")
    coords, explained = project_heads(similarity)
    types = [row["type"] for row in head_types(grid)]
    fig = head_projection(coords, grid.n_heads, types, explained=explained)
    fig.suptitle(f"heads projected by PCA of their similarity profiles ({len(grids)} input(s))", fontsize=10)
    written.append(save_figure(fig, out_dir / "projection.png"))

    if getattr(model, "lm_head", None) is not None:
        ids = torch.tensor([tokenizer(t)["input_ids"] for t in (text, *extra_texts)
                            if len(tokenizer(t)["input_ids"]) == len(grid.query)] or
                           [tokenizer(text)["input_ids"]])
        scores = head_importance(model, list(ids[:, None]), _lm_loss)
        curve = pruning_curve(model, ids, _lm_metric, scores, n_random=5)
        ax = pruning_plot(curve, "next-token loss (nats)")
        written.append(save_figure(ax.figure, out_dir / "pruning.png"))
        (out_dir / "importance.json").write_text(json.dumps({
            "importance": scores.tolist(), "fraction": curve["fraction"].tolist(),
            "by_importance": curve["by_importance"].tolist(), "random": curve["random"].tolist()}, indent=1))
        written.append(out_dir / "importance.json")
    return written


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Depth pictures: MiniLM flow, Spearman table and head clustering; induction-model pruning."""
    from ..zoo.text import induction_prompt, load_induction, load_minilm

    out_dir = Path(out_dir)
    minilm, induction = out_dir / "minilm", out_dir / "induction"
    write_depth_report(*load_minilm(), _SENTENCES[0], minilm, token=4, steps=32, extra_texts=_SENTENCES[1:])
    prompts = tuple(induction_prompt(12, seed=s) for s in range(6))
    write_depth_report(*load_induction(), prompts[0], induction, token=-1, steps=16, extra_texts=prompts[1:])
    table = json.loads((minilm / "agreement.json").read_text())["table"]
    best = max(table, key=lambda r: np.nan_to_num(r["integrated_gradients"], nan=-2))
    section = "Analysis in depth"
    return [
        GalleryItem(section, "MiniLM: attention flow into 'fox'", minilm / "flow.png",
                    "Head-averaged attention with the residual path, followed down from one output token; "
                    "width and colour = share of that token."),
        GalleryItem(section, "MiniLM: is attention explanation?", minilm / "agreement.png",
                    f"Spearman rank correlation of |gradient x input| and |integrated gradients| with raw "
                    f"attention, rollout and flow per layer; best agreement {best['map']} "
                    f"(rho = {best['integrated_gradients']:+.2f})."),
        GalleryItem(section, "MiniLM: head dendrogram (5 sentences)", minilm / "dendrogram.png",
                    "Average-linkage clustering on 1 - cosine similarity of the heads' attention."),
        GalleryItem(section, "MiniLM: heads projected to 2-D", minilm / "projection.png",
                    "PCA of each head's similarity profile, coloured by layer and by detected type."),
        GalleryItem(section, "Induction model: pruning curve", induction / "pruning.png",
                    "Next-token loss as heads are ablated least-important first (Michel et al. 2019) "
                    "versus random orders."),
        GalleryItem(section, "Induction model: attention flow into the last token", induction / "flow.png",
                    "The 2-layer model on a repeated word sequence (6 prompts for the clustering)."),
    ]
