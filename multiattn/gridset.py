"""``GridSet``: the named attention grids of one forward pass.

Models with more than one attention produce several grids from one input: an encoder-decoder
(``encoder`` / ``decoder`` / ``cross``), CLIP (``vision`` / ``text.0`` ... one per caption),
Whisper (``encoder`` / ``decoder`` / ``cross``), TimeSformer (``spatial`` / ``temporal``).
Every adapter and :func:`multiattn.capture` return these as one type: a read-only mapping of
name to :class:`~multiattn.AttentionGrid`, with names also reachable as attributes, and
``meta`` for what belongs to the forward as a whole (e.g. CLIP's similarity ``logits``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from multiattn.errors import MultiattnKeyError, MultiattnTypeError, MultiattnValueError

from ._grid_io import read_npz
from .grid import AttentionGrid

__all__ = ["GridSet", "load_grids"]

_FORMAT = "multiattn.GridSet"


class GridSet(dict):
    """Named grids of one forward pass (a ``dict`` of ``name -> AttentionGrid``, read-only).

    A ``dict`` subclass so code written for the plain dicts adapters used to return keeps
    working; mutation is refused (results are values, as in xarray).

    Parameters
    ----------
    grids : mapping of str to AttentionGrid
        In the order they should be listed (e.g. encoder, decoder, cross).
    meta : dict, optional
        JSON-serialisable facts about the whole forward (model id, logits...).

    Examples
    --------
    >>> import numpy as np
    >>> from multiattn import AttentionGrid, TokenAxis
    >>> axis = TokenAxis(["a", "b"])
    >>> g = AttentionGrid(np.full((1, 1, 2, 2), 0.5), axis)
    >>> gs = GridSet({"encoder": g, "decoder": g}, meta={"model": "toy"})
    >>> list(gs), gs.encoder.shape, gs["decoder"].shape
    (['encoder', 'decoder'], (1, 1, 2, 2), (1, 1, 2, 2))
    """

    def __init__(self, grids: Mapping[str, AttentionGrid], meta: Mapping[str, Any] | None = None):
        if not grids:
            raise MultiattnValueError("a GridSet needs at least one grid")
        for name, grid in grids.items():
            if not isinstance(name, str) or not name:
                raise MultiattnTypeError(f"GridSet names must be non-empty strings, got {name!r}")
            if not isinstance(grid, AttentionGrid):
                raise MultiattnTypeError(
                    f"GridSet[{name!r}] must be an AttentionGrid, got {type(grid).__name__}")
        super().__init__(grids)
        self.meta = dict(meta or {})

    def __missing__(self, name: str) -> AttentionGrid:
        raise MultiattnKeyError(f"no grid {name!r} in this GridSet; it holds {', '.join(self)}")

    def __getattr__(self, name: str) -> AttentionGrid:
        if name in self:
            return self[name]
        raise AttributeError(f"GridSet has no grid or attribute {name!r}; grids: {', '.join(self)}")

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise MultiattnTypeError("a GridSet is read-only; build a new one: GridSet({**old, name: grid})")

    __setitem__ = __delitem__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]

    def __repr__(self) -> str:
        rows = [f"  {name}: {grid!r}" for name, grid in self.items()]
        return "GridSet(\n" + "\n".join(rows) + "\n)"

    def _repr_html_(self) -> str:
        """Notebooks: one summary line and thumbnail per grid (multiattn._repr)."""
        from ._repr import gridset_html

        return gridset_html(self)

    def __reduce__(self):  # no pickling of results (the package never loads pickles)
        raise MultiattnTypeError("GridSet is not picklable; use GridSet.save / multiattn.load_grids")

    def group(self, prefix: str) -> list[AttentionGrid]:
        """The grids named ``prefix.0``, ``prefix.1``... in order (e.g. CLIP's ``text`` grids)."""
        names = [n for n in self if n.rpartition(".")[0] == prefix and n.rpartition(".")[2].isdigit()]
        return [self[n] for n in sorted(names, key=lambda n: int(n.rpartition(".")[2]))]

    # -- files ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write every grid into one ``.npz`` (arrays + JSON headers; no pickle).

        :meth:`load` reads it back; :func:`multiattn.load_grids` reads either a grid or a set.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        arrays: dict[str, np.ndarray] = {}
        for i, grid in enumerate(self.values()):
            for key, arr in grid._arrays().items():
                arrays[f"g{i}.{key}"] = arr
        header = {"format": _FORMAT, "version": 1, "names": list(self), "meta": self.meta}
        try:
            arrays["gridset"] = np.array(json.dumps(header))
        except TypeError as err:
            raise MultiattnTypeError(f"GridSet meta must be JSON-serialisable: {err}") from None
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> GridSet:
        """Read a set written by :meth:`save` (``allow_pickle=False``)."""
        return cls._from_arrays(read_npz(path), str(path))

    @classmethod
    def _from_arrays(cls, data: dict[str, np.ndarray], path: str) -> GridSet:
        """Rebuild a set from the arrays of its file (``path`` names it in errors)."""
        if "gridset" not in data:
            raise MultiattnValueError(f"{path} is not a multiattn GridSet file (no 'gridset' header); "
                             "read single grids with AttentionGrid.load")
        try:
            header = json.loads(str(data["gridset"]))
            names = list(header["names"]) if header.get("format") == _FORMAT else None
        except (json.JSONDecodeError, AttributeError, KeyError, TypeError):
            names = None
        if names is None:
            raise MultiattnValueError(f"{path} is not a multiattn GridSet file (its header is not one)")
        grids = {}
        for i, name in enumerate(names):
            arrays = {k.split(".", 1)[1]: data[k] for k in data if k.startswith(f"g{i}.")}
            grids[name] = AttentionGrid._from_arrays(arrays, source=f"{path}[{name}]")
        return cls(grids, meta=header.get("meta"))


def load_grids(path: str | Path) -> AttentionGrid | GridSet:
    """Read a file written by ``AttentionGrid.save`` or ``GridSet.save`` (never a pickle).

    Examples
    --------
    >>> grid = load_grids("attn.npz")  # doctest: +SKIP
    """
    arrays = read_npz(path)  # read once: a set or a single grid
    if "gridset" in arrays:
        return GridSet._from_arrays(arrays, str(path))
    return AttentionGrid._from_arrays(arrays, source=str(path))
