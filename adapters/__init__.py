"""Modality adapters: model + media -> AttentionGrid (installed as ``multiattn.adapters``).

One argument order for every modality: ``capture(model, inputs, *, processor=None, ...)``.
Most users call :func:`multiattn.capture`, which picks the adapter from the model.
"""

from __future__ import annotations

if __name__ != "multiattn.adapters":  # the checkout folder is not a top-level package
    raise ImportError("adapters/ is part of multiattn: use `import multiattn.adapters`")

__all__: list[str] = []  # the modules are the API: multiattn.adapters.text, .vit, .clip, ...
