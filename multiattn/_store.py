"""Where the monitor's rows go: a DuckDB database file, or Parquet part files on any path.

Schema (version :data:`SCHEMA_VERSION`; the ``schema_version`` table / file says which):

- ``requests``: one row per monitored request — ``request_id VARCHAR, ts TIMESTAMP (UTC),
  model_id VARCHAR, modality VARCHAR, input_length INTEGER, n_layers INTEGER, n_heads INTEGER,
  writer VARCHAR`` (the writing process).
- ``head_stats``: one row per request, layer, head and statistic — ``request_id VARCHAR,
  ts TIMESTAMP, model_id VARCHAR, layer INTEGER, layer_name VARCHAR, head INTEGER,
  statistic VARCHAR, value DOUBLE``.

``modality`` is the record's label: ``text``, ``image``, ``video``, ``clip-text`` /
``clip-image`` (CLIP's towers), ``audio-encoder`` / ``audio-decoder`` / ``audio-cross``
(Whisper), ``graph``.  ``statistic`` holds the names of :mod:`multiattn.monitor` (the nine
self-attention ones, ``audio_share`` / ``monotonicity`` / ``coverage`` of cross-attention,
``self_share`` of graphs); new labels and names are new *values* of these columns, so stores
written before them stay version 1 and readable.  A graph layer with fewer heads than the
widest stores NaN for the missing heads.

A path ending in ``.duckdb`` / ``.db`` is one database file.  DuckDB lets one process write
at a time, so every append opens the file, writes both tables in one transaction and closes
it, retrying while another process holds the lock: appends from several processes all land,
none half-written.  Any other path is a folder of Parquet parts (``requests/day=…/part-….parquet``,
``head_stats/day=…/…``) written through ``pyarrow.fs`` (local or object-store URIs); each part
is written under a temporary name and renamed, so readers never see a partial file.  Both
answer DuckDB SQL through :meth:`Store.sql` with the tables by name.

Example
-------
>>> store = open_store("attention.duckdb")  # doctest: +SKIP
>>> store.sql("SELECT statistic, avg(value) FROM head_stats GROUP BY statistic")  # doctest: +SKIP
pyarrow.Table ...
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from multiattn.errors import MultiattnRuntimeError, MultiattnValueError

from ._optional import optional_import

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["SCHEMA_VERSION", "Record", "Store", "open_store"]

#: Version of the tables' layout; bumped whenever a column changes meaning or type.
SCHEMA_VERSION = 1

_DDL = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER, created TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS requests (request_id VARCHAR, ts TIMESTAMP, model_id VARCHAR, "
    "modality VARCHAR, input_length INTEGER, n_layers INTEGER, n_heads INTEGER, writer VARCHAR)",
    "CREATE TABLE IF NOT EXISTS head_stats (request_id VARCHAR, ts TIMESTAMP, model_id VARCHAR, "
    "layer INTEGER, layer_name VARCHAR, head INTEGER, statistic VARCHAR, value DOUBLE)",
)


@dataclass(frozen=True)
class Record:
    """One monitored request: ``values (S, L, H)`` for ``statistics`` × ``layers`` × heads."""

    request_id: str
    ts: datetime
    model_id: str
    modality: str
    input_length: int
    layers: tuple[str, ...]
    statistics: tuple[str, ...]
    values: np.ndarray


def _arrow() -> Any:
    return optional_import("pyarrow", "the attention store needs pyarrow", "production")


def _duckdb() -> Any:
    return optional_import("duckdb", "the attention store needs duckdb", "production")


def _tables(records: Sequence[Record], writer: str) -> tuple[pa.Table, pa.Table]:
    """The ``requests`` and ``head_stats`` rows of ``records`` as Arrow tables."""
    pa = _arrow()
    ts = [r.ts.replace(tzinfo=None) for r in records]
    requests = pa.table({
        "request_id": [r.request_id for r in records], "ts": pa.array(ts, pa.timestamp("us")),
        "model_id": [r.model_id for r in records], "modality": [r.modality for r in records],
        "input_length": pa.array([r.input_length for r in records], pa.int32()),
        "n_layers": pa.array([r.values.shape[1] for r in records], pa.int32()),
        "n_heads": pa.array([r.values.shape[2] for r in records], pa.int32()),
        "writer": [writer] * len(records)})
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(records):  # records of one model share layers, statistics and shape
        groups.setdefault((r.layers, r.statistics, r.values.shape), []).append(i)
    parts = [_stat_columns([records[i] for i in rows], [ts[i] for i in rows]) for rows in groups.values()]
    stats = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    return requests, stats


def _stat_columns(records: Sequence[Record], ts: Sequence[datetime]) -> pa.Table:
    """``head_stats`` rows of records with the same layers, statistics and shape, built column-wise."""
    pa = _arrow()
    first = records[0]
    shape = first.values.shape
    per = int(np.prod(shape))
    stat_i, layer_i, head_i = (a.ravel() for a in np.indices(shape))
    n = len(records)

    def repeated(values: Sequence[str], index: np.ndarray) -> pa.Array:
        strings = pa.array(list(values), pa.string())
        return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), strings)

    request = np.repeat(np.arange(n, dtype=np.int32), per)
    return pa.table({
        "request_id": repeated([r.request_id for r in records], request),
        "ts": pa.array(np.repeat(np.array(ts, dtype="datetime64[us]"), per), pa.timestamp("us")),
        "model_id": repeated([r.model_id for r in records], request),
        "layer": pa.array(np.tile(layer_i, n), pa.int32()),
        "layer_name": repeated(first.layers, np.tile(layer_i, n)),
        "head": pa.array(np.tile(head_i, n), pa.int32()),
        "statistic": repeated(first.statistics, np.tile(stat_i, n)),
        "value": pa.array(np.stack([r.values for r in records]).astype(np.float64).ravel(), pa.float64())})


class Store:
    """Base: ``append(records)``, ``sql(query) -> pyarrow.Table``, ``count()``."""

    path: str

    def __init__(self) -> None:
        self.writer = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def append(self, records: Sequence[Record]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def sql(self, query: str) -> pa.Table:  # pragma: no cover - abstract
        raise NotImplementedError

    def count(self) -> int:
        """Requests stored."""
        return int(self.sql("SELECT count(*) AS n FROM requests").column("n")[0].as_py())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"


class DuckDBStore(Store):
    """One DuckDB database file; each append is one short transaction, retried while locked."""

    def __init__(self, path: str | Path, lock_timeout: float = 60.0) -> None:
        super().__init__()
        self.path, self.lock_timeout = str(path), lock_timeout
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._with_connection(self._create, read_only=False)

    @staticmethod
    def _create(con: Any) -> None:
        for statement in _DDL:
            con.execute(statement)
        found = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if found is None:
            con.execute("INSERT INTO schema_version VALUES (?, ?)",
                        [SCHEMA_VERSION, datetime.now(timezone.utc).replace(tzinfo=None)])
        elif found != SCHEMA_VERSION:
            raise MultiattnValueError(
                f"store schema version {found}, this multiattn writes {SCHEMA_VERSION}: "
                "use a new store path or migrate the file")

    def _with_connection(self, work: Any, read_only: bool) -> Any:
        """Run ``work(con)`` on a fresh connection, retrying with jittered back-off while locked."""
        duckdb = _duckdb()
        deadline, delay = time.monotonic() + self.lock_timeout, 0.005
        while True:
            try:
                con = duckdb.connect(self.path, read_only=read_only and Path(self.path).exists())
            except duckdb.IOException as err:
                if "lock" not in str(err).lower() or time.monotonic() > deadline:
                    raise MultiattnRuntimeError(
                        f"could not open the store {self.path} within {self.lock_timeout:.0f} s "
                        f"({err}); another process holds it — close it or raise lock_timeout") from None
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 0.2)
                continue
            try:
                return work(con)
            finally:
                con.close()

    def append(self, records: Sequence[Record]) -> int:
        """Write ``records`` (both tables in one transaction); returns how many."""
        if not records:
            return 0
        requests, stats = _tables(records, self.writer)

        def write(con: Any) -> None:
            con.execute("BEGIN TRANSACTION")
            con.register("new_requests", requests)
            con.register("new_stats", stats)
            con.execute("INSERT INTO requests SELECT * FROM new_requests")
            con.execute("INSERT INTO head_stats SELECT * FROM new_stats")
            con.execute("COMMIT")

        self._with_connection(write, read_only=False)
        return len(records)

    def sql(self, query: str) -> pa.Table:
        """Run a DuckDB SQL query over ``requests`` / ``head_stats`` / ``schema_version``."""
        return self._with_connection(lambda con: con.sql(query).fetch_arrow_table(), read_only=True)


class ParquetStore(Store):
    """Parquet part files under a folder or object-store URI, day-partitioned (hive style)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        pa = _arrow()
        import pyarrow.fs as pafs

        self.path = str(path)
        self._fs, self._root = pafs.FileSystem.from_uri(self.path) if "://" in self.path \
            else (pafs.LocalFileSystem(), str(Path(self.path).resolve()))
        self._fs.create_dir(self._root, recursive=True)
        version = f"{self._root}/schema_version.json"
        if self._fs.get_file_info(version).type == pafs.FileType.NotFound:
            self._write_atomic(version, json.dumps({"version": SCHEMA_VERSION}).encode())
        else:
            with self._fs.open_input_stream(version) as handle:
                found = json.loads(handle.read())["version"]
            if found != SCHEMA_VERSION:
                raise MultiattnValueError(
                    f"store schema version {found}, this multiattn writes {SCHEMA_VERSION}: "
                    "use a new store path or migrate the parts")
        self._seq, self._pa = 0, pa

    def _write_atomic(self, target: str, data: bytes | pa.Table) -> None:
        import pyarrow.parquet as pq

        tmp = f"{target.rsplit('/', 1)[0]}/.tmp-{uuid.uuid4().hex}"
        if isinstance(data, bytes):
            with self._fs.open_output_stream(tmp) as handle:
                handle.write(data)
        else:
            pq.write_table(data, tmp, filesystem=self._fs)
        self._fs.move(tmp, target)

    def append(self, records: Sequence[Record]) -> int:
        """One part file per table and day for ``records``; returns how many."""
        if not records:
            return 0
        requests, stats = _tables(records, self.writer)
        days = np.array([r.ts.strftime("%Y-%m-%d") for r in records])
        per_row = np.repeat(days, [r.values.size for r in records])
        for day in sorted(set(days)):
            self._seq += 1
            parts = (("requests", requests, days == day), ("head_stats", stats, per_row == day))
            for name, table, mask in parts:
                folder = f"{self._root}/{name}/day={day}"
                self._fs.create_dir(folder, recursive=True)
                part = table.filter(self._pa.array(mask))
                self._write_atomic(f"{folder}/part-{self.writer}-{self._seq:06d}.parquet", part)
        return len(records)

    def sql(self, query: str) -> pa.Table:
        """DuckDB SQL with ``requests`` and ``head_stats`` as views over the parts."""
        con = _duckdb().connect()
        try:
            for name in ("requests", "head_stats"):
                files = f"{self._root}/{name}/*/*.parquet"
                if "://" not in self.path and not list(Path(self._root, name).glob("*/*.parquet")):
                    con.execute(_DDL[1 if name == "requests" else 2].replace(" IF NOT EXISTS", ""))
                    continue
                uri = files if "://" not in self.path else f"{self.path.rstrip('/')}/{name}/*/*.parquet"
                con.execute(f"CREATE VIEW {name} AS SELECT * EXCLUDE (day) FROM "
                            f"read_parquet('{uri}', hive_partitioning = true)")
            return con.sql(query).fetch_arrow_table()
        finally:
            con.close()


def open_store(path: str | Path | Store) -> Store:
    """A store for ``path``: ``*.duckdb`` / ``*.db`` is a DuckDB file, anything else Parquet parts.

    Examples
    --------
    >>> open_store("runs/attention.duckdb")  # doctest: +SKIP
    DuckDBStore('runs/attention.duckdb')
    >>> open_store("s3://bucket/attention/")  # doctest: +SKIP
    ParquetStore('s3://bucket/attention/')
    """
    if isinstance(path, Store):
        return path
    if not isinstance(path, (str, Path)):
        raise MultiattnValueError(
            f"store must be a path (a .duckdb file or a Parquet folder), got {type(path).__name__}")
    if str(path).endswith((".duckdb", ".db")):
        return DuckDBStore(path)
    return ParquetStore(path)
