"""Renderers: AttentionGrid / AttentionMap -> pictures (installed as ``multiattn.renderers``)."""

from __future__ import annotations

if __name__ != "multiattn.renderers":  # the checkout folder is not a top-level package
    raise ImportError("renderers/ is part of multiattn: use `import multiattn.renderers`")

__all__: list[str] = []  # the modules are the API: multiattn.renderers.heatmap, .image, ...
