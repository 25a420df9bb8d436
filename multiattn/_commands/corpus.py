"""``multiattn corpus FILE.txt --out stats.csv``: per-head statistics over a text file, streaming.

One input per line; each metric (:mod:`multiattn.analysis.corpusmetrics`) is summarised per
layer and head (mean, std, quantiles) by :func:`multiattn.analysis.corpus.corpus_statistics`.

``--profile PROFILE.npz`` instead runs :func:`multiattn.profile` on Dask (a LocalCluster of
``--workers`` processes, or ``--scheduler ADDRESS``) over a text file, a folder of images /
audio, or a Parquet / JSONL ``--column``: the mergeable profile ``multiattn drift`` compares.
"""

from __future__ import annotations

import argparse

from multiattn.errors import MultiattnValueError

from . import _common

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    from multiattn.analysis.corpusmetrics import CORPUS_METRICS

    p = sub.add_parser("corpus", help="per-head metric statistics over a text file (one input per line)")
    p.add_argument("file", help="text file, one input per line (blank lines skipped); with --profile also "
                                "a folder of images/audio or a .parquet/.jsonl file (--column)")
    p.add_argument("--out", help="CSV to write (metric, layer, head, mean, std, quantiles)")
    p.add_argument("--profile", metavar="PROFILE.npz", help="write a mergeable profile (Dask) instead")
    p.add_argument("--scheduler", default="local",
                   help="with --profile: Dask scheduler address (default: start a LocalCluster)")
    p.add_argument("--workers", type=int, default=2, help="with --profile: LocalCluster worker processes")
    p.add_argument("--column", default=None, help="with --profile: the input column of a .parquet/.jsonl")
    _common.add_model(p, "minilm", "text")
    p.add_argument("--metrics", default="entropy,distance,first_token",
                   help=f"comma-separated, from: {', '.join(CORPUS_METRICS)}")
    p.add_argument("--max-length", type=int, default=None, help="token limit per input (default: model's)")
    p.set_defaults(func=run)


def _run_profile(args: argparse.Namespace) -> int:
    import multiattn

    prof = multiattn.profile(args.model, args.file, column=args.column, scheduler=args.scheduler,
                             n_workers=args.workers, max_length=args.max_length)
    print(prof.save(args.profile))
    print(f"{prof.n_inputs} inputs, {len(prof.statistics)} statistics x {len(prof.layers)} layers x "
          f"{prof.n_heads} heads")
    return 0


def run(args: argparse.Namespace) -> int:
    import multiattn

    if args.profile:
        return _run_profile(args)
    if not args.out:
        raise MultiattnValueError("give --out STATS.csv (per-head metric table) or --profile PROFILE.npz")
    from multiattn.analysis.corpus import corpus_statistics, save_csv
    from multiattn.analysis.corpusmetrics import corpus_metrics

    path = _common.existing(args.file, "text file", "; pass a text file with one input per line")
    try:  # fail before the model loads, naming the file
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise MultiattnValueError(
            f"{path} is not UTF-8 text (byte {err.start}): give a text file with one input "
                         "per line") from None
    if not text.strip():
        raise MultiattnValueError(f"{path} has no inputs (it is empty or only blank lines): one per line")
    metrics = corpus_metrics(args.metrics)
    model, tokenizer = multiattn.load_model(args.model, modality="text")
    def capture(text: str):
        return multiattn.capture(model, text, processor=tokenizer, max_length=args.max_length)

    with path.open(encoding="utf-8") as lines:
        stats = corpus_statistics(lines, capture, metrics)
    print(save_csv(stats, args.out))
    print(f"{stats['n_inputs']} inputs, metrics: {', '.join(metrics)}")
    return 0
