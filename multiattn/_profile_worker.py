"""One partition of a profile: load the model once per process, monitor it over the partition's inputs.

Runs inside a Dask worker (or in the calling process): the model named by ``spec`` is loaded
on first use and kept for the worker's life; a :class:`~multiattn.monitor.Monitor` without a
store computes each input's statistics and the partition's summaries come back as
:meth:`~multiattn._summary.Profile.to_dict` (plain arrays and bytes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["load_once", "profile_partition"]

_LOADED: dict[str, tuple[Any, Any]] = {}


def load_once(spec: str, threads: int | None = 1) -> tuple[Any, Any]:
    """``load_model(spec)``, cached for this process; ``threads`` caps torch's pool (one per worker)."""
    if spec not in _LOADED:
        import torch

        import multiattn

        if threads:
            torch.set_num_threads(threads)
        _LOADED[spec] = multiattn.load_model(spec)
    return _LOADED[spec]


def _batches(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def run_inputs(model: Any, processor: Any, mon: Any, items: Sequence[str], batch_size: int,
               max_length: int | None) -> None:
    """Forward every input through the monitored model (text in padded batches, media one by one)."""
    import torch

    from ._api import _forward_inputs

    with torch.no_grad():
        if mon.kind == "text":
            for batch in _batches(items, batch_size):
                enc = processor(list(batch), padding=True, truncation=True, return_tensors="pt",
                                max_length=max_length or getattr(processor, "model_max_length", 512))
                model(**{k: v for k, v in enc.items() if k in ("input_ids", "attention_mask",
                                                               "token_type_ids")})
        else:
            for item in items:
                model(**_forward_inputs(mon.kind, model, item, processor, {}))


def profile_partition(items: Sequence[str], model: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Summaries of ``items``: ``model`` is a spec string (loaded once here) or ``(model, processor)``."""
    from ._summary import Profile
    from .monitor import Monitor

    net, processor = load_once(model, options.get("threads", 1)) if isinstance(model, str) else model
    mon = Monitor(net, None, processor=processor, statistics=options.get("statistics"),
                  model_id=options.get("model_id"))
    with mon:
        run_inputs(net, processor, mon, items, options.get("batch_size", 8), options.get("max_length"))
    records = mon.take()
    prof = Profile.empty(records[0].statistics, records[0].layers, records[0].values.shape[2],
                         k=options.get("k", 200), model_id=mon.model_id)
    prof.add_records(records)
    return prof.to_dict()
