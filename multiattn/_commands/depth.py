"""``multiattn depth "a sentence" --out DIR``: analysis in depth for one input.

Runs :func:`multiattn.adapters.textdepth.text_depth` and writes its pictures
(:func:`multiattn.renderers.writers.write_depth_report`): ``flow.png`` (attention flow
into one output token), ``agreement.png`` + ``.json`` (gradient attributions vs attention,
Spearman), ``dendrogram.png``, ``clusters.json``, ``projection.png`` (heads clustered and
projected) and, for language models, ``pruning.png`` + ``importance.json``.
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("depth", help="flow diagram, attention-vs-gradient table, head clustering (+ pruning)")
    p.add_argument("text", help="the input text")
    _common.add_model(p, "minilm", "text")
    p.add_argument("--token", type=int, default=0, help="output token explained (default 0 = [CLS] / first)")
    p.add_argument("--steps", type=int, default=32, help="integrated-gradients quadrature nodes")
    p.add_argument("--out", required=True, help="output folder")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.adapters.textdepth import text_depth
    from multiattn.renderers.writers import write_depth_report

    model, tokenizer = multiattn.load_model(args.model, modality="text")
    depth = text_depth(model, args.text, processor=tokenizer, target=args.token, steps=args.steps)
    _common.emit(write_depth_report(depth, args.out))
    _common.save(depth["agreement"]["grid"], args.save)
    return 0
