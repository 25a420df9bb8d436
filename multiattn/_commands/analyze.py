"""``multiattn analyze GRID.npz --out DIR``: metrics, head types and diagnostics of a saved grid.

Reads a grid or a GridSet (``--save`` of any capturing command, ``grid.save(path)``), writes
``analysis.json`` and, for self-attention, ``summary.png``
(:func:`multiattn.renderers.writers.write_analysis`), and prints the diagnostics' verdicts.
"""

from __future__ import annotations

import argparse
import json

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="metrics, head types and diagnostics of a saved grid (.npz)")
    p.add_argument("path", metavar="GRID.npz", help="a grid or GridSet file (--save, AttentionGrid.save)")
    p.add_argument("--grid", dest="name", default=None,
                   help="which grid of a GridSet (default: 'cross' if present, else the first)")
    p.add_argument("--out", required=True, help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from multiattn.renderers.writers import write_analysis

    report_path, *pictures = write_analysis(_common.read_grid(args.path, args.name), args.out)
    for check in json.loads(report_path.read_text())["diagnostics"]:
        print(f"{check['check']}: {check['verdict']}")
    _common.emit([report_path, *pictures])
    return 0
