"""One partition of a profile: load the model once per process, monitor it over the partition's inputs.

Runs inside a Dask worker (or in the calling process): the model named by ``spec`` is loaded
on first use and kept for the worker's life; a :class:`~multiattn.monitor.Monitor` without a
store computes each input's statistics and the partition's summaries come back as
:meth:`~multiattn._summary.Profile.to_dict` (plain arrays and bytes; the sketches in one blob,
:func:`pack`) plus a ``"timing"`` entry
(:func:`thread_clock` seconds of the partition, inputs, real and padded tokens).

Text is tokenised once per partition and batched by length (the inputs sorted by their token
count), so a batch pads to nearly its own length; the statistics do not depend on the
batching (padding keys are masked out), only the float rounding does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_once", "pack", "profile_partition", "thread_clock", "unpack"]

_LOADED: dict[str, tuple[Any, Any]] = {}
_TEXT_KEYS = ("input_ids", "attention_mask", "token_type_ids")


def load_once(spec: str, threads: int | None = 1) -> tuple[Any, Any]:
    """``load_model(spec)``, cached for this process; ``threads`` caps torch's pool (one per worker)."""
    _set_threads(threads)
    if spec not in _LOADED:
        import multiattn

        _LOADED[spec] = multiattn.load_model(spec)
    return _LOADED[spec]


def _set_threads(threads: int | None) -> None:
    import torch

    if threads and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def thread_clock() -> tuple[float, float, float]:
    """``(wall, on-CPU, runqueue-wait)`` seconds of the calling thread (Linux schedstat; wait 0 elsewhere).

    The runqueue wait is the time the thread was ready to run while other processes held the
    CPUs: on a shared machine it tells the machine's load apart from the work.
    """
    try:
        run, wait = (int(v) / 1e9 for v in Path("/proc/thread-self/schedstat").read_text().split()[:2])
    except (OSError, ValueError):
        run, wait = time.thread_time(), 0.0
    return time.perf_counter(), run, wait


def _text_batches(processor: Any, items: Sequence[str], batch_size: int, max_length: int | None,
                  counts: dict[str, int]) -> Iterator[dict[str, Any]]:
    """Padded tensors of ``items`` tokenised once, in batches of similar length (shortest first)."""
    limit = max_length or getattr(processor, "model_max_length", 512)
    enc = processor(list(items), truncation=True, max_length=limit)
    keys = [k for k in _TEXT_KEYS if k in enc]
    lengths = [len(ids) for ids in enc["input_ids"]]
    order = sorted(range(len(items)), key=lengths.__getitem__)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        counts["tokens"] += sum(lengths[i] for i in rows)
        counts["padded_tokens"] += len(rows) * max(lengths[i] for i in rows)
        yield dict(processor.pad([{k: enc[k][i] for k in keys} for i in rows], return_tensors="pt"))


def run_inputs(model: Any, processor: Any, mon: Any, items: Sequence[str], batch_size: int,
               max_length: int | None) -> dict[str, int]:
    """Forward every input through the monitored model (text in length-sorted padded batches, media
    one by one); returns ``{"tokens", "padded_tokens"}`` (text; 0 for media)."""
    import torch

    from ._api import _forward_inputs

    counts = {"tokens": 0, "padded_tokens": 0}
    with torch.no_grad():
        if mon.kind == "text":
            for batch in _text_batches(processor, items, batch_size, max_length, counts):
                model(**batch)
        else:
            for item in items:
                model(**_forward_inputs(mon.kind, model, item, processor, {}))
    return counts


def pack(data: dict[str, Any]) -> dict[str, Any]:
    """:meth:`Profile.to_dict` with its sketches as one ``bytes`` and their offsets.

    Dask serialises a list element by element: a list of 648 sketch blobs cost the client's event
    loop ~15 ms per partition (80 kB), one blob ~1 ms.  :func:`unpack` reverses it.
    """
    import numpy as np

    blobs = data.pop("sketches")
    data["sketch_bytes"] = b"".join(blobs)
    data["sketch_offsets"] = np.cumsum([0] + [len(b) for b in blobs])
    return data


def unpack(data: dict[str, Any]) -> dict[str, Any]:
    """The :meth:`Profile.from_dict` input of a partition :func:`pack` made."""
    raw, offsets = data.pop("sketch_bytes"), data.pop("sketch_offsets")
    data["sketches"] = [raw[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    return data


def profile_partition(items: Sequence[str], model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Summaries of ``items``: ``model`` is a spec string (loaded once here) or ``(model, processor)``.

    Returns :meth:`Profile.to_dict` packed by :func:`pack`, plus ``"timing"``: ``wall_s``,
    ``cpu_s``, ``wait_s`` (this thread's seconds for the partition, model loading included the
    first time), ``inputs``, ``tokens``, ``padded_tokens``.
    """
    from ._summary import Profile
    from .monitor import Monitor

    start = thread_clock()
    net, processor = load_once(model, options.get("threads", 1)) if isinstance(model, str) else model
    mon = Monitor(net, None, processor=processor, statistics=options.get("statistics"),
                  model_id=options.get("model_id"))
    with mon:
        counts = run_inputs(net, processor, mon, items, options.get("batch_size", 8),
                            options.get("max_length"))
    records = mon.take()
    prof = Profile.empty(records[0].statistics, records[0].layers, records[0].values.shape[2],
                         k=options.get("k", 200), model_id=mon.model_id)
    prof.add_records(records)
    out = pack(prof.to_dict())
    end = thread_clock()
    out["timing"] = {"wall_s": end[0] - start[0], "cpu_s": end[1] - start[1], "wait_s": end[2] - start[2],
                     "inputs": len(items), **counts}
    return out
