"""One self-contained offline HTML page of the text and depth analyses of one input.

Model summary, head-type table, diagnostics with verdicts, metrics by layer and head, the
model view, the most important heads (language models), the attention-vs-gradient table,
the flow diagram and the head clusters.  Pictures are embedded as base64 PNG; every token,
label and verdict is HTML-escaped; nothing is loaded from the network.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from multiattn.grid import AttentionGrid

__all__ = ["write_report"]

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:2px 6px}"
    "th{background:#f3f3f3}img{max-width:100%;border:1px solid #ddd}code{background:#f5f5f5}"
)


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _num(value: float | None, fmt: str = ".3g") -> str:
    return "n/a" if value is None else format(value, fmt)


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


def _summary(grid: AttentionGrid, text: str, metrics: dict) -> str:
    esc = html.escape
    return (f"<h1>multiattn report</h1><p><b>Model</b>: {esc(str(metrics['model']))} "
            f"({esc(str(metrics['model_class']))}), {grid.n_layers} layers × {grid.n_heads} heads, "
            f"{len(grid.query)} tokens. <b>Input</b>: <code>{esc(text)}</code></p>"
            f"<p>Tokens: {' '.join('<code>' + esc(t) + '</code>' for t in grid.query.labels)}</p>")


def _page(grid: AttentionGrid, text: str, token: int, metrics: dict, agreement: dict, text_dir: Path,
          depth_dir: Path, extra: Sequence[str] = ()) -> str:
    types = [[r["layer"], r["head"], r["type"], _num(r["score"], ".2f")] for r in metrics["head_types"]]
    diagnostics = [[d["check"], _num(d["score"]), d["verdict"]] for d in metrics["diagnostics"]]
    kinds = [k for k in agreement["table"][0] if k != "map"] if agreement["table"] else []
    spearman = [[row["map"], *(_num(row[k], ".2f") for k in kinds)] for row in agreement["table"]]
    shares = [[layer, *(_num(v, ".2f") for v in values)] for layer, values in
              zip(grid.layers, zip(*metrics["special_share_by_layer"].values()))]
    sections = [
        _summary(grid, text, metrics),
        "<h2>Diagnostics</h2>" + _table(["check", "score", "verdict"], diagnostics),
        "<h2>Head types</h2><p>Dominant type and its score per head (definitions in "
        "<code>multiattn.analysis.heads</code>).</p>" + _table(["layer", "head", "type", "score"], types),
        "<h2>Metrics by layer and head</h2>" + _img(text_dir / "summary.png", "metrics by layer and head"),
        "<h3>Attention share on special tokens by layer</h3>"
        + _table(["layer", *metrics["special_share_by_layer"].keys()], shares),
        "<h2>Model view</h2>" + _img(text_dir / "model_view.png", "model view"),
        "<h2>Most important heads</h2>" + _important_heads(depth_dir),
        f"<h2>Is attention explanation? (output token {token}: {html.escape(grid.query.labels[token])})</h2>"
        "<p>Spearman rank correlation between gradient attributions and attention maps.</p>"
        + _table(["map", *kinds], spearman) + _img(depth_dir / "agreement.png", "agreement table"),
        "<h2>Attention flow through the layers</h2>" + _img(depth_dir / "flow.png", "flow diagram"),
        "<h2>Head clusters</h2>" + _img(depth_dir / "dendrogram.png", "head dendrogram")
        + _img(depth_dir / "projection.png", "head projection"),
        *extra,
    ]
    return ("<!doctype html><html><head><meta charset='utf-8'><title>multiattn report</title>"
            f"<style>{_STYLE}</style></head><body>" + "".join(sections) + "</body></html>")


def write_report(depth: Mapping[str, Any], out_path: str | Path, *, drift: Any = None) -> Path:
    """Write one self-contained HTML report of a :func:`~multiattn.adapters.textdepth.text_depth` result.

    Parameters
    ----------
    depth : dict
        ``text_depth(model, text, processor=tokenizer, target=token, steps=...)``: its grid,
        attribution table, head clusters and (language models) pruning are all shown.
    out_path : str or Path
        HTML file to write (parent folders are created).
    drift : DriftReport, or a folder / drift.json of ``multiattn drift --out DIR``, optional
        Adds the attention-drift section (:func:`~multiattn.renderers._write_drift.drift_section`).

    Returns
    -------
    Path
        ``out_path``.

    Examples
    --------
    >>> from multiattn.adapters.textdepth import text_depth
    >>> write_report(text_depth(model, "The cat sat.", processor=tok), "report.html")  # doctest: +SKIP
    PosixPath('report.html')
    """
    from ._write_depth import write_depth_report
    from ._write_drift import drift_section
    from ._write_text import write_text_report

    extra = [] if drift is None else [drift_section(drift)]  # first: a bad drift path fails fast
    grid = depth["agreement"]["grid"]
    with tempfile.TemporaryDirectory() as tmp:
        text_dir, depth_dir = Path(tmp) / "text", Path(tmp) / "depth"
        write_text_report(grid, text_dir)
        write_depth_report(depth, depth_dir)
        metrics = json.loads((text_dir / "metrics.json").read_text())
        agreement = json.loads((depth_dir / "agreement.json").read_text())
        page = _page(grid, depth["text"], depth["target"], metrics, agreement, text_dir, depth_dir, extra)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path
