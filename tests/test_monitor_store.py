"""The store: two writer processes at once lose nothing, DuckDB file and Parquet parts alike."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import pytest

pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")

from multiattn._store import SCHEMA_VERSION, Record, open_store  # noqa: E402

WRITER = """
import sys
from datetime import datetime, timezone
import numpy as np
from multiattn._store import Record, open_store
store = open_store(sys.argv[1])
name, batches, per = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for b in range(batches):
    store.append([Record(f"{name}-{b}-{i}", datetime.now(timezone.utc), "m", "text", 5, ("l0", "l1"),
                         ("entropy", "top5"), np.full((2, 2, 3), b + i / 10.0)) for i in range(per)])
"""


def _two_writers(path, batches=25, per=4):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(batches), str(per)],
                              stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    return 2 * batches * per


@pytest.mark.parametrize("name", ["runs.duckdb", "parts"])
def test_two_writer_processes_lose_nothing(tmp_path, name):
    path = tmp_path / name
    open_store(path)  # create the schema first, as a serving process would
    expected = _two_writers(path)
    store = open_store(path)
    assert store.count() == expected
    ids = store.sql("SELECT count(DISTINCT request_id) AS n, count(DISTINCT writer) AS w FROM requests")
    assert ids.to_pylist() == [{"n": expected, "w": 2}]
    stats = store.sql("SELECT count(*) AS n FROM head_stats").column("n")[0].as_py()
    assert stats == expected * 2 * 2 * 3
    # every request arrived whole: all 12 of its values, none from a half-written append
    per_request = store.sql("SELECT request_id, count(*) AS n FROM head_stats GROUP BY ALL HAVING n <> 12")
    assert per_request.num_rows == 0


def test_schema_and_a_windowed_query(tmp_path):
    store = open_store(tmp_path / "s.duckdb")
    now = datetime.now(timezone.utc)
    values = np.arange(12, dtype=float).reshape(2, 2, 3)
    store.append([Record("r1", now, "minilm", "text", 7, ("l0", "l1"), ("entropy", "top5"), values)])
    assert store.sql("SELECT max(version) AS v FROM schema_version").column("v")[0].as_py() == SCHEMA_VERSION
    row = store.sql("SELECT value FROM head_stats WHERE statistic = 'top5' AND layer = 1 AND head = 2 "
                    "AND ts > now() - INTERVAL 1 HOUR").column("value").to_pylist()
    assert row == [values[1, 1, 2]]
    columns = store.sql("SELECT * FROM requests").column_names
    assert columns == ["request_id", "ts", "model_id", "modality", "input_length", "n_layers", "n_heads",
                       "writer"]


def test_parquet_store_has_the_same_schema(tmp_path):
    now = datetime.now(timezone.utc)
    rec = Record("r1", now, "m", "text", 3, ("l0",), ("entropy",), np.ones((1, 1, 2)))
    duck, parts = open_store(tmp_path / "a.duckdb"), open_store(tmp_path / "parts")
    for store in (duck, parts):
        store.append([rec])
    for table in ("requests", "head_stats"):
        a, b = (s.sql(f"SELECT * FROM {table}") for s in (duck, parts))
        assert a.column_names == b.column_names
        assert [str(t) for t in a.schema.types] == [str(t) for t in b.schema.types]
    assert list((tmp_path / "parts" / "head_stats").glob("day=*/part-*.parquet"))


def test_a_store_of_another_schema_version_is_refused(tmp_path):
    import duckdb

    from multiattn.errors import MultiattnValueError

    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER, created TIMESTAMP)")
    con.execute("INSERT INTO schema_version VALUES (0, now())")
    con.close()
    with pytest.raises(MultiattnValueError, match="schema version 0"):
        open_store(path)
