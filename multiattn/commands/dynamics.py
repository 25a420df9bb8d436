"""``multiattn corpus FILE.txt --out stats.csv``: per-head statistics over a text file.

Also the gallery's training-dynamics figure: the embedded induction model at
its shipped checkpoints, scored on one repeated prompt, with the training loss.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import GalleryItem

__all__ = ["CORPUS_METRICS", "GALLERY_ORDER", "gallery", "register", "run", "write_dynamics_figure"]

GALLERY_ORDER = 85

#: Metrics the ``corpus`` command can compute, name -> what it is.
CORPUS_METRICS = {
    "entropy": "normalised row entropy (1 = uniform)",
    "distance": "mean attention distance (tokens)",
    "first_token": "share of attention on the first token",
    "previous_token": "share of attention on the previous token",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="per-head metric statistics over a text file (one input per line)")
    p.add_argument("file", help="text file, one input per line (blank lines skipped)")
    p.add_argument("--out", required=True, help="CSV to write (metric, layer, head, mean, std, quantiles)")
    p.add_argument("--model", default="minilm",
                   help="'minilm' (default, embedded), 'induction' (embedded) or a local Hugging Face folder")
    p.add_argument("--metrics", default="entropy,distance,first_token",
                   help=f"comma-separated, from: {', '.join(CORPUS_METRICS)}")
    p.add_argument("--max-length", type=int, default=None, help="token limit per input (default: model's)")
    p.set_defaults(func=run)


def _metric_functions(names: str) -> dict[str, Any]:
    from ..analysis import attention_distance, first_token_share, head_entropy, head_type_scores

    table = {
        "entropy": lambda attn: head_entropy(attn, normalized=True),
        "distance": attention_distance,
        "first_token": first_token_share,
        "previous_token": lambda attn: head_type_scores(attn)["previous_token"],
    }
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in table]
    if unknown or not chosen:
        raise ValueError(f"unknown metrics {unknown or names!r}; choose from {', '.join(CORPUS_METRICS)}")
    return {name: table[name] for name in chosen}


def run(args: argparse.Namespace) -> int:
    from ..adapters.text import capture
    from ..analysis.corpus import corpus_statistics, save_csv
    from .text import load_text_model

    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file; pass a text file with one input per line")
    metrics = _metric_functions(args.metrics)
    model, tokenizer = load_text_model(args.model)
    with path.open(encoding="utf-8") as lines:
        stats = corpus_statistics(
            lines, lambda text: capture(model, tokenizer, text, max_length=args.max_length), metrics
        )
    print(save_csv(stats, args.out))
    print(f"{stats['n_inputs']} inputs, metrics: {', '.join(metrics)}")
    return 0


def write_dynamics_figure(out_path: Path, prompt_words: int = 16, seed: int = 0) -> tuple[Path, dict]:
    """Score the induction checkpoints on one repeated prompt and save the dynamics figure.

    Returns the PNG path and the metrics (:func:`~multiattn.analysis.dynamics.metrics_by_step`).

    Example
    -------
    >>> path, metrics = write_dynamics_figure(Path("dynamics.png"))  # doctest: +SKIP
    """
    from ..adapters.text import capture
    from ..analysis.dynamics import metrics_by_step
    from ..renderers._style import save_figure
    from ..renderers.dynamics import dynamics_plot
    from ..zoo.text import induction_checkpoints, induction_prompt, induction_training_loss, load_induction

    _, tokenizer = load_induction()
    prompt = induction_prompt(prompt_words, seed=seed)
    grids = {step: capture(model, tokenizer, prompt) for step, model in induction_checkpoints().items()}
    metrics = metrics_by_step(grids)
    fig = dynamics_plot(metrics, induction_training_loss(), title=(
        f"Induction GPT-2 (2 layers x 4 heads) forming its induction head\n"
        f"scores on one prompt of {prompt_words} random words repeated, mean over its queries"))
    return save_figure(fig, out_path), metrics


def gallery(out_dir: Path) -> list[GalleryItem]:
    """The training-dynamics figure of the embedded induction model."""
    path, metrics = write_dynamics_figure(Path(out_dir) / "training_dynamics.png")
    first, last = metrics["induction"][0, 1].max(), metrics["induction"][-1, 1].max()
    return [GalleryItem(
        "Training dynamics", "Induction model: the induction head forms", path,
        f"Induction and previous-token score of every head at {len(metrics['steps'])} checkpoints; the best "
        f"layer-1 induction score goes from {first:.2f} at step 0 to {last:.2f} at step "
        f"{metrics['steps'][-1]}, suddenly, as the training loss on repeated pairs collapses.",
    )]
