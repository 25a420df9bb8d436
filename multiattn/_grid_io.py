"""Grid files: reading an ``.npz`` safely (no pickle, sizes checked before allocation) and its header."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

from ._memory import check_fits

__all__ = ["HEADER_TYPES", "check_header", "read_npz"]


#: What each header field of a saved grid must be (checked before any array is used).
HEADER_TYPES = {"format": str, "version": int, "kind": str, "layers": list, "heads": list,
                "query": dict, "key": (dict, type(None)), "meta": dict}


def check_header(header: object, source: str, format_version: int) -> dict:
    """The parsed header of a grid file, or a one-line ValueError naming what is wrong."""
    if not isinstance(header, dict) or header.get("format") != "multiattn.AttentionGrid":
        raise MultiattnValueError(f"{source} is not a readable multiattn grid (its header is not a grid's)")
    version = header.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > format_version:
        raise MultiattnValueError(
            f"{source} was written by a newer multiattn (grid format version {version}; this "
                         f"version reads up to {format_version}): upgrade multiattn to read it")
    for field, kind in HEADER_TYPES.items():
        if field not in header:
            raise MultiattnValueError(
                f"{source} is not a readable multiattn grid (its header lacks {field!r})")
        if not isinstance(header[field], kind) or isinstance(header[field], bool):
            raise MultiattnValueError(
                f"{source} is not a readable multiattn grid (header field {field!r} is a "
                             f"{type(header[field]).__name__})")
    return header


def read_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` written by multiattn, read without pickle.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not an npz archive (empty, truncated, another format, or arrays that need pickle):
        one line that names the file and what was expected.
    """
    import zipfile

    path = Path(path)
    if not path.is_file():
        raise MultiattnFileNotFoundError(f"no grid file at {path}: it does not exist (write one with "
                                "grid.save(path) or a command's --save FILE.npz)")
    expected = (f"{path} is not a readable multiattn grid (an .npz written by AttentionGrid.save "
                "or GridSet.save)")
    try:
        data = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        # numpy falls back to unpickling unknown formats: never suggest that
        reason = ("the file is empty" if path.stat().st_size == 0 else
                  "not an npz archive" if "pickle" in str(err) else (str(err) or "unreadable"))
        raise MultiattnValueError(f"{expected}: {reason}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise MultiattnValueError(f"{expected}: it holds one bare array (.npy), not a grid archive")
    try:
        with data:
            check_fits(sum(declared_nbytes(data, key) for key in data.files), f"the arrays of {path.name}")
            return {key: data[key] for key in data.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as err:
        reason = "an array in it needs pickle (never loaded)" if "pickle" in str(err) else str(err)
        raise MultiattnValueError(f"{expected}: {reason or 'unreadable'}") from None


def declared_nbytes(data: np.lib.npyio.NpzFile, key: str) -> int:
    """Bytes an npz member will take, from its .npy header alone (nothing is allocated)."""
    with data.zip.open(f"{key}.npy") as member:
        version = np.lib.format.read_magic(member)
        reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                  else np.lib.format.read_array_header_2_0)
        shape, _, dtype = reader(member)
    return int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
