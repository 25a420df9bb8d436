"""``multiattn text "a sentence" --out DIR``: text attention pictures and metrics.

Writes ``heatmap.png`` and ``lines.png`` (one head: ``--layer/--head``, default the head with
the strongest positional or induction pattern), ``model_view.png``, ``summary.png`` and
``metrics.json`` (:func:`multiattn.renderers.writers.write_text_report`).
Encoder-decoders (``--target``) get one set per part, prefixed ``encoder_``, ``decoder_``, ``cross_``.
"""

from __future__ import annotations

import argparse

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("text", help="attention of a text model on a sentence: pictures + metrics.json")
    p.add_argument("text", help="the input text")
    p.add_argument("--pair", default=None, help="optional second segment (sentence pair)")
    p.add_argument("--target", default=None,
                   help="encoder-decoders (T5, BART): the target text or decoder prompt (required there)")
    _common.add_model(p, "minilm", "text")
    p.add_argument("--layer", type=int, default=None, help="layer of heatmap and lines view (default: auto)")
    p.add_argument("--head", type=int, default=None, help="head of heatmap and lines view (default: auto)")
    p.add_argument("--max-length", type=int, default=None, help="token limit (default: the model's)")
    p.add_argument("--out", required=True, help="output folder")
    _common.add_save(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import gc

    import multiattn
    from multiattn.renderers.writers import write_text_report

    model, tokenizer = multiattn.load_model(args.model, modality="text")
    grids = multiattn.capture(model, (args.text, args.pair), processor=tokenizer, target=args.target,
                              max_length=args.max_length)
    # torch, the model and the grids outlive the drawing: keep their ~430k objects out of the cyclic
    # collector's reach while the pictures are drawn (many short-lived objects), or each collection
    # rescans them (measured 0.2-0.3 s CPU of the writing); unfrozen afterwards
    gc.freeze()
    try:
        written = write_text_report(grids, args.out, layer=args.layer, head=args.head)
    finally:
        gc.unfreeze()
    _common.emit(written)
    _common.save(grids, args.save)
    return 0
