"""The files ``multiattn analyze`` writes for any saved grid: ``analysis.json`` and ``summary.png``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..grid import AttentionGrid

__all__ = ["write_analysis"]

_SHOWN = ("entropy_normalized", "top1_weight", "first_token_share")


def write_analysis(grid: AttentionGrid, out_dir: str | Path) -> list[Path]:
    """Write :func:`multiattn.analysis.report.analysis_report` as ``analysis.json`` and, for
    self-attention, ``summary.png`` (per-head metrics and detected head types).

    Parameters
    ----------
    grid : AttentionGrid
        Any modality's grid (e.g. ``multiattn.load_grids("g.npz")``).
    out_dir : str or Path
        Created if missing.

    Returns
    -------
    list of Path
        ``analysis.json`` first.

    Examples
    --------
    >>> [p.name for p in write_analysis(multiattn.load_grids("g.npz"), "out")]  # doctest: +SKIP
    ['analysis.json', 'summary.png']
    """
    from ..analysis.report import analysis_report
    from .figure import save_figure
    from .summary import head_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = analysis_report(grid)
    path = out_dir / "analysis.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    if "head_types" not in report:
        return [path]
    metrics = {name: np.asarray(report["per_head"][name], dtype=float) for name in _SHOWN}
    fig = head_summary(metrics, report["head_types"], layer_labels=grid.layers, head_labels=grid.heads)
    return [path, save_figure(fig, out_dir / "summary.png")]
