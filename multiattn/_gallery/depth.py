"""Analysis-in-depth section: MiniLM flow, Spearman table and head clusters; induction pruning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import GalleryItem

_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "She sold the old car because it kept breaking down.",
    "Paris is the capital of France, and Rome is the capital of Italy.",
    "After the rain stopped, the children ran outside to play.",
    "The committee will meet on Monday to discuss the budget.",
)
_SECTION = "Analysis in depth"


def _write(name: str, texts: tuple[str, ...], out_dir: Path, *, token: int, steps: int) -> None:
    import multiattn
    from multiattn.adapters.textdepth import text_depth
    from multiattn.renderers.writers import write_depth_report

    model, tokenizer = multiattn.load_model(name)
    depth = text_depth(model, texts[0], processor=tokenizer, target=token, steps=steps, extra_texts=texts[1:])
    write_depth_report(depth, out_dir)


def render(out_dir: Path) -> list[GalleryItem]:
    """Depth pictures: MiniLM flow, Spearman table and head clustering; induction-model pruning."""
    from multiattn.zoo._text import induction_prompt

    out_dir = Path(out_dir)
    minilm, induction = out_dir / "minilm", out_dir / "induction"
    _write("minilm", _SENTENCES, minilm, token=4, steps=32)
    _write("induction", tuple(induction_prompt(12, seed=s) for s in range(6)), induction, token=-1, steps=16)
    table = json.loads((minilm / "agreement.json").read_text())["table"]
    best = max(table, key=lambda r: np.nan_to_num(r["integrated_gradients"], nan=-2))
    return [
        GalleryItem(_SECTION, "MiniLM: attention flow into 'fox'", minilm / "flow.png",
                    "Head-averaged attention with the residual path, followed down from one output token; "
                    "width and colour = share of that token."),
        GalleryItem(_SECTION, "MiniLM: is attention explanation?", minilm / "agreement.png",
                    f"Spearman rank correlation of |gradient x input| and |integrated gradients| with raw "
                    f"attention, rollout and flow per layer; best agreement {best['map']} "
                    f"(rho = {best['integrated_gradients']:+.2f})."),
        GalleryItem(_SECTION, "MiniLM: head dendrogram (5 sentences)", minilm / "dendrogram.png",
                    "Average-linkage clustering on 1 - cosine similarity of the heads' attention."),
        GalleryItem(_SECTION, "MiniLM: heads projected to 2-D", minilm / "projection.png",
                    "PCA of each head's similarity profile, coloured by layer and by detected type."),
        GalleryItem(_SECTION, "Induction model: pruning curve", induction / "pruning.png",
                    "Next-token loss as heads are ablated least-important first (Michel et al. 2019) "
                    "versus random orders."),
        GalleryItem(_SECTION, "Induction model: attention flow into the last token", induction / "flow.png",
                    "The 2-layer model on a repeated word sequence (6 prompts for the clustering)."),
    ]
