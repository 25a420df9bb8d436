"""``multiattn report --model M --input TEXT --out report.html``: one self-contained report.

The report puts the text and depth analyses of one input on one offline HTML
page: model summary, head-type table, diagnostics with verdicts, metrics by
layer and head, the model view, the most important heads (language models),
the attention-vs-gradient table and the flow diagram.  Pictures are embedded
as base64 PNG; every token, label and verdict is HTML-escaped; nothing is
loaded from the network.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GALLERY_ORDER", "gallery", "register", "run", "write_report"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
    "th{background:#f3f3f3}img{max-width:100%;border:1px solid #ddd}code{background:#f5f5f5}"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one self-contained offline HTML report for a text input")
    p.add_argument("--model", default="minilm", help="minilm, induction or a local Hugging Face folder")
    p.add_argument("--input", required=True, help="the input text")
    p.add_argument("--token", type=int, default=0, help="output token explained by flow and attribution")
    p.add_argument("--steps", type=int, default=32, help="integrated-gradients steps")
    p.add_argument("--out", default="report.html", help="output HTML file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .text import load_text_model

    model, tokenizer = load_text_model(args.model)
    print(write_report(model, tokenizer, args.input, Path(args.out), token=args.token, steps=args.steps))
    return 0


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _important_heads(depth_dir: Path, top: int = 8) -> str:
    path = depth_dir / "importance.json"
    if not path.is_file():
        return ("<p>Head importance (Michel et al. 2019) needs a next-token loss: this model has no "
                "language-model head, so it is not computed here.</p>")
    scores = np.asarray(json.loads(path.read_text())["importance"])
    order = np.argsort(-scores, axis=None)[:top]
    rows = [[int(i // scores.shape[1]), int(i % scores.shape[1]), f"{scores.flat[i]:.4g}"] for i in order]
    return (_table(["layer", "head", "importance |dL/dm|"], rows)
            + _img(depth_dir / "pruning.png", "pruning curve"))


def write_report(model: Any, tokenizer: Any, text: str, out_path: Path, *, token: int = 0,
                 steps: int = 32) -> Path:
    """Analyse ``text`` with ``model`` and write one self-contained HTML report.

    Parameters
    ----------
    model, tokenizer
        A Hugging Face text model and its tokenizer (see ``multiattn text``).
    text : str
        The input.
    out_path : Path
        HTML file to write (parent folders are created).
    token : int
        Output token explained by the flow diagram and the attribution table.
    steps : int
        Integrated-gradients steps.

    Returns
    -------
    Path
        ``out_path``.

    Example
    -------
    >>> write_report(*load_minilm(), "The cat sat.", Path("report.html"))  # doctest: +SKIP
    """
    from ..adapters.text import capture
    from .depth import write_depth_report
    from .text import write_text_report

    if not text or not text.strip():
        raise ValueError("the input text is empty; pass a sentence with --input")
    grid = capture(model, tokenizer, text)
    if isinstance(grid, dict):
        raise ValueError("the report covers encoders and decoders; encoder-decoder models are not "
                         "supported yet (use multiattn text with --target)")
    if not 0 <= token < len(grid.query):
        raise ValueError(f"--token {token} is outside the {len(grid.query)} tokens of the input")
    with tempfile.TemporaryDirectory() as tmp:
        text_dir, depth_dir = Path(tmp) / "text", Path(tmp) / "depth"
        write_text_report(grid, text_dir)
        write_depth_report(model, tokenizer, text, depth_dir, token=token, steps=steps)
        metrics = json.loads((text_dir / "metrics.json").read_text())
        agreement = json.loads((depth_dir / "agreement.json").read_text())
        page = _page(grid, text, token, metrics, agreement, text_dir, depth_dir)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path


def _page(grid: Any, text: str, token: int, metrics: dict, agreement: dict, text_dir: Path,
          depth_dir: Path) -> str:
    esc = html.escape

    def num(value: Any, fmt: str = ".3g") -> str:
        return "n/a" if value is None else format(value, fmt)

    types = [[r["layer"], r["head"], r["type"], num(r["score"], ".2f")] for r in metrics["head_types"]]
    diagnostics = [[d["check"], num(d["score"]), d["verdict"]] for d in metrics["diagnostics"]]
    kinds = [k for k in agreement["table"][0] if k != "map"] if agreement["table"] else []
    spearman = [[row["map"], *(num(row[k], ".2f") for k in kinds)]
                for row in agreement["table"]]
    shares = [[layer, *(num(v, ".2f") for v in values)] for layer, values in
              zip(grid.layers, zip(*metrics["special_share_by_layer"].values()))]
    sections = [
        f"<h1>multiattn report</h1><p><b>Model</b>: {esc(str(metrics['model']))} "
        f"({esc(str(metrics['model_class']))}), {grid.n_layers} layers × {grid.n_heads} heads, "
        f"{len(grid.query)} tokens. <b>Input</b>: <code>{esc(text)}</code></p>"
        f"<p>Tokens: {' '.join('<code>' + esc(t) + '</code>' for t in grid.query.labels)}</p>",
        "<h2>Diagnostics</h2>" + _table(["check", "score", "verdict"], diagnostics),
        "<h2>Head types</h2><p>Dominant type and its score per head (definitions in "
        "<code>multiattn.analysis.heads</code>).</p>" + _table(["layer", "head", "type", "score"], types),
        "<h2>Metrics by layer and head</h2>" + _img(text_dir / "summary.png", "metrics by layer and head"),
        "<h3>Attention share on special tokens by layer</h3>"
        + _table(["layer", *metrics["special_share_by_layer"].keys()], shares),
        "<h2>Model view</h2>" + _img(text_dir / "model_view.png", "model view"),
        "<h2>Most important heads</h2>" + _important_heads(depth_dir),
        f"<h2>Is attention explanation? (output token {token}: {esc(grid.query.labels[token])})</h2>"
        "<p>Spearman rank correlation between gradient attributions and attention maps.</p>"
        + _table(["map", *kinds], spearman) + _img(depth_dir / "agreement.png", "agreement table"),
        "<h2>Attention flow through the layers</h2>" + _img(depth_dir / "flow.png", "flow diagram"),
        "<h2>Head clusters</h2>" + _img(depth_dir / "dendrogram.png", "head dendrogram")
        + _img(depth_dir / "projection.png", "head projection"),
    ]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>multiattn report</title>"
            f"<style>{_STYLE}</style></head><body>" + "".join(sections) + "</body></html>")


GALLERY_ORDER = 95


def gallery(out_dir: Path) -> list:
    """The report for one MiniLM sentence (opens offline in any browser)."""
    from ..zoo.text import load_minilm
    from . import GalleryItem

    path = write_report(*load_minilm(), "The quick brown fox jumps over the lazy dog.",
                        Path(out_dir) / "report_minilm.html", token=4, steps=16)
    return [GalleryItem("Report", "One-command report: MiniLM on one sentence", path,
                        "multiattn report --input '...' --out report.html: diagnostics, head types, metrics, "
                        "model view, attention-vs-gradient table, flow diagram, head clusters.")]
