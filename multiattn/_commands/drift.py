"""``multiattn drift REFERENCE NEW --out DIR``: where attention moved between two profiles or stores.

REFERENCE and NEW are profiles (``.npz`` from ``multiattn corpus --profile``) or stores
(``.duckdb`` / Parquet folder written by :func:`multiattn.monitor`).  Writes ``drift_heatmap.png``
(layer × head KS distance), ``drift_distributions.png`` (the most drifted heads, before/after)
and ``drift.json`` (scores, thresholds, verdicts, one row per drifted head); ``--html`` also
writes ``drift.html``, one offline page of it all (``multiattn report --drift DIR`` puts the same
section into the text report).  Prints the verdicts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from multiattn.errors import MultiattnFileNotFoundError

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("drift", help="compare two attention profiles / monitor stores: heatmap, "
                                     "distributions, JSON report")
    p.add_argument("reference", help="reference profile (.npz) or store (.duckdb, Parquet folder)")
    p.add_argument("new", help="new profile (.npz) or store (.duckdb, Parquet folder)")
    p.add_argument("--out", required=True,
                   help="folder for drift_heatmap.png, drift_distributions.png, drift.json")
    p.add_argument("--where", default=None, help="SQL condition picking NEW's window when it is a store, "
                                                 "e.g. \"ts > now() - INTERVAL 1 HOUR\"")
    p.add_argument("--alpha", type=float, default=0.01,
                   help="family-wise false-alarm level (default 0.01)")
    p.add_argument("--min-ks", type=float, default=0.3,
                   help="smallest KS distance called drift (default 0.3)")
    p.add_argument("--top", type=int, default=4, help="drifted heads drawn with their distributions")
    p.add_argument("--html", action="store_true",
                   help="also write drift.html: verdict, heatmap, top heads, distributions (offline page)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from multiattn.drift import drift
    from multiattn.renderers.driftview import drift_distributions, drift_heatmap
    from multiattn.renderers.figure import save_figure

    for path in (args.reference, args.new):
        if "://" not in path and not Path(path).exists():
            raise MultiattnFileNotFoundError(
                f"{path} does not exist; give a profile .npz (multiattn corpus --profile) or a monitor store")
    report = drift(args.reference, args.new, alpha=args.alpha, min_ks=args.min_ks, where=args.where)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [save_figure(drift_heatmap(report).figure, out / "drift_heatmap.png")]
    if report.drifted:
        paths.append(save_figure(drift_distributions(report, top=args.top), out / "drift_distributions.png"))
    paths.append(report.save(out / "drift.json"))
    _common.emit(paths)
    if args.html:
        from multiattn.renderers._write_drift import write_drift_page

        page = write_drift_page(out, out / "drift.html", top=max(args.top, 8))
        print(f"{page} ({page.stat().st_size / 1024:.0f} kB, offline: pictures embedded, no network)")
    print(f"{len(report.heads())} drifted heads "
          f"({report.n_reference} reference vs {report.n_new} new requests)")
    for line in report.verdicts[:10]:
        print(line)
    return 0
