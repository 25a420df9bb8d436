"""CLI sub-commands, one module per modality, discovered at run time.

Each module defines ``register(subparsers)`` to add its sub-command and may
define ``gallery(out_dir) -> list[GalleryItem]`` to add pictures to
``multiattn demo`` and ``GALLERY_ORDER`` (int) to place its section.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

__all__ = ["GalleryItem", "command_modules"]


@dataclass(frozen=True)
class GalleryItem:
    """One picture (or page) of the demo gallery."""

    section: str
    title: str
    path: Path
    caption: str = ""


def command_modules() -> list[ModuleType]:
    """All sub-command modules in this package, sorted by ``GALLERY_ORDER`` then name."""
    mods = [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    ]
    return sorted(mods, key=lambda m: (getattr(m, "GALLERY_ORDER", 100), m.__name__))
