"""The files ``multiattn depth`` writes from :func:`multiattn.adapters.textdepth.text_depth`.

- ``flow.png``: Sankey-style flow of attention through the layers into the explained token,
- ``agreement.png`` + ``agreement.json``: Spearman correlation of gradient x input and
  integrated gradients with raw attention, rollout and flow at every layer,
- ``dendrogram.png``, ``clusters.json`` and ``projection.png``: heads clustered by the
  similarity of their attention and projected to 2-D (PCA), coloured by layer and type,
- with a language model, ``pruning.png`` + ``importance.json``: Michel et al. head importance
  and the pruning curve against random orders.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_depth_report"]


def _write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, indent=1))
    return path


def _agreement(depth: Mapping, out_dir: Path) -> list[Path]:
    from .figure import save_figure
    from .flow_diagram import flow_diagram
    from .population import agreement_table

    result = depth["agreement"]
    grid = result["grid"]
    written = [save_figure(flow_diagram(grid, depth["target"]).figure, out_dir / "flow.png")]
    ax = agreement_table(result["table"])
    ig = result["attributions"]["integrated_gradients"]
    ax.set_title(f"{ax.get_title()}\nexplaining {ig.meta['target']}; special tokens excluded", fontsize=8)
    written.append(save_figure(ax.figure, out_dir / "agreement.png"))
    summary = {"text": depth["text"], "table": result["table"],
               "attributions": {k: {"values": v.values.tolist(), "meta": v.meta}
                                for k, v in result["attributions"].items()},
               "tokens": list(grid.query.labels)}
    return [*written, _write_json(out_dir / "agreement.json", summary)]


def _clusters(clusters: Mapping, out_dir: Path) -> list[Path]:
    from .figure import save_figure
    from .population import head_dendrogram, head_projection

    n_heads = clusters["n_heads"]
    written = [save_figure(head_dendrogram(clusters["clusters"], n_heads).figure, out_dir / "dendrogram.png")]
    written.append(_write_json(out_dir / "clusters.json", {
        "inputs": clusters["inputs"], "cluster_of_head": clusters["clusters"]["labels"].tolist(),
        "redundant_pairs": clusters["redundant_pairs"]}))
    fig = head_projection(clusters["coords"], n_heads, clusters["types"], explained=clusters["explained"])
    fig.suptitle(f"heads projected by PCA of their similarity profiles ({clusters['inputs']} input(s))",
                 fontsize=10)
    return [*written, save_figure(fig, out_dir / "projection.png")]


def _pruning(pruning: Mapping, out_dir: Path) -> list[Path]:
    from .figure import save_figure
    from .population import pruning_plot

    curve = pruning["curve"]
    ax = pruning_plot(curve, "next-token loss (nats)")
    return [save_figure(ax.figure, out_dir / "pruning.png"), _write_json(out_dir / "importance.json", {
        "importance": pruning["importance"].tolist(), "fraction": curve["fraction"].tolist(),
        "by_importance": curve["by_importance"].tolist(), "random": curve["random"].tolist()})]


def write_depth_report(depth: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write the depth pictures and JSON files of one :func:`~multiattn.adapters.textdepth.text_depth` result.

    Parameters
    ----------
    depth : dict
        ``text_depth(model, text, processor=tokenizer, ...)``.
    out_dir : str or Path
        Created if missing.

    Returns
    -------
    list of Path
        ``flow.png``, ``agreement.png``, ``agreement.json``, ``dendrogram.png``, ``clusters.json``,
        ``projection.png`` and, for language models, ``pruning.png``, ``importance.json``.

    Examples
    --------
    >>> from multiattn.adapters.textdepth import text_depth
    >>> paths = write_depth_report(text_depth(model, "The cat sat.", processor=tok), "out")  # doctest: +SKIP
    >>> [p.name for p in paths][:3]  # doctest: +SKIP
    ['flow.png', 'agreement.png', 'agreement.json']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = _agreement(depth, out_dir) + _clusters(depth["clusters"], out_dir)
    if depth.get("pruning") is not None:
        written += _pruning(depth["pruning"], out_dir)
    return written
