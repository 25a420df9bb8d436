"""Analysis section: head-type detection on synthetic heads whose type is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import GalleryItem


def render(out_dir: Path) -> list[GalleryItem]:
    """Synthetic heads (one per type), their detected types, and how many are right."""
    from multiattn import AttentionGrid, TokenAxis
    from multiattn.analysis import head_types
    from multiattn.analysis.synthetic import synthetic_heads
    from multiattn.renderers.figure import save_figure
    from multiattn.renderers.modelview import model_view
    from multiattn.renderers.summary import head_summary

    out_dir = Path(out_dir)
    values, tokens, true_types = synthetic_heads()
    grid = AttentionGrid(values, TokenAxis(tokens), layers=["synthetic"],
                         heads=[t.replace("_token", "") for t in true_types],
                         meta={"model": "synthetic heads (column = true type)"})
    rows = head_types(grid)
    correct = sum(r["type"] == t for r, t in zip(rows, true_types))
    scores = np.array([[r["score"] for r in rows]])
    thumbs = save_figure(model_view(grid, scores, "score of the detected type"),
                         out_dir / "synthetic_heads.png")
    fig = head_summary(None, rows, layer_labels=grid.layers, head_labels=grid.heads)
    summary = save_figure(fig, out_dir / "synthetic_head_types.png")
    caption = (f"{correct} of {len(true_types)} synthetic heads (tokens: {' '.join(tokens)}) are "
               "classified as their true type by multiattn.analysis.head_types.")
    return [
        GalleryItem("Analysis", "Synthetic heads, one per type", thumbs,
                    "Ideal attention patterns on 8 tokens whose second half repeats the first; "
                    "the corner number is the score of the detected type."),
        GalleryItem("Analysis", "Detected head types on the synthetic heads", summary, caption),
    ]
