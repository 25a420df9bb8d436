"""Argument helpers shared by the sub-commands (``--model``, ``--save``, reading a saved grid)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from multiattn.errors import MultiattnFileNotFoundError, MultiattnValueError

__all__ = ["add_model", "add_save", "emit", "existing", "index_or_name", "read_grid", "save"]


def add_model(parser: argparse.ArgumentParser, default: str, modality: str, *, timm: bool = False) -> None:
    """``--model`` (and ``--weights`` for timm) resolved by :func:`multiattn.load_model`."""
    from ..zoo import MODELS

    names = ", ".join(n for n, (kind, _) in MODELS.items() if kind == modality)
    extra = ", or timm:NAME with --weights" if timm else ""
    parser.add_argument("--model", default=default,
                        help=f"embedded {modality} model ({names}; default {default}), a local Hugging Face "
                             f"folder{extra}; never downloaded")
    if timm:
        parser.add_argument("--weights", default=None, help="safetensors weights for a timm:NAME model")


def add_save(parser: argparse.ArgumentParser) -> None:
    """``--save FILE.npz``: also write the captured grid (or GridSet) for ``html`` / ``analyze``."""
    parser.add_argument("--save", metavar="FILE.npz", default=None,
                        help="also write the captured attention (grid or GridSet); "
                             "`multiattn html FILE.npz` and `multiattn analyze FILE.npz` read it")


def save(grids: Any, path: str | None) -> None:
    """Write ``grids`` (AttentionGrid or GridSet) to ``path`` if given, and print where."""
    if path:
        print(grids.save(path))


def emit(paths: Iterable[Path]) -> None:
    """Print every written path, one per line."""
    for path in paths:
        print(path)


def existing(path: str, what: str, hint: str = "") -> Path:
    """``path`` as a Path; FileNotFoundError ``"<what> <path> does not exist<hint>"`` otherwise."""
    if not Path(path).is_file():
        raise MultiattnFileNotFoundError(f"{what} {path} does not exist{hint}")
    return Path(path)


def index_or_name(text: str | None) -> Any:
    """``"3"`` / ``"-1"`` -> int; anything else (a label, ``"mean"``, None) as is.

    Examples
    --------
    >>> index_or_name("-1"), index_or_name("mean"), index_or_name(None)
    (-1, 'mean', None)
    """
    return int(text) if text is not None and text.lstrip("-").isdigit() else text


def read_grid(path: str, name: str | None = None) -> Any:
    """The grid saved at ``path``; of a GridSet, the grid ``name`` (default ``cross``, else the first).

    Examples
    --------
    >>> grid = read_grid("whisper.npz")  # doctest: +SKIP
    grid 'cross' of encoder, decoder, cross
    """
    from .. import GridSet, load_grids

    grids = load_grids(path)  # missing / unreadable files: one-line errors from the package
    if not isinstance(grids, GridSet):
        if name is not None:
            raise MultiattnValueError(f"--grid {name}: {path} holds one grid, not a GridSet")
        return grids
    name = name or ("cross" if "cross" in grids else next(iter(grids)))
    print(f"grid {name!r} of {', '.join(grids)}")
    return grids[name]
