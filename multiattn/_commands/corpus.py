"""``multiattn corpus FILE.txt --out stats.csv``: per-head statistics over a text file, streaming.

One input per line; each metric (:mod:`multiattn.analysis.corpusmetrics`) is summarised per
layer and head (mean, std, quantiles) by :func:`multiattn.analysis.corpus.corpus_statistics`.
"""

from __future__ import annotations

import argparse

from multiattn.errors import MultiattnValueError

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    from multiattn.analysis.corpusmetrics import CORPUS_METRICS

    p = sub.add_parser("corpus", help="per-head metric statistics over a text file (one input per line)")
    p.add_argument("file", help="text file, one input per line (blank lines skipped)")
    p.add_argument("--out", required=True, help="CSV to write (metric, layer, head, mean, std, quantiles)")
    _common.add_model(p, "minilm", "text")
    p.add_argument("--metrics", default="entropy,distance,first_token",
                   help=f"comma-separated, from: {', '.join(CORPUS_METRICS)}")
    p.add_argument("--max-length", type=int, default=None, help="token limit per input (default: model's)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import multiattn
    from multiattn.analysis.corpus import corpus_statistics, save_csv
    from multiattn.analysis.corpusmetrics import corpus_metrics

    path = _common.existing(args.file, "text file", "; pass a text file with one input per line")
    try:  # fail before the model loads, naming the file
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise MultiattnValueError(
            f"{path} is not UTF-8 text (byte {err.start}): give a text file with one input "
                         "per line") from None
    metrics = corpus_metrics(args.metrics)
    model, tokenizer = multiattn.load_model(args.model, modality="text")
    def capture(text: str):
        return multiattn.capture(model, text, processor=tokenizer, max_length=args.max_length)

    with path.open(encoding="utf-8") as lines:
        stats = corpus_statistics(lines, capture, metrics)
    print(save_csv(stats, args.out))
    print(f"{stats['n_inputs']} inputs, metrics: {', '.join(metrics)}")
    return 0
