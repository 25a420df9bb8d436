"""Attention in production: per-head statistics of every request a model serves, in a store.

:func:`monitor` hooks a live model — Hugging Face text models, ViTs, video transformers,
CLIP and Whisper, timm ViTs, PyG graph attention — and reduces each layer's weights to
per-head statistics as the layer runs, so no ``(L, H, N, N)`` tensor is ever kept.  Every
item of every forward becomes one request record (id, time, model id, modality label, input
length and ``statistics × layers × heads`` numbers) that a background thread appends to a
:class:`~multiattn._store.Store` (a DuckDB file, or Parquet parts on any path) every
``flush_every`` requests, after ``max_delay`` seconds, on ``detach`` and at interpreter exit.

How the weights are reached: Hugging Face families whose eager attention is the plain
``softmax(q kᵀ·s + mask) v`` (BERT, RoBERTa, ViT, CLIP, Whisper, VideoMAE) run on the
``multiattn_monitor`` attention implementation (:mod:`._monitor_attention`: eager attention
laid out transposed, ``k qᵀ``, whose softmax the monitor computes); other Hugging Face models
run on eager attention with a hook per attention module; timm ViTs keep their fused kernel
(softmax(qkᵀ) recomputed per block); PyG layers go through the graph adapter's recorder.
With numba (extra ``fast``) each layer is one compiled call (:mod:`._monitor_kernels`): on the
monitoring implementation the softmax and all nine statistics in one pass over the scores
(the entropy from the scores, no log per weight), on the hooks path the statistics from the
weights; without numba, torch / numpy (:mod:`._monitor_stats`, the same numbers).

Statistics per modality (means over a request's real queries; record label in the
``modality`` column):

- ``text``, ``image`` (ViT), ``video`` (tubelets), ``clip-text`` / ``clip-image`` (CLIP's two
  towers; layer names keep the tower), ``audio-encoder`` / ``audio-decoder`` (Whisper):
  :data:`STATISTICS` — entropy, normalised entropy, top-5 concentration, share on the first /
  special (ViT, video: prefix CLS / register tokens) / padding / delimiter tokens, sink share,
  mean distance (tokens; patches for ViTs; tubelets on the (time, row, column) grid for video;
  20 ms frames for Whisper's encoder, whose queries are the frames of the real audio).
- ``audio-cross`` (Whisper cross-attention, per decoder layer and head): entropy, normalised
  entropy, top-5, sink share, ``audio_share`` (mass on the real audio), ``monotonicity`` (share
  of consecutive tokens whose attention centroid over the audio does not move back) and
  ``coverage`` (the span of those centroids / the real audio), see :mod:`._monitor_audio`.
- ``graph`` (PyG ``GATConv`` / ``GATv2Conv`` / ``TransformerConv`` ...): incoming-attention
  entropy and normalised entropy per node, ``self_share`` (self-loop weight), sink share,
  summarised per head over the nodes (:mod:`._monitor_graph`).

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
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError, UnsupportedModelError

from ._monitor_stats import STATISTICS, check_statistics
from ._monitor_writer import BackgroundWriter
from ._store import SCHEMA_VERSION, Record, Store, open_store

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from ._monitor_stats import Context
    from ._types import Model, Processor

__all__ = ["SCHEMA_VERSION", "STATISTICS", "Monitor", "monitor", "open_store"]

_MODALITIES = ("text", "image", "video", "image-text", "audio", "graph")


class Monitor:
    """Hooks on a model that turn each forward into stored per-head statistics.

    Use :func:`monitor` to build one.  ``attach()`` / ``detach()`` (or ``with``) install and
    remove the hooks; ``flush()`` writes pending requests; ``last`` is the most recent
    request as a :class:`~multiattn._store.Record` (``values (S, L, H)``); ``n_requests``
    counts the requests seen.
    """

    def __init__(self, model: Model, store: str | Path | Store | None = None, *,
                 processor: Processor = None, statistics: Sequence[str] | None = None,
                 model_id: str | None = None, sample: float = 1.0, flush_every: int = 256,
                 max_delay: float = 5.0, seed: int = 0, fast_attention: bool = True) -> None:
        from ._api import modality

        self.kind = modality(model)
        whisper = getattr(getattr(model, "config", None), "model_type", None) == "whisper"
        if self.kind not in _MODALITIES or (self.kind == "audio" and not whisper):
            raise UnsupportedModelError(
                "monitor supports text models, ViTs, video transformers, CLIP, Whisper and PyG graph "
                "attention, got a "
                f"{self.kind} model ({type(model).__name__}); profile it with multiattn.capture_stream")
        if not 0.0 < sample <= 1.0:
            raise MultiattnValueError(f"sample must be in (0, 1] (share of forwards monitored), got {sample}")
        if flush_every < 1:
            raise MultiattnValueError(f"flush_every must be >= 1 request, got {flush_every}")
        self.model, self.processor = model, processor
        self.statistics = check_statistics(statistics)
        self.model_id = model_id or _model_id(model)
        self.store = None if store is None else open_store(store)
        self.sample, self.flush_every, self.fast_attention = sample, flush_every, fast_attention
        self._writer = None if self.store is None else BackgroundWriter(self.store, flush_every, max_delay)
        self._rng = np.random.default_rng(seed)
        self._prefix = uuid.uuid4().hex[:8]
        self.n_requests = 0
        self.last: Record | None = None
        self._pending: list[Record] = []
        self._stack: contextlib.ExitStack | None = None
        self._forward: contextlib.ExitStack | None = None
        self._state: dict[str, Any] | None = None
        from ._monitor_hooks import special_ids

        self._special = special_ids(model, getattr(processor, "tokenizer", processor)) \
            if self.kind in ("text", "image-text", "audio") else None

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
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    @property
    def attached(self) -> bool:
        return self._stack is not None

    def flush(self) -> int:
        """Write pending requests to the store and wait for them; returns how many are stored so far."""
        if self._writer is None:
            return 0
        self._writer.flush()
        return self._writer.written

    def take(self) -> list[Record]:
        """Pending requests, removed from the queue (for a monitor without a store)."""
        pending, self._pending = self._pending, []
        return pending

    # -- called by the hooks ---------------------------------------------------------------------
    def _begin(self, contexts: Mapping[str, Context], route: Callable[[str], str] | None = None) -> None:
        """Start a forward: ``contexts`` modality label -> Context, ``route(layer name) -> label``."""
        groups = {key: {"ctx": ctx, "layers": [], "stats": [], "names": None}
                  for key, ctx in contexts.items()}
        self._state = {"groups": groups, "route": route or (lambda _name: next(iter(groups)))}

    def _group(self, name: str, n_queries: int, n_keys: int) -> dict[str, Any] | None:
        """The record group a layer named ``name`` belongs to (``None`` outside a monitored forward)."""
        state = self._state
        if state is None:
            return None
        group = state["groups"][state["route"](name)]
        if group["names"] is None:
            group["names"] = group["ctx"].fit(n_queries, n_keys).names_for(self.statistics, n_queries)
        group["layers"].append(name)
        return group

    def _layer(self, name: str, weights: torch.Tensor, scores: torch.Tensor | None = None) -> None:
        from ._monitor_stats import layer_matrix

        group = self._group(name, *weights.shape[-2:])
        if group is not None:
            group["stats"].append(layer_matrix(weights, group["ctx"], group["names"], scores))

    def _softmax_layer(self, name: str, scores_t: torch.Tensor, scale: float,
                       weights_t: torch.Tensor | None) -> torch.Tensor:
        """The monitoring attention's callback: the softmax of ``scores_t (B, H, K, Q)`` over the keys
        and the layer's statistics in one pass (``weights_t`` given: only its statistics)."""
        import torch

        from ._monitor_stats import softmax_matrix

        if weights_t is not None:
            self._layer(name, weights_t.mT, scores_t.mT)
            return weights_t
        group = self._group(name, scores_t.shape[-1], scores_t.shape[-2])
        if group is None:
            weights_t = torch.nn.functional.softmax(scores_t * scale, dim=-2, dtype=torch.float32)
            return weights_t.to(scores_t.dtype)
        weights_t, stats = softmax_matrix(scores_t, scale, group["ctx"], group["names"])
        group["stats"].append(stats)
        return weights_t

    def _end(self) -> None:
        import torch

        state, self._state = self._state, None
        for label, group in (state or {}).get("groups", {}).items():
            if group["layers"]:  # (L, B, H, S) -> (B, S, L, H): one record per batch item
                stats = group["stats"]
                if label == "graph":  # layers of a graph model may differ in heads
                    from ._monitor_graph import pad_heads

                    stats = pad_heads(stats)
                values = torch.stack(stats).permute(1, 3, 0, 2).numpy()
                self._emit(label, group["ctx"].lengths.tolist(), tuple(group["layers"]), group["names"],
                           values)

    def _emit(self, modality: str, lengths: list[int], layers: tuple[str, ...], names: tuple[str, ...],
              values: np.ndarray) -> None:
        """One record per batch item of ``values (B, S, L, H)``, to the writer or the in-memory queue."""
        now = datetime.now(timezone.utc)
        records = []
        for b in range(values.shape[0]):
            self.n_requests += 1
            records.append(Record(f"{self._prefix}-{self.n_requests:08d}", now, self.model_id, modality,
                                  int(lengths[b]), layers, names, np.ascontiguousarray(values[b])))
        self.last = records[-1]
        if self._writer is not None:
            self._writer.put(records)
        else:
            self._pending.extend(records)

    def _sampled(self) -> bool:
        return self.sample >= 1.0 or bool(self._rng.random() < self.sample)


