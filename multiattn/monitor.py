"""Attention in production: per-head statistics of every request a model serves, in a store.

:func:`monitor` hooks a live model (Hugging Face text models and ViTs, timm ViTs) with the
streaming capture's hooks (:mod:`multiattn.adapters._stream`, :mod:`~multiattn.adapters._timm_hooks`):
each layer's weights are reduced to per-head statistics as the layer runs and dropped, so
no ``(L, H, N, N)`` tensor is ever kept.  Every item of every forward becomes one request
(id, time, model id, input length and ``statistics × layers × heads`` numbers) that is
appended to a :class:`~multiattn._store.Store` (a DuckDB file, or Parquet parts on any path)
every ``flush_every`` requests and when the monitor detaches.

Statistics (:data:`STATISTICS`, means over a request's real queries): entropy, normalised
entropy, top-5 concentration, share on the first / special (ViT: prefix) / padding /
delimiter tokens, sink share and mean distance (tokens; patches for ViTs).

Example
-------
>>> import multiattn
>>> model, tok = multiattn.zoo.load("minilm")  # doctest: +SKIP
>>> with multiattn.monitor(model, store="attention.duckdb", processor=tok) as mon:  # doctest: +SKIP
...     model(**tok(["a request", "another one"], padding=True, return_tensors="pt"))
>>> mon.store.sql("SELECT count(*) FROM requests")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError, UnsupportedModelError

from ._monitor_stats import STATISTICS, check_statistics
from ._store import SCHEMA_VERSION, Record, Store, open_store

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ._monitor_stats import Context
    from ._types import Model, Processor

__all__ = ["SCHEMA_VERSION", "STATISTICS", "Monitor", "monitor", "open_store"]

_MODALITIES = ("text", "image")


class Monitor:
    """Hooks on a model that turn each forward into stored per-head statistics.

    Use :func:`monitor` to build one.  ``attach()`` / ``detach()`` (or ``with``) install and
    remove the hooks; ``flush()`` writes pending requests; ``last`` is the most recent
    request as a :class:`~multiattn._store.Record` (``values (S, L, H)``); ``n_requests``
    counts the requests seen.
    """

    def __init__(self, model: Model, store: str | Path | Store | None = None, *,
                 processor: Processor = None, statistics: Sequence[str] | None = None,
                 model_id: str | None = None, sample: float = 1.0, flush_every: int = 64,
                 seed: int = 0) -> None:
        from ._api import modality

        self.kind = modality(model)
        if self.kind not in _MODALITIES:
            raise UnsupportedModelError(
                f"monitor supports text models and ViTs for now, got a {self.kind} model "
                f"({type(model).__name__}); profile it with multiattn.capture_stream instead")
        if not 0.0 < sample <= 1.0:
            raise MultiattnValueError(f"sample must be in (0, 1] (share of forwards monitored), got {sample}")
        if flush_every < 1:
            raise MultiattnValueError(f"flush_every must be >= 1 request, got {flush_every}")
        self.model, self.processor = model, processor
        self.statistics = check_statistics(statistics)
        self.model_id = model_id or _model_id(model)
        self.store = None if store is None else open_store(store)
        self.sample, self.flush_every = sample, flush_every
        self._rng = np.random.default_rng(seed)
        self._prefix = uuid.uuid4().hex[:8]
        self.n_requests = 0
        self.last: Record | None = None
        self._pending: list[Record] = []
        self._stack: contextlib.ExitStack | None = None
        self._forward: contextlib.ExitStack | None = None
        self._state: dict[str, Any] | None = None
        from ._monitor_hooks import special_ids

        self._special = special_ids(model, processor) if self.kind == "text" else None

    # -- lifecycle -------------------------------------------------------------------------------
    def attach(self) -> Monitor:
        """Install the hooks (idempotent); returns self."""
        if self._stack is not None:
            return self
        from ._monitor_hooks import install

        self._stack = contextlib.ExitStack()
        try:
            install(self, self._stack)
        except BaseException:
            self._stack.close()
            self._stack = None
            raise
        return self

    def detach(self) -> None:
        """Remove the hooks, restore the attention implementation, flush pending requests."""
        if self._forward is not None:
            self._forward.close()
            self._forward = None
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self.flush()

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    @property
    def attached(self) -> bool:
        return self._stack is not None

    def flush(self) -> int:
        """Append pending requests to the store; returns how many were written."""
        if self.store is None or not self._pending:
            return 0
        pending, self._pending = self._pending, []
        return self.store.append(pending)

    def take(self) -> list[Record]:
        """Pending requests, removed from the queue (for a monitor without a store)."""
        pending, self._pending = self._pending, []
        return pending

    # -- called by the hooks ---------------------------------------------------------------------
    def _begin(self, ctx: Context) -> None:
        self._state = {"ctx": ctx, "layers": [], "stats": []}

    def _layer(self, name: str, weights: torch.Tensor) -> None:
        from ._monitor_stats import layer_statistics

        if self._state is None:
            return
        stats = layer_statistics(weights, self._state["ctx"], self.statistics)
        self._state["layers"].append(name)
        self._state["stats"].append(stats)

    def _end(self) -> None:
        import torch

        state, self._state = self._state, None
        if not state or not state["layers"]:
            return
        names = tuple(n for n in self.statistics if n in state["stats"][0])
        # (S, L, B, H) -> one record per batch item
        values = torch.stack([torch.stack([layer[n] for layer in state["stats"]]) for n in names]).numpy()
        lengths = state["ctx"].lengths.tolist()
        now = datetime.now(timezone.utc)
        for b in range(values.shape[2]):
            self.n_requests += 1
            self.last = Record(f"{self._prefix}-{self.n_requests:08d}", now, self.model_id, self.kind,
                               int(lengths[b]), tuple(state["layers"]), names, values[:, :, b].copy())
            self._pending.append(self.last)
        if self.store is not None and len(self._pending) >= self.flush_every:
            self.flush()

    def _sampled(self) -> bool:
        return self.sample >= 1.0 or bool(self._rng.random() < self.sample)


def _model_id(model: Model) -> str:
    config = getattr(model, "config", None)
    name = getattr(config, "name_or_path", None) or getattr(model, "default_cfg", {}).get("architecture")
    return str(name or type(model).__name__)


def monitor(model: Model, store: str | Path | Store | None = None, *, processor: Processor = None,
            statistics: Sequence[str] | None = None, model_id: str | None = None,
            sample: float = 1.0, flush_every: int = 64) -> Monitor:
    """Monitor a live model's attention: one stored row of per-head statistics per request.

    Parameters
    ----------
    model : Hugging Face text model or ViT, or timm ViT
        The model being served; call it as usual while the monitor is attached.
    store : path or Store, optional
        ``*.duckdb`` (one DuckDB file, safe for several writing processes) or a folder /
        object-store URI of Parquet parts; ``None`` keeps requests in memory (:meth:`Monitor.take`).
    processor : tokenizer, optional
        Names the special, padding and delimiter tokens (else the config's ids).
    statistics : sequence of str, optional
        Subset of :data:`STATISTICS` (default all).
    model_id : str, optional
        Stored with every row (default the model's ``name_or_path``).
    sample : float
        Share of forwards monitored (1.0: all); unmonitored forwards run on the model's own
        attention kernel with no overhead.
    flush_every : int
        Requests buffered before an append.

    Returns
    -------
    Monitor
        Not attached yet: use it in ``with`` or call ``attach()``.

    Examples
    --------
    >>> mon = monitor(model, "attention.duckdb", processor=tok).attach()  # doctest: +SKIP
    >>> _ = model(**tok("one request", return_tensors="pt")); mon.last.values.shape  # doctest: +SKIP
    (9, 6, 12)
    >>> mon.detach()  # doctest: +SKIP
    """
    return Monitor(model, store, processor=processor, statistics=statistics, model_id=model_id,
                   sample=sample, flush_every=flush_every)
