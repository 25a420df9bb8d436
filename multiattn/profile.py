"""Corpus profiles that scale out: per-head statistics of many inputs on Dask distributed.

:func:`profile` splits a corpus into partitions; each Dask worker loads the model once,
monitors it over its partitions (:mod:`multiattn.monitor`'s statistics, no matrix kept) and
returns mergeable summaries — counts, Chan/Welford means and variances, Apache DataSketches
KLL quantile sketches — that are merged into one :class:`Profile` per (statistic, layer, head).
The merged profile equals the single-process one: exactly for counts, means and variances (up
to float64 rounding), within the sketches' rank error for quantiles.

By default a ``LocalCluster`` of ``n_workers`` processes (one thread each) is started and
closed; ``scheduler="tcp://host:8786"`` (or a ``distributed.Client``) uses an existing
cluster, whose workers need multiattn and the model (a spec :func:`multiattn.load_model`
resolves); ``scheduler=None`` runs in this process without Dask.

Example
-------
>>> import multiattn
>>> prof = multiattn.profile("minilm", "sentences.txt")  # doctest: +SKIP
>>> prof.mean.shape  # (statistics, layers, heads)  # doctest: +SKIP
(9, 6, 12)
>>> prof.save("reference.npz")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from multiattn.errors import MultiattnTypeError, MultiattnValueError

from ._corpus_io import read_corpus
from ._optional import optional_import
from ._summary import Profile

if TYPE_CHECKING:  # pragma: no cover
    from ._types import Model, Processor

__all__ = ["Profile", "profile"]


#: Largest default partition (inputs): big enough that a task's fixed costs (scheduling, shipping
#: ~80 kB of summaries, one merge on the client: a few ms) vanish next to its forwards (~10 ms per
#: MiniLM input on one thread), small enough that progress moves and the last tasks balance.
_PARTITION_INPUTS = 256


def _partitions(items: list[str], n: int) -> list[list[str]]:
    """``items`` cut into ``n`` equal-count pieces of similar length, the longest piece first.

    Sorting by string length (a token-count proxy for text; harmless for media paths) makes each
    piece pad little; handing out the costliest pieces first lets the short last ones even out
    the workers' finishing times (longest-processing-time-first scheduling).
    """
    ordered = sorted(items, key=len, reverse=True)
    size = -(-len(items) // n)
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _n_partitions(n_items: int, n_workers: int) -> int:
    """Default partition count: at least 4 per worker, at most 256 inputs each."""
    return max(4 * n_workers, -(-n_items // _PARTITION_INPUTS))


#: Dask settings of the LocalCluster a profile starts: the workers' statistical profiler (a thread
#: sampling every stack each 10 ms, competing with the forwards for the GIL) is off, and the event-loop
#: tick, system and memory monitors run less often; idle, a worker then burns ~2 instead of ~27 ms
#: CPU per second and the client process ~6 instead of ~35 (2 workers, measured).
_LEAN_DASK = {"distributed.worker.profile.enabled": False, "distributed.admin.tick.interval": "500ms",
              "distributed.admin.system-monitor.interval": "5s",
              "distributed.worker.memory.monitor-interval": "1s"}


def _dask() -> Any:
    return optional_import("distributed", "profiles on a cluster need Dask", "production",
                           " (or pass scheduler=None)")


@contextlib.contextmanager
def _local_cluster(n_workers: int):
    """A started LocalCluster of ``n_workers`` one-thread processes (lean settings) and its Client."""
    import dask

    distributed = _dask()
    with dask.config.set(_LEAN_DASK):  # read at start-up; the nannies hand it to their worker processes
        cluster = distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


@contextlib.contextmanager
def _client(scheduler: Any, n_workers: int):
    distributed = _dask()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
    elif scheduler == "local":
        with _local_cluster(n_workers) as client:
            yield client
    else:
        with distributed.Client(str(scheduler)) as client:
            yield client


def _part(data: dict, timings: list | None) -> Profile:
    """A partition's profile; its ``"timing"`` goes to ``timings``."""
    from ._profile_worker import unpack

    timing = data.pop("timing", None)
    if timings is not None and timing is not None:
        timings.append(timing)
    return Profile.from_dict(unpack(data))


