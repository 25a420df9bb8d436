"""``multiattn report --model M --input TEXT --out report.html``: one self-contained report.

The text and depth analyses of one input on one offline HTML page
(:func:`multiattn.renderers.writers.write_report`): model summary, head types,
diagnostics, metrics by layer and head, the model view, the most important heads
(language models), the attention-vs-gradient table, the flow diagram and head clusters;
``--drift DIR`` adds the attention-drift section of a ``multiattn drift --out DIR`` result.
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="one self-contained offline HTML report for a text input")
    _common.add_model(p, "minilm", "text")
    p.add_argument("--input", required=True, help="the input text")
    p.add_argument("--token", type=int, default=0, help="output token explained by flow and attribution")
    p.add_argument("--steps", type=int, default=32, help="integrated-gradients steps")
    p.add_argument("--out", default="report.html", help="output HTML file")
    p.add_argument("--drift", metavar="DIR_OR_JSON", default=None,
                   help="add the drift section: the folder `multiattn drift REF NEW --out DIR` wrote, "
                        "or its drift.json")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.adapters.textdepth import text_depth
    from multiattn.renderers._write_drift import drift_section
    from multiattn.renderers.writers import write_report

    if args.drift is not None:
        drift_section(args.drift)  # a missing / foreign drift folder fails before the model runs
    model, tokenizer = multiattn.load_model(args.model, modality="text")
    depth = text_depth(model, args.input, processor=tokenizer, target=args.token, steps=args.steps)
    page = write_report(depth, args.out, drift=args.drift)
    print(f"{page} ({page.stat().st_size / 1024:.0f} kB, offline)" if args.drift else page)
    _common.save(depth["agreement"]["grid"], args.save)
    return 0
