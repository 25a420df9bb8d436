"""The files ``multiattn text`` writes for a text grid: four pictures and ``metrics.json``.

:func:`write_text_report` draws one head (heatmap + lines view; by default the head with
the strongest positional or induction pattern), the model view annotated with normalised
entropy, the per-head summary, and writes :func:`multiattn.analysis.textmetrics.text_metrics`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnIndexError
from multiattn.grid import AttentionGrid

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from matplotlib.figure import Figure

__all__ = ["write_text_report"]

#: Head types worth showing by default (sinks, broad and mixed heads make dull pictures).
SHOWCASE_TYPES = ("induction", "previous_token", "next_token", "offset", "local", "self")


def pick_head(report: Mapping, n_layers: int) -> tuple[int, int]:
    """The head with the highest score of a :data:`SHOWCASE_TYPES` type; ``(last layer, 0)`` if none.

    Examples
    --------
    >>> rows = [{"layer": 0, "head": 2, "type": "previous_token", "score": 0.9},
    ...         {"layer": 1, "head": 0, "type": "broad", "score": 1.0}]
    >>> pick_head({"head_types": rows}, 2), pick_head({}, 2)
    ((0, 2), (1, 0))
    """
    rows = [r for r in report.get("head_types", []) if r["type"] in SHOWCASE_TYPES]
    if not rows:
        return n_layers - 1, 0
    best = max(rows, key=lambda r: (r["score"], -r["layer"]))
    return best["layer"], best["head"]


def _title(grid: AttentionGrid, report: Mapping, layer: int, head: int) -> str:
    """``"<model>: layer.0, head 2\\nprevious token head (score 1.00)"``."""
    title = f"{grid.meta.get('model', '')}: {grid.layers[layer]}, head {grid.heads[head]}"
    row = next((r for r in report.get("head_types", []) if (r["layer"], r["head"]) == (layer, head)), None)
    if row is not None:
        title += f"\n{row['type'].replace('_', ' ')} head (score {row['score']:.2f})"
    return title


def _check_head(grid: AttentionGrid, layer: int, head: int) -> None:
    if not (-grid.n_layers <= layer < grid.n_layers and -grid.n_heads <= head < grid.n_heads):
        raise MultiattnIndexError(f"--layer {layer} --head {head} is outside the model's "
                         f"{grid.n_layers} layers x {grid.n_heads} heads")


def save_once(fig: Figure, path: Path) -> Path:
    """Write ``fig`` as a PNG like :func:`~.figure.save_figure`, drawing it once instead of twice.

    ``bbox_inches="tight"`` draws the whole figure to measure it, then draws it again to write it,
    solving a constrained layout each time. Here the layout is solved once and frozen, and the tight
    box is measured from the artists' extents (no rasterising) and handed to ``savefig``: the same
    picture (same box, padding, DPI and metadata) for one draw.

    Examples
    --------
    >>> import tempfile, matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(4, 3), layout="constrained")
    >>> path = save_once(fig, Path(tempfile.mkdtemp()) / "a.png")
    >>> path.name, path.stat().st_size > 0
    ('a.png', True)
    """
    import matplotlib.pyplot as plt

    from .figure import _NO_METADATA, DPI, plain_text_artists

    plain_text_artists(fig)
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
        fig.set_layout_engine("none")
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    fig.savefig(path, dpi=DPI, bbox_inches=box, metadata=_NO_METADATA["png"])
    plt.close(fig)
    return path


def _write_part(grid: AttentionGrid, report: dict, out_dir: Path, prefix: str,
                layer: int | None, head: int | None) -> list[Path]:
    from .heatmap import heatmap
    from .lines import lines_view
    from .modelview import model_view
    from .summary import head_summary

    auto_layer, auto_head = pick_head(report, grid.n_layers)
    lay, hd = (auto_layer if layer is None else layer), (auto_head if head is None else head)
    _check_head(grid, lay, hd)
    title = _title(grid, report, lay % grid.n_layers, hd % grid.n_heads)
    ax = heatmap(grid, lay, hd)
    ax.set_title(title, fontsize=9)
    written = [save_once(ax.figure, out_dir / f"{prefix}heatmap.png")]
    ax = lines_view(grid, lay, hd)
    ax.set_title(f"{title}\n{ax.get_title().splitlines()[-1]}", fontsize=9)
    written.append(save_once(ax.figure, out_dir / f"{prefix}lines.png"))
    entropy = np.asarray(report["per_head"]["entropy_normalized"], dtype=float)
    fig = model_view(grid, entropy, "normalised entropy (0 = one key, 1 = uniform)")
    written.append(save_once(fig, out_dir / f"{prefix}model_view.png"))
    if grid.kind == "self":
        shown = ("entropy_normalized", "attention_distance_tokens", "first_token_share")
        fig = head_summary({k: np.asarray(report["per_head"][k], dtype=float) for k in shown},
                           report["head_types"], layer_labels=grid.layers)
        written.append(save_once(fig, out_dir / f"{prefix}summary.png"))
    return written


def write_text_report(grids: AttentionGrid | Mapping[str, AttentionGrid], out_dir: str | Path, *,
                      layer: int | None = None, head: int | None = None) -> list[Path]:
    """Render heatmap, lines view, model view, summary and ``metrics.json`` for captured grids.

    Parameters
    ----------
    grids : AttentionGrid or GridSet
        :func:`multiattn.capture` output of a text model; the parts of a set (encoder /
        decoder / cross) are written with their name as file prefix (``encoder_heatmap.png``...)
        and ``metrics.json`` holds one report per part.
    out_dir : str or Path
        Created if missing.
    layer, head : int, optional
        Head drawn in the heatmap and lines view; default chosen from the head types
        (:func:`pick_head`).

    Returns
    -------
    list of Path
        Every file written, ``metrics.json`` last.

    Raises
    ------
    IndexError
        ``layer`` / ``head`` outside the grid.

    Examples
    --------
    >>> grid = multiattn.capture(model, "The cat sat.", processor=tok)  # doctest: +SKIP
    >>> paths = write_text_report(grid, "out")  # doctest: +SKIP
    >>> [p.name for p in paths]  # doctest: +SKIP
    ['heatmap.png', 'lines.png', 'model_view.png', 'summary.png', 'metrics.json']
    """
    from ..analysis.textmetrics import text_metrics

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = dict(grids) if isinstance(grids, Mapping) else {"": grids}
    metrics, written = {}, []
    for name, grid in parts.items():
        report = text_metrics(grid)
        metrics[name or "self"] = report
        written += _write_part(grid, report, out_dir, f"{name}_" if name else "", layer, head)
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(metrics if len(parts) > 1 else metrics["self"], indent=1) + "\n")
    return [*written, path]
