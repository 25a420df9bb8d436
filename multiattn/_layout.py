"""Source-checkout layout: ``adapters/``, ``renderers/`` and ``media_samples/`` beside ``multiattn/``.

The product layout keeps these folders at the top of the repository; an installed wheel (or the
editable install's own finder) places them inside the package as ``multiattn.adapters`` etc.
When ``multiattn`` is imported straight from a checkout (the repository root is the working
directory and shadows the install, or nothing is installed), :func:`mount_checkout_folders`
adds a finder that serves exactly those three names from the sibling folders, so
``import multiattn.adapters`` works from anywhere while ``import adapters`` stays an error.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from pathlib import Path

__all__ = ["mount_checkout_folders"]

_FOLDERS = {"multiattn.adapters": "adapters", "multiattn.renderers": "renderers",
            "multiattn.media_samples": "media_samples"}


class _CheckoutFinder(importlib.abc.MetaPathFinder):
    """Find ``multiattn.<sub>`` in ``<repo>/<sub>/`` (only the three mapped names)."""

    def __init__(self, root: Path):
        self.root = root

    def find_spec(self, fullname, path=None, target=None):  # noqa: D102 (importlib protocol)
        folder = _FOLDERS.get(fullname)
        if folder is None:
            return None
        init = self.root / folder / "__init__.py"
        if not init.is_file():
            return None
        return importlib.util.spec_from_file_location(
            fullname, init, submodule_search_locations=[str(init.parent)])


def mount_checkout_folders(package_dir: Path) -> bool:
    """Install the finder when ``package_dir`` is a checkout's ``multiattn/`` folder.

    Returns True when it was installed (False in a wheel, where the folders are inside).
    """
    root = package_dir.parent
    inside = (package_dir / "adapters" / "__init__.py").is_file()
    beside = (root / "adapters" / "__init__.py").is_file() and (root / "pyproject.toml").is_file()
    if inside or not beside or any(isinstance(f, _CheckoutFinder) for f in sys.meta_path):
        return False
    sys.meta_path.append(_CheckoutFinder(root))
    return True
