"""Small real media and tiny trained weights shipped with multiattn (no network).

Folders: ``vit/`` (photos, shapes-vit weights), ``clip/``, ``speech/`` (wav files with word
boundaries in ``ground_truth.json``), ``video/`` (a clip and weights), ``graph/``, ``induction/``.

Examples
--------
>>> from multiattn import media_samples
>>> media_samples.path("vit", "chelsea_cat.jpg").name
'chelsea_cat.jpg'
"""

from __future__ import annotations

from pathlib import Path

if __name__ != "multiattn.media_samples":  # the checkout folder is not a top-level package
    raise ImportError("media_samples/ is part of multiattn: use `from multiattn import media_samples`")

__all__ = ["path"]

ROOT = Path(__file__).resolve().parent


def path(*parts: str) -> Path:
    """The path of a sample file or folder, e.g. ``path("speech", "s1.wav")``.

    Raises
    ------
    FileNotFoundError
        No such sample; the message lists what the folder holds.
    """
    target = ROOT.joinpath(*parts)
    if not target.exists():
        parent = target.parent if target.parent.exists() else ROOT
        have = sorted(p.name for p in parent.iterdir() if not p.name.startswith("__"))
        raise FileNotFoundError(f"no sample {'/'.join(parts)!r}; {parent.name}/ holds: {', '.join(have)}")
    return target
