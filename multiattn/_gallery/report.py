"""Report section: the one-command HTML report for one MiniLM sentence."""

from __future__ import annotations

from pathlib import Path

from . import GalleryItem


def render(out_dir: Path) -> list[GalleryItem]:
    """The report for one MiniLM sentence (opens offline in any browser)."""
    import multiattn
    from multiattn.adapters.textdepth import text_depth
    from multiattn.renderers.writers import write_report

    model, tokenizer = multiattn.load_model("minilm")
    depth = text_depth(model, "The quick brown fox jumps over the lazy dog.", processor=tokenizer,
                       target=4, steps=16)
    path = write_report(depth, Path(out_dir) / "report_minilm.html")
    return [GalleryItem("Report", "One-command report: MiniLM on one sentence", path,
                        "multiattn report --input '...' --out report.html: diagnostics, head types, metrics, "
                        "model view, attention-vs-gradient table, flow diagram, head clusters.")]
