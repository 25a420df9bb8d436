"""``multiattn demo --out DIR``: render the gallery on the embedded default models.

Sections (``--only``): text, image, clip, audio, graph, video, depth, dynamics, analyze, html,
report.  Without Chromium the HTML screenshots are skipped (the pages are still written) and
the demo says so.
"""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    from multiattn._gallery import SECTIONS

    p = sub.add_parser("demo", help="render the demo gallery (all modalities) into a folder")
    p.add_argument("--out", default="gallery", help="output folder (default: gallery)")
    p.add_argument("--only", nargs="+", default=None, metavar="SECTION",
                   help=f"render only these sections: {', '.join(SECTIONS)}")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from multiattn._gallery import render

    index, items = render(args.out, only=args.only)
    skipped = [item for item in items if item.skipped]
    for item in skipped:
        print(f"[demo] skipped {item.section}: {item.title} ({item.skipped})")
    print(f"[demo] {len(items) - len(skipped)} items, {len(skipped)} skipped; open {index}")
    return 0
