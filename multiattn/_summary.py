"""A mergeable profile: per (statistic, layer, head) counts, moments and a KLL quantile sketch.

Counts, means and variances merge exactly (Chan et al.'s pairwise update: merging two
profiles gives the moments of the union, up to float64 rounding); quantiles come from Apache
DataSketches KLL sketches, which merge with a stated rank error
(:meth:`Profile.rank_error`, about 1.3 % at ``k = 200``).  A profile saves to one ``.npz``
of plain arrays (sketches as serialised bytes, metadata as JSON; no pickle).

Example
-------
>>> import numpy as np
>>> p = Profile.empty(("entropy",), ("l0",), n_heads=2)
>>> p.add(np.arange(6, dtype=float).reshape(3, 1, 1, 2))
>>> p.count.tolist(), p.mean.tolist()
([[[3, 3]]], [[[2.0, 3.0]]])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnValueError

from ._optional import optional_import

if TYPE_CHECKING:  # pragma: no cover
    from ._store import Record, Store

__all__ = ["Profile"]

_FORMAT = "multiattn-profile/1"


def _kll() -> Any:
    sketches = optional_import("datasketches", "profiles need Apache DataSketches", "production")
    return sketches.kll_floats_sketch


class Profile:
    """Per (statistic, layer, head) summaries of many requests; arrays are ``(S, L, H)``."""

    def __init__(self, statistics: Sequence[str], layers: Sequence[str], n_heads: int, *, k: int = 200,
                 model_id: str = "", count: np.ndarray | None = None, mean: np.ndarray | None = None,
                 m2: np.ndarray | None = None, sketches: list | None = None, n_inputs: int = 0) -> None:
        self.statistics, self.layers, self.n_heads = tuple(statistics), tuple(layers), int(n_heads)
        self.k, self.model_id, self.n_inputs = int(k), model_id, int(n_inputs)
        shape = self.shape
        self.count = np.zeros(shape, np.int64) if count is None else count
        self.mean = np.zeros(shape) if mean is None else mean
        self.m2 = np.zeros(shape) if m2 is None else m2
        kll = _kll()
        self.sketches = [kll(self.k) for _ in range(int(np.prod(shape)))] if sketches is None else sketches

    @classmethod
    def empty(cls, statistics: Sequence[str], layers: Sequence[str], n_heads: int, *, k: int = 200,
              model_id: str = "") -> Profile:
        """A profile of no requests."""
        return cls(statistics, layers, n_heads, k=k, model_id=model_id)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.statistics), len(self.layers), self.n_heads)

    # -- adding and merging ----------------------------------------------------------------------
    def add(self, values: np.ndarray) -> None:
        """Add requests ``values (N, S, L, H)`` (NaN = undefined, left out of that cell)."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 4 or values.shape[1:] != self.shape:
            raise MultiattnValueError(
                f"values must be (requests, {', '.join(map(str, self.shape))}) for this profile's "
                f"statistics x layers x heads, got {values.shape}: same model and statistics?")
        finite = np.isfinite(values)
        n_b = finite.sum(0)
        mean_b = np.divide(np.where(finite, values, 0).sum(0), n_b, out=np.zeros(self.shape), where=n_b > 0)
        m2_b = np.where(finite, (values - mean_b) ** 2, 0).sum(0)
        self._merge_moments(n_b, mean_b, m2_b)
        flat = values.reshape(len(values), -1)
        for cell, sketch in enumerate(self.sketches):
            column = flat[:, cell]
            column = column[np.isfinite(column)]
            if len(column):
                sketch.update(column.astype(np.float32))
        self.n_inputs += len(values)

    def add_records(self, records: Sequence[Record]) -> None:
        """Add monitored requests (their statistics reordered to this profile's)."""
        if not records:
            return
        self.add(np.stack([_aligned(r.values, r.statistics, self.statistics) for r in records]))

    def _merge_moments(self, n_b: np.ndarray, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        n_a, n = self.count, self.count + n_b
        delta = mean_b - self.mean
        share = np.divide(n_b, n, out=np.zeros(self.shape), where=n > 0)
        self.mean = self.mean + delta * share
        self.m2 = self.m2 + m2_b + delta ** 2 * n_a * share
        self.count = n

    def merge(self, other: Profile) -> Profile:
        """The profile of both sets of requests (a new object)."""
        if (other.statistics, other.layers, other.n_heads) != (self.statistics, self.layers, self.n_heads):
            raise MultiattnValueError(
                f"cannot merge profiles of different shapes {self.shape} and {other.shape} "
                "(statistics, layers, heads must match: same model and statistics)")
        out = Profile.from_dict(self.to_dict())
        out._merge_moments(other.count, other.mean, other.m2)
        for mine, theirs in zip(out.sketches, other.sketches):
            mine.merge(theirs)
        out.n_inputs += other.n_inputs
        return out

    # -- reading ---------------------------------------------------------------------------------
    @property
    def variance(self) -> np.ndarray:
        """Sample variance (ddof=1), NaN below two values."""
        return np.divide(self.m2, self.count - 1, out=np.full(self.shape, np.nan), where=self.count > 1)

    def sketch(self, statistic: str, layer: int, head: int) -> Any:
        """The KLL sketch of one cell."""
        s = self.statistics.index(statistic)
        return self.sketches[(s * len(self.layers) + layer) * self.n_heads + head]

    def quantile(self, q: float) -> np.ndarray:
        """``(S, L, H)`` approximate ``q`` quantiles (NaN for empty cells)."""
        out = np.array([sk.get_quantile(q) if not sk.is_empty() else np.nan for sk in self.sketches])
        return out.reshape(self.shape)

    def rank_error(self) -> float:
        """The sketches' normalised rank error bound (single-sided, ~99 % confidence)."""
        return float(self.sketches[0].normalized_rank_error(False)) if self.sketches else 0.0

    def __repr__(self) -> str:
        return (f"Profile({self.n_inputs} requests, {len(self.statistics)} statistics x "
                f"{len(self.layers)} layers x {self.n_heads} heads, model {self.model_id!r})")

    # -- files -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain arrays and bytes (for files and for shipping between processes)."""
        return {"meta": {"format": _FORMAT, "statistics": list(self.statistics), "layers": list(self.layers),
                         "n_heads": self.n_heads, "k": self.k, "model_id": self.model_id,
                         "n_inputs": self.n_inputs},
                "count": self.count.copy(), "mean": self.mean.copy(), "m2": self.m2.copy(),
                "sketches": [sk.serialize() for sk in self.sketches]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        meta = data["meta"]
        kll = _kll()
        return cls(meta["statistics"], meta["layers"], meta["n_heads"], k=meta["k"],
                   model_id=meta["model_id"], count=np.array(data["count"]), mean=np.array(data["mean"]),
                   m2=np.array(data["m2"]),
                   sketches=[kll.deserialize(bytes(b)) for b in data["sketches"]], n_inputs=meta["n_inputs"])

    def save(self, path: str | Path) -> Path:
        """Write one ``.npz`` (no pickle); :meth:`load` reads it back."""
        data = self.to_dict()
        blobs = data["sketches"]
        offsets = np.cumsum([0] + [len(b) for b in blobs])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, meta=np.array(json.dumps(data["meta"])), count=data["count"], mean=data["mean"],
                 m2=data["m2"], sketch_bytes=np.frombuffer(b"".join(blobs), np.uint8), sketch_offsets=offsets)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        """Read a profile written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != _FORMAT:
                raise MultiattnValueError(
                    f"{path} is not a multiattn profile (format {meta.get('format')!r}); "
                    "write one with multiattn.profile(...).save(path)")
            raw, offsets = f["sketch_bytes"].tobytes(), f["sketch_offsets"]
            blobs = [raw[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
            return cls.from_dict({"meta": meta, "count": f["count"], "mean": f["mean"], "m2": f["m2"],
                                  "sketches": blobs})

    @classmethod
    def from_store(cls, store: Store, where: str | None = None, k: int = 200) -> Profile:
        """The profile of stored requests (``where``: SQL condition on ``head_stats``, e.g. a time window)."""
        cond = f"WHERE {where}" if where else ""
        table = store.sql("SELECT request_id, layer, layer_name, head, statistic, value "
                          f"FROM head_stats {cond} ORDER BY request_id, statistic, layer, head")
        if table.num_rows == 0:
            window = f" where {where}" if where else ""
            raise MultiattnValueError(f"the store {store.path} has no requests{window}; monitor some first")
        cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
        stats = tuple(dict.fromkeys(cols["statistic"]))
        n_layers, n_heads = int(cols["layer"].max()) + 1, int(cols["head"].max()) + 1
        names = [""] * n_layers
        for layer, name in zip(cols["layer"], cols["layer_name"]):
            names[layer] = name
        requests, req_index = np.unique(cols["request_id"], return_inverse=True)
        values = np.full((len(requests), len(stats), n_layers, n_heads), np.nan)
        stat_index = {s: i for i, s in enumerate(stats)}
        rows = [stat_index[s] for s in cols["statistic"]]
        values[req_index, rows, cols["layer"], cols["head"]] = cols["value"]
        model = store.sql(f"SELECT any_value(model_id) AS m FROM head_stats {cond}").column("m")[0].as_py()
        out = cls.empty(stats, names, n_heads, k=k, model_id=model or "")
        out.add(values)
        return out


def _aligned(values: np.ndarray, have: Sequence[str], want: Sequence[str]) -> np.ndarray:
    """``values (S, L, H)`` in the order ``want`` (NaN rows for statistics a request lacks)."""
    out = np.full((len(want), *values.shape[1:]), np.nan)
    for i, name in enumerate(want):
        if name in have:
            out[i] = values[list(have).index(name)]
    return out
