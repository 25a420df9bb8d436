"""Training-dynamics section: the induction model's checkpoints forming the induction head."""

from __future__ import annotations

from pathlib import Path

from . import GalleryItem


def dynamics_figure(out_path: Path, prompt_words: int = 16, seed: int = 0) -> tuple[Path, dict]:
    """Score the induction checkpoints on one repeated prompt and save the dynamics figure.

    Returns the PNG path and the metrics (:func:`~multiattn.analysis.dynamics.metrics_by_step`).
    """
    import multiattn
    from multiattn.analysis.dynamics import metrics_by_step
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.training import dynamics_plot
    from multiattn.zoo._text import induction_checkpoints, induction_prompt, induction_training_loss

    _, tokenizer = multiattn.load_model("induction")
    prompt = induction_prompt(prompt_words, seed=seed)
    grids = {step: multiattn.capture(model, prompt, processor=tokenizer)
             for step, model in induction_checkpoints().items()}
    metrics = metrics_by_step(grids)
    fig = dynamics_plot(metrics, induction_training_loss(), title=(
        f"Induction GPT-2 (2 layers x 4 heads) forming its induction head\n"
        f"scores on one prompt of {prompt_words} random words repeated, mean over its queries"))
    return save_figure(fig, out_path), metrics


def render(out_dir: Path) -> list[GalleryItem]:
    """The training-dynamics figure of the embedded induction model."""
    path, metrics = dynamics_figure(Path(out_dir) / "training_dynamics.png")
    first, last = metrics["induction"][0, 1].max(), metrics["induction"][-1, 1].max()
    return [GalleryItem(
        "Training dynamics", "Induction model: the induction head forms", path,
        f"Induction and previous-token score of every head at {len(metrics['steps'])} checkpoints; the best "
        f"layer-1 induction score goes from {first:.2f} at step 0 to {last:.2f} at step "
        f"{metrics['steps'][-1]}, suddenly, as the training loss on repeated pairs collapses.",
    )]
