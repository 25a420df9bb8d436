"""Corpus statistics: per-head metrics over many inputs, streamed.

:func:`corpus_statistics` captures one input at a time, reduces its attention
to per-head ``(L, H)`` metric values and drops it: no grid is kept.  Mean and
standard deviation are exact running sums (Welford); quantiles come from a
fixed-size uniform reservoir sample of the per-input values, so they are
exact up to ``reservoir`` inputs and an unbiased sample estimate beyond.
Memory is therefore constant in the number of inputs.  :func:`save_csv`
writes one row per metric, layer and head: the baseline for drift checks.

Example
-------
>>> texts = ["a b", "c d e"]
>>> fake_capture = lambda text: np.full((1, 2, 3, 3), 1 / 3)
>>> stats = corpus_statistics(texts, fake_capture, {"peak": lambda a: a.max(-1).mean(-1)},
...                           progress=False)
>>> stats["n_inputs"], stats["metrics"]["peak"]["mean"].round(3).tolist()
(2, [[0.333, 0.333]])
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from multiattn.errors import MultiattnTypeError, MultiattnValueError

if TYPE_CHECKING:  # pragma: no cover - annotations only
    from typing import TypedDict

    from .._types import ArrayLike, AttentionInput

    class CorpusStatistics(TypedDict):
        """What :func:`corpus_statistics` returns."""

        n_inputs: int
        #: metric name -> statistic name (``count``, ``mean``, ``std``, ``q05`` ...) -> ``(L, H)``.
        metrics: dict[str, dict[str, np.ndarray]]

__all__ = ["QUANTILES", "corpus_statistics", "save_csv"]

#: Quantiles reported per head.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


class _RunningStats:
    """Welford mean / variance and a reservoir sample of one ``(L, H)`` metric, NaN-aware."""

    def __init__(self, shape: tuple[int, ...], reservoir: int, rng: np.random.Generator):
        self.shape, self.rng = shape, rng
        self.count = np.zeros(shape, dtype=np.int64)
        self.mean = np.zeros(shape)
        self.m2 = np.zeros(shape)
        self.sample = np.full((reservoir, *shape), np.nan)
        self.seen = 0

    def add(self, values: np.ndarray, name: str) -> None:
        if values.shape != self.shape:
            raise MultiattnValueError(
                f"metric {name!r} gave shape {values.shape} on input {self.seen}, {self.shape} before: "
                "every input must go through the same model (same layers and heads)"
            )
        finite = np.isfinite(values)
        self.count += finite
        delta = np.where(finite, values - self.mean, 0.0)
        self.mean += np.divide(delta, self.count, out=np.zeros(self.shape), where=self.count > 0)
        self.m2 += np.where(finite, delta * (values - self.mean), 0.0)
        # reservoir sampling (Vitter's algorithm R): the rows stay a uniform sample of the inputs
        slot = self.seen if self.seen < len(self.sample) else int(self.rng.integers(self.seen + 1))
        if slot < len(self.sample):
            self.sample[slot] = values
        self.seen += 1

    def result(self) -> dict[str, np.ndarray]:
        var = np.divide(self.m2, self.count - 1, out=np.full(self.shape, np.nan), where=self.count > 1)
        kept = self.sample[: min(self.seen, len(self.sample))]
        out = {"count": self.count.copy(),
               "mean": np.where(self.count > 0, self.mean, np.nan), "std": np.sqrt(var)}
        all_nan = ~np.isfinite(kept).any(axis=0)
        filled = np.where(all_nan, 0.0, kept)  # nanquantile warns on all-NaN columns
        for q in QUANTILES:
            out[f"q{round(q * 100):02d}"] = np.where(all_nan, np.nan, np.nanquantile(filled, q, axis=0))
        return out


def corpus_statistics(
    texts: Iterable[str],
    capture_fn: Callable[[str], AttentionInput],
    metrics: Mapping[str, Callable[[AttentionInput], ArrayLike]],
    *,
    reservoir: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> CorpusStatistics:
    """Per-head statistics of ``metrics`` over a stream of inputs, in constant memory.

    Parameters
    ----------
    texts : iterable of str
        Inputs, consumed once (a list, a file object, a generator ...);
        blank lines are skipped.
    capture_fn : callable
        ``capture_fn(text)`` -> attention (AttentionGrid or array (L, H, Q, K)),
        e.g. ``lambda t: capture(model, t, processor=tokenizer)``.
    metrics : mapping of name -> callable
        ``metric(attention)`` -> ``(L, H)`` values, e.g.
        ``{"entropy": head_entropy, "distance": attention_distance}``.  NaN
        values (undefined on an input) are left out of that head's statistics.
    reservoir : int
        Inputs kept (as ``(L, H)`` values only) for the quantiles.
    seed : int
        Seed of the reservoir sampling (deterministic results).
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    dict
        ``"n_inputs"``; ``"metrics"``: name -> dict of ``(L, H)`` arrays
        ``count`` (finite values), ``mean``, ``std`` (ddof=1) and ``q05``,
        ``q25``, ``q50``, ``q75``, ``q95`` (see :data:`QUANTILES`).

    Example
    -------
    >>> from multiattn.analysis import head_entropy
    >>> stats = corpus_statistics(open("sentences.txt"), lambda t: capture(model, t, processor=tok),
    ...                           {"entropy": head_entropy})  # doctest: +SKIP
    >>> save_csv(stats, "baseline.csv")  # doctest: +SKIP
    """
    from tqdm import tqdm

    if not metrics:
        raise MultiattnValueError("metrics is empty: pass {name: metric}, e.g. {'entropy': head_entropy}")
    if reservoir < 1:
        raise MultiattnValueError(f"reservoir must be at least 1 input, got {reservoir}")
    rng = np.random.default_rng(seed)
    running: dict[str, _RunningStats] = {}
    n_inputs = 0
    for text in tqdm(texts, desc="corpus", unit="input", disable=not progress):
        if not isinstance(text, str):
            raise MultiattnTypeError(f"inputs must be strings, got {type(text).__name__} at input {n_inputs}")
        if not text.strip():
            continue
        attn = capture_fn(text.rstrip("\n"))
        for name, metric in metrics.items():
            values = np.asarray(metric(attn), dtype=np.float64)
            if values.ndim != 2:
                raise MultiattnValueError(
                    f"metric {name!r} must return (layers, heads) values, got {values.shape}")
            if name not in running:
                running[name] = _RunningStats(values.shape, reservoir, rng)
            running[name].add(values, name)
        del attn  # nothing of the input outlives this iteration
        n_inputs += 1
    if n_inputs == 0:
        raise MultiattnValueError("no inputs: the text source is empty (or only blank lines)")
    return {"n_inputs": n_inputs, "metrics": {name: stats.result() for name, stats in running.items()}}


def save_csv(stats: CorpusStatistics, path: str | Path) -> Path:
    """Write :func:`corpus_statistics` output as CSV: one row per metric, layer and head.

    Columns: ``metric, layer, head, count, mean, std, q05, q25, q50, q75, q95``
    (empty cells for undefined values).

    Example
    -------
    >>> save_csv(stats, "baseline.csv")  # doctest: +SKIP
    PosixPath('baseline.csv')
    """
    if "metrics" not in stats:
        raise MultiattnValueError("stats must be the output of corpus_statistics (a dict with 'metrics')")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ["count", "mean", "std"] + [f"q{round(q * 100):02d}" for q in QUANTILES]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["metric", "layer", "head", *columns])
        for name, table in stats["metrics"].items():
            n_layers, n_heads = table["mean"].shape
            for layer in range(n_layers):
                for head in range(n_heads):
                    cells = [table[col][layer, head] for col in columns]
                    writer.writerow([name, layer, head, int(cells[0]),
                                     *("" if not np.isfinite(v) else f"{v:.6g}" for v in cells[1:])])
    return path
