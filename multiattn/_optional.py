"""Optional dependencies: import one, or say in one line which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

from multiattn.errors import MissingDependencyError

__all__ = ["optional_import"]


def optional_import(name: str, needs: str, extra: str, hint: str = "") -> ModuleType:
    """The module ``name``; else :class:`MissingDependencyError` ``"<needs>: pip install
    'multiattn[<extra>]'<hint>"``.

    Examples
    --------
    >>> optional_import("json", "never shown", "x").__name__
    'json'
    >>> optional_import("no_such_module", "this needs it", "x", " (or skip it)")
    Traceback (most recent call last):
    ...
    multiattn.errors.MissingDependencyError: this needs it: pip install 'multiattn[x]' (or skip it)
    """
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MissingDependencyError(f"{needs}: pip install 'multiattn[{extra}]'{hint}") from None
