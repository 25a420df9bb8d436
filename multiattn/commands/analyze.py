"""``multiattn analyze GRID.npz --out DIR``: metrics, head types and diagnostics of a saved grid.

Writes ``analysis.json`` (:func:`multiattn.analysis.report.analysis_report`)
and, for self-attention, ``summary.png`` (per-head metrics and head types);
prints the diagnostics' verdicts.  Any modality's grid works: save it with
``AttentionGrid.save(path)``.

The gallery section runs head-type detection on synthetic heads whose type is
known (:func:`multiattn.analysis.synthetic.synthetic_heads`) and states how
many are classified correctly.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np

from ..grid import AttentionGrid
from . import GalleryItem

__all__ = ["GALLERY_ORDER", "gallery", "load_grid", "register", "run", "write_analysis"]

GALLERY_ORDER = 90


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="metrics, head types and diagnostics of a saved grid (.npz)")
    p.add_argument("grid", help="a grid file written by AttentionGrid.save (.npz)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report_path, *pictures = write_analysis(load_grid(args.grid), Path(args.out))
    report = json.loads(report_path.read_text())
    for check in report["diagnostics"]:
        print(f"{check['check']}: {check['verdict']}")
    for path in (report_path, *pictures):
        print(path)
    return 0


def load_grid(path: str | Path) -> AttentionGrid:
    """Read a saved grid, turning unreadable files into a clear ValueError.

    Example
    -------
    >>> grid = load_grid("attention.npz")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no grid file at {path}; write one with AttentionGrid.save(path)")
    try:
        return AttentionGrid.load(path)
    except (OSError, zipfile.BadZipFile, KeyError, json.JSONDecodeError, ValueError) as err:
        raise ValueError(
            f"{path} is not a readable multiattn grid (.npz written by AttentionGrid.save): {err}"
        ) from err


def write_analysis(grid: AttentionGrid, out_dir: Path) -> list[Path]:
    """Write ``analysis.json`` and, for self-attention, ``summary.png``; return the paths.

    Example
    -------
    >>> paths = write_analysis(grid, Path("out"))  # doctest: +SKIP
    """
    from ..analysis.report import analysis_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = analysis_report(grid)
    path = out_dir / "analysis.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    written = [path]
    if "head_types" in report:
        from ..renderers._style import save_figure
        from ..renderers.summary import head_summary

        shown = ("entropy_normalized", "top1_weight", "first_token_share")
        metrics = {name: np.asarray(report["per_head"][name], dtype=float) for name in shown}
        fig = head_summary(metrics, report["head_types"], layer_labels=grid.layers,
                           head_labels=grid.heads)
        written.append(save_figure(fig, out_dir / "summary.png"))
    return written


def gallery(out_dir: Path) -> list[GalleryItem]:
    """Head-type detection on synthetic heads of known type."""
    from ..analysis import head_types
    from ..analysis.synthetic import synthetic_heads
    from ..axes import TokenAxis
    from ..renderers._style import save_figure
    from ..renderers.modelview import model_view
    from ..renderers.summary import head_summary

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
