"""``multiattn text "a sentence" --out DIR``: text attention pictures and metrics.

Writes, for one model and one input:

- ``heatmap.png`` and ``lines.png``: one head (``--layer/--head``; default the
  head with the strongest positional or induction pattern),
- ``model_view.png``: every layer x head, annotated with normalised entropy,
- ``summary.png``: per-head metrics and detected head types,
- ``metrics.json``: per-head metrics, head types, the share of attention on each
  special token ([CLS], [SEP], <bos>...) by layer, and diagnostics.

Encoder-decoders (``--target``) get one set per part, prefixed ``encoder_``,
``decoder_`` and ``cross_`` (head types and summaries for self-attention only).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.report import jsonable
from ..grid import AttentionGrid
from . import GalleryItem

__all__ = ["GALLERY_ORDER", "gallery", "register", "run", "text_metrics", "write_text_report"]

GALLERY_ORDER = 10

#: Head types worth showing by default (sinks, broad and mixed heads make dull pictures).
_SHOWCASE_TYPES = ("induction", "previous_token", "next_token", "offset", "local", "self")
_MINILM_SENTENCE = "The quick brown fox jumps over the lazy dog because it was bored."


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text", help="attention of a text model on a sentence: pictures + metrics.json")
    p.add_argument("text", help="the input text")
    p.add_argument("--pair", default=None, help="optional second segment (sentence pair)")
    p.add_argument("--target", default=None,
                   help="encoder-decoders (T5, BART): the target text or decoder prompt (required there)")
    p.add_argument("--model", default="minilm",
                   help="'minilm' (default, embedded), 'induction' (embedded) or a local Hugging Face folder")
    p.add_argument("--layer", type=int, default=None, help="layer of heatmap and lines view (default: auto)")
    p.add_argument("--head", type=int, default=None, help="head of heatmap and lines view (default: auto)")
    p.add_argument("--max-length", type=int, default=None, help="token limit (default: the model's)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..adapters.text import capture

    model, tokenizer = load_text_model(args.model)
    grids = capture(model, tokenizer, args.text, args.pair, target=args.target, max_length=args.max_length)
    written = write_text_report(grids, Path(args.out), layer=args.layer, head=args.head)
    for path in written:
        print(path)
    return 0


def load_text_model(name: str) -> tuple[Any, Any]:
    """``"minilm"``, ``"induction"`` or a local Hugging Face folder -> (model, tokenizer), offline.

    Example
    -------
    >>> model, tokenizer = load_text_model("induction")  # doctest: +SKIP
    """
    from ..zoo.text import load_induction, load_minilm

    if name == "minilm":
        return load_minilm()
    if name == "induction":
        return load_induction()
    path = Path(name)
    if not path.is_dir() or not (path / "config.json").exists():
        raise FileNotFoundError(
            f"--model {name!r} is neither 'minilm', 'induction' nor a local Hugging Face folder with a "
            "config.json (models are never downloaded)"
        )
    from transformers import AutoConfig, AutoModel, AutoModelForSeq2SeqLM, AutoTokenizer

    config = AutoConfig.from_pretrained(path, local_files_only=True)
    loader = AutoModelForSeq2SeqLM if getattr(config, "is_encoder_decoder", False) else AutoModel
    model = loader.from_pretrained(path, local_files_only=True).eval()
    return model, AutoTokenizer.from_pretrained(path, local_files_only=True)


def _special_share_by_layer(grid: AttentionGrid) -> dict[str, list[float]]:
    """Mean (over heads and queries) share of attention on each special token label, per layer."""
    from ..analysis import special_share

    labels = np.asarray(grid.key.labels)
    special = grid.key.special_mask
    out = {}
    for label in dict.fromkeys(labels[special]):
        share = special_share(grid, mask=special & (labels == label))
        out[str(label)] = np.nanmean(share, axis=1)
    return out


def text_metrics(grid: AttentionGrid) -> dict:
    """Per-head metrics, head types, special-token share by layer and diagnostics of a text grid.

    Parameters
    ----------
    grid : AttentionGrid
        Self-attention over a TokenAxis (cross-attention grids get the per-head
        metrics that need no positions: entropy, top-1 and special share).

    Returns
    -------
    dict
        JSON-ready (NaN as None).  Per-head values are ``(L, H)`` nested lists.

    Example
    -------
    >>> report = text_metrics(grid)  # doctest: +SKIP
    >>> report["special_share_by_layer"]["[CLS]"]  # doctest: +SKIP
    [0.05, 0.21, ...]
    """
    from ..analysis import (
        attention_distance,
        first_token_share,
        head_diversity,
        head_entropy,
        head_types,
        locality,
        topk_concentration,
    )
    from ..analysis.diagnostics import diagnose

    per_head = {
        "entropy_nats": head_entropy(grid),
        "entropy_normalized": head_entropy(grid, normalized=True),
        "top1_weight": topk_concentration(grid, 1),
        "first_token_share": first_token_share(grid),
    }
    report: dict[str, Any] = {
        "model": grid.meta.get("model"),
        "model_class": grid.meta.get("model_class"),
        "kind": grid.kind,
        "layers": list(grid.layers),
        "query_tokens": list(grid.query.labels),
        "key_tokens": list(grid.key.labels),
        "special_share_by_layer": _special_share_by_layer(grid),
    }
    if grid.kind == "self":
        per_head["attention_distance_tokens"] = attention_distance(grid)
        per_head["share_within_2_tokens"] = locality(grid, 2)
        report["head_types"] = head_types(grid)
        if grid.n_heads > 1:
            report["head_diversity_by_layer"] = head_diversity(grid, by_layer=True)
        report["diagnostics"] = diagnose(grid)
    report["per_head"] = per_head
    return jsonable(report)


def _pick_head(report: dict, n_layers: int) -> tuple[int, int]:
    """The head with the highest score of a showcase type; (last layer, 0) if none."""
    rows = [r for r in report.get("head_types", []) if r["type"] in _SHOWCASE_TYPES]
    if not rows:
        return n_layers - 1, 0
    best = max(rows, key=lambda r: (r["score"], -r["layer"]))
    return best["layer"], best["head"]


def _title(grid: AttentionGrid, report: dict, layer: int, head: int) -> str:
    """``"<model>: layer.0, head 2 — previous token head (score 1.00)"``."""
    title = f"{grid.meta.get('model', '')}: {grid.layers[layer]}, head {grid.heads[head]}"
    row = next((r for r in report.get("head_types", []) if (r["layer"], r["head"]) == (layer, head)), None)
    if row is not None:
        title += f"\n{row['type'].replace('_', ' ')} head (score {row['score']:.2f})"
    return title


def write_text_report(
    grids: AttentionGrid | dict[str, AttentionGrid],
    out_dir: Path,
    *,
    layer: int | None = None,
    head: int | None = None,
) -> list[Path]:
    """Render heatmap, lines view, model view, summary and ``metrics.json`` for captured grids.

    Parameters
    ----------
    grids : AttentionGrid or dict of them
        :func:`multiattn.adapters.text.capture` output; dict parts are written
        with their name as file prefix (``encoder_heatmap.png``...).
    out_dir : Path
        Created if missing.
    layer, head : int, optional
        Head drawn in the heatmap and lines view; default chosen from the head types.

    Returns
    -------
    list of Path
        Every file written.

    Example
    -------
    >>> paths = write_text_report(grid, Path("out"))  # doctest: +SKIP
    """
    from ..renderers._style import save_figure
    from ..renderers.heatmap import heatmap
    from ..renderers.lines import lines_view
    from ..renderers.modelview import model_view
    from ..renderers.summary import head_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = grids if isinstance(grids, dict) else {"": grids}
    metrics, written = {}, []
    for name, grid in parts.items():
        prefix = f"{name}_" if name else ""
        report = text_metrics(grid)
        metrics[name or "self"] = report
        auto_layer, auto_head = _pick_head(report, grid.n_layers)
        lay = auto_layer if layer is None else layer
        hd = auto_head if head is None else head
        if not (-grid.n_layers <= lay < grid.n_layers and -grid.n_heads <= hd < grid.n_heads):
            raise ValueError(
                f"--layer {lay} --head {hd} is outside the model's "
                f"{grid.n_layers} layers x {grid.n_heads} heads"
            )
        title = _title(grid, report, lay % grid.n_layers, hd % grid.n_heads)
        ax = heatmap(grid, lay, hd)
        ax.set_title(title, fontsize=9)
        written.append(save_figure(ax.figure, out_dir / f"{prefix}heatmap.png"))
        ax = lines_view(grid, lay, hd)
        ax.set_title(f"{title}\n{ax.get_title().splitlines()[-1]}", fontsize=9)
        written.append(save_figure(ax.figure, out_dir / f"{prefix}lines.png"))
        entropy = np.asarray(report["per_head"]["entropy_normalized"], dtype=float)
        fig = model_view(grid, entropy, "normalised entropy (0 = one key, 1 = uniform)")
        written.append(save_figure(fig, out_dir / f"{prefix}model_view.png"))
        if grid.kind == "self":
            shown = {k: report["per_head"][k] for k in
                     ("entropy_normalized", "attention_distance_tokens", "first_token_share")}
            fig = head_summary({k: np.asarray(v, dtype=float) for k, v in shown.items()},
                               report["head_types"], layer_labels=grid.layers)
            written.append(save_figure(fig, out_dir / f"{prefix}summary.png"))
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(metrics if len(parts) > 1 else metrics["self"], indent=1) + "\n")
    written.append(path)
    return written


def _best_head(report: dict, kind: str, layer: int) -> tuple[int, float]:
    """The head of ``layer`` with the highest ``kind`` score, and that score."""
    rows = [r for r in report["head_types"] if r["layer"] == layer]
    best = max(rows, key=lambda r: r["scores"][kind] or 0.0)
    return best["head"], best["scores"][kind] or 0.0


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Text pictures on the embedded MiniLM and on the trained induction model."""
    from ..adapters.text import capture
    from ..renderers._style import save_figure
    from ..renderers.heatmap import heatmap
    from ..zoo.text import induction_prompt, load_induction, load_minilm

    out_dir = Path(out_dir)
    model, tokenizer = load_minilm()
    minilm_grid = capture(model, tokenizer, _MINILM_SENTENCE)
    minilm = write_text_report(minilm_grid, out_dir / "minilm", layer=0, head=2)
    model, tokenizer = load_induction()
    grid = capture(model, tokenizer, induction_prompt(10, seed=3))
    report = text_metrics(grid)
    look_head, look_score = _best_head(report, "induction", layer=1)
    prev_head, prev_score = _best_head(report, "previous_token", layer=0)
    induction = write_text_report(grid, out_dir / "induction", layer=1, head=look_head)
    ax = heatmap(grid, 0, prev_head)
    ax.set_title(f"{ax.get_title()} — previous-token score {prev_score:.2f}", fontsize=9)
    previous = save_figure(ax.figure, out_dir / "induction" / "layer0_previous_token.png")
    section = "Text"
    return [
        GalleryItem(section, "MiniLM: previous-token head (layer 0, head 2)", minilm[0],
                    "Each query row puts almost all its weight on the token before it."),
        GalleryItem(section, "MiniLM: lines view of layer 0, head 2", minilm[1],
                    "Query tokens on the left, keys on the right, line width = attention weight."),
        GalleryItem(section, "MiniLM: model view (6 layers x 12 heads)", minilm[2],
                    "Every head of every layer; the number is the normalised row entropy."),
        GalleryItem(section, "MiniLM: head metrics and detected head types", minilm[3], ""),
        GalleryItem(section, f"Induction model: induction head (layer 1, head {look_head})", induction[0],
                    f"A 2-layer GPT-2 trained in-repo on sequences of random word pairs. On a repeated "
                    f"prompt (10 words, then the same 10) each word of the second copy attends to the "
                    f"token right after its earlier occurrence (induction score {look_score:.2f})."),
        GalleryItem(section, f"Induction model: previous-token head (layer 0, head {prev_head})", previous,
                    "The layer-0 head that feeds the induction head: each token attends to its predecessor."),
        GalleryItem(section, "Induction model: lines view of the induction head", induction[1], ""),
        GalleryItem(section, "Induction model: model view", induction[2], ""),
    ]
