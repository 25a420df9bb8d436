"""Text section: MiniLM (real weights) and the in-repo induction model."""

from __future__ import annotations

from pathlib import Path

from . import GalleryItem

_SENTENCE = "The quick brown fox jumps over the lazy dog because it was bored."
_SECTION = "Text"


def _best_head(report: dict, kind: str, layer: int) -> tuple[int, float]:
    """The head of ``layer`` with the highest ``kind`` score, and that score."""
    rows = [r for r in report["head_types"] if r["layer"] == layer]
    best = max(rows, key=lambda r: r["scores"][kind] or 0.0)
    return best["head"], best["scores"][kind] or 0.0


def render(out_dir: Path) -> list[GalleryItem]:
    """Text pictures on the embedded MiniLM and on the trained induction model."""
    import multiattn
    from multiattn.analysis.textmetrics import text_metrics
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.heatmap import heatmap
    from multiattn.renderers.writers import write_text_report

    out_dir = Path(out_dir)
    model, tokenizer = multiattn.load_model("minilm")
    minilm = write_text_report(multiattn.capture(model, _SENTENCE, processor=tokenizer), out_dir / "minilm",
                               layer=0, head=2)
    model, tokenizer = multiattn.load_model("induction")
    grid = multiattn.capture(model, multiattn.zoo.sample("induction"), processor=tokenizer)
    report = text_metrics(grid)
    look_head, look_score = _best_head(report, "induction", layer=1)
    prev_head, prev_score = _best_head(report, "previous_token", layer=0)
    induction = write_text_report(grid, out_dir / "induction", layer=1, head=look_head)
    ax = heatmap(grid, 0, prev_head)
    ax.set_title(f"{ax.get_title()} — previous-token score {prev_score:.2f}", fontsize=9)
    previous = save_figure(ax.figure, out_dir / "induction" / "layer0_previous_token.png")
    return [
        GalleryItem(_SECTION, "MiniLM: previous-token head (layer 0, head 2)", minilm[0],
                    "Each query row puts almost all its weight on the token before it."),
        GalleryItem(_SECTION, "MiniLM: lines view of layer 0, head 2", minilm[1],
                    "Query tokens on the left, keys on the right, line width = attention weight."),
        GalleryItem(_SECTION, "MiniLM: model view (6 layers x 12 heads)", minilm[2],
                    "Every head of every layer; the number is the normalised row entropy."),
        GalleryItem(_SECTION, "MiniLM: head metrics and detected head types", minilm[3], ""),
        GalleryItem(_SECTION, f"Induction model: induction head (layer 1, head {look_head})", induction[0],
                    f"A 2-layer GPT-2 trained in-repo on sequences of random word pairs. On a repeated "
                    f"prompt (10 words, then the same 10) each word of the second copy attends to the "
                    f"token right after its earlier occurrence (induction score {look_score:.2f})."),
        GalleryItem(_SECTION, f"Induction model: previous-token head (layer 0, head {prev_head})", previous,
                    "The layer-0 head that feeds the induction head: each token attends to its predecessor."),
        GalleryItem(_SECTION, "Induction model: lines view of the induction head", induction[1], ""),
        GalleryItem(_SECTION, "Induction model: model view", induction[2], ""),
    ]
