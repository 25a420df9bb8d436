"""CLI sub-commands, one module per command, discovered at run time.

Each module defines ``register(subparsers)``: argument parsing, a few calls to the public
API, and printing what it wrote.  The demo gallery lives in :mod:`multiattn._gallery`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

__all__ = ["command_modules"]


def command_modules() -> list[ModuleType]:
    """All sub-command modules in this package (not ``_private`` ones), sorted by name."""
    return [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)
            if not info.name.startswith("_")]