def _run_distributed(parts: list[list[str]], model: str, options: dict, scheduler: Any, n_workers: int,
                     progress: bool, timings: list | None) -> Profile:
    from distributed import as_completed
    from tqdm import tqdm

    from ._profile_worker import profile_partition

    with _client(scheduler, n_workers) as client:
        futures = client.map(profile_partition, parts, model=model, options=options, pure=False)
        merged = None
        with tqdm(total=sum(map(len, parts)), desc="profile", unit="input", disable=not progress) as bar:
            for future in as_completed(futures):
                part = _part(future.result(), timings)
                merged = part if merged is None else merged.merge(part)
                bar.update(part.n_inputs)
    return merged


def profile(model: Model | str, corpus: str | Path | Iterable[str], *, processor: Processor = None,
            statistics: Sequence[str] | None = None, column: str | None = None,
            scheduler: Any = "local", n_workers: int = 2, partitions: int | None = None,
            batch_size: int = 8, max_length: int | None = None, k: int = 200,
            progress: bool = True, timings: list[dict] | None = None) -> Profile:
    """Per (statistic, layer, head) summaries of a model's attention over a corpus.

    Parameters
    ----------
    model : str or model
        A spec for :func:`multiattn.load_model` (``"minilm"``, a Hugging Face folder,
        ``"timm:NAME"``): each worker loads it once.  A model object works with
        ``scheduler=None`` (this process).
    corpus : path or iterable of str
        A text file (one input per line), a folder of images/audio, a ``.parquet`` /
        ``.jsonl`` file (``column``), or the inputs.
    processor : tokenizer or image processor, optional
        With a model object.
    statistics : sequence of str, optional
        Subset of :data:`multiattn.monitor.STATISTICS` (default all).
    scheduler : "local", address, distributed.Client or None
        ``"local"`` starts a LocalCluster of ``n_workers`` processes; an address or client uses
        that cluster; ``None`` runs here without Dask.
    partitions : int, optional
        Pieces the corpus is cut into (default at least ``4 * n_workers`` and at most
        256 inputs each); progress moves as pieces finish.
    batch_size, max_length : int
        Text inputs per forward and the token limit; each piece is tokenised once and batched
        by length, so a batch pads little (padding is masked: it does not change the statistics).
    k : int
        KLL sketch size (rank error ~1.3 % at 200).
    timings : list, optional
        Receives one dict per piece as it finishes: ``wall_s``, ``cpu_s``, ``wait_s`` (the
        worker thread's seconds; ``wait_s`` = ready but another process held the CPU, Linux),
        ``inputs``, ``tokens``, ``padded_tokens`` — where a cluster's time goes.

    Returns
    -------
    Profile
        ``count``, ``mean``, ``variance`` ``(S, L, H)``, ``quantile(q)``, ``save(path)``.

    Examples
    --------
    >>> prof = profile("minilm", ["The cat sat.", "A dog ran."], scheduler=None)  # doctest: +SKIP
    >>> prof.count[0, 0, 0], prof.mean.shape  # doctest: +SKIP
    (2, (9, 6, 12))
    """
    from ._monitor_stats import check_statistics

    items = read_corpus(corpus, column)
    if n_workers < 1:
        raise MultiattnValueError(f"n_workers must be >= 1, got {n_workers}")
    options = {"statistics": check_statistics(statistics), "batch_size": int(batch_size),
               "max_length": max_length, "k": int(k)}
    if scheduler is None:
        from ._profile_worker import profile_partition

        loaded = model if isinstance(model, str) else (model, processor)
        options["threads"] = None  # this process keeps its own torch thread pool
        return _part(profile_partition(items, loaded, options), timings)
    if not isinstance(model, str):
        raise MultiattnTypeError(
            f"a cluster profile needs the model as a spec each worker loads (e.g. 'minilm' or a folder), "
            f"got a {type(model).__name__}; or pass scheduler=None to run in this process")
    parts = _partitions(items, partitions or _n_partitions(len(items), n_workers))
    return _run_distributed(parts, model, options, scheduler, n_workers, progress, timings)
