"""The monitor's writer: requests buffered in memory and appended to the store from a thread.

A forward only appends its records to a list; every ``flush_every`` requests (or after
``max_delay`` seconds with something pending) the batch is handed to one background thread
that appends it to the store, so the serving thread never waits on DuckDB.  ``close()``
(the monitor's ``detach``) hands over what is left and joins the thread; an ``atexit`` hook
closes writers that are still open when the interpreter exits, so nothing buffered is lost.
A failed append is raised from the next ``flush()`` / ``close()`` rather than swallowed.

Example
-------
>>> writer = BackgroundWriter(open_store("attention.duckdb"), flush_every=256)  # doctest: +SKIP
>>> writer.put(records); writer.close(); writer.written  # doctest: +SKIP
2
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from multiattn.errors import MultiattnRuntimeError

if TYPE_CHECKING:  # pragma: no cover
    from ._store import Record, Store

__all__ = ["BackgroundWriter"]

_OPEN: weakref.WeakSet[BackgroundWriter] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for writer in list(_OPEN):
        writer.close()


class BackgroundWriter:
    """Buffer records; append them to ``store`` in batches from one daemon thread."""

    def __init__(self, store: Store, flush_every: int = 256, max_delay: float = 5.0) -> None:
        self.store, self.flush_every, self.max_delay = store, flush_every, max_delay
        self.written = 0
        self._buffer: list[Record] = []
        self._lock = threading.Lock()
        self._queue: queue.Queue[list[Record] | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def put(self, records: Sequence[Record]) -> None:
        """Buffer ``records``; a full buffer goes to the writing thread."""
        with self._lock:
            self._buffer.extend(records)
            full = len(self._buffer) >= self.flush_every
        _OPEN.add(self)  # closed at interpreter exit if nobody closes it before
        if full:
            self._hand_over()

    def _hand_over(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch:
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="multiattn-monitor-writer", daemon=True)
            self._thread.start()
        self._queue.put(batch)

    def _run(self) -> None:
        while True:
            try:
                batch = self._queue.get(timeout=self.max_delay)
            except queue.Empty:
                self._hand_over_from_thread()
                continue
            try:
                if batch is None:
                    return
                self.written += self.store.append(batch)
            except BaseException as err:  # kept for the serving thread: raised by flush()/close()
                self._error = err
            finally:
                self._queue.task_done()

    def _hand_over_from_thread(self) -> None:
        """After ``max_delay`` idle seconds, write what is buffered (rows show up without a full batch)."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            self._queue.put(batch)

    def flush(self) -> None:
        """Hand over the buffer and wait until the thread has written everything."""
        self._hand_over()
        if self._thread is not None:
            self._queue.join()
        self._raise()

    def close(self) -> None:
        """Flush, stop the thread and wait for it (idempotent); without a thread, write here."""
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                batch, self._buffer = self._buffer, []
            if batch:
                try:
                    self.written += self.store.append(batch)
                except Exception as err:  # noqa: BLE001 - reported as the package's error below
                    self._error = err
        self.flush()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        _OPEN.discard(self)
        self._raise()

    @property
    def pending(self) -> int:
        """Requests buffered or queued and not written yet."""
        with self._lock:
            return len(self._buffer) + sum(len(b) for b in list(self._queue.queue) if b)

    def _raise(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            raise MultiattnRuntimeError(f"the monitor could not append to {self.store}: {err}") from err
