"""Drift detector on MiniLM: false alarms over repeated null splits, and the shifts it must name.

One corpus of template sentences is monitored once (per-request statistics of all 9 statistics
× 6 layers × 12 heads); ``--splits`` random halves of it are compared with :func:`multiattn.drift.drift`
(KLL sketches, KS >= ``min_ks`` and Bonferroni KS test at family-wise ``alpha``).  A split that
flags any cell is a false alarm: ``false_alarm_rate`` with its Clopper–Pearson 95 % interval,
``cell_flag_rate`` (flagged cells / all cells) and the median largest KS of a null split.

Baseline in the same run: the same rule on the *exact* per-request values (scipy's two-sample
KS test, ``ks_2samp``, no sketch) on the same splits — ``false_alarm_rate_exact_ks`` and
``agreement_with_exact`` (share of splits where both say the same), so the sketches' effect on
the false-alarm rate is measured, not assumed.

Known answers (each against the first half of the corpus, same sizes): the same sentences with
30 unmasked ``[PAD]`` tokens, with shuffled word order, and Greek sentences — whether drift is
found, how many heads, and the statistic of the most drifted head.

Prints one JSON line (``benchmark: "drift"``).  ``--splits N`` (default 40), ``--size N``
(requests per side, default 48).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time

import numpy as np

_WHO = ["the farmer", "a tired nurse", "my cousin", "the bus driver", "our coach", "a curious fox",
        "the museum guide", "her uncle", "the baker", "a quiet student"]
_DID = ["noticed", "carried", "opened", "cleaned", "borrowed", "counted", "painted", "closed"]
_WHAT = ["the heavy door", "a wooden box", "the village map", "an old lantern", "the spare keys",
         "a blue umbrella", "the kitchen window", "a paper boat"]
_END = [".", " this morning.", " once more.", " without a word.", " after dinner.", "!"]
_GREEK = ["Ο αγρότης άνοιξε την πόρτα της αποθήκης.", "Μια κουρασμένη νοσοκόμα κουβάλησε το κουτί.",
          "Ο ξάδερφός μου δανείστηκε μια ομπρέλα.", "Ο οδηγός του λεωφορείου μέτρησε τα κλειδιά.",
          "Η ξεναγός του μουσείου έκλεισε το παράθυρο.", "Ο φούρνος μύρισε ζεστό ψωμί το πρωί.",
          "Μια περίεργη αλεπού κοίταξε τον φράχτη.", "Ο μαθητής ζωγράφισε μια χάρτινη βάρκα."]


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [f"{rng.choice(_WHO).capitalize()} {rng.choice(_DID)} {rng.choice(_WHAT)}{rng.choice(_END)}"
            for _ in range(n)]


def _shuffle(text: str, rng: random.Random) -> str:
    words = text.rstrip(".!").split()
    rng.shuffle(words)
    return " ".join(words) + "."


def _values(model, tok, texts: list[str]) -> tuple[np.ndarray, tuple, tuple]:
    """``(N, S, L, H)`` per-request statistics of ``texts``, the statistics and the layer names."""
    from multiattn._profile_worker import run_inputs
    from multiattn.monitor import Monitor

    mon = Monitor(model, None, processor=tok)
    with mon:
        run_inputs(model, tok, mon, texts, batch_size=16, max_length=128)
    records = mon.take()
    return np.stack([r.values for r in records]), records[0].statistics, records[0].layers


def _profile(values: np.ndarray, stats: tuple, layers: tuple):
    from multiattn._summary import Profile

    prof = Profile.empty(stats, layers, values.shape[-1])
    prof.add(values)
    return prof


def _exact_alarm(a: np.ndarray, b: np.ndarray, alpha: float, min_ks: float) -> bool:
    """The detector's rule on exact values: any cell with KS >= min_ks and p < alpha / cells."""
    from scipy.stats import ks_2samp

    flat_a, flat_b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    cells = flat_a.shape[1]
    for cell in range(cells):
        x, y = flat_a[:, cell], flat_b[:, cell]
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if len(x) and len(y):
            test = ks_2samp(x, y)
            if test.statistic >= min_ks and test.pvalue < alpha / cells:
                return True
    return False


def _clopper_pearson(k: int, n: int, level: float = 0.95) -> list[float]:
    from scipy.stats import beta

    tail = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(tail, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - tail, k + 1, n - k))
    return [round(lo, 4), round(hi, 4)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=40)
    parser.add_argument("--size", type=int, default=48, help="requests per side")
    args = parser.parse_args(argv)
    import torch

    import multiattn
    from multiattn.drift import drift

    torch.set_num_threads(1)
    model, tok = multiattn.zoo.load("minilm")
    corpus = _sentences(2 * args.size, seed=0)
    values, stats, layers = _values(model, tok, corpus)
    alpha, min_ks = 0.01, 0.3
    rng = np.random.default_rng(0)
    alarms, exact, cell_rates, max_ks, seconds = [], [], [], [], []
    for _ in range(args.splits):
        order = rng.permutation(len(values))
        a, b = values[order[:args.size]], values[order[args.size:]]
        start = time.perf_counter()
        report = drift(_profile(a, stats, layers), _profile(b, stats, layers), alpha=alpha, min_ks=min_ks)
        seconds.append(time.perf_counter() - start)
        alarms.append(report.drifted)
        cell_rates.append(float(report.flagged.mean()))
        max_ks.append(float(report.ks.max()))
        exact.append(_exact_alarm(a, b, alpha, min_ks))
    shuffle_rng = random.Random(1)
    half = values[:args.size]
    shifted = {"padded_30": [s + " [PAD]" * 30 for s in corpus[args.size:]],
               "shuffled_words": [_shuffle(s, shuffle_rng) for s in corpus[args.size:]],
               "greek": (_GREEK * (args.size // len(_GREEK) + 1))[:args.size]}
    known = {}
    for name, texts in shifted.items():
        report = drift(_profile(half, stats, layers), _profile(_values(model, tok, texts)[0], stats, layers),
                       alpha=alpha, min_ks=min_ks)
        top = report.top(1)
        known[name] = {"drifted": report.drifted, "heads": len(report.heads()),
                       "top_statistic": top[0][0] if top else None,
                       "verdict": report.verdicts[0] if report.verdicts else None}
    n_alarms = int(np.sum(alarms))
    print(json.dumps({
        "benchmark": "drift", "model": "minilm", "cells": int(np.prod(values.shape[1:])),
        "requests_per_side": args.size, "null_splits": args.splits, "alpha": alpha, "min_ks": min_ks,
        "false_alarm_rate": round(n_alarms / args.splits, 4),
        "false_alarm_rate_ci95": _clopper_pearson(n_alarms, args.splits),
        "false_alarm_rate_exact_ks": round(float(np.mean(exact)), 4),
        "agreement_with_exact": round(float(np.mean(np.equal(alarms, exact))), 4),
        "cell_flag_rate": round(float(np.mean(cell_rates)), 6),
        "null_max_ks_median": round(statistics.median(max_ks), 3),
        "drift_ms_median": round(1e3 * statistics.median(seconds), 1), "known_answers": known,
        "load_avg_1min": round(os.getloadavg()[0], 2)}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
