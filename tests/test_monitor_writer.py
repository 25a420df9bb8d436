"""The monitor's background writer: every buffered request reaches the store, on detach and on exit."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import numpy as np
import pytest

pytest.importorskip("duckdb")

from multiattn._monitor_writer import BackgroundWriter  # noqa: E402
from multiattn._store import Record, open_store  # noqa: E402


def _records(n: int, tag: str) -> list[Record]:
    now = datetime.now(timezone.utc)
    return [Record(f"{tag}-{i}", now, "m", "text", 3, ("l0",), ("entropy",), np.full((1, 1, 2), float(i)))
            for i in range(n)]


def test_batches_and_the_rest_on_close_all_land(tmp_path):
    store = open_store(tmp_path / "w.duckdb")
    writer = BackgroundWriter(store, flush_every=7, max_delay=60.0)
    for i in range(10):
        writer.put(_records(5, f"b{i}"))  # 50 requests: several full batches and a remainder
    writer.close()
    assert writer.written == 50 and store.count() == 50 and writer.pending == 0
    values = store.sql("SELECT sum(value) AS s FROM head_stats").column("s")[0].as_py()
    assert values == pytest.approx(10 * 2 * sum(range(5)))


def test_max_delay_writes_a_partial_batch_without_close(tmp_path):
    import time

    store = open_store(tmp_path / "d.duckdb")
    writer = BackgroundWriter(store, flush_every=1000, max_delay=0.05)
    writer.put(_records(1000, "full"))  # starts the thread
    writer.put(_records(3, "late"))
    deadline = time.monotonic() + 30
    while writer.written < 1003 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert writer.written == 1003
    writer.close()


def test_a_failed_append_is_raised_not_lost(tmp_path):
    from multiattn.errors import MultiattnRuntimeError

    class Broken:
        def append(self, records):
            raise OSError("disk full")

    writer = BackgroundWriter(Broken(), flush_every=1)
    writer.put(_records(1, "x"))
    with pytest.raises(MultiattnRuntimeError, match="disk full"):
        writer.close()


EXITING = """
import sys
import multiattn, torch
from multiattn.monitor import monitor
model, tok = multiattn.zoo.load("minilm")
mon = monitor(model, sys.argv[1], processor=tok, flush_every=1000, max_delay=600).attach()
with torch.no_grad():
    for _ in range(5):
        model(**tok(["one request", "and another"], padding=True, return_tensors="pt"))
# no detach: the interpreter exits with 10 requests buffered
"""


def test_requests_buffered_at_exit_are_written(tmp_path):
    path = tmp_path / "exit.duckdb"
    done = subprocess.run([sys.executable, "-c", EXITING, str(path)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert open_store(path).count() == 10
