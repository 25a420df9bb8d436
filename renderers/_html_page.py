"""The HTML document of a view: the payload as JSON, the package's CSS and JavaScript inline.

The script and style sheet are real files in ``renderers/assets/`` (package
data, linted by eslint and unit-tested by ``node --test tests/js``), read with
:mod:`importlib.resources` and inlined so that the page stays one offline file.
``core.js`` holds the logic (also loaded by node), ``dom.js`` the DOM helpers,
one file per view, and ``main.js`` the entry point.
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from importlib import resources

import numpy as np

from multiattn.errors import MultiattnValueError

from ._encode import b64

__all__ = ["SCRIPT_FILES", "STYLE_FILES", "PALETTE", "asset", "script", "style", "script_json",
           "viridis_lut", "document"]

SCRIPT_FILES = ("core.js", "dom.js", "text.js", "image.js", "graph.js", "audio.js", "video.js", "main.js")
"""The scripts of the page, in the order they are inlined (each needs the ones before)."""
STYLE_FILES = ("view.css",)

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
           "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
"""One colour per head (matplotlib's tab10)."""

_CLOSERS = {".js": "</script", ".css": "</style"}


def asset(name: str) -> str:
    """The text of ``renderers/assets/<name>``, checked to be safe to inline.

    Raises
    ------
    ValueError
        If the file holds the closing tag of the element it is inlined into.
    """
    text = resources.files("multiattn.renderers").joinpath("assets", name).read_text(encoding="utf-8")
    closer = _CLOSERS[name[name.rindex("."):]]
    if closer in text.lower() or "<!--" in text:
        raise MultiattnValueError(
            f"renderers/assets/{name} contains {closer!r} or '<!--': it cannot be inlined")
    return text


def script() -> str:
    """All the page's JavaScript, in :data:`SCRIPT_FILES` order."""
    return "\n".join(asset(name) for name in SCRIPT_FILES)


def style() -> str:
    """The page's CSS."""
    return "\n".join(asset(name) for name in STYLE_FILES)


def script_json(payload: dict) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` survives."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


@lru_cache(maxsize=1)
def viridis_lut() -> str:
    """Viridis as 256 x RGB uint8, base64 (``MultiattnCore.colourScale`` reads it)."""
    from matplotlib import colormaps

    rgb = colormaps["viridis"](np.linspace(0.0, 1.0, 256))[:, :3]
    return b64(np.round(rgb * 255).astype(np.uint8))


def document(payload: dict, title: str) -> str:
    """The complete page: ``<title>`` escaped, payload as JSON, CSS and JavaScript inline."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title>\n<style>{style()}</style></head>\n"
        "<body><div id=\"multiattn-root\"></div>\n"
        f"<script type=\"application/json\" id=\"multiattn-data\">{script_json(payload)}</script>\n"
        f"<script>{script()}</script>\n</body></html>\n"
    )
