"""What a corpus is, for :func:`multiattn.profile`: a text file, a media folder, a Parquet/JSONL column.

Example
-------
>>> read_corpus(["a sentence", "another"])
['a sentence', 'another']
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

__all__ = ["MEDIA_SUFFIXES", "read_corpus"]

#: File endings a folder corpus picks up (images and audio).
MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".wav", ".flac", ".mp3", ".ogg")


def _column(rows: list[dict], column: str | None, path: Path) -> list[str]:
    if column is None:
        raise MultiattnValueError(f"{path} is a table: pass column= (e.g. --column text) naming the inputs")
    missing = next((i for i, row in enumerate(rows) if column not in row), None)
    if missing is not None:
        raise MultiattnValueError(
            f"{path} row {missing} has no column {column!r} (has {sorted(rows[missing])}); pick one of those")
    return [str(row[column]) for row in rows]


def _parquet(path: Path, column: str | None) -> list[str]:
    import pyarrow.parquet as pq

    if column is None:
        raise MultiattnValueError(f"{path} is a table: pass column= (e.g. --column text) naming the inputs")
    names = pq.read_schema(path).names
    if column not in names:
        raise MultiattnValueError(f"{path} has no column {column!r}; its columns are {names}")
    return [str(v) for v in pq.read_table(path, columns=[column]).column(column).to_pylist()]


def read_corpus(source: str | Path | Iterable[str], column: str | None = None) -> list[str]:
    """The inputs of a corpus, in order: texts, or media file paths for a folder.

    Parameters
    ----------
    source : path or iterable of str
        A ``.txt`` file (one input per line, blank lines skipped), a folder (its
        :data:`MEDIA_SUFFIXES` files, sorted, as paths), a ``.parquet`` or ``.jsonl`` file
        (``column`` of it), or the inputs themselves.
    column : str, optional
        The column of a Parquet / JSONL table.
    """
    if not isinstance(source, (str, Path)):
        items = [str(s) for s in source]
    else:
        path = Path(source)
        if not path.exists():
            raise MultiattnFileNotFoundError(f"corpus {path} does not exist: give a text file, a folder of "
                                             "images/audio, or a .parquet/.jsonl file")
        if path.is_dir():
            items = [str(p) for p in sorted(path.rglob("*")) if p.suffix.lower() in MEDIA_SUFFIXES]
        elif path.suffix == ".parquet":
            items = _parquet(path, column)
        elif path.suffix in (".jsonl", ".ndjson"):
            lines = path.read_text(encoding="utf-8").splitlines()
            items = _column([json.loads(line) for line in lines if line.strip()], column, path)
        else:
            items = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not items:
        raise MultiattnValueError(
            f"the corpus {source!s:.80} has no inputs (empty, blank, or no media files); give some")
    return items