def _model_id(model: Model) -> str:
    config = getattr(model, "config", None)
    name = getattr(config, "name_or_path", None) or getattr(model, "default_cfg", {}).get("architecture")
    return str(name or type(model).__name__)


def monitor(model: Model, store: str | Path | Store | None = None, *, processor: Processor = None,
            statistics: Sequence[str] | None = None, model_id: str | None = None,
            sample: float = 1.0, flush_every: int = 256, max_delay: float = 5.0,
            fast_attention: bool = True) -> Monitor:
    """Monitor a live model's attention: one stored row of per-head statistics per request.

    Parameters
    ----------
    model : Hugging Face text / ViT / video / CLIP / Whisper model, timm ViT, or PyG model
        The model being served; call it as usual while the monitor is attached.
    store : path or Store, optional
        ``*.duckdb`` (one DuckDB file, safe for several writing processes) or a folder /
        object-store URI of Parquet parts; ``None`` keeps requests in memory (:meth:`Monitor.take`).
    processor : tokenizer, optional
        Names the special, padding and delimiter tokens (else the config's ids).
    statistics : sequence of str, optional
        Subset of :data:`STATISTICS` plus the cross-attention (``audio_share``,
        ``monotonicity``, ``coverage``) and graph (``self_share``) names (default all); each
        layer gives those that apply to it.
    model_id : str, optional
        Stored with every row (default the model's ``name_or_path``).
    sample : float
        Share of forwards monitored (1.0: all); unmonitored forwards run on the model's own
        attention kernel with no overhead.
    flush_every : int
        Requests buffered before a background thread appends them to the store.
    max_delay : float
        Seconds after which buffered requests are appended even if fewer than ``flush_every``.
    fast_attention : bool
        Use the ``multiattn_monitor`` attention implementation where the family allows it
        (``False``: eager attention and module hooks everywhere; same statistics, slower).

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
                   sample=sample, flush_every=flush_every, max_delay=max_delay, fast_attention=fast_attention)
